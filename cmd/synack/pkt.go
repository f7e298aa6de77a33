package main

import (
	"fmt"
	"io"
)

// runPkt is a placeholder until the pkt command lands.
func runPkt(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "synack pkt: not built yet")
	return 2
}
