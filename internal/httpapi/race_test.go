//go:build race

package httpapi

// raceEnabled: the race detector changes what the decoders allocate.
const raceEnabled = true
