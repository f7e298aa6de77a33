package pkt

import (
	"strconv"
	"strings"
	"time"

	"github.com/synack/synack/stack"
)

// The shell commands the runner understands. Linux test scripts set sysctls
// in back-quoted commands; the ones with a synack equivalent become
// tcp.Config values, the ones that do not change connection management
// (as set by packetdrill's gtests/net/common/defaults.sh) are accepted and
// ignored, and anything else makes the script SKIP.

// harmlessSysctls are settings accepted with any value: they tune
// features synack does not have or does not let scripts observe here
// (pacing, Fast Open keys, metrics, MPTCP, ...).
var harmlessSysctls = map[string]bool{
	"net.ipv4.tcp_rmem": true, "net.ipv4.tcp_wmem": true, "net.ipv4.tcp_frto": true,
	"net.ipv4.tcp_dsack": true, "net.ipv4.tcp_fack": true, "net.ipv4.tcp_reordering": true,
	"net.ipv4.tcp_slow_start_after_idle": true, "net.ipv4.tcp_early_retrans": true,
	"net.ipv4.tcp_tso_win_divisor": true, "net.ipv4.tcp_pacing_ss_ratio": true,
	"net.ipv4.tcp_pacing_ca_ratio": true, "net.ipv4.tcp_notsent_lowat": true,
	"net.ipv4.tcp_fastopen_key": true,
	"net.mptcp.enabled":         true, "net.ipv4.tcp_min_tso_segs": true, "net.core.default_qdisc": true,
	"net.ipv4.tcp_autocorking": true, "net.ipv4.tcp_moderate_rcvbuf": true,
	"net.ipv4.tcp_no_metrics_save": true, "net.ipv4.tcp_mtu_probing": true,
	"net.ipv4.tcp_tw_reuse": true,
	// FreeBSD's test suite resets these to their defaults.
	"kern.ipc.maxsockbuf": true, "net.inet.tcp.hostcache.purgenow": true,
}

// zeroSysctls are accepted only with the value 0 (a feature synack does
// not have, turned off).
var zeroSysctls = map[string]bool{
	"net.ipv4.tcp_fastopen": true, "net.ipv4.tcp_thin_linear_timeouts": true,
}

// command handles a back-quoted command: init reports whether it is the
// script's untimed first command.
func (r *runner) command(line int, text string, init bool) {
	if why := r.applyCommand(text, r.st == nil); why != "" {
		r.skipf(line, "command `%s`: %s", strings.TrimSpace(text), why)
	}
}

// applyCommand applies a command; it returns why it cannot, or "".
// apply is false to only check it.
func (r *runner) applyCommand(text string, apply bool) string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	for _, part := range splitCommands(text) {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		// Drop redirections.
		var args []string
		for i := 0; i < len(f); i++ {
			a := f[i]
			if strings.HasPrefix(a, ">") || strings.HasPrefix(a, "2>") || strings.HasPrefix(a, "<") {
				if a == ">" || a == "2>" || a == "<" || a == ">>" {
					i++
				}
				continue
			}
			args = append(args, a)
		}
		if len(args) == 0 {
			continue
		}
		switch {
		case strings.HasSuffix(args[0], "/defaults.sh") || args[0] == "defaults.sh":
			continue // Linux's defaults: synack's are chosen to match
		case args[0] == "ip" && len(args) >= 2 && args[1] == "tcp_metrics":
			continue
		case args[0] == "tc" && len(args) >= 2 && args[1] == "qdisc" && !strings.Contains(part, "netem"):
			continue
		case args[0] == "true" || args[0] == ":":
			continue
		case args[0] == "sysctl":
			if why := r.sysctl(args[1:], apply); why != "" {
				return why
			}
			continue
		}
		return "shell commands are not run"
	}
	return ""
}

// splitCommands splits a command line at ';', '&&' and newlines.
func splitCommands(s string) []string {
	s = strings.ReplaceAll(s, "&&", ";")
	s = strings.ReplaceAll(s, "||", ";")
	s = strings.ReplaceAll(s, "\n", ";")
	return strings.Split(s, ";")
}

