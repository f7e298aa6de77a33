package pkt

import (
	"strconv"
	"strings"
)

// The shell commands the runner understands. Linux test scripts set sysctls
// in back-quoted commands (sysctl, set_sysctls.py, echo into /proc/sys);
// FreeBSD's set them with sysctl -w and check connection states with
// sockstat. Settings become tcp.Config values (sysctl.go), commands with a
// synack equivalent are emulated, and anything else makes the script SKIP,
// naming the command.

// linuxDefaults are the settings of packetdrill's gtests/net/common/defaults.sh
// that differ from synack's own defaults (the others, such as
// tcp_timestamps=1 or tcp_congestion_control=cubic, are synack's defaults
// already, or tune what synack lacks: see sysctlRules).
var linuxDefaults = []string{
	"net.ipv4.tcp_syn_retries=5", "net.ipv4.tcp_synack_retries=5",
	"net.ipv4.tcp_ecn=0", "net.ipv4.tcp_syncookies=1",
}

// command runs a back-quoted command of the script.
func (r *runner) command(line int, text string) {
	if why := r.applyCommand(text, true); why != "" {
		if strings.HasPrefix(why, failPrefix) {
			r.failf(line, "command %s", strings.TrimPrefix(why, failPrefix))
			return
		}
		r.skipf(line, "command %s", why)
	}
}

// failPrefix marks a command that ran and failed (a sockstat check), as
// opposed to one the runner cannot run.
const failPrefix = "FAIL: "

// oneLine shortens a command for a report line.
func oneLine(s string) string {
	f := strings.Fields(s)
	out := strings.Join(f, " ")
	if len(out) > 100 {
		out = out[:97] + "..."
	}
	return out
}

// applyCommand applies a command; it returns why it cannot, or "".
// apply is false to only check it.
func (r *runner) applyCommand(text string, apply bool) string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	// Comment lines inside the back quotes.
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "#") {
			continue
		}
		lines = append(lines, l)
	}
	text = strings.Join(lines, "\n")
	for _, part := range splitCommands(text) {
		if why := r.applyOne(part, apply); why != "" {
			if strings.HasPrefix(why, failPrefix) {
				return failPrefix + "`" + oneLine(part) + "`: " + strings.TrimPrefix(why, failPrefix)
			}
			return "`" + oneLine(part) + "`: " + why
		}
	}
	return ""
}

// applyOne applies one simple command (or pipeline).
func (r *runner) applyOne(part string, apply bool) string {
	f := strings.Fields(part)
	if len(f) == 0 {
		return ""
	}
	// Drop redirections.
	var args []string
	redirect := ""
	for i := 0; i < len(f); i++ {
		a := f[i]
		if strings.HasPrefix(a, ">") || strings.HasPrefix(a, "2>") || strings.HasPrefix(a, "&>") || strings.HasPrefix(a, "<") {
			target := strings.TrimLeft(a, "2&><")
			if target == "" && i+1 < len(f) {
				i++
				target = f[i]
			}
			if strings.HasPrefix(a, ">") && target != "/dev/null" {
				redirect = target
			}
			continue
		}
		args = append(args, a)
	}
	if len(args) == 0 {
		return ""
	}
	cmd := args[0]
	base := cmd[strings.LastIndex(cmd, "/")+1:]
	switch {
	case base == "defaults.sh":
		// Linux's production defaults: synack's own, but for these.
		for _, s := range linuxDefaults {
			name, val, _ := strings.Cut(s, "=")
			if why := r.setSysctl(name, val, apply); why != "" {
				return "defaults.sh: " + name + "=" + val + ": " + why
			}
		}
		return ""
	case base == "set_sysctls.py":
		// set_sysctls.py /proc/sys/net/ipv4/NAME=VALUE ...: it saves the
		// old values in a restore script the script runs at its end.
		return r.sysctl(args[1:], apply)
	case strings.HasPrefix(cmd, "/tmp/sysctl_restore_"):
		// The restore script of set_sysctls.py, run at the end: each
		// script starts from a fresh stack, so there is nothing to undo.
		return ""
	case strings.HasPrefix(cmd, "/proc/sys/") && strings.Contains(cmd, "="):
		// The continuation line of a set_sysctls.py call.
		return r.sysctl(args, apply)
	case cmd == "echo" && strings.HasPrefix(redirect, "/proc/sys/") && len(args) == 2:
		return r.sysctl([]string{sysctlName(redirect) + "=" + args[1]}, apply)
	case cmd == "sysctl":
		return r.sysctl(args[1:], apply)
	case cmd == "ip" && len(args) >= 2 && args[1] == "tcp_metrics":
		// The only metrics synack keeps are Fast Open's cookie cache.
		if apply && r.st != nil && len(args) >= 3 && args[2] == "flush" {
			r.st.ForgetFastOpenCookies()
		}
		return ""
	case cmd == "ip" && len(args) >= 3 && (args[1] == "route" || args[1] == "-6" && args[2] == "route"):
		return r.ipRoute(args, apply)
	case cmd == "tc" && len(args) >= 2 && args[1] == "qdisc":
		switch {
		case strings.Contains(part, "netem"):
			return "netem delays and losses are not emulated"
		case strings.Contains(part, " fq"):
			return "the fq qdisc paces flows; synack's pacing is not Linux's"
		case strings.Contains(part, "limit 0"):
			return "a qdisc that drops every packet is not emulated"
		}
		return "" // a FIFO: what the runner's link is
	case cmd == "ethtool" && len(args) >= 3 && args[1] == "-K":
		// Offloads: synack hands MSS-sized segments to its link, as
		// with TSO and GSO off.
		for i := 3; i+1 < len(args); i += 2 {
			if args[i+1] != "off" {
				return "synack has no " + args[i] + " offload to turn on"
			}
		}
		return ""
	case cmd == "true" || cmd == ":":
		return ""
	case cmd == "sockstat":
		return r.sockstat(part, apply)
	}
	return "shell commands are not run"
}

