//go:build linux

// Package netns makes throw-away Linux network namespaces for synack's
// interoperability tests, and runs code, sockets and commands inside them.
//
// Nothing here touches the caller's own namespace: interfaces and
// addresses are made inside the namespaces, and Close deletes them.
package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NS is a named network namespace (visible to "ip netns").
type NS struct {
	Name string
	h    netns.NsHandle
}

var seq atomic.Uint32

// RunDir is where named namespaces live: a file per namespace, bind-mounted
// from the namespace, where "ip netns" looks for them.
const RunDir = "/var/run/netns"

// New creates a network namespace with a fresh name beginning with prefix
// ("prefix-PID-N") and brings its loopback interface up. The caller must
// Close it. Namespaces named by the same prefix for a process that no
// longer exists (left over by an earlier run that was killed) are deleted
// first.
func New(prefix string) (*NS, error) {
	if err := shareRunDir(); err != nil {
		return nil, err
	}
	sweep(prefix)
	return create(fmt.Sprintf("%s-%d-%d", prefix, unix.Getpid(), seq.Add(1)))
}

// create makes the namespace called name as "ip netns add" does: with
// RunDir a shared mount point, a leftover of the same name removed, the
// file created and the new namespace bind-mounted on it.
func create(name string) (*NS, error) {
	path := filepath.Join(RunDir, name)
	if err := remove(path); err != nil {
		return nil, fmt.Errorf("netns: removing a leftover %s: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0)
	if err != nil {
		return nil, fmt.Errorf("netns: creating %s: %w", name, err)
	}
	f.Close()
	// A thread of its own unshares the network namespace: if it cannot
	// go back to the original one, it ends with its goroutine (a thread
	// locked at goroutine exit is terminated).
	type result struct {
		h   netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("netns: current namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("netns: creating %s: unshare: %w", name, err)}
			return
		}
		var r result
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			r.err = fmt.Errorf("netns: creating %s: bind mount: %w", name, err)
		} else if r.h, err = netns.Get(); err != nil {
			r.err = fmt.Errorf("netns: creating %s: %w", name, err)
		}
		if err := netns.Set(orig); err != nil {
			if r.h.IsOpen() {
				r.h.Close()
			}
			ch <- result{err: fmt.Errorf("netns: back to the original namespace: %w", err)}
			return // the thread stays locked and dies
		}
		runtime.UnlockOSThread()
		ch <- r
	}()
	r := <-ch
	if r.err != nil {
		if err := remove(path); err != nil {
			return nil, errors.Join(r.err, fmt.Errorf("netns: deleting %s: %w", name, err))
		}
		return nil, r.err
	}
	n := &NS{Name: name, h: r.h}
	if err := n.setLoopbackUp(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

var runDirMu sync.Mutex // serialises shareRunDir within the process

// shareRunDir makes RunDir a mount point with shared propagation, as "ip
// netns add" does before it creates a namespace: bind-mounted on itself
// first if it is not a mount point yet. Then the mount namespaces that
// "ip netns exec" (or anything else) makes receive our namespace mounts
// as shared ones, and deleting a namespace unmounts it in all of them;
// otherwise a copy of the mount held by another mount namespace keeps
// the file busy and the delete fails with EBUSY.
func shareRunDir() error {
	runDirMu.Lock()
	defer runDirMu.Unlock()
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	bound := false
	for {
		err := unix.Mount("", RunDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if err != unix.EINVAL || bound {
			return fmt.Errorf("netns: mount --make-shared %s: %w", RunDir, err)
		}
		// EINVAL: not a mount point yet.
		if err := unix.Mount(RunDir, RunDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("netns: mount --bind %s %s: %w", RunDir, RunDir, err)
		}
		bound = true
	}
}

// remove deletes the namespace file at path as "ip netns delete" does
// (lazy unmount, then unlink), retrying for a few seconds while it is
// busy (EBUSY: a mount namespace being set up elsewhere still holds a
// copy of the mount). A missing file is no error.
func remove(path string) error {
	var err error
	wait := 5 * time.Millisecond
	for range 40 {
		// Once per try: a file mounted several times needs as many.
		_ = unix.Unmount(path, unix.MNT_DETACH)
		err = unix.Unlink(path)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, 200*time.Millisecond)
	}
	return err
}

// sweep deletes the namespaces named "prefix-PID-N" whose process PID no
// longer exists: leftovers of a run that was killed before its cleanup.
func sweep(prefix string) {
	names, _ := filepath.Glob(filepath.Join(RunDir, prefix+"-*-*"))
	for _, path := range names {
		rest := strings.TrimPrefix(filepath.Base(path), prefix+"-")
		pid, _, ok := strings.Cut(rest, "-")
		if !ok || strings.Contains(pid, "-") {
			continue
		}
		n, err := strconv.Atoi(pid)
		if err != nil || n <= 0 || n == unix.Getpid() {
			continue
		}
		if err := unix.Kill(n, 0); err == unix.ESRCH {
			_ = remove(path)
		}
	}
}

func (n *NS) setLoopbackUp() error {
	h, err := n.Netlink()
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("netns: %s: lo: %w", n.Name, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("netns: %s: lo up: %w", n.Name, err)
	}
	return nil
}

// Netlink returns an rtnetlink handle that works inside the namespace.
func (n *NS) Netlink() (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(n.h, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netns: netlink in %s: %w", n.Name, err)
	}
	return h, nil
}

// Close deletes the namespace, retrying for a few seconds while the
// kernel reports it busy. Interfaces in it go with it once no process
// holds it any more.
func (n *NS) Close() error {
	n.h.Close()
	if err := remove(filepath.Join(RunDir, n.Name)); err != nil {
		return fmt.Errorf("netns: deleting %s: %w", n.Name, err)
	}
	return nil
}

// Do runs f on a thread inside the namespace. Sockets f creates stay in the
// namespace and may be used from any goroutine afterwards.
func (n *NS) Do(f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: current namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(n.h); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: entering %s: %w", n.Name, err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("netns: leaving %s: %w", n.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Listen is net.Listen inside the namespace.
func (n *NS) Listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() (err error) {
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// ListenPacket is net.ListenPacket inside the namespace.
func (n *NS) ListenPacket(network, address string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.Do(func() (err error) {
		c, err = net.ListenPacket(network, address)
		return err
	})
	return c, err
}

// DialContext is net.Dialer.DialContext inside the namespace.
func (n *NS) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// Command returns a command that runs name with args inside the namespace
// (through "ip netns exec", which execs it: the process is the command).
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Veth connects a and b with a veth pair, interface name ifA in a and ifB in
// b, gives each end its addresses and brings both up. Both ends are created
// inside the namespaces.
func Veth(a *NS, ifA string, addrsA []netip.Prefix, b *NS, ifB string, addrsB []netip.Prefix) error {
	ha, err := a.Netlink()
	if err != nil {
		return err
	}
	defer ha.Close()
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: ifA},
		PeerName:      ifB,
		PeerNamespace: netlink.NsFd(int(b.h)),
	}
	if err := ha.LinkAdd(v); err != nil {
		return fmt.Errorf("netns: veth %s/%s: %w", ifA, ifB, err)
	}
	hb, err := b.Netlink()
	if err != nil {
		return err
	}
	defer hb.Close()
	if err := configure(ha, ifA, addrsA); err != nil {
		return err
	}
	return configure(hb, ifB, addrsB)
}

// configure gives interface name its addresses (IPv6 without duplicate
// address detection) and brings it up.
func configure(h *netlink.Handle, name string, addrs []netip.Prefix) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("netns: %s: %w", name, err)
	}
	for _, p := range addrs {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(l, a); err != nil {
			return fmt.Errorf("netns: adding %v to %s: %w", p, name, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("netns: %s up: %w", name, err)
	}
	return nil
}
