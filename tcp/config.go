package tcp

import "time"

// KeepAliveConfig configures TCP keepalive (RFC 1122 §4.2.3.6).
type KeepAliveConfig struct {
	Enable   bool
	Idle     time.Duration // idle time before the first probe; default 2h
	Interval time.Duration // between unanswered probes; default 75s
	Count    int           // unanswered probes before ETIMEDOUT; default 9
}

// Config holds a connection's tunables. A zero field means its default.
type Config struct {
	MSS int // MSS we advertise (link MTU − IP and TCP headers); default 1460
	// SendBufferSize and ReceiveBufferSize are the buffers' sizes in
	// bytes. Left zero, a buffer starts at 256 KiB and auto-tunes
	// (autotune.go) up to MaxSendBufferSize or MaxReceiveBufferSize; given
	// a size, it keeps it, as SO_SNDBUF and SO_RCVBUF fix it on Linux.
	SendBufferSize    int
	ReceiveBufferSize int
	// MaxSendBufferSize and MaxReceiveBufferSize bound auto-tuning.
	// Defaults 4 MiB and 6 MiB (Linux's tcp_wmem and tcp_rmem maxima; the
	// receive maximum also sets the window scale we offer: 7). A maximum
	// above an explicit size auto-tunes from that size; negative: no
	// auto-tuning.
	MaxSendBufferSize    int
	MaxReceiveBufferSize int
	MSL                  time.Duration // maximum segment lifetime; TIME-WAIT lasts 2·MSL; default 30s
	InitialRTO           time.Duration // default 1s (RFC 6298)
	MinRTO               time.Duration // default 200ms
	MaxRTO               time.Duration // default 120s
	SynRetries           int           // SYN retransmissions before connect fails with ETIMEDOUT; default 6
	SynAckRetries        int           // SYN-ACK retransmissions before a half-open connection is dropped; default 5
	MaxRetries           int           // data/FIN retransmissions before ETIMEDOUT (RFC 9293 R2); default 15
	DelayedACK           time.Duration // longest an ACK is delayed; default 40ms; negative: ACK every segment at once
	// QuickAcks is how many segments are acknowledged at once, without
	// delay, when the first data arrives, after an RTO without data and
	// after out-of-order or duplicate data (quick-ACK mode, quickack.go,
	// so that the sender's slow start and recovery are clocked by every
	// segment). Default: half the receive window in full segments, at
	// least 2, at most 16 (Linux's tcp_incr_quickack); negative: none.
	QuickAcks         int
	NoDelay           bool // disable Nagle's algorithm
	DisableWScale     bool // do not offer window scaling (RFC 7323)
	DisableSACK       bool // do not offer SACK-permitted (RFC 2018)
	DisableTimestamps bool // do not offer timestamps (RFC 7323)
	KeepAlive         KeepAliveConfig
	// CongestionControl chooses the congestion controller: "cubic"
	// (RFC 9438 with HyStart++, the default) or "newreno" (RFC 5681).
	CongestionControl string
	// DisableRACK turns RACK-TLP (RFC 8985) off: losses are then found by
	// three duplicate ACKs (RFC 5681) or, with SACK, by RFC 6675's rule.
	DisableRACK bool
	// DisablePRR turns Proportional Rate Reduction (RFC 6937) off: fast
	// recovery with SACK then sends whenever cwnd − pipe allows (RFC
	// 6675), in a burst right after the window is cut.
	DisablePRR bool
	// DisableFRTO turns F-RTO (RFC 5682) off. F-RTO finds spurious
	// retransmission timeouts on connections without timestamps (with
	// them, Eifel, RFC 3522, does); without it only a D-SACK can prove
	// such a timeout spurious.
	DisableFRTO bool
	// ECN offers Explicit Congestion Notification (RFC 3168) on our SYN
	// and accepts it on a SYN that offers it.
	ECN bool
	// ECNAcceptOnly accepts ECN on a peer's ECN-setup SYN without
	// requesting it on our own SYNs (RFC 3168 leaves both to the host):
	// the default of Linux (tcp_ecn=2) and FreeBSD (ecn.enable=2). ECN
	// set too requests it as well.
	ECNAcceptOnly bool
	// Pacing spreads a window's segments over the round trip instead of
	// sending them in one burst (see TCB.Deadline).
	Pacing bool
	// FinWait2Timeout bounds FIN-WAIT-2 after a full Close (not after
	// CloseWrite, where the application still reads): when it expires the
	// connection is dropped silently. Default 60s.
	FinWait2Timeout time.Duration

	// Defences against hostile peers.

	// MinMSS is the smallest MSS we send with: a peer announcing less
	// (down to 1 byte, CVE-2019-11479) is taken as announcing MinMSS, and
	// counted in Shared.MSSClamps. Default 48 (Linux's tcp_min_snd_mss).
	MinMSS int
	// ChallengeACKInterval is the shortest time between two challenge
	// ACKs (RFC 5961 §7) of one connection; the ones in between are not
	// sent. Default 500 ms (Linux's tcp_invalid_ratelimit); negative: no
	// per-connection limit.
	ChallengeACKInterval time.Duration
	// Shared, if set, is shared by many connections (a stack's): it
	// bounds their challenge ACKs together and counts what they did.
	Shared *Shared
	// Memory, when set, accounts for the buffer memory of the connections
	// that share it and bounds it (memory.go); nil: accounted nowhere,
	// unbounded. package stack sets it to the stack's.
	Memory *Memory
	// Pre-RFC 5961 modes (compat.go), FreeBSD's net.inet.tcp.insecure_rst,
	// insecure_syn and drop_synfin. All off by default: RFC 5961's checks
	// stand, and a SYN|FIN is a SYN. They exist for conformance suites
	// written for those modes and for peers that need them; they make blind
	// resets easier (RFC 5961 §1).
	//
	// InsecureRST resets a synchronized connection on any RST whose
	// sequence number is in the receive window, as RFC 793 (and RFC 9293
	// §3.10.7.4 without RFC 5961) says, instead of only on one at exactly
	// RCV.NXT with a challenge ACK for the rest (RFC 5961 §3.2).
	InsecureRST bool
	// InsecureSYN resets a synchronized connection on a SYN whose sequence
	// number is in the receive window: a RST is sent and the user sees
	// ECONNRESET (RFC 793 §3.9, "If the SYN is in the window it is an
	// error, send a reset"), instead of a challenge ACK (RFC 5961 §4). A
	// SYN outside the window still gets an ACK.
	InsecureSYN bool
	// DropSynFin discards a segment with both SYN and FIN set that reaches
	// a connection in SYN-SENT or a listener (the stack checks that one),
	// where RFC 9293 takes it as a SYN and queues the FIN. Once
	// synchronized a SYN|FIN is handled as any SYN.
	DropSynFin bool
	// PageSegments cuts a data segment of 4 KiB or more where a page of
	// the send buffer ends rather than let it span two pages
	// (sndpages.go): a link that takes a payload by a reference to its
	// page (send-side zero copy, Segment.Page) has to copy one that spans
	// two. The cut leaves one segment shorter than the MSS per page, at
	// most one per MiB once the buffer has grown, which Nagle's algorithm
	// does not hold back and which carries no PSH. The stack sets it for
	// connections over such a link (link.PayloadHandoff); elsewhere
	// segments follow the MSS alone.
	PageSegments bool
	// DeferReclaim keeps the storage of a drained buffer (its pages or
	// slab, the records of segments in flight, the output queue) until
	// the owner calls ReclaimIdle, rather than giving it back to the
	// pools the moment the buffer drains. A connection that exchanges
	// small messages then takes no storage from the pools and gives none
	// back per message; the owner gives an idle connection's storage back
	// once it has seen it unused for a while (package stack: 100 to 200
	// ms). Under memory pressure (Memory) storage goes back at once, as
	// without it. The engine reports EventStorage when it finds storage
	// held that it has not reported since the last ReclaimIdle that gave
	// storage back.
	DeferReclaim bool
	// AcceptToBufferSpace takes segments up to RCV.NXT plus the free
	// receive buffer when that reaches past the window we offered, as
	// FreeBSD does (its rcv_wnd is the larger of the two). The offer can
	// be smaller than the buffer when the window field cannot say more
	// (65535 without window scaling) or after rounding. A passive
	// connection in SYN-RECEIVED and one in TIME-WAIT keep the offered
	// window. Default: the
	// offered window only (RFC 9293 §3.10.7.4, RFC 5961's RST and SYN
	// checks).
	AcceptToBufferSpace bool
	// FinWithClosingAck sends our FIN again with the ACK of the peer's FIN
	// that takes a simultaneous close from FIN-WAIT-1 to CLOSING, as
	// FreeBSD does. Default: a plain ACK (RFC 9293 §3.10.7.4); our FIN is
	// retransmitted by its timer if it was lost.
	FinWithClosingAck bool
	// InvalidRateLimit (fuzzapi) bounds the ACKs sent in reply to
	// segments without data that are out of window, fail PAWS or
	// acknowledge what was never sent: at most one per interval, so that
	// two ends that disagree about the sequence space cannot ACK each
	// other for ever (Linux: net.ipv4.tcp_invalid_ratelimit). Default
	// 500ms; negative: no limit.
	InvalidRateLimit time.Duration

	// ProbeSlack (tail loss probes, tlp.go) is what the probe timeout
	// adds to 2·SRTT when two full segments or more are in flight, so
	// that no delayed ACK is due: room for the timers' and the
	// receiver's scheduling (Linux: TCP_TIMEOUT_MIN, 2 jiffies). Default
	// DefaultProbeSlack (2 ms), for an owner that obeys Deadline to the
	// instant (a virtual clock); a stack running in real time uses
	// RealTimeProbeSlack unless this is set.
	ProbeSlack time.Duration

	// TSOffset is the offset of our TSval clock on an active open; 0
	// derives one from the ISS, per connection. A stack sets one per pair
	// of addresses, as Linux's secure_tcp_ts_off does, so that the TSvals
	// a host sends another grow from one connection to the next and a
	// SYN from a port used again passes the peer's TIME-WAIT check
	// (RFC 6191; with offsets per connection, half such SYNs fail PAWS
	// there and wait out the peer's 60 s).
	TSOffset uint32

	// Linux's send-buffer memory (sndmem.go), for the packetdrill runner's
	// Linux scripts; off by default. SendBufferOverhead > 0 charges a
	// fixed send buffer (SendBufferSize given without a larger maximum, or
	// SetSendBufferSize) as Linux charges sk_wmem_queued against
	// sk_sndbuf: SendBufferSize is then memory, and the queued data is
	// held in Linux's skbs, each costing its payload plus
	// SendBufferOverhead (LinuxSkbOverhead). Default: the buffer holds
	// SendBufferSize bytes of data. MinTSOSegs is Linux's
	// net.ipv4.tcp_min_tso_segs, the fewest segments in one of the
	// model's transmit skbs; default 2.
	SendBufferOverhead int
	MinTSOSegs         int
}

