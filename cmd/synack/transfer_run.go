package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/synack/synack/link/impair"
	"github.com/synack/synack/sim"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
)

// transferOptions says what synack transfer moves, and over what.
type transferOptions struct {
	bytes    int64
	seed     int64
	path     impair.Config // both directions; path.Delay is the one-way delay
	burst    float64       // mean loss burst in packets; 0: independent losses
	cc       string        // "newreno" or "cubic"
	sack     bool
	buffer   int64 // send and receive buffers; 0: automatic
	mtu      int
	realtime bool
	stall    time.Duration // give up after this long without progress
	// cleanReturn impairs only the data's direction: the ACKs' path has
	// the same delay, rate and MTU but no loss, reordering, duplication,
	// corruption or jitter (for comparisons with loss models).
	cleanReturn bool
	trace       *traceWriter // --trace; nil: none
	progress    *progress    // the progress line; nil: none
}

// transferPort is the server's port.
const transferPort = 5001

// sampleStats is the min, mean and max of samples.
type sampleStats struct {
	Min float64 `json:"min"`
	Avg float64 `json:"avg"`
	Max float64 `json:"max"`
	N   int64   `json:"-"`
	sum float64
}

func (s *sampleStats) add(v float64) {
	if s.N == 0 || v < s.Min {
		s.Min = v
	}
	if s.N == 0 || v > s.Max {
		s.Max = v
	}
	s.N++
	s.sum += v
	s.Avg = s.sum / float64(s.N)
}

// transferResult is what a transfer measured.
type transferResult struct {
	Bytes          int64   `json:"bytes"`
	SentSHA256     string  `json:"sent_sha256"`
	ReceivedSHA256 string  `json:"received_sha256"`
	Intact         bool    `json:"intact"`
	Seconds        float64 `json:"seconds"` // virtual (or, with --realtime, wall) time from the first byte written to the last read
	WallSeconds    float64 `json:"wall_seconds"`
	Goodput        float64 `json:"goodput_bytes_per_second"`
	// SecondHalfGoodput is the goodput of the second half of the data,
	// well past slow start.
	SecondHalfGoodput float64 `json:"second_half_goodput_bytes_per_second"`
	Realtime          bool    `json:"realtime"`

	CC        string `json:"cc"`
	SACK      bool   `json:"sack"`
	SACKAgree bool   `json:"sack_negotiated"`

	Segments       int64        `json:"data_segments"`        // data segments the sender put on the wire
	Retransmits    int64        `json:"retransmits"`          // of which retransmissions
	Needless       int64        `json:"spurious_arrivals"`    // data segments that reached the receiver with nothing new
	EngineRetrans  *int64       `json:"engine_retransmits"`   // the sender's tcp.Info.TotalRetransmits
	EngineSpurious *int64       `json:"engine_spurious"`      // the sender's tcp.Info.SpuriousRetransmits (found by D-SACK or timestamps)
	RTTms          sampleStats  `json:"srtt_ms"`              // the sender's SRTT, sampled
	Cwnd           *sampleStats `json:"cwnd_bytes,omitempty"` // the sender's cwnd, sampled

	Net        sim.Stats `json:"network"`            // both directions
	Rejected   uint64    `json:"rejected_by_stacks"` // packets the stacks refused as damaged (checksum, malformed)
	BufferSize int64     `json:"buffer_bytes"`       // as configured; 0: auto-tuned
	// The buffers' sizes at the end (auto-tuning grows them): the
	// sender's send buffer and the receiver's receive buffer.
	SendBufferEnd    int `json:"send_buffer_end_bytes"`
	ReceiveBufferEnd int `json:"receive_buffer_end_bytes"`
}

// transferConfig is the TCP configuration of both ends.
func transferConfig(o transferOptions) tcp.Config {
	return tcp.Config{
		SendBufferSize:    int(o.buffer),
		ReceiveBufferSize: int(o.buffer),
		DisableSACK:       !o.sack,
		CongestionControl: o.cc,
	}
}

var (
	transferClient = netip.MustParseAddr("198.18.0.1")
	transferServer = netip.MustParseAddr("198.18.0.2")
)

// source is the data sent: a ChaCha8 stream from the seed.
type dataSource struct {
	r    *rand.ChaCha8
	hash hash.Hash
}

func newDataSource(seed int64) *dataSource {
	var key [32]byte
	copy(key[:], "synack transfer data")
	binary.BigEndian.PutUint64(key[24:], uint64(seed))
	return &dataSource{r: rand.NewChaCha8(key), hash: sha256.New()}
}

