package pulse

import "time"

// Clock tells the time. Everything time-based takes one so that tests can
// move time forward instead of sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
