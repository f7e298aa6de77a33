package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/link/impair"
	"github.com/synack/synack/stack"
	"github.com/synack/synack/wire"
)

// realTransfer runs a transfer between two real-time stacks joined by a
// link.Pipe whose two ends are impaired on the wall clock.
func realTransfer(o transferOptions) (*transferResult, error) {
	wallStart := time.Now()
	cfg := transferConfig(o)
	mtu := o.mtu
	if mtu <= 0 {
		mtu = 1500
	}
	a, b := link.Pipe(mtu)
	var mu sync.Mutex // the sniffers run on the links' goroutines
	var sent sentCounter
	var arrived arrivalCounter
	a = link.Sniff(a, func(dir link.Direction, pkt []byte) {
		if dir == link.Outbound {
			mu.Lock()
			sent.packet(pkt)
			mu.Unlock()
		}
	})
	la := impair.Wrap(a, impair.New(o.path, uint64(o.seed)<<1), nil)
	lb := impair.Wrap(b, impair.New(o.path, uint64(o.seed)<<1|1), nil)
	co, so := stack.Options{TCP: cfg}, stack.Options{TCP: cfg}
	o.trace.hook("client", &co)
	o.trace.hook("server", &so)
	cli := stack.New(co)
	srv := stack.New(so)
	defer cli.Close()
	defer srv.Close()
	defer la.Close()
	defer lb.Close()
	if err := cli.AddLink(la, netip.PrefixFrom(transferClient, 32)); err != nil {
		return nil, err
	}
	// The server's inbound packets are watched after the impairment, and
	// only if intact (the stack rejects the others).
	sb := link.Sniff(lb, func(dir link.Direction, pkt []byte) {
		if dir == link.Inbound && packetIntact(pkt) {
			mu.Lock()
			arrived.packet(pkt)
			mu.Unlock()
		}
	})
	if err := srv.AddLink(sb, netip.PrefixFrom(transferServer, 32)); err != nil {
		return nil, err
	}
	ln, err := srv.Listen("tcp", fmt.Sprintf(":%d", transferPort))
	if err != nil {
		return nil, err
	}
	defer ln.Close()

	type readResult struct {
		n      int64
		sum    string
		rcvBuf int
		end    time.Time
		err    error
	}
	done := make(chan readResult, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- readResult{err: fmt.Errorf("accept: %w", err)}
			return
		}
		defer c.Close()
		h := sha256.New()
		k, err := io.Copy(h, c)
		rb := 0
		if sc, ok := c.(*stack.Conn); ok {
			rb = sc.Info().ReceiveBufferSize
		}
		done <- readResult{n: k, sum: hexSum(h), rcvBuf: rb, end: time.Now(), err: err}
	}()

	snd, err := cli.Dial("tcp", netip.AddrPortFrom(transferServer, transferPort).String())
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer snd.Close()
	src := newDataSource(o.seed)
	buf := make([]byte, 256<<10)
	start := time.Now()
	var rtt sampleStats
	var cwnd sampleStats
	for w := int64(0); w < o.bytes; {
		b := buf[:min(int64(len(buf)), o.bytes-w)]
		src.fill(b)
		k, err := snd.Write(b)
		w += int64(k)
		if err != nil {
			return nil, fmt.Errorf("write after %d bytes: %w", w, err)
		}
		info := snd.Info()
		if o.progress.due() {
			o.progress.update(progressState{Bytes: w, Total: o.bytes, Elapsed: time.Since(start), Retransmits: info.TotalRetransmits, State: info.State})
		}
		if info.SRTT > 0 {
			rtt.add(float64(info.SRTT) / float64(time.Millisecond))
		}
		if info.Cwnd > 0 {
			cwnd.add(float64(info.Cwnd))
		}
	}
	if err := snd.CloseWrite(); err != nil {
		return nil, fmt.Errorf("close: %w", err)
	}
	o.progress.done()
	var rr readResult
	select {
	case rr = <-done:
	case <-time.After(o.stall):
		return nil, fmt.Errorf("stalled: nothing for %v", o.stall)
	}
	if rr.err != nil && !errors.Is(rr.err, io.EOF) {
		return nil, fmt.Errorf("read after %d bytes: %w", rr.n, rr.err)
	}
	elapsed := rr.end.Sub(start)
	r := &transferResult{
		Bytes:          o.bytes,
		SentSHA256:     hexSum(src.hash),
		ReceivedSHA256: rr.sum,
		Seconds:        elapsed.Seconds(),
		Goodput:        float64(o.bytes) / max(elapsed.Seconds(), 1e-9),
		Realtime:       true,
		CC:             o.cc,
		SACK:           o.sack,
		RTTms:          rtt,
		BufferSize:     o.buffer,
	}
	info := snd.Info()
	r.SACKAgree = info.SACKPermitted
	r.SendBufferEnd, r.ReceiveBufferEnd = info.SendBufferSize, rr.rcvBuf
	ec := countersOf(&info)
	r.EngineRetrans, r.EngineSpurious = &ec.retransmits, &ec.spurious
	if cwnd.N > 0 {
		r.Cwnd = &cwnd
	}
	r.Intact = rr.n == o.bytes && r.SentSHA256 == r.ReceivedSHA256
	mu.Lock()
	r.Segments, r.Retransmits, r.Needless = sent.segments, sent.retransmits, arrived.needless
	mu.Unlock()
	for _, st := range []impair.Stats{la.Stats(), lb.Stats()} {
		r.Net.Sent += st.Packets
		r.Net.Delivered += st.Delivered + st.Duplicated
		r.Net.Lost += st.Lost + st.BurstLost
		r.Net.QueueFull += st.QueueFull
		r.Net.TooBig += st.TooBig
		r.Net.Duplicated += st.Duplicated
		r.Net.Corrupted += st.Corrupted
		r.Net.Reordered += st.Reordered
	}
	for _, s := range []*stack.Stack{cli, srv} {
		st := s.Stats()
		r.Rejected += st.BadChecksum + st.Malformed + st.NotTCP + st.NotLocal + st.Fragments
	}
	r.WallSeconds = time.Since(wallStart).Seconds()
	return r, nil
}

// intact reports whether pkt parses as a TCP packet with good checksums.
func packetIntact(pkt []byte) bool {
	_, _, _, err := wire.ParseTCPPacket(pkt)
	return err == nil
}
