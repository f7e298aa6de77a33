package stack

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack/synack/clock"
	"github.com/synack/synack/wire"
)

// driver is what runs a stack's shards: a goroutine per shard on the real
// clock (realTime), or the caller's goroutine under an Options.Runner with
// a virtual clock (simulated). New chooses one; the rest of the stack asks
// the driver to do things and never which mode it is in.
type driver interface {
	// shards is how many shards to run when Options.Loops asks for want.
	shards(want int) int
	// start sets sh going (its queue and loop, if it has any).
	start(sh *shard, qlen int)
	// stop ends what start began (Stack.Close, after stopped is set).
	stop()
	// deliver processes or queues p, parsed and bound to its shard;
	// adopted says the caller holds no lock of this stack and p may be
	// processed in its goroutine (Stack.AdoptPacket).
	deliver(p *inPacket, adopted bool)
	// wake tells sh's loop that a deadline at moved before the one armed
	// (sh.mu held).
	wake(sh *shard, at time.Time)

	// waiter returns the channel a blocked Read or Write waits on, nil if
	// waiting goes through block's ready alone (sh.mu held).
	waiter(w *waiters) chan struct{}
	// waitChan returns *ch, made if need be, or nil as waiter does.
	waitChan(ch *chan struct{}) chan struct{}
	// block waits once for something to change: ch closed, deadline
	// (after now, if not zero) passed, ctx done or ready() true; ready
	// takes the locks it needs. It returns an error only when waiting
	// can never succeed.
	block(ch chan struct{}, deadline, now time.Time, ctx context.Context, ready func() bool) error
	// blockConn is block for a Conn's Read or Write: w says when it is
	// ready, so that a driver that waits on ch alone needs no closure.
	// It may busy-poll ch before it parks (busy polling, driver.go), and
	// returns the connection's new wait estimate (waiters.est), given its
	// estimate w.est.
	blockConn(ch chan struct{}, deadline, now time.Time, w connWait) (est uint16, err error)
	// ctxDeadline returns dl, or ctx's deadline if it is earlier and on
	// the stack's clock.
	ctxDeadline(ctx context.Context, dl time.Time) time.Time

	// flush releases sh.mu and writes the packets built under it; loop
	// says the caller is sh's loop.
	flush(sh *shard, loop bool)
	// emit builds the TCP packet and queues it for flush (sh.mu held);
	// super says the payload is a super-segment (Segment.GSOSize).
	emit(sh *shard, r *route, ep wire.Endpoints, ecn uint8, h *wire.TCPHeader, payload []byte, super bool)
	// pendingQueue is what transmit gets for a packet built in sh.buf:
	// where it waits for flush, or nil to write it at once.
	pendingQueue(sh *shard) *[]outPacket
	// drain runs c's engine output through emit.
	drain(sh *shard, c *Conn)
	// armFragments makes sure reassembly expires fragments at or before
	// at (frags.mu held).
	armFragments(at, now time.Time)
}

// connWait is what a blocked Read (write false) or Write waits for: the
// connection closed, readable (writable), or its deadline changed from dl.
type connWait struct {
	c     *Conn
	write bool
	est   uint16 // the connection's wait estimate (waiters.est; busy polling)
	dl    int64  // c.rdl or c.wdl when the call started waiting
	// timed: the shard's timers wake the wait at its deadline
	// (shard.expireWaits), so a parked goroutine needs no timer of its
	// own (real-time mode).
	timed bool
}

// ready reports (taking sh.mu) whether the wait is over.
func (w connWait) ready() bool {
	c := w.c
	c.sh.mu.Lock()
	defer c.sh.mu.Unlock()
	if w.write {
		return c.closed || c.tcb.Writable() || c.wdl != w.dl
	}
	return c.closed || c.tcb.Readable() || c.rdl != w.dl
}

// realTime runs a goroutine per shard; user calls block on channels.
type realTime struct {
	s        *Stack
	done     chan struct{} // closed by stop
	loops    sync.WaitGroup
	busyPoll time.Duration // the poll cap (pollCap of Options.BusyPoll); 0: never
	maxPoll  int32         // Reads polling at once, at most (maxPollers)
	ctr      pollCounters
}

func (d *realTime) shards(want int) int { return want }

func (d *realTime) start(sh *shard, qlen int) {
	sh.in = make(chan *inPacket, qlen)
	sh.kick = make(chan struct{}, 1)
	d.loops.Add(1)
	go sh.loop(d.done, &d.loops)
}

func (d *realTime) stop() {
	close(d.done)
	d.loops.Wait()
	for _, sh := range d.s.shards {
		for {
			select {
			case p := <-sh.in:
				putPacket(p)
				continue
			default:
			}
			break
		}
	}
}

