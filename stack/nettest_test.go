package stack

import (
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// TestNetConn runs the standard net.Conn conformance suite over a synack
// connection pair.
func TestNetConn(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		cl, sv := pair(t, Options{}, Options{})
		ln, err := sv.Listen("tcp", ":80")
		if err != nil {
			return nil, nil, nil, err
		}
		defer ln.Close()
		type res struct {
			c   net.Conn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			c, err := ln.Accept()
			ch <- res{c, err}
		}()
		c1, err = cl.Dial("tcp", "198.18.0.2:80")
		if err != nil {
			return nil, nil, nil, err
		}
		r := <-ch
		if r.err != nil {
			c1.Close()
			return nil, nil, nil, r.err
		}
		stop = func() {
			c1.Close()
			r.c.Close()
			cl.Close()
			sv.Close()
		}
		return c1, r.c, stop, nil
	})
}
