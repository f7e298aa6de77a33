package report

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synack/synack/analysis"
	"github.com/synack/synack/ladder"
)

// captureFile is a capture of ladder's test data.
func captureFile(name string) string { return filepath.Join("..", "ladder", "testdata", name) }

func loadCapture(t *testing.T, name string) Capture {
	t.Helper()
	pkts, err := analysis.ReadFile(captureFile(name))
	if err != nil {
		t.Fatal(err)
	}
	convs, _ := analysis.Analyze(pkts)
	return Capture{Name: name, Conversations: convs}
}

// checkXML parses b as XML to its end.
func checkXML(t *testing.T, name string, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
	}
}

// TestReportSVGsAreXML writes every kind of graph for the test captures
// and parses each as XML; the labels a reader needs are in them.
func TestReportSVGsAreXML(t *testing.T) {
	lossy := loadCapture(t, "lossy-veth.pcap")
	refused := loadCapture(t, "refused.pcapng")
	c := &lossy.Conversations[0]
	var b bytes.Buffer
	if err := LaddersSVG(&b, []Capture{lossy, refused}, ladder.Options{}); err != nil {
		t.Fatal(err)
	}
	checkXML(t, "ladders", b.Bytes())
	for _, want := range []string{"SYN-SENT → ESTABLISHED", "[fast retransmission]", "[connection refused]", "TIME-WAIT"} {
		if !bytes.Contains(b.Bytes(), []byte(want)) {
			t.Errorf("the ladder SVG lacks %q", want)
		}
	}
	b.Reset()
	if err := TimeSequenceSVG(&b, c, ladder.Right); err != nil {
		t.Fatal(err)
	}
	checkXML(t, "time-sequence", b.Bytes())
	for _, want := range []string{"time-sequence: 198.18.10.2:8080 → 198.18.10.1:", "retransmission", "SACK", "window", `stroke="#d62728"`} {
		if !bytes.Contains(b.Bytes(), []byte(want)) {
			t.Errorf("the time-sequence SVG lacks %q", want)
		}
	}
	b.Reset()
	if err := LineChart(&b, "throughput", "time (s)", "Mbit/s", []Series{throughput(c, ladder.Right)}); err != nil {
		t.Fatal(err)
	}
	checkXML(t, "throughput", b.Bytes())
	b.Reset()
	if err := HTML(&b, Report{Title: "t", Captures: []Capture{lossy}}, ladder.Options{}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), []byte("http://")) && !bytes.Contains(b.Bytes(), []byte(`xmlns="http://www.w3.org/2000/svg"`)) {
		t.Error("the report refers to the network")
	}
	for _, bad := range []string{"<script src", "<link", "@import", "url(http"} {
		if bytes.Contains(b.Bytes(), []byte(bad)) {
			t.Errorf("the report is not self-contained: it has %q", bad)
		}
	}
}

// chromium returns the path of a headless Chromium, or skips the test
// unless SYNACK_REQUIRE_CHROMIUM=1 makes its absence a failure.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SYNACK_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("SYNACK_REQUIRE_CHROMIUM=1 but chromium is not on PATH (Debian: apt-get install chromium)")
	}
	t.Skip("chromium is not on PATH; set SYNACK_REQUIRE_CHROMIUM=1 to require it")
	return ""
}

// runChromium runs headless Chromium on a local file with extra flags and
// returns its standard output.
func runChromium(t *testing.T, bin, file string, flags ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}, flags...)
	args = append(args, "file://"+file)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %q: %v\n%s", flags, err, stderr.String())
	}
	return out
}

// screenshot renders file and checks the picture is not blank: enough
// pixels that are not white, in enough colours.
func screenshot(t *testing.T, bin, file, png string, w, h int) {
	t.Helper()
	runChromium(t, bin, file, "--screenshot="+png, "--window-size="+itoa(w)+","+itoa(h), "--hide-scrollbars")
	f, err := os.Open(png)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := pngDecode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	colours := map[uint32]bool{}
	ink := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[r>>11<<10|g>>11<<5|bl>>11] = true
			if r < 0xe000 || g < 0xe000 || bl < 0xe000 {
				ink++
			}
		}
	}
	total := (b.Dx() / 2) * (b.Dy() / 2)
	if len(colours) < 8 || ink < total/100 {
		t.Errorf("%s looks blank: %d colours, %d of %d sampled pixels inked", filepath.Base(png), len(colours), ink, total)
	}
}

var pngDecode = png.Decode

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// TestReportInChromium renders the HTML report and the SVGs in headless
// Chromium: the screenshots are not blank and the page holds the labels.
// With SYNACK_WRITE_SCREENSHOTS=1 it also writes the README's pictures to
// docs/img.
func TestReportInChromium(t *testing.T) {
	if testing.Short() && os.Getenv("SYNACK_REQUIRE_CHROMIUM") != "1" {
		t.Skip("-short: skipping the Chromium rendering (about a minute on a busy machine)")
	}
	bin := chromium(t)
	dir := t.TempDir()
	http := loadCapture(t, "http-veth.pcap")
	lossy := loadCapture(t, "lossy-veth.pcap")
	refused := loadCapture(t, "refused.pcapng")

	write := func(name string, f func(io.Writer) error) string {
		t.Helper()
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".svg") {
			checkXML(t, name, b.Bytes())
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	html := write("report.html", func(w io.Writer) error {
		return HTML(w, Report{Title: "synack ladder report", Captures: []Capture{http, refused, lossy}}, ladder.Options{})
	})
	ladderSVG := write("ladder.svg", func(w io.Writer) error { return LaddersSVG(w, []Capture{http}, ladder.Options{}) })
	tseq := write("time-sequence.svg", func(w io.Writer) error {
		return TimeSequenceSVG(w, &lossy.Conversations[0], ladder.Right)
	})

	dom := string(runChromium(t, bin, html, "--dump-dom"))
	for _, want := range []string{"synack ladder report", "stream 0: 198.18.10.1:", "SYN-SENT → ESTABLISHED",
		"FIN-WAIT-2 → TIME-WAIT", "connection refused", "time-sequence: 198.18.10.2:8080", "throughput", "round-trip time"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	shots := map[string]string{"ladder.png": ladderSVG, "time-sequence.png": tseq}
	sizes := map[string][2]int{"ladder.png": {1000, 640}, "time-sequence.png": {900, 420}}
	for png, src := range shots {
		out := filepath.Join(dir, png)
		screenshot(t, bin, src, out, sizes[png][0], sizes[png][1])
		if os.Getenv("SYNACK_WRITE_SCREENSHOTS") == "1" {
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join("..", "docs", "img", png)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
