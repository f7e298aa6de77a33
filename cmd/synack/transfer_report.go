package main

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/synack/synack/analysis"
	"github.com/synack/synack/ladder"
	"github.com/synack/synack/report"
	"github.com/synack/synack/sim"
	"github.com/synack/synack/tcp"
)

// transferReport gathers what synack transfer --report draws: the
// sender's engine state sampled over time (tcp.Info), its state changes,
// and the headers of the packets as they left each host. A nil
// *transferReport does nothing.
type transferReport struct {
	o       transferOptions
	start   time.Time
	last    time.Time
	samples []report.EngineSample
	pkts    []analysis.Packet
}

// Bounds of what a report keeps, so that a long transfer cannot exhaust
// memory: packets (their first bytes only) and engine samples.
const (
	reportMaxPackets = 200_000
	reportHeaderLen  = 128
	reportMaxSamples = 100_000
)

func newTransferReport(o transferOptions, start time.Time) *transferReport {
	if o.report == "" {
		return nil
	}
	return &transferReport{o: o, start: start}
}

// packet keeps the headers of a packet sent by either host.
func (r *transferReport) packet(p sim.Packet) {
	if r == nil || len(r.pkts) >= reportMaxPackets {
		return
	}
	n := min(len(p.Data), reportHeaderLen)
	r.pkts = append(r.pkts, analysis.Packet{Time: p.Time, Data: append([]byte(nil), p.Data[:n]...), Truncated: n < len(p.Data)})
}

// sample records the sender's engine state at most once a millisecond.
func (r *transferReport) sample(now time.Time, info *tcp.Info) {
	if r == nil || len(r.samples) >= reportMaxSamples || (len(r.samples) > 0 && now.Sub(r.last) < time.Millisecond) {
		return
	}
	r.last = now
	r.samples = append(r.samples, report.EngineSample{
		Time: now.Sub(r.start), State: info.State.String(), Cwnd: info.Cwnd, Ssthresh: info.Ssthresh,
		SRTT: info.SRTT, RTO: info.RTO, Retransmits: info.TotalRetransmits,
	})
}

// write writes the report: the sender's state changes from the network's
// trace join the samples, and the packets go through the same analysis as
// a capture's.
func (r *transferReport) write(n *sim.Network, sender *sim.Host, res *transferResult) error {
	if r == nil {
		return nil
	}
	server := netip.AddrPortFrom(transferServer, transferPort)
	for _, rec := range n.Trace() {
		if rec.Kind != sim.RecordState || rec.Host != sender || rec.State.Remote != server {
			continue
		}
		s := report.EngineSample{Time: rec.Time.Sub(r.start), State: rec.State.To.String()}
		if len(r.samples) > 0 && s.Time > r.samples[len(r.samples)-1].Time+time.Second {
			break // long after the data: TIME-WAIT's end would squeeze the graphs
		}
		i, _ := slices.BinarySearchFunc(r.samples, s.Time, func(e report.EngineSample, t time.Duration) int { return int(e.Time - t) })
		if i > 0 {
			prev := r.samples[i-1]
			s.Cwnd, s.Ssthresh, s.SRTT, s.RTO, s.Retransmits = prev.Cwnd, prev.Ssthresh, prev.SRTT, prev.RTO, prev.Retransmits
		}
		r.samples = slices.Insert(r.samples, i, s)
	}
	convs, _ := analysis.Analyze(r.pkts)
	rep := report.Report{
		Title: fmt.Sprintf("synack transfer of %s: %s", fmtBytes(r.o.bytes), describePath(r.o)),
		Notes: []string{
			fmt.Sprintf("seed %d, congestion control %s; %.3f s of virtual time, goodput %.1f Mbit/s, %d of %d data segments retransmitted, data intact: %v",
				r.o.seed, r.o.cc, res.Seconds, res.Goodput*8/1e6, res.Retransmits, res.Segments, res.Intact),
			"The packets are seen as they leave each host, before the path's impairments: round trips measured from them are one-way delays.",
		},
		Engine:   []report.EngineTrace{{Name: fmt.Sprintf("the sender's engine (%v → %v)", transferClient, server), Samples: r.samples}},
		Captures: []report.Capture{{Name: "the packets", Conversations: convs}},
	}
	if len(r.pkts) >= reportMaxPackets {
		rep.Notes = append(rep.Notes, fmt.Sprintf("Only the first %d packets are drawn.", reportMaxPackets))
	}
	f, err := os.Create(r.o.report)
	if err != nil {
		return err
	}
	if err := report.HTML(f, rep, ladder.Options{}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
