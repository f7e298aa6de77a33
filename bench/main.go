// Command bench runs synack, gVisor's netstack and the kernel's loopback
// side by side, interleaved in one run (synack, gVisor, kernel, synack,
// gVisor, kernel, … for several rounds), and prints each figure's median
// and range with the ratios synack/gVisor and synack/kernel.
//
// Each contender is two stacks joined by an in-memory link in one
// process: synack's two stacks over link.Pipe, gVisor's two stacks over
// its pipe link endpoints (package link/pipe, as gVisor's own tests join
// two stacks), the kernel's TCP over 127.0.0.1. Workloads: bulk transfer
// (MTU 1500 and 65535: throughput, CPU-seconds per GiB from getrusage,
// bytes allocated per MiB from runtime.MemStats), connections per second
// (1 and 8 dialers), 1-byte ping-pong (round trips per second, p50, p99,
// CPU per round trip), short 1-byte request/response connections, memory
// per idle and per TIME-WAIT connection (both ends, Go heap and stacks
// after GC), and the SYN-cookie rate under a flood. With --tun (as root)
// it also runs the TUN benchmark of package interop against the kernel's
// TCP in a network namespace.
//
// It lives in a module of its own so that the synack module never depends
// on gVisor. Run it from this directory:
//
//	go run . --quick            # smoke run, under 30 s
//	go run . --rounds 5         # the full comparison (1 GiB bulk)
//	go run . --markdown         # a table to paste into BENCHMARKS.md
//	go run . --json             # machine-readable
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metricDef describes one figure a workload reports.
type metricDef struct {
	key    string
	label  string
	unit   string
	higher bool // larger is better
}

// workload is one row group of the table.
type workload struct {
	key     string
	name    string
	stacks  []stackDef
	metrics []metricDef
	run     func(def stackDef, p params) (map[string]float64, error)
}

// onNetwork runs f on a fresh network of the stack with the given MTU.
func onNetwork(mtu int, f func(network, params) (map[string]float64, error)) func(stackDef, params) (map[string]float64, error) {
	return func(def stackDef, p params) (map[string]float64, error) {
		n, err := def.newFn(mtu)
		if err != nil {
			return nil, err
		}
		defer n.Close()
		return f(n, p)
	}
}

var (
	mThroughput = metricDef{"throughput", "throughput", "Gbit/s", true}
	mCPUPerGiB  = metricDef{"cpu_per_gib", "CPU per GiB", "CPU-s", false}
	mAllocMiB   = metricDef{"alloc_per_mib", "allocated per MiB", "bytes", false}
	mConnRate   = metricDef{"rate", "connections/s", "conn/s", true}
	mCPUConn    = metricDef{"cpu_per_conn", "CPU per connection", "µs", false}
)

func workloads(pp *[][]byte) []workload {
	all := []stackDef{synackDef, gvisorDef, kernelDef}
	two := []stackDef{synackDef, gvisorDef}
	bulkM := []metricDef{mThroughput, mCPUPerGiB, mAllocMiB,
		{"retransmits", "retransmissions", "segments", false}}
	connM := []metricDef{mConnRate, mCPUConn}
	return []workload{
		{"bulk1500", "bulk, MTU 1500", two, bulkM, onNetwork(1500, bulk)},
		{"bulk65535", "bulk, MTU 65535 (kernel lo: 65536)", all, bulkM, onNetwork(65535, bulk)},
		{"conn1", "connections, 1 dialer", all, connM, onNetwork(1500, connRate(1))},
		{"conn8", "connections, 8 dialers", all, connM, onNetwork(1500, connRate(8))},
		{"pingpong", "1-byte ping-pong", all, []metricDef{
			{"rate", "round trips/s", "rt/s", true},
			{"p50", "p50", "µs", false},
			{"p99", "p99", "µs", false},
			{"cpu_per_rt", "CPU per round trip", "µs", false},
		}, onNetwork(1500, pingPong)},
		{"short", "short connections (1-byte request and reply)", all, connM, onNetwork(1500, shortConns)},
		{"memory", "memory per connection, both ends", two, []metricDef{
			{"idle", "idle, after 1-byte request/reply", "bytes", false},
			{"timewait", "TIME-WAIT, after 1-byte exchange", "bytes", false},
		}, onNetwork(1500, memory)},
		{"synflood", "SYN flood, cookies always", two, []metricDef{
			{"rate", "SYN-ACKs/s", "SYN-ACK/s", true},
			{"answered", "SYNs answered", "%", true},
			{"cpu_per_syn", "CPU per SYN-ACK", "µs", false},
		}, func(def stackDef, p params) (map[string]float64, error) {
			if *pp == nil {
				*pp = floodSYNs(p.floodSYNs)
			}
			if def.key == "synack" {
				return floodSynack(*pp, p)
			}
			return floodGVisor(*pp, p)
		}},
	}
}

