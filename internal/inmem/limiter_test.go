package inmem

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

func newTestLimiter(t testing.TB) (*Limiter, *testkit.Clock) {
	t.Helper()
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	return NewLimiter(LimiterConfig{Clock: clock}), clock
}

func mustTake(t *testing.T, l pulse.Limiter, tenant string, limit, n int) pulse.Quota {
	t.Helper()
	q, err := l.Take(t.Context(), tenant, limit, n)
	if err != nil {
		t.Fatalf("Take(%q, %d, %d): %v", tenant, limit, n, err)
	}
	return q
}

func TestTakeGrantsExactlyTheLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(t)
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			for range 5 {
				q, err := l.Take(context.Background(), "t1", 100, 1)
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
		t.Fatalf("granted %d events, want exactly 100", got)
	}
}

func TestTakePartialBatchThenRetryAfter(t *testing.T) {
	t.Parallel()
	l, clock := newTestLimiter(t)
	q := mustTake(t, l, "t1", 100, 150)
	want := pulse.Quota{Granted: 100, Limit: 100, Remaining: 0, Reset: time.Minute, RetryAfter: 600 * time.Millisecond}
	if q != want {
		t.Fatalf("Take(150) = %+v, want %+v", q, want)
	}
	q = mustTake(t, l, "t1", 100, 1)
	if q.Granted != 0 || q.RetryAfter != 600*time.Millisecond {
		t.Fatalf("Take on an empty bucket = %+v, want 0 granted, retry after 600ms", q)
	}

	clock.Advance(q.RetryAfter - time.Microsecond)
	if q := mustTake(t, l, "t1", 100, 1); q.Granted != 0 || q.RetryAfter != time.Microsecond {
		t.Fatalf("Take just before RetryAfter = %+v, want 0 granted, retry after 1µs", q)
	}
	clock.Advance(time.Microsecond)
	if q := mustTake(t, l, "t1", 100, 5); q.Granted != 1 {
		t.Fatalf("Take at RetryAfter = %+v, want exactly 1 granted", q)
	}
}

func TestReturnRestoresQuota(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(t)
	ctx := t.Context()
	mustTake(t, l, "t1", 10, 10)
	if err := l.Return(ctx, "t1", 10, 4); err != nil {
		t.Fatal(err)
	}
	if q := mustTake(t, l, "t1", 10, 10); q.Granted != 4 {
		t.Fatalf("after returning 4: granted %d, want 4", q.Granted)
	}
	if err := l.Return(ctx, "t1", 10, 1000); err != nil {
		t.Fatal(err)
	}
	if q := mustTake(t, l, "t1", 10, 1000); q.Granted != 10 {
		t.Fatalf("after returning more than the burst: granted %d, want 10", q.Granted)
	}
	if err := l.Return(ctx, "unknown", 10, 5); err != nil {
		t.Fatal(err)
	}
	if q := mustTake(t, l, "unknown", 10, 20); q.Granted != 10 {
		t.Fatalf("refund to a full bucket: granted %d, want 10", q.Granted)
	}
}

func TestRemainingAndResetCountDown(t *testing.T) {
	t.Parallel()
	l, clock := newTestLimiter(t)
	// 60 per minute: one event per second.
	for i := 1; i <= 60; i++ {
		q := mustTake(t, l, "t1", 60, 1)
		want := pulse.Quota{Granted: 1, Limit: 60, Remaining: 60 - i, Reset: time.Duration(i) * time.Second}
		if i == 60 {
			want.RetryAfter = time.Second
		}
		if q != want {
			t.Fatalf("take %d: got %+v, want %+v", i, q, want)
		}
	}
	clock.Advance(30 * time.Second)
	want := pulse.Quota{Limit: 60, Remaining: 30, Reset: 30 * time.Second}
	if q := mustTake(t, l, "t1", 60, 0); q != want {
		t.Fatalf("30s later: got %+v, want %+v", q, want)
	}
}

