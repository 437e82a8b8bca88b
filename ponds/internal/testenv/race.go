//go:build race

package testenv

// Race reports whether the race detector is on: tests that loop over
// thousands of records scale down under its 5-10x slowdown.
const Race = true
