package redis

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	goredis "github.com/redis/go-redis/v9"

	"github.com/pulsestream/pulsestream/internal/inmem"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// TestLimiterMatchesInmem runs each scenario on the Redis limiter and on
// inmem's, which must agree with each other and with the table.
func TestLimiterMatchesInmem(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	type step struct {
		advance time.Duration
		limit   int
		take    int
		refund  int         // when > 0, Return instead of Take
		want    pulse.Quota // for takes
	}
	q := func(granted, limit, remaining int, reset, retry time.Duration) pulse.Quota {
		return pulse.Quota{Granted: granted, Limit: limit, Remaining: remaining, Reset: reset, RetryAfter: retry}
	}
	const ms = time.Millisecond
	tests := []struct {
		name  string
		steps []step
	}{
		{"partial batch", []step{
			{limit: 100, take: 150, want: q(100, 100, 0, time.Minute, 600*ms)},
			{limit: 100, take: 1, want: q(0, 100, 0, time.Minute, 600*ms)},
		}},
		{"refill after RetryAfter", []step{
			{limit: 100, take: 100, want: q(100, 100, 0, time.Minute, 600*ms)},
			{advance: 600*ms - time.Microsecond, limit: 100, take: 1, want: q(0, 100, 0, time.Minute-600*ms+time.Microsecond, time.Microsecond)},
			{advance: time.Microsecond, limit: 100, take: 2, want: q(1, 100, 0, time.Minute, 600*ms)},
		}},
		{"refund restores, never above the burst", []step{
			{limit: 10, take: 10, want: q(10, 10, 0, time.Minute, 6*time.Second)},
			{limit: 10, refund: 4},
			{limit: 10, take: 5, want: q(4, 10, 0, time.Minute, 6*time.Second)},
			{limit: 10, refund: 1000},
			{limit: 10, take: 0, want: q(0, 10, 10, 0, 0)},
		}},
		{"remaining and reset count down", []step{
			{limit: 60, take: 1, want: q(1, 60, 59, time.Second, 0)},
			{limit: 60, take: 1, want: q(1, 60, 58, 2*time.Second, 0)},
			{advance: 500 * ms, limit: 60, take: 10, want: q(10, 60, 48, 11500*ms, 0)},
			{advance: 11500 * ms, limit: 60, take: 0, want: q(0, 60, 60, 0, 0)},
		}},
		{"interval that is not a whole microsecond", []step{
			{limit: 7, take: 8, want: q(7, 7, 0, time.Minute, 8571429*time.Microsecond)},
			{advance: 8571429 * time.Microsecond, limit: 7, take: 2, want: q(1, 7, 0, time.Minute, 8571429*time.Microsecond)},
		}},
		{"limit change applies immediately", []step{
			{limit: 100, take: 80, want: q(80, 100, 20, 48*time.Second, 0)},
			{limit: 200, take: 500, want: q(120, 200, 0, time.Minute, 300*ms)},
			{limit: 50, take: 1, want: q(0, 50, 0, time.Minute, 1200*ms)},
			{advance: 1200 * ms, limit: 50, take: 1, want: q(1, 50, 0, time.Minute, 1200*ms)},
		}},
		{"largest exact limit", []step{
			{limit: 150_000_000, take: 150_000_000, want: q(150_000_000, 150_000_000, 0, time.Minute, time.Microsecond)},
			{advance: 7 * time.Microsecond, limit: 150_000_000, take: 100, want: q(17, 150_000_000, 0, time.Minute, time.Microsecond)},
		}},
		{"largest limit", []step{
			{limit: pulse.MaxRateLimitPerMinute, take: pulse.MaxRateLimitPerMinute, want: q(pulse.MaxRateLimitPerMinute, pulse.MaxRateLimitPerMinute, 0, time.Minute, time.Microsecond)},
			{advance: 24 * time.Hour, limit: pulse.MaxRateLimitPerMinute, take: 1, want: q(1, pulse.MaxRateLimitPerMinute, pulse.MaxRateLimitPerMinute-1, time.Microsecond, 0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			redisClock, inmemClock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			limiters := map[string]pulse.Limiter{
				"redis": NewLimiter(c, LimiterConfig{Prefix: testPrefix(t, c), Clock: redisClock}),
				"inmem": inmem.NewLimiter(inmem.LimiterConfig{Clock: inmemClock}),
			}
			for i, s := range tt.steps {
				redisClock.Advance(s.advance)
				inmemClock.Advance(s.advance)
				for name, l := range limiters {
					if s.refund > 0 {
						if err := l.Return(t.Context(), "t1", s.limit, s.refund); err != nil {
							t.Fatalf("%s step %d: %v", name, i, err)
						}
						continue
					}
					got, err := l.Take(t.Context(), "t1", s.limit, s.take)
					if err != nil {
						t.Fatalf("%s step %d: %v", name, i, err)
					}
					if got != s.want {
						t.Errorf("%s step %d: got %+v, want %+v", name, i, got, s.want)
					}
				}
			}
		})
	}
}

// TestTakeExactAcrossNodes: two nodes share one bucket exactly. The Redis
// timeout is generous on purpose: a call slower than Timeout counts as a
// Redis failure (here, with no fallback, an error; and with the fake clock
// Redis would then be skipped for good), which says nothing about the
// script's exactness — on a loaded machine 30 concurrent scripts under
// -race took longer than the default 250 ms.
func TestTakeExactAcrossNodes(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	prefix := testPrefix(t, c)
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cfg := LimiterConfig{Prefix: prefix, Clock: clock, Timeout: time.Minute}
	nodes := []*Limiter{NewLimiter(c, cfg), NewLimiter(testClient(t), cfg)}
	var granted atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			for range 5 {
				q, err := nodes[i%2].Take(context.Background(), "t1", 100, 1)
				if err != nil {
					t.Error(err)
					return
				}
				granted.Add(int64(q.Granted))
			}
		})
	}
	wg.Wait()
	if got := granted.Load(); got != 100 {
		t.Fatalf("two nodes granted %d events, want exactly 100", got)
	}
}

