// Command gateway measures a tun2socks-style gateway's throughput with
// synack (package gateway) and with gVisor's netstack (tcp.Forwarder,
// promiscuous mode and spoofing, as tun2socks does), side by side,
// interleaved: kernel clients in one namespace reach a server in another
// only through the gateway's TUN device. It needs root.
//
//	go run ./gateway --bytes 256MiB --rounds 5
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/synack/synack/gateway"
	"github.com/synack/synack/interop/netns"
	"github.com/synack/synack/link"
	"github.com/synack/synack/link/tun"
	"github.com/synack/synack/stack"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
	gtcp "gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

var (
	kernAddr = netip.MustParsePrefix("198.18.40.1/24")
	gwAddr   = netip.MustParsePrefix("198.18.40.2/24")
	server   = "198.19.1.1"
	routed   = netip.MustParsePrefix("198.19.0.0/16")
)

const (
	sourcePort = 9000 // sends the bytes asked for
	sinkPort   = 9001 // reads until EOF
)

func main() {
	size := flag.Int64("bytes", 256<<20, "bytes each way per run")
	rounds := flag.Int("rounds", 5, "interleaved rounds")
	mtu := flag.Int("mtu", 1500, "the TUN's MTU")
	flag.Parse()
	if os.Geteuid() != 0 {
		log.Fatal("gateway: needs root (network namespaces, TUN)")
	}
	cli, err := netns.New("gwb-cli")
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	up, err := netns.New("gwb-up")
	if err != nil {
		log.Fatal(err)
	}
	defer up.Close()
	if out, err := exec.Command("ip", "-n", up.Name, "addr", "add", server+"/32", "dev", "lo").CombinedOutput(); err != nil {
		log.Fatalf("ip addr add: %v: %s", err, out)
	}
	servers(up, *size)
	upstream := gateway.Direct{NetNS: up.Name}

	impls := []struct {
		name  string
		start func(dev *tun.Device) (stop func(), err error)
	}{
		{"synack", func(dev *tun.Device) (func(), error) {
			s := stack.New(stack.Options{})
			if err := s.AddLink(dev, gwAddr); err != nil {
				return nil, err
			}
			g := gateway.New(s, gateway.Config{Upstream: upstream})
			return func() { g.Close(); s.Close() }, nil
		}},
		{"gvisor", func(dev *tun.Device) (func(), error) { return gvisorGateway(dev, upstream) }},
	}
	results := map[string]map[string][]float64{}
	for r := range *rounds {
		for _, im := range impls {
			dev, err := tun.Open(tun.Options{Name: "gwb0", NetNS: cli.Name, MTU: *mtu,
				Addrs: []netip.Prefix{kernAddr}, Routes: []netip.Prefix{routed}})
			if err != nil {
				log.Fatal(err)
			}
			stop, err := im.start(dev)
			if err != nil {
				log.Fatal(err)
			}
			down, derr := transfer(cli, sourcePort, *size, false)
			upr, uerr := transfer(cli, sinkPort, *size, true)
			stop()
			dev.Close()
			if derr != nil || uerr != nil {
				log.Fatalf("%s round %d: %v %v", im.name, r, derr, uerr)
			}
			if results[im.name] == nil {
				results[im.name] = map[string][]float64{}
			}
			results[im.name]["down"] = append(results[im.name]["down"], down)
			results[im.name]["up"] = append(results[im.name]["up"], upr)
			fmt.Fprintf(os.Stderr, "round %d %-7s down %7.0f Mbit/s  up %7.0f Mbit/s\n", r+1, im.name, down, upr)
		}
	}
	fmt.Printf("| direction (%d MiB, MTU %d, median of %d) | synack | gVisor | synack/gVisor |\n|---|---|---|---|\n", *size>>20, *mtu, *rounds)
	for _, dir := range []string{"down", "up"} {
		s, g := median(results["synack"][dir]), median(results["gvisor"][dir])
		what := "server → client (download)"
		if dir == "up" {
			what = "client → server (upload)"
		}
		fmt.Printf("| %s | %.0f Mbit/s (%s) | %.0f Mbit/s (%s) | %.2f× |\n", what, s, spread(results["synack"][dir]),
			g, spread(results["gvisor"][dir]), s/g)
	}
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func spread(v []float64) string {
	return fmt.Sprintf("%.0f–%.0f", slices.Min(v), slices.Max(v))
}

// servers starts, in up, a source on sourcePort (sends size bytes, then
// closes) and a sink on sinkPort.
func servers(up *netns.NS, size int64) {
	src, err := up.Listen("tcp4", fmt.Sprintf("%s:%d", server, sourcePort))
	if err != nil {
		log.Fatal(err)
	}
	sink, err := up.Listen("tcp4", fmt.Sprintf("%s:%d", server, sinkPort))
	if err != nil {
		log.Fatal(err)
	}
	serve := func(l net.Listener, h func(net.Conn)) {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { h(c); c.Close() }()
			}
		}()
	}
	serve(src, func(c net.Conn) { io.Copy(c, io.LimitReader(rand.NewChaCha8([32]byte{}), size)) })
	serve(sink, func(c net.Conn) { io.Copy(io.Discard, c) })
}