func (d *realTime) deliver(p *inPacket, adopted bool) {
	s := d.s
	sh := p.sh
	if adopted && sh.queued.Load() == 0 && sh.mu.TryLock() {
		if sh.queued.Load() == 0 && !s.stopped.Load() {
			now := s.clock.Now()
			sh.input(p, now)
			putPacket(p)
			sh.kickIfEarlier()
			sh.unlock()
			return
		}
		sh.mu.Unlock()
	}
	s.enqueue(p)
}

func (d *realTime) wake(sh *shard, at time.Time) {
	if !sh.armed.IsZero() && !at.Before(sh.armed) {
		return
	}
	if sh.timer != nil {
		// Under mu, as every caller is: the loop's timer is armed here,
		// not by waking the loop to arm it (a wake-up that costs the
		// waker a futex call and, on another CPU, splits a
		// request/response exchange that takes turns on one; see
		// postponeTimer).
		sh.armed, sh.timerAt, sh.timerLook = at, at, at.Add(-postponeWindow)
		sh.timer.Reset(max(at.Sub(d.s.clock.Now()), 0))
		return
	}
	sh.armed = at
	select {
	case sh.kick <- struct{}{}:
	default:
	}
}

func (d *realTime) waiter(w *waiters) chan struct{} { return w.add() }

func (d *realTime) waitChan(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
	}
	return *ch
}

func (d *realTime) block(ch chan struct{}, deadline, now time.Time, ctx context.Context, _ func() bool) error {
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	if deadline.IsZero() {
		select {
		case <-ch:
		case <-done:
		}
		return nil
	}
	if now.IsZero() {
		now = d.s.clock.Now()
	}
	t := getTimer(deadline.Sub(now))
	select {
	case <-ch:
	case <-t.C:
	case <-done:
	}
	putTimer(t)
	return nil
}

func (d *realTime) blockConn(ch chan struct{}, deadline, now time.Time, w connWait) (uint16, error) {
	park := deadline // what a parked wait arms a timer for
	if w.timed {
		park = time.Time{}
	}
	if d.busyPoll <= 0 || w.write {
		return 0, d.block(ch, park, now, nil, nil)
	}
	start := now // read just before the Read unlocked, with nothing to write
	if start.IsZero() {
		start = d.s.clock.Now()
	}
	if bound := d.pollBound(w.est); bound > 0 {
		if d.ctr.pollers.Add(1) <= d.maxPoll {
			d.ctr.polls.Add(1)
			got, yielded, at := d.poll(ch, start, bound, deadline)
			d.ctr.pollers.Add(-1)
			if got {
				d.ctr.pollHits.Add(1)
				switch {
				case !yielded:
					return 0, nil // the answer came from another CPU: park next time
				case at.IsZero():
					// At the first look, after the first yield: the peer's
					// turn, however long, ran while this Read yielded.
					return max(w.est, estMin), nil
				}
				return d.estimate(w.est, at.Sub(start)), nil
			}
			// Nothing came: the peer is not taking turns on this P. Park,
			// and do not poll next time.
			return 0, d.block(ch, park, time.Time{}, nil, nil)
		}
		d.ctr.pollers.Add(-1)
		d.ctr.pollsCapped.Add(1)
	}
	err := d.block(ch, park, now, nil, nil)
	if time.Since(start) > d.parkShort() {
		return 0, err
	}
	return max(w.est, estMin), err // a turn on one P: poll next time
}

// Busy polling (issue 11). A blocked Read on a busy connection, one
// whose peer takes its turns on the same P, polls its wake-up for a
// while, yielding
// its P in turn, before its goroutine parks: the Read's data then needs
// no goroutine wake-up, which with an idle P makes the scheduler wake an
// OS thread, a futex call on the waker's path and, on a virtual machine,
// the wake-up of an idle vCPU, now and then tens of µs.
//
// How long it polls follows the connection's own recent waits: est
// (waiters.est), in units of estUnit, is a running mean (each new wait
// weighs a half) of the waits that a poll ended right after a later
// yield than the first (at the first look, after the first yield, the
// peer's turn ran while the Read yielded, however long: est stays), 0
// standing for an idle connection; a Read polls for pollMul times
// est, at least pollMin and at most the cap (Options.BusyPoll, default
// defaultBusyPoll). A Read on an idle connection parks at once, so idle
// connections cost no CPU. A connection becomes idle when a poll finds
// nothing (its peer is not taking turns on this P: parking lets the
// scheduler hand the two goroutines over on one P again) or a wait is
// longer than the cap, and busy again when a parked Read is woken
// within shortPark (or a quarter of the cap, if longer), as a hand-over
// on one P is. At most
// maxPollers Reads of a stack poll at once; the others park, so that a
// server with many busy connections does not spend its CPUs polling.
//
// A wake-up that came while poll spun, not at once after it yielded, was
// sent by a goroutine running on another CPU: the two ends of the
// exchange then work on two CPUs and move the connections' state between
// them, which on the machines measured (BENCHMARKS.md, "Busy polling")
// is slower than taking turns on one; the connection is then counted
// idle, so that the next Read parks and the scheduler puts the two back
// on one P.
const (
	defaultBusyPoll = 10 * time.Microsecond
	maxBusyPoll     = time.Millisecond // the cap's cap: est's range
	pollMin         = 5 * time.Microsecond
	pollMul         = 2
	estUnit         = 16 * time.Nanosecond
	pollYield       = 2 * time.Microsecond                // how often poll lets the other goroutines of its P run
	estMin          = uint16(pollMin / pollMul / estUnit) // a short wait's estimate after an idle spell
	// A parked Read whose wake-up came within shortPark, or a quarter of
	// the cap if that is longer, had its peer take its turn on the same
	// P (the goroutine handed over without a thread wake-up): such a
	// wait makes the connection busy.
	shortPark = 5 * time.Microsecond
)

