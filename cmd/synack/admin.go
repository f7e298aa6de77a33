package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/synack/synack/stack"
)

// The admin interface of a running synack (serve --admin ADDR): plain
// HTTP on a loopback address.
//
//	GET /connections        the connection table, as ss -tan prints it
//	GET /connections.json   the same as JSON
//	GET /stats              the counters, TCP totals first (netstat -s)
//	GET /stats.json         the same as JSON
//	GET /                   both, as text
//
// synack ss and synack stat read them; SIGUSR1 prints the text of / to
// stderr.

// adminSource is what the admin interface shows.
type adminSource interface {
	Connections() []stack.ConnEntry
	Stats() stack.Stats
}

// checkAdminAddr accepts only a loopback HOST:PORT: the interface has no
// authentication.
func checkAdminAddr(s string) error {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		host, _, herr := net.SplitHostPort(s)
		if herr == nil && host == "localhost" {
			return nil
		}
		return fmt.Errorf("--admin %q: want a loopback HOST:PORT such as 127.0.0.1:7070", s)
	}
	if !ap.Addr().IsLoopback() {
		return fmt.Errorf("--admin %s: only a loopback address (127.0.0.1, [::1]); the interface has no authentication", s)
	}
	return nil
}

// adminHandler serves src.
func adminHandler(src adminSource) http.Handler {
	mux := http.NewServeMux()
	text := func(w http.ResponseWriter, f func(io.Writer)) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		f(w)
	}
	js := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	}
	mux.HandleFunc("GET /connections", func(w http.ResponseWriter, r *http.Request) {
		text(w, func(w io.Writer) { writeConnTable(w, src.Connections()) })
	})
	mux.HandleFunc("GET /connections.json", func(w http.ResponseWriter, r *http.Request) {
		js(w, connsJSON(src.Connections()))
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		text(w, func(w io.Writer) { writeStats(w, src.Stats()) })
	})
	mux.HandleFunc("GET /stats.json", func(w http.ResponseWriter, r *http.Request) {
		js(w, statsJSON(src.Stats()))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		text(w, func(w io.Writer) { writeAdminText(w, src) })
	})
	return mux
}

// writeAdminText writes the table and the counters.
func writeAdminText(w io.Writer, src adminSource) {
	writeConnTable(w, src.Connections())
	fmt.Fprintln(w)
	writeStats(w, src.Stats())
}

// startAdmin serves src on addr until ctx is done; it returns once the
// address is bound.
func startAdmin(ctx context.Context, addr string, src adminSource) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--admin: %w", err)
	}
	srv := &http.Server{Handler: adminHandler(src), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return l.Addr(), nil
}

// dumpOnSignal prints the table and counters to w on every SIGUSR1 until
// ctx is done.
func dumpOnSignal(ctx context.Context, w io.Writer, src adminSource) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				writeAdminText(w, src)
			}
		}
	}()
}

