package main

import (
	"fmt"
	"io"
)

// runDial is a placeholder until the dial command lands.
func runDial(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "synack dial: not built yet")
	return 2
}
