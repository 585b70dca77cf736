// Package app wires PulseStream together from a config.Config: it opens the
// store named by the database URL, picks the rate limiter, builds the
// ingest service and the HTTP server, and owns every background goroutine
// (usage flushing, limiter sweeping, maintenance). cmd/pulsestream, the
// black-box tests and the bench command all start the server through it.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/console"
	"github.com/pulsestream/pulsestream/internal/httpapi"
	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/inmem"
	"github.com/pulsestream/pulsestream/internal/natslog"
	"github.com/pulsestream/pulsestream/internal/password"
	"github.com/pulsestream/pulsestream/internal/people"
	"github.com/pulsestream/pulsestream/internal/postgres"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/redis"
	"github.com/pulsestream/pulsestream/internal/secretbox"
)

// Options are what a caller supplies besides the config.
type Options struct {
	Clock  pulse.Clock  // default: the system clock
	Logger *slog.Logger // default: discard
	Stderr io.Writer    // where a generated admin token is printed; default io.Discard
	// WebhookBackoff is the wait before webhook retry n (tests shorten it);
	// default exponential from 30 s, capped at 1 h, with jitter.
	WebhookBackoff func(attempt int) time.Duration
	// QueuePollInterval is how often an idle notification queue looks for
	// work; default 1 s.
	QueuePollInterval time.Duration
}

// App is one running PulseStream node.
type App struct {
	cfg      config.Config
	opts     Options
	Store    pulse.Store
	Registry *prometheus.Registry
	server   *httpapi.Server
	usage    *ingest.Usage
	limiter  *inmem.Limiter
	closers  []func() error
	box      *secretbox.Box // seals signing and webhook secrets at rest
	// People administers users, members and (issue 14) sign-in: the one
	// service the API, the console and the CLI share.
	People *people.Service

	authLimiter *inmem.Limiter     // failed authentications per client IP
	replay      *inmem.ReplayGuard // this node's signed requests (Redis's fallback)
	keyUsage    *httpapi.KeyUsage
	certs       *httpapi.CertReloader // nil without TLS
	alerting    *alerting
	auth        *people.Auth // sign-in and sessions (signin.go)
	ingestLog   *natslog.Log // log mode (--ingest-log); nil otherwise

	bgCancel context.CancelFunc
	bgWG     sync.WaitGroup
}

// OpenStore opens (and migrates) the store named by cfg.DatabaseURL; obs,
// if not nil, observes its group commits.
func OpenStore(ctx context.Context, cfg config.Config, logger *slog.Logger, obs pulse.CommitObserver) (pulse.Store, error) {
	switch {
	case strings.HasPrefix(cfg.DatabaseURL, "postgres://"), strings.HasPrefix(cfg.DatabaseURL, "postgresql://"):
		return postgres.Open(ctx, cfg.DatabaseURL, postgres.Config{
			MaxConns: int32(cfg.PGMaxConns), Writers: cfg.PGWriters, StatementTimeout: cfg.PGStatementTimeout, Logger: logger, Observer: obs,
		})
	case strings.HasPrefix(cfg.DatabaseURL, "sqlite:"):
		return openSQLite(ctx, cfg, logger, obs)
	}
	return nil, fmt.Errorf("unsupported database URL (use sqlite://PATH or postgres://...)")
}

// errMigrateStoreSQLite: migrate-store on a PostgreSQL URL.
var errMigrateStoreSQLite = errors.New("migrate-store moves a SQLite database's events into the parts store; PostgreSQL keeps its own event store, there is nothing to migrate")

// AdminTokenSetting is the settings key holding the operator token's hash.
const AdminTokenSetting = "admin_token_hash"

