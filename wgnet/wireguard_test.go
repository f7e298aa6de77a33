package wgnet_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/synack/synack/interop/netns"
	"github.com/synack/synack/wgnet"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/net/dns/dnsmessage"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

// Two wireguard-go peers meet over UDP on the loopback of a namespace the
// test creates. The kernel peer has a kernel TUN device (wgk0,
// 198.18.20.1) with the kernel's TCP behind it: python3's http.server,
// curl, and a small DNS responder on a kernel socket. The user-space peer
// (198.18.20.2) has no TUN at all: its network stack is synack through
// wgnet — or, to prove the drop-in claim on the same code, wireguard-go's
// own tun/netstack (gVisor).
var (
	kernelAddr = netip.MustParseAddr("198.18.20.1")
	userAddr   = netip.MustParseAddr("198.18.20.2")
)

const (
	kernelPort = 51820
	userPort   = 51821
	dnsName    = "files.wg.test"
)

// peerNet is what both user-space stacks offer the test.
type peerNet struct {
	dial   func(ctx context.Context, network, address string) (net.Conn, error)
	listen func(addr netip.AddrPort) (net.Listener, error)
	lookup func(host string) ([]string, error)
}

type impl struct {
	name   string
	create func(addrs, dns []netip.Addr, mtu int) (tun.Device, peerNet, error)
}

var impls = []impl{
	{"synack", func(addrs, dns []netip.Addr, mtu int) (tun.Device, peerNet, error) {
		dev, tnet, err := wgnet.CreateNetTUN(addrs, dns, mtu)
		if err != nil {
			return nil, peerNet{}, err
		}
		return dev, peerNet{
			dial:   tnet.DialContext,
			listen: func(a netip.AddrPort) (net.Listener, error) { return tnet.ListenTCPAddrPort(a) },
			lookup: tnet.LookupHost,
		}, nil
	}},
	{"gvisor-netstack", func(addrs, dns []netip.Addr, mtu int) (tun.Device, peerNet, error) {
		dev, tnet, err := netstack.CreateNetTUN(addrs, dns, mtu)
		if err != nil {
			return nil, peerNet{}, err
		}
		return dev, peerNet{
			dial:   tnet.DialContext,
			listen: func(a netip.AddrPort) (net.Listener, error) { return tnet.ListenTCPAddrPort(a) },
			lookup: tnet.LookupHost,
		}, nil
	}},
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("SYNACK_REQUIRE_NETNS") == "1" {
		t.Fatal("SYNACK_REQUIRE_NETNS=1 but not root")
	}
	t.Skip("needs root (network namespaces, TUN)")
}

// blobSize is how much each direction moves; SYNACK_WG_BYTES changes it.
func blobSize(t *testing.T) int {
	if s := os.Getenv("SYNACK_WG_BYTES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("SYNACK_WG_BYTES=%q: %v", s, err)
		}
		return n
	}
	return 64 << 20
}

func TestWireGuardPeers(t *testing.T) {
	needRoot(t)
	size := blobSize(t)
	blob := make([]byte, size)
	rand.Read(blob)
	want := sha256.Sum256(blob)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "blob"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			start := time.Now()
			ns, tnet := wireGuardPair(t, im)
			t.Logf("%s: tunnel up in %v", im.name, time.Since(start).Round(time.Millisecond))

			// UDP across: DNS through the tunnel to the kernel side.
			addrs, err := tnet.lookup(dnsName)
			if err != nil || len(addrs) != 1 || addrs[0] != kernelAddr.String() {
				t.Fatalf("LookupHost(%s) = %v, %v; want [%v]", dnsName, addrs, err, kernelAddr)
			}

			// ICMP across: echo requests from a ping socket, dialed by name,
			// answered by the kernel peer.
			pc, err := tnet.dial(context.Background(), "ping4", dnsName)
			if err != nil {
				t.Fatalf("dial ping4 %s: %v", dnsName, err)
			}
			pc.SetReadDeadline(time.Now().Add(10 * time.Second))
			for seq := byte(1); seq <= 3; seq++ {
				req := append([]byte{8, 0, 0, 0, 0, 0, 0, seq}, "wg ping"...)
				if _, err := pc.Write(req); err != nil {
					t.Fatalf("ping write: %v", err)
				}
				buf := make([]byte, 1500)
				n, err := pc.Read(buf)
				if err != nil || n != len(req) || buf[0] != 0 || buf[7] != seq || string(buf[8:n]) != "wg ping" {
					t.Fatalf("ping reply %x, %v; want an echo reply, seq %d, the data", buf[:n], err, seq)
				}
			}
			pc.Close()

			// Kernel → user space: the peer fetches from python3's http.server,
			// dialing by name.
			srv := ns.Command(context.Background(), "python3", "-m", "http.server", "--bind", kernelAddr.String(), "8000", "--directory", dir)
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
			client := &http.Client{Transport: &http.Transport{DialContext: tnet.dial}, Timeout: 5 * time.Minute}
			var resp *http.Response
			for end := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				resp, err = client.Get(fmt.Sprintf("http://%s:8000/blob", dnsName))
				if err == nil || time.Now().After(end) {
					break
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			t0 := time.Now()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			down := time.Since(t0)
			if err != nil || n != int64(size) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("download: %d bytes, %v; sha256 %x, want %x", n, err, h.Sum(nil), want)
			}

			// User space → kernel: curl fetches from an HTTP server on the
			// user-space stack.
			ln, err := tnet.listen(netip.AddrPortFrom(userAddr, 80))
			if err != nil {
				t.Fatal(err)
			}
			go http.Serve(ln, http.FileServer(http.Dir(dir)))
			t.Cleanup(func() { ln.Close() })
			out := filepath.Join(t.TempDir(), "got")
			t0 = time.Now()
			curl := ns.Command(context.Background(), "curl", "-sS", "--max-time", "300", "-o", out, fmt.Sprintf("http://%s/blob", userAddr))
			if msg, err := curl.CombinedOutput(); err != nil {
				t.Fatalf("curl: %v: %s", err, msg)
			}
			up := time.Since(t0)
			got, err := os.ReadFile(out)
			if sum := sha256.Sum256(got); err != nil || sum != want {
				t.Fatalf("upload: %d bytes, %v; sha256 %x, want %x", len(got), err, sum, want)
			}
			mbps := func(d time.Duration) float64 { return float64(size) * 8 / d.Seconds() / 1e6 }
			t.Logf("%s: %d MiB kernel→peer in %v (%.0f Mbit/s), peer→kernel in %v (%.0f Mbit/s)",
				im.name, size>>20, down.Round(time.Millisecond), mbps(down), up.Round(time.Millisecond), mbps(up))
		})
	}
}

