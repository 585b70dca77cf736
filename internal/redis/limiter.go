package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// periodMicros is the refill period, as in internal/inmem: a bucket refills
// limit events per minute and holds at most limit.
const periodMicros = int64(time.Minute / time.Microsecond)

// LimiterConfig configures a Limiter; WithDefaults fills the zero fields.
type LimiterConfig struct {
	// Prefix starts every bucket key (prefix + tenant ID). Default
	// "pulsestream:ratelimit:".
	Prefix string
	// Clock supplies "now" to the Lua script, so every node must keep its
	// clock synced (NTP): a node ahead by d refills its tenants up to d
	// early; a node behind refills nothing until it catches up, and no
	// interval is ever refilled twice. It also times the fallback's probe
	// and log intervals. Default pulse.SystemClock.
	Clock pulse.Clock
	// Timeout bounds each Redis call, so Take and Return never wait longer
	// for Redis. Default 250ms.
	Timeout time.Duration
	// ProbeInterval is how long Redis is skipped after a failure before
	// the next call tries it again, so a dead Redis does not add Timeout to
	// every request. Default 1s.
	ProbeInterval time.Duration
	// Fallback answers while Redis fails, for this node only (usually an
	// *inmem.Limiter). Nil, or FailClosed, makes Take and Return fail with
	// EUNAVAILABLE instead.
	Fallback   pulse.Limiter
	FailClosed bool
	// Logger gets one warning per minute at most while Redis fails, and a
	// notice when it recovers. Default: discard.
	Logger *slog.Logger
	// Registerer, when not nil, gets the limiter's metrics. Register one
	// Limiter per Registerer (wrap it with labels for more): a second
	// registration panics.
	Registerer prometheus.Registerer
}

// WithDefaults returns c with zero fields set to their defaults.
func (c LimiterConfig) WithDefaults() LimiterConfig {
	if c.Prefix == "" {
		c.Prefix = "pulsestream:ratelimit:"
	}
	if c.Clock == nil {
		c.Clock = pulse.SystemClock{}
	}
	if c.Timeout <= 0 {
		c.Timeout = 250 * time.Millisecond
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// logEvery is the most often a failing Redis is logged.
const logEvery = time.Minute

// errSkipped stands for the Redis call not made while a recent failure is
// within ProbeInterval.
var errSkipped = errors.New("redis skipped after a recent failure")

// Limiter is a pulse.Limiter shared by every node: each tenant's bucket is
// a Redis hash updated by one Lua script per call, so concurrent Takes on
// any number of nodes never grant more than the limit. Semantics, limit
// changes included, are those of inmem.Limiter (see script.go).
//
// When Redis errors or times out, Take and Return answer from the Fallback
// (each node then enforces the full limit on its own, and what it grants is
// not written to Redis) or, fail-closed, return EUNAVAILABLE. Redis is
// tried again on the first call after ProbeInterval and used as soon as it
// answers.
type Limiter struct {
	client   goredis.UniversalClient
	cfg      LimiterConfig
	fallback pulse.Limiter // nil when failing closed

	skipUntil     atomic.Int64 // Unix ns before which Redis is not tried
	failing       atomic.Bool
	lastLog       atomic.Int64 // Unix ns of the last failure logged
	loggedFailure atomic.Bool  // a failure was logged and its recovery not yet

	errorsTotal    prometheus.Counter
	fallbackActive prometheus.Gauge
}

var _ pulse.Limiter = (*Limiter)(nil)

// NewLimiter returns a Limiter on client (see NewClient: clients must honour
// context deadlines for Timeout to hold).
func NewLimiter(client goredis.UniversalClient, cfg LimiterConfig) *Limiter {
	cfg = cfg.WithDefaults()
	l := &Limiter{
		client: client,
		cfg:    cfg,
		errorsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulsestream_rate_limiter_redis_errors_total",
			Help: "Rate limiter calls to Redis that failed or timed out.",
		}),
		fallbackActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pulsestream_rate_limiter_fallback_active",
			Help: "1 while Redis fails and the rate limiter answers from its local fallback (or refuses, when fail-closed).",
		}),
	}
	if !cfg.FailClosed {
		l.fallback = cfg.Fallback
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(l.errorsTotal, l.fallbackActive)
	}
	return l
}

