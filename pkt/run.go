package pkt

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/synack/synack/tcp"
)

// Config is how a script is run: packetdrill's command-line flags that
// apply to synack. Leading --flag lines in a script override it.
type Config struct {
	// Tolerance is how far an outbound packet or the return of a
	// blocking call may be from its scripted time (--tolerance_usecs);
	// default 4 ms.
	Tolerance time.Duration
	// LocalIP is the stack's address (--local_ip); default 192.168.0.1,
	// or fd3d:fa7b:d17d::1 with IPv6.
	LocalIP netip.Addr
	// RemoteIP is the scripted peer's address (--remote_ip); default
	// 192.0.2.1, or 2001:db8::1 with IPv6.
	RemoteIP netip.Addr
	// MSS is packetdrill's --mss: the segment size of inbound packets
	// the test sends as one large (GSO) packet. The runner injects every
	// packet whole, so it has no effect; the link MTU is MTU.
	MSS int
	// MTU is the link MTU (--mtu, packetdrill's tun device MTU); default
	// 1500, for both IP versions (an IPv6 MSS of 1440).
	MTU int
	// IPv6 runs the script over IPv6 (--ip_version=ipv6). ipv4 and
	// ipv4-mapped-ipv6 both mean IPv4 on the wire.
	IPv6 bool
	// StrictSegments forbids matching one expected segment with several
	// smaller ones (--strict_segments).
	StrictSegments bool
	// Lenient compares TCP options as a set, ignores window values
	// (the window field and the window-scale shift) and ignores the
	// SYN options' values other than their presence (--lenient), for
	// scripts written against another OS.
	Lenient bool
	// QueueOutbound keeps the outbound packets no '>' line has taken
	// queued until the next '>' line, which then compares the oldest, as
	// packetdrill does (--queue_outbound); packets left at the end are
	// not looked at. By default a packet still untaken when the next
	// inbound packet or call comes (and was not sent at that line's time)
	// fails the script as "unexpected": stricter, for our own suite.
	QueueOutbound bool
	// TSEcrScaled lets an inbound TS ecr that names no TSval a '>' line
	// wrote stand for the TSval we would have sent at that script value,
	// counted from our first TSval (--tcp_ts_ecr_scaled), as packetdrill
	// does; without it such an ecr echoes the last TSval we sent.
	TSEcrScaled bool
	// Defines are the names the nplab preprocessor's #ifdef tests true
	// nil means DefaultDefines.
	Defines []string
	// TCP is the engine configuration the stack starts from; zero fields
	// take the runner's Linux-like defaults (see DefaultTCP).
	TCP tcp.Config
}

// DefaultTCP returns the engine configuration the runner uses unless told
// otherwise: synack's defaults with a receive buffer large enough for a
// window-scale shift of 8, as Linux offers by default.
func DefaultTCP() tcp.Config {
	return tcp.Config{ReceiveBufferSize: 8<<20 + 64<<10}
}

// Status is the outcome of a script.
type Status uint8

