package link

// Sniff wraps l so that fn sees every packet that crosses it: Outbound for
// each packet the stack writes (before it is handed to l, so that a reply
// delivered synchronously is seen after it) and Inbound for
// each packet delivered to the stack (before the stack sees it). fn must not
// keep pkt after it returns nor modify it; it may be called from several
// goroutines at once and should be quick. pcap taps are built on it.
func Sniff(l Link, fn func(dir Direction, pkt []byte)) Link {
	return &sniffer{l: l, fn: fn}
}

type sniffer struct {
	l  Link
	fn func(Direction, []byte)
}

// MTU implements Link.
func (s *sniffer) MTU() int { return s.l.MTU() }

// WritePacket implements Link.
func (s *sniffer) WritePacket(pkt []byte) error {
	s.fn(Outbound, pkt)
	return s.l.WritePacket(pkt)
}

// Attach implements Link.
func (s *sniffer) Attach(r Receiver) { s.l.Attach(sniffReceiver{r: r, fn: s.fn}) }

// Close implements Link.
func (s *sniffer) Close() error { return s.l.Close() }

type sniffReceiver struct {
	r  Receiver
	fn func(Direction, []byte)
}

func (s sniffReceiver) DeliverPacket(pkt []byte) {
	s.fn(Inbound, pkt)
	s.r.DeliverPacket(pkt)
}

// String returns "outbound" or "inbound".
func (d Direction) String() string {
	switch d {
	case Outbound:
		return "outbound"
	case Inbound:
		return "inbound"
	}
	return "Direction(?)"
}

// ReceiverFunc adapts a function to the Receiver interface.
type ReceiverFunc func(pkt []byte)

// DeliverPacket calls f(pkt).
func (f ReceiverFunc) DeliverPacket(pkt []byte) { f(pkt) }