// New builds a node: opens the store, settles the admin token and wires the
// HTTP server. Call Start to run the background work and Close at the end.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = pulse.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	a := &App{cfg: cfg, opts: opts, Registry: prometheus.NewRegistry()}
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerBuildInfo(a.Registry)

	store, err := OpenStore(ctx, cfg, opts.Logger, newCommitMetrics(a.Registry))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	a.Store = store
	registerQueueGauge(a.Registry, store)
	a.closers = append(a.closers, store.Close)

	adminHash, err := a.adminTokenHash(ctx)
	if err != nil {
		a.Close()
		return nil, err
	}

	a.limiter = inmem.NewLimiter(inmem.LimiterConfig{Clock: opts.Clock})
	var limiter pulse.Limiter = a.limiter
	a.replay = inmem.NewReplayGuard(opts.Clock, 0)
	var replay pulse.ReplayGuard = a.replay
	if cfg.RedisURL != "" {
		client, err := redis.NewClient(cfg.RedisURL)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("redis: %w", err)
		}
		a.closers = append(a.closers, client.Close)
		limiter = redis.NewLimiter(client, redis.LimiterConfig{
			Timeout: cfg.RedisTimeout,
			Clock:   opts.Clock, Fallback: a.limiter, FailClosed: cfg.RateLimitFailure == "closed",
			Logger: opts.Logger, Registerer: a.Registry,
		})
		rg := redis.ReplayGuardConfig{Timeout: cfg.RedisTimeout, Logger: opts.Logger}
		if cfg.RateLimitFailure != "closed" {
			rg.Fallback = a.replay
		}
		replay = redis.NewReplayGuard(client, rg)
	}

	box, err := a.secretBox(ctx)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.box = box
	if cfg.TLSCert != "" {
		if a.certs, err = httpapi.NewCertReloader(cfg.TLSCert, cfg.TLSKey, opts.Logger); err != nil {
			a.Close()
			return nil, err
		}
	}
	a.authLimiter = inmem.NewLimiter(inmem.LimiterConfig{Clock: opts.Clock})
	a.keyUsage = httpapi.NewKeyUsage(store, opts.Clock)

	if err := a.openAlerting(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.usage = ingest.NewUsage(store)
	icfg := ingest.Config{
		Store: store, Limiter: limiter, Clock: opts.Clock, Usage: a.usage,
		MaxPayloadBytes: cfg.MaxPayloadBytes, Registerer: a.Registry,
	}
	var ready interface{ Ping(context.Context) error }
	if cfg.IngestLog != "" {
		if a.ingestLog, err = natslog.Open(ctx, natslog.Config{
			URL: cfg.IngestLog, Stream: cfg.IngestLogStream, Replicas: cfg.IngestLogReplicas,
			MaxBytes: cfg.IngestLogMaxBytes, MaxAge: cfg.IngestLogMaxAge, DuplicateWindow: cfg.IngestLogDedupWindow,
			Timeout: cfg.IngestLogTimeout, MaxEventBytes: cfg.MaxPayloadBytes, AckWait: cfg.IngestLogAckWait,
			Clock: opts.Clock, Logger: opts.Logger, Registerer: a.Registry,
		}); err != nil {
			a.Close()
			return nil, err
		}
		a.closers = append(a.closers, a.ingestLog.Close)
		icfg.Log, icfg.LogCheckStored, ready = a.ingestLog, cfg.IngestLogCheckStored, a.ingestLog
	}
	a.People = &people.Service{Store: store, Clock: opts.Clock, Logger: opts.Logger, Box: box,
		Hasher: password.NewHasher(password.DefaultParams, password.DefaultConcurrency)}
	if err := a.openAuth(); err != nil {
		a.Close()
		return nil, err
	}
	svc := ingest.New(icfg)
	keys := httpapi.NewKeyCache(store, opts.Clock, cfg.KeyCacheTTL)
	if a.ingestLog != nil {
		keys.ServeStale(staleKeysInLogMode)
	}
	a.server = httpapi.New(httpapi.Config{
		Store: store, Ready: ready, Ingest: svc, Keys: keys,
		AdminTokenHash: adminHash, MetricsTokenHash: metricsTokenHash(cfg.MetricsToken), Clock: opts.Clock, Logger: opts.Logger,
		Registerer: a.Registry, Gatherer: a.Registry,
		MaxBodyBytes: cfg.MaxBodyBytes, MaxBatchEvents: cfg.MaxBatchEvents,
		RequestTimeout: cfg.RequestTimeout, Pprof: cfg.Pprof,
		AuthFailures: a.authLimiter, AuthFailuresPerMinute: cfg.AuthFailuresPerMinute,
		TrustedProxies: cfg.TrustedProxyPrefixes(), MaxInFlight: cfg.MaxInFlight,
		BodyReadTimeout: cfg.BodyReadTimeout, MaxDecodeBytes: cfg.MaxDecodeBytes, DecodeTenantShare: cfg.DecodeTenantShare,
		SecretBox: box, KeyUsage: a.keyUsage, Replay: replay,
		AlertLimits: cfg.AlertLimits, RuleStatus: a.alerting.evaluator.RuleStatus,
		Tail:   httpapi.TailConfig{PerTenant: cfg.TailsPerTenant, PerNode: cfg.TailsPerNode, EventsPerSecond: cfg.TailEventsPerSecond},
		People: a.People,
		Auth:   a.auth, SecureCookies: cfg.TLSCert != "",
	})
	if _, ok := store.(FileBackupper); ok {
		a.server.Backup = a.Backup
	}
	a.server.Mount(console.New(console.Config{API: a.server.API(), Clock: opts.Clock, Logger: opts.Logger}), console.Patterns...)
	return a, nil
}

