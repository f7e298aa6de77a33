package tcp

import (
	"time"

	"github.com/synack/synack/tcp/cc"
)

// TCB is one connection's transmission control block.
//
// It is made of a sender half and a receiver half (sender, receiver),
// each embedding the smaller state machines that the files named on them
// own (TLP in tlp.go, persist and keepalive in timers.go, ECN in ecn.go,
// SACK generation in sack.go). The halves are embedded, so every field
// reads as t.sndUna, t.rcvNxt, t.tlpOut wherever it lives. See
// ARCHITECTURE.md, "Engine shape".
//
// Its size is memory every connection pays (issue 9): deadlines are
// 8-byte instants (instant.go), small fields sit together so that padding
// does not push it into a larger allocation class, and state that only
// some connections need is behind pointers taken when needed: lossState
// (recovery, F-RTO, an open probe episode; loss.go) and undoState (from
// the first retransmission; congestion.go). Those pointers are embedded
// too: their fields read like the others, but only where the code knows
// the pointer is set. TestTCBSize says when the TCB grows.
type TCB struct {
	// OnStateChange, when set, is called on every state transition, in
	// order, including several inside one call.
	OnStateChange func(from, to State, now time.Time)

	cfg        Config
	state      State
	passive    bool
	peerWScale bool // the peer's SYN offered window scaling (options.go)
	ackNow     bool // send an ACK before returning
	fullClose  bool // Close (not just CloseWrite) was called
	// Negotiated options (options.go).
	sackOK bool
	tsOK   bool
	// reclaimBits is the state of deferred reclaim (Config.DeferReclaim,
	// memory.go).
	reclaimBits uint8
	err         error // what ended the connection (a syscall.Errno), or nil

	// ECN (ecn.go).
	ecnState

	tsOffset uint32 // per-connection offset of our TSval clock

	sender
	receiver

	// Timers of the connection as a whole; zero when not armed.
	timeWaitAt, finWait2At instant

	// Defences against hostile peers (challenge.go), and the last ACK
	// answering an out-of-window segment (oow.go); monoNano, 0: never.
	challengeAt int64
	oowAckAt    int64

	// Output queue, reused between DrainOutput calls; taken from a pool
	// (outBox) and given back when the connection holds no buffer memory.
	outQ    []outEntry
	outData []byte
	outBox  *outBox

	// TCP Fast Open (fastopen.go): nil unless the connection uses it.
	fo *fastOpen

	// Socket options (sockopt.go): TCP_USER_TIMEOUT, TCP_DEFER_ACCEPT,
	// TCP_LINGER2, TCP_CORK/MSG_MORE, TCP_NOTSENT_LOWAT, MSG_EOR; nil
	// until one is set.
	so *sockOpts

	// Events for the owner (events.go).
	eventState
}

