//go:build linux

package interop

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
)

// kernelStates returns the kernel's TCP states (ss -tan) of the
// connections between the two ends, one "STATE local peer" per line.
func (r *rig) kernelStates(kern, syn string) []string {
	r.t.Helper()
	out, err := r.run(5*time.Second, "ss", "-Htan", fmt.Sprintf("src %s and dst %s", kern, syn))
	if err != nil {
		r.t.Fatal(err)
	}
	var states []string
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) >= 5 {
			states = append(states, f[0]+" "+f[3]+" "+f[4])
		}
	}
	return states
}

// closeSetup connects a kernel socket to synack and returns both ends and
// the addresses as ss prints them.
func closeSetup(t *testing.T, r *rig, fam family) (kc interface {
	io.ReadWriteCloser
}, sc *stack.Conn, kernAP, synAP string) {
	l, err := r.st.Listen("tcp", hostPort(fam.syn, 8000))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := r.ns.DialContext(ctx, "tcp", hostPort(fam.syn, 8000))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	s, err := l.AcceptContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetDeadline(time.Now().Add(10 * time.Second))
	// One exchange, so that both ends have sent and acknowledged data.
	if _, err := io.WriteString(c, "ping"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(s, "pong"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return c, s, c.LocalAddr().String(), c.RemoteAddr().String()
}

// waitState polls until f returns true, for at most d.
func waitState(d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// TestKernelClosesFirst: the kernel closes first, so the kernel is the
// one left in TIME-WAIT (ss shows it) and synack's end goes through
// CLOSE-WAIT and LAST-ACK to CLOSED.
func TestKernelClosesFirst(t *testing.T) {
	needTool(t, "ss")
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		kc, sc, kernAP, synAP := closeSetup(t, r, fam)
		if err := kc.Close(); err != nil {
			t.Fatal(err)
		}
		if n, err := sc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("synack read (%d, %v) after the kernel's FIN, want (0, EOF)", n, err)
		}
		if got := sc.State(); got != tcp.StateCloseWait {
			t.Errorf("synack in %v after the kernel's FIN, want CLOSE-WAIT", got)
		}
		if err := sc.Close(); err != nil {
			t.Fatal(err)
		}
		want := "TIME-WAIT " + kernAP + " " + synAP
		var got []string
		if !waitState(5*time.Second, func() bool {
			got = r.kernelStates(kernAP, synAP)
			return len(got) == 1 && got[0] == want
		}) {
			t.Errorf("kernel states %q, want [%q]", got, want)
		}
		if !waitState(5*time.Second, func() bool { return sc.State() == tcp.StateClosed }) {
			t.Errorf("synack in %v, want CLOSED", sc.State())
		}
	})
}

// TestSynackClosesFirst: synack closes first, so synack keeps TIME-WAIT
// and the kernel's end, after CLOSE-WAIT and LAST-ACK, is gone: ss shows
// no connection at all.
func TestSynackClosesFirst(t *testing.T) {
	needTool(t, "ss")
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		kc, sc, kernAP, synAP := closeSetup(t, r, fam)
		if err := sc.Close(); err != nil {
			t.Fatal(err)
		}
		if n, err := kc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("kernel read (%d, %v) after synack's FIN, want (0, EOF)", n, err)
		}
		if got := r.kernelStates(kernAP, synAP); len(got) != 1 || !strings.HasPrefix(got[0], "CLOSE-WAIT ") {
			t.Errorf("kernel states %q after synack's FIN, want one CLOSE-WAIT", got)
		}
		if err := kc.Close(); err != nil {
			t.Fatal(err)
		}
		var got []string
		if !waitState(5*time.Second, func() bool {
			got = r.kernelStates(kernAP, synAP)
			return len(got) == 0
		}) {
			t.Errorf("kernel states %q, want none (no TIME-WAIT on the kernel side)", got)
		}
		if !waitState(5*time.Second, func() bool { return sc.State() == tcp.StateTimeWait }) {
			t.Errorf("synack in %v, want TIME-WAIT", sc.State())
		}
	})
}
