package pkt

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/synack/synack/stack"
	"github.com/synack/synack/tcp"
)

// FreeBSD's scripts check connection states with pipelines such as
//
//	sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1
//	sockstat -4 -P tcp -p 8080 -s | grep -c SYN_RCVD | grep 0
//
// The runner answers them from the states the stack reports (stack.Options
// .Trace): every connection the stack has, with a descriptor or not
// (half-open connections of a listener, TIME-WAIT after close), plus the
// descriptors that have no connection (CLOSED) and the listeners (LISTEN).

// trace records a state change the stack reports.
func (r *runner) trace(ev stack.TraceEvent) {
	if !ev.Remote.IsValid() {
		return // a listener: the descriptors tell
	}
	k := flowKey{local: ev.Local, remote: ev.Remote}
	if ev.To == tcp.StateClosed {
		delete(r.states, k)
		return
	}
	r.states[k] = ev.To
}

// freeBSDStates are sockstat's names of the states.
var freeBSDStates = map[tcp.State]string{
	tcp.StateClosed: "CLOSED", tcp.StateListen: "LISTEN", tcp.StateSynSent: "SYN_SENT",
	tcp.StateSynReceived: "SYN_RCVD", tcp.StateEstablished: "ESTABLISHED",
	tcp.StateFinWait1: "FIN_WAIT_1", tcp.StateFinWait2: "FIN_WAIT_2", tcp.StateCloseWait: "CLOSE_WAIT",
	tcp.StateClosing: "CLOSING", tcp.StateLastAck: "LAST_ACK", tcp.StateTimeWait: "TIME_WAIT",
}

// sockstatLines lists the TCP sockets as "local remote STATE", on port
// (when not 0) only.
func (r *runner) sockstatLines(port uint16) []string {
	var out []string
	add := func(l, rm netip.AddrPort, st tcp.State) {
		if port != 0 && l.Port() != port && rm.Port() != port {
			return
		}
		out = append(out, l.String()+" "+rm.String()+" "+freeBSDStates[st])
	}
	seen := map[flowKey]bool{}
	for _, sk := range r.socks {
		switch {
		case sk.epoll != nil:
		case sk.lst != nil:
			add(sk.bound, netip.AddrPort{}, tcp.StateListen)
		case sk.conn != nil:
			k := flowKey{local: sk.conn.LocalAddrPort(), remote: sk.conn.RemoteAddrPort()}
			seen[k] = true
			add(k.local, k.remote, sk.conn.Readiness().State)
		default:
			add(sk.bound, netip.AddrPort{}, tcp.StateClosed)
		}
	}
	for k, st := range r.states {
		if !seen[k] {
			add(k.local, k.remote, st)
		}
	}
	return out
}

// sockstat emulates "sockstat [-4|-6] -P tcp [-p PORT] [-s] | grep X |
// grep -c STATE | grep N": the count of matching sockets must contain N,
// as grep would find it. With apply false it only checks the form.
func (r *runner) sockstat(pipeline string, apply bool) string {
	stages := strings.Split(pipeline, "|")
	args := strings.Fields(stages[0])
	var port uint16
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "-4", "-6", "-s", "-c", "-l":
		case "-P":
			if i+1 >= len(args) || args[i+1] != "tcp" {
				return "sockstat of other protocols than tcp"
			}
			i++
		case "-p":
			if i+1 >= len(args) {
				return "sockstat -p without a port"
			}
			n, err := strconv.ParseUint(args[i+1], 10, 16)
			if err != nil {
				return "sockstat -p " + args[i+1] + ": only one port is emulated"
			}
			port = uint16(n)
			i++
		default:
			return "sockstat option " + args[i] + " is not emulated"
		}
	}
	var lines []string
	if apply {
		lines = r.sockstatLines(port)
	}
	counted := false
	count := 0
	for _, st := range stages[1:] {
		f := strings.Fields(st)
		if len(f) < 2 || f[0] != "grep" {
			return "only grep may follow sockstat"
		}
		switch {
		case f[1] == "-c" && len(f) == 3 && !counted:
			pat := f[2]
			count = 0
			for _, l := range lines {
				if strings.Contains(l, pat) {
					count++
				}
			}
			counted = true
		case len(f) == 2 && counted:
			if apply && !strings.Contains(strconv.Itoa(count), f[1]) {
				return failPrefix + "found " + strconv.Itoa(count) + " sockets, expected " + f[1]
			}
		case len(f) == 2 && f[1] == "packetdril":
			// Every socket of the runner is the script's.
		default:
			return "grep " + strings.Join(f[1:], " ") + " after sockstat is not emulated"
		}
	}
	if !counted {
		return "sockstat without grep -c is not emulated"
	}
	return ""
}
