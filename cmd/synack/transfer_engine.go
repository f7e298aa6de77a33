package main

import "github.com/synack/synack/tcp"

// engineCounters are the sender's own counts (tcp.Info).
type engineCounters struct {
	retransmits, spurious int64
}

func countersOf(info *tcp.Info) engineCounters {
	return engineCounters{int64(info.TotalRetransmits), int64(info.SpuriousRetransmits)}
}
