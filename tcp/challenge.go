package tcp

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the hardening settings of Config and Shared.
const (
	// DefaultMinMSS is the smallest MSS we send with, whatever the peer
	// announces (Linux's tcp_min_snd_mss): a peer announcing MSS 1 would
	// otherwise make us send one byte per segment (CVE-2019-11479).
	DefaultMinMSS = 48
	// DefaultChallengeACKInterval is the shortest time between two
	// challenge ACKs of one connection (Linux's tcp_invalid_ratelimit).
	DefaultChallengeACKInterval = 500 * time.Millisecond
	// DefaultChallengeACKLimit is the stack-wide budget of challenge ACKs
	// per second, on average (Linux 4.7-5.x's tcp_challenge_ack_limit).
	DefaultChallengeACKLimit = 1000
)

// Shared is what the connections of one stack share: a stack-wide budget
// of challenge ACKs and counters of what the engines did. One Shared is
// used by many TCBs at once (Config.Shared); its methods are safe for
// concurrent use. A nil *Shared means no stack-wide limit and no counts.
type Shared struct {
	// Counters, updated by the engines.
	ChallengeACKs           atomic.Uint64 // challenge ACKs sent (RFC 5961 §3.2, §4.2, §5.2)
	ChallengeACKsSuppressed atomic.Uint64 // challenge ACKs not sent because of a limit (RFC 5961 §7)
	MSSClamps               atomic.Uint64 // peers' MSS raised to Config.MinMSS

	limit  int    // challenge ACKs per second, on average; <= 0: none
	k0, k1 uint64 // SipHash key drawing each second's budget

	mu     sync.Mutex
	second int64 // the second the budget is for
	left   int   // challenge ACKs left in it
}

// NewShared returns a Shared whose stack-wide challenge-ACK budget is
// limit per second on average (0: DefaultChallengeACKLimit; negative: no
// limit). Each second's budget is drawn anew between limit/2 and
// 3·limit/2 with a hash keyed by secret, so that an off-path attacker who
// counts the challenge ACKs of its own connection cannot tell how many
// the stack sent to others: the global counter of RFC 5961 §7 is the side
// channel of CVE-2016-5696, which Linux closed the same way before making
// its per-connection limit the main one.
func NewShared(secret []byte, limit int) *Shared {
	if limit == 0 {
		limit = DefaultChallengeACKLimit
	}
	h := sha256.New()
	h.Write([]byte("synack challenge ACK budget\x00"))
	h.Write(secret)
	var sum [sha256.Size]byte
	b := h.Sum(sum[:0])
	return &Shared{
		limit: limit,
		k0:    binary.LittleEndian.Uint64(b[0:8]),
		k1:    binary.LittleEndian.Uint64(b[8:16]),
	}
}

// allowChallenge takes one challenge ACK from the budget of now's second.
func (s *Shared) allowChallenge(now time.Time) bool {
	if s == nil || s.limit <= 0 {
		return true
	}
	sec := now.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec != s.second {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(sec))
		s.second = sec
		s.left = s.limit/2 + int(sipHash24(s.k0, s.k1, b[:])%uint64(s.limit))
	}
	if s.left <= 0 {
		return false
	}
	s.left--
	return true
}

// challengeACK sends a challenge ACK (RFC 5961 §3.2, §4.2, §5.2) unless
// one went less than Config.ChallengeACKInterval ago on this connection
// or the stack-wide budget (Config.Shared) is spent (RFC 5961 §7).
func (t *TCB) challengeACK(now time.Time) {
	sh := t.cfg.Shared
	if iv := t.cfg.ChallengeACKInterval; iv > 0 && t.challengeAt != 0 && time.Duration(monoNano(now)-t.challengeAt) < iv {
		sh.count(countSuppressed)
		return
	}
	if !sh.allowChallenge(now) {
		sh.count(countSuppressed)
		return
	}
	t.challengeAt = monoNano(now)
	t.ackNow = true
	sh.count(countChallenge)
}

// What Shared.count counts.
const (
	countChallenge = iota
	countSuppressed
	countMSSClamp
)

// count adds one to counter what of s, if s is not nil.
func (s *Shared) count(what int) {
	if s == nil {
		return
	}
	switch what {
	case countChallenge:
		s.ChallengeACKs.Add(1)
	case countSuppressed:
		s.ChallengeACKsSuppressed.Add(1)
	case countMSSClamp:
		s.MSSClamps.Add(1)
	}
}
