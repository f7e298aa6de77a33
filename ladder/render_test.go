package ladder

import (
	"strings"
	"testing"

	"github.com/synack/synack/tcp"
	"github.com/synack/synack/wire"
)

const goldenHandshake = `       ms  client 198.18.0.1:49152                                                        server 198.18.0.2:80
           ISN 1000                                                                                 ISN 300000
    0.000                                                                                      CLOSED → LISTEN
    0.000  CLOSED → SYN-SENT
    0.000  SYN-SENT     ──S seq 0 win 64240 len 0 <mss 1460,sackOK,TS val 100 ecr 0,wscale 7>───▶ LISTEN
    1.000                                                                                LISTEN → SYN-RECEIVED
    1.000  SYN-SENT     ◀─S. seq 0 ack 1 win 64240 len 0───────────────────────────────────────── SYN-RECEIVED
                          <mss 1460,sackOK,TS val 5000 ecr 100,wscale 7>
    2.000  SYN-SENT → ESTABLISHED
    2.000  ESTABLISHED  ──. seq 1 ack 1 win 64240 len 0 <TS val 102 ecr 5000>───────────────────▶ SYN-RECEIVED
    2.000  ESTABLISHED  ──P. seq 1 ack 1 win 64240 len 18 <TS val 102 ecr 5000>─────────────────▶ SYN-RECEIVED
    3.000                                                                           SYN-RECEIVED → ESTABLISHED
    3.000  ESTABLISHED  ◀─P. seq 1 ack 19 win 64240 len 5 <TS val 5003 ecr 102>────────────────── ESTABLISHED
    4.000  ESTABLISHED  ──. seq 19 ack 6 win 64240 len 0 <TS val 104 ecr 5003>──────────────────▶ ESTABLISHED
    4.000  ESTABLISHED → FIN-WAIT-1
    4.000  FIN-WAIT-1   ──F. seq 19 ack 6 win 64240 len 0 <TS val 104 ecr 5003>─────────────────▶ ESTABLISHED
    5.000                                                                             ESTABLISHED → CLOSE-WAIT
    5.000  FIN-WAIT-1   ◀─. seq 6 ack 20 win 64240 len 0 <TS val 5005 ecr 104>─────────────────── CLOSE-WAIT
    5.000                                                                                CLOSE-WAIT → LAST-ACK
    5.000  FIN-WAIT-1   ◀─F. seq 6 ack 20 win 64240 len 0 <TS val 5005 ecr 104>────────────────── LAST-ACK
    6.000  FIN-WAIT-1 → FIN-WAIT-2
    6.000  FIN-WAIT-2 → TIME-WAIT
    6.000  TIME-WAIT    ──. seq 20 ack 7 win 64240 len 0 <TS val 106 ecr 5005>──────────────────▶ LAST-ACK
    7.000                                                                                    LAST-ACK → CLOSED
60006.000  TIME-WAIT → CLOSED
`

func render(t *testing.T, evs []Event, opts Options) string {
	t.Helper()
	var b strings.Builder
	if err := Render(&b, "client 198.18.0.1:49152", "server 198.18.0.2:80", evs, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func checkGolden(t *testing.T, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Errorf("line %d:\n got %q\nwant %q", i+1, gl, wl)
		}
	}
	t.Logf("whole output:\n%s", got)
}

func TestRenderHandshakeAndClose(t *testing.T) {
	checkGolden(t, render(t, handshakeAndClose(), Options{}), goldenHandshake)
}

const goldenASCII = `   ms  client 198.18.0.1:49152              server 198.18.0.2:80
       ISN 4294967290                                first seq 7
0.000                                           CLOSED -> LISTEN
0.000  CLOSED -> SYN-SENT
0.000  SYN-SENT     --S seq 0 win 64240 len 0-----> LISTEN
                      <mss 1460>
1.000  SYN-SENT     --S seq 0 win 64240 len 0-----x LISTEN
                      <mss 1460>
2.500  SYN-SENT     <-R. seq 0 ack 1 win 64240----- LISTEN
                      len 0
3.000  SYN-SENT     --S seq 0 win 64240 len 0-----> LISTEN
                      <mss 1460,sackOK,
                      TS val 4294967295 ecr 0,
                      wscale 14>
`

