//go:build !linux

package stack

const haveTCPInfo = false

func tcpiState(int) uint8 { return 0 }

func kernelKeepAlive(int) string { return "?" }
