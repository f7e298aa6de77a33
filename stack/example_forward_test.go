package stack_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/netip"

	"github.com/synack/synack/link/tun"
	"github.com/synack/synack/stack"
)

// A minimal tun2socks-style gateway: every TCP connection that enters the
// TUN device, to any address, is relayed to its destination through the
// host's sockets; a refused destination refuses the client. (Package
// gateway adds UDP, SOCKS5, resets, bounds and logs; "synack gateway" is
// the command.)
func ExampleStack_ForwardTCP() {
	dev, err := tun.Open(tun.Options{Name: "gw0", Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.40.1/24")},
		Routes: []netip.Prefix{netip.MustParsePrefix("198.19.0.0/16")}})
	if err != nil {
		log.Fatal(err)
	}
	s := stack.New(stack.Options{})
	s.AddLink(dev, netip.MustParsePrefix("198.18.40.2/24"))
	s.ForwardTCP(0, func(r *stack.TCPRequest) {
		up, err := net.Dial("tcp", r.LocalAddr().String())
		if err != nil {
			r.Refuse(stack.RefuseReset)
			return
		}
		c, err := r.Accept(context.Background())
		if err != nil {
			up.Close()
			return
		}
		go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
		io.Copy(c, up)
		c.CloseWrite()
	})
	select {}
}
