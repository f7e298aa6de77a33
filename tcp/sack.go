package tcp

import "github.com/synack/synack/wire"

// The receiver's side of SACK (RFC 2018 §4) and D-SACK (RFC 2883).

// noteSACK remembers that out-of-order data at seq just arrived: its
// block is reported first, then the blocks reported most recently.
func (t *TCB) noteSACK(seq uint32) {
	n := min(int(t.sackRecentN), len(t.sackRecent)-1)
	copy(t.sackRecent[1:n+1], t.sackRecent[:n])
	t.sackRecent[0] = seq
	t.sackRecentN = uint8(n + 1)
}

// noteDuplicate records duplicate data [start, end) for a D-SACK on the
// next ACK (RFC 2883 §4: "the first SACK block ... specifies the
// contiguous sequence space ... of the duplicate segment"). A segment may
// duplicate several ranges: data below RCV.NXT (noted first, by trim) and
// data held out of order. The one D-SACK block reports the first range,
// extended by a later one that touches it, as Linux (tcp_dsack_set, then
// tcp_dsack_extend) and FreeBSD report it; the D-SACK is cleared when the
// ACK carrying it is sent, which every duplicate calls for at once.
func (t *TCB) noteDuplicate(start, end uint32) {
	if !t.sackOK || !seqLT(start, end) {
		return
	}
	if d := t.dsack; d.start != d.end {
		if seqLE(start, d.end) && seqLE(d.start, end) {
			if seqLT(start, d.start) {
				d.start = start
			}
			if seqGT(end, d.end) {
				d.end = end
			}
			t.dsack = d
		}
		return
	}
	t.dsack = seqRange{start, end}
}

// sackOptions fills the SACK blocks of an outgoing ACK carrying n bytes of
// data: a pending D-SACK first, then the block holding the most recently
// received segment, then the other recently reported ones, then the rest
// (RFC 2018 §4). A data segment carries only as many blocks as leave its
// payload plus options within the MSS.
func (t *TCB) sackOptions(o *wire.TCPOptions, n int) {
	limit := wire.MaxSACKBlocks
	if n > 0 {
		limit = min(limit, (t.sndMSS-n-4)/8)
	}
	if limit <= 0 {
		return
	}
	cnt, from := 0, 0
	if t.dsack.start != t.dsack.end {
		o.SACK[0] = wire.SACKBlock{Start: t.dsack.start, End: t.dsack.end}
		cnt, from = 1, 1
		t.dsack = seqRange{}
	}
	for i := 0; i < int(t.sackRecentN) && cnt < limit; i++ {
		if r, ok := t.ooo.find(t.sackRecent[i]); ok {
			cnt = addBlock(o, from, cnt, r)
		}
	}
	for i := 0; i < len(t.ooo.r) && cnt < limit; i++ {
		cnt = addBlock(o, from, cnt, t.ooo.r[i])
	}
	o.NumSACK = cnt
}

// addBlock appends r to o's blocks unless it is among o.SACK[from:cnt]
// (a D-SACK block before from may repeat it, RFC 2883 §4.2).
func addBlock(o *wire.TCPOptions, from, cnt int, r seqRange) int {
	for i := from; i < cnt; i++ {
		if o.SACK[i].Start == r.start && o.SACK[i].End == r.end {
			return cnt
		}
	}
	o.SACK[cnt] = wire.SACKBlock{Start: r.start, End: r.end}
	return cnt + 1
}

// sackGen is what the receiver reports in its SACK options.
type sackGen struct {
	dsack       seqRange // a duplicate to report once (RFC 2883); empty when start == end
	sackRecent  [wire.MaxSACKBlocks]uint32
	sackRecentN uint8
}