// Outcomes.
const (
	Pass Status = iota + 1
	Fail
	Skip
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case Skip:
		return "SKIP"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Result is the outcome of running one script.
type Result struct {
	File   string
	Status Status
	// Line is the script line of the first mismatch (Fail) or of the
	// line that could not be honoured (Skip); 0 when not tied to a line.
	Line int
	// Reason says what failed or why the script was skipped.
	Reason string
	// Expected and Actual are ladder lines (time, direction, packet or
	// call) for a mismatch; "" when they do not apply.
	Expected string
	Actual   string
}

// String formats the result as the report prints it.
func (r Result) String() string {
	var b strings.Builder
	b.WriteString(r.Status.String())
	b.WriteByte(' ')
	b.WriteString(r.File)
	if r.Status == Pass {
		return b.String()
	}
	if r.Line > 0 {
		fmt.Fprintf(&b, ":%d", r.Line)
	}
	b.WriteString(": ")
	b.WriteString(r.Reason)
	if r.Expected != "" {
		b.WriteString("\n    expected: ")
		b.WriteString(r.Expected)
	}
	if r.Actual != "" {
		b.WriteString("\n    actual:   ")
		b.WriteString(r.Actual)
	}
	return b.String()
}

// RunFile parses and runs the script at path. A script that does not
// parse fails.
func RunFile(path string, cfg Config) Result {
	src, err := os.ReadFile(path)
	if err != nil {
		return Result{File: path, Status: Fail, Reason: err.Error()}
	}
	return RunSource(path, src, cfg)
}

// RunSource parses and runs a script; name is used in the result only.
func RunSource(name string, src []byte, cfg Config) Result {
	defines := cfg.Defines
	if defines == nil {
		defines = DefaultDefines
	}
	src, err := preprocess(src, defines)
	if err != nil {
		return Result{File: name, Status: Fail, Reason: "syntax error: " + err.Error()}
	}
	s, err := Parse(filepath.Base(name), src)
	if err != nil {
		if line, why := unsupportedSyntax(src); why != "" {
			return Result{File: name, Status: Skip, Line: line, Reason: why}
		}
		res := Result{File: name, Status: Fail, Reason: "syntax error: " + err.Error()}
		var pe *Error
		if errors.As(err, &pe) {
			res.Line = pe.Line
			res.Reason = "syntax error: " + pe.Msg
		}
		return res
	}
	res := Run(s, cfg)
	res.File = name
	return res
}

// Run runs a parsed script against a fresh synack stack under a virtual
// clock, playing the remote peer.
func Run(s *Script, cfg Config) (res Result) {
	defer func() {
		if p := recover(); p != nil {
			res = Result{Status: Fail, Reason: fmt.Sprintf("runner error: %v", p)}
		}
	}()
	cfg, err := applyOptions(cfg, s.Options)
	if err != nil {
		return Result{Status: Fail, Reason: err.Error()}
	}
	r := newRunner(s, cfg)
	if sk := r.prescan(); sk != nil {
		return *sk
	}
	return r.run()
}

// applyOptions fills defaults and applies the script's --flag lines.
func applyOptions(cfg Config, opts []Option) (Config, error) {
	for _, o := range opts {
		v := strings.Trim(o.Value, `"'`)
		switch o.Name {
		case "tolerance_usecs":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return cfg, fmt.Errorf("line %d: bad --tolerance_usecs %q", o.Line, o.Value)
			}
			cfg.Tolerance = time.Duration(n) * time.Microsecond
		case "local_ip", "remote_ip":
			a, err := netip.ParseAddr(v)
			if err != nil {
				return cfg, fmt.Errorf("line %d: bad --%s %q", o.Line, o.Name, o.Value)
			}
			if o.Name == "local_ip" {
				cfg.LocalIP = a.Unmap()
			} else {
				cfg.RemoteIP = a.Unmap()
			}
		case "mss":
			n, err := strconv.Atoi(v)
			if err != nil || n < 64 || n > 65495 {
				return cfg, fmt.Errorf("line %d: bad --mss %q", o.Line, o.Value)
			}
			cfg.MSS = n
		case "mtu":
			n, err := strconv.Atoi(v)
			if err != nil || n < 68 || n > 65535 {
				return cfg, fmt.Errorf("line %d: bad --mtu %q", o.Line, o.Value)
			}
			cfg.MTU = n
		case "ip_version":
			switch v {
			case "ipv4", "ipv4-mapped-ipv6":
				cfg.IPv6 = false
			case "ipv6":
				cfg.IPv6 = true
			default:
				return cfg, fmt.Errorf("line %d: bad --ip_version %q", o.Line, o.Value)
			}
		case "strict_segments":
			cfg.StrictSegments = o.Value == "" || v == "true" || v == "1"
		case "queue_outbound":
			cfg.QueueOutbound = o.Value == "" || v == "true" || v == "1"
		case "lenient":
			cfg.Lenient = o.Value == "" || v == "true" || v == "1"
		case "tcp_ts_ecr_scaled":
			cfg.TSEcrScaled = o.Value == "" || v == "true" || v == "1"
		default:
			// Other packetdrill flags (--wire_server_ip, --bind_port,
			// --define, ...) have no meaning here; they are ignored,
			// except where prescan decides a script needs them.
		}
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = 4 * time.Millisecond
	}
	if cfg.MSS <= 0 {
		cfg.MSS = 1460
	}
	if !cfg.LocalIP.IsValid() || cfg.LocalIP.Is4() == cfg.IPv6 {
		cfg.LocalIP = netip.MustParseAddr("192.168.0.1")
		if cfg.IPv6 {
			cfg.LocalIP = netip.MustParseAddr("fd3d:fa7b:d17d::1")
		}
	}
	if !cfg.RemoteIP.IsValid() || cfg.RemoteIP.Is4() == cfg.IPv6 {
		cfg.RemoteIP = netip.MustParseAddr("192.0.2.1")
		if cfg.IPv6 {
			cfg.RemoteIP = netip.MustParseAddr("2001:db8::1")
		}
	}
	def := DefaultTCP()
	if cfg.TCP.ReceiveBufferSize == 0 {
		cfg.TCP.ReceiveBufferSize = def.ReceiveBufferSize
	}
	return cfg, nil
}
