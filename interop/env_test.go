//go:build linux

package interop

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/synack/synack/link/tun"
)

// requireEnv is the variable that turns skips into failures (CI sets it).
const requireEnv = "SYNACK_REQUIRE_NETNS"

// required reports whether the interop tests must run.
func required() bool { return os.Getenv(requireEnv) == "1" }

var (
	envOnce sync.Once
	envErr  error
)

// checkEnv says why the tests cannot run here, or nil.
func checkEnv() error {
	envOnce.Do(func() {
		if os.Geteuid() != 0 {
			envErr = errors.New("not root: the interop tests make network namespaces and TUN devices")
			return
		}
		if _, err := os.Stat(tun.Path); err != nil {
			envErr = fmt.Errorf("no TUN support: %w", err)
			return
		}
		if _, err := exec.LookPath("ip"); err != nil {
			envErr = errors.New(`"ip" (iproute2) is not on PATH`)
		}
	})
	return envErr
}

// needNetns skips t (fails it when required) unless it can make network
// namespaces and TUN devices.
func needNetns(t testing.TB) {
	t.Helper()
	if err := checkEnv(); err != nil {
		if required() {
			t.Fatalf("%s=1 but %v", requireEnv, err)
		}
		t.Skipf("skipping: %v (set %s=1 to make this a failure)", err, requireEnv)
	}
}

// needTool returns the path of a kernel-side tool, skipping t (failing it
// when required) if it is missing.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if required() {
			t.Fatalf("%s=1 but %s is not installed (.ci/run installs it)", requireEnv, name)
		}
		t.Skipf("skipping: %s is not installed", name)
	}
	return p
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// synackBinary builds cmd/synack once per test run and returns its path.
func synackBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "synack-interop-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "synack")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/synack/synack/cmd/synack").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// lines splits s into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
