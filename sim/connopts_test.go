package sim

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/stack"
)

// dialAccept opens one connection on a fresh pair and returns both ends;
// the world has run until the server accepted (3 ms).
func dialAccept(t *testing.T) (*Network, *stack.Conn, *stack.Conn) {
	t.Helper()
	n, cli, _, ln := pair(t, 1)
	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return n, c, s.(*stack.Conn)
}

// Nagle's algorithm is on by default: a second small write waits for the
// ACK of the first (sent at once by the server: the first data of a
// connection starts quick-ACK mode). SetNoDelay(true) sends both at once.
func TestConnSetNoDelay(t *testing.T) {
	for _, tc := range []struct {
		noDelay bool
		want    []string
	}{
		{false, []string{
			"3ms client>server P. seq 1 ack 1 len 1",
			"4ms server>client . seq 1 ack 2 len 0", // a quick ACK
			"5ms client>server P. seq 2 ack 1 len 1",
			"6ms server>client . seq 1 ack 3 len 0",
		}},
		{true, []string{
			"3ms client>server P. seq 1 ack 1 len 1",
			"3ms client>server P. seq 2 ack 1 len 1",
			"4ms server>client . seq 1 ack 2 len 0",
			"4ms server>client . seq 1 ack 3 len 0",
		}},
	} {
		n, c, _ := dialAccept(t)
		if tc.noDelay {
			if err := c.SetNoDelay(true); err != nil {
				t.Fatal(err)
			}
		}
		before := len(packets(n))
		c.Write([]byte("a"))
		c.Write([]byte("b"))
		n.RunFor(45*time.Millisecond - n.Elapsed())
		expectLines(t, "writes", packets(n)[before:], tc.want)
	}
}

// SetKeepAliveConfig sets idle, interval and count; SetKeepAlivePeriod
// sets idle and interval together, as on *net.TCPConn.
func TestConnKeepAliveConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*stack.Conn) error
		probe []time.Duration // after the server falls silent at 3 ms
		reset time.Duration
	}{
		{"config", func(c *stack.Conn) error {
			return c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 2 * time.Second, Count: 3})
		}, []time.Duration{10 * time.Second, 12 * time.Second, 14 * time.Second}, 16 * time.Second},
		{"period", func(c *stack.Conn) error {
			if err := c.SetKeepAlive(true); err != nil {
				return err
			}
			return c.SetKeepAlivePeriod(30 * time.Second)
		}, []time.Duration{30 * time.Second, 60 * time.Second, 90 * time.Second, 120 * time.Second,
			150 * time.Second, 180 * time.Second, 210 * time.Second, 240 * time.Second, 270 * time.Second}, 300 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, c, _ := dialAccept(t)
			n.SetFilter(func(p Packet) bool { return p.From.Name() == "server" })
			if err := tc.set(c); err != nil {
				t.Fatal(err)
			}
			start := n.Elapsed()
			_, err := c.Read(make([]byte, 1))
			if !errors.Is(err, syscall.ETIMEDOUT) {
				t.Fatalf("Read: %v, want ETIMEDOUT", err)
			}
			var got []time.Duration
			for _, r := range n.Trace() {
				if r.Kind == RecordPacket && r.Packet.From.Name() == "client" && r.Packet.Time.Sub(at(0)) > start {
					got = append(got, r.Packet.Time.Sub(at(0))-start)
				}
			}
			want := append(append([]time.Duration{}, tc.probe...), tc.reset)
			if len(got) != len(want) {
				t.Fatalf("client sent at %v after SetKeepAlive*, want %v (probes, then the RST)", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("packet %d at +%v, want +%v", i, got[i], want[i])
				}
			}
		})
	}
}

// CloseRead: Read returns io.EOF at once, data that arrives later is
// acknowledged and dropped (the peer is not reset), and writing still works.
func TestConnCloseRead(t *testing.T) {
	n, c, s := dialAccept(t)
	if err := c.CloseRead(); err != nil {
		t.Fatal(err)
	}
	if k, err := c.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		t.Fatalf("Read after CloseRead: %d, %v; want 0, EOF", k, err)
	}
	s.Write([]byte("ignored"))
	c.Write([]byte("still"))
	if got := readN(t, s, 5); got != "still" {
		t.Errorf("server read %q", got)
	}
	n.RunFor(time.Second)
	if st := s.State(); st.String() != "ESTABLISHED" {
		t.Errorf("server state %v, want ESTABLISHED", st)
	}
	if i := s.Info(); i.SndUna != i.SndNxt {
		t.Errorf("server SND.UNA %d != SND.NXT %d: the dropped data was not acknowledged", i.SndUna, i.SndNxt)
	}
}