func TestKeysExpireWhenTheBucketIsFull(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	prefix := testPrefix(t, c)
	l := NewLimiter(c, LimiterConfig{Prefix: prefix, Clock: testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))})
	ctx := t.Context()
	if _, err := l.Take(ctx, "t1", 60, 30); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.PTTL(ctx, prefix+"t1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 29*time.Second || ttl > 30*time.Second {
		t.Fatalf("TTL after taking half of 60/min = %v, want 30s (until full)", ttl)
	}
	if err := l.Return(ctx, "t1", 60, 30); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, prefix+"t1").Result(); err != nil || n != 0 {
		t.Fatalf("a full bucket's key still exists (%d, %v)", n, err)
	}
}

// failingLimiter returns a limiter whose Redis never answers usefully,
// with its metrics registry and log buffer.
func failingLimiter(t *testing.T, client goredis.UniversalClient, cfg LimiterConfig) (*Limiter, *prometheus.Registry, *syncBuffer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	cfg.Registerer = reg
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	if cfg.Clock == nil {
		cfg.Clock = testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	}
	return NewLimiter(client, cfg), reg, logs
}

func deadClient(t *testing.T, addr string) goredis.UniversalClient {
	t.Helper()
	c, err := NewClient("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestUnreachableRedisFallsBack(t *testing.T) {
	t.Parallel()
	for name, addr := range map[string]string{"refused": "127.0.0.1:1", "hung": blackhole(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			fallback := inmem.NewLimiter(inmem.LimiterConfig{Clock: clock})
			l, _, _ := failingLimiter(t, deadClient(t, addr), LimiterConfig{Clock: clock, Fallback: fallback})

			// Bounded by Timeout (250 ms); the bound checked is 40 times
			// that, so that only a call that ignores the deadline (a hung
			// Redis would hold it for ever) fails on a loaded machine.
			start := time.Now()
			q, err := l.Take(t.Context(), "t1", 100, 150)
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Fatalf("Take took %v with Redis %s, want it bounded by Timeout", elapsed, name)
			}
			if err != nil || q.Granted != 100 {
				t.Fatalf("Take = %+v, %v; want 100 granted by the fallback", q, err)
			}
			if got := testutil.ToFloat64(l.fallbackActive); got != 1 {
				t.Errorf("fallback_active = %v, want 1", got)
			}
			if got := testutil.ToFloat64(l.errorsTotal); got != 1 {
				t.Errorf("redis_errors_total = %v, want 1", got)
			}

			// Within ProbeInterval Redis is not tried: no new error.
			if err := l.Return(t.Context(), "t1", 100, 10); err != nil {
				t.Fatal(err)
			}
			if q, err := l.Take(t.Context(), "t1", 100, 20); err != nil || q.Granted != 10 {
				t.Fatalf("Take after Return = %+v, %v; want the fallback's 10", q, err)
			}
			if got := testutil.ToFloat64(l.errorsTotal); got != 1 {
				t.Errorf("redis_errors_total = %v after skipped calls, want 1", got)
			}
		})
	}
}

func TestFailClosed(t *testing.T) {
	t.Parallel()
	fallback := inmem.NewLimiter(inmem.LimiterConfig{})
	for name, cfg := range map[string]LimiterConfig{
		"FailClosed":  {FailClosed: true, Fallback: fallback},
		"no fallback": {},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l, _, _ := failingLimiter(t, deadClient(t, "127.0.0.1:1"), cfg)
			start := time.Now()
			_, err := l.Take(t.Context(), "t1", 100, 1)
			if elapsed := time.Since(start); elapsed > 10*time.Second { // 40 × Timeout: only a hang fails
				t.Fatalf("Take took %v, want it bounded by Timeout", elapsed)
			}
			var perr *pulse.Error
			if !errors.As(err, &perr) || perr.Code != pulse.EUNAVAILABLE || perr.RetryAfter != time.Second {
				t.Fatalf("Take err = %v, want EUNAVAILABLE retry after 1s", err)
			}
			if err := l.Return(t.Context(), "t1", 100, 1); pulse.ErrorCode(err) != pulse.EUNAVAILABLE {
				t.Fatalf("Return err = %v, want EUNAVAILABLE", err)
			}
		})
	}
}

