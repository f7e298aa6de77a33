package sim

// Inject sends pkt, a whole IP packet, on h's link as if h's stack had
// sent it: it is recorded, captured, filtered, impaired and delivered
// like any other packet. Scenarios use it for segments no stack would
// send at that moment, such as an old duplicate SYN or a flood of SYNs
// from spoofed addresses.
func (h *Host) Inject(pkt []byte) error { return h.link.WritePacket(pkt) }
