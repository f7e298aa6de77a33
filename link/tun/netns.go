//go:build linux

package tun

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

// nsHandle opens the network namespace named or pathed by ns.
func nsHandle(ns string) (netns.NsHandle, error) {
	var (
		h   netns.NsHandle
		err error
	)
	if strings.Contains(ns, "/") {
		h, err = netns.GetFromPath(ns)
	} else {
		h, err = netns.GetFromName(ns)
	}
	if err != nil {
		return netns.None(), fmt.Errorf("tun: network namespace %q: %w", ns, err)
	}
	return h, nil
}

// inNetNS runs f on a thread that has entered network namespace ns (the
// caller's own when ns is empty), then brings the thread back. File
// descriptors and sockets f opens stay in ns and remain usable from any
// thread.
func inNetNS(ns string, f func() error) error {
	if ns == "" {
		return f()
	}
	target, err := nsHandle(ns)
	if err != nil {
		return err
	}
	defer target.Close()

	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("tun: current network namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("tun: entering network namespace %q: %w", ns, err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: the runtime ends a goroutine's locked
		// thread when it exits, so no other goroutine runs in ns by
		// accident.
		return fmt.Errorf("tun: leaving network namespace %q: %w", ns, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