// pollCap is the cap on a poll for Options.BusyPoll o: 0 (never) for a
// negative o, the default for 0.
func pollCap(o time.Duration) time.Duration {
	switch {
	case o < 0:
		return 0
	case o == 0:
		return defaultBusyPoll
	}
	return min(o, maxBusyPoll)
}

// parkShort is how soon a parked Read's wake-up must come to make the
// connection busy: shortPark, or a quarter of the cap if that is longer.
func (d *realTime) parkShort() time.Duration { return max(d.busyPoll/4, shortPark) }

// maxPollers is how many Reads of a stack may poll at once with procs
// Ps: half of them, at least one.
func maxPollers(procs int) int32 { return int32(max(procs/2, 1)) }

// pollBound is how long a Read polls on a connection with wait estimate
// est: 0 if it is idle.
func (d *realTime) pollBound(est uint16) time.Duration {
	if est == 0 {
		return 0
	}
	return min(max(pollMul*time.Duration(est)*estUnit, pollMin), d.busyPoll)
}

// estimate is the wait estimate after a poll of a connection whose
// estimate was est got its data, right after yielding, took after the
// Read began to wait: 0 (idle) if took is past the cap, else the mean of
// est and took.
func (d *realTime) estimate(est uint16, took time.Duration) uint16 {
	if took > d.busyPoll {
		return 0
	}
	t := uint32(took / estUnit)
	return uint16(max((uint32(est)+t+1)/2, 1))
}

// pollCounters count busy polling (Stats.BusyPolls, BusyPollHits,
// BusyPollsCapped) on a cache line of their own.
type pollCounters struct {
	_                            [64]byte
	polls, pollHits, pollsCapped atomic.Uint64
	iters                        atomic.Uint64 // times poll looked at its channel (tests)
	pollers                      atomic.Int32  // Reads polling now
	_                            [64 - 36]byte
}

// busyPollStats fills in the busy-polling counters of st.
func (s *Stack) busyPollStats(st *Stats) {
	if d, ok := s.drv.(*realTime); ok {
		st.BusyPolls, st.BusyPollHits = d.ctr.polls.Load(), d.ctr.pollHits.Load()
		st.BusyPollsCapped = d.ctr.pollsCapped.Load()
	}
}

// poll busy-polls ch (a Conn's wake-up: it gets a token or is closed)
// for up to bound from start, and no later than deadline (if not zero),
// and reports whether the wake-up came (got), whether it came at the
// first look after poll yielded its P (yielded), and when poll last read
// the clock before it came (at; zero if it came at the first look, which
// needs no clock). It yields first, so that
// a goroutine the caller just woke (the peer of a request/response
// exchange, queued on this P) runs at once, and every pollYield after,
// so that the peer gets its turn.
func (d *realTime) poll(ch chan struct{}, start time.Time, bound time.Duration, deadline time.Time) (got, yielded bool, at time.Time) {
	runtime.Gosched()
	yielded = true
	last := start
	end := start.Add(bound)
	if !deadline.IsZero() && deadline.Before(end) {
		end = deadline
	}
	for i := 1; ; i++ {
		select {
		case <-ch:
			d.ctr.iters.Add(uint64(i))
			return true, yielded, at
		default:
		}
		yielded = false
		if i%8 != 0 {
			continue
		}
		t := clock.Real{}.Now()
		at = t
		if t.After(end) {
			d.ctr.iters.Add(uint64(i))
			return false, false, t
		}
		if t.Sub(last) >= pollYield {
			runtime.Gosched()
			yielded = true
			last = t
		}
	}
}

