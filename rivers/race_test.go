//go:build race

package rivers_test

// raceEnabled shortens the longest integration tests under the race
// detector, which slows the in-process broker tenfold.
const raceEnabled = true
