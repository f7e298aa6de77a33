package stack

import (
	"io"
	"net/netip"
	"sync"
	"testing"

	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// ceMarker is a router's congested queue in front of a link: it sets
// Congestion Experienced on every ECN-capable IPv4 packet carrying data,
// and records the ECN field and flags of everything it forwards.
type ceMarker struct {
	link.Link
	mu   sync.Mutex
	seen []ecnSeen
}

type ecnSeen struct {
	ecn   uint8
	flags wire.Flags
	data  bool
}

func (m *ceMarker) WritePacket(pkt []byte) error {
	ip, h, payload, err := wire.ParseTCPPacket(pkt)
	if err == nil {
		m.mu.Lock()
		m.seen = append(m.seen, ecnSeen{ip.ECN, h.Flags, len(payload) > 0})
		m.mu.Unlock()
		if ip.ECN == wire.ECNECT0 && len(payload) > 0 {
			hdr, body, _ := wire.ParseIPv4(pkt)
			hdr.TOS |= wire.ECNCE
			pkt = append(wire.AppendIPv4(nil, &hdr, len(body)), body...)
		}
	}
	return m.Link.WritePacket(pkt)
}

// TestECN carries RFC 3168 through the stack: data goes out ECT(0), a CE
// mark on arrival makes the receiver echo ECE, and the sender answers with
// CWR after reducing its window.
func TestECN(t *testing.T) {
	a, b := link.Pipe(1500)
	marker := &ceMarker{Link: a}
	opts := Options{TCP: tcp.Config{ECN: true}}
	client, server := New(opts), New(opts)
	defer client.Close()
	defer server.Close()
	if err := client.AddLink(marker, netip.PrefixFrom(clientAddr, 24)); err != nil {
		t.Fatal(err)
	}
	if err := server.AddLink(b, netip.MustParsePrefix("198.18.0.2/24")); err != nil {
		t.Fatal(err)
	}
	ln, err := server.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		data, _ := io.ReadAll(c)
		c.Close()
		got <- data
	}()
	c, err := client.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 64<<10)
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if data := <-got; len(data) != len(payload) {
		t.Fatalf("server read %d bytes, want %d", len(data), len(payload))
	}
	if i := c.Info(); i.SndUna != i.SndNxt && c.State() != tcp.StateClosed {
		t.Logf("client info %+v", i)
	}

	marker.mu.Lock()
	defer marker.mu.Unlock()
	var syn ecnSeen
	var dataECT, dataNotECT, cwr int
	for _, s := range marker.seen {
		switch {
		case s.flags&wire.FlagSYN != 0:
			syn = s
		case s.data && s.ecn == wire.ECNECT0:
			dataECT++
		case s.data:
			dataNotECT++
		}
		if s.flags&wire.FlagCWR != 0 && s.flags&wire.FlagSYN == 0 {
			cwr++ // the sender's answer to an echoed CE (the SYN's CWR offers ECN)
		}
	}
	// RFC 3168 §6.1.1: the SYN offers ECN with ECE and CWR, and is Not-ECT.
	if syn.flags&(wire.FlagECE|wire.FlagCWR) != wire.FlagECE|wire.FlagCWR || syn.ecn != wire.ECNNotECT {
		t.Errorf("SYN flags %v ECN %d; want ECE and CWR set, Not-ECT", syn.flags, syn.ecn)
	}
	if dataECT == 0 || cwr == 0 {
		t.Errorf("%d data packets sent ECT(0), %d Not-ECT, %d with CWR: want ECT(0) data and a CWR after the echoed CE", dataECT, dataNotECT, cwr)
	}
	if n := server.Stats(); n.Malformed != 0 || n.BadChecksum != 0 {
		t.Errorf("server stats %+v", n)
	}
}
