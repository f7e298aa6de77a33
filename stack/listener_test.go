package stack

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestListenerClose(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	// One connection completes but is never accepted.
	c, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		time.Sleep(10 * time.Millisecond)
		_, err := ln.Accept() // takes the queued one
		if err != nil {
			errc <- err
			return
		}
		_, err = ln.Accept()
		errc <- err
	}()
	time.Sleep(30 * time.Millisecond)
	c2, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	_ = c2
	// c2 might have been accepted by the second Accept; close the listener now.
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept: %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v; want net.ErrClosed", err)
	}
	if err := ln.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v; want net.ErrClosed", err)
	}
	c.Close()
}

func TestAcceptContext(t *testing.T) {
	_, sv := pair(t, Options{}, Options{})
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := ln.AcceptContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AcceptContext: %v; want context.DeadlineExceeded", err)
	}
	ln.SetDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := ln.Accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Accept past the deadline: %v; want os.ErrDeadlineExceeded", err)
	}
}

func TestStackClose(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)
	ln, err := sv.Listen("tcp", ":81")
	if err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 1))
		readErr <- err
	}()
	acceptErr := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		acceptErr <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := sv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-readErr; !errors.Is(err, net.ErrClosed) {
		t.Errorf("a blocked Read after Stack.Close: %v; want net.ErrClosed", err)
	}
	if err := <-acceptErr; !errors.Is(err, net.ErrClosed) {
		t.Errorf("a blocked Accept after Stack.Close: %v; want net.ErrClosed", err)
	}
	// The peer was told.
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("peer read after Stack.Close: %v; want ECONNRESET", err)
	}
	if st := sv.Stats(); st.Connections != 0 {
		t.Errorf("Connections after Close = %d; want 0", st.Connections)
	}
	if err := sv.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Stack.Close: %v; want net.ErrClosed", err)
	}
	if _, err := sv.Dial("tcp", "198.18.0.1:80"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Dial on a closed stack: %v; want net.ErrClosed", err)
	}
}

func TestListenerCloseResetsQueued(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cl.Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eventually(t, "the connection to be queued", func() bool { return sv.Stats().Connections == 1 })
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read on a never-accepted connection after Listener.Close: %v; want ECONNRESET", err)
	}
	eventually(t, "the server to forget it", func() bool { return sv.Stats().Connections == 0 })
	if _, err := cl.Dial("tcp", "198.18.0.2:80"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after Listener.Close: %v; want ECONNREFUSED", err)
	}
}
