package main

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/wire"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
	gtcp "gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// The SYN flood: a listener that answers every SYN with a SYN cookie
// (synack: Options.SynCookies = SynCookiesAlways; gVisor:
// TCPAlwaysUseSynCookies), fed SYNs from many addresses and ports as fast
// as one goroutine can hand them to the stack. The figure is SYN-ACKs out
// per second, from the first SYN in to the last SYN-ACK out; a stack that
// queues and drops under the flood answers fewer than it was sent (the
// answered fraction is reported too).

// outCounter counts the packets a stack sends and when the last one went.
type outCounter struct {
	n    atomic.Int64
	last atomic.Int64 // UnixNano
}

func (o *outCounter) sent(k int) {
	o.n.Add(int64(k))
	o.last.Store(time.Now().UnixNano())
}

// wait returns once no packet has gone out for quiet (or after timeout).
func (o *outCounter) wait(quiet, timeout time.Duration) {
	end := time.Now().Add(timeout)
	prev := o.n.Load()
	for time.Now().Before(end) {
		time.Sleep(quiet)
		cur := o.n.Load()
		if cur == prev {
			return
		}
		prev = cur
	}
}

// floodSYNs builds n SYNs to serverIP:80 from addresses in 198.18.0.0/24
// and every port, with the options Linux sends.
func floodSYNs(n int) [][]byte {
	pkts := make([][]byte, n)
	for i := range pkts {
		src := netip.AddrFrom4([4]byte{198, 18, 0, byte(3 + i%250)})
		h := wire.TCPHeader{
			SrcPort: uint16(1024 + (i/250)%64000),
			DstPort: serverPort,
			Seq:     uint32(i) * 2654435761,
			Flags:   wire.FlagSYN,
			Window:  64240,
			Options: wire.TCPOptions{MSS: 1460, HasMSS: true, SACKPermitted: true,
				TSVal: uint32(i), HasTimestamps: true, WindowScale: 7, HasWindowScale: true},
		}
		pkts[i] = wire.AppendTCPPacket(nil, wire.Endpoints{Src: src, Dst: serverIP}, 64, &h, nil)
	}
	return pkts
}

// floodResult turns a flood's counts into metrics.
func floodResult(sent int, start usage, o *outCounter) map[string]float64 {
	cpu := cpuTime() - start.cpu
	out := float64(o.n.Load())
	secs := time.Unix(0, o.last.Load()).Sub(start.wall).Seconds()
	if out == 0 || secs <= 0 {
		return map[string]float64{"rate": 0, "answered": 0}
	}
	return map[string]float64{
		"rate":        out / secs,
		"answered":    out / float64(sent) * 100,
		"cpu_per_syn": cpu.Seconds() / out * 1e6,
	}
}

// sinkLink is a synack link whose far side only counts.
type sinkLink struct {
	r   atomic.Pointer[link.Receiver]
	out outCounter
}

func (l *sinkLink) MTU() int                     { return 1500 }
func (l *sinkLink) WritePacket(pkt []byte) error { l.out.sent(1); return nil }
func (l *sinkLink) Attach(r link.Receiver)       { l.r.Store(&r) }
func (l *sinkLink) Close() error                 { return nil }

func floodSynack(pkts [][]byte, p params) (map[string]float64, error) {
	sv := stack.New(stack.Options{SynCookies: stack.SynCookiesAlways})
	defer sv.Close()
	sink := &sinkLink{}
	if err := sv.AddLink(sink, netip.PrefixFrom(serverIP, 24)); err != nil {
		return nil, err
	}
	ln, err := sv.Listen("tcp", netip.AddrPortFrom(serverIP, serverPort).String())
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	r := *sink.r.Load()
	gcNow()
	start := snapshot()
	for _, pkt := range pkts {
		r.DeliverPacket(pkt)
	}
	sink.out.wait(50*time.Millisecond, p.timeout)
	return floodResult(len(pkts), start, &sink.out), nil
}

// gvisorSink is one end of a gVisor pipe whose writes are only counted,
// and through which the flood is injected.
type gvisorSink struct {
	*pipe.Endpoint
	d   gstack.NetworkDispatcher
	out outCounter
}

func (e *gvisorSink) Attach(d gstack.NetworkDispatcher) {
	e.d = d
	e.Endpoint.Attach(d)
}

func (e *gvisorSink) WritePackets(pkts gstack.PacketBufferList) (int, tcpip.Error) {
	e.out.sent(pkts.Len())
	return pkts.Len(), nil
}

func floodGVisor(pkts [][]byte, p params) (map[string]float64, error) {
	a, _ := pipe.New("", "", 1500)
	sink := &gvisorSink{Endpoint: a}
	s, err := newGVisorStack(sink, serverIP)
	if err != nil {
		return nil, err
	}
	defer func() { s.Close(); s.Wait() }()
	cookies := tcpip.TCPAlwaysUseSynCookies(true)
	if err := s.SetTransportProtocolOption(gtcp.ProtocolNumber, &cookies); err != nil {
		return nil, fmt.Errorf("gvisor: TCPAlwaysUseSynCookies: %s", err)
	}
	ln, err := gonet.ListenTCP(s, gvisorServer(), ipv4.ProtocolNumber)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	gcNow()
	start := snapshot()
	for _, b := range pkts {
		pkt := gstack.NewPacketBuffer(gstack.PacketBufferOptions{Payload: buffer.MakeWithData(b)})
		sink.d.DeliverNetworkPacket(ipv4.ProtocolNumber, pkt)
		pkt.DecRef()
	}
	sink.out.wait(50*time.Millisecond, p.timeout)
	return floodResult(len(pkts), start, &sink.out), nil
}
