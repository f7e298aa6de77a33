package wire

import (
	"encoding/hex"
	"strconv"
)

// String formats f as tcpdump does: "S", "S.", ".", "F.", "R", "P." …
//
// The letters come in tcpdump's order, F S R P, then "." for ACK, then
// U E W; no flag at all prints "none".
func (f Flags) String() string {
	if f == 0 {
		return "none"
	}
	const letters = "FSRP.UEW" // bit i of f is letters[i]
	var b [8]byte
	n := 0
	for i := range len(letters) {
		if f&(1<<i) != 0 {
			b[n] = letters[i]
			n++
		}
	}
	return string(b[:n])
}

// String formats o as tcpdump does: "mss 1460,sackOK,TS val 1 ecr 0,wscale 7".
//
// The options come in the order AppendTCPOptions writes them, without the
// NOPs (the value does not keep them): mss, sackOK, TS, wscale, then SACK
// as "sack 2 {1001:2001}{3001:4001}". No option prints "".
func (o TCPOptions) String() string {
	var b []byte
	sep := func() {
		if len(b) > 0 {
			b = append(b, ',')
		}
	}
	if o.HasMSS {
		b = append(b, "mss "...)
		b = strconv.AppendUint(b, uint64(o.MSS), 10)
	}
	if o.SACKPermitted {
		sep()
		b = append(b, "sackOK"...)
	}
	if o.HasTimestamps {
		sep()
		b = append(b, "TS val "...)
		b = strconv.AppendUint(b, uint64(o.TSVal), 10)
		b = append(b, " ecr "...)
		b = strconv.AppendUint(b, uint64(o.TSEcr), 10)
	}
	if o.HasWindowScale {
		sep()
		b = append(b, "wscale "...)
		b = strconv.AppendUint(b, uint64(o.WindowScale), 10)
	}
	if n := max(min(o.NumSACK, MaxSACKBlocks), 0); n > 0 {
		sep()
		b = append(b, "sack "...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, ' ')
		for _, blk := range o.SACK[:n] {
			b = append(b, '{')
			b = strconv.AppendUint(b, uint64(blk.Start), 10)
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(blk.End), 10)
			b = append(b, '}')
		}
	}
	if o.HasFastOpen {
		sep()
		if o.FastOpenExp {
			b = append(b, "FOEXP"...)
		} else {
			b = append(b, "FO"...)
		}
		if c := o.FastOpen(); len(c) > 0 {
			b = append(b, ' ')
			b = hex.AppendEncode(b, c)
		}
	}
	return string(b)
}