// transfer runs one transfer from cli and returns its rate in Mbit/s.
func transfer(cli *netns.NS, port int, size int64, send bool) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := cli.DialContext(ctx, "tcp4", fmt.Sprintf("%s:%d", server, port))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	var n int64
	if send {
		n, err = io.Copy(c, io.LimitReader(rand.NewChaCha8([32]byte{}), size))
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c) // until the sink has read everything and closed
	} else {
		n, err = io.Copy(io.Discard, c)
	}
	d := time.Since(start)
	if err != nil || n != size {
		return 0, fmt.Errorf("port %d: %d of %d bytes: %v", port, n, size, err)
	}
	return float64(size) * 8 / d.Seconds() / 1e6, nil
}

// gvisorGateway is the same relay on gVisor's netstack, as tun2socks
// builds it: a channel endpoint joined to the TUN, promiscuous mode and
// spoofing on the NIC, and a tcp.Forwarder whose handler dials upstream
// first and refuses with a RST if that fails.
func gvisorGateway(dev *tun.Device, upstream gateway.Direct) (func(), error) {
	ep := channel.New(1024, uint32(dev.MTU()), "")
	s := gstack.New(gstack.Options{
		NetworkProtocols:   []gstack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []gstack.TransportProtocolFactory{gtcp.NewProtocol},
	})
	sack := tcpip.TCPSACKEnabled(true)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	for _, o := range []tcpip.SettableTransportProtocolOption{&sack, &moderate} {
		if err := s.SetTransportProtocolOption(gtcp.ProtocolNumber, o); err != nil {
			return nil, fmt.Errorf("gvisor: %s", err)
		}
	}
	if err := s.CreateNIC(1, ep); err != nil {
		return nil, fmt.Errorf("gvisor: CreateNIC: %s", err)
	}
	s.SetPromiscuousMode(1, true)
	s.SetSpoofing(1, true)
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}})
	fwd := gtcp.NewForwarder(s, 0, 2048, func(r *gtcp.ForwarderRequest) {
		id := r.ID()
		dst := netip.AddrPortFrom(netip.AddrFrom4(id.LocalAddress.As4()), id.LocalPort)
		upc, err := upstream.DialTCP(context.Background(), dst)
		if err != nil {
			r.Complete(true)
			return
		}
		var wq waiter.Queue
		gep, terr := r.CreateEndpoint(&wq)
		if terr != nil {
			r.Complete(true)
			upc.Close()
			return
		}
		r.Complete(false)
		c := gonet.NewTCPConn(&wq, gep)
		done := make(chan struct{})
		go func() {
			io.Copy(upc, c)
			upc.(*net.TCPConn).CloseWrite()
			close(done)
		}()
		io.Copy(c, upc)
		c.CloseWrite()
		<-done
		c.Close()
		upc.Close()
	})
	s.SetTransportProtocolHandler(gtcp.ProtocolNumber, fwd.HandlePacket)
	dev.Attach(inject{ep})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			pkt := ep.ReadContext(ctx)
			if pkt == nil {
				return
			}
			v := pkt.ToView()
			dev.WritePacket(v.AsSlice())
			v.Release()
			pkt.DecRef()
		}
	}()
	return func() { cancel(); s.Close() }, nil
}

// inject delivers the TUN's packets to gVisor.
type inject struct{ ep *channel.Endpoint }

var _ link.Receiver = inject{}

func (i inject) DeliverPacket(pkt []byte) {
	if len(pkt) == 0 || pkt[0]>>4 != 4 {
		return
	}
	pb := gstack.NewPacketBuffer(gstack.PacketBufferOptions{Payload: buffer.MakeWithData(pkt)})
	i.ep.InjectInbound(ipv4.ProtocolNumber, pb)
	pb.DecRef()
}
