package stack

import "syscall"

// errHostIsolated is what an ICMP "host isolated" error fails a connect
// with: ENONET, as Linux's icmp_err_convert has it.
const errHostIsolated = syscall.ENONET
