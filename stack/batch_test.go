package stack

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/synack/synack/link"
	"github.com/synack/synack/wire"
)

// batchLink is a Pipe end that also takes batches (link.BatchWriter): it
// keeps a copy of every batch and writes its packets on one by one.
type batchLink struct {
	link.Link
	mu      sync.Mutex
	batches [][][]byte
}

func (l *batchLink) WritePackets(pkts [][]byte) (int, error) {
	var cp [][]byte
	for _, p := range pkts {
		cp = append(cp, bytes.Clone(p))
	}
	l.mu.Lock()
	l.batches = append(l.batches, cp)
	l.mu.Unlock()
	for i, p := range pkts {
		if err := l.WritePacket(p); err != nil {
			return i, err
		}
	}
	return len(pkts), nil
}

// TestBatchedOutput: over a link that takes batches, the segments of one
// drain of a sending connection reach it in one WritePackets call, in
// sequence order, as whole valid packets; all the data goes that way, and
// the stack counts each packet sent.
func TestBatchedOutput(t *testing.T) {
	a, b := link.Pipe(1500)
	bl := &batchLink{Link: a}
	cl, sv := pairOn(t, bl, b, Options{}, Options{})
	c, s := connected(t, cl, sv)
	const size = 256 << 10
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 13)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(s)
		got <- b
	}()
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	select {
	case b := <-got:
		if !bytes.Equal(b, data) {
			t.Fatalf("the server read %d bytes, not what was sent", len(b))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the transfer did not finish")
	}

	bl.mu.Lock()
	defer bl.mu.Unlock()
	var npkts, nbytes, most int
	for _, batch := range bl.batches {
		most = max(most, len(batch))
		var next uint32
		for i, p := range batch {
			_, h, payload, err := wire.ParseTCPPacket(p)
			if err != nil {
				t.Fatalf("a batched packet does not parse: %v", err)
			}
			if i > 0 && len(payload) > 0 && h.Seq != next {
				t.Errorf("batch of %d: packet %d at seq %d, want %d", len(batch), i, h.Seq, next)
			}
			next = h.Seq + uint32(len(payload))
			nbytes += len(payload)
			npkts++
		}
	}
	if most < 2 {
		t.Errorf("%d batches, the largest of %d packets: want several packets per call", len(bl.batches), most)
	}
	if nbytes < size {
		t.Errorf("%d bytes of data went through WritePackets, want all %d", nbytes, size)
	}
	if out := cl.Stats().PacketsOut; out < uint64(npkts) {
		t.Errorf("PacketsOut %d, but %d packets were batched", out, npkts)
	}
}

// TestDeliverOffloaded: a SYN whose checksum is only the pseudo-header's
// sum (left to offload) is dropped by DeliverPacket as a bad checksum but
// answered when it comes through DeliverOffloaded.
func TestDeliverOffloaded(t *testing.T) {
	a, b := link.Pipe(1500)
	replies := make(chan []byte, 4)
	b.Attach(link.ReceiverFunc(func(p []byte) { replies <- bytes.Clone(p) }))
	st := New(Options{})
	t.Cleanup(func() { st.Close() })
	if err := st.AddLink(a, netip.PrefixFrom(serverAddr, 24)); err != nil {
		t.Fatal(err)
	}
	ln, err := st.Listen("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ep := wire.Endpoints{Src: clientAddr, Dst: serverAddr}
	h := wire.TCPHeader{SrcPort: 4000, DstPort: 80, Seq: 1000, Flags: wire.FlagSYN, Window: 65535,
		Options: wire.TCPOptions{HasMSS: true, MSS: 1460}}
	syn := wire.AppendTCPPacket(nil, ep, 64, &h, nil)
	// The pseudo-header's sum in place of the checksum: 198.18.0.1,
	// 198.18.0.2, protocol 6, 24 bytes of TCP.
	binary.BigEndian.PutUint16(syn[20+16:], 0xc612+0x0001+0xc612+0x0002+6+24-0xffff)

	st.DeliverPacket(syn)
	eventually(t, "the bad checksum counted", func() bool { return st.Stats().BadChecksum == 1 })
	select {
	case p := <-replies:
		t.Fatalf("DeliverPacket answered a SYN with a partial checksum: %x", p)
	case <-time.After(50 * time.Millisecond):
	}

	st.DeliverOffloaded(syn)
	select {
	case p := <-replies:
		_, rh, _, err := wire.ParseTCPPacket(p)
		if err != nil || rh.Flags != wire.FlagSYN|wire.FlagACK || rh.Ack != 1001 {
			t.Errorf("reply %+v, %v; want a SYN-ACK acknowledging 1001", rh, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no SYN-ACK to the offloaded SYN")
	}
	if n := st.Stats().BadChecksum; n != 1 {
		t.Errorf("BadChecksum %d after the offloaded SYN, want still 1", n)
	}
}
