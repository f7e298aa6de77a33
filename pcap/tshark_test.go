package pcap

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checksum is the Internet checksum (RFC 1071) of b, starting from sum.
func checksum(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// tcpPacket builds an IPv4 packet carrying a TCP segment with no options,
// independently of package wire.
func tcpPacket(src, dst [4]byte, sport, dport uint16, seq, ack uint32, flags byte, payload string) []byte {
	tcp := make([]byte, 20, 20+len(payload))
	be := binary.BigEndian
	be.PutUint16(tcp[0:], sport)
	be.PutUint16(tcp[2:], dport)
	be.PutUint32(tcp[4:], seq)
	be.PutUint32(tcp[8:], ack)
	tcp[12] = 5 << 4
	tcp[13] = flags
	be.PutUint16(tcp[14:], 65535)
	tcp = append(tcp, payload...)
	var pseudo uint32
	for _, a := range [][4]byte{src, dst} {
		pseudo += uint32(be.Uint16(a[0:])) + uint32(be.Uint16(a[2:]))
	}
	pseudo += 6 + uint32(len(tcp))
	be.PutUint16(tcp[16:], checksum(pseudo, tcp))

	ip := make([]byte, 20, 20+len(tcp))
	ip[0] = 0x45
	be.PutUint16(ip[2:], uint16(20+len(tcp)))
	ip[6] = 0x40 // DF
	ip[8] = 64
	ip[9] = 6
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	be.PutUint16(ip[10:], checksum(0, ip))
	return append(ip, tcp...)
}

func TestTsharkReadsCapture(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not on PATH; skipping the interoperability check")
	}
	const (
		fin = 0x01
		syn = 0x02
		psh = 0x08
		ack = 0x10
	)
	c, s := [4]byte{198, 18, 0, 1}, [4]byte{198, 18, 0, 2}
	pkts := [][]byte{
		tcpPacket(c, s, 49152, 80, 1000, 0, syn, ""),
		tcpPacket(s, c, 80, 49152, 5000, 1001, syn|ack, ""),
		tcpPacket(c, s, 49152, 80, 1001, 5001, ack, ""),
		tcpPacket(c, s, 49152, 80, 1001, 5001, psh|ack, "hello"),
		tcpPacket(s, c, 80, 49152, 5001, 1006, fin|ack, ""),
	}
	path := filepath.Join(t.TempDir(), "hand.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pkts {
		if err := w.WritePacket(t0.Add(time.Duration(i)*time.Millisecond), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-r", path, "-o", "tcp.check_checksum:TRUE", "-o", "tcp.relative_sequence_numbers:FALSE",
		"-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "tcp.flags.str", "-e", "tcp.seq", "-e", "tcp.checksum.status")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{
		"946684800.000000000\t198.18.0.1\t··········S·\t1000\t1",
		"946684800.001000000\t198.18.0.2\t·······A··S·\t5000\t1",
		"946684800.002000000\t198.18.0.1\t·······A····\t1001\t1",
		"946684800.003000000\t198.18.0.1\t·······AP···\t1001\t1",
		"946684800.004000000\t198.18.0.2\t·······A···F\t5001\t1",
	}
	if len(got) != len(want) {
		t.Fatalf("tshark printed %d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}