func (d *realTime) ctxDeadline(ctx context.Context, dl time.Time) time.Time {
	if cd, ok := ctx.Deadline(); ok && cd.Before(dl) {
		return cd
	}
	return dl
}

func (d *realTime) flush(sh *shard, loop bool) { sh.flushOwn(loop) }

func (d *realTime) emit(sh *shard, r *route, ep wire.Endpoints, ecn uint8, h *wire.TCPHeader, payload []byte, super bool) {
	sh.emitOwn(r, ep, ecn, h, payload, super)
}

func (d *realTime) pendingQueue(*shard) *[]outPacket { return nil }

func (d *realTime) drain(sh *shard, c *Conn) {
	sh.batching = true
	c.tcb.DrainOutputSuper(superMax(c.route), c.emit)
	sh.batching = false
	sh.flushBatch()
	sh.batch.mtuRoute = nil
}

func (d *realTime) armFragments(at, now time.Time) { d.s.armFragTimer(at, now) }

// simulated runs no goroutine: packets are processed as they are
// delivered, timers when the Runner calls Tick, and a blocking call runs
// the world through the Runner in the caller's goroutine.
type simulated struct {
	s      *Stack
	runner Runner

	// Packets delivered while another delivery is being processed wait
	// here, so that a link that delivers synchronously does not make
	// deliver recurse without bound.
	mq       sync.Mutex
	mqueue   []*inPacket
	draining bool
}

// shards is one whatever is asked, so that runs replay exactly.
func (d *simulated) shards(int) int { return 1 }

func (d *simulated) start(*shard, int) {}
func (d *simulated) stop()             {}

// deliver processes p now, unless a delivery is already being processed
// (a link delivering synchronously from inside it): then p waits in the
// queue and that delivery processes it before it returns.
func (d *simulated) deliver(p *inPacket, _ bool) {
	s := d.s
	d.mq.Lock()
	d.mqueue = append(d.mqueue, p)
	if d.draining {
		d.mq.Unlock()
		return
	}
	d.draining = true
	for len(d.mqueue) > 0 {
		p := d.mqueue[0]
		d.mqueue[0] = nil
		d.mqueue = d.mqueue[1:]
		d.mq.Unlock()
		if !s.stopped.Load() {
			sh := p.sh
			sh.mu.Lock()
			sh.input(p, s.clock.Now())
			sh.unlock()
		}
		putPacket(p)
		d.mq.Lock()
	}
	d.mqueue = d.mqueue[:0]
	d.draining = false
	d.mq.Unlock()
}

// wake does nothing: the Runner asks NextDeadline.
func (d *simulated) wake(*shard, time.Time) {}

func (d *simulated) waiter(*waiters) chan struct{}         { return nil }
func (d *simulated) waitChan(*chan struct{}) chan struct{} { return nil }

func (d *simulated) block(_ chan struct{}, deadline, _ time.Time, ctx context.Context, ready func() bool) error {
	cond := func() bool {
		if ctx != nil && ctx.Err() != nil {
			return true
		}
		return ready()
	}
	if d.runner.RunUntil(cond, deadline) || cond() {
		return nil
	}
	if !deadline.IsZero() && !d.s.clock.Now().Before(deadline) {
		return nil
	}
	return ErrNoProgress
}

func (d *simulated) blockConn(ch chan struct{}, deadline, now time.Time, w connWait) (uint16, error) {
	return 0, d.block(ch, deadline, now, nil, w.ready)
}

// ctxDeadline ignores ctx's deadline, which is on the wall clock, not the
// virtual one.
func (d *simulated) ctxDeadline(_ context.Context, dl time.Time) time.Time { return dl }

func (d *simulated) flush(sh *shard, _ bool) {
	out := sh.pending
	sh.pending = nil
	sh.mu.Unlock()
	for _, p := range out {
		sh.write(p.l, p.pkt)
	}
}

func (d *simulated) emit(sh *shard, r *route, ep wire.Endpoints, ecn uint8, h *wire.TCPHeader, payload []byte, _ bool) {
	sh.buf = wire.AppendTCPPacketECN(sh.buf[:0], ep, d.s.ttl, ecn, h, payload)
	sh.ipo.apply(sh.buf) // IP_TOS, IP_TTL ... (sockopt.go)
	d.s.transmit(r, ep.Dst, sh.buf, &sh.pending)
}

func (d *simulated) pendingQueue(sh *shard) *[]outPacket { return &sh.pending }

func (d *simulated) drain(_ *shard, c *Conn) { c.tcb.DrainOutput(c.emit) }

// armFragments does nothing: Tick expires fragments.
func (d *simulated) armFragments(time.Time, time.Time) {}