// row is one figure of one workload across the stacks.
type row struct {
	Workload string               `json:"workload"`
	Metric   string               `json:"metric"`
	Unit     string               `json:"unit"`
	Higher   bool                 `json:"higher_is_better"`
	Stacks   map[string]*summary  `json:"stacks"`
	Ratios   map[string]float64   `json:"ratios,omitempty"` // "synack/gvisor", "synack/kernel": of the medians
	Errors   map[string][]string  `json:"errors,omitempty"`
	def      metricDef            `json:"-"`
	wl       *workload            `json:"-"`
	samples  map[string][]float64 `json:"-"`
}

type summary struct {
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Samples []float64 `json:"samples"`
}

func summarize(v []float64) *summary {
	if len(v) == 0 {
		return nil
	}
	s := slices.Clone(v)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &summary{Median: med, Min: s[0], Max: s[len(s)-1], Samples: v}
}

type report struct {
	Command  string         `json:"command"`
	Date     string         `json:"date"`
	Machine  string         `json:"machine"`
	Go       string         `json:"go"`
	Rounds   int            `json:"rounds"`
	Load     string         `json:"load_average"` // 1-minute load average at the start and the end
	Params   map[string]any `json:"params"`
	Rows     []*row         `json:"rows"`
	TUN      []*tunRow      `json:"tun,omitempty"`
	TUNError string         `json:"tun_error,omitempty"`
}

