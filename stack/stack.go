// Package stack is synack's network stack: it owns links, addresses and
// the route table, reassembles IP fragments, answers pings, demultiplexes
// TCP segments to connections and listeners, UDP datagrams to sockets and
// ICMP errors to whichever of them they quote, runs the TCP engines
// (package tcp) on a few event loops, and gives Go programs the familiar
// net.Conn / net.Listener / net.PacketConn face (Dial, Listen, *Conn,
// ListenUDP, DialUDP, *UDPConn).
//
// # Packets the stack sends
//
// TCP segments leave with DF set and are sized for the path MTU; when an
// ICMP fragmentation-needed or packet-too-big that quotes a live
// connection's segment (and passes RFC 5927's sequence check) lowers the
// path MTU, the connection's engine lowers its MSS and resends, cut, what
// the path dropped (tcp.TCB.HandlePathMTU). One that quotes no live
// connection or UDP socket is ignored (Stats.PathMTUIgnored). UDP datagrams and ICMP messages leave without DF, with a
// fresh identification, fragmented when larger than the path MTU. ICMP
// errors (port unreachable, reassembly time exceeded) are rate-limited.
//
// # Concurrency
//
// There is no goroutine per connection. In real-time mode (Options.Runner
// nil) the stack runs Options.Loops event loops, the shards. Every
// connection belongs to one shard, chosen by a hash of its 4-tuple; the
// shard's mutex guards the connection's TCB, the shard's demultiplexing
// table and its timers. A shard's goroutine takes inbound packets from a
// bounded channel (DeliverPacket only parses, copies and enqueues: it never
// blocks and never takes a shard lock) and runs timers. User calls (Read,
// Write, Close, ...) run in the caller's goroutine: they lock the shard,
// call the engine and unlock. In both modes the packets an engine call
// produces are built under the shard lock and written to their links
// after it is released; in real-time mode each is built in a pooled
// buffer of its own, and one goroutine at a time writes a shard's
// packets, in order.
//
// Between two stacks joined by a link.Pipe the buffer itself is handed
// over (link.Handoff, Stack.AdoptPacket), its TCP checksum left
// uncomputed as over the kernel's loopback; when the receiving shard's
// queue is empty and its lock free, the packet is processed at once in
// the sending goroutine instead of waking the loop.
//
// In manual mode (Options.Runner set, as package sim does with a virtual
// clock) the stack starts no goroutine at all: DeliverPacket processes the
// packet at once, Tick runs due timers, NextDeadline reports the next one,
// and a blocking call hands control to Runner.RunUntil in the caller's
// goroutine, holding no lock. In this mode packets produced under a shard
// lock are written to their link after the lock is released, so a link may
// deliver synchronously into any stack, this one included.
//
// Lock order: shard mutex, then Listener mutex, then Stack.mu. Trace
// callbacks run under a shard lock and must not call into the stack.
package stack

import (
	"crypto/rand"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/link"
	"github.com/synack/synack/tcp"
)

// Runner drives a stack that has no event loops of its own (manual mode),
// as package sim does. A blocking call on such a stack (Dial, Accept, Read,
// Write, Close with linger) calls RunUntil in the caller's goroutine.
type Runner interface {
	// RunUntil advances the world — delivers packets, runs timers, moves
	// the virtual clock — until cond() returns true (RunUntil returns
	// true), or until deadline passes or nothing is left to happen
	// (false). A zero deadline means no limit.
	RunUntil(cond func() bool, deadline time.Time) bool
}

