package tcp

import (
	"bytes"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack/synack/wire"
)

// TCP Fast Open (RFC 7413): ladders of the client's and the server's side.

var foCookie = []byte{0x12, 0x34, 0xab, 0xcd, 0x56, 0x78, 0xdc, 0xba}

// withFO is opts with a Fast Open option carrying cookie (a request when
// empty).
func withFO(opts wire.TCPOptions, cookie []byte, exp bool) wire.TCPOptions {
	opts.SetFastOpen(cookie, exp)
	return opts
}

// activeFO starts a Fast Open client with ISS 100.
func activeFO(t *testing.T, fo FastOpenClient) *harness {
	h := newHarness(t)
	h.log("      OPEN (active, Fast Open), SYN-SENT, SYN deferred")
	h.attach(NewActiveFastOpen(plain, iss, fo, h.now))
	return h
}

// The SYN waits for the first write, and carries its data and the cookie;
// a SYN-ACK acknowledging the data completes the exchange in one round
// trip.
func TestFastOpen_Client_DataOnSYN(t *testing.T) {
	h := activeFO(t, FastOpenClient{Cookie: foCookie})
	h.state(StateSynSent)
	h.none()
	h.deadline(0)
	h.check(h.tcb.FastOpenPending() && h.tcb.FastOpenRoom() == 1460-40, "pending %v room %d",
		h.tcb.FastOpenPending(), h.tcb.FastOpenRoom())
	h.write("GET / HTTP/1.0\r\n\r\n")
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: withFO(mss(1460), foCookie, false), data: "GET / HTTP/1.0\r\n\r\n"})
	h.none()
	h.deadline(time.Second)
	h.after(30 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1 + 18, win: 29200, opts: mss(1400)})
	h.out(seg{flags: ".", seq: iss + 1 + 18, ack: peer + 1, win: 65535})
	h.none()
	h.state(StateEstablished)
	h.deadline(0)
	r := h.tcb.FastOpenResult()
	h.check(h.tcb.SYNData() && r.Answered && r.DataAckd && r.SYNData == 18 && r.MSS == 1400 && r.Cookie == nil,
		"SYNData %v result %+v", h.tcb.SYNData(), r)
	i := h.info()
	h.check(i.SndUna == iss+19 && i.SndNxt == iss+19, "SND.UNA %d SND.NXT %d", i.SndUna, i.SndNxt)
}

// A SYN-ACK that acknowledges only the SYN (the server refused the cookie
// or saw no data): the data is sent again at once, carrying the ACK of
// the handshake (RFC 7413 §4.2.2), and the new cookie is kept.
func TestFastOpen_Client_OnlySynAcked_ResendsData(t *testing.T) {
	h := activeFO(t, FastOpenClient{Cookie: foCookie})
	h.write("hello")
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: withFO(mss(1460), foCookie, false), data: "hello"})
	h.after(20 * time.Millisecond)
	fresh := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 29200, opts: withFO(mss(1460), fresh, false)})
	h.out(seg{flags: "P.", seq: iss + 1, ack: peer + 1, win: 65535, data: "hello"})
	h.none()
	h.state(StateEstablished)
	r := h.tcb.FastOpenResult()
	h.check(!h.tcb.SYNData() && !r.DataAckd && bytes.Equal(r.Cookie, fresh), "SYNData %v result %+v", h.tcb.SYNData(), r)
	h.in(seg{flags: ".", seq: peer + 1, ack: iss + 6, win: 29200})
	h.none()
	h.check(h.info().SndUna == iss+6, "SND.UNA %d", h.info().SndUna)
}

