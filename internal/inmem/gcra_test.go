package inmem

import (
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// TestBucket walks the pure GCRA arithmetic through sequences of steps.
func TestBucket(t *testing.T) {
	t.Parallel()
	type step struct {
		at     time.Duration // since the start
		limit  int64
		take   int64 // events asked; ignored when refund > 0
		refund int64
		want   pulse.Quota // checked for takes only
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one event from a full bucket", []step{
			{limit: 60, take: 1, want: pulse.Quota{Granted: 1, Limit: 60, Remaining: 59, Reset: time.Second}},
		}},
		{"zero events change nothing", []step{
			{limit: 60, take: 0, want: pulse.Quota{Limit: 60, Remaining: 60}},
			{limit: 60, take: -3, want: pulse.Quota{Limit: 60, Remaining: 60}},
		}},
		{"partial grant empties the bucket", []step{
			{limit: 100, take: 150, want: pulse.Quota{Granted: 100, Limit: 100, Reset: time.Minute, RetryAfter: 600 * time.Millisecond}},
			{at: 599 * time.Millisecond, limit: 100, take: 1, want: pulse.Quota{Limit: 100, Reset: time.Minute - 599*time.Millisecond, RetryAfter: time.Millisecond}},
			{at: 600 * time.Millisecond, limit: 100, take: 2, want: pulse.Quota{Granted: 1, Limit: 100, Reset: time.Minute, RetryAfter: 600 * time.Millisecond}},
		}},
		{"interval that is not a whole microsecond", []step{
			// 60s/7 = 8571428.57µs per event.
			{limit: 7, take: 7, want: pulse.Quota{Granted: 7, Limit: 7, Reset: time.Minute, RetryAfter: 8571429 * time.Microsecond}},
			{at: 8571428 * time.Microsecond, limit: 7, take: 1, want: pulse.Quota{Limit: 7, Reset: time.Minute - 8571428*time.Microsecond, RetryAfter: time.Microsecond}},
			{at: 8571429 * time.Microsecond, limit: 7, take: 1, want: pulse.Quota{Granted: 1, Limit: 7, Reset: time.Minute, RetryAfter: 8571429 * time.Microsecond}}, // both rounded up
			{at: time.Minute, limit: 7, take: 7, want: pulse.Quota{Granted: 6, Limit: 7, Reset: time.Minute, RetryAfter: 8571429 * time.Microsecond}},
		}},
		{"counts down and refills", []step{
			{limit: 60, take: 10, want: pulse.Quota{Granted: 10, Limit: 60, Remaining: 50, Reset: 10 * time.Second}},
			{at: 2500 * time.Millisecond, limit: 60, take: 1, want: pulse.Quota{Granted: 1, Limit: 60, Remaining: 51, Reset: 8500 * time.Millisecond}},
			{at: 20 * time.Second, limit: 60, take: 0, want: pulse.Quota{Limit: 60, Remaining: 60}},
		}},
		{"refund never exceeds the burst", []step{
			{limit: 10, take: 10, want: pulse.Quota{Granted: 10, Limit: 10, Reset: time.Minute, RetryAfter: 6 * time.Second}},
			{limit: 10, refund: 4},
			{limit: 10, take: 5, want: pulse.Quota{Granted: 4, Limit: 10, Reset: time.Minute, RetryAfter: 6 * time.Second}},
			{limit: 10, refund: 1000},
			{limit: 10, take: 20, want: pulse.Quota{Granted: 10, Limit: 10, Reset: time.Minute, RetryAfter: 6 * time.Second}},
		}},
		{"raised limit grants the difference at once", []step{
			{limit: 100, take: 80, want: pulse.Quota{Granted: 80, Limit: 100, Remaining: 20, Reset: 48 * time.Second}},
			{limit: 200, take: 150, want: pulse.Quota{Granted: 120, Limit: 200, Reset: time.Minute, RetryAfter: 300 * time.Millisecond}},
		}},
		{"lowered limit clamps to empty, not debt", []step{
			{limit: 100, take: 100, want: pulse.Quota{Granted: 100, Limit: 100, Reset: time.Minute, RetryAfter: 600 * time.Millisecond}},
			{limit: 50, take: 1, want: pulse.Quota{Limit: 50, Reset: time.Minute, RetryAfter: 1200 * time.Millisecond}},
			{at: 1200 * time.Millisecond, limit: 50, take: 1, want: pulse.Quota{Granted: 1, Limit: 50, Reset: time.Minute, RetryAfter: 1200 * time.Millisecond}},
		}},
		{"a clock behind the state drains nothing", []step{
			{at: time.Second, limit: 60, take: 60, want: pulse.Quota{Granted: 60, Limit: 60, Reset: time.Minute, RetryAfter: time.Second}},
			{at: 0, limit: 60, take: 1, want: pulse.Quota{Limit: 60, Reset: time.Minute + time.Second, RetryAfter: 2 * time.Second}},
			{at: 2 * time.Second, limit: 60, take: 2, want: pulse.Quota{Granted: 1, Limit: 60, Reset: time.Minute, RetryAfter: time.Second}},
		}},
		{"largest limit", []step{
			{limit: pulse.MaxRateLimitPerMinute, take: pulse.MaxRateLimitPerMinute, want: pulse.Quota{Granted: pulse.MaxRateLimitPerMinute, Limit: pulse.MaxRateLimitPerMinute, Reset: time.Minute, RetryAfter: time.Microsecond}},
			{at: 24 * time.Hour, limit: pulse.MaxRateLimitPerMinute, take: 1, want: pulse.Quota{Granted: 1, Limit: pulse.MaxRateLimitPerMinute, Remaining: pulse.MaxRateLimitPerMinute - 1, Reset: time.Microsecond}},
		}},
	}
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixMicro()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bucket
			for i, s := range tt.steps {
				now := start + s.at.Microseconds()
				if s.refund > 0 {
					b = b.refund(now, s.limit, s.refund)
					continue
				}
				var q pulse.Quota
				b, q = b.take(now, s.limit, s.take)
				if q != s.want {
					t.Fatalf("step %d: got %+v, want %+v", i, q, s.want)
				}
			}
		})
	}
}
