package main

import (
	"fmt"
	"io"
)

// runGet is a placeholder until the get command lands.
func runGet(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "synack get: not built yet")
	return 2
}
