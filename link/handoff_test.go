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

type payloadAdopter struct {
	adopter
	hdr, payload []byte
	ref          PayloadRef
}

func (a *payloadAdopter) AdoptPayload(hdr, payload []byte, ref PayloadRef) {
	a.hdr, a.payload, a.ref = hdr, payload, ref
}

type countRef struct{ n int }

func (r *countRef) Release() { r.n++ }

// HandOffPayload gives a PayloadAdopter the headers, the payload and the
// reference as they are; a plain Adopter gets one buffer joining them,
// and the reference is given back at once; a far side that only takes
// copies gets nothing (false, the reference still the caller's); the MTU
// holds for the whole packet.
func TestPipeHandOffPayload(t *testing.T) {
	a, b := Pipe(1500)
	ph := a.(PayloadHandoff)
	b.Attach(ReceiverFunc(func([]byte) { t.Fatal("a copy was delivered") }))
	ref := &countRef{}
	hdr, payload := []byte{0x45, 1}, []byte{7, 8, 9}
	if ok, err := ph.HandOffPayload(hdr, payload, ref); ok || err != nil || ref.n != 0 {
		t.Fatalf("to a non-Adopter = %v, %v, %d releases; want false, nil, 0", ok, err, ref.n)
	}
	pa := &payloadAdopter{}
	b.Attach(pa)
	if ok, err := ph.HandOffPayload(hdr, payload, ref); !ok || err != nil || &pa.hdr[0] != &hdr[0] || &pa.payload[0] != &payload[0] || pa.ref != PayloadRef(ref) || ref.n != 0 {
		t.Fatalf("to a PayloadAdopter = %v, %v; got %v %v, %d releases", ok, err, pa.hdr, pa.payload, ref.n)
	}
	ad := &adopter{}
	b.Attach(ad)
	if ok, err := ph.HandOffPayload(hdr, payload, ref); !ok || err != nil || len(ad.got) != 1 || string(ad.got[0]) != "\x45\x01\x07\x08\x09" || ref.n != 1 {
		t.Fatalf("to an Adopter = %v, %v; got %q, %d releases; want the joined packet, 1", ok, err, ad.got, ref.n)
	}
	if ok, err := ph.HandOffPayload(hdr, make([]byte, 1499), ref); ok || err == nil || ref.n != 1 {
		t.Fatalf("1501 bytes = %v, %v, %d releases; want false, ErrTooBig, 1", ok, err, ref.n)
	}
}
