package redis

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pulsestream/pulsestream/internal/inmem"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// TestReplayGuardShared: two guards (two nodes) on one Redis accept a key
// once between them, concurrently too, and the key lives for its TTL.
func TestReplayGuardShared(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	prefix := testPrefix(t, c)
	ctx := context.Background()
	a := NewReplayGuard(c, ReplayGuardConfig{Prefix: prefix, Timeout: 5 * time.Second})
	b := NewReplayGuard(c, ReplayGuardConfig{Prefix: prefix, Timeout: 5 * time.Second})

	var firsts atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := a
			if i%2 == 1 {
				g = b
			}
			ok, err := g.FirstSeen(ctx, "t1", "k", 5*time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := firsts.Load(); n != 1 {
		t.Fatalf("%d of 20 concurrent calls on two nodes saw the key first, want 1", n)
	}
	if ok, _ := b.FirstSeen(ctx, "t2", "k", time.Minute); !ok {
		t.Fatal("another tenant's key must be new")
	}
	ttl, err := c.PTTL(ctx, prefix+"t1:k").Result()
	if err != nil || ttl <= 4*time.Minute || ttl > 5*time.Minute {
		t.Fatalf("key TTL %v (%v), want about 5m", ttl, err)
	}
	if err := a.Forget(ctx, "t1", "k"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.FirstSeen(ctx, "t1", "k", time.Minute); !ok {
		t.Fatal("a forgotten key must be new again")
	}
}

// TestReplayGuardRedisDown: without Redis the guard refuses (EUNAVAILABLE)
// or, with a fallback, answers from this node's memory.
func TestReplayGuardRedisDown(t *testing.T) {
	t.Parallel()
	dead := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { dead.Close() })
	ctx := context.Background()
	if _, err := NewReplayGuard(dead, ReplayGuardConfig{}).FirstSeen(ctx, "t", "k", time.Minute); pulse.ErrorCode(err) != pulse.EUNAVAILABLE {
		t.Fatalf("no fallback: %v, want EUNAVAILABLE", err)
	}
	g := NewReplayGuard(dead, ReplayGuardConfig{Fallback: inmem.NewReplayGuard(nil, 0)})
	if ok, err := g.FirstSeen(ctx, "t", "k", time.Minute); !ok || err != nil {
		t.Fatalf("fallback first: %v %v", ok, err)
	}
	if ok, err := g.FirstSeen(ctx, "t", "k", time.Minute); ok || err != nil {
		t.Fatalf("fallback replay: %v %v", ok, err)
	}
}
