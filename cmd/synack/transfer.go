package main

import (
	"fmt"
	"io"
)

// runTransfer is a placeholder until the transfer command lands.
func runTransfer(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "synack transfer: not built yet")
	return 2
}
