//go:build linux

package interop

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestZZDebugRetrans(t *testing.T) {
	r := newRig(t, rigOptions{noCap: true, offload: true})
	path := filepath.Join("/tmp", "tunoff-dbg.pcap")
	p := r.start("tcpdump", "-i", tunName, "-n", "-U", "-B", "65536", "-s", "200", "-w", path)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), "listening on") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r0 := r.kernelTCPStat("RetransSegs")
	tlp0 := r.kernelStat("netstat", "TcpExt:", "TCPLossProbes")
	for i := 0; i < 4; i++ {
		bulkBoth(t, r, uint16(6000+i))
	}
	time.Sleep(500 * time.Millisecond)
	p.stop(5 * time.Second)
	st := r.st.Stats()
	t.Logf("linkErrors %d retrans %d dev %+v", st.LinkErrors, st.Retransmits, r.dev.Stats())
	t.Logf("kernel retrans %d TLP %d", r.kernelTCPStat("RetransSegs")-r0, r.kernelStat("netstat", "TcpExt:", "TCPLossProbes")-tlp0)
	out, _ := exec.Command("tshark", "-n", "-r", path, "-Y", "tcp.analysis.retransmission || tcp.analysis.spurious_retransmission || tcp.options.sack.dsack", "-T", "fields", "-e", "frame.number", "-e", "frame.time_relative", "-e", "ip.src", "-e", "tcp.srcport", "-e", "tcp.seq", "-e", "tcp.len", "-e", "tcp.flags.str", "-e", "tcp.options.sack.dsack_le").CombinedOutput()
	t.Logf("%s", out)
}

func bulkBoth(t *testing.T, r *rig, port uint16) {
	bulkBothFam(t, r, families[0], port, 16<<20, payloadSum(t, 16<<20))
}