func main() {
	var (
		quick    = flag.Bool("quick", false, "smoke run: small sizes, 1 round, under 30 s (flags given explicitly still count)")
		rounds   = flag.Int("rounds", 5, "interleaved rounds (the figures are the median and range over them)")
		bulkSize = flag.String("bulk", "1GiB", "bytes per bulk transfer (B, KiB, MiB, GiB suffixes)")
		conns    = flag.Int("conns", 10000, "connections per connection-rate measurement")
		pings    = flag.Int("pingpongs", 200000, "round trips per ping-pong measurement (at most)")
		short    = flag.Int("short", 5000, "connections per short request/response measurement (at most)")
		memConns = flag.Int("memconns", 1000, "connections held for the memory measurement")
		flood    = flag.Int("flood", 200000, "SYNs per flood")
		maxDur   = flag.Duration("maxdur", 3*time.Second, "cap on each rate measurement")
		timeout  = flag.Duration("timeout", 2*time.Minute, "a measurement taking longer fails")
		only     = flag.String("only", "", "comma-separated workloads to run (bulk1500, bulk65535, conn1, conn8, pingpong, short, memory, synflood, tun)")
		stacks   = flag.String("stacks", "synack,gvisor,kernel", "comma-separated contenders")
		tun      = flag.Bool("tun", false, "also run the TUN benchmark of package interop (root only)")
		bpoll    = flag.Duration("busypoll", 0, "synack's Options.BusyPoll (0: the default cap, 10µs; negative, e.g. -1ns: never poll)")
		gso      = flag.Bool("gso", true, "join synack's stacks with link.PipeGSO (TCP super-segments between them) rather than link.Pipe")
		repo     = flag.String("repo", "..", "the synack repository (for --tun)")
		asJSON   = flag.Bool("json", false, "print JSON")
		jsonOut  = flag.String("json-out", "", "also write the JSON report to this file")
		markdown = flag.Bool("markdown", false, "print a Markdown table for BENCHMARKS.md")
		verbose  = flag.Bool("v", false, "print every sample as it is measured (on stderr)")
		cpuProf  = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (narrow it with --only and --stacks)")
		memProf  = flag.String("memprofile", "", "write an allocation profile of the whole run to this file (go tool pprof -sample_index=alloc_space)")
	)
	flag.Parse()
	bulkBytes, err := parseSize(*bulkSize)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: --bulk: %v\n", err)
		os.Exit(2)
	}
	p := params{bulkBytes: bulkBytes, conns: *conns, pingPongs: *pings, shortConns: *short,
		memConns: *memConns, floodSYNs: *flood, maxDuration: *maxDur, timeout: *timeout}
	if *quick {
		// Small sizes, except where a flag says otherwise.
		explicit := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
		q := params{bulkBytes: 32 << 20, conns: 500, pingPongs: 5000, shortConns: 200, memConns: 100,
			floodSYNs: 10000, maxDuration: 300 * time.Millisecond, timeout: 20 * time.Second}
		pick := func(name string, dst *int, v int) {
			if !explicit[name] {
				*dst = v
			}
		}
		pick("rounds", rounds, 1)
		pick("conns", &p.conns, q.conns)
		pick("pingpongs", &p.pingPongs, q.pingPongs)
		pick("short", &p.shortConns, q.shortConns)
		pick("memconns", &p.memConns, q.memConns)
		pick("flood", &p.floodSYNs, q.floodSYNs)
		if !explicit["bulk"] {
			p.bulkBytes = q.bulkBytes
		}
		if !explicit["maxdur"] {
			p.maxDuration = q.maxDuration
		}
		if !explicit["timeout"] {
			p.timeout = q.timeout
		}
	}
	pipeGSO = *gso
	busyPoll = *bpoll
	if *rounds < 1 {
		fmt.Fprintln(os.Stderr, "bench: --rounds must be at least 1")
		os.Exit(2)
	}
	wantStack := set(*stacks)
	wantWL := set(*only)
	for k := range wantStack {
		if k != "synack" && k != "gvisor" && k != "kernel" {
			fmt.Fprintf(os.Stderr, "bench: --stacks: unknown contender %q (synack, gvisor, kernel)\n", k)
			os.Exit(2)
		}
	}
	var floodPkts [][]byte
	wls := workloads(&floodPkts)
	var selected []*workload
	for i := range wls {
		w := &wls[i]
		if len(wantWL) > 0 && !wantWL[w.key] {
			continue
		}
		w.stacks = slices.DeleteFunc(w.stacks, func(d stackDef) bool { return !wantStack[d.key] })
		selected = append(selected, w)
	}
	for k := range wantWL {
		if k != "tun" && !slices.ContainsFunc(wls, func(w workload) bool { return w.key == k }) {
			fmt.Fprintf(os.Stderr, "bench: --only: unknown workload %q\n", k)
			os.Exit(2)
		}
	}

	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: --cpuprofile: %v\n", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	rep := &report{
		Command: command(),
		Date:    time.Now().UTC().Format("2006-01-02 15:04 MST"),
		Machine: machine(),
		Go:      runtime.Version(),
		Rounds:  *rounds,
		Params: map[string]any{"bulk_bytes": p.bulkBytes, "conns": p.conns, "pingpongs": p.pingPongs,
			"short_conns": p.shortConns, "mem_conns": p.memConns, "flood_syns": p.floodSYNs,
			"max_duration": p.maxDuration.String()},
	}
	rows := map[string]*row{}
	for _, w := range selected {
		for _, m := range w.metrics {
			r := &row{Workload: w.name, Metric: m.label, Unit: m.unit, Higher: m.higher, def: m, wl: w,
				Stacks: map[string]*summary{}, samples: map[string][]float64{}}
			rows[w.key+"/"+m.key] = r
			rep.Rows = append(rep.Rows, r)
		}
	}
	logf := func(format string, a ...any) {
		if *verbose {
			fmt.Fprintf(os.Stderr, format, a...)
		}
	}
	start := time.Now()
	loadStart := loadAverage()
	for round := 1; round <= *rounds; round++ {
		for _, w := range selected {
			for _, def := range w.stacks {
				res, err := w.run(def, p)
				if err != nil {
					msg := fmt.Sprintf("round %d: %v", round, err)
					fmt.Fprintf(os.Stderr, "bench: %s, %s: %s\n", w.name, def.name, msg)
					for _, m := range w.metrics {
						r := rows[w.key+"/"+m.key]
						if r.Errors == nil {
							r.Errors = map[string][]string{}
						}
						r.Errors[def.key] = append(r.Errors[def.key], msg)
					}
					continue
				}
				logf("round %d %-45s %-9s", round, w.name, def.name)
				for _, m := range w.metrics {
					if v, ok := res[m.key]; ok {
						r := rows[w.key+"/"+m.key]
						r.samples[def.key] = append(r.samples[def.key], v)
						logf(" %s=%.4g", m.key, v)
					}
				}
				logf("\n")
			}
		}
		if *tun && (len(wantWL) == 0 || wantWL["tun"]) {
			tunRound(rep, *repo, *quick, logf)
		}
	}
	for _, r := range rep.Rows {
		for k, v := range r.samples {
			r.Stacks[k] = summarize(v)
		}
		sy := r.Stacks["synack"]
		for _, other := range []string{"gvisor", "kernel"} {
			if o := r.Stacks[other]; sy != nil && o != nil && o.Median != 0 {
				if r.Ratios == nil {
					r.Ratios = map[string]float64{}
				}
				r.Ratios["synack/"+other] = sy.Median / o.Median
			}
		}
	}
	summarizeTUN(rep)
	rep.Load = loadStart + " → " + loadAverage()
	if *memProf != "" {
		if err := writeHeapProfile(*memProf); err != nil {
			fmt.Fprintf(os.Stderr, "bench: --memprofile: %v\n", err)
		}
	}
	rep.Params["wall_seconds"] = time.Since(start).Round(time.Second).Seconds()
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "bench: --json-out: %v\n", err)
		}
	}
	switch {
	case *asJSON:
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	case *markdown:
		printMarkdown(os.Stdout, rep)
	default:
		printText(os.Stdout, rep)
	}
	for _, r := range rep.Rows {
		if len(r.Errors) > 0 {
			pprof.StopCPUProfile()
			os.Exit(1)
		}
	}
}

