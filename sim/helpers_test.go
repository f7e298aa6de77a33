package sim

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/ladder"
	"github.com/synack/synack/wire"
)

var (
	clientAddr = netip.MustParseAddr("198.18.0.1")
	serverAddr = netip.MustParseAddr("198.18.0.2")
	nowhere    = netip.MustParseAddr("198.18.0.9")
)

// pair returns a network with a client and a server listening on port 80.
func pair(t *testing.T, seed int64, opts ...Option) (n *Network, cli, srv *Host, ln net.Listener) {
	t.Helper()
	n = ForTest(t, seed, opts...)
	cli = n.AddHost("client", clientAddr)
	srv = n.AddHost("server", serverAddr)
	ln, err := srv.Stack().Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	return n, cli, srv, ln
}

// at is the instant d after the virtual clock's epoch.
func at(d time.Duration) time.Time { return clock.Epoch.Add(d) }

// packets summarises every packet of the trace, one per line:
// "2ms client>server P. seq 1 ack 1 len 5", sequence numbers relative to
// the sender's ISN and acknowledgments to the receiver's.
func packets(n *Network) []string {
	isn := map[netip.AddrPort]uint32{}
	var out []string
	for _, r := range n.Trace() {
		if r.Kind != RecordPacket {
			continue
		}
		src, dst, seg, err := ladder.ParseSegment(r.Packet.Data)
		if err != nil {
			out = append(out, fmt.Sprintf("%v %s unparsable: %v", r.Time.Sub(clock.Epoch), r.Host, err))
			continue
		}
		if seg.Flags&wire.FlagSYN != 0 {
			if _, ok := isn[src]; !ok {
				isn[src] = seg.Seq
			}
		}
		to := "nowhere"
		if r.Packet.To != nil {
			to = r.Packet.To.Name()
		}
		s := fmt.Sprintf("%v %s>%s %v seq %d", r.Time.Sub(clock.Epoch), r.Host, to, seg.Flags, seg.Seq-isn[src])
		if seg.Flags&wire.FlagACK != 0 {
			s += fmt.Sprintf(" ack %d", seg.Ack-isn[dst])
		}
		s += fmt.Sprintf(" len %d", seg.Len)
		if r.Drop != DropNone {
			s += " (" + r.Drop.String() + ")"
		}
		out = append(out, s)
	}
	return out
}

// states lists the state changes of the trace: "1ms server LISTEN→SYN-RECEIVED",
// with "(listener)" for a listener's.
func states(n *Network) []string {
	var out []string
	for _, r := range n.Trace() {
		if r.Kind != RecordState {
			continue
		}
		s := fmt.Sprintf("%v %s %v→%v", r.Time.Sub(clock.Epoch), r.Host, r.State.From, r.State.To)
		if !r.State.Remote.IsValid() {
			s += " (listener)"
		}
		out = append(out, s)
	}
	return out
}

// expectLines compares two lists of lines and reports the differences.
func expectLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	t.Errorf("%s differ:\n got:\n\t%s\nwant:\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
}

// readN reads exactly n bytes from c.
func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(buf)
}
