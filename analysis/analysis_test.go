package analysis

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/ladder"
	"github.com/synack/synack/pcap"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

var (
	cli = netip.MustParseAddrPort("198.18.0.1:40000")
	srv = netip.MustParseAddrPort("198.18.0.2:80")
	t0  = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
)

const (
	S = wire.FlagSYN
	A = wire.FlagACK
	F = wire.FlagFIN
	R = wire.FlagRST
	P = wire.FlagPSH
)

// seg is one segment of a script: who sends it (c: client, s: server).
type seg struct {
	ms       float64
	from     byte
	flags    wire.Flags
	seq, ack uint32
	win      uint16
	data     int
	sack     [][2]uint32
}

// Client ISN 1000, server ISN 5000; window scale 2 on both.
func build(script []seg) []Packet {
	var pkts []Packet
	for _, s := range script {
		src, dst := cli, srv
		if s.from == 's' {
			src, dst = srv, cli
		}
		h := wire.TCPHeader{SrcPort: src.Port(), DstPort: dst.Port(), Seq: s.seq, Ack: s.ack, Flags: s.flags, Window: s.win}
		if s.flags&S != 0 {
			h.Options = wire.TCPOptions{HasMSS: true, MSS: 1460, HasWindowScale: true, WindowScale: 2, SACKPermitted: true}
		}
		for i, b := range s.sack {
			h.Options.SACK[i] = wire.SACKBlock{Start: b[0], End: b[1]}
			h.Options.NumSACK = i + 1
		}
		p := wire.AppendTCPPacket(nil, wire.Endpoints{Src: src.Addr(), Dst: dst.Addr()}, 64, &h, make([]byte, s.data))
		pkts = append(pkts, Packet{Time: t0.Add(time.Duration(s.ms * float64(time.Millisecond))), Data: p})
	}
	return pkts
}

var handshake = []seg{
	{0, 'c', S, 1000, 0, 1000, 0, nil},
	{1, 's', S | A, 5000, 1001, 1000, 0, nil},
	{2, 'c', A, 1001, 5001, 1000, 0, nil},
}

func one(t *testing.T, script []seg) Conversation {
	t.Helper()
	convs, skipped := Analyze(build(script))
	if skipped != 0 || len(convs) != 1 {
		t.Fatalf("%d conversations, %d skipped", len(convs), skipped)
	}
	return convs[0]
}

func states(c *Conversation, s ladder.Side) string {
	var out []string
	for _, ev := range c.Events {
		if ev.Kind == ladder.State && ev.Side == s {
			if ev.From == ev.To {
				out = append(out, ev.To.String())
			} else {
				out = append(out, ev.From.String()+">"+ev.To.String())
			}
		}
	}
	return strings.Join(out, " ")
}

// TestAnomalies checks each anomaly on a segment built for it, with the
// duplicate ACK count, and the windows scaled.
func TestAnomalies(t *testing.T) {
	script := append(append([]seg{}, handshake...),
		seg{10, 'c', P | A, 1001, 5001, 1000, 100, nil},                  // 4: data
		seg{11, 's', A, 5001, 1101, 0, 0, nil},                           // 5: zero window
		seg{15, 'c', A, 1101, 5001, 1000, 1, nil},                        // 6: zero-window probe
		seg{16, 's', A, 5001, 1101, 5000, 0, nil},                        // 7: window update
		seg{20, 'c', A, 1102, 5001, 1000, 999, nil},                      // 8: data
		seg{21, 'c', A, 2101, 5001, 1000, 1000, nil},                     // 9: data
		seg{22, 'c', A, 4101, 5001, 1000, 1000, nil},                     // 10: previous segment not captured
		seg{23, 's', A, 5001, 2101, 5000, 0, [][2]uint32{{4101, 5101}}},  // 11: plain ACK with SACK
		seg{24, 's', A, 5001, 2101, 5000, 0, [][2]uint32{{4101, 5101}}},  // 12: dup ACK #1
		seg{25, 's', A, 5001, 2101, 5000, 0, [][2]uint32{{4101, 5101}}},  // 13: dup ACK #2
		seg{26, 'c', A, 2101, 5001, 1000, 1000, nil},                     // 14: fast retransmission
		seg{300, 'c', A, 3101, 5001, 1000, 1000, nil},                    // 15: retransmission (no dup ACKs since)
		seg{301, 's', A, 5001, 5101, 5000, 0, [][2]uint32{{2101, 3101}}}, // 16: D-SACK: 2101-3101 twice
		seg{302, 'c', A, 1500, 5001, 1000, 1000, nil},                    // 17: spurious: already acked
		seg{5000, 'c', A, 5100, 5001, 1000, 0, nil},                      // 18: keep-alive
		seg{5001, 's', A, 5001, 5101, 5000, 0, nil},                      // 19: keep-alive ACK
	)
	c := one(t, script)
	want := map[int]ladder.Anomaly{
		5:  ladder.ZeroWindow,
		6:  ladder.ZeroWindowProbe,
		7:  ladder.WindowUpdate,
		10: ladder.PreviousLost,
		12: ladder.DupACK,
		13: ladder.DupACK,
		14: ladder.Retransmission | ladder.FastRetransmission | ladder.SpuriousRetransmission,
		15: ladder.Retransmission,
		16: ladder.DSACK,
		17: ladder.Retransmission | ladder.SpuriousRetransmission,
		18: ladder.KeepAlive,
		19: ladder.KeepAliveACK,
	}
	for i, sg := range c.Segments {
		n := i + 1
		if sg.Seg.Anomalies != want[n] {
			t.Errorf("segment %d: [%v], want [%v]", n, sg.Seg.Anomalies, want[n])
		}
	}
	if d := c.Segments[12].Seg.DupAck; d != 2 {
		t.Errorf("second duplicate ACK numbered %d", d)
	}
	if w := c.Segments[6].Window; w != 20000 {
		t.Errorf("window update: %d bytes, want 5000<<2", w)
	}
	if w := c.Segments[0].Window; w != 1000 {
		t.Errorf("SYN window %d bytes, want 1000 (never scaled)", w)
	}
	if c.Retransmissions != [2]int{3, 0} {
		t.Errorf("retransmissions %v", c.Retransmissions)
	}
	if c.Bytes[0] != 4100 {
		t.Errorf("client bytes %d, want 4100", c.Bytes[0])
	}
}

