package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// The TUN benchmark is package interop's BenchmarkTUN and BenchmarkVeth
// (interop/bench_test.go): bulk TCP between synack on a TUN device and the
// kernel's TCP in a network namespace, both directions, with the device's
// offloads (virtio-net header: TSO super-segments both ways, checksums
// left undone) and without, beside the same transfer between two kernels
// over a veth pair. They need root; they run once per round, so they
// interleave with the rest.

type tunRow struct {
	Name    string    `json:"name"` // the benchmark's name
	Path    string    `json:"path"`
	Dir     string    `json:"direction"`
	Gbps    *summary  `json:"gbit_per_s"`
	samples []float64 // Gbit/s
}

var tunNames = []struct{ bench, path, dir string }{
	{"BenchmarkTUN/offload/kernel-to-synack", "TUN with offloads, synack ⇄ kernel", "kernel → synack"},
	{"BenchmarkTUN/offload/synack-to-kernel", "TUN with offloads, synack ⇄ kernel", "synack → kernel"},
	{"BenchmarkTUN/plain/kernel-to-synack", "TUN without offloads, synack ⇄ kernel", "kernel → synack"},
	{"BenchmarkTUN/plain/synack-to-kernel", "TUN without offloads, synack ⇄ kernel", "synack → kernel"},
	{"BenchmarkVeth/a-to-b", "veth, kernel ⇄ kernel", "one way"},
}

func tunRound(rep *report, repo string, quick bool, logf func(string, ...any)) {
	if os.Geteuid() != 0 {
		rep.TUNError = "skipped: needs root (network namespaces and a TUN device)"
		return
	}
	benchtime := "2s"
	if quick {
		benchtime = "200ms"
	}
	cmd := exec.Command("go", "test", "./interop", "-run", "^$", "-bench", "TUN|Veth", "-benchtime", benchtime, "-count", "1")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "SYNACK_REQUIRE_NETNS=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		rep.TUNError = fmt.Sprintf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, lastLines(out.String(), 10))
		return
	}
	got := parseMBps(&out)
	for _, n := range tunNames {
		v, ok := got[n.bench]
		if !ok {
			continue
		}
		var r *tunRow
		for _, x := range rep.TUN {
			if x.Name == n.bench {
				r = x
			}
		}
		if r == nil {
			r = &tunRow{Name: n.bench, Path: n.path, Dir: n.dir}
			rep.TUN = append(rep.TUN, r)
		}
		r.samples = append(r.samples, v*8/1000)
		logf("tun %-40s %.3g Gbit/s\n", n.bench, v*8/1000)
	}
}

// parseMBps reads go test -bench output: the MB/s of each benchmark, with
// the -GOMAXPROCS suffix dropped.
func parseMBps(r io.Reader) map[string]float64 {
	m := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 1; i+1 < len(f); i++ {
			if f[i+1] == "MB/s" {
				if v, err := strconv.ParseFloat(f[i], 64); err == nil {
					m[name] = v
				}
			}
		}
	}
	return m
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func summarizeTUN(rep *report) {
	for _, r := range rep.TUN {
		r.Gbps = summarize(r.samples)
	}
}

// vethMedian is the kernel-to-kernel figure the TUN rows are compared to.
func vethMedian(rep *report) float64 {
	for _, r := range rep.TUN {
		if r.Name == "BenchmarkVeth/a-to-b" && r.Gbps != nil {
			return r.Gbps.Median
		}
	}
	return 0
}

func tunRatio(rep *report, r *tunRow) string {
	v := vethMedian(rep)
	if v == 0 || r.Gbps == nil || strings.HasPrefix(r.Name, "BenchmarkVeth") {
		return "–"
	}
	return fmt.Sprintf("%.2f×", r.Gbps.Median/v)
}

func printTUNText(w io.Writer, rep *report) {
	if rep.TUNError != "" {
		fmt.Fprintf(w, "\nTUN: %s\n", rep.TUNError)
	}
	if len(rep.TUN) == 0 {
		return
	}
	fmt.Fprintf(w, "\nTUN against the kernel's TCP (interop BenchmarkTUN/BenchmarkVeth, MTU 1500, one connection)\n")
	for _, r := range rep.TUN {
		fmt.Fprintf(w, "%-37s %-18s %-24s Gbit/s  synack/veth %s\n", r.Path, r.Dir, cell(r.Gbps), tunRatio(rep, r))
	}
}

func printTUNMarkdown(w io.Writer, rep *report) {
	if rep.TUNError != "" {
		fmt.Fprintf(w, "\nTUN: %s\n", rep.TUNError)
	}
	if len(rep.TUN) == 0 {
		return
	}
	fmt.Fprintf(w, "\nOver a TUN against the kernel's TCP in a namespace (`go test ./interop -run '^$' -bench 'TUN|Veth'`, once per round, MTU 1500, one connection):\n\n")
	fmt.Fprintln(w, "| path | direction | Gbit/s | of veth |")
	fmt.Fprintln(w, "|---|---|---:|---:|")
	for _, r := range rep.TUN {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.Path, r.Dir, cell(r.Gbps), tunRatio(rep, r))
	}
}