// fill fills b with the next bytes of the stream.
func (s *dataSource) fill(b []byte) {
	_, _ = s.r.Read(b)
	s.hash.Write(b)
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// simTransfer runs a transfer between two stacks on a simulated network.
func simTransfer(o transferOptions) (*transferResult, error) {
	wallStart := time.Now()
	cfg := transferConfig(o)
	path := o.path
	delay := path.Delay
	path.Delay = 0 // the network's delay: WithDelay
	n := sim.New(o.seed, sim.WithDelay(delay), sim.WithTCP(cfg), sim.WithMTU(o.mtu),
		sim.WithoutPacketTrace(), sim.WithImpairment(path))
	cli := n.AddHost("client", transferClient, sim.HostStackOptions(func(so *stack.Options) { o.trace.hook("client", so) }))
	srv := n.AddHost("server", transferServer, sim.HostStackOptions(func(so *stack.Options) { o.trace.hook("server", so) }))
	if o.cleanReturn {
		n.Impair(srv, cli, impair.Config{Delay: delay, Rate: path.Rate, Queue: path.Queue, MTU: path.MTU})
	}

	var sent sentCounter
	var arrived arrivalCounter
	n.SetFilter(func(p sim.Packet) bool {
		if p.From == cli {
			sent.packet(p.Data)
		}
		return false
	})
	n.SetArrivalHook(func(a *sim.Arrival) {
		if a.To == srv && !a.Duplicate && !a.Corrupted {
			arrived.packet(a.Data)
		}
	})

	ln, err := srv.Stack().Listen("tcp", fmt.Sprintf(":%d", transferPort))
	if err != nil {
		return nil, err
	}
	snd, err := cli.Stack().Dial("tcp", netip.AddrPortFrom(transferServer, transferPort).String())
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c, err := ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("accept: %w", err)
	}
	rcv := c.(*stack.Conn)

	p := newPump(o, n, snd, rcv)
	start := n.Now()
	if err := p.run(); err != nil {
		return nil, err
	}
	end := n.Now()
	elapsed := end.Sub(start)
	// The FIN: Read reports io.EOF once it is in.
	if k, err := rcv.Read(p.buf[:1]); k != 0 || !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("after %d bytes: read %d more, %v; want io.EOF", p.read, k, err)
	}
	snd.Close()
	rcv.Close()
	// Let the packets still on their way arrive (the stacks count the
	// damaged ones) and the connections finish closing.
	n.RunFor(5 * time.Minute)

	r := p.result()
	r.Seconds = elapsed.Seconds()
	r.Goodput = float64(o.bytes) / max(elapsed.Seconds(), 1e-9)
	if d := end.Sub(p.halfAt); !p.halfAt.IsZero() {
		r.SecondHalfGoodput = float64(o.bytes-p.halfRead) / max(d.Seconds(), 1e-9)
	}
	r.WallSeconds = time.Since(wallStart).Seconds()
	r.Segments, r.Retransmits, r.Needless = sent.segments, sent.retransmits, arrived.needless
	r.Net = n.Stats()
	for _, h := range []*sim.Host{cli, srv} {
		st := h.Stack().Stats()
		r.Rejected += st.BadChecksum + st.Malformed + st.NotTCP + st.NotLocal + st.Fragments
	}
	return r, n.Err()
}

// pump moves the data with a single goroutine: it writes only what the
// send buffer has room for and reads only what has arrived, so neither
// call blocks, and when it can do neither it runs the simulation until it
// can.
type pump struct {
	o        transferOptions
	n        *sim.Network
	snd, rcv *stack.Conn
	src      *dataSource
	got      hash.Hash
	buf      []byte

	written, acked, received, read int64
	lastUna, lastRcv               uint32
	finQueued                      bool
	filling                        bool // writing until the send buffer is full
	sndInfo, rcvInfo               tcp.Info
	lastSample                     time.Time
	halfAt                         time.Time // when half the data had been read
	halfRead                       int64     // how much had been read then

	rtt     sampleStats
	cwnd    sampleStats
	hasCwnd bool
	sackOK  bool
}

func newPump(o transferOptions, n *sim.Network, snd, rcv *stack.Conn) *pump {
	si, ri := snd.Info(), rcv.Info()
	return &pump{
		o: o, n: n, snd: snd, rcv: rcv,
		src:     newDataSource(o.seed),
		got:     sha256.New(),
		buf:     make([]byte, 256<<10),
		lastUna: si.ISS + 1,
		lastRcv: ri.IRS + 1,
		sackOK:  si.SACKPermitted,
	}
}

// poll refreshes what the sender has had acknowledged and the receiver
// has received.
func (p *pump) poll() {
	p.sndInfo = p.snd.Info()
	p.rcvInfo = p.rcv.Info()
	if d := p.sndInfo.SndUna - p.lastUna; int32(d) > 0 {
		p.acked += int64(d)
		p.lastUna = p.sndInfo.SndUna
	}
	if d := p.rcvInfo.RcvNxt - p.lastRcv; int32(d) > 0 {
		p.received += int64(d)
		p.lastRcv = p.rcvInfo.RcvNxt
	}
}