// TestResets names each kind of RST and the states it leaves.
func TestResets(t *testing.T) {
	tests := []struct {
		name        string
		script      []seg
		note        string
		left, right string
	}{
		{"refused", []seg{{0, 'c', S, 1000, 0, 1000, 0, nil}, {0.1, 's', R | A, 0, 1001, 0, 0, nil}},
			"connection refused", "CLOSED>SYN-SENT SYN-SENT>CLOSED", "CLOSED"},
		{"abort", append(append([]seg{}, handshake...), seg{5, 's', R | A, 5001, 1001, 0, 0, nil}),
			"abort: connection reset", "CLOSED>SYN-SENT SYN-SENT>ESTABLISHED ESTABLISHED>CLOSED",
			"LISTEN>SYN-RECEIVED SYN-RECEIVED>ESTABLISHED ESTABLISHED>CLOSED"},
		{"in TIME-WAIT", append(append([]seg{}, handshake...),
			seg{5, 'c', F | A, 1001, 5001, 1000, 0, nil},
			seg{6, 's', F | A, 5001, 1002, 1000, 0, nil},
			seg{7, 'c', A, 1002, 5002, 1000, 0, nil},
			seg{9, 's', R, 5002, 0, 0, 0, nil}),
			"reset in TIME-WAIT",
			"CLOSED>SYN-SENT SYN-SENT>ESTABLISHED ESTABLISHED>FIN-WAIT-1 FIN-WAIT-1>FIN-WAIT-2 FIN-WAIT-2>TIME-WAIT TIME-WAIT>CLOSED",
			"LISTEN>SYN-RECEIVED SYN-RECEIVED>ESTABLISHED ESTABLISHED>CLOSE-WAIT CLOSE-WAIT>LAST-ACK LAST-ACK>CLOSED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := one(t, tt.script)
			last := c.Segments[len(c.Segments)-1]
			if last.Seg.Note != tt.note {
				t.Errorf("note %q, want %q", last.Seg.Note, tt.note)
			}
			if g := states(&c, ladder.Left); g != tt.left {
				t.Errorf("client: %s\n          want %s", g, tt.left)
			}
			if g := states(&c, ladder.Right); g != tt.right {
				t.Errorf("server: %s\n          want %s", g, tt.right)
			}
		})
	}
}

// TestChallengeACK: a SYN on an established connection (RFC 5961 §4) and
// an RST off RCV.NXT (§3.2) are each answered by a challenge ACK, and
// neither changes a state.
func TestChallengeACK(t *testing.T) {
	script := append(append([]seg{}, handshake...),
		seg{5, 'c', S, 9000, 0, 1000, 0, nil},
		seg{6, 's', A, 5001, 1001, 1000, 0, nil},
		seg{7, 'c', R, 1500, 0, 0, 0, nil},
		seg{8, 's', A, 5001, 1001, 1000, 0, nil},
	)
	c := one(t, script)
	for _, i := range []int{4, 6} {
		if a := c.Segments[i].Seg.Anomalies; a != ladder.ChallengeACK {
			t.Errorf("segment %d: [%v], want [challenge ACK]", i+1, a)
		}
	}
	if c.Final[1] != tcp.StateEstablished {
		t.Errorf("server ends %v, want ESTABLISHED", c.Final[1])
	}
}

