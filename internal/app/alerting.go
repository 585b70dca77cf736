package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/alert"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/queue"
)

// alerting is the node's share of alerting: the evaluator (which works
// only while this node holds the lease) and the delivery queue's worker.
type alerting struct {
	evaluator *alert.Evaluator
	queue     *queue.Queue
	started   bool
}

// openAlerting builds the evaluator and opens the notification queue:
// River on the same PostgreSQL database, or on a SQLite file of its own
// beside the event database.
func (a *App) openAlerting(ctx context.Context) error {
	metrics := alert.NewMetrics(a.Registry)
	client := alert.ClientConfig{AllowPrivate: a.cfg.WebhookAllowPrivate,
		ConnectTimeout: a.cfg.WebhookConnectTimeout, ResponseTimeout: a.cfg.WebhookTimeout}
	// Per-job look-ups of a tenant's limits (its webhook share) read a
	// cache refreshed from the store every 5 s.
	defaults := a.cfg.AlertLimits
	defaults.WebhookConcurrency = a.cfg.WebhookTenantConcurrency
	limits := alert.NewLimitsCache(a.Store, a.opts.Clock, 5*time.Second, defaults)
	deliverer := alert.NewDeliverer(alert.DelivererConfig{
		Store: a.Store, Clock: a.opts.Clock, Client: alert.NewHTTPClient(client),
		Logger: a.opts.Logger, Metrics: metrics, SecretBox: a.box,
		TenantConcurrency: webhookTenantConcurrency(limits, a.cfg.WebhookWorkers),
	})
	qcfg := queueConfig(a.cfg, a.Store)
	qcfg.Deliver, qcfg.Backoff, qcfg.Logger = deliverer.Deliver, a.opts.WebhookBackoff, a.opts.Logger
	qcfg.PollInterval, qcfg.Workers, qcfg.AttemptTimeout = a.opts.QueuePollInterval, a.cfg.WebhookWorkers, client.AttemptTimeout()
	q, err := queue.Open(ctx, qcfg)
	if err != nil {
		return fmt.Errorf("notification queue: %w", err)
	}
	a.alerting = &alerting{queue: q, evaluator: alert.NewEvaluator(alert.Config{
		Store: a.Store, Queue: q, Clock: a.opts.Clock, Logger: a.opts.Logger, Metrics: metrics,
		Limits: a.cfg.AlertLimits, Tenants: a.Store,
	})}
	a.closers = append(a.closers, a.stopAlerting)
	return nil
}

// queueConfig says where the notification queue of store lives: beside
// it in PostgreSQL, or in its own SQLite file next to the store's.
func queueConfig(cfg config.Config, store pulse.Store) queue.Config {
	var qcfg queue.Config
	if strings.HasPrefix(cfg.DatabaseURL, "postgres") {
		qcfg.PostgresURL = cfg.DatabaseURL
		qcfg.MaxConns = min(cfg.PGMaxConns, 14) // a node's two pools stay within 2 × --pg-max-conns
	} else if p, ok := store.(interface{ QueuePath() string }); ok {
		qcfg.SQLitePath = p.QueuePath()
	}
	return qcfg
}

// Migrate applies every migration a server applies at start: the store's
// and the notification queue's (River). step, if not nil, is told how many
// of the two are done.
func Migrate(ctx context.Context, cfg config.Config, step func(done int)) error {
	if step == nil {
		step = func(int) {}
	}
	step(0)
	store, err := OpenStore(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer store.Close()
	step(1)
	qcfg := queueConfig(cfg, store)
	qcfg.MaxConns = 2
	if err := queue.Migrate(ctx, qcfg); err != nil {
		return fmt.Errorf("notification queue: %w", err)
	}
	return nil
}

// webhookTenantConcurrency is a tenant's share of the node's webhook
// workers: its alert_limits.webhook_concurrency override, else
// --webhook-tenant-concurrency; never more than half of the workers, so
// one tenant's stalled receivers always leave workers to the others.
func webhookTenantConcurrency(limits *alert.LimitsCache, workers int) alert.TenantConcurrency {
	return func(tenant string) int { return min(limits.For(tenant).WebhookConcurrency, workers/2) }
}

// startAlerting starts the queue's worker and the evaluation loop.
func (a *App) startAlerting(ctx context.Context) {
	// Not ctx: cancelling it would hard-stop River; stopAlerting stops it gently.
	if err := a.alerting.queue.Start(context.WithoutCancel(ctx)); err != nil {
		a.opts.Logger.Error("notification queue did not start; webhooks wait for the next start", "err", err)
	} else {
		a.alerting.started = true
	}
	a.goFn(func() { a.alerting.evaluator.Run(ctx) })
}

// stopAlerting lets running deliveries finish (up to the shutdown timeout)
// and closes the queue; undelivered jobs stay queued for the next start.
func (a *App) stopAlerting() error {
	if !a.alerting.started {
		a.alerting.queue.Close()
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(a.cfg.ShutdownTimeout, 30*time.Second))
	defer cancel()
	return a.alerting.queue.Stop(ctx)
}

// Evaluator is the node's alert evaluator (tests call its Tick).
func (a *App) Evaluator() *alert.Evaluator { return a.alerting.evaluator }