// Options configures a Stack. The zero value is a working real-time stack.
type Options struct {
	Clock      clock.Clock      // default clock.Real{}
	Runner     Runner           // nil: the stack runs its own event loops; non-nil: manual mode
	Loops      int              // event loops (shards) in real-time mode; default min(8, 2×GOMAXPROCS)
	TCP        tcp.Config       // defaults for every connection
	Secret     []byte           // key for ISNs (RFC 6528) and ephemeral ports (RFC 6056); default random
	Rand       io.Reader        // randomness (default crypto/rand); a simulation passes a seeded one
	Backlog    int              // default accept-queue length when Listen is given none; default 4096 (what Go's net.Listen asks of Linux: somaxconn)
	SynBacklog int              // SYN-queue (half-open) length of every listener; default 1024 (Linux's tcp_max_syn_backlog)
	Trace      func(TraceEvent) // called on every connection state change, if set
	// SynCookies says when listeners answer SYNs with SYN cookies:
	// SynCookiesAuto (the zero value) when the SYN queue is full,
	// SynCookiesOff never, SynCookiesAlways always. See Listener.
	SynCookies SynCookieMode
	// AbortOnOverflow resets a connection whose handshake completes when
	// its listener's accept queue is full, as Linux does with
	// net.ipv4.tcp_abort_on_overflow=1. By default (false) the connection
	// joins the queue past its backlog instead: a handshake the listener
	// answered is never lost. See Listener.
	AbortOnOverflow bool
	// QueueLen is the capacity of each event loop's inbound packet queue
	// (real-time mode); packets arriving when it is full are dropped and
	// counted in Stats.InboundDrops. Default 4096.
	QueueLen int
	// TTL is the TTL (IPv4) or hop limit (IPv6) of the packets the
	// stack sends. Default 64.
	TTL uint8

	// TCP Fast Open (RFC 7413; fastopen.go). FastOpen holds the bits of
	// Linux's net.ipv4.tcp_fastopen (0: the default, FastOpenClient);
	// FastOpenKey is the key server cookies are made with (nil: derived
	// from Secret). Stack.SetFastOpen and SetFastOpenKey change them.
	FastOpen    FastOpenMode
	FastOpenKey *tcp.FastOpenKey
	// ICMPRate bounds the ICMP error messages the stack sends (port
	// unreachable, reassembly time exceeded) to this many per second,
	// with bursts of ICMPBurst. Echo replies are not limited. Defaults
	// 1000 and 50, as Linux; a negative ICMPRate means no limit.
	ICMPRate, ICMPBurst int
	// UDPReceiveBuffer is how many bytes of datagrams each UDP socket
	// queues before it drops (and counts in Stats.UDPQueueDrops) what
	// arrives. Default 256 KiB.
	UDPReceiveBuffer int
	// Reassembly bounds fragment reassembly; zero fields take their
	// defaults.
	Reassembly ReassemblyOptions

	// Introspection (introspect.go). SegmentTrace, if set, is called
	// with every TCP segment the stack receives (once valid) or sends,
	// under a shard lock like Trace: it must be quick and must not call
	// into the stack.
	SegmentTrace func(SegmentEvent)
	// Listeners and defences against hostile peers.

	// MaxBacklog caps every listener's accept-queue length, as Linux's
	// net.core.somaxconn caps listen(2)'s backlog. Default 4096.
	MaxBacklog int
	// KeepAlive is the keepalive every accepted and dialed connection
	// gets, as Go's net.Dialer and net.ListenConfig give one: zero means
	// probes after 15 s idle, every 15 s, 9 of them (net.KeepAliveConfig's
	// defaults); a positive value sets both the idle time and the
	// interval; negative turns the default off (TCP.KeepAlive, if
	// enabled, still applies). Conn.SetKeepAlive, SetKeepAlivePeriod and
	// SetKeepAliveConfig override it per connection.
	KeepAlive time.Duration
	// ChallengeACKLimit bounds the challenge ACKs (RFC 5961) the whole
	// stack sends per second, on top of each connection's own limit
	// (tcp.Config.ChallengeACKInterval). Each second's budget is drawn
	// anew, with a keyed hash, between half and one and a half times the
	// limit, so that counting one connection's challenge ACKs does not
	// tell an attacker how many other connections sent (the side channel
	// of CVE-2016-5696). Default 1000; negative: no stack-wide limit.
	ChallengeACKLimit int
	// Memory bounds the memory of the TCP buffers of all connections
	// (issue 9; see MemoryOptions and stack/memory.go).
	Memory MemoryOptions

	// Busy polling (driver.go). BusyPoll caps how long a blocked Read on
	// a busy connection polls for data, yielding its P in turn, before
	// its goroutine parks, as Linux's SO_BUSY_POLL bounds a socket read's
	// busy loop; 0 (the default) means 10 µs, a negative value never
	// polls, and values past 1 ms count as 1 ms. Within the cap a Read
	// polls for twice the mean of its connection's recent polls that got
	// their data, at least 5 µs. A connection is busy while its peer
	// takes its turns on the same P: a poll got its data right after
	// yielding, or a parked Read was woken within 5 µs (or a quarter of
	// the cap, if longer). A Read on an idle connection (a new one, or
	// one whose last poll found nothing, whose data came from another CPU
	// while it spun, or whose last wait was longer) parks at once, so
	// idle connections cost no CPU; at most half of GOMAXPROCS Reads of a
	// stack poll at once (Stats.BusyPollsCapped counts the others), so a
	// server with many busy connections does not spend its CPUs polling.
	// Polling spares the goroutine wake-up of each turn of a
	// request/response exchange, which with an idle P makes the scheduler
	// wake an OS thread (BENCHMARKS.md, "Busy polling on by default").
	BusyPoll time.Duration

	// NoTimeWaitReuse keeps a dial from taking the 4-tuple of one of our
	// own TIME-WAIT records. By default, once every ephemeral port to a
	// destination is taken, a dial may reuse a port whose TIME-WAIT
	// record used timestamps and began at least a second before, as
	// Linux's tcp_tw_reuse=1 does (Linux's default, 2, does so on
	// loopback only): PAWS tells the new connection's segments from the
	// old one's, and its sequence numbers start past the old ones. A
	// client that makes more than 16,384 short connections to one
	// server within 2·MSL would otherwise get EADDRNOTAVAIL.
	// Stats.TimeWaitReused counts the reuses.
	NoTimeWaitReuse bool

	// Names (fuzzapi). Resolver turns host names into addresses for
	// Dial, DialUDP, Dialer and ListenConfig; nil knows only
	// "localhost". See Resolver for fixed names and DNS.
	Resolver *Resolver
}