// sender is the sending half of the TCB: the send sequence variables, the
// send buffer, retransmission, congestion control and loss recovery.
type sender struct {
	// Send sequence variables (RFC 9293 §3.3.1).
	iss       uint32
	sndUna    uint32
	sndNxt    uint32
	sndWnd    uint32 // scaled, in bytes
	sndWL1    uint32
	sndWL2    uint32
	maxSndWnd uint32 // MAX.SND.WND of RFC 5961 §5 and RFC 9293 §3.8.6.2.1
	sndSml    uint32 // end of the last segment sent shorter than the MSS (Nagle, Minshall)
	sndMSS    int    // payload bytes per segment (Eff.snd.MSS)
	sndWScale uint8
	synAckd   bool // our SYN has been acknowledged

	// The send buffer holds unacknowledged and unsent data; its first
	// byte has sequence number sndBufSeq.
	sndBuf    sndBuffer // sndpages.go
	sndBufSeq uint32
	sndFull   bool // a Write filled the send buffer (autotune.go)

	// Our FIN.
	finQueued bool   // the user asked for a FIN (CloseWrite or Close)
	finSent   bool   // our FIN has a sequence number
	sndFinSeq uint32 // its sequence number
	// Consecutive RTOs of the current SND.UNA (RFC 6298).
	retransmits int32

	// Retransmission (RFC 6298).
	srtt, rttvar, rto time.Duration
	hasRTT            bool
	rttTiming         bool
	synRetransmitted  bool // the SYN or SYN-ACK was retransmitted (RFC 6298 §5.7)
	rttSeq            uint32
	rttStart          instant
	rtoAt             instant

	// Congestion control and loss recovery (congestion.go, recovery.go,
	// rack.go, txmap.go, loss.go).
	cc       cc.Controller
	tx       txMap // the segments in flight: scoreboard and RACK records
	rack     rack
	useRACK  bool
	usePRR   bool
	useFRTO  bool
	forceRtx bool    // the next retransmission goes regardless of cwnd
	lossAlg  lossAlg // the loss detector, chosen once (loss.go)
	recState recState
	// Limited Transmit (RFC 3042): segments past cwnd the duplicate ACK
	// being processed allows (1 or 2; 0 otherwise).
	limitedTx uint8
	recoverPt uint32 // RecoveryPoint (RFC 6675), "recover" (RFC 6582)
	dupAcks   int32
	lastRTT   time.Duration // the sample taken by the current ACK
	roundEnd  uint32
	ackDSACK  seqRange // the D-SACK block of the ACK being processed
	rackAt    instant
	// PRR, F-RTO and NewReno's window inflation, allocated while a
	// recovery needs them (loss.go).
	*lossState
	tlpState
	// Undo and retransmission counters (congestion.go): nil until the
	// first recovery or retransmission.
	*undoState

	// Zero-window probing (timers.go), keepalive (timers.go) and pacing
	// (pacing.go).
	persistState
	keepalive
	paceAt instant
}

// receiver is the receiving half of the TCB: the receive sequence
// variables, the receive buffer and reassembly, ACK generation, SACK
// generation and PAWS.
type receiver struct {
	// Receive sequence variables.
	irs    uint32
	rcvNxt uint32
	rcvWnd uint32 // what remains of the window we last advertised
	// rcvSlack is how far past RCV.NXT+RCV.WND an earlier window reached
	// when rounding to the scale pulled the right edge back (advertise);
	// data there is still taken if the buffer holds it.
	rcvSlack  uint32
	lastAck   uint32 // Last.ACK.sent
	rcvWScale uint8  // the shift we offer; 0 unless both sides sent wscale
	wsOffered uint8  // the shift we put on our SYN

	readClosed bool // CloseRead or Close: incoming data is discarded
	rcvFin     bool // the peer's FIN has been received in order
	// A FIN that arrived beyond a hole, processed when RCV.NXT reaches it.
	finHeld bool
	// Text (and FIN) of a simultaneous-open SYN, taken once ESTABLISHED
	// (RFC 9293 §3.10.7.3).
	synHeldFin bool
	synHeldOn  bool
	pingpong   bool // interactive: our data answered data within the delayed-ACK time (quickack.go)
	finHeldSeq uint32
	synHeld    []byte

	rcvBuf rcvQueue // the ring, and payloads kept without a copy (rcvqueue.go)
	ooo    reassembly
	// Auto-tuning (autotune.go): the buffers may grow up to
	// cfg.MaxSendBufferSize and cfg.MaxReceiveBufferSize.
	rtune rcvTune

	// ACK generation.
	unackedBytes int // in-order bytes received since our last ACK
	quickAcks    int // segments still to be acknowledged at once
	delAckAt     instant
	// Quick-ACK and interactive ("pingpong") modes, as Linux keeps them
	// (quickack.go).
	lastDataIn int64 // when in-sequence data last arrived (Linux lrcvtime), monoNano; 0: never

	// SACK generation (sack.go).
	sackGen

	// Timestamps and PAWS (RFC 7323 §4.3, §5, paws.go).
	tsRecent   uint32       // TS.Recent
	pawsHole   pawsFloor    // TS.Recent when the latest hole opened
	pawsEcho   [2]pawsFloor // echoes of our clock: the floor, and the next one
	synTSVal   uint32       // TSval of our first SYN, for the SYN-ACK's echo (synEchoForged)
	tsRecentAt instant
}

