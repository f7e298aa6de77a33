package wire

import "encoding/binary"

// MaxOptionsLen is the most option space a TCP header has (data offset 15).
const MaxOptionsLen = 40

// Encoded lengths of the options (RFC 9293 §3.2, RFC 7323, RFC 2018).
const (
	optLenMSS           = 4
	optLenWindowScale   = 3
	optLenSACKPermitted = 2
	optLenTimestamps    = 10
	optLenSACKBlock     = 8
)

// nextOption reads the option at the start of b, which must not be empty.
// It returns the option's kind, its data (after kind and length; nil for
// EOL and NOP) and its length on the wire. Options with a length field are
// checked: at least 2, within b, and the fixed length of the known kinds.
func nextOption(b []byte) (kind uint8, data []byte, n int, err error) {
	kind = b[0]
	if kind == OptEOL || kind == OptNOP {
		return kind, nil, 1, nil
	}
	if len(b) < 2 {
		return kind, nil, 0, errOptTruncated
	}
	n = int(b[1])
	if n < 2 {
		return kind, nil, 0, errOptLenShort
	}
	if n > len(b) {
		return kind, nil, 0, errOptPastEnd
	}
	switch kind {
	case OptMSS:
		if n != optLenMSS {
			return kind, nil, 0, errOptMSS
		}
	case OptWindowScale:
		if n != optLenWindowScale {
			return kind, nil, 0, errOptWindowScale
		}
	case OptSACKPermitted:
		if n != optLenSACKPermitted {
			return kind, nil, 0, errOptSACKPerm
		}
	case OptSACK:
		blocks := (n - 2) / optLenSACKBlock
		if (n-2)%optLenSACKBlock != 0 || blocks < 1 || blocks > MaxSACKBlocks {
			return kind, nil, 0, errOptSACK
		}
	case OptTimestamps:
		if n != optLenTimestamps {
			return kind, nil, 0, errOptTimestamps
		}
	}
	return kind, b[2:n:n], n, nil
}

// ParseTCPOptions validates and decodes a TCP options area.
//
// End of option list stops the walk (what follows is ignored); NOPs are
// skipped, as are options of unknown kinds, by their length. An option whose
// length is below 2, runs past the end, or is not the fixed length of its
// kind, or a SACK option not carrying 1 to 4 blocks, gives an error wrapping
// ErrMalformed and ErrBadOption; the options before it are returned with
// the error (a receiver that keeps the segment ignores the rest, as Linux
// does). When an option appears more than once the last one wins. A
// window scale above 14 is returned as sent: clamping it (RFC 7323 §2.3)
// is the engine's business.
func ParseTCPOptions(b []byte) (TCPOptions, error) {
	var o TCPOptions
	for len(b) > 0 {
		kind, data, n, err := nextOption(b)
		if err != nil {
			return o, err
		}
		if kind == OptEOL {
			break
		}
		b = b[n:]
		switch kind {
		case OptMSS:
			o.MSS, o.HasMSS = binary.BigEndian.Uint16(data), true
		case OptWindowScale:
			o.WindowScale, o.HasWindowScale = data[0], true
		case OptSACKPermitted:
			o.SACKPermitted = true
		case OptSACK:
			o.SACK = [MaxSACKBlocks]SACKBlock{}
			o.NumSACK = len(data) / optLenSACKBlock
			for i := range o.NumSACK {
				blk := data[i*optLenSACKBlock:]
				o.SACK[i] = SACKBlock{
					Start: binary.BigEndian.Uint32(blk),
					End:   binary.BigEndian.Uint32(blk[4:]),
				}
			}
		case OptTimestamps:
			o.TSVal = binary.BigEndian.Uint32(data)
			o.TSEcr = binary.BigEndian.Uint32(data[4:])
			o.HasTimestamps = true
		case OptFastOpen:
			o.setFastOpenParsed(data, false)
		case OptExperimental:
			if len(data) >= 2 && binary.BigEndian.Uint16(data) == FastOpenMagic {
				o.setFastOpenParsed(data[2:], true)
			}
		}
	}
	return o, nil
}

// setFastOpenParsed records a parsed Fast Open option: its length as sent
// (up to 38 bytes fit) and its first 16 bytes.
func (o *TCPOptions) setFastOpenParsed(cookie []byte, exp bool) {
	o.HasFastOpen, o.FastOpenExp = true, exp
	o.FastOpenCookie = [MaxFastOpenCookie]byte{}
	copy(o.FastOpenCookie[:], cookie)
	o.FastOpenLen = uint8(len(cookie))
}

