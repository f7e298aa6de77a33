package wire

import (
	"errors"
	"testing"
)

// A malformed option ends the walk: ParseTCPOptions and ParseTCP return
// the options before it with an error wrapping ErrBadOption and
// ErrMalformed, and ParseTCP the header and payload too, so that a
// receiver can keep the segment as Linux does.
func TestMalformedOptionPartial(t *testing.T) {
	opts := []byte{OptMSS, 4, 0x05, 0xb4, 99, 0, OptWindowScale, 3, 7, 0, 0, 0}
	o, err := ParseTCPOptions(opts)
	if !errors.Is(err, ErrBadOption) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v; want ErrBadOption and ErrMalformed", err)
	}
	if want := (TCPOptions{MSS: 1460, HasMSS: true}); o != want {
		t.Errorf("options %+v; want %+v", o, want)
	}
	h := TCPHeader{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: FlagACK, Window: 5}
	seg := AppendTCPWithOptions(nil, &h, opts, []byte("data"), Endpoints{addrA4, addrB4})
	got, payload, err := ParseTCP(seg)
	if !errors.Is(err, ErrBadOption) {
		t.Fatalf("ParseTCP err = %v; want ErrBadOption", err)
	}
	if got.Seq != 3 || got.Ack != 4 || got.Window != 5 || !got.Options.HasMSS || got.Options.HasWindowScale || string(payload) != "data" {
		t.Errorf("ParseTCP = %+v, %q", got, payload)
	}
	// Other errors come with nothing.
	if got, payload, err := ParseTCP(seg[:19]); err == nil || errors.Is(err, ErrBadOption) || got != (TCPHeader{}) || payload != nil {
		t.Errorf("short segment: %+v, %q, %v", got, payload, err)
	}
}
