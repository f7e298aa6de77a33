package pkt

import (
	"strconv"
	"strings"
	"time"

	"github.com/synack/synack/stack"
)

// The sysctl settings scripts write, Linux's (net.ipv4.*, through sysctl,
// set_sysctls.py or a /proc/sys path) and FreeBSD's (net.inet.*, kern.*,
// through sysctl -w). None is ignored silently: a setting is mapped onto
// tcp.Config or stack.Options, accepted at the values that describe what
// synack does anyway, or it makes the script SKIP, naming the setting.

// sysctlRule applies one setting's value; it returns "" or why synack has
// no equivalent.
type sysctlRule func(r *runner, v string) string

// anyValue accepts every value: the setting tunes something no script can
// observe against synack (buffer auto-tuning bounds, pacing ratios of a
// qdisc synack does not have, Fast Open keys while Fast Open is off, ...).
func anyValue(*runner, string) string { return "" }

// only accepts the values that describe synack's behaviour; what explains
// them is in the table's comment.
func only(vals ...string) sysctlRule {
	return func(_ *runner, v string) string {
		for _, ok := range vals {
			if v == ok {
				return ""
			}
		}
		return "synack behaves as =" + strings.Join(vals, " or =")
	}
}

// intRule maps an integer value; set returns false for a value with no
// equivalent.
func intRule(set func(r *runner, n int) bool) sysctlRule {
	return func(r *runner, v string) string {
		n, err := strconv.ParseInt(v, 0, 64)
		if err != nil || !set(r, int(n)) {
			return "no synack equivalent for this value"
		}
		return ""
	}
}

// boolRule maps a 0/1 switch.
func boolRule(set func(r *runner, on bool)) sysctlRule {
	return intRule(func(r *runner, n int) bool {
		set(r, n == 1)
		return n == 0 || n == 1
	})
}

// msRule maps a duration written in milliseconds (FreeBSD's keep* and
// delacktime) or seconds (unit).
func durRule(unit time.Duration, set func(r *runner, d time.Duration)) sysctlRule {
	return intRule(func(r *runner, n int) bool {
		if n <= 0 {
			return false
		}
		set(r, time.Duration(n)*unit)
		return true
	})
}

