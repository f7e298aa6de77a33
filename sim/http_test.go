package sim

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestHTTP carries an HTTP/1.1 exchange between two simulated hosts in one
// goroutine, with net/http's message reader and writers and a handler.
//
// http.Client and http.Server themselves cannot run in manual mode: they
// read and write each connection from goroutines of their own, whereas a
// manual-mode stack only moves while its caller runs the network.
func TestHTTP(t *testing.T) {
	n, cli, _, ln := pair(t, 6)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello from %s, you asked for %s\n", r.Host, r.URL.Path)
	})

	c, err := cli.Stack().Dial("tcp", "198.18.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", "http://198.18.0.2/index.html", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}

	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sreq, err := http.ReadRequest(bufio.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, sreq)
	res := rec.Result()
	res.ContentLength = int64(rec.Body.Len())
	// One write for the whole response, as a server's buffered writer
	// does: written piecemeal, Nagle's algorithm would hold the body back
	// until the client's delayed ACK, 40 ms later.
	bw := bufio.NewWriter(s)
	if err := res.Write(bw); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}

	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello from 198.18.0.2, you asked for /index.html\n"; resp.StatusCode != 200 || string(body) != want {
		t.Errorf("response %d %q, want 200 %q", resp.StatusCode, body, want)
	}
	// Handshake, request and response: two round trips.
	if got := n.Elapsed(); got != 4*time.Millisecond {
		t.Errorf("the exchange took %v, want 4ms", got)
	}
	c.Close()
	s.Close()
	n.Run()
}