// Info is a snapshot of a TCB's RFC 9293 variables, for tests and tools.
type Info struct {
	State                  State
	ISS, IRS               uint32
	SndUna, SndNxt, SndWnd uint32
	RcvNxt, RcvWnd         uint32
	SndWL1, SndWL2         uint32
	SndMSS                 int // effective MSS for sending
	SndWScale, RcvWScale   uint8
	SACKPermitted          bool
	Timestamps             bool
	ECN                    bool // ECN negotiated on the SYNs (RFC 3168)
	SRTT, RTTVar, RTO      time.Duration
	Retransmits            int // consecutive timeouts of the current SND.UNA
	// Congestion control.
	CongestionControl string // "cubic" or "newreno"
	Cwnd, Ssthresh    int    // bytes
	InRecovery        bool   // fast or RTO recovery
	// TotalRetransmits counts every retransmitted segment (timeouts, fast
	// retransmit, SACK/RACK recovery, tail loss probes);
	// SpuriousRetransmits those later proven unnecessary by a D-SACK
	// (RFC 2883) or a timestamp (RFC 3522).
	TotalRetransmits    int
	SpuriousRetransmits int
	MinRTT              time.Duration // RACK's min_RTT
	ReorderingSeen      bool
	// The buffers' current sizes: auto-tuning grows them (autotune.go).
	SendBufferSize, ReceiveBufferSize int
	// ReceiverRTT is the receiver's round-trip estimate that drives
	// receive-buffer auto-tuning; 0 until measured.
	ReceiverRTT time.Duration
	// TLPRepairs counts the tail loss probes found to have repaired a
	// loss, each answered with a window reduction (RFC 8985 §7.4).
	TLPRepairs int
	// SendBufferAllocated and ReceiveBufferAllocated are the bytes of
	// memory the buffers hold now (memory.go): none until their first
	// byte and again once they drain.
	SendBufferAllocated, ReceiveBufferAllocated int
	// ReceiveKept is how many of the unread bytes are in payload
	// buffers the engine kept rather than copied (zero-copy receive:
	// Segment.Owner, rcvqueue.go); ReceiveBufferAllocated counts those
	// buffers' whole capacity.
	ReceiveKept int

	// Congestion states as Linux names them (tcpi_ca_state), outside
	// recovery: Disorder while SACKed, lost or duplicate-ACKed data is
	// outstanding (TCP_CA_Disorder); CWR from a window reduction for an
	// ECN echo until the data sent before it is acknowledged (TCP_CA_CWR).
	Disorder, CWR bool
}

func newTCB(cfg Config, iss uint32) *TCB {
	cfg = cfg.withDefaults()
	// Fields of the embedded halves are set one by one: a composite
	// literal cannot name promoted fields.
	t := &TCB{cfg: cfg}
	t.iss = iss
	t.sndUna = iss
	t.sndNxt = iss
	t.sndSml = iss
	t.sndBufSeq = iss + 1
	t.sndBuf = newSndBuffer(sndRingSize(&cfg, cfg.SendBufferSize))
	t.rcvBuf = rcvQueue{ring: newRing(cfg.ReceiveBufferSize)}
	t.rto = cfg.InitialRTO
	t.tsOffset = tsOffsetFor(iss)
	t.initBuffers()
	t.wsOffered = wscaleFor(cfg.MaxReceiveBufferSize)
	t.sndMSS = minInt(536, cfg.MSS)
	t.useRACK = !cfg.DisableRACK
	t.usePRR = !cfg.DisablePRR
	t.useFRTO = !cfg.DisableFRTO
	t.cc = newController(&t.cfg, t.sndMSS, nil)
	return t
}