func TestRecoversWhenRedisComesBack(t *testing.T) {
	t.Parallel()
	testClient(t) // skip or fail as the other tests do
	opt, err := goredis.ParseURL(testURL(t))
	if err != nil {
		t.Skipf("the proxy test needs a redis:// URL: %v", err)
	}
	p := startProxy(t, opt.Addr)
	opt.Addr = p.Addr()
	opt.ContextTimeoutEnabled = true
	c := goredis.NewClient(opt)
	t.Cleanup(func() { c.Close() })

	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	fallback := inmem.NewLimiter(inmem.LimiterConfig{Clock: clock})
	l, _, logs := failingLimiter(t, c, LimiterConfig{Prefix: testPrefix(t, c), Clock: clock, Fallback: fallback})
	take := func(n int) pulse.Quota {
		t.Helper()
		q, err := l.Take(t.Context(), "t1", 10, n)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}

	if q := take(3); q.Remaining != 7 {
		t.Fatalf("through Redis: %+v, want 7 remaining", q)
	}
	p.setDown(true)
	if q := take(1); q.Remaining != 9 {
		t.Fatalf("Redis down: %+v, want the fallback's fresh bucket (9 remaining)", q)
	}
	// Keep failing for most of a minute: one warning only.
	for range 10 {
		clock.Advance(5 * time.Second)
		take(0)
	}
	if got := testutil.ToFloat64(l.errorsTotal); got != 11 {
		t.Errorf("redis_errors_total = %v, want 11 (one per probe)", got)
	}
	if n := strings.Count(logs.String(), "redis failing"); n != 1 {
		t.Errorf("logged the failure %d times in 50s, want once:\n%s", n, logs)
	}
	clock.Advance(10 * time.Second)
	take(0)
	if n := strings.Count(logs.String(), "redis failing"); n != 2 {
		t.Errorf("logged the failure %d times in 60s, want twice:\n%s", n, logs)
	}

	p.setDown(false)
	if q := take(2); q.Remaining != 8 { // still within ProbeInterval
		t.Fatalf("within ProbeInterval: %+v, want the fallback (8 remaining)", q)
	}
	clock.Advance(time.Second)
	// 61s have passed: Redis's bucket (3 taken) has refilled; the
	// fallback's would have 4 left.
	if q := take(4); q.Remaining != 6 || q.Reset != 24*time.Second {
		t.Fatalf("after recovery: %+v, want Redis's bucket (6 remaining, full in 24s)", q)
	}
	if got := testutil.ToFloat64(l.fallbackActive); got != 0 {
		t.Errorf("fallback_active = %v after recovery, want 0", got)
	}
	if !strings.Contains(logs.String(), "redis recovered") {
		t.Errorf("recovery not logged:\n%s", logs)
	}
}

func TestCallerCancellationIsNotARedisFailure(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	fallback := inmem.NewLimiter(inmem.LimiterConfig{})
	l, _, _ := failingLimiter(t, c, LimiterConfig{Prefix: testPrefix(t, c), Fallback: fallback})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Take(ctx, "t1", 10, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Take with a cancelled context: %v, want context.Canceled", err)
	}
	if got := testutil.ToFloat64(l.errorsTotal); got != 0 {
		t.Errorf("redis_errors_total = %v, want 0", got)
	}
	if q, err := l.Take(t.Context(), "t1", 10, 1); err != nil || q.Remaining != 9 {
		t.Fatalf("next Take = %+v, %v; want Redis, 9 remaining", q, err)
	}
}

func TestMetricsRegistered(t *testing.T) {
	t.Parallel()
	l, reg, _ := failingLimiter(t, deadClient(t, "127.0.0.1:1"), LimiterConfig{Fallback: inmem.NewLimiter(inmem.LimiterConfig{})})
	if _, err := l.Take(t.Context(), "t1", 10, 1); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "pulsestream_rate_limiter_redis_errors_total", "pulsestream_rate_limiter_fallback_active")
	if err != nil || n != 2 {
		t.Fatalf("gathered %d metrics (%v), want 2", n, err)
	}
}

func BenchmarkRedisTake(b *testing.B) {
	c := testClient(b)
	l := NewLimiter(c, LimiterConfig{Prefix: testPrefix(b, c)})
	ctx := context.Background()
	for b.Loop() {
		if _, err := l.Take(ctx, "tenant", pulse.MaxRateLimitPerMinute, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a log handler and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