func TestLimitChangeAppliesImmediately(t *testing.T) {
	t.Parallel()
	l, clock := newTestLimiter(t)
	mustTake(t, l, "t1", 100, 80)
	if q := mustTake(t, l, "t1", 200, 500); q.Granted != 120 || q.Limit != 200 {
		t.Fatalf("after raising to 200: got %+v, want 120 granted", q)
	}
	q := mustTake(t, l, "t1", 50, 1)
	want := pulse.Quota{Limit: 50, Reset: time.Minute, RetryAfter: 1200 * time.Millisecond}
	if q != want {
		t.Fatalf("after lowering to 50: got %+v, want %+v", q, want)
	}
	clock.Advance(q.RetryAfter)
	if q := mustTake(t, l, "t1", 50, 1); q.Granted != 1 {
		t.Fatalf("after RetryAfter at the lower limit: got %+v, want 1 granted", q)
	}
}

func TestTakeRejectsImpossibleLimits(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(t)
	for _, limit := range []int{0, -1, pulse.MaxRateLimitPerMinute + 1} {
		if _, err := l.Take(t.Context(), "t1", limit, 1); err == nil {
			t.Errorf("Take with limit %d: no error", limit)
		}
		if err := l.Return(t.Context(), "t1", limit, 1); err == nil {
			t.Errorf("Return with limit %d: no error", limit)
		}
	}
}

func TestTenantsAreIndependent(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(t)
	mustTake(t, l, "a", 5, 5)
	if q := mustTake(t, l, "b", 5, 5); q.Granted != 5 {
		t.Fatalf("tenant b: granted %d, want 5", q.Granted)
	}
}

func TestSweepEvictsIdleTenants(t *testing.T) {
	t.Parallel()
	l, clock := newTestLimiter(t)
	const tenants = 100_000
	for i := range tenants {
		mustTake(t, l, "tenant-"+strconv.Itoa(i), 100, 1)
	}
	mustTake(t, l, "busy", 100, 100)
	mustTake(t, l, "untouched", 100, 0)
	if got := l.len(); got != tenants+1 {
		t.Fatalf("%d tenants hold state, want %d", got, tenants+1)
	}

	clock.Advance(600*time.Millisecond - time.Microsecond)
	l.Sweep(clock.Now())
	if got := l.len(); got != tenants+1 {
		t.Fatalf("swept before the buckets were full: %d left, want %d", got, tenants+1)
	}
	clock.Advance(time.Microsecond)
	l.Sweep(clock.Now())
	if got := l.len(); got != 1 {
		t.Fatalf("after the sweep %d tenants hold state, want 1 (busy)", got)
	}
	if q := mustTake(t, l, "busy", 100, 100); q.Granted != 1 {
		t.Fatalf("busy tenant lost its state: %+v", q)
	}
	clock.Advance(time.Minute)
	l.Sweep(clock.Now())
	if got := l.len(); got != 0 {
		t.Fatalf("after a minute %d tenants hold state, want 0", got)
	}
}

func TestRunSweepsUntilContextDone(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	l := NewLimiter(LimiterConfig{Clock: clock, SweepInterval: time.Millisecond})
	mustTake(t, l, "t1", 100, 1)
	clock.Advance(time.Minute)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		l.Run(ctx)
		close(done)
	}()
	// Wait for the goroutine's sweep, not for time to pass.
	for deadline := time.Now().Add(5 * time.Second); l.len() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("Run did not sweep within 5s")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ctx was cancelled")
	}
}

func BenchmarkTake(b *testing.B) {
	l := NewLimiter(LimiterConfig{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := l.Take(ctx, "tenant", pulse.MaxRateLimitPerMinute, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTakeParallel(b *testing.B) {
	l := NewLimiter(LimiterConfig{})
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Take(ctx, "tenant", pulse.MaxRateLimitPerMinute, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTakeManyTenants(b *testing.B) {
	l := NewLimiter(LimiterConfig{})
	ctx := context.Background()
	ids := make([]string, 100_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("tenant-%06d", i)
	}
	var next atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919) // each goroutine starts elsewhere in the list
		for pb.Next() {
			i++
			if _, err := l.Take(ctx, ids[i%uint64(len(ids))], 100, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
