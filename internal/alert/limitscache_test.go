package alert

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// countingLister counts the store reads of a real store.
type countingLister struct {
	TenantLister
	n atomic.Int32
}

func (c *countingLister) ListTenants(ctx context.Context) ([]*pulse.Tenant, error) {
	c.n.Add(1)
	return c.TenantLister.ListTenants(ctx)
}

// A tenant's webhook_concurrency override reaches the deliverer's slots
// through the cache: one store read per TTL however many jobs ask, a
// changed override seen once the TTL has passed, and other tenants keep
// the default.
func TestLimitsCacheWebhookConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cache.db"), sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	var ids []string
	for _, name := range []string{"noisy", "other"} {
		tn, err := pulse.NewTenant(pulse.NewID(), name, pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tn.ID)
	}
	noisy, other := ids[0], ids[1]
	if _, err := db.UpdateTenant(ctx, noisy, pulse.TenantPatch{AlertLimits: &pulse.AlertLimitsPatch{WebhookConcurrency: ptr(1)}}); err != nil {
		t.Fatal(err)
	}
	store := &countingLister{TenantLister: db}
	defaults := pulse.DefaultAlertLimits()
	defaults.WebhookConcurrency = 3
	cache := NewLimitsCache(store, clock, 5*time.Second, defaults)
	slots := newTenantSlots(func(tenant string) int { return cache.For(tenant).WebhookConcurrency })

	if _, ok, _ := slots.tryAcquire(noisy); !ok {
		t.Fatal("noisy's first slot refused")
	}
	if _, ok, _ := slots.tryAcquire(noisy); ok {
		t.Fatal("noisy got a second slot; its override is 1")
	}
	for i := range 3 {
		if _, ok, _ := slots.tryAcquire(other); !ok {
			t.Fatalf("other's slot %d refused; the default is 3", i+1)
		}
	}
	if _, ok, _ := slots.tryAcquire(other); ok {
		t.Fatal("other got a fourth slot")
	}
	if n := store.n.Load(); n != 1 {
		t.Fatalf("%d store reads for 7 look-ups within the TTL, want 1", n)
	}

	// A raised override is seen after the TTL, not before.
	if _, err := db.UpdateTenant(ctx, noisy, pulse.TenantPatch{AlertLimits: &pulse.AlertLimitsPatch{WebhookConcurrency: ptr(2)}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Second)
	if got := cache.For(noisy).WebhookConcurrency; got != 1 {
		t.Fatalf("within the TTL: %d, want the cached 1", got)
	}
	clock.Advance(time.Second)
	if got := cache.For(noisy).WebhookConcurrency; got != 2 {
		t.Fatalf("after the TTL: %d, want 2", got)
	}
	if _, ok, _ := slots.tryAcquire(noisy); !ok {
		t.Fatal("noisy's second slot refused after its override was raised to 2")
	}
	// Back to the default (0 in the override).
	if _, err := db.UpdateTenant(ctx, noisy, pulse.TenantPatch{AlertLimits: &pulse.AlertLimitsPatch{WebhookConcurrency: ptr(0)}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Second)
	if got := cache.For(noisy).WebhookConcurrency; got != 3 {
		t.Fatalf("override cleared: %d, want the default 3", got)
	}
	if n := store.n.Load(); n != 3 {
		t.Fatalf("%d store reads over three TTLs, want 3", n)
	}
}

// gatedLister holds the first ListTenants of a real store until released.
type gatedLister struct {
	TenantLister
	entered, release chan struct{}
	once             sync.Once
}

func (g *gatedLister) ListTenants(ctx context.Context) ([]*pulse.Tenant, error) {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return g.TenantLister.ListTenants(ctx)
}

// A job that asks while the node's first load is under way waits for it
// instead of taking the default: a lowered override holds from the first
// job on. (Before, the second of two concurrent first jobs got the
// default, and a tenant lowered to 1 could hold 2 deliveries.)
func TestLimitsCacheFirstLoadWaited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cache.db"), sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	tn, err := pulse.NewTenant(pulse.NewID(), "lowered", pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateTenant(ctx, tn.ID, pulse.TenantPatch{AlertLimits: &pulse.AlertLimitsPatch{WebhookConcurrency: ptr(1)}}); err != nil {
		t.Fatal(err)
	}
	g := &gatedLister{TenantLister: db, entered: make(chan struct{}), release: make(chan struct{})}
	cache := NewLimitsCache(g, clock, 5*time.Second, pulse.DefaultAlertLimits())
	first, second := make(chan int, 1), make(chan int, 1)
	go func() { first <- cache.For(tn.ID).WebhookConcurrency }()
	<-g.entered // the first job is loading
	go func() { second <- cache.For(tn.ID).WebhookConcurrency }()
	select {
	case v := <-second:
		t.Fatalf("a job asking during the first load got %d without waiting for it", v)
	case <-time.After(50 * time.Millisecond):
		// Still waiting (the assertion is the value below; this only
		// makes the pre-fix failure name itself).
	}
	close(g.release)
	if a, b := <-first, <-second; a != 1 || b != 1 {
		t.Fatalf("during the first load: %d and %d, want the override 1 for both", a, b)
	}
}