// TestReusedTuple: a SYN on a 4-tuple whose connection has closed starts
// a new conversation; a retransmitted SYN does not.
func TestReusedTuple(t *testing.T) {
	script := []seg{
		{0, 'c', S, 1000, 0, 1000, 0, nil},
		{100, 'c', S, 1000, 0, 1000, 0, nil}, // retransmitted
		{101, 's', S | A, 5000, 1001, 1000, 0, nil},
		{102, 'c', A, 1001, 5001, 1000, 0, nil},
		{103, 'c', F | A, 1001, 5001, 1000, 0, nil},
		{104, 's', F | A, 5001, 1002, 1000, 0, nil},
		{105, 'c', A, 1002, 5002, 1000, 0, nil},
		{200, 'c', S, 77000, 0, 1000, 0, nil},
		{201, 's', S | A, 99000, 77001, 1000, 0, nil},
	}
	convs, _ := Analyze(build(script))
	if len(convs) != 2 || len(convs[0].Segments) != 7 || len(convs[1].Segments) != 2 || convs[1].Stream != 1 {
		t.Fatalf("conversations: %d", len(convs))
	}
	if a := convs[0].Segments[1].Seg.Anomalies; a != ladder.Retransmission {
		t.Errorf("retransmitted SYN: [%v]", a)
	}
}

// TestPartialChecksum: a checksum holding only the pseudo-header sum (an
// offloaded one, as captured on the sender) is unverified, not bad.
func TestPartialChecksum(t *testing.T) {
	pkts := build(handshake[:1])
	p := pkts[0].Data
	ip, _ := wire.ParseIP(p)
	off := len(p) - len(ip.Payload) + 16
	// The pseudo-header sum, folded, not complemented.
	var acc uint32
	s, d := ip.Src.As4(), ip.Dst.As4()
	for i := 0; i < 4; i += 2 {
		acc += uint32(s[i])<<8 | uint32(s[i+1])
		acc += uint32(d[i])<<8 | uint32(d[i+1])
	}
	acc += wire.ProtocolTCP + uint32(len(ip.Payload))
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	p[off], p[off+1] = byte(acc>>8), byte(acc)
	bad := build(handshake[:1])[0]
	bad.Data[off] ^= 0x55
	convs, _ := Analyze([]Packet{pkts[0], bad})
	segs := convs[0].Segments
	if !segs[0].Seg.Unverified || segs[0].Seg.BadChecksum {
		t.Errorf("partial checksum: unverified %v, bad %v", segs[0].Seg.Unverified, segs[0].Seg.BadChecksum)
	}
	if segs[1].Seg.Unverified || !segs[1].Seg.BadChecksum {
		t.Errorf("wrong checksum: unverified %v, bad %v", segs[1].Seg.Unverified, segs[1].Seg.BadChecksum)
	}
	if convs[0].Unverified != [2]int{1, 0} {
		t.Errorf("unverified counts %v", convs[0].Unverified)
	}
}

func FuzzAnalyze(f *testing.F) {
	for _, p := range build(handshake) {
		f.Add(p.Data, p.Data)
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		convs, _ := Analyze([]Packet{{Time: t0, Data: a}, {Time: t0, Data: b}, {Time: t0, Data: a}})
		for i := range convs {
			_ = ladder.Labels(convs[i].Events, ladder.Options{})
		}
	})
}

// TestTwins: the two copies of a loopback packet in a "-i any" capture
// (out, then in) and a forwarded packet seen on two interfaces are one
// segment; the same segment sent again later is a retransmission.
func TestTwins(t *testing.T) {
	p := build(handshake[:1])[0].Data
	hop := bytes.Clone(p)
	hop[8]-- // TTL
	hop[10], hop[11] = hop[10]+1, 0
	sll2 := func(ifindex uint32, pktType byte, ip []byte) []byte {
		f := []byte{0x08, 0x00, 0, 0}
		f = binary.BigEndian.AppendUint32(f, ifindex)
		f = append(f, 0, 1, pktType, 6, 0, 0, 0, 0, 0, 0, 0, 0)
		return append(f, ip...)
	}
	var file []byte
	file = binary.LittleEndian.AppendUint32(file, pcap.MagicMicroseconds)
	file = binary.LittleEndian.AppendUint16(file, 2)
	file = binary.LittleEndian.AppendUint16(file, 4)
	file = append(file, make([]byte, 8)...)
	file = binary.LittleEndian.AppendUint32(file, 65535)
	file = binary.LittleEndian.AppendUint32(file, pcap.LinkTypeLinuxSLL2)
	for i, f := range [][]byte{
		sll2(1, 4, p), sll2(1, 0, p), // lo: out, in
		sll2(2, 0, p), sll2(3, 4, hop), // forwarded: in on 2, out on 3
		sll2(1, 4, p), // later: sent again
	} {
		us := []uint32{0, 10, 500000, 500020, 900000}[i]
		file = binary.LittleEndian.AppendUint32(file, 946684800)
		file = binary.LittleEndian.AppendUint32(file, us)
		file = binary.LittleEndian.AppendUint32(file, uint32(len(f)))
		file = binary.LittleEndian.AppendUint32(file, uint32(len(f)))
		file = append(file, f...)
	}
	pkts, err := Read(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != 3 {
		t.Fatalf("%d packets kept, want 3", len(pkts))
	}
	convs, _ := Analyze(pkts)
	if a := convs[0].Segments[1].Seg.Anomalies; a != ladder.Retransmission {
		t.Errorf("second SYN: [%v], want [retransmission]", a)
	}
	if a := convs[0].Segments[2].Seg.Anomalies; a != ladder.Retransmission {
		t.Errorf("third SYN: [%v], want [retransmission]", a)
	}
}
