//go:build race

package sim_test

// raceEnabled: the race detector makes 1,000 TLS agents too slow to connect on a small machine.
const raceEnabled = true
