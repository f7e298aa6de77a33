//go:build !linux

package stack

import "syscall"

// errHostIsolated is what an ICMP "host isolated" error fails a connect
// with; systems without ENONET get EHOSTUNREACH.
const errHostIsolated = syscall.EHOSTUNREACH
