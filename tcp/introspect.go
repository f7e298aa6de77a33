package tcp

// RetransmitCauses counts a TCB's retransmitted segments by what sent
// them; the three add up to Info.TotalRetransmits.
type RetransmitCauses struct {
	Timeout  int // after a retransmission timeout (RTO recovery)
	Recovery int // in fast recovery: fast retransmit, SACK and RACK loss detection
	Probe    int // tail loss probes and other retransmissions outside recovery
}

// RetransmitCauses returns the TCB's retransmissions by cause.
func (t *TCB) RetransmitCauses() RetransmitCauses {
	if t.undoState == nil {
		return RetransmitCauses{}
	}
	c := &t.rtxCauses
	return RetransmitCauses{Timeout: int(c.Timeout), Recovery: int(c.Recovery), Probe: int(c.Probe)}
}

// Queued returns how many bytes wait in the receive buffer to be read
// (in order) and how many in the send buffer, written but not yet
// acknowledged: ss's Recv-Q and Send-Q.
func (t *TCB) Queued() (recv, send int) { return t.rcvBuf.Len(), t.sndBuf.Len() }

// countRetransmit records one retransmission's cause (retransmitted).
func (t *TCB) countRetransmit() {
	switch t.recState {
	case recRTO:
		t.rtxCauses.Timeout++
	case recFast:
		t.rtxCauses.Recovery++
	default:
		t.rtxCauses.Probe++
	}
}