// canWrite is how much may be written without blocking. Writing starts
// once a quarter of the buffer (or the rest of the data) fits and goes on
// until the buffer is full, as a blocking writer's would: the engine lets
// a send buffer that the application fills grow.
func (p *pump) canWrite() int64 {
	left := p.o.bytes - p.written
	if left <= 0 {
		return 0
	}
	size := int64(p.sndInfo.SendBufferSize)
	free := size - (p.written - min(p.acked, p.written))
	if !p.filling && free < min(size/4, left) || free <= 0 {
		p.filling = false
		return 0
	}
	p.filling = true
	return min(free, left, int64(len(p.buf)))
}

// canRead is how many bytes wait to be read (a FIN counts as one).
func (p *pump) canRead() int64 { return min(p.received, p.o.bytes) - p.read }

func (p *pump) run() error {
	start := p.n.Now()
	show := func() {
		if p.o.progress.due() {
			p.o.progress.update(progressState{Bytes: p.read, Total: p.o.bytes, Elapsed: p.n.Now().Sub(start),
				Retransmits: p.sndInfo.TotalRetransmits, State: p.sndInfo.State, Virtual: true})
		}
	}
	defer p.o.progress.done()
	cond := func() bool {
		p.poll()
		show()
		return p.canWrite() > 0 || p.canRead() > 0
	}
	for p.read < p.o.bytes {
		p.poll()
		p.sample()
		show()
		progress := false
		if k := p.canWrite(); k > 0 {
			b := p.buf[:k]
			p.src.fill(b)
			w, err := p.snd.Write(b)
			p.written += int64(w)
			if err != nil {
				return fmt.Errorf("write after %d bytes: %w", p.written, err)
			}
			progress = true
		} else if p.written == p.o.bytes && !p.finQueued {
			if err := p.snd.CloseWrite(); err != nil {
				return fmt.Errorf("close: %w", err)
			}
			p.finQueued = true
		}
		if k := p.canRead(); k > 0 {
			r, err := p.rcv.Read(p.buf[:min(k, int64(len(p.buf)))])
			p.got.Write(p.buf[:r])
			p.read += int64(r)
			if p.halfAt.IsZero() && p.read >= p.o.bytes/2 {
				p.halfAt, p.halfRead = p.n.Now(), p.read
			}
			if err != nil {
				return fmt.Errorf("read after %d bytes: %w", p.read, err)
			}
			progress = true
		}
		if progress {
			continue
		}
		if !p.n.RunUntil(cond, p.n.Now().Add(p.o.stall)) {
			if err := p.n.Err(); err != nil {
				return err
			}
			return fmt.Errorf("stalled: no progress for %v after %d of %d bytes arrived (sender state %v, receiver %v)",
				p.o.stall, p.read, p.o.bytes, p.sndInfo.State, p.rcvInfo.State)
		}
	}
	return nil
}

// sample records the sender's SRTT and cwnd at most once a millisecond of
// virtual time.
func (p *pump) sample() {
	now := p.n.Now()
	if now.Sub(p.lastSample) < time.Millisecond {
		return
	}
	p.lastSample = now
	if p.sndInfo.SRTT > 0 {
		p.rtt.add(float64(p.sndInfo.SRTT) / float64(time.Millisecond))
	}
	if v := p.sndInfo.Cwnd; v > 0 {
		p.cwnd.add(float64(v))
		p.hasCwnd = true
	}
}

func (p *pump) result() *transferResult {
	r := &transferResult{
		Bytes:          p.o.bytes,
		SentSHA256:     hexSum(p.src.hash),
		ReceivedSHA256: hexSum(p.got),
		CC:             p.o.cc,
		SACK:           p.o.sack,
		SACKAgree:      p.sackOK,
		RTTms:          p.rtt,
		BufferSize:     p.o.buffer,
	}
	r.Intact = p.read == p.o.bytes && r.SentSHA256 == r.ReceivedSHA256
	info := p.snd.Info()
	r.SendBufferEnd, r.ReceiveBufferEnd = info.SendBufferSize, p.rcv.Info().ReceiveBufferSize
	ec := countersOf(&info)
	r.EngineRetrans, r.EngineSpurious = &ec.retransmits, &ec.spurious
	if p.hasCwnd {
		c := p.cwnd
		r.Cwnd = &c
	}
	for _, s := range []*sampleStats{&r.RTTms} {
		s.Min, s.Avg, s.Max = round3(s.Min), round3(s.Avg), round3(s.Max)
	}
	return r
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
