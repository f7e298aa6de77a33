package wire

import (
	"errors"
	"net/netip"
)

// ErrMalformed is wrapped by every error that reports a malformed packet.
var ErrMalformed = errors.New("malformed packet")

// Flags are the TCP header control bits.
type Flags uint8

// The TCP control bits (RFC 9293 §3.1, RFC 3168 for ECE and CWR).
const (
	FlagFIN Flags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Option kinds (IANA "TCP Option Kind Numbers").
const (
	OptEOL           = 0
	OptNOP           = 1
	OptMSS           = 2
	OptWindowScale   = 3
	OptSACKPermitted = 4
	OptSACK          = 5
	OptTimestamps    = 8
	OptFastOpen      = 34  // TCP Fast Open cookie (RFC 7413)
	OptExperimental  = 254 // shared experimental kind (RFC 6994)
)

// FastOpenMagic is the experiment identifier (RFC 6994) of the Fast Open
// cookie sent with kind 254 before kind 34 was assigned, as Linux still
// accepts and can send it.
const FastOpenMagic = 0xF989

// MaxFastOpenCookie is the longest Fast Open cookie (RFC 7413 §4.1.1).
const MaxFastOpenCookie = 16

// MaxSACKBlocks is the most SACK blocks one option can carry (40 bytes of
// option space: 2 + 4*8 = 34).
const MaxSACKBlocks = 4

// SACKBlock is one block of a SACK option (RFC 2018): the bytes
// [Start, End) have been received.
type SACKBlock struct {
	Start, End uint32
}

// TCPOptions is the validated value of a TCP header's options. Fields that
// were absent have their Has* flag false (SACKPermitted is its own flag).
type TCPOptions struct {
	MSS            uint16 // valid when HasMSS
	HasMSS         bool
	WindowScale    uint8 // shift count, valid when HasWindowScale
	HasWindowScale bool
	SACKPermitted  bool
	TSVal, TSEcr   uint32 // valid when HasTimestamps
	HasTimestamps  bool
	NumSACK        int // number of valid entries in SACK
	SACK           [MaxSACKBlocks]SACKBlock

	// TCP Fast Open (RFC 7413 §4.1.1): kind 34, or kind 254 with the
	// magic 0xF989 when FastOpenExp. FastOpenLen is the cookie's length
	// as sent (0: a cookie request; RFC 7413 allows 4 to 16, even);
	// FastOpenCookie holds its first 16 bytes. A longer cookie is kept
	// with its length and cut when encoded.
	HasFastOpen    bool
	FastOpenExp    bool
	FastOpenLen    uint8
	FastOpenCookie [MaxFastOpenCookie]byte
}

// FastOpen returns the Fast Open cookie o carries (nil when none, empty for
// a cookie request), at most 16 bytes.
func (o *TCPOptions) FastOpen() []byte {
	if !o.HasFastOpen {
		return nil
	}
	return o.FastOpenCookie[:min(int(o.FastOpenLen), MaxFastOpenCookie)]
}

// SetFastOpen makes o carry the Fast Open cookie (cookie request when
// empty; at most 16 bytes are kept), with kind 254 when exp.
func (o *TCPOptions) SetFastOpen(cookie []byte, exp bool) {
	o.HasFastOpen, o.FastOpenExp = true, exp
	o.FastOpenCookie = [MaxFastOpenCookie]byte{}
	o.FastOpenLen = uint8(copy(o.FastOpenCookie[:], cookie))
}

// TCPHeader is the validated value of a TCP header (RFC 9293 §3.1).
// The data offset is not stored: AppendTCP derives it from the options.
type TCPHeader struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            Flags
	Window           uint16
	Checksum         uint16 // as parsed; AppendTCP computes its own
	Urgent           uint16
	Options          TCPOptions
}

// Endpoints names the addresses a TCP checksum covers (the pseudo-header).
type Endpoints struct {
	Src, Dst netip.Addr
}