// ReassemblyOptions bound IP fragment reassembly (RFC 791, RFC 8200 §4.5).
type ReassemblyOptions struct {
	Memory    int           // bytes of fragment data held at once; default 4 MiB
	Datagrams int           // datagrams being reassembled at once; default 64
	Timeout   time.Duration // how long an incomplete datagram is kept; default 30 s
}

// TraceEvent reports one state change of a connection or listener.
type TraceEvent struct {
	Time     time.Time
	Local    netip.AddrPort
	Remote   netip.AddrPort // invalid for a listener
	From, To tcp.State
}

// Stats are the stack's counters.
type Stats struct {
	PacketsIn, PacketsOut uint64
	Malformed             uint64 // packets dropped as malformed (bad header, length, option)
	BadChecksum           uint64
	NoRoute               uint64
	ResetsSent            uint64 // RSTs sent for segments that reached no connection
	ActiveOpens           uint64
	PassiveOpens          uint64
	SynQueueDrops         uint64 // SYNs dropped because the SYN queue was full (Options.SynCookies off)
	AcceptQueueDrops      uint64 // handshakes reset because the accept queue was full (Options.AbortOnOverflow), and cookie ACKs ignored past the backlog plus the SYN queue
	Connections           uint64 // connections currently known (all states)
	TimeWaitReused        uint64 // dials that took the 4-tuple of our own TIME-WAIT record (Options.NoTimeWaitReuse; Linux's TWRecycled)

	// SYN cookies (RFC 4987 §3.6; Options.SynCookies).
	SynCookiesSent    uint64 // SYNs answered with a cookie SYN-ACK
	SynCookiesValid   uint64 // ACKs whose cookie was valid (each made a connection, unless the accept queue was full)
	SynCookiesInvalid uint64 // ACKs checked as cookies (their listener sent cookies in the last 128 s) that failed; answered with a RST

	NotTCP       uint64 // well-formed IP packets of a protocol the stack does not carry (not TCP, UDP, ICMP or ICMPv6)
	Fragments    uint64 // IP fragments received
	NotLocal     uint64 // packets whose destination is none of the stack's addresses
	InboundDrops uint64 // packets dropped because an event loop's queue was full
	LinkErrors   uint64 // packets a link refused to send

	// Fragments (RFC 791, RFC 8200 §4.5, RFC 5722).
	Reassembled      uint64 // datagrams reassembled from fragments
	FragmentOverlaps uint64 // datagrams dropped because two of their fragments overlapped
	FragmentTimeouts uint64 // datagrams dropped incomplete when the reassembly timeout passed
	FragmentDrops    uint64 // fragments dropped: reassembly memory or slots full, bad length or offset, or their datagram already dropped
	FragmentsOut     uint64 // fragments sent, for packets larger than the path MTU
	PathMTUDecreases uint64 // path MTUs lowered by fragmentation-needed or packet-too-big messages

	// ICMP and ICMPv6.
	ICMPIn          uint64 // valid ICMP and ICMPv6 messages received
	ICMPOut         uint64 // ICMP and ICMPv6 messages sent
	EchoReplies     uint64 // echo replies sent
	ICMPErrors      uint64 // error messages delivered to a connection or socket
	ICMPIgnored     uint64 // error messages that quoted nothing the stack knows, or failed validation
	ICMPRateLimited uint64 // error messages the stack did not send because of the rate limit

	// UDP.
	UDPIn         uint64 // datagrams delivered to a socket
	UDPOut        uint64 // datagrams sent
	UDPNoPort     uint64 // datagrams to a port no socket is bound to (answered with port unreachable)
	UDPQueueDrops uint64 // datagrams dropped because the socket's receive queue was full

	// Forwarding (ForwardTCP, ForwardUDP; forward.go).
	ForwardTCPRequests uint64 // SYNs handed to the TCP forwarder
	ForwardTCPDropped  uint64 // SYNs dropped because the forwarder's maxPending requests were undecided
	ForwardTCPAccepted uint64 // requests completed with Accept
	ForwardTCPRefused  uint64 // requests refused (RST, ICMP or silence)
	ForwardTCPPending  uint64 // requests undecided now
	ForwardUDPFlows    uint64 // UDP flows handed to the UDP forwarder
	ForwardUDPDropped  uint64 // first datagrams dropped because MaxFlows flows were live
	ForwardUDPLive     uint64 // UDP flows open now
	// TCP totals, as netstat -s reports the kernel's (introspect.go).
	// Opened connections are ActiveOpens and PassiveOpens above.
	SegmentsIn      uint64 // valid TCP segments received (to connections, listeners or nothing)
	SegmentsOut     uint64 // TCP segments sent, retransmissions and RSTs included
	Retransmits     uint64 // segments retransmitted: the sum of the three below
	RetransTimeout  uint64 // … after a retransmission timeout (until the data then outstanding is acknowledged)
	RetransRecovery uint64 // … in fast recovery (fast retransmit, SACK and RACK loss detection)
	RetransProbe    uint64 // … outside recovery: tail loss probes
	ResetsIn        uint64 // segments with RST received
	ResetsOut       uint64 // segments with RST sent (by connections and by the stack; ResetsSent counts the latter)
	AttemptFails    uint64 // connections that went from SYN-SENT or SYN-RECEIVED to CLOSED (or back to LISTEN)
	EstabResets     uint64 // connections that went from ESTABLISHED or CLOSE-WAIT straight to CLOSED (reset, or aborted)
	CurrEstab       uint64 // connections now in ESTABLISHED or CLOSE-WAIT
	// Listeners and defences against hostile peers.
	ListenOverflows         uint64 // SYNs dropped because their listener's accept queue was full, and handshakes refused past it (Linux's ListenOverflows)
	ListenDrops             uint64 // SYNs and handshakes a listener dropped for any reason: overflows, full SYN queue, no route (Linux's ListenDrops)
	SynFinDrops             uint64 // SYN+FIN segments a listener discarded
	MSSClamps               uint64 // connections whose peer announced an MSS below tcp.Config.MinMSS, raised to it
	ChallengeACKs           uint64 // challenge ACKs sent (RFC 5961 §3-§5)
	ChallengeACKsSuppressed uint64 // challenge ACKs not sent: the connection's or the stack's limit (RFC 5961 §7)
	TCPOptionErrors         uint64 // segments with a malformed option: the options before it were kept and the segment processed
	ReassemblyTooBig        uint64 // IPv4 datagrams dropped because they would reassemble past 65,535 bytes
	IPv6ParamProblems       uint64 // IPv6 packets discarded for an RFC 8200 Parameter Problem (routing header with Segments Left != 0, unknown Next Header)
	PathMTUIgnored          uint64 // fragmentation-needed or packet-too-big messages ignored: they quoted no live TCP connection or UDP socket, or failed its check
	PathMTUConnUpdates      uint64 // live TCP connections whose MSS an ICMP message lowered
	// TCP buffer memory and TIME-WAIT (Options.Memory; stack/memory.go,
	// stack/timewait.go).
	BufferBytes          int64  // bytes of memory the TCP send and receive buffers hold now
	BufferBytesPeak      int64  // the most they ever held at once
	MemoryPressureEvents uint64 // times the buffers' total passed Options.Memory.Pressure
	BufferGrowthRefused  uint64 // buffer growths refused under memory pressure or past Options.Memory.High
	MemoryDrops          uint64 // received segments whose data was dropped, in part or whole, for want of buffer memory (the peer resends it)
	TimeWaitRecords      uint64 // connections now in TIME-WAIT, each kept as a compact record

	// TCP Fast Open (Options.FastOpen; fastopen.go).
	FastOpen FastOpenStats

	// Busy polling (Options.BusyPoll; driver.go).
	BusyPolls    uint64 // blocked Reads that busy-polled before parking
	BusyPollHits uint64 // … and got their data (or the end) without parking
	// BusyPollsCapped counts blocked Reads on busy connections that
	// parked without polling because enough Reads of the stack polled.
	BusyPollsCapped uint64
}

