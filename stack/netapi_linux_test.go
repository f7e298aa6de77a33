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

// kernelKeepAlive reads a kernel socket's keepalive settings: on, idle,
// interval, count.
func kernelKeepAlive(fd int) string {
	on, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	if on == 0 {
		return "off"
	}
	idle, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
	intvl, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
	cnt, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
	return keepAliveString(true, idle, intvl, cnt)
}
