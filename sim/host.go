package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/link/impair"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
)

// Host is one machine on a Network: a stack with one link and one address.
type Host struct {
	name  string
	addr  netip.Addr
	index int
	stack *stack.Stack
	link  *simLink
	// paths holds the impairment of the path to each host, by the
	// host's position (nil: none); guarded by the network's mu.
	paths map[int]*impair.Model
}

// Name returns the host's name.
func (h *Host) Name() string { return h.name }

// Addr returns the host's address.
func (h *Host) Addr() netip.Addr { return h.addr }

// Stack returns the host's stack.
func (h *Host) Stack() *stack.Stack { return h.stack }

// String returns the host's name.
func (h *Host) String() string { return h.name }

// HostOption configures a Host.
type HostOption func(*hostConfig)

type hostConfig struct {
	mtu    int
	tcp    tcp.Config
	hasTCP bool
	edit   func(*stack.Options)
}

// HostTCP sets the host's TCP configuration, in place of the network's.
func HostTCP(cfg tcp.Config) HostOption {
	return func(c *hostConfig) { c.tcp, c.hasTCP = cfg, true }
}

// HostMTU sets the MTU of the host's link.
func HostMTU(n int) HostOption { return func(c *hostConfig) { c.mtu = n } }

// HostStackOptions lets f adjust the host's stack.Options (Backlog,
// SynBacklog, …) after the network has filled them in. Changing Clock,
// Runner, Rand or Trace breaks the simulation.
func HostStackOptions(f func(*stack.Options)) HostOption {
	return func(c *hostConfig) { c.edit = f }
}

// addrKey is an address compared without zone and with IPv4-mapped IPv6
// addresses unmapped.
type addrKey netip.Addr

func keyOf(a netip.Addr) addrKey { return addrKey(a.Unmap().WithZone("")) }

// AddHost adds a host with address addr, its stack in manual mode on the
// network's clock with randomness derived from the seed and the host's
// position. It panics if addr is invalid or already taken, which is a
// mistake in the program rather than in its input.
func (n *Network) AddHost(name string, addr netip.Addr, opts ...HostOption) *Host {
	cfg := hostConfig{mtu: n.cfg.mtu, tcp: n.cfg.tcp}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.mtu <= 0 {
		cfg.mtu = DefaultMTU
	}
	if !addr.IsValid() {
		panic("sim: AddHost: invalid address")
	}
	addr = addr.Unmap().WithZone("")

	n.mu.Lock()
	if _, dup := n.byAddr[keyOf(addr)]; dup {
		n.mu.Unlock()
		panic(fmt.Sprintf("sim: AddHost: address %v already taken", addr))
	}
	h := &Host{name: name, addr: addr, index: len(n.hosts), paths: map[int]*impair.Model{}}
	h.link = &simLink{net: n, host: h, mtu: cfg.mtu}
	n.hosts = append(n.hosts, h)
	n.byAddr[keyOf(addr)] = h
	n.mu.Unlock()

	so := stack.Options{
		Clock:  n.clock,
		Runner: n,
		TCP:    cfg.tcp,
		Secret: n.derive("secret", h.index),
		Rand:   newRandReader(n.derive("rand", h.index)),
		Trace:  func(ev stack.TraceEvent) { n.recordState(h, ev) },
	}
	if cfg.edit != nil {
		cfg.edit(&so)
	}
	h.stack = stack.New(so)
	if err := h.stack.AddLink(h.link, netip.PrefixFrom(addr, addr.BitLen())); err != nil {
		panic(fmt.Sprintf("sim: AddHost: %v", err))
	}
	return h
}

// derive returns 32 bytes determined by the network's seed, a purpose and
// a host's position.
func (n *Network) derive(purpose string, index int) []byte {
	var b []byte
	b = append(b, "synack sim "...)
	b = append(b, purpose...)
	b = binary.BigEndian.AppendUint64(b, uint64(n.seed))
	b = binary.BigEndian.AppendUint64(b, uint64(index))
	sum := sha256.Sum256(b)
	return sum[:]
}

// randReader is a seeded, lock-guarded stream of random bytes.
type randReader struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func newRandReader(seed []byte) *randReader {
	return &randReader{r: rand.NewChaCha8([32]byte(seed))}
}

func (r *randReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.r.Read(p)
}

// errLinkClosed is returned by writes on a closed link.
var errLinkClosed = errors.New("sim: link closed")

// simLink joins a host to the network. Its fields other than net, host
// and mtu are guarded by net.mu.
type simLink struct {
	net    *Network
	host   *Host
	mtu    int
	recv   link.Receiver
	closed bool
}