// Without a cookie the SYN asks for one (an empty option) and carries no
// data; the data follows the handshake, with its ACK.
func TestFastOpen_Client_CookieRequest(t *testing.T) {
	h := activeFO(t, FastOpenClient{})
	h.check(h.tcb.FastOpenRoom() == 0, "room %d", h.tcb.FastOpenRoom())
	h.write("hi")
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: withFO(mss(1460), nil, false)})
	h.none()
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 29200, opts: withFO(mss(1460), foCookie, false)})
	h.out(seg{flags: "P.", seq: iss + 1, ack: peer + 1, win: 65535, data: "hi"})
	h.none()
	r, sentExp, requested, ok := h.tcb.TakeFastOpenResult()
	h.check(ok && requested && !sentExp && bytes.Equal(r.Cookie, foCookie) && r.SYNData == 0, "%+v %v %v %v", r, sentExp, requested, ok)
	_, _, _, again := h.tcb.TakeFastOpenResult()
	h.check(!again, "TakeFastOpenResult returned twice")
}

// The experimental option (kind 254) is used when asked, for the request
// and for the cookie.
func TestFastOpen_Client_ExperimentalOption(t *testing.T) {
	h := activeFO(t, FastOpenClient{Cookie: foCookie, Exp: true})
	h.write("x")
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: withFO(mss(1460), foCookie, true), data: "x"})
}

// A SYN with data that times out is sent again plain: no cookie, no data
// (a middlebox may drop SYNs with options or data); the data follows the
// handshake.
func TestFastOpen_Client_SynTimeout_PlainSYN(t *testing.T) {
	h := activeFO(t, FastOpenClient{Cookie: foCookie})
	h.write("hello")
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: withFO(mss(1460), foCookie, false), data: "hello"})
	h.at(time.Second)
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460)})
	h.none()
	h.after(10 * time.Millisecond)
	h.in(seg{flags: "S.", seq: peer, ack: iss + 1, win: 29200, opts: mss(1460)})
	h.out(seg{flags: "P.", seq: iss + 1, ack: peer + 1, win: 65535, data: "hello"})
	r := h.tcb.FastOpenResult()
	h.check(r.SYNRetransmitted && !r.DataAckd, "%+v", r)
}

// NoCookie sends the data on the SYN without any option.
func TestFastOpen_Client_NoCookie(t *testing.T) {
	h := activeFO(t, FastOpenClient{Cookie: foCookie, NoCookie: true})
	h.write("abc")
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(1460), data: "abc"})
}

// An ICMP fragmentation needed for the SYN with data: the SYN goes again
// at once, without the data, with the smaller MSS.
func TestFastOpen_Client_PathMTU(t *testing.T) {
	h := activeFO(t, FastOpenClient{Cookie: foCookie})
	h.write("hello")
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: withFO(mss(1460), foCookie, false), data: "hello"})
	h.after(5 * time.Millisecond)
	h.check(h.tcb.HandlePathMTU(760, h.now), "HandlePathMTU: false")
	h.collect()
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: mss(760)})
	h.none()
}

// passiveFO hands syn to a Fast Open listener's decision reply.
func passiveFO(t *testing.T, syn seg, reply FastOpenReply) *harness {
	h := newHarness(t)
	h.log("      LISTEN (Fast Open)")
	s := syn.segment()
	h.log("  <-- %s", syn)
	h.attach(NewPassiveFastOpen(plain, iss, &s, reply, h.now))
	return h
}

// A SYN with a valid cookie: its data is acknowledged by the SYN-ACK and
// readable at once, and the server answers before the final ACK.
func TestFastOpen_Server_AcceptsData(t *testing.T) {
	h := passiveFO(t, seg{flags: "S", seq: peer, win: 65535, opts: withFO(mss(1460), foCookie, false), data: "GET /"},
		FastOpenReply{Accept: true})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1 + 5, win: 65535, opts: mss(1460)})
	h.none()
	h.state(StateSynReceived)
	h.check(h.tcb.FastOpenChild() && h.tcb.SYNData(), "child %v SYNData %v", h.tcb.FastOpenChild(), h.tcb.SYNData())
	h.readAll("GET /")
	h.write("200 OK")
	// The window's right edge stays where the SYN-ACK put it: 5 bytes
	// read do not move it (receiver SWS avoidance).
	h.out(seg{flags: "P.", seq: iss + 1, ack: peer + 6, win: 65530, data: "200 OK"})
	h.none()
	h.after(20 * time.Millisecond)
	h.in(seg{flags: ".", seq: peer + 6, ack: iss + 7, win: 65535})
	h.none()
	h.state(StateEstablished)
	h.check(h.info().SndUna == iss+7, "SND.UNA %d", h.info().SndUna)
}

