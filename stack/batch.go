package stack

import (
	"net/netip"

	"github.com/synack/synack/link"
	"github.com/synack/synack/wire"
)

// Batched output: in real-time mode the TCP segments one DrainOutput
// produces for a link that implements link.BatchWriter (a TUN with
// offloads) are built back to back in one buffer and handed over in one
// call when the drain ends, so that the link can join them into a
// super-segment. Everything else is written a packet at a time, as before.

// maxBatchBytes bounds a batch's buffer: a drain that builds more writes
// what it has and starts again.
const maxBatchBytes = 256 << 10

// outBatch is a shard's batch being built.
type outBatch struct {
	l    link.BatchWriter // the link the packets go to; nil when empty
	buf  []byte           // the packets, back to back
	ends []int            // where each packet ends in buf
	pkts [][]byte         // handed to WritePackets
	// partial: the link completes TCP checksums (link.PartialWriter), so
	// the packets are built without them; sizes holds each packet's
	// segment size (0 but for a super-segment), for WritePacketsPartial.
	partial bool
	sizes   []int
	// The path MTU of the last destination, for the drain under way (a
	// drain is one connection's: one route, one destination).
	mtuRoute *route
	mtuDst   netip.Addr
	mtu      int
}

// drainBatched is c.tcb.DrainOutput(c.emit), with the segments for a
// batching link collected and written when it returns.
func (sh *shard) drainBatched(c *Conn) { sh.s.drv.drain(sh, c) }

// batchTCP builds the packet of TCP header h and payload into the batch
// if r's link takes batches and the packet fits its path MTU; it reports
// whether it did (if not, the caller sends it as usual).
//
// segSize > 0 makes the packet a super-segment of segments of segSize
// payload bytes (tcp.Segment.GSOSize), for a link that takes them
// (link.SuperSegmenter, link.PartialWriter); the path MTU does not apply.
func (sh *shard) batchTCP(r *route, ep wire.Endpoints, ecn uint8, h *wire.TCPHeader, payload []byte, segSize int) bool {
	bw, ok := r.l.(link.BatchWriter)
	if !ok {
		return false
	}
	pw, _ := bw.(link.PartialWriter)
	partial := pw != nil && pw.PartialChecksums()
	if segSize > 0 && !partial {
		sh.s.ctr.linkErrors.Add(1) // cannot happen: superMax said it may
		return true
	}
	b := &sh.batch
	if b.l != nil && (b.l != bw || b.partial != partial || len(b.buf) >= maxBatchBytes) {
		sh.flushBatch()
	}
	start := len(b.buf)
	if partial {
		b.buf = appendTCPPacketNoChecksum(b.buf, ep, sh.s.ttl, ecn, h, payload)
	} else {
		b.buf = wire.AppendTCPPacketECN(b.buf, ep, sh.s.ttl, ecn, h, payload)
	}
	sh.ipo.apply(b.buf[start:]) // IP_TOS, IP_TTL ... (sockopt.go)
	if b.mtuRoute != r || b.mtuDst != ep.Dst {
		b.mtuRoute, b.mtuDst, b.mtu = r, ep.Dst, sh.s.pathMTU(r, ep.Dst)
	}
	if segSize == 0 && len(b.buf)-start > b.mtu {
		b.buf = b.buf[:start] // to be fragmented: the usual path, after
		sh.flushBatch()       // what is already batched
		return false
	}
	b.l, b.partial = bw, partial
	b.ends = append(b.ends, len(b.buf))
	b.sizes = append(b.sizes, segSize)
	return true
}

// flushBatch writes the batch and empties it.
func (sh *shard) flushBatch() {
	b := &sh.batch
	if b.l == nil {
		return
	}
	start := 0
	for _, end := range b.ends {
		b.pkts = append(b.pkts, b.buf[start:end:end])
		start = end
	}
	var n int
	var err error
	if b.partial {
		n, err = b.l.(link.PartialWriter).WritePacketsPartial(b.pkts, b.sizes)
	} else {
		n, err = b.l.WritePackets(b.pkts)
	}
	sh.ctr.packetsOut.Add(uint64(n))
	if err != nil {
		sh.ctr.linkErrors.Add(uint64(len(b.pkts) - n))
	}
	clear(b.pkts)
	b.l, b.buf, b.ends, b.pkts, b.sizes = nil, b.buf[:0], b.ends[:0], b.pkts[:0], b.sizes[:0]
}

// superMax is how many payload bytes one TCP super-segment may carry on
// r's link (link.SuperSegmenter; a PipeGSO between two stacks), 0 when
// the link takes none.
func superMax(r *route) int {
	if r == nil {
		return 0
	}
	ss, ok := r.l.(link.SuperSegmenter)
	if !ok {
		return 0
	}
	// The two ways a super-segment leaves: handed to a stack that adopts
	// it, or written with WritePacketsPartial.
	if ho, ok := r.l.(link.Handoff); ok && ho.PeerAdopts() {
		return ss.MaxSuperSegment()
	}
	if pw, ok := r.l.(link.PartialWriter); ok && pw.PartialChecksums() {
		return ss.MaxSuperSegment()
	}
	return 0
}
