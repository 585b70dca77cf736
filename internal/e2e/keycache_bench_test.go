package e2e

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/httpapi"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// BenchmarkKeyCacheHit is the cost of authenticating a request whose key is
// cached (the hot path: a hash and a map look-up, no database).
func BenchmarkKeyCacheHit(b *testing.B) {
	cfg := config.Default()
	cfg.DatabaseURL = "sqlite://" + b.TempDir() + "/keys.db"
	store, err := app.OpenStore(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	_, secret, err := pulse.CreateTenantWithKey(context.Background(), store, time.Now(), "bench", 100, 30)
	if err != nil {
		b.Fatal(err)
	}
	cache := httpapi.NewKeyCache(store, pulse.SystemClock{}, time.Hour)
	ctx := context.Background()
	if _, _, err := cache.Authenticate(ctx, secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := cache.Authenticate(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}
