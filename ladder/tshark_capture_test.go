package ladder_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/synack/synack/analysis"
	"github.com/synack/synack/ladder"
)

// tsharkFlags maps tshark's tcp.analysis fields to our anomalies.
var tsharkFlags = []struct {
	field string
	a     ladder.Anomaly
}{
	{"tcp.analysis.retransmission", ladder.Retransmission},
	{"tcp.analysis.fast_retransmission", ladder.FastRetransmission},
	{"tcp.analysis.spurious_retransmission", ladder.SpuriousRetransmission},
	{"tcp.analysis.out_of_order", ladder.OutOfOrder},
	{"tcp.analysis.lost_segment", ladder.PreviousLost},
	{"tcp.analysis.ack_lost_segment", ladder.AckedUnseen},
	{"tcp.analysis.duplicate_ack", ladder.DupACK},
	{"tcp.analysis.zero_window", ladder.ZeroWindow},
	{"tcp.analysis.zero_window_probe", ladder.ZeroWindowProbe},
	{"tcp.analysis.window_full", ladder.WindowFull},
	{"tcp.analysis.window_update", ladder.WindowUpdate},
	{"tcp.analysis.keep_alive", ladder.KeepAlive},
	{"tcp.analysis.keep_alive_ack", ladder.KeepAliveACK},
}

// TestAnomaliesMatchTshark compares, frame by frame, the anomalies we
// mark in each test capture with those tshark's TCP analysis marks. It
// runs when tshark is on PATH, and must when SYNACK_REQUIRE_TSHARK=1.
func TestAnomaliesMatchTshark(t *testing.T) {
	if testing.Short() && os.Getenv("SYNACK_REQUIRE_TSHARK") != "1" {
		t.Skip("-short: tshark takes seconds per capture")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("SYNACK_REQUIRE_TSHARK") == "1" {
			t.Fatal("SYNACK_REQUIRE_TSHARK=1 but tshark is not on PATH")
		}
		t.Skip("tshark is not on PATH")
	}
	marked := 0
	for _, tt := range captureTests {
		t.Run(tt.file, func(t *testing.T) {
			file := filepath.Join("testdata", tt.file)
			args := []string{"-r", file, "-Y", "tcp", "-T", "fields", "-e", "frame.number", "-e", "tcp.analysis.duplicate_ack_num"}
			for _, f := range tsharkFlags {
				args = append(args, "-e", f.field)
			}
			out, err := exec.Command(tshark, args...).Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			theirs := map[int]ladder.Anomaly{}
			dupNum := map[int]int{}
			for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
				f := strings.Split(line, "\t")
				if len(f) < 2+len(tsharkFlags) {
					continue
				}
				frame, _ := strconv.Atoi(f[0])
				dupNum[frame], _ = strconv.Atoi(f[1])
				for i, fl := range tsharkFlags {
					if f[2+i] != "" {
						theirs[frame] |= fl.a
					}
				}
			}
			pkts, err := analysis.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			convs, _ := analysis.Analyze(pkts)
			ours := map[int]ladder.Anomaly{}
			ourDup := map[int]int{}
			for _, c := range convs {
				for _, sg := range c.Segments {
					// Ours only: D-SACK and challenge ACKs.
					ours[sg.Frame] = sg.Seg.Anomalies &^ (ladder.DSACK | ladder.ChallengeACK)
					ourDup[sg.Frame] = sg.Seg.DupAck
				}
			}
			var frames []int
			for f := range ours {
				frames = append(frames, f)
			}
			sort.Ints(frames)
			for _, f := range frames {
				// A D-SACK lets us call a retransmission spurious after
				// the fact, which tshark does not.
				if ours[f]&ladder.SpuriousRetransmission != 0 && theirs[f]&ladder.Retransmission != 0 {
					theirs[f] |= ladder.SpuriousRetransmission
				}
				if ours[f] != theirs[f] {
					t.Errorf("frame %d: we mark [%v], tshark [%v]", f, ours[f], theirs[f])
				}
				if theirs[f]&ladder.DupACK != 0 && ourDup[f] != dupNum[f] {
					t.Errorf("frame %d: dup ACK #%d, tshark #%d", f, ourDup[f], dupNum[f])
				}
				if theirs[f] != 0 {
					marked++
				}
			}
		})
	}
	if marked == 0 {
		t.Error("tshark marked nothing in any capture: the comparison tested nothing")
	}
}