// sysctlRules are the settings the runner knows.
var sysctlRules = map[string]sysctlRule{
	// Linux.
	"net.ipv4.tcp_timestamps":     intRule(func(r *runner, n int) bool { r.base.DisableTimestamps = n == 0; return true }),
	"net.ipv4.tcp_sack":           intRule(func(r *runner, n int) bool { r.base.DisableSACK = n == 0; return true }),
	"net.ipv4.tcp_window_scaling": intRule(func(r *runner, n int) bool { r.base.DisableWScale = n == 0; return true }),
	"net.ipv4.tcp_syn_retries":    intRule(func(r *runner, n int) bool { r.base.SynRetries = n; return n > 0 }),
	"net.ipv4.tcp_synack_retries": intRule(func(r *runner, n int) bool { r.base.SynAckRetries = n; return n > 0 }),
	"net.ipv4.tcp_retries2":       intRule(func(r *runner, n int) bool { r.base.MaxRetries = n; return n > 0 }),
	// 0 off, 1 when the SYN queue is full (Linux's default and ours), 2
	// always.
	"net.ipv4.tcp_syncookies": intRule(func(r *runner, n int) bool {
		modes := [...]stack.SynCookieMode{stack.SynCookiesOff, stack.SynCookiesAuto, stack.SynCookiesAlways}
		if n < 0 || n >= len(modes) {
			return false
		}
		return r.setListenerOption(func() { r.synCookies = modes[n] })
	}),
	"net.ipv4.tcp_abort_on_overflow": intRule(func(r *runner, n int) bool {
		return r.setListenerOption(func() { r.abortOnOverflow = n != 0 })
	}),
	"net.ipv4.tcp_fin_timeout":      durRule(time.Second, func(r *runner, d time.Duration) { r.base.FinWait2Timeout = d }),
	"net.ipv4.tcp_keepalive_time":   durRule(time.Second, func(r *runner, d time.Duration) { r.base.KeepAlive.Idle = d }),
	"net.ipv4.tcp_keepalive_intvl":  durRule(time.Second, func(r *runner, d time.Duration) { r.base.KeepAlive.Interval = d }),
	"net.ipv4.tcp_keepalive_probes": intRule(func(r *runner, n int) bool { r.base.KeepAlive.Count = n; return n > 0 }),
	"net.ipv4.tcp_ecn":              intRule((*runner).setECN),
	// Bit 0 of tcp_recovery is RACK loss detection; without it Linux
	// falls back to duplicate-ACK counting (RFC 6675 with SACK).
	"net.ipv4.tcp_recovery": intRule(func(r *runner, n int) bool { r.base.DisableRACK = n&1 == 0; return n >= 0 }),
	// F-RTO (RFC 5682): 0 off, 1 and 2 (SACK-enhanced, the default) on.
	"net.ipv4.tcp_frto": intRule(func(r *runner, n int) bool { r.base.DisableFRTO = n == 0; return n >= 0 && n <= 2 }),
	// Early retransmit and TLP: 3 (the default) and 4 keep the tail-loss
	// probe, which synack always sends; 0-2 turn TLP off, which synack
	// cannot do without turning RACK off too.
	"net.ipv4.tcp_early_retrans": only("3", "4"),
	// synack never restarts slow start after an idle period.
	"net.ipv4.tcp_slow_start_after_idle": only("0"),
	// synack always sends D-SACKs, never uses FACK, and enters recovery
	// after three duplicate ACKs.
	"net.ipv4.tcp_dsack":      only("1"),
	"net.ipv4.tcp_fack":       only("0"),
	"net.ipv4.tcp_reordering": only("3"),
	// No TCP_NOTSENT_LOWAT in synack: only "unlimited" matches.
	"net.ipv4.tcp_notsent_lowat": notSentLowatRule, // sockopt.go
	// No MTU probing (RFC 4821), no Fast Open, no thin-stream timeouts,
	// no receive-buffer moderation switch (it always auto-tunes).
	"net.ipv4.tcp_mtu_probing":          only("0"),
	"net.ipv4.tcp_fastopen":             only("0"),
	"net.ipv4.tcp_thin_linear_timeouts": only("0"),
	"net.ipv4.tcp_moderate_rcvbuf":      only("1"),
	"net.ipv4.tcp_autocorking":          only("0", "1"), // no TCP_CORK in synack: autocorking only merges small writes Nagle already holds
	// Buffer bounds: synack's own defaults play their part (the runner's
	// receive buffer gives Linux's window scale of 8); the segments a
	// script sees do not depend on them unless SO_SNDBUF/SO_RCVBUF say so.
	"net.ipv4.tcp_rmem": anyValue, "net.ipv4.tcp_wmem": anyValue,
	// TSO sizing and pacing ratios: synack sends MSS-sized segments and
	// paces only when asked (no fq qdisc in the runner).
	// tcp_min_tso_segs sizes the send buffer model's transmit skbs
	// (tcp.Config.MinTSOSegs).
	"net.ipv4.tcp_tso_win_divisor": anyValue,
	"net.ipv4.tcp_min_tso_segs":    intRule(func(r *runner, n int) bool { r.base.MinTSOSegs = n; return n >= 1 }),
	"net.ipv4.tcp_pacing_ss_ratio": anyValue, "net.ipv4.tcp_pacing_ca_ratio": anyValue,
	"net.core.default_qdisc": anyValue,
	// Fast Open keys and cookies only matter with Fast Open on.
	"net.ipv4.tcp_fastopen_key": anyValue, "net.ipv4.tcp_fastopen_blackhole_timeout_sec": anyValue,
	// synack keeps no per-destination metrics and never reuses a
	// TIME-WAIT port for an outgoing connection the scripts make.
	"net.ipv4.tcp_no_metrics_save": anyValue, "net.ipv4.tcp_tw_reuse": anyValue,
	"net.ipv4.tcp_ecn_option": anyValue, // AccECN, which makes the script SKIP where used
	"net.mptcp.enabled":       only("0", "1"),

	// FreeBSD. Values in milliseconds unless said.
	"net.inet.tcp.rfc1323": intRule(func(r *runner, n int) bool {
		r.base.DisableTimestamps, r.base.DisableWScale = n == 0 || n == 2, n == 0 || n == 3
		return n >= 0 && n <= 3
	}),
	"net.inet.tcp.sack.enable": intRule(func(r *runner, n int) bool { r.base.DisableSACK = n == 0; return true }),
	"net.inet.tcp.ecn.enable":  intRule((*runner).setECN),
	"net.inet.tcp.recvspace":   intRule(func(r *runner, n int) bool { r.base.ReceiveBufferSize = n; return n > 0 }),
	"net.inet.tcp.sendspace":   intRule(func(r *runner, n int) bool { r.base.SendBufferSize = n; return n > 0 }),
	"net.inet.tcp.rexmit_initial": durRule(time.Millisecond, func(r *runner, d time.Duration) {
		r.base.InitialRTO = d
	}),
	"net.inet.tcp.delacktime": durRule(time.Millisecond, func(r *runner, d time.Duration) { r.base.DelayedACK = d }),
	"net.inet.tcp.keepidle":   durRule(time.Millisecond, func(r *runner, d time.Duration) { r.base.KeepAlive.Idle = d }),
	"net.inet.tcp.keepintvl":  durRule(time.Millisecond, func(r *runner, d time.Duration) { r.base.KeepAlive.Interval = d }),
	"net.inet.tcp.keepcnt":    intRule(func(r *runner, n int) bool { r.base.KeepAlive.Count = n; return n > 0 }),
	// The time a connection may take to be established; the runner
	// enforces it on connecting sockets (see keepInit).
	"net.inet.tcp.keepinit": durRule(time.Millisecond, func(r *runner, d time.Duration) { r.keepInit = d }),
	// syncookies=1 (the default): cookies when the SYN cache overflows,
	// synack's SynCookiesAuto; syncookies_only=1: cookies for every SYN.
	"net.inet.tcp.syncookies": intRule(func(r *runner, n int) bool {
		if n != 0 && n != 1 {
			return false
		}
		return r.setListenerOption(func() {
			if n == 0 {
				r.synCookies = stack.SynCookiesOff
			} else if r.synCookies == stack.SynCookiesOff {
				r.synCookies = stack.SynCookiesAuto
			}
		})
	}),
	"net.inet.tcp.syncookies_only": intRule(func(r *runner, n int) bool {
		if n != 0 && n != 1 {
			return false
		}
		return r.setListenerOption(func() {
			if n == 1 {
				r.synCookies = stack.SynCookiesAlways
			} else if r.synCookies == stack.SynCookiesAlways {
				r.synCookies = stack.SynCookiesAuto
			}
		})
	}),
	// Closed ports answer with a RST (no blackholing); retransmitted SYNs keep their options; path MTU discovery is on;
	// ICMP hard errors abort a connection in SYN-SENT; an MSS option
	// missing from a SYN means 536; no TCP over UDP, no Fast Open.
	"net.inet.tcp.blackhole":              only("0"),
	"net.inet.tcp.rexmit_drop_options":    only("0"),
	"net.inet.tcp.path_mtu_discovery":     only("1"),
	"net.inet.tcp.icmp_may_rst":           only("1"),
	"net.inet.tcp.mssdflt":                only("536"),
	"net.inet.tcp.udp_tunneling_port":     only("0"),
	"net.inet.tcp.fastopen.client_enable": only("0"),
	"net.inet.tcp.fastopen.server_enable": only("0"),
	// FreeBSD adds a 200 ms slop to every RTO (RTO = SRTT + 4·RTTVAR +
	// 200 ms); synack's 200 ms minimum RTO plays its part: the same
	// timeouts while the RTT is small, which it is in every script.
	"net.inet.tcp.rexmit_slop": only("200"),
	// The pre-RFC 5961 modes (tcp.Config.InsecureRST, InsecureSYN, off by
	// default): 1 resets on any RST, or any SYN, inside the receive window
	// instead of sending a challenge ACK; drop_synfin=1 discards a SYN|FIN
	// reaching a listener or a connection in SYN-SENT (tcp.Config.DropSynFin).
	"net.inet.tcp.insecure_rst": boolRule(func(r *runner, on bool) { r.base.InsecureRST = on }),
	"net.inet.tcp.insecure_syn": boolRule(func(r *runner, on bool) { r.base.InsecureSYN = on }),
	"net.inet.tcp.drop_synfin":  boolRule(func(r *runner, on bool) { r.base.DropSynFin = on }),
	// Only meaningful with udp_tunneling_port set.
	"net.inet.tcp.udp_tunneling_overhead": anyValue,
	// The host cache is per stack and every script starts a fresh one;
	// maxsockbuf only bounds SO_SNDBUF/SO_RCVBUF.
	"net.inet.tcp.hostcache.purgenow": anyValue,
	"kern.ipc.maxsockbuf":             anyValue,
}

