package stack

import (
	"context"
	"net"
	"testing"
	"time"
)

// A client dialing again from the port of a connection the server closed
// first reaches the server's TIME-WAIT record with a SYN that must be
// newer (RFC 6191): our TSvals to one peer share one offset, so the new
// SYN's TSval is above the old connection's and the server reopens at
// once. With an offset per connection, half such SYNs failed the
// server's PAWS check and the dial waited out its 60 s of TIME-WAIT
// (16,384 dials to one server within a minute wrap the ephemeral range).
func TestDial_PortReusedAgainstPeerTimeWait(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	ln, err := sv.Listen("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close() // the server closes first: its end goes to TIME-WAIT
		}
	}()
	d := Dialer{Stack: cl, LocalAddr: &net.TCPAddr{IP: clientAddr.AsSlice(), Port: 40000}}
	var b [1]byte
	for i := range 8 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", "198.18.0.2:80")
		cancel()
		if err != nil {
			t.Fatalf("dial %d from port 40000: %v", i, err)
		}
		if took := time.Since(start); took > 900*time.Millisecond { // a SYN retransmission: 1 s
			t.Errorf("dial %d from port 40000 took %v: the SYN was not taken by the server's TIME-WAIT", i, took)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(b[:]); err == nil {
			t.Fatalf("dial %d: read data, want EOF", i)
		}
		c.Close()
		// The next SYN must meet the server's TIME-WAIT record, a
		// TSval tick (1 ms) later: a whole dial and close takes about 10
		// µs here, and a SYN in the same millisecond and the same two
		// 4 µs ticks of the ISN clock is no newer than the old
		// connection by either test of RFC 6191 (Linux's ISN clock ticks
		// every 64 ns).
		eventually(t, "the server's TIME-WAIT and the client's close", func() bool {
			return sv.Stats().Connections == 1 && cl.Stats().Connections == 0
		})
		time.Sleep(2 * time.Millisecond)
	}
}
