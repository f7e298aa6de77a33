//go:build linux

package tun_test

import (
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/interop/netns"
	"github.com/synack/synack/link"
	"github.com/synack/synack/link/tun"
	"github.com/synack/synack/wire"
)

// needRoot skips t unless it may create namespaces and TUN devices (fails
// it when SYNACK_REQUIRE_NETNS=1).
func needRoot(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	} else if _, err := os.Stat(tun.Path); err != nil {
		why = err.Error()
	}
	if why == "" {
		return
	}
	if os.Getenv("SYNACK_REQUIRE_NETNS") == "1" {
		t.Fatalf("SYNACK_REQUIRE_NETNS=1 but %s", why)
	}
	t.Skipf("skipping: %s", why)
}

// newNS makes a network namespace that t's cleanup deletes.
func newNS(t *testing.T) *netns.NS {
	t.Helper()
	ns, err := netns.New("synack-tun")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Error(err)
		}
	})
	return ns
}

func TestOpenRejectsBadOptions(t *testing.T) {
	for _, o := range []tun.Options{
		{Name: strings.Repeat("x", 16)},
		{MTU: -1},
		{MTU: 70000},
		{Addrs: []netip.Prefix{{}}},
	} {
		if d, err := tun.Open(o); err == nil {
			d.Close()
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}

func TestOpenMissingNetNS(t *testing.T) {
	_, err := tun.Open(tun.Options{NetNS: "/nonexistent/synack-netns"})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open with a missing namespace: %v, want fs.ErrNotExist", err)
	}
}

func TestOpenNotRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: the permission error cannot happen")
	}
	_, err := tun.Open(tun.Options{})
	if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open as non-root: %v, want os.ErrPermission (or fs.ErrNotExist without /dev/net/tun)", err)
	}
}

// TestPacketsBothWays sends a UDP datagram from a kernel socket through the
// device (the reader delivers it) and writes one back through the device
// to the kernel socket, with the device's offloads (the kernel leaves the
// UDP checksum to complete; the device completes it) and without.
func TestPacketsBothWays(t *testing.T) {
	needRoot(t)
	for _, plain := range []bool{false, true} {
		name := map[bool]string{false: "offload", true: "plain"}[plain]
		t.Run(name, func(t *testing.T) { packetsBothWays(t, plain) })
	}
}

func packetsBothWays(t *testing.T, plain bool) {
	ns := newNS(t)
	kern := netip.MustParsePrefix("198.18.0.1/24")
	d, err := tun.Open(tun.Options{Name: "tuntest0", NetNS: ns.Name, MTU: 1400, Addrs: []netip.Prefix{kern, netip.MustParsePrefix("fd00:5ac::1/64")}, DisableOffload: plain})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := tun.OffloadCsum | tun.OffloadTSO4 | tun.OffloadTSO6
	if got := d.Offloads(); plain && got != 0 || !plain && got&want != want {
		t.Errorf("offloads %v (DisableOffload %v)", got, plain)
	}
	if d.Name() != "tuntest0" || d.MTU() != 1400 {
		t.Errorf("device %q with MTU %d, want tuntest0 with 1400", d.Name(), d.MTU())
	}
	got := make(chan []byte, 16)
	d.Attach(link.ReceiverFunc(func(pkt []byte) {
		if len(pkt) > 0 && pkt[0]>>4 == 4 && pkt[9] == 17 { // IPv4 UDP (not IPv6 router solicitations)
			got <- append([]byte(nil), pkt...)
		}
	}))
	pc, err := ns.ListenPacket("udp4", "198.18.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.WriteTo([]byte("to synack"), &net.UDPAddr{IP: net.IPv4(198, 18, 0, 2), Port: 6000}); err != nil {
		t.Fatal(err)
	}
	var pkt []byte
	select {
	case pkt = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no packet from the kernel within 5s")
	}
	if src, dst := netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20])); src != kern.Addr() || dst.String() != "198.18.0.2" {
		t.Errorf("packet %v -> %v, want 198.18.0.1 -> 198.18.0.2", src, dst)
	}
	if payload := string(pkt[28:]); payload != "to synack" {
		t.Errorf("payload %q", payload)
	}
	// Delivered with a complete, valid UDP checksum either way.
	if _, _, err := wire.ParseUDP(pkt[20:], wire.Endpoints{Src: kern.Addr(), Dst: netip.MustParseAddr("198.18.0.2")}); err != nil {
		t.Errorf("the datagram as delivered: %v", err)
	}

	// The reply: swap addresses and ports; the UDP checksum stays valid
	// (the same words, summed in another order), the IP checksum too.
	reply := append([]byte(nil), pkt...)
	copy(reply[12:16], pkt[16:20])
	copy(reply[16:20], pkt[12:16])
	copy(reply[20:22], pkt[22:24])
	copy(reply[22:24], pkt[20:22])
	if err := d.WritePacket(reply); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, from, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "to synack" || from.String() != "198.18.0.2:6000" {
		t.Errorf("kernel read %q from %v", buf[:n], from)
	}
	if s := d.Stats(); s.TxPackets != 1 || s.RxPackets == 0 {
		t.Errorf("stats %+v", s)
	}

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.WritePacket(reply); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v, want net.ErrClosed", err)
	}
	if err := d.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second close: %v, want net.ErrClosed", err)
	}
}

// TestCloseWithoutAttach closes a device whose reader never started.
func TestCloseWithoutAttach(t *testing.T) {
	needRoot(t)
	ns := newNS(t)
	d, err := tun.Open(tun.Options{NetNS: ns.Name})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.Name(), "tun") || d.MTU() != tun.DefaultMTU {
		t.Errorf("device %q with MTU %d, want tunN with %d", d.Name(), d.MTU(), tun.DefaultMTU)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
