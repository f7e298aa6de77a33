package tcp

import "syscall"

// The errors a connection ends with, as Err returns them. They are plain
// syscall.Errno values so that callers (and package stack's net.Conn
// errors) can match them with errors.Is.
const (
	errRefused  = syscall.ECONNREFUSED // RST in answer to our SYN
	errReset    = syscall.ECONNRESET   // RST in a synchronized state
	errTimedOut = syscall.ETIMEDOUT    // retransmissions or keepalive exhausted
	errPipe     = syscall.EPIPE        // Write after CloseWrite or Close
	errNotConn  = syscall.ENOTCONN     // CloseWrite on a closed connection
)
