package tcp

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// transition is one arrow of the RFC 9293 state diagram (§3.3.2, Figure
// 5), or one of the further transitions §3.10 describes, with the tests
// that cover it.
type transition struct {
	from, to string
	event    string
	pkg      string   // the package whose tests cover it: "tcp" or "stack"
	tests    []string // test functions in pkg
	note     string
}

var transitions = []transition{
	// Figure 5.
	{"CLOSED", "LISTEN", "passive OPEN", "stack", []string{"TestListenerStates"}, "listeners live in package stack"},
	{"CLOSED", "SYN-SENT", "active OPEN / snd SYN", "tcp", []string{"TestTransition_Closed_SynSent_ActiveOpen"}, ""},
	{"LISTEN", "CLOSED", "CLOSE", "stack", []string{"TestListenerStates"}, "listeners live in package stack"},
	{"LISTEN", "SYN-RECEIVED", "rcv SYN / snd SYN,ACK", "tcp", []string{"TestTransition_Listen_SynReceived_Syn", "TestHandleListen"}, ""},
	{"LISTEN", "SYN-SENT", "SEND / snd SYN", "", nil, "not offered (no sockets API has it)"},
	{"SYN-SENT", "SYN-RECEIVED", "rcv SYN / snd SYN,ACK (simultaneous open)", "tcp", []string{"TestTransition_SynSent_SynReceived_SimultaneousOpen", "TestSimultaneousOpen_AckCompletes"}, ""},
	{"SYN-SENT", "ESTABLISHED", "rcv SYN,ACK / snd ACK", "tcp", []string{"TestTransition_SynSent_Established_SynAck", "TestOldDuplicateSyn"}, ""},
	{"SYN-SENT", "CLOSED", "CLOSE / delete TCB", "tcp", []string{"TestTransition_SynSent_Closed_Close"}, ""},
	{"SYN-RECEIVED", "LISTEN", "rcv RST (passive OPEN)", "tcp", []string{"TestTransition_SynReceived_Listen_Rst", "TestSynReceived_NewSyn_Listen"}, ""},
	{"SYN-RECEIVED", "ESTABLISHED", "rcv ACK of SYN", "tcp", []string{"TestTransition_SynReceived_Established_Ack", "TestThirdAckCarriesData"}, ""},
	{"SYN-RECEIVED", "FIN-WAIT-1", "CLOSE / snd FIN", "tcp", []string{"TestTransition_SynReceived_FinWait1_Close"}, ""},
	{"ESTABLISHED", "FIN-WAIT-1", "CLOSE / snd FIN", "tcp", []string{"TestTransition_Established_FinWait1_Close", "TestHalfClose_CloseWriteThenRead"}, ""},
	{"ESTABLISHED", "CLOSE-WAIT", "rcv FIN / snd ACK", "tcp", []string{"TestTransition_Established_CloseWait_Fin"}, ""},
	{"FIN-WAIT-1", "FIN-WAIT-2", "rcv ACK of FIN", "tcp", []string{"TestTransition_FinWait1_FinWait2_AckOfFin"}, ""},
	{"FIN-WAIT-1", "CLOSING", "rcv FIN / snd ACK", "tcp", []string{"TestTransition_FinWait1_Closing_SimultaneousClose", "TestPair_SimultaneousClose"}, ""},
	{"FIN-WAIT-2", "TIME-WAIT", "rcv FIN / snd ACK", "tcp", []string{"TestTransition_FinWait2_TimeWait_Fin"}, ""},
	{"CLOSING", "TIME-WAIT", "rcv ACK of FIN", "tcp", []string{"TestTransition_Closing_TimeWait_AckOfFin"}, ""},
	{"CLOSE-WAIT", "LAST-ACK", "CLOSE / snd FIN", "tcp", []string{"TestTransition_CloseWait_LastAck_Close", "TestHalfClose_WriteInCloseWait"}, ""},
	{"LAST-ACK", "CLOSED", "rcv ACK of FIN", "tcp", []string{"TestTransition_LastAck_Closed_AckOfFin"}, ""},
	{"TIME-WAIT", "CLOSED", "Timeout=2MSL", "tcp", []string{"TestTransition_TimeWait_Closed_Timeout", "TestTimeWait_RetransmittedFin_ReAckedAndTimerRestarted"}, ""},

	// §3.10.7.4, eighth: "If our FIN has been ACKed (perhaps in this
	// segment), then enter TIME-WAIT".
	{"FIN-WAIT-1", "TIME-WAIT", "rcv FIN,ACK of FIN / snd ACK", "tcp", []string{"TestTransition_FinWait1_TimeWait_FinAckingOurFin"}, ""},

	// Resets, timeouts and ABORT (§3.10.5, §3.10.7, §3.10.8).
	{"SYN-SENT", "CLOSED", "rcv RST with acceptable ACK (ECONNREFUSED)", "tcp", []string{"TestTransition_SynSent_Closed_RstRefused"}, ""},
	{"SYN-SENT", "CLOSED", "SYN retransmissions exhausted (ETIMEDOUT)", "tcp", []string{"TestTransition_SynSent_Closed_SynRetriesExhausted"}, ""},
	{"SYN-RECEIVED", "CLOSED", "rcv RST, active OPEN (ECONNREFUSED)", "tcp", []string{"TestTransition_SynReceived_Closed_RstActive"}, ""},
	{"SYN-RECEIVED", "CLOSED", "SYN-ACK retransmissions exhausted (silent)", "tcp", []string{"TestSynAckRetriesExhausted"}, ""},
	{"ESTABLISHED", "CLOSED", "rcv RST (ECONNRESET)", "tcp", []string{"TestTransition_Established_Closed_Rst", "TestRstAcceptability"}, ""},
	{"ESTABLISHED", "CLOSED", "ABORT / snd RST", "tcp", []string{"TestAbort"}, ""},
	{"ESTABLISHED", "CLOSED", "CLOSE with unread data / snd RST", "tcp", []string{"TestClose_UnreadData_Reset"}, ""},
	{"ESTABLISHED", "CLOSED", "retransmissions exhausted (ETIMEDOUT)", "tcp", []string{"TestRetransmission_MaxRetries_TimedOut"}, ""},
	{"ESTABLISHED", "CLOSED", "keepalive probes unanswered / snd RST (ETIMEDOUT)", "tcp", []string{"TestKeepAlive_ProbesAndTimeout"}, ""},
	{"FIN-WAIT-1", "CLOSED", "rcv RST (ECONNRESET)", "tcp", []string{"TestTransition_FinWait1_Closed_Rst"}, ""},
	{"FIN-WAIT-2", "CLOSED", "rcv RST (ECONNRESET)", "tcp", []string{"TestTransition_FinWait2_Closed_Rst"}, ""},
	{"FIN-WAIT-2", "CLOSED", "rcv data after CLOSE / snd RST", "tcp", []string{"TestClose_DataAfterClose_Reset"}, ""},
	{"FIN-WAIT-2", "CLOSED", "FIN-WAIT-2 timeout after CLOSE", "tcp", []string{"TestFinWait2Timeout"}, ""},
	{"CLOSE-WAIT", "CLOSED", "rcv RST (ECONNRESET)", "tcp", []string{"TestTransition_CloseWait_Closed_Rst"}, ""},
	{"CLOSING", "CLOSED", "rcv RST", "tcp", []string{"TestTransition_Closing_Closed_Rst"}, ""},
	{"LAST-ACK", "CLOSED", "rcv RST", "tcp", []string{"TestTransition_LastAck_Closed_Rst"}, ""},
	{"TIME-WAIT", "CLOSED", "rcv newer SYN (RFC 6191): the 4-tuple is reopened", "tcp", []string{"TestTimeWait_SynReopensWhenSequenceNewer", "TestTimeWait_Timestamps"}, "a RST is ignored (RFC 1337): TestTimeWait_RstIgnored"},
}

// TestTransitionTable fails when a test the table names for package tcp
// does not exist, or a transition of this package has no test.
func TestTransitionTable(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				funcs[fd.Name.Name] = true
			}
		}
	}
	states := map[string]bool{}
	for _, n := range stateNames {
		states[n] = true
	}
	for _, tr := range transitions {
		if !states[tr.from] || !states[tr.to] {
			t.Errorf("%s -> %s: unknown state", tr.from, tr.to)
		}
		switch tr.pkg {
		case "tcp":
			if len(tr.tests) == 0 {
				t.Errorf("%s -> %s (%s): no test", tr.from, tr.to, tr.event)
			}
			for _, name := range tr.tests {
				if !funcs[name] {
					t.Errorf("%s -> %s (%s): test %s does not exist", tr.from, tr.to, tr.event, name)
				}
			}
		case "stack":
			// Checked by package stack's own tests.
		case "":
			if tr.note == "" {
				t.Errorf("%s -> %s: no package and no note", tr.from, tr.to)
			}
		default:
			t.Errorf("%s -> %s: unknown package %q", tr.from, tr.to, tr.pkg)
		}
	}
}