// sysctl applies "sysctl [-q] [-w] name=value ...".
func (r *runner) sysctl(args []string, apply bool) string {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		name, val, found := strings.Cut(a, "=")
		if !found {
			// "sysctl -q name=" "value" forms with quotes are joined by
			// the shell; a bare name only reads the value.
			continue
		}
		val = strings.Trim(val, `"'`)
		if harmlessSysctls[name] {
			continue
		}
		if zeroSysctls[name] {
			if val != "0" {
				return "sysctl " + name + "=" + val + " has no synack equivalent"
			}
			continue
		}
		if name == "net.ipv4.tcp_congestion_control" {
			// Linux's reno is NewReno (RFC 6582); other controllers
			// synack lacks (bbr, dctcp, ...) are ignored, as before.
			if apply {
				switch val {
				case "reno", "newreno":
					r.base.CongestionControl = "newreno"
				case "cubic":
					r.base.CongestionControl = "cubic"
				}
			}
			continue
		}
		n, err := strconv.Atoi(val)
		if err != nil {
			return "sysctl " + name + "=" + val + " has no synack equivalent"
		}
		if !apply {
			if _, known := sysctlSetters[name]; !known {
				return "sysctl " + name + " has no synack equivalent"
			}
			continue
		}
		set, known := sysctlSetters[name]
		if known && strings.HasPrefix(name, "net.inet.") && !r.freeBSD {
			// A FreeBSD script: its socket buffers start at FreeBSD's
			// defaults (recvspace 65536, sendspace 32768), not Linux's.
			r.freeBSD = true
			if r.base.ReceiveBufferSize == DefaultTCP().ReceiveBufferSize {
				r.base.ReceiveBufferSize = 65536
			}
			if r.base.SendBufferSize == 0 {
				r.base.SendBufferSize = 32768
			}
		}
		if !known || !set(r, n) {
			return "sysctl " + name + "=" + val + " has no synack equivalent"
		}
	}
	return ""
}

// sysctlSetters map the sysctls with a tcp.Config or stack.Options
// equivalent.
var sysctlSetters = map[string]func(r *runner, n int) bool{
	"net.ipv4.tcp_timestamps":     func(r *runner, n int) bool { r.base.DisableTimestamps = n == 0; return true },
	"net.ipv4.tcp_sack":           func(r *runner, n int) bool { r.base.DisableSACK = n == 0; return true },
	"net.ipv4.tcp_window_scaling": func(r *runner, n int) bool { r.base.DisableWScale = n == 0; return true },
	"net.ipv4.tcp_syn_retries":    func(r *runner, n int) bool { r.base.SynRetries = n; return n > 0 },
	"net.ipv4.tcp_synack_retries": func(r *runner, n int) bool { r.base.SynAckRetries = n; return n > 0 },
	"net.ipv4.tcp_retries2":       func(r *runner, n int) bool { r.base.MaxRetries = n; return n > 0 },
	// 0 off, 1 when the SYN queue is full (Linux's default and ours), 2
	// always.
	"net.ipv4.tcp_syncookies": func(r *runner, n int) bool {
		modes := [...]stack.SynCookieMode{stack.SynCookiesOff, stack.SynCookiesAuto, stack.SynCookiesAlways}
		if n < 0 || n >= len(modes) {
			return false
		}
		r.synCookies = modes[n]
		return true
	},
	"net.ipv4.tcp_abort_on_overflow": func(r *runner, n int) bool { r.abortOnOverflow = n != 0; return true },
	"net.ipv4.tcp_fin_timeout": func(r *runner, n int) bool {
		r.base.FinWait2Timeout = time.Duration(n) * time.Second
		return n > 0
	},
	"net.ipv4.tcp_keepalive_time": func(r *runner, n int) bool {
		r.base.KeepAlive.Idle = time.Duration(n) * time.Second
		return n > 0
	},
	"net.ipv4.tcp_keepalive_intvl": func(r *runner, n int) bool {
		r.base.KeepAlive.Interval = time.Duration(n) * time.Second
		return n > 0
	},
	"net.ipv4.tcp_keepalive_probes": func(r *runner, n int) bool { r.base.KeepAlive.Count = n; return n > 0 },
	"net.ipv4.tcp_ecn":              (*runner).setECN,
	// Bit 0 of tcp_recovery is RACK loss detection; without it Linux
	// falls back to duplicate-ACK counting (RFC 6675 with SACK).
	"net.ipv4.tcp_recovery": func(r *runner, n int) bool { r.base.DisableRACK = n&1 == 0; return n >= 0 },
	// FreeBSD.
	"net.inet.tcp.rfc1323": func(r *runner, n int) bool {
		r.base.DisableTimestamps, r.base.DisableWScale = n == 0 || n == 2, n == 0 || n == 3
		return n >= 0 && n <= 3
	},
	"net.inet.tcp.sack.enable": func(r *runner, n int) bool { r.base.DisableSACK = n == 0; return true },
	"net.inet.tcp.ecn.enable":  (*runner).setECN,
	"net.inet.tcp.recvspace":   func(r *runner, n int) bool { r.base.ReceiveBufferSize = n; return n > 0 },
	"net.inet.tcp.sendspace":   func(r *runner, n int) bool { r.base.SendBufferSize = n; return n > 0 },
	"net.inet.tcp.rexmit_initial": func(r *runner, n int) bool {
		r.base.InitialRTO = time.Duration(n) * time.Millisecond
		return n > 0
	},
}

