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
