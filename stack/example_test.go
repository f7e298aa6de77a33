package stack_test

import (
	"fmt"
	"io"
	"net/netip"

	"github.com/synack/synack/link"
	"github.com/synack/synack/stack"
)

// Two stacks joined by an in-memory wire: a server that echoes, and a
// client that talks to it through the usual net.Conn methods. The README
// shows this example.
func Example() {
	a, b := link.Pipe(1500)
	client, server := stack.New(stack.Options{}), stack.New(stack.Options{})
	defer client.Close()
	defer server.Close()
	client.AddLink(a, netip.MustParsePrefix("198.18.0.1/24"))
	server.AddLink(b, netip.MustParsePrefix("198.18.0.2/24"))

	ln, err := server.Listen("tcp", ":7")
	if err != nil {
		panic(err)
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c) // echo until the client half-closes
		c.Close()
	}()

	c, err := client.Dial("tcp", "198.18.0.2:7")
	if err != nil {
		panic(err)
	}
	c.Write([]byte("hello, synack"))
	c.CloseWrite() // FIN: the server's io.Copy ends
	reply, _ := io.ReadAll(c)
	c.Close()
	fmt.Printf("%s\n", reply)
	// Output: hello, synack
}
