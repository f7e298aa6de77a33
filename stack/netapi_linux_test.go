package stack

import "golang.org/x/sys/unix"

const haveTCPInfo = true

// tcpiState is the socket's tcpi_state (7: TCP_CLOSE); 0 on error.
func tcpiState(fd int) uint8 {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0
	}
	return info.State
}