// setListenerOption applies a setting that is a stack option: only before
// the stack exists (the first listen or connect creates it), or when it
// changes nothing.
func (r *runner) setListenerOption(set func()) bool {
	if r.st == nil {
		set()
		return true
	}
	sc, ab := r.synCookies, r.abortOnOverflow
	set()
	same := sc == r.synCookies && ab == r.abortOnOverflow
	r.synCookies, r.abortOnOverflow = sc, ab
	return same
}

// sysctlName turns a /proc/sys path or a name written with slashes into
// the dotted name.
func sysctlName(s string) string {
	s = strings.TrimPrefix(s, "/proc/sys/")
	return strings.ReplaceAll(s, "/", ".")
}

// sysctl applies "sysctl [-q] [-w] [-e] name=value ..." (or set_sysctls.py
// path=value ...). With apply false it only checks the settings.
func (r *runner) sysctl(args []string, apply bool) string {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		name, val, found := strings.Cut(a, "=")
		if !found {
			// A bare name only reads the value.
			continue
		}
		name = sysctlName(name)
		val = strings.Trim(val, `"'`)
		if why := r.setSysctl(name, val, apply); why != "" {
			return "sysctl " + name + "=" + val + ": " + why
		}
	}
	return ""
}

// setSysctl applies one setting (on a scratch copy of the runner's
// settings when apply is false).
func (r *runner) setSysctl(name, val string, apply bool) string {
	if name == "net.ipv4.tcp_congestion_control" {
		// Linux's reno is NewReno (RFC 6582).
		switch val {
		case "reno", "newreno":
			val = "newreno"
		case "cubic":
		default:
			return "synack has no congestion controller " + val
		}
		if apply {
			r.base.CongestionControl = val
		}
		return ""
	}
	rule, known := sysctlRules[name]
	if !known {
		return "no synack equivalent"
	}
	target := r
	if !apply {
		scratch := *r
		target = &scratch
	}
	if strings.HasPrefix(name, "net.inet.") && !target.freeBSD {
		// A FreeBSD script: its socket buffers start at FreeBSD's
		// defaults (recvspace 65536, sendspace 32768), not Linux's, and
		// FreeBSD has no quick-ACK mode: it delays the ACK of the first
		// data segments as of any other (RFC 5681 §4.2). Its receive
		// window takes segments up to the free buffer even where the
		// window field says less (65535 of a 65700-byte buffer), and it
		// sends its FIN again with the ACK that enters CLOSING.
		target.freeBSD = true
		if target.base.QuickAcks == 0 {
			target.base.QuickAcks = -1
		}
		target.base.AcceptToBufferSpace = true
		target.base.FinWithClosingAck = true
		if target.base.ReceiveBufferSize == DefaultTCP().ReceiveBufferSize {
			target.base.ReceiveBufferSize = 65536
		}
		if target.base.SendBufferSize == 0 {
			target.base.SendBufferSize = 32768
		}
	}
	return rule(target, val)
}

// setECN applies net.ipv4.tcp_ecn (or FreeBSD's net.inet.tcp.ecn.enable):
// 0 off, 1 requested on our SYNs and accepted on the peer's, 2 (both
// systems' default) accepted but not requested (tcp.Config.ECNAcceptOnly).
func (r *runner) setECN(n int) bool {
	switch n {
	case 0, 1:
		r.base.ECN, r.base.ECNAcceptOnly = n == 1, false
	case 2:
		r.base.ECN, r.base.ECNAcceptOnly = false, true
	default:
		return false
	}
	return true
}