// counters are the live, atomic form of Stats.
type counters struct {
	packetsIn, packetsOut, malformed, badChecksum, noRoute, resetsSent atomic.Uint64
	activeOpens, passiveOpens, synQueueDrops, acceptQueueDrops, conns  atomic.Uint64
	notTCP, fragments, notLocal, inboundDrops, linkErrors              atomic.Uint64
	reassembled, fragOverlaps, fragTimeouts, fragDrops, fragsOut       atomic.Uint64
	pmtuDecreases, icmpIn, icmpOut, echoReplies, icmpErrors            atomic.Uint64
	icmpIgnored, icmpRateLimited, udpIn, udpOut, udpNoPort, udpDrops   atomic.Uint64
	synCookiesSent, synCookiesValid, synCookiesInvalid                 atomic.Uint64

	tcp tcpTotals // introspect.go
	// Listeners and defences against hostile peers (challenge ACKs and
	// MSS clamps are counted by the engines, in Stack.tcpShared).
	listenOverflows, listenDrops, synFinDrops, tcpOptionErrors atomic.Uint64
	reassemblyTooBig, ipv6ParamProblems                        atomic.Uint64
	pmtuIgnored, pmtuConnUpdates                               atomic.Uint64
	timeWait                                                   atomic.Int64  // TIME-WAIT records (timewait.go)
	twReused                                                   atomic.Uint64 // Stats.TimeWaitReused (dial.go)
	fo                                                         fastOpenCounters
}

