package inmem

import (
	"fmt"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// periodMicros is the refill period: a bucket refills limit events per
// period, and holds at most limit (burst = limit).
const periodMicros = int64(time.Minute / time.Microsecond)

// bucket is one tenant's state in GCRA form, kept in exact integers. used is
// the bucket's consumed part in "event-microseconds": taking one event adds
// periodMicros and every elapsed microsecond drains limit, so the bucket
// holds limit*periodMicros when empty and refills one event every
// periodMicros/limit µs with no rounding. at is the instant (µs since the
// Unix epoch) up to which used has been drained; full is when used reaches
// zero at the last limit seen, which Sweep uses to evict the bucket.
//
// used does not depend on the limit, so when a tenant's limit changes the
// events already consumed stay consumed and the new limit applies at once:
// a raised limit grants the difference immediately; a lowered one clamps
// used to the new capacity, so the tenant starts empty, never in debt.
//
// The redis package runs the same arithmetic in Lua (script.go there);
// change both together.
type bucket struct {
	used int64
	at   int64
	full int64
}

// drain brings b forward to now at the given limit and clamps it to the
// limit's capacity. A clock behind b.at (a skewed node, a clock stepped
// back) drains nothing and keeps at, so no interval is refilled twice.
func (b bucket) drain(now, limit int64) bucket {
	if now > b.at {
		if dt := now - b.at; dt >= ceilDiv(b.used, limit) {
			b.used = 0
		} else {
			b.used -= dt * limit
		}
		b.at = now
	}
	b.used = min(b.used, limit*periodMicros)
	return b
}

// take grants k = min(n, available) events at now and returns the new
// bucket with the quota the caller sees.
func (b bucket) take(now, limit, n int64) (bucket, pulse.Quota) {
	b = b.drain(now, limit)
	capacity := limit * periodMicros
	avail := (capacity - b.used) / periodMicros
	k := min(max(n, 0), avail)
	b.used += k * periodMicros
	lag := b.at - now // > 0 only when now is behind the stored clock
	q := pulse.Quota{Granted: int(k), Limit: int(limit), Remaining: int(avail - k)}
	if b.used > 0 {
		q.Reset = micros(lag + ceilDiv(b.used, limit))
	}
	if q.Remaining == 0 {
		q.RetryAfter = micros(lag + ceilDiv(b.used-capacity+periodMicros, limit))
	}
	b.full = b.at + ceilDiv(b.used, limit)
	return b, q
}

// refund gives n events back at now, never above the burst.
func (b bucket) refund(now, limit, n int64) bucket {
	b = b.drain(now, limit)
	b.used = max(b.used-min(max(n, 0), limit)*periodMicros, 0)
	b.full = b.at + ceilDiv(b.used, limit)
	return b
}

// checkLimit rejects limits no tenant can have; callers pass the tenant's
// validated RateLimitPerMinute, so an error here is a bug (EINTERNAL).
func checkLimit(limit int) error {
	if limit < 1 || limit > pulse.MaxRateLimitPerMinute {
		return fmt.Errorf("rate limit %d per minute: out of range [1, %d]", limit, pulse.MaxRateLimitPerMinute)
	}
	return nil
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// ceilDiv is ⌈a/b⌉ for a >= 0, b > 0.
func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