// wireGuardPair brings up both peers in a new namespace and returns it and
// the user-space peer's network.
func wireGuardPair(t *testing.T, im impl) (*netns.NS, peerNet) {
	t.Helper()
	ns, err := netns.New("wg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	kpriv, kpub := keyPair(t)
	upriv, upub := keyPair(t)
	logger := device.NewLogger(device.LogLevelError, "")
	// The kernel TUN complains of MTU look-ups racing its own deletion at
	// the end: keep its device quiet.
	quiet := device.NewLogger(device.LogLevelSilent, "")

	// The kernel peer.
	var kdev *device.Device
	if err := ns.Do(func() error {
		td, err := tun.CreateTUN("wgk0", 1420)
		if err != nil {
			return err
		}
		kdev = device.NewDevice(td, nsBind{conn.NewDefaultBind(), ns}, quiet)
		if err := kdev.IpcSet(fmt.Sprintf("private_key=%s\nlisten_port=%d\npublic_key=%s\nallowed_ip=%s/32\nendpoint=127.0.0.1:%d\n",
			kpriv, kernelPort, upub, userAddr, userPort)); err != nil {
			return err
		}
		return kdev.Up()
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kdev.Close)
	h, err := ns.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lk, err := h.LinkByName("wgk0")
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("ip", "-n", ns.Name, "addr", "add", kernelAddr.String()+"/24", "dev", "wgk0").Run(); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lk); err != nil {
		t.Fatal(err)
	}

	// A DNS responder on the kernel side, answering dnsName.
	pc, err := ns.ListenPacket("udp4", kernelAddr.String()+":53")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go serveDNS(pc)

	// The user-space peer.
	udev, unet, err := im.create([]netip.Addr{userAddr}, []netip.Addr{kernelAddr}, 1420)
	if err != nil {
		t.Fatal(err)
	}
	var wdev *device.Device
	if err := ns.Do(func() error {
		wdev = device.NewDevice(udev, nsBind{conn.NewDefaultBind(), ns}, logger)
		if err := wdev.IpcSet(fmt.Sprintf("private_key=%s\nlisten_port=%d\npublic_key=%s\nallowed_ip=0.0.0.0/0\nendpoint=127.0.0.1:%d\npersistent_keepalive_interval=1\n",
			upriv, userPort, kpub, kernelPort)); err != nil {
			return err
		}
		return wdev.Up()
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wdev.Close)
	return ns, unet
}

// nsBind opens its UDP sockets inside the namespace whichever goroutine
// brings the device up. A TUN device announces itself up on its events
// channel as soon as it exists (synack's and gVisor's both do), and
// wireguard-go's event worker then calls Up from its own goroutine, outside
// any namespace: had the worker won the race with ns.Do, the bind would sit
// on the host's loopback and the handshake would never reach the kernel peer.
type nsBind struct {
	conn.Bind
	ns *netns.NS
}

func (b nsBind) Open(port uint16) (fns []conn.ReceiveFunc, actual uint16, err error) {
	err = b.ns.Do(func() error {
		var oerr error
		fns, actual, oerr = b.Bind.Open(port)
		return oerr
	})
	return fns, actual, err
}

// keyPair returns a WireGuard private key and its public key, hex encoded
// for wireguard-go's configuration protocol.
func keyPair(t *testing.T) (priv, pub string) {
	var k [32]byte
	rand.Read(k[:])
	k[0] &= 248
	k[31] = k[31]&127 | 64
	p, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(k[:]), hex.EncodeToString(p)
}

// serveDNS answers A queries for dnsName with kernelAddr, and every other
// name with NXDOMAIN (no AAAA records).
func serveDNS(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var m dnsmessage.Message
		if m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
			continue
		}
		q := m.Questions[0]
		m.Response, m.Authoritative, m.RecursionAvailable = true, true, true
		m.Answers = nil
		if q.Name.String() != dnsName+"." {
			m.RCode = dnsmessage.RCodeNameError
		} else if q.Type == dnsmessage.TypeA {
			m.Answers = []dnsmessage.Resource{{
				Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
				Body:   &dnsmessage.AResource{A: kernelAddr.As4()},
			}}
		}
		if out, err := m.Pack(); err == nil {
			pc.WriteTo(out, from)
		}
	}
}