// Take grants min(n, available) of the tenant's events in one script call.
// Errors: EUNAVAILABLE when Redis fails and there is no fallback; the
// context's error when ctx ends first; a plain error (a caller bug) for a
// limit outside [1, pulse.MaxRateLimitPerMinute].
func (l *Limiter) Take(ctx context.Context, tenantID string, limit, n int) (pulse.Quota, error) {
	if err := checkLimit(limit); err != nil {
		return pulse.Quota{}, err
	}
	var q pulse.Quota
	err := l.try(ctx, func(ctx context.Context, now int64) error {
		res, err := takeScript.Run(ctx, l.client, []string{l.cfg.Prefix + tenantID}, now, limit, max(n, 0), periodMicros).Int64Slice()
		if err != nil {
			return fmt.Errorf("take script: %w", err)
		}
		if len(res) != 4 {
			return fmt.Errorf("take script: %d values, want 4", len(res))
		}
		q = pulse.Quota{Granted: int(res[0]), Limit: limit, Remaining: int(res[1]), Reset: micros(res[2]), RetryAfter: micros(res[3])}
		return nil
	})
	switch {
	case err == nil:
		return q, nil
	case ctx.Err() != nil:
		return pulse.Quota{}, fmt.Errorf("rate limit: %w", ctx.Err())
	case l.fallback == nil:
		return pulse.Quota{}, pulse.Unavailable(fmt.Errorf("rate limit: %w", err), time.Second)
	}
	return l.fallback.Take(ctx, tenantID, limit, n)
}

// Return refunds n of the tenant's events, never above the burst. Errors
// as for Take.
func (l *Limiter) Return(ctx context.Context, tenantID string, limit, n int) error {
	if err := checkLimit(limit); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	err := l.try(ctx, func(ctx context.Context, now int64) error {
		if err := returnScript.Run(ctx, l.client, []string{l.cfg.Prefix + tenantID}, now, limit, min(n, limit), periodMicros).Err(); err != nil {
			return fmt.Errorf("return script: %w", err)
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("rate limit refund: %w", ctx.Err())
	case l.fallback == nil:
		return pulse.Unavailable(fmt.Errorf("rate limit refund: %w", err), time.Second)
	}
	return l.fallback.Return(ctx, tenantID, limit, n)
}

// try runs call against Redis within Timeout, passing now in µs, unless a
// failure within ProbeInterval says Redis is down. It keeps the failing
// state, the metrics and the log up to date.
func (l *Limiter) try(ctx context.Context, call func(ctx context.Context, nowMicros int64) error) error {
	now := l.cfg.Clock.Now()
	if now.UnixNano() < l.skipUntil.Load() {
		return errSkipped
	}
	callCtx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	err := call(callCtx, now.UnixMicro())
	switch {
	case err == nil:
		l.recovered()
	case ctx.Err() != nil:
		// The caller gave up; that says nothing about Redis.
	default:
		l.failed(now, err)
	}
	return err
}

func (l *Limiter) failed(now time.Time, err error) {
	l.errorsTotal.Inc()
	l.skipUntil.Store(now.Add(l.cfg.ProbeInterval).UnixNano())
	if l.failing.CompareAndSwap(false, true) {
		l.fallbackActive.Set(1)
	}
	last := l.lastLog.Load()
	if now.UnixNano()-last >= int64(logEvery) && l.lastLog.CompareAndSwap(last, now.UnixNano()) {
		l.loggedFailure.Store(true)
		l.cfg.Logger.Warn("rate limiter: redis failing", "err", err, "fail_closed", l.fallback == nil,
			"retry_every", l.cfg.ProbeInterval)
	}
}

func (l *Limiter) recovered() {
	if !l.failing.Load() || !l.failing.CompareAndSwap(true, false) {
		return
	}
	l.fallbackActive.Set(0)
	if l.loggedFailure.CompareAndSwap(true, false) {
		l.cfg.Logger.Info("rate limiter: redis recovered")
	}
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