// setECN applies net.ipv4.tcp_ecn (or FreeBSD's net.inet.tcp.ecn.enable):
// 0 off, 1 requested on our SYNs and accepted on the peer's, 2 (both
// systems' default) accepted but not requested. synack's tcp.Config.ECN
// does both or neither, so 2 is ECN on in a script that never connects
// (it only accepts: the same behaviour) and off in one that does (where
// our SYNs must not ask for it).
func (r *runner) setECN(n int) bool {
	switch n {
	case 0, 1:
		r.base.ECN = n == 1
	case 2:
		r.base.ECN = !r.connects
	default:
		return false
	}
	return true
}

// prescan looks for what the runner cannot honour before running: shell
// commands it does not know, Python code, UDP and ICMP lines, system calls
// it does not emulate, TCP options it cannot send. It applies the init
// command.
func (r *runner) prescan() *Result {
	for _, ev := range r.script.Events {
		if sc, ok := ev.Action.(*Syscall); ok && sc.Name == "connect" {
			r.connects = true
		}
	}
	if !r.cfg.TCP.ECN {
		r.setECN(2) // the default of net.ipv4.tcp_ecn
	}
	if r.script.Init != nil {
		if why := r.applyCommand(r.script.Init.Text, true); why != "" {
			return &Result{Status: Skip, Line: r.script.Init.Line, Reason: "command `" + strings.TrimSpace(r.script.Init.Text) + "`: " + why}
		}
	}
	for _, ev := range r.script.Events {
		skip := func(why string) *Result { return &Result{Status: Skip, Line: ev.Line, Reason: why} }
		switch a := ev.Action.(type) {
		case *Code:
			return skip("%{ }% Python code is not run")
		case *Command:
			if why := r.applyCommand(a.Text, false); why != "" {
				return skip("command `" + strings.TrimSpace(a.Text) + "`: " + why)
			}
		case *UDPPacket:
			return skip("UDP packets are not supported")
		case *ICMPPacket:
			return skip("ICMP packets are not supported")
		case *Syscall:
			if !knownSyscalls[a.Name] {
				return skip("system call " + a.Name + " is not supported")
			}
		case *Packet:
			if a.Flags&FlagAE != 0 || a.ACE != nil {
				return skip("AccECN is not supported")
			}
			for _, o := range a.Options {
				switch o.Kind {
				case OptFastOpen, OptFastOpenExp:
					return skip("TCP Fast Open is not supported")
				case OptMD5:
					return skip("TCP MD5 signatures are not supported")
				case OptUnsupported:
					return skip("TCP option " + o.Text + " is not supported")
				}
			}
		}
	}
	return nil
}

var knownSyscalls = map[string]bool{
	"socket": true, "bind": true, "listen": true, "accept": true, "accept4": true, "connect": true,
	"read": true, "recv": true, "recvfrom": true, "readv": true, "recvmsg": true,
	"write": true, "send": true, "sendto": true, "writev": true, "sendmsg": true,
	"close": true, "shutdown": true, "fcntl": true, "poll": true, "setsockopt": true, "getsockopt": true,
}