// TestRenderASCII covers plain ASCII, a lost segment, wrapping at a
// narrow width and an ISN that wraps around 2^32.
func TestRenderASCII(t *testing.T) {
	mss := wire.TCPOptions{HasMSS: true, MSS: 1460}
	lost := sg(1, Left, syn, 4294967290, 0, 0, mss)
	lost.Lost = true
	big := wire.TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 4294967295, HasWindowScale: true, WindowScale: 14}
	evs := []Event{
		st(0, Right, tcp.StateClosed, tcp.StateListen),
		st(0, Left, tcp.StateClosed, tcp.StateSynSent),
		sg(0, Left, syn, 4294967290, 0, 0, mss),
		lost,
		sg(2.5, Right, rst|ack, 7, 4294967291, 0, wire.TCPOptions{}),
		sg(3, Left, syn, 4294967290, 0, 0, big),
	}
	checkGolden(t, render(t, evs, Options{ASCII: true, Width: 64}), goldenASCII)
}

// TestRelativeNumbers checks the sequence arithmetic on its own: each
// side's numbers are relative to its own ISN, acks to the other's, across
// the 2^32 wrap, and Absolute turns that off.
func TestRelativeNumbers(t *testing.T) {
	var c, s uint32 = 4294967000, 123
	evs := []Event{
		sg(0, Left, syn, c, 0, 0, wire.TCPOptions{}),
		sg(1, Right, syn|ack, s, c+1, 0, wire.TCPOptions{}),
		sg(2, Left, psh|ack, c+1, s+1, 1000, wire.TCPOptions{}),
		sg(3, Right, ack, s+1, c+1001, 0, wire.TCPOptions{}),
		sg(4, Left, fin|ack, c+1001, s+1, 0, wire.TCPOptions{}),
	}
	var r *renderer
	for _, abs := range []bool{false, true} {
		r = newRenderer("a", "b", evs, Options{Absolute: abs})
		var got []string
		for _, ev := range evs {
			main, _ := r.label(ev)
			got = append(got, main)
		}
		want := []string{
			"S seq 0 win 64240 len 0",
			"S. seq 0 ack 1 win 64240 len 0",
			"P. seq 1 ack 1 win 64240 len 1000",
			". seq 1 ack 1001 win 64240 len 0",
			"F. seq 1001 ack 1 win 64240 len 0",
		}
		if abs {
			want = []string{
				"S seq 4294967000 win 64240 len 0",
				"S. seq 123 ack 4294967001 win 64240 len 0",
				"P. seq 4294967001 ack 124 win 64240 len 1000",
				". seq 124 ack 705 win 64240 len 0",
				"F. seq 705 ack 124 win 64240 len 0",
			}
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("absolute=%v, segment %d: %q, want %q", abs, i, got[i], want[i])
			}
		}
	}
}

// TestRenderColor: with Color the same ladder gains ANSI colours (states,
// notes) and nothing else; without, it has none.
func TestRenderColor(t *testing.T) {
	evs := handshakeAndClose()
	evs[4].Seg.Anomalies = Retransmission
	evs[6].Seg.Note = "connection refused"
	plain := render(t, evs, Options{})
	colored := render(t, evs, Options{Color: true})
	if strings.Contains(plain, "\x1b[") {
		t.Error("colour codes without Color")
	}
	for _, want := range []string{ansiState + "SYN-SENT" + ansiReset, ansiNote + "[retransmission]" + ansiReset,
		ansiSevere + "[connection refused]" + ansiReset, ansiState + "CLOSE-WAIT" + ansiReset} {
		if !strings.Contains(colored, want) {
			t.Errorf("coloured ladder lacks %q", want)
		}
	}
	stripped := colored
	for _, c := range []string{ansiState, ansiNote, ansiSevere, ansiReset} {
		stripped = strings.ReplaceAll(stripped, c, "")
	}
	checkGolden(t, stripped, plain)
}