// minMTU is the smallest link MTU the stack accepts (RFC 791's 68).
const minMTU = 68

// Stack is a userspace TCP/IP stack.
type Stack struct {
	clock  clock.Clock
	drv    driver // driver.go: real time or simulated, chosen in New
	cfg    tcp.Config
	secret []byte

	noTWReuse bool // Options.NoTimeWaitReuse
	// bufferIdle is how often a shard looks at the connections holding
	// buffer storage, which they give back once unused between two looks
	// (tcp.Config.DeferReclaim, shard.sweepIdle): idleBufferLook in
	// real-time mode; 0 in manual mode, where storage goes back the
	// moment a buffer drains (tests may set it).
	bufferIdle time.Duration
	trace      func(TraceEvent)
	// segTrace is Options.SegmentTrace (introspect.go).
	segTrace func(SegmentEvent)

	backlog, synBacklog int
	maxBacklog          int
	tcpShared           *tcp.Shared // what every engine of this stack shares: challenge-ACK budget, counters
	synCookies          SynCookieMode
	abortOnOverflow     bool
	cookieKey           tcp.CookieKey
	mem                 *tcp.Memory // the TCP buffers' memory (memory.go)
	resolver            *Resolver   // Options.Resolver (fuzzapi)

	fo fastOpenState // TCP Fast Open (fastopen.go)

	routes atomic.Pointer[routeTable]
	shards []*shard
	seed   maphash.Seed
	ctr    counters
	fwd    forwarding // forwarders and promiscuous mode (forward.go)

	nextEphemeral atomic.Uint32 // RFC 6056 Algorithm 3's next_ephemeral

	ttl       uint8
	ipID      atomic.Uint32 // identification of the next IPv4 packet or IPv6 fragment
	pmtu      pmtuCache
	icmpLimit rateLimiter
	frags     reassembler
	udpBuf    int

	udpMu    sync.RWMutex
	udp      map[udpKey]*UDPConn
	udpPorts map[uint16]int // UDP sockets per local port

	pingMu   sync.Mutex
	pings    map[pingKey]*PingConn // ping.go
	pingNext uint16                // the next echo identifier to try

	mu          sync.RWMutex
	listeners   map[netip.AddrPort]*Listener
	listenPorts map[uint16]int // listeners per port
	closed      bool

	stopped atomic.Bool

	// Zero-copy receive (input.go): inbound packet buffers the engines
	// keep now (tcp.PayloadOwner, retained and not yet released).
	rxKept      atomic.Int64
	rxKeptTotal atomic.Uint64 // every Retain
	// Send-side zero copy (shard.go emitOwn): packets handed to a stack
	// with their payload left in our send buffer's page (tests).
	txPageRefs atomic.Uint64
	// txCopied counts payloads of zeroCopyMin or more copied into the
	// packet although the link takes references: the segment lay in no
	// single page (tests: tcp.Config.PageSegments cuts those).
	txCopied atomic.Uint64
	rxJoined atomic.Uint64 // such packets joined into a buffer on arrival (AdoptPayload)
}