func (l *simLink) MTU() int { return l.mtu }

func (l *simLink) Attach(r link.Receiver) {
	l.net.mu.Lock()
	l.recv = r
	l.net.mu.Unlock()
}

func (l *simLink) Close() error {
	l.net.mu.Lock()
	l.closed = true
	l.net.mu.Unlock()
	return nil
}

// WritePacket sends a copy of pkt: it is recorded, captured, filtered,
// impaired and queued for delivery after the path's delay.
func (l *simLink) WritePacket(pkt []byte) error {
	if len(pkt) > l.mtu {
		return fmt.Errorf("sim: packet of %d bytes exceeds the MTU of %d", len(pkt), l.mtu)
	}
	n := l.net
	now := n.clock.Now()

	n.mu.Lock()
	defer n.mu.Unlock()
	if l.closed {
		return errLinkClosed
	}
	n.stats.Sent++
	data := n.buffer(pkt)
	p := Packet{Time: now, From: l.host, Data: data}
	if dst, ok := destination(data); ok {
		p.To = n.byAddr[keyOf(dst)]
	}
	drop := DropNone
	switch {
	case n.filter != nil && n.filter(p):
		drop = DropFilter
		n.stats.Filtered++
	case n.cfg.loss > 0 && n.rng.Float64() < n.cfg.loss:
		drop = DropLoss
		n.stats.Lost++
	case p.To == nil:
		drop = DropNoRoute
		n.stats.NoRoute++
	}
	fate := impair.Fate{Copies: 1, At: [2]time.Time{now.Add(n.cfg.delay)}, Flip: [2]int{-1, -1}}
	if drop == DropNone {
		if m := n.model(l.host, p.To); m != nil {
			fate = m.Judge(now, len(data))
			drop = n.count(&fate)
		}
	}
	traced := !n.cfg.noPacketTrace
	if traced {
		n.trace = append(n.trace, Record{Kind: RecordPacket, Time: now, Host: l.host, Packet: p, Drop: drop})
	}
	if n.pcap != nil {
		if err := n.pcap.WritePacket(now, data); err != nil {
			n.setErr(err)
		}
	}
	if drop != DropNone {
		if !traced {
			n.free = append(n.free, data)
		}
		return nil
	}
	// The trace keeps the packet as sent: corrupted copies and the
	// second copy of a duplicate get buffers of their own.
	bufs := [2][]byte{data, nil}
	if fate.Copies > 1 {
		bufs[1] = n.buffer(data)
	}
	if traced && fate.Flip[0] >= 0 {
		bufs[0] = n.buffer(data)
	}
	for i := range fate.Copies {
		corrupted := fate.Corrupt(i, bufs[i])
		if corrupted {
			n.stats.Corrupted++
		}
		n.queue.push(delivery{
			at: fate.At[i], seq: n.nextSeq, sent: now, from: l.host, to: p.To, data: bufs[i],
			dup: i > 0, corrupted: corrupted, recycle: !traced || &bufs[i][0] != &data[0],
		})
		n.nextSeq++
	}
	return nil
}

// buffer returns a copy of pkt, in a recycled buffer when packets are not
// traced (n.mu held).
func (n *Network) buffer(pkt []byte) []byte {
	if k := len(n.free); k > 0 && n.cfg.noPacketTrace {
		b := n.free[k-1]
		n.free = n.free[:k-1]
		return append(b[:0], pkt...)
	}
	if n.cfg.noPacketTrace {
		return append(make([]byte, 0, max(len(pkt), 2048)), pkt...)
	}
	return append([]byte(nil), pkt...)
}

// count adds an impairment's fate to the stats and says how the trace
// records it (n.mu held).
func (n *Network) count(f *impair.Fate) Drop {
	if f.Reordered {
		n.stats.Reordered++
	}
	if f.Copies > 1 {
		n.stats.Duplicated++
	}
	switch f.Drop {
	case impair.Lost, impair.BurstLost:
		n.stats.Lost++
		return DropLoss
	case impair.QueueFull:
		n.stats.QueueFull++
		return DropQueue
	case impair.TooBig:
		n.stats.TooBig++
		return DropTooBig
	}
	return DropNone
}

// destination reads the destination address of an IPv4 or IPv6 packet.
func destination(b []byte) (netip.Addr, bool) {
	if len(b) == 0 {
		return netip.Addr{}, false
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) >= 20 {
			return netip.AddrFrom4([4]byte(b[16:20])), true
		}
	case 6:
		if len(b) >= 40 {
			return netip.AddrFrom16([16]byte(b[24:40])), true
		}
	}
	return netip.Addr{}, false
}