// FileBackupper is a store kept in one file that can copy itself
// consistently while in use (the SQLite store).
type FileBackupper interface {
	// Backup writes a consistent copy to dest, which must not exist.
	Backup(ctx context.Context, dest string) error
	// Path is the database file.
	Path() string
}

// Backup flushes the usage counters and key last-use times this node holds
// in memory, then takes a consistent copy of the SQLite database and
// returns it open and already unlinked: the copy has every counter up to
// the moment it was taken.
func (a *App) Backup(ctx context.Context) (*os.File, error) {
	db, ok := a.Store.(FileBackupper)
	if !ok {
		return nil, pulse.Errorf(pulse.EBADREQUEST, "backups over HTTP copy the embedded database only; for PostgreSQL use pg_dump or PITR")
	}
	if err := a.usage.Flush(ctx); err != nil {
		return nil, fmt.Errorf("backup: flush usage counters: %w", err)
	}
	if err := a.keyUsage.Flush(ctx); err != nil {
		return nil, fmt.Errorf("backup: flush key last-use times: %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(db.Path()), ".backup-")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "backup.db")
	if err := db.Backup(ctx, path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return f, nil // the folder goes at return; the open file stays readable
}

// staleKeysInLogMode is how long a log-mode node keeps authenticating a
// key it has seen while the database cannot be asked: ingestion survives a
// PostgreSQL outage of that length for every client active before it.
const staleKeysInLogMode = time.Hour

// adminTokenHash returns the hash of the configured token, or settles a
// generated one: the first node to start stores its hash and prints the
// token once; later starts find the hash and print nothing.
func (a *App) adminTokenHash(ctx context.Context) (string, error) {
	if a.cfg.AdminToken != "" {
		return pulse.HashSecret(a.cfg.AdminToken), nil
	}
	token := pulse.GenerateSecret("psadm_", 40)
	hash := pulse.HashSecret(token)
	stored, err := a.Store.SetSettingIfAbsent(ctx, AdminTokenSetting, hash)
	if err != nil {
		return "", fmt.Errorf("store admin token: %w", err)
	}
	if stored == hash {
		fmt.Fprintf(a.opts.Stderr, "\nGenerated admin token (shown once; only its hash is stored):\n\n    %s\n\nUse it as: Authorization: Bearer <token> on /admin/v1. Set PULSESTREAM_ADMIN_TOKEN to use your own.\n\n", token)
	} else {
		a.opts.Logger.Info("using the admin token generated at first start (set PULSESTREAM_ADMIN_TOKEN to replace it)")
	}
	return stored, nil
}

// metricsTokenHash is the hash /metrics compares against ("" when open).
func metricsTokenHash(token string) string {
	if token == "" {
		return ""
	}
	return pulse.HashSecret(token)
}

// Handler is the HTTP handler of the node.
func (a *App) Handler() http.Handler { return a.server.Handler() }

// Server is the HTTP API (for route introspection in tests).
func (a *App) Server() *httpapi.Server { return a.server }

// Start runs the background goroutines; Close stops them.
func (a *App) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.bgCancel = cancel
	a.goFn(func() { a.limiter.Run(ctx) })
	a.goFn(func() { a.flushEvery(ctx, time.Second, "usage counters", a.usage.Flush) })
	a.goFn(func() { a.maintain(ctx) })
	a.goFn(func() { a.authLimiter.Run(ctx) })
	a.goFn(func() { a.replay.Run(ctx) })
	a.goFn(func() { a.flushEvery(ctx, 10*time.Second, "key last-used times", a.keyUsage.Flush) })
	a.startAlerting(ctx)
	if a.ingestLog != nil {
		a.goFn(func() { a.ingestLog.Run(ctx, a.Store) })
	}
}

// flushEvery calls flush every interval until ctx ends, then once more
// (with a short deadline of its own), so buffered counters survive a
// graceful shutdown. A failed flush keeps its data for the next one.
func (a *App) flushEvery(ctx context.Context, interval time.Duration, what string, flush func(context.Context) error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := flush(fctx); err != nil {
				a.opts.Logger.Error("flush at shutdown failed", "what", what, "err", err)
			}
			cancel()
			return
		case <-tick.C:
			if err := flush(ctx); err != nil {
				a.opts.Logger.Warn("flush failed; will retry", "what", what, "err", err)
			}
		}
	}
}