// ipRoute handles "ip [-6] route change DST via GW dev tun0 [advmss N]
// [mtu lock M]": the MSS we advertise and the link MTU. Other route
// attributes (initcwnd, ...) have no equivalent.
func (r *runner) ipRoute(args []string, apply bool) string {
	i := 2
	if args[1] == "-6" {
		i = 3
	}
	if i >= len(args) || (args[i] != "change" && args[i] != "replace" && args[i] != "add") {
		return "only ip route change is emulated"
	}
	mss, mtu := 0, 0
	for j := i + 2; j < len(args); j++ {
		switch args[j] {
		case "via", "dev":
			j++
		case "advmss":
			if j+1 >= len(args) {
				return "advmss without a value"
			}
			n, err := strconv.Atoi(args[j+1])
			if err != nil || n < 64 {
				return "bad advmss " + args[j+1]
			}
			mss = n
			j++
		case "mtu":
			if j+1 < len(args) && args[j+1] == "lock" {
				j++
			}
			if j+1 >= len(args) {
				return "mtu without a value"
			}
			n, err := strconv.Atoi(args[j+1])
			if err != nil || n < 68 {
				return "bad mtu " + args[j+1]
			}
			mtu = n
			j++
		default:
			return "route attribute " + args[j] + " has no synack equivalent"
		}
	}
	if mtu != 0 && r.st != nil && apply {
		return "the link MTU can only change before the first socket connects or listens"
	}
	if apply {
		if mss != 0 {
			r.base.MSS = mss
		}
		if mtu != 0 {
			r.lnk.mtu = mtu
		}
	}
	return ""
}

// splitCommands splits a command line at ';', '&&', '||' and newlines.
func splitCommands(s string) []string {
	s = strings.ReplaceAll(s, "&&", ";")
	s = strings.ReplaceAll(s, "||", ";")
	s = strings.ReplaceAll(s, "\n", ";")
	return strings.Split(s, ";")
}

// prescan looks for what the runner cannot honour before running: shell
// commands it does not know, Python code, UDP and ICMP lines, system calls
// it does not emulate, TCP options it cannot send. It applies the init
// command.
func (r *runner) prescan() *Result {
	if !r.cfg.TCP.ECN {
		r.setECN(2) // the default of net.ipv4.tcp_ecn
	}
	if r.script.Init != nil {
		if why := r.applyCommand(r.script.Init.Text, true); why != "" {
			return &Result{Status: Skip, Line: r.script.Init.Line, Reason: "command " + why}
		}
	}
	for _, ev := range r.script.Events {
		skip := func(why string) *Result { return &Result{Status: Skip, Line: ev.Line, Reason: why} }
		switch a := ev.Action.(type) {
		case *Command:
			if why := r.applyCommand(a.Text, false); why != "" {
				return skip("command " + why)
			}
		case *UDPPacket:
			return skip("UDP packets are not supported")
		case *ICMPPacket:
			if a.Dir != Inbound {
				return skip("outbound ICMP lines are not checked")
			}
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
	"ioctl": true, "epoll_create": true, "epoll_create1": true, "epoll_ctl": true, "epoll_wait": true,
}
