package link

import "testing"

type adopter struct{ got, copied [][]byte }

func (a *adopter) DeliverPacket(p []byte) { a.copied = append(a.copied, append([]byte(nil), p...)) }
func (a *adopter) AdoptPacket(p []byte)   { a.got = append(a.got, p) }

// HandOff gives the very buffer to an Adopter on the far side, and does
// nothing (false) when the far side only takes copies.
func TestPipeHandOff(t *testing.T) {
	a, b := Pipe(1500)
	ho := a.(Handoff)
	if ho.PeerAdopts() {
		t.Fatal("PeerAdopts with no receiver; want false")
	}
	b.Attach(ReceiverFunc(func([]byte) { t.Fatal("a copy was delivered") }))
	if ok, err := ho.HandOff([]byte{0x45}); ok || err != nil {
		t.Fatalf("HandOff to a non-Adopter = %v, %v; want false, nil", ok, err)
	}
	ad := &adopter{}
	b.Attach(ad)
	if !ho.PeerAdopts() {
		t.Fatal("PeerAdopts with an Adopter; want true")
	}
	pkt := []byte{0x45, 1, 2, 3}
	if ok, err := ho.HandOff(pkt); !ok || err != nil {
		t.Fatalf("HandOff = %v, %v; want true, nil", ok, err)
	}
	if len(ad.got) != 1 || &ad.got[0][0] != &pkt[0] || len(ad.copied) != 0 {
		t.Fatalf("adopted %d (same buffer: %v), copied %d; want the buffer itself once", len(ad.got), len(ad.got) == 1 && &ad.got[0][0] == &pkt[0], len(ad.copied))
	}
	if ok, err := ho.HandOff(make([]byte, 1501)); ok || err == nil {
		t.Fatalf("HandOff of 1501 bytes = %v, %v; want false and ErrTooBig", ok, err)
	}
	a.Close()
	if ok, err := ho.HandOff(pkt); ok || err == nil {
		t.Fatalf("HandOff after Close = %v, %v; want false and an error", ok, err)
	}
}

// A PipeGSO end takes super-segments when its far side adopts packets:
// MaxSuperSegment says so, and HandOff passes a 64 KiB packet over a
// 1500-byte MTU; a Pipe end, or a PipeGSO end whose far side only takes
// copies, says 0, and WritePacket keeps to the MTU on both.
func TestPipeGSO(t *testing.T) {
	a, b := PipeGSO(1500)
	ss := a.(SuperSegmenter)
	b.Attach(ReceiverFunc(func([]byte) {}))
	if n := ss.MaxSuperSegment(); n != 0 {
		t.Errorf("MaxSuperSegment to a non-Adopter = %d; want 0", n)
	}
	ad := &adopter{}
	b.Attach(ad)
	if n := ss.MaxSuperSegment(); n != MaxSuperPayload {
		t.Errorf("MaxSuperSegment = %d; want %d", n, MaxSuperPayload)
	}
	big := make([]byte, 65535)
	big[0] = 0x45
	if ok, err := a.(Handoff).HandOff(big); !ok || err != nil || len(ad.got) != 1 {
		t.Fatalf("HandOff of 65535 bytes = %v, %v (%d adopted); want true, nil, 1", ok, err, len(ad.got))
	}
	if ok, err := a.(Handoff).HandOff(make([]byte, 65535+41)); ok || err == nil {
		t.Errorf("HandOff of 65576 bytes = %v, %v; want false and ErrTooBig", ok, err)
	}
	if err := a.WritePacket(big); err == nil {
		t.Error("WritePacket of 65535 bytes on MTU 1500 succeeded")
	}
	p, q := Pipe(1500)
	q.Attach(&adopter{})
	if n := p.(SuperSegmenter).MaxSuperSegment(); n != 0 {
		t.Errorf("Pipe: MaxSuperSegment = %d; want 0", n)
	}
}
