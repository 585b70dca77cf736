package redis

import (
	"context"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// ReplayGuardConfig configures a ReplayGuard; zero fields take defaults.
type ReplayGuardConfig struct {
	// Prefix starts every key (prefix + tenant ID + ":" + request key).
	// Default "pulsestream:replay:".
	Prefix string
	// Timeout bounds each Redis call. Default 250ms.
	Timeout time.Duration
	// Fallback answers while Redis fails, for this node only (usually an
	// *inmem.ReplayGuard); nil makes FirstSeen fail with EUNAVAILABLE.
	Fallback pulse.ReplayGuard
	// Logger gets a warning for each failed call answered by the fallback
	// or refused. Default: discard.
	Logger *slog.Logger
}

// ReplayGuard is a pulse.ReplayGuard shared by every node: one SET NX PX
// per signed request, so a request accepted by any node is refused by all
// until its key expires (Redis's own clock times the expiry).
type ReplayGuard struct {
	client goredis.UniversalClient
	cfg    ReplayGuardConfig
}

var _ pulse.ReplayGuard = (*ReplayGuard)(nil)

// NewReplayGuard returns a ReplayGuard on client.
func NewReplayGuard(client goredis.UniversalClient, cfg ReplayGuardConfig) *ReplayGuard {
	if cfg.Prefix == "" {
		cfg.Prefix = "pulsestream:replay:"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &ReplayGuard{client: client, cfg: cfg}
}

// FirstSeen implements pulse.ReplayGuard.
func (g *ReplayGuard) FirstSeen(ctx context.Context, tenantID, key string, ttl time.Duration) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	ok, err := g.client.SetNX(cctx, g.cfg.Prefix+tenantID+":"+key, 1, max(ttl, time.Millisecond)).Result()
	if err == nil {
		return ok, nil
	}
	if g.cfg.Fallback != nil {
		g.cfg.Logger.WarnContext(ctx, "redis replay guard failed; this node's memory answers", "err", err)
		return g.cfg.Fallback.FirstSeen(ctx, tenantID, key, ttl)
	}
	g.cfg.Logger.WarnContext(ctx, "redis replay guard failed; signed request refused", "err", err)
	return false, pulse.Unavailable(err, time.Second)
}

// Forget implements pulse.ReplayGuard.
func (g *ReplayGuard) Forget(ctx context.Context, tenantID, key string) error {
	cctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	err := g.client.Del(cctx, g.cfg.Prefix+tenantID+":"+key).Err()
	if g.cfg.Fallback != nil {
		if ferr := g.cfg.Fallback.Forget(ctx, tenantID, key); err == nil {
			err = ferr
		}
	}
	return err
}
