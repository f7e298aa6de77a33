//go:build !race

package stack

// raceEnabled is true when the race detector is on.
const raceEnabled = false