// command is the command line that reproduces the figures: the flags
// given, less those that only choose the output.
func command() string {
	args := []string{"go", "run", "."}
	flag.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "json", "json-out", "markdown", "v", "repo", "cpuprofile", "memprofile":
			return
		}
		if f.Value.String() == "true" {
			args = append(args, "--"+f.Name)
		} else {
			args = append(args, "--"+f.Name+"="+f.Value.String())
		}
	})
	return strings.Join(args, " ")
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func set(list string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			m[f] = true
		}
	}
	return m
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			mult, num = u.m, strings.TrimSuffix(s, u.suffix)
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size such as 1GiB or 64MiB", s)
	}
	return n * mult, nil
}

// loadAverage is the 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// machine describes the CPU, core count and kernel.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := ""
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d × %s%s, GOMAXPROCS %d", runtime.NumCPU(), model, kernel, runtime.GOMAXPROCS(0))
}

// format prints a figure with three significant digits.
func format(v float64) string {
	switch a := max(v, -v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 3-digits(a/1e6), 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 3-digits(a/1e3), 64) + "k"
	default:
		return strconv.FormatFloat(v, 'f', 3-digits(a), 64)
	}
}

func digits(a float64) int {
	switch {
	case a >= 100:
		return 3
	case a >= 10:
		return 2
	default:
		return 1
	}
}

func cell(s *summary) string {
	if s == nil {
		return "–"
	}
	if len(s.Samples) == 1 {
		return format(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", format(s.Median), format(s.Min), format(s.Max))
}

func ratio(r *row, other string) string {
	v, ok := r.Ratios["synack/"+other]
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v)
}

func better(r *row) string {
	if r.Higher {
		return "↑"
	}
	return "↓"
}

func printText(w io.Writer, rep *report) {
	fmt.Fprintf(w, "%s\n%s, %s, load average %s, %d round(s), median (min–max); ↑ higher is better, ↓ lower\n\n", rep.Command, rep.Machine, rep.Go, rep.Load, rep.Rounds)
	cols := []int{46, 44, 24, 24, 24, 9, 9}
	line := func(f ...string) {
		for i, s := range f {
			fmt.Fprintf(w, "%-*s", cols[i], s)
		}
		fmt.Fprintln(w)
	}
	if len(rep.Rows) > 0 {
		line("workload", "figure", "synack", "gVisor", "kernel lo", "s/gVisor", "s/kernel")
	}
	prev := ""
	for _, r := range rep.Rows {
		name := r.Workload
		if name == prev {
			name = ""
		}
		prev = r.Workload
		line(name, fmt.Sprintf("%s %s, %s", better(r), r.Metric, r.Unit), cell(r.Stacks["synack"]), cell(r.Stacks["gvisor"]),
			cell(r.Stacks["kernel"]), ratio(r, "gvisor"), ratio(r, "kernel"))
	}
	printTUNText(w, rep)
}

func printMarkdown(w io.Writer, rep *report) {
	fmt.Fprintf(w, "Measured %s on %s, %s, 1-minute load average %s (start → end); %d interleaved rounds, median (min–max). Command, from `bench/`:\n\n```sh\n%s\n```\n\n",
		rep.Date, rep.Machine, rep.Go, rep.Load, rep.Rounds, rep.Command)
	if len(rep.Rows) > 0 {
		fmt.Fprintln(w, "| workload | figure | synack | gVisor | kernel lo | synack/gVisor | synack/kernel |")
		fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	}
	prev := ""
	for _, r := range rep.Rows {
		name := r.Workload
		if name == prev {
			name = ""
		}
		prev = r.Workload
		fmt.Fprintf(w, "| %s | %s %s, %s | %s | %s | %s | %s | %s |\n", name, better(r), r.Metric, r.Unit,
			cell(r.Stacks["synack"]), cell(r.Stacks["gvisor"]), cell(r.Stacks["kernel"]), ratio(r, "gvisor"), ratio(r, "kernel"))
	}
	fmt.Fprintln(w, "\n↑: higher is better; ↓: lower is better. Ratios are of the medians.")
	var errs []string
	for _, r := range rep.Rows {
		for k, e := range r.Errors {
			errs = append(errs, fmt.Sprintf("%s, %s: %s", r.Workload, k, strings.Join(e, "; ")))
		}
	}
	slices.Sort(errs)
	errs = slices.Compact(errs)
	for _, e := range errs {
		fmt.Fprintf(w, "\nFailed: %s\n", e)
	}
	printTUNMarkdown(w, rep)
}
