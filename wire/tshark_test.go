package wire

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tsharkPackets are what the tshark test shows Wireshark: the golden
// packets and the option layouts AppendTCPOptions writes.
func tsharkPackets(t *testing.T) [][]byte {
	ep4, ep6 := Endpoints{addrA4, addrB4}, Endpoints{addrA6, addrB6}
	pkts := [][]byte{unhex(t, goldenSYN4), unhex(t, goldenSYNACK6), unhex(t, goldenSACK4)}
	opts := []TCPOptions{
		{HasMSS: true, MSS: 1460},
		{HasMSS: true, MSS: 1460, HasTimestamps: true, TSVal: 5},
		{HasMSS: true, MSS: 1460, SACKPermitted: true, HasWindowScale: true, WindowScale: 2},
		{HasTimestamps: true, TSVal: 9, TSEcr: 8, NumSACK: 4, SACK: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}},
		{NumSACK: 4, SACK: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}},
	}
	for i, o := range opts {
		h := TCPHeader{SrcPort: 40000, DstPort: 80, Seq: 100, Ack: 1, Flags: FlagACK, Window: 100, Options: o}
		if o.HasMSS {
			h.Flags, h.Ack = FlagSYN, 0
		}
		ep := ep4
		if i%2 == 1 {
			ep = ep6
		}
		pkts = append(pkts, AppendTCPPacket(nil, ep, 64, &h, []byte("ab")))
	}
	// ICMP, ICMPv6 and UDP, whole and in fragments.
	ip := func(ep Endpoints, proto uint8, payload []byte) []byte {
		var b []byte
		if ep.Src.Is4() {
			b = AppendIPv4(nil, &IPv4Header{ID: 1, TTL: 64, Protocol: proto, Src: ep.Src, Dst: ep.Dst}, len(payload))
		} else {
			b = AppendIPv6(nil, &IPv6Header{NextHeader: proto, HopLimit: 64, Src: ep.Src, Dst: ep.Dst}, len(payload))
		}
		return append(b, payload...)
	}
	ptb := ICMPMessage{Type: ICMPv6PacketTooBig, Rest: 1280, Body: unhex(t, goldenSYNACK6)}
	pkts = append(pkts,
		ip(ep4, ProtocolICMP, unhex(t, goldenEcho4)),
		ip(Endpoints{addrB4, addrA4}, ProtocolICMP, unhex(t, goldenFragNeeded4)),
		ip(ep6, ProtocolICMPv6, unhex(t, goldenEcho6)),
		ip(Endpoints{addrA6, addrB6}, ProtocolICMPv6, AppendICMPv6(nil, &ptb, Endpoints{addrA6, addrB6})),
		ip(ep4, ProtocolUDP, unhex(t, goldenUDP4)),
		ip(ep6, ProtocolUDP, unhex(t, goldenUDP6)),
	)
	for _, ep := range []Endpoints{ep4, ep6} {
		err := Fragment(udpPacket(ep, 2000), 600, 99, func(f []byte) { pkts = append(pkts, append([]byte(nil), f...)) })
		if err != nil {
			t.Fatal(err)
		}
	}
	return pkts
}

// TestTsharkAgrees has Wireshark check the checksums and the option
// layouts: no expert warning or error is allowed. It needs tshark and is
// skipped without it or with -short.
func TestTsharkAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	// A pcap file (LINKTYPE_RAW: packets start with the IP header).
	file := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0, 0, 0}
	// The last packet, with a broken TCP checksum, shows the check works.
	pkts := tsharkPackets(t)
	bad := unhex(t, goldenSACK4)
	bad[37] ^= 1
	pkts = append(pkts, bad)
	for i, p := range pkts {
		file = binary.LittleEndian.AppendUint32(file, uint32(i+1))
		file = binary.LittleEndian.AppendUint32(file, 0)
		file = binary.LittleEndian.AppendUint32(file, uint32(len(p)))
		file = binary.LittleEndian.AppendUint32(file, uint32(len(p)))
		file = append(file, p...)
	}
	path := filepath.Join(t.TempDir(), "wire.pcap")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-n", "-r", path,
		"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-o", "tcp.analyze_sequence_numbers:FALSE", "--disable-protocol", "dns", "--disable-protocol", "mdns", // the UDP goldens are not DNS
		"-T", "fields", "-e", "frame.number", "-e", "_ws.expert.severity", "-e", "_ws.expert.message").Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(pkts) {
		t.Fatalf("tshark printed %d lines for %d packets:\n%s", len(lines), len(pkts), out)
	}
	// Chat-level items ("Connection establish request (SYN)") are fine;
	// notes, warnings and errors are not.
	const chat = 0x00200000
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if i == len(lines)-1 {
			if len(f) < 2 || !strings.Contains(l, "checksum") {
				t.Errorf("tshark did not flag the bad checksum: %s", l)
			}
			continue
		}
		if len(f) < 2 || f[1] == "" {
			continue
		}
		for _, sev := range strings.Split(f[1], ",") {
			if n, err := strconv.Atoi(sev); err != nil || n > chat {
				t.Errorf("tshark expert info for frame %s", l)
			}
		}
	}
}