// A SYN whose cookie did not validate: the SYN-ACK acknowledges only the
// SYN and carries the valid cookie; the data is not taken.
func TestFastOpen_Server_RefusesCookie(t *testing.T) {
	valid := []byte{9, 9, 9, 9, 9, 9, 9, 9}
	h := passiveFO(t, seg{flags: "S", seq: peer, win: 65535, opts: withFO(mss(1460), foCookie, true), data: "GET /"},
		FastOpenReply{Cookie: valid, Exp: true})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 1, win: 65535, opts: withFO(mss(1460), valid, true)})
	h.none()
	b := make([]byte, 10)
	n, _ := h.tcb.Read(b, h.now)
	h.check(n == 0 && !h.tcb.FastOpenChild() && !h.tcb.SYNData(), "read %d child %v", n, h.tcb.FastOpenChild())
}

// A RST to an accepted child in SYN-RECEIVED reports the reset, after
// the data (a plain SYN-RECEIVED returns to LISTEN unseen).
func TestFastOpen_Server_ChildReset(t *testing.T) {
	h := passiveFO(t, seg{flags: "S", seq: peer, win: 65535, opts: withFO(mss(1460), foCookie, false), data: "abc"},
		FastOpenReply{Accept: true})
	h.out(seg{flags: "S.", seq: iss, ack: peer + 4, win: 65535, opts: mss(1460)})
	h.in(seg{flags: "R", seq: peer + 4})
	h.state(StateClosed)
	h.readAll("abc")
	_, err := h.read(10)
	h.check(err == syscall.ECONNRESET, "read error %v", err)
}

// The cookie is Linux's: the SipHash of the two addresses under the key.
// The values are those Linux's own scripts expect (packetdrill's
// fastopen/server/simple1.pkt, and run_all.py's TFO_COOKIE for the
// default key of defaults.sh and the default addresses).
func TestMakeFastOpenCookie_Linux(t *testing.T) {
	for _, tc := range []struct {
		key, client, server, want string
	}{
		{"a0bf63f7-ed803d81-cd641d30-cebc4a90", "10.248.0.2", "192.168.0.2", "00abaaabe8e954c2"},
		{"a0bf63f7-ed803d81-cd641d30-cebc4a90", "10.248.0.3", "192.168.0.3", "76d2c1c530f51f79"},
		{"a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4", "192.0.2.1", "192.168.0.1", "3021b9d889017eeb"},
	} {
		k, _, _, err := ParseFastOpenKey(tc.key)
		if err != nil {
			t.Fatal(err)
		}
		if k.String() != tc.key {
			t.Errorf("key %s prints as %s", tc.key, k)
		}
		c := MakeFastOpenCookie(&k, netip.MustParseAddr(tc.client), netip.MustParseAddr(tc.server))
		var got wire.TCPOptions
		got.SetFastOpen(c[:], false)
		if s := got.String(); s != "FO "+tc.want {
			t.Errorf("cookie %s -> %s: %s, want FO %s", tc.client, tc.server, s, tc.want)
		}
	}
	if _, _, _, err := ParseFastOpenKey("nothex"); err == nil {
		t.Error("ParseFastOpenKey accepted nothex")
	}
	p, b, two, err := ParseFastOpenKey("00000001-00000002-00000003-00000004,0000000a-0000000b-0000000c-0000000d")
	if err != nil || !two || p.String() != "00000001-00000002-00000003-00000004" || b.String() != "0000000a-0000000b-0000000c-0000000d" {
		t.Errorf("two keys: %s %s %v %v", p, b, two, err)
	}
}
