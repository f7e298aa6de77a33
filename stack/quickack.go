package stack

import "time"

// SetQuickAck sets TCP_QUICKACK as Linux does: false delays ACKs as on an
// interactive connection (they ride on replies), true ends that and sends
// a pending delayed ACK at once.
func (c *Conn) SetQuickAck(on bool) error {
	return c.do("set", func(now time.Time) error {
		c.tcb.SetQuickAck(on, now)
		return nil
	})
}
