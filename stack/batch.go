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
func (sh *shard) batchTCP(r *route, ep wire.Endpoints, ecn uint8, h *wire.TCPHeader, payload []byte) bool {
	bw, ok := r.l.(link.BatchWriter)
	if !ok {
		return false
	}
	b := &sh.batch
	if b.l != nil && (b.l != bw || len(b.buf) >= maxBatchBytes) {
		sh.flushBatch()
	}
	start := len(b.buf)
	b.buf = wire.AppendTCPPacketECN(b.buf, ep, sh.s.ttl, ecn, h, payload)
	sh.ipo.apply(b.buf[start:]) // IP_TOS, IP_TTL ... (sockopt.go)
	if b.mtuRoute != r || b.mtuDst != ep.Dst {
		b.mtuRoute, b.mtuDst, b.mtu = r, ep.Dst, sh.s.pathMTU(r, ep.Dst)
	}
	if len(b.buf)-start > b.mtu {
		b.buf = b.buf[:start] // to be fragmented: the usual path, after
		sh.flushBatch()       // what is already batched
		return false
	}
	b.l = bw
	b.ends = append(b.ends, len(b.buf))
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
	n, err := b.l.WritePackets(b.pkts)
	sh.ctr.packetsOut.Add(uint64(n))
	if err != nil {
		sh.ctr.linkErrors.Add(uint64(len(b.pkts) - n))
	}
	clear(b.pkts)
	b.l, b.buf, b.ends, b.pkts = nil, b.buf[:0], b.ends[:0], b.pkts[:0]
}