func (a *App) goFn(f func()) {
	a.bgWG.Add(1)
	go func() {
		defer a.bgWG.Done()
		f()
	}()
}

// maintain runs retention and partition upkeep now and every interval.
// The stores make sure only one node works at a time.
func (a *App) maintain(ctx context.Context) {
	t := time.NewTicker(a.cfg.MaintenanceInterval)
	defer t.Stop()
	for {
		n, err := a.Store.Maintain(ctx, a.opts.Clock.Now(), 5000)
		if err != nil && ctx.Err() == nil {
			a.opts.Logger.Warn("maintenance failed; will retry", "err", err)
		} else if n > 0 {
			a.opts.Logger.Info("retention removed expired events", "events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Serve serves HTTP on ln until ctx is done, then shuts down gracefully:
// stops accepting, lets in-flight requests finish (up to the shutdown
// timeout), and returns. Close the App afterwards.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: a.cfg.ReadHeaderTimeout,
		ReadTimeout:       a.cfg.ReadTimeout,
		WriteTimeout:      a.cfg.WriteTimeout,
		IdleTimeout:       a.cfg.IdleTimeout,
		MaxHeaderBytes:    a.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.opts.Logger.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(a.server.CloseStreams) // live tails end instead of holding the shutdown
	a.printSetupURL(ctx, ln.Addr())
	errc := make(chan error, 1)
	if a.certs != nil {
		srv.TLSConfig = a.certs.TLSConfig() // ServeTLS adds HTTP/2
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.opts.Logger.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// ReloadTLS re-reads the TLS certificate and key (on SIGHUP); without TLS
// it does nothing. On error the previous certificate stays in use.
func (a *App) ReloadTLS() error {
	if a.certs == nil {
		return nil
	}
	return a.certs.Reload()
}

// TLS reports whether Serve serves HTTPS.
func (a *App) TLS() bool { return a.certs != nil }

// DevSecretKeySetting holds the generated secret key of a development
// deployment without PULSESTREAM_SECRET_KEY.
const DevSecretKeySetting = "dev_secret_key"

// secretBox opens the key that encrypts secrets at rest. Without
// PULSESTREAM_SECRET_KEY (allowed only outside production) the first node
// generates one and keeps it in the database, which protects nothing
// against someone holding the database: fine for a laptop, which is why
// --env=production refuses it.
func (a *App) secretBox(ctx context.Context) (*secretbox.Box, error) {
	if a.cfg.SecretKey != "" {
		box, err := secretbox.NewFromString(a.cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("PULSESTREAM_SECRET_KEY: %w", err)
		}
		return box, nil
	}
	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	stored, err := a.Store.SetSettingIfAbsent(ctx, DevSecretKeySetting, hex.EncodeToString(key))
	if err != nil {
		return nil, fmt.Errorf("store development secret key: %w", err)
	}
	a.opts.Logger.Warn("PULSESTREAM_SECRET_KEY is not set: secrets are encrypted with a key kept in the database (development only)")
	return secretbox.NewFromString(stored)
}

// Close stops the background work (flushing usage counters) and closes the
// store and Redis.
func (a *App) Close() error {
	if a.server != nil {
		a.server.CloseStreams()
	}
	if a.bgCancel != nil {
		a.bgCancel()
		a.bgWG.Wait()
	}
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	return errors.Join(errs...)
}