// NewActive starts an active open: the TCB is in SYN-SENT with its SYN queued.
func NewActive(cfg Config, iss uint32, now time.Time) *TCB {
	t := newTCB(cfg, iss)
	t.activeTSOffset()
	// RFC 9293 §3.10.1, OPEN call, CLOSED state: "A SYN segment of the form
	// <SEQ=ISS><CTL=SYN> is sent. Set SND.UNA to ISS, SND.NXT to ISS+1,
	// enter SYN-SENT state".
	t.state = StateSynSent
	t.sendSYN(now)
	return t
}

// activeTSOffset takes Config.TSOffset for an active open.
func (t *TCB) activeTSOffset() {
	if t.cfg.TSOffset != 0 {
		t.tsOffset = t.cfg.TSOffset
	}
}

// NewPassive starts a passive open from a SYN accepted by HandleListen: the
// TCB is in SYN-RECEIVED with its SYN-ACK queued.
func NewPassive(cfg Config, iss uint32, syn *Segment, now time.Time) *TCB {
	t := newTCB(cfg, iss)
	t.passive = true
	// RFC 9293 §3.10.7.2, LISTEN, fourth (SYN bit): "Set RCV.NXT to
	// SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be selected and a
	// SYN segment sent of the form <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
	// SND.NXT is set to ISS+1 and SND.UNA to ISS. The connection state
	// should be changed to SYN-RECEIVED." Data on the SYN is not queued:
	// the peer retransmits it once the connection is synchronized.
	t.state = StateSynReceived
	t.irs = syn.Seq
	t.rcvNxt = syn.Seq + 1
	t.negotiate(&syn.Options)
	t.negotiateECN(syn, false)
	if syn.Options.HasTimestamps && t.tsOK {
		t.tsRecent = syn.Options.TSVal
		t.tsRecentAt = instantOf(now)
	}
	t.updateSndWnd(syn, true)
	t.sendSYN(now)
	return t
}

// setState moves to a new state and tells OnStateChange.
func (t *TCB) setState(to State, now time.Time) {
	from := t.state
	if from == to {
		return
	}
	t.state = to
	t.noteTransition(from, to) // events.go
	if t.OnStateChange != nil {
		t.OnStateChange(from, to, now)
	}
}

// enterClosed ends the connection with err (nil for an orderly end).
func (t *TCB) enterClosed(err error, now time.Time) {
	if t.err == nil && err != nil {
		t.err = err
		t.ev |= EventError // events.go
	}
	t.stopTimers()
	t.sndBuf.Reset()
	t.tx.reset()
	t.ooo.reset()
	t.rcvBuf.materialize() // no kept payload outlives the connection (rcvqueue.go)
	t.reclaimDrained()     // nor storage kept for a connection in use (Config.DeferReclaim)
	t.setState(StateClosed, now)
}

// enterTimeWait starts the 2·MSL wait (RFC 9293 §3.10.7.4, FIN bit:
// "Start the time-wait timer, turn off the other timers").
func (t *TCB) enterTimeWait(now time.Time) {
	t.stopTimers()
	t.rcvBuf.materialize() // nor the connection's stay in TIME-WAIT (rcvqueue.go)
	t.reclaimDrained()
	t.timeWaitAt = instantOf(now).Add(2 * t.cfg.MSL)
	t.setState(StateTimeWait, now)
}

// enterEstablished completes the handshake.
func (t *TCB) enterEstablished(now time.Time) {
	t.retransmits = 0
	if t.synRetransmitted && !t.hasRTT {
		// RFC 6298 §5.7: after a retransmitted SYN without a sample,
		// the RTO is re-initialised to 3 s when data transmission begins.
		t.rto = t.clampRTO(3 * time.Second)
	}
	t.setState(StateEstablished, now)
	if t.finQueued {
		// A CloseWrite/Close issued before the handshake completed.
		t.setState(StateFinWait1, now)
	}
	if t.cfg.KeepAlive.Enable {
		t.kaAt = instantOf(now).Add(t.cfg.KeepAlive.Idle)
	}
}

