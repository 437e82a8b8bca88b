//go:build !race

package rivers_test

const raceEnabled = false
