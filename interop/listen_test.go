//go:build linux

package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSlowAcceptorKernelClients opens 20,000 connections from the Linux
// kernel's side to a synack listener with a backlog of 128 whose acceptor
// takes about one connection a millisecond, slower than the clients come.
// The clients are idle: two client processes inside the namespace (this
// test binary again, as TestSlowAcceptorClientProcess; one process may
// hold only 20,000 descriptors here) connect without blocking (the kernel
// completes each handshake by itself, resending the SYNs the listener
// drops) and never send, so a handshake lost at the server would never
// be noticed. Every connection the kernel holds as ESTABLISHED must be
// accepted, and every accepted one must be held by the kernel.
//
// It took 57 s and 86 s on a 2-core machine shared with other jobs (load
// average 20 to 25); it is skipped with -short:
//
//	sudo SYNACK_REQUIRE_NETNS=1 go test -race -run TestSlowAcceptorKernelClients -v ./interop/
func TestSlowAcceptorKernelClients(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the 20,000-connection run in -short mode")
	}
	const (
		procs   = 2
		n       = 10000 // per process
		backlog = 128
		port    = 8080
		limit   = 240 * time.Second // the whole run
	)
	r := newRig(t, rigOptions{noCap: true})
	// The kernel resends a dropped SYN after 1 s, 3 s, 7 s, ... and gives
	// up after 127 s. On a slow machine a client could so give up while
	// it waits for room in the accept queue (the client knows; no
	// connection is lost, but the count falls short): the namespace's
	// clients resend every second instead, where the kernel can
	// (tcp_syn_linear_timeouts, Linux 6.8+), and try 60 times
	// (TCP_SYNCNT).
	if _, err := r.run(5*time.Second, "sysctl", "-qw", "net.ipv4.tcp_syn_linear_timeouts=50"); err != nil {
		t.Logf("no linear SYN timeouts: %v", err)
	}
	ln, err := r.st.ListenBacklog("tcp4", hostPort(syn4, port), backlog)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	ln.SetDeadline(start.Add(limit))
	accepted := make(chan map[uint16]bool, 1)
	go func() { // the slow acceptor
		got := make(map[uint16]bool, procs*n)
		defer func() { accepted <- got }()
		for len(got) < procs*n {
			c, err := ln.AcceptTCP()
			if err != nil {
				t.Errorf("Accept after %d connections: %v", len(got), err)
				return
			}
			t.Cleanup(func() { c.Close() })
			got[uint16(c.RemoteAddr().(*net.TCPAddr).Port)] = true
			time.Sleep(time.Millisecond)
		}
	}()

	type client struct {
		p   *proc
		in  io.WriteCloser
		out *bufio.Reader
	}
	var clients []client
	for range procs {
		cmd := r.ns.Command(context.Background(), os.Args[0], "-test.run=^TestSlowAcceptorClientProcess$", "-test.v")
		cmd.Env = append(os.Environ(),
			"SYNACK_CLIENTS="+fmt.Sprint(n),
			"SYNACK_CLIENTS_TO="+hostPort(syn4, port))
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, client{startCmd(t, cmd), in, bufio.NewReader(out)})
	}
	for _, c := range clients {
		if line, err := readUntil(c.out, "issued"); err != nil {
			t.Fatalf("client process: %v (%s)\n%s", err, line, c.p.stderr.String())
		}
	}
	t.Logf("%d connects issued in %v", procs*n, time.Since(start).Round(time.Millisecond))

	got := <-accepted
	elapsed := time.Since(start)
	st := r.st.Stats()
	t.Logf("%d of %d accepted in %v; ListenOverflows %d, ListenDrops %d, SynCookiesSent %d, AcceptQueueDrops %d",
		len(got), procs*n, elapsed.Round(time.Millisecond), st.ListenOverflows, st.ListenDrops, st.SynCookiesSent, st.AcceptQueueDrops)

	// Every client holds an ESTABLISHED connection, and its port is one
	// the server accepted.
	established, missing, total := 0, 0, 0
	for _, c := range clients {
		if _, err := io.WriteString(c.in, "report\n"); err != nil {
			t.Fatal(err)
		}
		for {
			line, err := c.out.ReadString('\n')
			if err != nil {
				t.Fatalf("client report: %v\n%s", err, c.p.stderr.String())
			}
			var lport uint16
			var state uint8
			var soerr string
			if strings.TrimSpace(line) == "end" {
				break
			}
			if _, err := fmt.Sscan(line, &lport, &state, &soerr); err != nil {
				continue // the test framework's own output
			}
			total++
			if state == unix.BPF_TCP_ESTABLISHED {
				established++
			}
			if !got[lport] {
				if missing < 5 {
					t.Errorf("client port %d (kernel state %d, %s) was never accepted", lport, state, soerr)
				}
				missing++
			}
			delete(got, lport)
		}
		c.in.Close()
	}
	if total != procs*n || established != total || missing != 0 || len(got) != 0 {
		t.Fatalf("%d clients reported, %d ESTABLISHED, %d never accepted, %d accepted that no client holds; want %d, %d, 0, 0",
			total, established, missing, len(got), procs*n, procs*n)
	}
	if st.ListenOverflows == 0 {
		t.Errorf("ListenOverflows 0: the acceptor was never behind, the test tested nothing")
	}
	for _, c := range clients {
		if err := c.p.wait(10 * time.Second); err != nil {
			t.Error(err)
		}
	}
}