// writeConnTable writes the connections as ss -tan does, with the RTT,
// cwnd and retransmissions of each connection after them.
func writeConnTable(w io.Writer, cs []stack.ConnEntry) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "State\tRecv-Q\tSend-Q\tLocal Address:Port\tPeer Address:Port\tDetails")
	for _, c := range cs {
		peer := "*:*"
		if c.Remote.IsValid() {
			peer = c.Remote.String()
		}
		var details string
		switch {
		case c.Kind == stack.EntryListener:
			details = fmt.Sprintf("syn-queue:%d", c.SynQueue)
		default:
			i := &c.Info
			details = fmt.Sprintf("rtt:%.3f/%.3f rto:%.0f mss:%d cwnd:%d", ms(i.SRTT), ms(i.RTTVar), ms(i.RTO), i.SndMSS, i.Cwnd)
			if i.TotalRetransmits > 0 {
				details += fmt.Sprintf(" retrans:%d/%d", i.Retransmits, i.TotalRetransmits)
			}
			if c.HalfOpen {
				details += " syn-queue"
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", c.State, c.RecvQ, c.SendQ, endpointOrAny(c.Local), peer, details)
	}
	tw.Flush()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func endpointOrAny(ap netip.AddrPort) string {
	if !ap.Addr().IsValid() {
		return fmt.Sprintf("*:%d", ap.Port())
	}
	return ap.String()
}

// connJSON is one connection in JSON; keys are snake_case.
type connJSON struct {
	Kind     string    `json:"kind"`
	State    string    `json:"state"`
	Local    string    `json:"local"`
	Remote   string    `json:"remote,omitempty"`
	RecvQ    int       `json:"recv_q"`
	SendQ    int       `json:"send_q"`
	SynQueue int       `json:"syn_queue,omitempty"`
	HalfOpen bool      `json:"half_open,omitempty"`
	Info     *infoJSON `json:"info,omitempty"`
}

// infoJSON is the part of tcp.Info the admin interface shows.
type infoJSON struct {
	SRTTms              float64 `json:"srtt_ms"`
	RTTVarms            float64 `json:"rttvar_ms"`
	RTOms               float64 `json:"rto_ms"`
	MinRTTms            float64 `json:"min_rtt_ms"`
	SndMSS              int     `json:"snd_mss"`
	Cwnd                int     `json:"cwnd_bytes"`
	Ssthresh            int     `json:"ssthresh_bytes"`
	CongestionControl   string  `json:"congestion_control"`
	InRecovery          bool    `json:"in_recovery"`
	SndWnd              uint32  `json:"snd_wnd"`
	RcvWnd              uint32  `json:"rcv_wnd"`
	SACK                bool    `json:"sack"`
	Timestamps          bool    `json:"timestamps"`
	Retransmits         int     `json:"retransmits"`
	TotalRetransmits    int     `json:"total_retransmits"`
	SpuriousRetransmits int     `json:"spurious_retransmits"`
	SendBufferSize      int     `json:"send_buffer_bytes"`
	ReceiveBufferSize   int     `json:"receive_buffer_bytes"`
}

func connsJSON(cs []stack.ConnEntry) []connJSON {
	out := make([]connJSON, 0, len(cs))
	for _, c := range cs {
		j := connJSON{Kind: c.Kind.String(), State: c.State.String(), Local: endpointOrAny(c.Local),
			RecvQ: c.RecvQ, SendQ: c.SendQ, SynQueue: c.SynQueue, HalfOpen: c.HalfOpen}
		if c.Remote.IsValid() {
			j.Remote = c.Remote.String()
		}
		if c.Kind != stack.EntryListener {
			i := &c.Info
			j.Info = &infoJSON{
				SRTTms: round3(ms(i.SRTT)), RTTVarms: round3(ms(i.RTTVar)), RTOms: round3(ms(i.RTO)), MinRTTms: round3(ms(i.MinRTT)),
				SndMSS: i.SndMSS, Cwnd: i.Cwnd, Ssthresh: i.Ssthresh, CongestionControl: i.CongestionControl, InRecovery: i.InRecovery,
				SndWnd: i.SndWnd, RcvWnd: i.RcvWnd, SACK: i.SACKPermitted, Timestamps: i.Timestamps,
				Retransmits: i.Retransmits, TotalRetransmits: i.TotalRetransmits, SpuriousRetransmits: i.SpuriousRetransmits,
				SendBufferSize: i.SendBufferSize, ReceiveBufferSize: i.ReceiveBufferSize,
			}
		}
		out = append(out, j)
	}
	return out
}

// snakeCase turns a Go field name into a JSON key: SegmentsIn →
// segments_in, ICMPIn → icmp_in, PathMTUDecreases → path_mtu_decreases,
// ChallengeACKs → challenge_acks, IPv6ParamProblems →
// ipv6_param_problems.
func snakeCase(s string) string {
	r := []rune(tameAcronyms(s))
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) {
			if i > 0 && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]) || (i+1 < len(r) && unicode.IsLower(r[i+1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// tameAcronyms rewrites an acronym followed by a plural s (ACKs) or by a
// version (IPv6) as one capitalised word (Acks, Ipv6), so that snakeCase
// keeps it in one piece.
func tameAcronyms(s string) string {
	r := []rune(s)
	for i := 0; i < len(r); {
		j := i
		for j < len(r) && unicode.IsUpper(r[j]) {
			j++
		}
		if j-i >= 2 && j < len(r) {
			plural := r[j] == 's' && (j+1 == len(r) || unicode.IsUpper(r[j+1]))
			version := r[j] == 'v' && j+1 < len(r) && unicode.IsDigit(r[j+1])
			if plural || version {
				for k := i + 1; k < j; k++ {
					r[k] = unicode.ToLower(r[k])
				}
			}
		}
		i = max(j, i+1)
	}
	return string(r)
}

// statsJSON is every counter of st under its snake_case name, in the
// order Stats declares them (so new counters appear by themselves); the
// counters of a nested struct (FastOpen) are flattened under its name as
// a prefix (fast_open_active).
func statsJSON(st stack.Stats) jsonObject {
	return appendFields(nil, "", reflect.ValueOf(st))
}

func appendFields(o jsonObject, prefix string, v reflect.Value) jsonObject {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if v.Field(i).Kind() == reflect.Struct {
			o = appendFields(o, prefix+snakeCase(f.Name)+"_", v.Field(i))
			continue
		}
		o = append(o, jsonField{prefix + snakeCase(f.Name), v.Field(i).Interface()})
	}
	return o
}

// jsonObject is a JSON object that keeps its keys' order.
type jsonObject []jsonField

type jsonField struct {
	key   string
	value any
}

// MarshalJSON implements json.Marshaler.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// writeStats writes the counters: the TCP totals as netstat -s words
// them, then every counter by name.
func writeStats(w io.Writer, st stack.Stats) {
	fmt.Fprintln(w, "Tcp:")
	for _, l := range []struct {
		n    uint64
		what string
	}{
		{st.ActiveOpens, "active connection openings"},
		{st.PassiveOpens, "passive connection openings"},
		{st.AttemptFails, "failed connection attempts"},
		{st.EstabResets, "connection resets (from ESTABLISHED or CLOSE-WAIT)"},
		{st.CurrEstab, "connections established"},
		{st.SegmentsIn, "segments received"},
		{st.SegmentsOut, "segments sent out"},
		{st.Retransmits, "segments retransmitted"},
		{st.RetransTimeout, "  after a retransmission timeout"},
		{st.RetransRecovery, "  in fast recovery (fast retransmit, SACK, RACK)"},
		{st.RetransProbe, "  as tail loss probes"},
		{st.BadChecksum, "bad checksums (IP, TCP, UDP, ICMP)"},
		{st.ResetsIn, "resets received"},
		{st.ResetsOut, "resets sent"},
	} {
		fmt.Fprintf(w, "    %d %s\n", l.n, l.what)
	}
	fmt.Fprintln(w, "All counters:")
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, f := range statsJSON(st) {
		fmt.Fprintf(tw, "    %s\t%v\n", f.key, f.value)
	}
	tw.Flush()
}

// runSS is "synack ss --admin ADDR".
func runSS(args []string, stdout, stderr io.Writer) int {
	return adminClient("ss", "/connections", "Lists the connections and listeners of a running synack, as ss -tan does:\nstate, Recv-Q and Send-Q (for a listener: its accept queue and backlog),\nthe two ends, then RTT/RTTVAR and RTO in ms, MSS, cwnd in bytes and\nretransmissions (current/total).", args, stdout, stderr)
}

// runStat is "synack stat --admin ADDR".
func runStat(args []string, stdout, stderr io.Writer) int {
	return adminClient("stat", "/stats", "Prints the counters of a running synack: the TCP totals as netstat -s\nwords them, then every counter of stack.Stats by its JSON name.", args, stdout, stderr)
}

// adminClient fetches path from a running synack's admin interface.
func adminClient(name, path, about string, args []string, stdout, stderr io.Writer) int {
	var (
		addr    string
		jsonOut bool
		timeout time.Duration
	)
	fs := newFlags(name, stderr)
	fs.StringVar(&addr, "admin", "127.0.0.1:7070", "the admin `ADDR` (HOST:PORT) of a synack serve started with --admin")
	fs.BoolVar(&jsonOut, "json", false, "print JSON (snake_case keys) instead of text")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: synack %s [--admin ADDR] [--json]\n\n%s\n\n", name, about)
		fmt.Fprintf(w, "Example: synack serve ... --admin 127.0.0.1:7070 &  synack %s --admin 127.0.0.1:7070\n\n", name)
		fs.PrintDefaults()
	}
	if status, done := parse(fs, args); done {
		return status
	}
	if fs.NArg() > 0 {
		return badUsage(stderr, name, "unexpected argument %q", fs.Arg(0))
	}
	if err := checkAdminAddr(addr); err != nil {
		return badUsage(stderr, name, "%v", err)
	}
	if timeout <= 0 {
		return badUsage(stderr, name, "--timeout must be positive")
	}
	if jsonOut {
		path += ".json"
	}
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && errors.Is(err, syscall.ECONNREFUSED) {
			err = fmt.Errorf("nothing listens on %s (start synack serve with --admin %s)", addr, addr)
		}
		fmt.Fprintf(stderr, "synack %s: %v\n", name, err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "synack %s: %s answered %s\n", name, addr, resp.Status)
		return 1
	}
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		fmt.Fprintf(stderr, "synack %s: %v\n", name, err)
		return 1
	}
	return 0
}