// New returns a stack with no links.
func New(opts Options) *Stack {
	s := &Stack{
		clock:       opts.Clock,
		cfg:         opts.TCP,
		mem:         newMemory(opts.Memory),
		trace:       opts.Trace,
		segTrace:    opts.SegmentTrace,
		noTWReuse:   opts.NoTimeWaitReuse,
		backlog:     opts.Backlog,
		synBacklog:  opts.SynBacklog,
		seed:        maphash.MakeSeed(),
		listeners:   make(map[netip.AddrPort]*Listener),
		listenPorts: make(map[uint16]int),
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	s.cfg.Memory = s.mem
	s.ttl = opts.TTL
	if s.ttl == 0 {
		s.ttl = 64
	}
	s.icmpLimit.rate, s.icmpLimit.burst = opts.ICMPRate, opts.ICMPBurst
	if s.icmpLimit.rate == 0 {
		s.icmpLimit.rate = 1000
	}
	if s.icmpLimit.burst <= 0 {
		s.icmpLimit.burst = 50
	}
	s.udpBuf = opts.UDPReceiveBuffer
	if s.udpBuf <= 0 {
		s.udpBuf = 256 << 10
	}
	s.udp = make(map[udpKey]*UDPConn)
	s.udpPorts = make(map[uint16]int)
	ro := opts.Reassembly
	if ro.Memory <= 0 {
		ro.Memory = defaultReassemblyMemory
	}
	if ro.Datagrams <= 0 {
		ro.Datagrams = defaultReassemblyDatagrams
	}
	if ro.Timeout <= 0 {
		ro.Timeout = defaultReassemblyTimeout
	}
	s.frags.opts = ro
	s.maxBacklog = opts.MaxBacklog
	if s.maxBacklog <= 0 {
		s.maxBacklog = DefaultMaxBacklog
	}
	if s.backlog <= 0 {
		s.backlog = DefaultMaxBacklog
	}
	if s.synBacklog <= 0 {
		s.synBacklog = DefaultSynBacklog
	}
	s.secret = slices.Clone(opts.Secret)
	if len(s.secret) == 0 {
		r := opts.Rand
		if r == nil {
			r = rand.Reader
		}
		s.secret = make([]byte, 16)
		if _, err := io.ReadFull(r, s.secret); err != nil {
			// A broken Rand still gives a working (if predictable) stack.
			clear(s.secret)
		}
	}
	s.synCookies, s.abortOnOverflow = opts.SynCookies, opts.AbortOnOverflow
	s.resolver = opts.Resolver
	s.cookieKey = tcp.NewCookieKey(s.secret)
	s.fo.init(&opts, s.secret)
	s.tcpShared = tcp.NewShared(s.secret, opts.ChallengeACKLimit)
	s.cfg.Shared = s.tcpShared
	s.cfg.KeepAlive = defaultKeepAlive(s.cfg.KeepAlive, opts.KeepAlive)
	s.routes.Store(&routeTable{local: map[netip.Addr]bool{}})
	s.ipID.Store(s.hash(netip.Addr{}, netip.AddrPort{}, netip.AddrPort{}))

	if opts.Runner != nil {
		s.drv = &simulated{s: s, runner: opts.Runner}
	} else {
		s.drv = &realTime{s: s, done: make(chan struct{}), busyPoll: pollCap(opts.BusyPoll),
			maxPoll: maxPollers(runtime.GOMAXPROCS(0))}
		// tlp: probes wait for the Go scheduler (tcp.RealTimeProbeSlack).
		if s.cfg.ProbeSlack == 0 {
			s.cfg.ProbeSlack = tcp.RealTimeProbeSlack
		}
		s.bufferIdle = idleBufferLook
	}
	n := opts.Loops
	if n <= 0 {
		// Twice the Ps: a shard's lock covers all its connections, and
		// with as many shards as Ps, goroutines working on different
		// connections on different CPUs met on one lock often enough to
		// cost a fifth of the connection rate with 8 dialers on 2 CPUs
		// (BENCHMARKS.md, "Twice as many shards as Ps"). An idle shard
		// costs a parked goroutine.
		n = min(8, 2*runtime.GOMAXPROCS(0))
	}
	n = s.drv.shards(n)
	qlen := opts.QueueLen
	if qlen <= 0 {
		qlen = 4096
	}
	for range n {
		s.shards = append(s.shards, newShard(s))
	}
	for _, sh := range s.shards {
		s.drv.start(sh, qlen)
	}
	return s
}

// AddLink attaches l with the given host addresses (see AddAddress): each
// address's prefix becomes an on-link route through l, and the first link
// to get an address of a family also gets that family's default route.
func (s *Stack) AddLink(l link.Link, addrs ...netip.Prefix) error {
	if l == nil {
		return fmt.Errorf("stack: AddLink: nil link")
	}
	if mtu := l.MTU(); mtu < minMTU {
		return fmt.Errorf("stack: AddLink: MTU %d below the minimum of %d", mtu, minMTU)
	}
	err := s.changeRoutes("AddLink", func(rt *routeTable) error {
		if rt.find(l) != nil {
			return fmt.Errorf("link already attached")
		}
		r := &route{l: l, mtu: l.MTU()}
		rt.links = append(rt.links, r)
		for _, p := range addrs {
			if err := rt.addAddress(r, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	l.Attach(s)
	return nil
}

// Stats returns a snapshot of the counters. For the TCP totals it takes
// each event loop's lock once and adds up the live connections' counts,
// so it costs time in proportion to the number of connections.
func (s *Stack) Stats() Stats {
	c := &s.ctr
	st := Stats{
		PacketsIn:        c.packetsIn.Load(),
		PacketsOut:       c.packetsOut.Load(),
		Malformed:        c.malformed.Load(),
		BadChecksum:      c.badChecksum.Load(),
		NoRoute:          c.noRoute.Load(),
		ResetsSent:       c.resetsSent.Load(),
		ActiveOpens:      c.activeOpens.Load(),
		PassiveOpens:     c.passiveOpens.Load(),
		SynQueueDrops:    c.synQueueDrops.Load(),
		AcceptQueueDrops: c.acceptQueueDrops.Load(),
		Connections:      c.conns.Load(),
		TimeWaitReused:   c.twReused.Load(),
		NotTCP:           c.notTCP.Load(),
		Fragments:        c.fragments.Load(),
		NotLocal:         c.notLocal.Load(),
		InboundDrops:     c.inboundDrops.Load(),
		LinkErrors:       c.linkErrors.Load(),
		Reassembled:      c.reassembled.Load(),
		FragmentOverlaps: c.fragOverlaps.Load(),
		FragmentTimeouts: c.fragTimeouts.Load(),
		FragmentDrops:    c.fragDrops.Load(),
		FragmentsOut:     c.fragsOut.Load(),
		PathMTUDecreases: c.pmtuDecreases.Load(),
		ICMPIn:           c.icmpIn.Load(),
		ICMPOut:          c.icmpOut.Load(),
		EchoReplies:      c.echoReplies.Load(),
		ICMPErrors:       c.icmpErrors.Load(),
		ICMPIgnored:      c.icmpIgnored.Load(),
		ICMPRateLimited:  c.icmpRateLimited.Load(),
		UDPIn:            c.udpIn.Load(),
		UDPOut:           c.udpOut.Load(),
		UDPNoPort:        c.udpNoPort.Load(),
		UDPQueueDrops:    c.udpDrops.Load(),

		SynCookiesSent:    c.synCookiesSent.Load(),
		SynCookiesValid:   c.synCookiesValid.Load(),
		SynCookiesInvalid: c.synCookiesInvalid.Load(),

		ListenOverflows:         c.listenOverflows.Load(),
		ListenDrops:             c.listenDrops.Load(),
		SynFinDrops:             c.synFinDrops.Load(),
		MSSClamps:               s.tcpShared.MSSClamps.Load(),
		ChallengeACKs:           s.tcpShared.ChallengeACKs.Load(),
		ChallengeACKsSuppressed: s.tcpShared.ChallengeACKsSuppressed.Load(),
		TCPOptionErrors:         c.tcpOptionErrors.Load(),
		ReassemblyTooBig:        c.reassemblyTooBig.Load(),
		IPv6ParamProblems:       c.ipv6ParamProblems.Load(),
		PathMTUIgnored:          c.pmtuIgnored.Load(),
		PathMTUConnUpdates:      c.pmtuConnUpdates.Load(),
	}
	s.tcpStats(&st)
	s.fwd.stats(&st)
	s.memoryStats(&st)
	st.FastOpen = s.ctr.fo.stats()
	s.busyPollStats(&st) // driver.go
	for _, sh := range s.shards {
		st.PacketsIn += sh.ctr.packetsIn.Load()
		st.PacketsOut += sh.ctr.packetsOut.Load()
		st.LinkErrors += sh.ctr.linkErrors.Load()
		st.InboundDrops += sh.ctr.inboundDrops.Load()
	}
	return st
}

// Close aborts every connection (peers get a RST), closes every listener
// and stops the loops. Blocked calls return, and later calls on its Conns
// and Listeners report net.ErrClosed. Links stay attached but the stack
// ignores what they deliver. Closing a closed stack returns an error
// wrapping net.ErrClosed.
func (s *Stack) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("stack: close: %w", net.ErrClosed)
	}
	s.closed = true
	ls := make([]*Listener, 0, len(s.listeners))
	for _, l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	slices.SortFunc(ls, func(a, b *Listener) int { return compareAddrPort(a.key, b.key) })
	for _, l := range ls {
		l.close()
	}
	now := s.clock.Now()
	for _, sh := range s.shards {
		sh.mu.Lock()
		cs := make([]*Conn, 0, sh.conns.len())
		for c := range sh.conns.all() {
			cs = append(cs, c)
		}
		slices.SortFunc(cs, func(a, b *Conn) int { return compareTuple(a.key, b.key) })
		for _, c := range cs {
			c.closed = true // later calls report net.ErrClosed
			c.halfOpen = false
			if !c.tcb.Done() {
				c.tcb.Abort(now)
			}
			sh.settle(c, now)
			sh.remove(c) // even a TCB the engine keeps (TIME-WAIT) goes
		}
		sh.dropTimeWait()
		sh.unlock()
	}
	s.closeUDP()
	s.closePings()
	s.stopped.Store(true)
	s.frags.mu.Lock()
	if s.frags.timer != nil {
		s.frags.timer.Stop()
	}
	s.frags.mu.Unlock()
	s.drv.stop()
	return nil
}

// NextDeadline returns the earliest timer of any connection or of
// fragment reassembly (manual mode); zero when none is set.
func (s *Stack) NextDeadline() time.Time {
	next := s.frags.next()
	for _, sh := range s.shards {
		sh.mu.Lock()
		d := sh.nextDeadline()
		sh.mu.Unlock()
		if !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	return next
}

// Tick runs every timer due at the clock's current time (manual mode).
func (s *Stack) Tick() {
	now := s.clock.Now()
	s.expireFragments(now)
	for _, sh := range s.shards {
		sh.mu.Lock()
		sh.runTimers(now)
		sh.unlock()
	}
}

func (s *Stack) report(local, remote netip.AddrPort, from, to tcp.State, now time.Time) {
	if s.trace != nil {
		s.trace(TraceEvent{Time: now, Local: local, Remote: remote, From: from, To: to})
	}
}