// readUntil reads lines from r until one is want.
func readUntil(r *bufio.Reader, want string) (string, error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return line, err
		}
		if strings.TrimSpace(line) == want {
			return line, nil
		}
	}
}

// TestSlowAcceptorClientProcess is the client side of
// TestSlowAcceptorKernelClients, run as its own process inside the
// namespace; it skips unless SYNACK_CLIENTS is set. It opens that many
// non-blocking connections to SYNACK_CLIENTS_TO, at most 1,000 a second
// and with at most 300 of them still connecting (so that on a slow
// machine no client exhausts its SYN retries while it waits), prints
// "issued", then for every "report" line on its standard input prints
// "port state error" for each connection (the kernel's TCP_INFO state)
// and "end"; it closes them all and exits when its input ends.
func TestSlowAcceptorClientProcess(t *testing.T) {
	nstr := os.Getenv("SYNACK_CLIENTS")
	if nstr == "" {
		t.Skip("the client process of TestSlowAcceptorKernelClients")
	}
	n, err := strconv.Atoi(nstr)
	if err != nil {
		t.Fatal(err)
	}
	to, err := netip.ParseAddrPort(os.Getenv("SYNACK_CLIENTS_TO"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		batch   = 10                    // connects per pacing step
		pace    = 10 * time.Millisecond // so at most 1,000 connects/s
		pending = 300                   // connects not yet ESTABLISHED, at most
	)
	sa := &unix.SockaddrInet4{Port: int(to.Port()), Addr: to.Addr().As4()}
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	var waiting []int // fds whose connect has not completed
	for len(fds) < n {
		still := waiting[:0]
		for _, fd := range waiting {
			info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil {
				t.Fatal(err)
			}
			if info.State == unix.BPF_TCP_SYN_SENT {
				still = append(still, fd)
			}
		}
		waiting = still
		for range min(batch, n-len(fds), pending-len(waiting)) {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatalf("socket %d: %v", len(fds), err)
			}
			fds = append(fds, fd)
			waiting = append(waiting, fd)
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_SYNCNT, 60); err != nil {
				t.Fatalf("TCP_SYNCNT: %v", err)
			}
			if err := unix.Connect(fd, sa); err != unix.EINPROGRESS {
				t.Fatalf("connect %d: %v; want EINPROGRESS", len(fds), err)
			}
		}
		time.Sleep(pace)
	}
	fmt.Println("issued")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "report" {
			continue
		}
		w := bufio.NewWriter(os.Stdout)
		for _, fd := range fds {
			sa, err := unix.Getsockname(fd)
			if err != nil {
				t.Fatal(err)
			}
			info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil {
				t.Fatal(err)
			}
			soerr, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
			fmt.Fprintf(w, "%d %d %s\n", sa.(*unix.SockaddrInet4).Port, info.State, strings.ReplaceAll(syscall.Errno(soerr).Error(), " ", "_"))
		}
		fmt.Fprintln(w, "end")
		w.Flush()
	}
}