func (t *TCB) stopTimers() {
	t.rtoAt, t.persistAt, t.delAckAt = 0, 0, 0
	t.kaAt, t.timeWaitAt, t.finWait2At = 0, 0, 0
	t.rackAt, t.ptoAt, t.paceAt = 0, 0, 0
	t.rttTiming = false
}

// finAcked reports whether our FIN has been acknowledged.
func (t *TCB) finAcked() bool {
	return t.finSent && seqGT(t.sndUna, t.sndFinSeq)
}

// State returns the current state.
func (t *TCB) State() State { return t.state }

// Passive reports whether the TCB was created by NewPassive.
func (t *TCB) Passive() bool { return t.passive }

// Err returns the error that ended the connection, or nil. It is one of
// syscall.ECONNREFUSED, syscall.ECONNRESET and syscall.ETIMEDOUT.
func (t *TCB) Err() error { return t.err }

// Done reports whether the TCB is finished: CLOSED (or returned to LISTEN)
// with nothing left to send, so its owner may forget it.
func (t *TCB) Done() bool {
	return (t.state == StateClosed || t.state == StateListen) && len(t.outQ) == 0
}

// SetNoDelay turns Nagle's algorithm off (true) or on.
func (t *TCB) SetNoDelay(noDelay bool) { t.cfg.NoDelay = noDelay }

// SetKeepAlive changes the keepalive settings.
func (t *TCB) SetKeepAlive(ka KeepAliveConfig, now time.Time) {
	t.cfg.KeepAlive = ka.withDefaults()
	t.kaProbes = 0
	t.kaAt = 0
	if ka.Enable && t.keepAliveState() {
		t.kaAt = instantOf(now).Add(t.cfg.KeepAlive.Idle)
	}
}

// KeepAliveConfig returns the keepalive settings SetKeepAlive (or the
// Config) gave the connection.
func (t *TCB) KeepAliveConfig() KeepAliveConfig { return t.cfg.KeepAlive }

// Info returns a snapshot of the TCB's variables.
func (t *TCB) Info() Info {
	total, spurious, repairs := t.retransmitCounts()
	return Info{
		State:         t.state,
		ISS:           t.iss,
		IRS:           t.irs,
		SndUna:        t.sndUna,
		SndNxt:        t.sndNxt,
		SndWnd:        t.sndWnd,
		RcvNxt:        t.rcvNxt,
		RcvWnd:        t.rcvWnd,
		SndWL1:        t.sndWL1,
		SndWL2:        t.sndWL2,
		SndMSS:        t.sndMSS,
		SndWScale:     t.sndWScale,
		RcvWScale:     t.rcvWScale,
		SACKPermitted: t.sackOK,
		Timestamps:    t.tsOK,
		ECN:           t.ecnOK,
		SRTT:          t.srtt,
		RTTVar:        t.rttvar,
		RTO:           t.rto,
		Retransmits:   int(t.retransmits),

		CongestionControl:   t.cfg.CongestionControl,
		Cwnd:                t.cwnd(),
		Ssthresh:            t.cc.Ssthresh(),
		InRecovery:          t.recState != recOpen,
		TotalRetransmits:    total,
		SpuriousRetransmits: spurious,
		MinRTT:              t.rack.minRTT,
		ReorderingSeen:      t.rack.reorderingSeen,
		SendBufferSize:      t.SendBufferSize(),
		ReceiveBufferSize:   t.rcvBuf.size,
		ReceiverRTT:         t.rtune.rtt,
		TLPRepairs:          repairs,

		SendBufferAllocated:    t.sndBuf.Allocated(),
		ReceiveBufferAllocated: t.rcvBuf.Allocated(),
		ReceiveKept:            t.rcvBuf.Kept(),

		Disorder: t.recState == recOpen && (t.tx.sackedBytes > 0 || t.tx.lostBytes > 0 || t.dupAcks > 0),
		CWR:      t.recState == recOpen && t.ecnReduced && seqLT(t.sndUna, t.ecnRecover),
	}
}