// Defaults of Config and KeepAliveConfig.
const (
	DefaultMSS             = 1460
	DefaultBufferSize      = 256 << 10
	DefaultMaxSendBuffer   = 4 << 20
	DefaultMaxRecvBuffer   = 6 << 20
	DefaultMSL             = 30 * time.Second
	DefaultInitialRTO      = time.Second
	DefaultMinRTO          = 200 * time.Millisecond
	DefaultMaxRTO          = 120 * time.Second
	DefaultSynRetries      = 6
	DefaultSynAckRetries   = 5
	DefaultMaxRetries      = 15
	DefaultDelayedACK      = 40 * time.Millisecond
	DefaultFinWait2Timeout = 60 * time.Second
	DefaultKeepAliveIdle   = 2 * time.Hour
	DefaultKeepAliveIntvl  = 75 * time.Second
	DefaultKeepAliveCount  = 9
	// DefaultCongestionControl is CUBIC: the default of the major
	// operating systems, standards-track since RFC 9438, and the one that
	// fills long fat paths (its window growth does not depend on the RTT).
	DefaultCongestionControl = "cubic"
)

// maxBufferSize is the largest buffer: the largest window RFC 7323 allows.
const maxBufferSize = 65535 << 14

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MSS, DefaultMSS)
	if c.MSS > 65535 {
		c.MSS = 65535
	}
	if c.MSS < 64 {
		c.MSS = 64
	}
	// A buffer given a size, without a larger maximum, is fixed; one
	// left zero auto-tunes up to the default maximum.
	bufMax := func(size, maxSize *int, d int) {
		switch {
		case *maxSize < 0 || *maxSize == 0 && *size > 0:
			*maxSize = 0
		case *maxSize == 0:
			*maxSize = d
		}
		def(size, DefaultBufferSize)
		*size = min(*size, maxBufferSize)
		*maxSize = min(max(*maxSize, *size), maxBufferSize)
	}
	bufMax(&c.SendBufferSize, &c.MaxSendBufferSize, DefaultMaxSendBuffer)
	bufMax(&c.ReceiveBufferSize, &c.MaxReceiveBufferSize, DefaultMaxRecvBuffer)
	defD(&c.MSL, DefaultMSL)
	defD(&c.InitialRTO, DefaultInitialRTO)
	defD(&c.MinRTO, DefaultMinRTO)
	defD(&c.MaxRTO, DefaultMaxRTO)
	def(&c.SynRetries, DefaultSynRetries)
	def(&c.SynAckRetries, DefaultSynAckRetries)
	def(&c.MaxRetries, DefaultMaxRetries)
	if c.DelayedACK == 0 {
		c.DelayedACK = DefaultDelayedACK
	}
	defD(&c.FinWait2Timeout, DefaultFinWait2Timeout)
	defD(&c.ProbeSlack, DefaultProbeSlack)
	def(&c.MinMSS, DefaultMinMSS)
	if c.ChallengeACKInterval == 0 {
		c.ChallengeACKInterval = DefaultChallengeACKInterval
	}
	if c.InvalidRateLimit == 0 {
		c.InvalidRateLimit = DefaultInvalidRateLimit
	}
	c.KeepAlive = c.KeepAlive.withDefaults()
	if c.CongestionControl != "newreno" {
		c.CongestionControl = DefaultCongestionControl
	}
	return c
}

func (k KeepAliveConfig) withDefaults() KeepAliveConfig {
	if k.Idle <= 0 {
		k.Idle = DefaultKeepAliveIdle
	}
	if k.Interval <= 0 {
		k.Interval = DefaultKeepAliveIntvl
	}
	if k.Count <= 0 {
		k.Count = DefaultKeepAliveCount
	}
	return k
}
