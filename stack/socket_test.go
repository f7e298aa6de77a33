package stack

import (
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// A non-blocking connect that an ICMP port-unreachable refuses reports
// ECONNREFUSED through Err and Readiness (what SO_ERROR and poll see), not
// nil: the error came from the ICMP layer, not from the engine.
func TestDialStartICMPError(t *testing.T) {
	p := newProbe(t, Options{})
	p.reply = unreachableFor(peerAddr, wire.ICMPv4DestUnreachable, wire.ICMPv4PortUnreachable, nil)
	c, err := p.s.DialStart(netip.AddrPort{}, netip.MustParseAddrPort("198.18.0.9:80"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Err(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Err() = %v, want ECONNREFUSED", err)
	}
	// The first read sees it too, as on Linux (sk_err), not io.EOF; like
	// a pending socket error it is reported once: then reads see the end
	// of the stream and writes EPIPE (as a refused non-blocking connect
	// behaves on Linux).
	if _, err := c.TryRead(make([]byte, 1)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("TryRead: %v, want ECONNREFUSED", err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("Read: %v, want io.EOF", err)
	}
	if _, err := c.TryWrite([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("TryWrite: %v, want EPIPE", err)
	}
	r := c.Readiness()
	if !errors.Is(r.Err, syscall.ECONNREFUSED) || r.State != tcp.StateClosed {
		t.Errorf("Readiness() = %+v, want CLOSED with ECONNREFUSED", r)
	}
}
