package inmem

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

func TestReplayGuard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	g := NewReplayGuard(clock, 3)
	first := func(tenant, key string, want bool) {
		t.Helper()
		got, err := g.FirstSeen(ctx, tenant, key, time.Minute)
		if err != nil || got != want {
			t.Fatalf("FirstSeen(%s, %s) = %v, %v; want %v", tenant, key, got, err, want)
		}
	}
	first("a", "k1", true)
	first("a", "k1", false)
	first("b", "k1", true) // tenants are apart
	first("a", "k2", true)
	first("a", "k3", true)
	// Full: fails closed, with the time until the first entry expires.
	_, err := g.FirstSeen(ctx, "a", "k4", time.Minute)
	if pe, ok := err.(*pulse.Error); !ok || pe.Code != pulse.EUNAVAILABLE || pe.RetryAfter != time.Minute {
		t.Fatalf("full guard: %v", err)
	}
	first("a", "k2", false) // still remembered while full
	if err := g.Forget(ctx, "a", "k3"); err != nil {
		t.Fatal(err)
	}
	first("a", "k3", true)
	clock.Advance(time.Minute - time.Nanosecond)
	first("a", "k1", false)
	clock.Advance(time.Nanosecond)
	first("a", "k1", true) // expired: room again, and k1 is new
	first("a", "k4", true)
	g.Sweep()
	if n := len(g.tenants["a"].seen); n != 2 {
		t.Fatalf("after sweep %d entries, want 2", n)
	}
	clock.Advance(time.Hour)
	g.Sweep()
	if len(g.tenants) != 0 {
		t.Fatalf("%d tenants left after everything expired", len(g.tenants))
	}
}

// TestReplayGuardBoundedByTTL: a tenant sending steadily never holds more
// than the window's worth of entries, well below the cap.
func TestReplayGuardBoundedByTTL(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	g := NewReplayGuard(clock, 10_000)
	for i := range 20_000 {
		if ok, err := g.FirstSeen(context.Background(), "a", fmt.Sprint(i), 10*time.Second); !ok || err != nil {
			t.Fatalf("request %d: %v %v", i, ok, err)
		}
		clock.Advance(10 * time.Millisecond) // 100/s for 10 s = 1,000 live
	}
	if n := len(g.tenants["a"].seen); n > 2_100 {
		t.Fatalf("%d entries held, want about 1,000-2,000", n)
	}
}
