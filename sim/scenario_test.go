package sim

import (
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/ladder"
	"github.com/synack/synack/wire"
)

// TestConnectionLifetime runs a whole connection: three-way handshake, a
// request and a reply, the four-way close, and TIME-WAIT lasting exactly
// 2·MSL (60 s) after the final ACK.
func TestConnectionLifetime(t *testing.T) {
	n, cli, _, ln := pair(t, 1)
	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Now(); !got.Equal(at(2 * time.Millisecond)) {
		t.Errorf("Dial returned at %v, want 2ms (one round trip)", got)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got := readN(t, s, 5); got != "hello" {
		t.Errorf("server read %q", got)
	}
	if _, err := s.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, c, 5); got != "world" {
		t.Errorf("client read %q", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if k, err := s.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		t.Fatalf("server read after FIN: %d, %v; want 0, EOF", k, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n.Run()

	expectLines(t, "packets", packets(n), []string{
		"0s client>server S seq 0 len 0",
		"1ms server>client S. seq 0 ack 1 len 0",
		"2ms client>server . seq 1 ack 1 len 0",
		"2ms client>server P. seq 1 ack 1 len 5",
		// The first data of a connection is acknowledged at once
		// (quick-ACK mode, as Linux), before the reply is written.
		"3ms server>client . seq 1 ack 6 len 0",
		"3ms server>client P. seq 1 ack 6 len 5",
		"4ms client>server . seq 6 ack 6 len 0",
		"4ms client>server F. seq 6 ack 6 len 0",
		"5ms server>client . seq 6 ack 7 len 0",
		"5ms server>client F. seq 6 ack 7 len 0",
		"6ms client>server . seq 7 ack 7 len 0",
	})
	expectLines(t, "states", states(n), []string{
		"0s server CLOSED→LISTEN (listener)",
		"0s client CLOSED→SYN-SENT",
		"1ms server LISTEN→SYN-RECEIVED",
		"2ms client SYN-SENT→ESTABLISHED",
		"3ms server SYN-RECEIVED→ESTABLISHED",
		"4ms client ESTABLISHED→FIN-WAIT-1",
		"5ms server ESTABLISHED→CLOSE-WAIT",
		"5ms server CLOSE-WAIT→LAST-ACK",
		"6ms client FIN-WAIT-1→FIN-WAIT-2",
		"6ms client FIN-WAIT-2→TIME-WAIT",
		"7ms server LAST-ACK→CLOSED",
		// 2·MSL after the final ACK, sent at 6ms.
		"1m0.006s client TIME-WAIT→CLOSED",
	})
	if got, want := n.Elapsed(), 60*time.Second+6*time.Millisecond; got != want {
		t.Errorf("the run ended at %v, want %v", got, want)
	}
	if got, want := n.Stats(), (Stats{Sent: 11, Delivered: 11}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

// TestLostFinalACK drops the client's ACK of the server's FIN: the server
// retransmits its FIN from LAST-ACK, the client answers it from TIME-WAIT
// and restarts the 2·MSL timer (RFC 9293 §3.10.7.4).
func TestLostFinalACK(t *testing.T) {
	n, cli, srv, ln := pair(t, 2)
	var srvISN uint32
	dropped := false
	n.SetFilter(func(p Packet) bool {
		_, _, seg, err := ladder.ParseSegment(p.Data)
		if err != nil {
			return false
		}
		if p.From == srv && seg.Flags&wire.FlagSYN != 0 {
			srvISN = seg.Seq
		}
		if p.From == cli && seg.Flags == wire.FlagACK && seg.Ack == srvISN+2 && !dropped {
			dropped = true
			return true
		}
		return false
	})
	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("server read: %v, want EOF", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n.Run()
	_ = srv
	expectLines(t, "packets", packets(n), []string{
		"0s client>server S seq 0 len 0",
		"1ms server>client S. seq 0 ack 1 len 0",
		"2ms client>server . seq 1 ack 1 len 0",
		"3ms client>server F. seq 1 ack 1 len 0",
		"4ms server>client . seq 1 ack 2 len 0",
		"4ms server>client F. seq 1 ack 2 len 0",
		"5ms client>server . seq 2 ack 2 len 0 (filtered)",
		"204ms server>client F. seq 1 ack 2 len 0",
		"205ms client>server . seq 2 ack 2 len 0",
	})
	expectLines(t, "states", states(n), []string{
		"0s server CLOSED→LISTEN (listener)",
		"0s client CLOSED→SYN-SENT",
		"1ms server LISTEN→SYN-RECEIVED",
		"2ms client SYN-SENT→ESTABLISHED",
		"3ms server SYN-RECEIVED→ESTABLISHED",
		"3ms client ESTABLISHED→FIN-WAIT-1",
		"4ms server ESTABLISHED→CLOSE-WAIT",
		"4ms server CLOSE-WAIT→LAST-ACK",
		"5ms client FIN-WAIT-1→FIN-WAIT-2",
		"5ms client FIN-WAIT-2→TIME-WAIT",
		"206ms server LAST-ACK→CLOSED",
		// 2·MSL after the second ACK, not the first.
		"1m0.205s client TIME-WAIT→CLOSED",
	})
}

// TestConnectionRefused connects to a port nobody listens on: the server's
// stack answers the SYN with a RST and Dial fails with ECONNREFUSED after
// one round trip.
func TestConnectionRefused(t *testing.T) {
	n, cli, _, _ := pair(t, 3)
	_, err := cli.Stack().Dial("tcp", "198.18.0.2:81")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial: %v, want ECONNREFUSED", err)
	}
	if got := n.Elapsed(); got != 2*time.Millisecond {
		t.Errorf("Dial failed at %v, want 2ms", got)
	}
	expectLines(t, "packets", packets(n), []string{
		"0s client>server S seq 0 len 0",
		"1ms server>client R. seq 0 ack 1 len 0",
	})
	expectLines(t, "states", states(n), []string{
		"0s server CLOSED→LISTEN (listener)",
		"0s client CLOSED→SYN-SENT",
		"2ms client SYN-SENT→CLOSED",
	})
}

// TestConnectTimeout connects to an address nobody owns: the SYN is sent
// again after 1, 3, 7, 15, 31 and 63 s (the RTO doubling from 1 s), and
// Dial fails with ETIMEDOUT at 127 s, all in virtual time.
func TestConnectTimeout(t *testing.T) {
	n := ForTest(t, 4)
	cli := n.AddHost("client", clientAddr)
	start := time.Now()
	_, err := cli.Stack().Dial("tcp", nowhere.String()+":80")
	t.Logf("127 s of virtual time took %v", time.Since(start))
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("Dial: %v, want ETIMEDOUT", err)
	}
	if got := n.Elapsed(); got != 127*time.Second {
		t.Errorf("Dial failed at %v, want 2m7s", got)
	}
	var want []string
	for _, s := range []string{"0s", "1s", "3s", "7s", "15s", "31s", "1m3s"} {
		want = append(want, s+" client>nowhere S seq 0 len 0 (no route)")
	}
	expectLines(t, "packets", packets(n), want)
	expectLines(t, "states", states(n), []string{
		"0s client CLOSED→SYN-SENT",
		"2m7s client SYN-SENT→CLOSED",
	})
	if got, want := n.Stats(), (Stats{Sent: 7, NoRoute: 7}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

// TestSimultaneousClose closes both ends at the same instant: each FIN
// crosses the other, both ends pass through CLOSING and both wait in
// TIME-WAIT (RFC 9293 figure 13).
func TestSimultaneousClose(t *testing.T) {
	n, cli, _, ln := pair(t, 5)
	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n.Run()
	expectLines(t, "packets", packets(n), []string{
		"0s client>server S seq 0 len 0",
		"1ms server>client S. seq 0 ack 1 len 0",
		"2ms client>server . seq 1 ack 1 len 0",
		"3ms client>server F. seq 1 ack 1 len 0",
		"3ms server>client F. seq 1 ack 1 len 0",
		// The client's FIN was sent first, so it arrives first.
		"4ms server>client . seq 2 ack 2 len 0",
		"4ms client>server . seq 2 ack 2 len 0",
	})
	expectLines(t, "states", states(n), []string{
		"0s server CLOSED→LISTEN (listener)",
		"0s client CLOSED→SYN-SENT",
		"1ms server LISTEN→SYN-RECEIVED",
		"2ms client SYN-SENT→ESTABLISHED",
		"3ms server SYN-RECEIVED→ESTABLISHED",
		"3ms client ESTABLISHED→FIN-WAIT-1",
		"3ms server ESTABLISHED→FIN-WAIT-1",
		"4ms server FIN-WAIT-1→CLOSING",
		"4ms client FIN-WAIT-1→CLOSING",
		"5ms client CLOSING→TIME-WAIT",
		"5ms server CLOSING→TIME-WAIT",
		"1m0.005s client TIME-WAIT→CLOSED",
		"1m0.005s server TIME-WAIT→CLOSED",
	})
}
