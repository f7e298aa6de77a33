//go:build linux

package netns

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// needRoot skips t unless it runs as root (fails it when
// SYNACK_REQUIRE_NETNS=1, as CI sets it).
func needRoot(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "not root: making network namespaces needs CAP_SYS_ADMIN"
	}
	if why == "" {
		return
	}
	if os.Getenv("SYNACK_REQUIRE_NETNS") == "1" {
		t.Fatalf("SYNACK_REQUIRE_NETNS=1 but %s", why)
	}
	t.Skipf("skipping: %s", why)
}

// needIP returns the path of ip(8), skipping (or failing) t without it.
func needIP(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ip")
	if err != nil {
		if os.Getenv("SYNACK_REQUIRE_NETNS") == "1" {
			t.Fatalf(`SYNACK_REQUIRE_NETNS=1 but "ip" (iproute2) is not on PATH`)
		}
		t.Skip(`skipping: "ip" (iproute2) is not on PATH`)
	}
	return p
}

// mountInfo returns the line of /proc/self/mountinfo whose mount point is
// path ("" if none): the last one, the mount on top.
func mountInfo(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	line := ""
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == real {
			line = l
		}
	}
	return line
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func TestNewAndClose(t *testing.T) {
	needRoot(t)
	n, err := New("synack-nstest")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(RunDir, n.Name)
	// As "ip netns add" leaves things: RunDir a shared mount point, and
	// the namespace bind-mounted on its file.
	if mi := mountInfo(t, RunDir); !strings.Contains(mi, " shared:") {
		t.Errorf("%s is not a shared mount point: %q", RunDir, mi)
	}
	if mountInfo(t, path) == "" {
		t.Errorf("%s is not a mount point", path)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	var own unix.Stat_t
	if err := unix.Fstat(int(n.h), &own); err != nil {
		t.Fatal(err)
	}
	if st.Ino != own.Ino || st.Dev != own.Dev {
		t.Errorf("%s is not the namespace's handle", path)
	}
	if ip, err := exec.LookPath("ip"); err == nil {
		out, err := exec.Command(ip, "netns", "exec", n.Name, "ip", "-o", "link", "show", "lo").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "UP") {
			t.Errorf("ip netns exec %s ip link show lo: %v\n%s", n.Name, err, out)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if exists(path) {
		t.Errorf("%s still exists after Close", path)
	}
}

// A namespace of the same name left by an earlier run (mounted, maybe
// twice) is removed before the new one is made.
func TestLeftoverOfSameName(t *testing.T) {
	needRoot(t)
	if err := shareRunDir(); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("synack-nstest-left-%d", unix.Getpid())
	old, err := create(name)
	if err != nil {
		t.Fatal(err)
	}
	old.h.Close() // the earlier run died here
	path := filepath.Join(RunDir, name)
	// Mounted twice over, as stacked leftovers can be.
	if err := unix.Mount(path, path, "none", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	n, err := create(name)
	if err != nil {
		t.Fatalf("create over a leftover: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if exists(path) {
		t.Errorf("%s still exists after Close", path)
	}
}

// New deletes namespaces of its prefix whose process is gone.
func TestSweepDeadProcess(t *testing.T) {
	needRoot(t)
	if err := shareRunDir(); err != nil {
		t.Fatal(err)
	}
	// A PID no process has (the largest PID Linux allows is 2^22).
	dead := 1<<22 + 7
	if err := unix.Kill(dead, 0); err != unix.ESRCH {
		t.Skipf("PID %d: %v", dead, err)
	}
	prefix := fmt.Sprintf("synack-nstest-sweep%d", unix.Getpid())
	stale, err := create(fmt.Sprintf("%s-%d-1", prefix, dead))
	if err != nil {
		t.Fatal(err)
	}
	stale.h.Close()
	live, err := create(fmt.Sprintf("%s-%d-1", prefix, os.Getppid())) // a live process's
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	n, err := New(prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if p := filepath.Join(RunDir, stale.Name); exists(p) {
		t.Errorf("%s (of a dead process) survived New", p)
	}
	if p := filepath.Join(RunDir, live.Name); !exists(p) {
		t.Errorf("%s (of a live process) was deleted", p)
	}
}

// Namespaces are made and deleted while another process loops "ip netns
// add", "ip netns exec" (which makes a mount namespace holding copies of
// the mounts) and "ip netns del" of its own names: no delete may fail.
// Bounded: 40 rounds or 5 seconds of the loop.
func TestBusyMachine(t *testing.T) {
	needRoot(t)
	ip := needIP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var loopErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 40 {
			if ctx.Err() != nil {
				return
			}
			name := fmt.Sprintf("synack-nstest-other-%d-%d", unix.Getpid(), i)
			for _, args := range [][]string{{"netns", "add", name}, {"netns", "exec", name, "true"}, {"netns", "del", name}} {
				if out, err := exec.CommandContext(ctx, ip, args...).CombinedOutput(); err != nil && ctx.Err() == nil {
					loopErr = fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
					return
				}
			}
		}
	}()
	for i := 0; i < 15; i++ {
		n, err := New("synack-nstest-busy")
		if err != nil {
			t.Error(err)
			break
		}
		// Run something inside, as the interop tests do.
		if out, err := n.Command(context.Background(), "true").CombinedOutput(); err != nil {
			t.Errorf("ip netns exec %s true: %v: %s", n.Name, err, out)
		}
		if err := n.Close(); err != nil {
			t.Error(err)
			break
		}
	}
	cancel()
	wg.Wait()
	// The other process's names, whatever state it was stopped in.
	names, _ := filepath.Glob(filepath.Join(RunDir, fmt.Sprintf("synack-nstest-other-%d-*", unix.Getpid())))
	for _, p := range names {
		_ = remove(p)
	}
	if loopErr != nil {
		t.Errorf("the other process: %v", loopErr)
	}
}
