package pcap_test

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/pcap"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

// TestTapLiveLink taps a real-time link with link.Sniff, writes what it sees
// with a pcap.Writer, and checks the capture twice: with our own Reader
// (every packet, in order, both directions) and with tshark (no malformed
// packet, no bad checksum).
func TestTapLiveLink(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	a, b := link.Pipe(1500)
	tapped := link.Sniff(a, func(_ link.Direction, pkt []byte) { w.WritePacket(time.Now(), pkt) })
	client, server := stack.New(stack.Options{}), stack.New(stack.Options{})
	defer client.Close()
	defer server.Close()
	if err := client.AddLink(tapped, netip.MustParsePrefix("198.18.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := server.AddLink(b, netip.MustParsePrefix("198.18.0.2/24")); err != nil {
		t.Fatal(err)
	}
	ln, err := server.Listen("tcp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *stack.Conn, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			done <- nil
			return
		}
		io.Copy(c, c)
		c.Close()
		done <- c
	}()
	c, err := client.Dial("tcp", "198.18.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("captured"))
	c.CloseWrite()
	if got, _ := io.ReadAll(c); string(got) != "captured" {
		t.Fatalf("echo: %q", got)
	}
	c.Close()
	sc := <-done
	if sc == nil {
		t.Fatal("accept failed")
	}
	for deadline := time.Now().Add(5 * time.Second); sc.State() != tcp.StateClosed; {
		if time.Now().After(deadline) {
			t.Fatalf("server connection stuck in %v", sc.State())
		}
		time.Sleep(time.Millisecond)
	}

	// Our reader sees the handshake first and the close last.
	r, err := pcap.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var flags []string
	for {
		_, pkt, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		_, h, _, err := wire.ParseTCPPacket(pkt)
		if err != nil {
			t.Fatalf("packet %d: %v", len(flags)+1, err)
		}
		flags = append(flags, h.Flags.String())
	}
	if len(flags) < 7 || strings.Join(flags[:3], " ") != "S S. ." {
		t.Fatalf("capture flags %v: want S S. . first", flags)
	}

	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("SYNACK_REQUIRE_TSHARK") != "" {
			t.Fatal("tshark is required (SYNACK_REQUIRE_TSHARK is set) but not installed")
		}
		t.Skip("tshark not installed: skipping the tshark half of the check")
	}
	file := filepath.Join(t.TempDir(), "tap.pcap")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-r", file, "-o", "tcp.check_checksum:TRUE",
		"-Y", "_ws.malformed || tcp.checksum.status == 0 || ip.checksum.status == 0").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("tshark flags packets:\n%s", s)
	}
	out, err = exec.Command(tshark, "-r", file, "-T", "fields", "-e", "tcp.flags").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	if n := len(strings.Fields(string(out))); n != len(flags) {
		t.Errorf("tshark read %d packets, our reader %d", n, len(flags))
	}
}