// fastOpenLen is the encoded length of o's Fast Open option, padded to 4
// (0 when none).
func (o *TCPOptions) fastOpenLen() int {
	if !o.HasFastOpen {
		return 0
	}
	n := 2 + min(int(o.FastOpenLen), MaxFastOpenCookie)
	if o.FastOpenExp {
		n += 2
	}
	return (n + 3) &^ 3
}

// The encoding is built of chunks that are each a multiple of 4 bytes, in
// the order Linux writes them (tcp_options_write in net/ipv4/tcp_output.c):
//
//	mss                      MSS(4)                    when HasMSS
//	sackOK + timestamps      SACKOK(2) TS(10)          when both
//	timestamps               NOP NOP TS(10)            when only TS
//	sackOK                   NOP NOP SACKOK(2)         when only sackOK
//	window scale             NOP WS(3)                 when HasWindowScale
//	sack                     NOP NOP SACK(2+8n)        when NumSACK > 0
//	fast open                FO(2+n) [NOP NOP]         when HasFastOpen
//	                         or EXP(4+n) [NOP NOP]     with FastOpenExp
//
// so a SYN reads "mss,sackOK,TS,nop,wscale" and an ACK "nop,nop,TS,nop,
// nop,sack", and no padding is ever needed. SACK blocks that do not fit in
// the 40 bytes are dropped from the end.

// fixedLen is the encoded length of everything but the SACK chunk.
func (o *TCPOptions) fixedLen() int {
	n := 0
	if o.HasMSS {
		n += 4
	}
	if o.HasTimestamps {
		n += 12
	} else if o.SACKPermitted {
		n += 4
	}
	if o.HasWindowScale {
		n += 4
	}
	return n + o.fastOpenLen()
}

// SACKBlocksSent is how many of o's SACK blocks AppendTCPOptions writes:
// NumSACK (taken as 0 if negative), cut to what fits in the option space
// left by the other options.
func (o *TCPOptions) SACKBlocksSent() int {
	room := (MaxOptionsLen - o.fixedLen() - 4) / optLenSACKBlock
	return max(min(o.NumSACK, MaxSACKBlocks, room), 0)
}

// Len is the encoded length of o, padded to a multiple of 4.
func (o *TCPOptions) Len() int {
	n := o.fixedLen()
	if k := o.SACKBlocksSent(); k > 0 {
		n += 4 + k*optLenSACKBlock
	}
	return n
}

// AppendTCPOptions appends the encoding of o, padded to 4 bytes, in the
// order Linux uses (mss, sackOK, TS, nop, wscale on a SYN).
//
// It writes exactly o.Len() bytes, at most 40.
func AppendTCPOptions(dst []byte, o *TCPOptions) []byte {
	if o.HasMSS {
		dst = append(dst, OptMSS, optLenMSS, byte(o.MSS>>8), byte(o.MSS))
	}
	switch {
	case o.HasTimestamps:
		if o.SACKPermitted {
			dst = append(dst, OptSACKPermitted, optLenSACKPermitted)
		} else {
			dst = append(dst, OptNOP, OptNOP)
		}
		dst = append(dst, OptTimestamps, optLenTimestamps)
		dst = binary.BigEndian.AppendUint32(dst, o.TSVal)
		dst = binary.BigEndian.AppendUint32(dst, o.TSEcr)
	case o.SACKPermitted:
		dst = append(dst, OptNOP, OptNOP, OptSACKPermitted, optLenSACKPermitted)
	}
	if o.HasWindowScale {
		dst = append(dst, OptNOP, OptWindowScale, optLenWindowScale, o.WindowScale)
	}
	if k := o.SACKBlocksSent(); k > 0 {
		dst = append(dst, OptNOP, OptNOP, OptSACK, byte(2+k*optLenSACKBlock))
		for _, blk := range o.SACK[:k] {
			dst = binary.BigEndian.AppendUint32(dst, blk.Start)
			dst = binary.BigEndian.AppendUint32(dst, blk.End)
		}
	}
	if o.HasFastOpen {
		// As Linux writes it (tcp_options_write): the cookie last,
		// followed by two NOPs when its length leaves 2 bytes over.
		cookie := o.FastOpenCookie[:min(int(o.FastOpenLen), MaxFastOpenCookie)]
		start := len(dst)
		if o.FastOpenExp {
			dst = append(dst, OptExperimental, byte(4+len(cookie)), FastOpenMagic>>8, FastOpenMagic&0xff)
		} else {
			dst = append(dst, OptFastOpen, byte(2+len(cookie)))
		}
		dst = append(dst, cookie...)
		for (len(dst)-start)%4 != 0 {
			dst = append(dst, OptNOP)
		}
	}
	return dst
}
