package sim

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/stack"
)

// TestKeepAlive runs keepalive through the Conn API with its defaults (idle
// 2 h, a probe every 75 s, 9 probes), in virtual time: a probe answered by
// the peer, then a peer that goes silent and a Read that fails with
// ETIMEDOUT once the ninth probe goes unanswered.
//
// The stacks' own default keepalive (Go's: 15 s) is off here
// (Options.KeepAlive -1), so that SetKeepAlive(true) takes the engine's.
func TestKeepAlive(t *testing.T) {
	n := ForTest(t, 1)
	noDefault := HostStackOptions(func(o *stack.Options) { o.KeepAlive = -1 })
	cli := n.AddHost("client", clientAddr, noDefault)
	srv := n.AddHost("server", serverAddr, noDefault)
	ln, err := srv.Stack().Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ln.Accept(); err != nil {
		t.Fatal(err)
	}
	if err := c.SetKeepAlive(true); err != nil {
		t.Fatal(err)
	}
	n.RunFor(2*time.Hour + time.Minute)
	expectLines(t, "answered probe", packets(n), []string{
		"0s client>server S seq 0 len 0",
		"1ms server>client S. seq 0 ack 1 len 0",
		"2ms client>server . seq 1 ack 1 len 0",
		// 2 h after SetKeepAlive (at 3 ms: Accept ran the world until the
		// server had the third ACK), a probe with SEQ = SND.NXT − 1; the
		// server answers it.
		"2h0m0.003s client>server . seq 0 ack 1 len 0",
		"2h0m0.004s server>client . seq 1 ack 1 len 0",
	})

	// The server falls silent: nothing it sends arrives any more.
	n.SetFilter(func(p Packet) bool { return p.From.Name() == "server" })
	quiet := len(packets(n))
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("Read: %v, want ETIMEDOUT", err)
	}
	answered := 2*time.Hour + 5*time.Millisecond // the answer arrived
	var want []string
	for i := range 9 {
		at := answered + 2*time.Hour + time.Duration(i)*75*time.Second
		want = append(want,
			fmt.Sprintf("%v client>server . seq 0 ack 1 len 0", at),
			fmt.Sprintf("%v server>client . seq 1 ack 1 len 0 (filtered)", at+time.Millisecond))
	}
	dead := answered + 2*time.Hour + 9*75*time.Second
	want = append(want, fmt.Sprintf("%v client>server R. seq 1 ack 1 len 0", dead))
	expectLines(t, "unanswered probes", packets(n)[quiet:], want)
	if got := n.Elapsed(); got != dead {
		t.Errorf("Read failed at %v, want %v", got, dead)
	}
}
