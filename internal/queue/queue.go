// Package queue runs notification deliveries as durable jobs on River
// (riverqueue/river): riverpgxv5 on PostgreSQL (River's tables in the same
// schema), riversqlite on a SQLite file of its own with a single connection
// (River's advice for SQLite), so that the queue never waits on event writes.
// River stays behind alert.Queue and the few methods here.
package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/pulsestream/pulsestream/internal/alert"
	"github.com/pulsestream/pulsestream/internal/filemode"
)

// Config says where the queue lives and what its worker does.
type Config struct {
	// PostgresURL selects River on PostgreSQL (the search_path of the URL
	// is where River's tables go); otherwise SQLitePath is River's own file.
	PostgresURL string
	SQLitePath  string
	// Deliver makes one attempt; since is when the job was queued. When it
	// returns alert.ErrDeferred the job is snoozed (see DeferBackoff): it
	// gives its worker back at once and no attempt is counted.
	Deliver func(ctx context.Context, j alert.Job, since time.Time) error
	// DeferBackoff is the wait before a deferred job is tried again, by how
	// many times it has been deferred (1 = the first time); default
	// alert.Backoff(1s, 30s). The wait grows so that a tenant with a large
	// backlog behind a stalled receiver costs a bounded number of fetches
	// per second, whatever its backlog.
	DeferBackoff func(deferrals int) time.Duration
	// AttemptTimeout is the longest one webhook attempt takes (the client's
	// own timeout); the job's deadline adds 10 s for the bookkeeping.
	// Default alert.ClientConfig{}.AttemptTimeout().
	AttemptTimeout time.Duration
	// Backoff is the wait before retry number n; default alert.Backoff(30s, 1h).
	Backoff func(attempt int) time.Duration
	// MaxAttempts bounds attempts; Deliver gives up after 24 h anyway. Default 100.
	MaxAttempts int
	// Workers is how many jobs run at once; default 32. A tenant holds at
	// most its delivery concurrency of them (alert.TenantConcurrency);
	// deferred jobs hold none.
	Workers int
	// MaxConns caps River's PostgreSQL pool; default 14 (a worker holds no
	// connection while it sends, so the pool need not grow with them). Every
	// node opens one such pool besides the store's, so deployments (and
	// tests running many nodes) size it with the server's max_connections.
	MaxConns int
	// PollInterval is how often an idle queue looks for jobs. Default 1s.
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Queue is a River client with its database handle.
type Queue struct {
	insert func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error
	start  func(ctx context.Context) error
	stop   func(ctx context.Context) error
	close  func()
	cfg    Config
}

var _ alert.Queue = (*Queue)(nil)

// notifyArgs is the job: which notification, in which round.
type notifyArgs struct {
	alert.Job
}

func (notifyArgs) Kind() string { return "pulsestream.notify" }

type worker struct {
	river.WorkerDefaults[notifyArgs]
	cfg Config
}

func (w *worker) Work(ctx context.Context, job *river.Job[notifyArgs]) error {
	err := w.cfg.Deliver(ctx, job.Args.Job, job.CreatedAt)
	switch {
	case err == nil:
		return nil
	case alert.IsDeferred(err):
		return river.JobSnooze(w.cfg.DeferBackoff(snoozes(job.Metadata) + 1))
	case alert.IsPermanent(err):
		return river.JobCancel(err)
	}
	return err
}

// snoozes is how many times River has snoozed the job (it keeps the count
// in the job's metadata; a snooze does not count as an attempt).
func snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m) // no count: 0
	return m.Snoozes
}

// NextRetry applies the configured backoff instead of River's default.
func (w *worker) NextRetry(job *river.Job[notifyArgs]) time.Time {
	return time.Now().Add(w.cfg.Backoff(job.Attempt))
}

// Timeout leaves room for the webhook's own timeout and the bookkeeping.
func (w *worker) Timeout(*river.Job[notifyArgs]) time.Duration {
	return w.cfg.AttemptTimeout + 10*time.Second
}

// Open connects, migrates River's schema and builds the (stopped) client.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Deliver == nil {
		return nil, errors.New("queue: Deliver is required")
	}
	if cfg.Backoff == nil {
		cfg.Backoff = alert.Backoff(30*time.Second, time.Hour)
	}
	if cfg.DeferBackoff == nil {
		cfg.DeferBackoff = alert.Backoff(time.Second, 30*time.Second)
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = alert.ClientConfig{}.AttemptTimeout()
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 100
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{cfg: cfg})
	rcfg := &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:           workers,
		MaxAttempts:       cfg.MaxAttempts,
		FetchPollInterval: cfg.PollInterval,
		FetchCooldown:     min(100*time.Millisecond, cfg.PollInterval),
		Logger:            cfg.Logger,
		// Stuck deliveries (a node died mid-attempt) are run again after this.
		RescueStuckJobsAfter: time.Minute,
	}
	q := &Queue{cfg: cfg}
	if cfg.PostgresURL != "" {
		return q, q.openPostgres(ctx, rcfg)
	}
	return q, q.openSQLite(ctx, rcfg)
}

func (q *Queue) openPostgres(ctx context.Context, rcfg *river.Config) error {
	pcfg, err := pgxpool.ParseConfig(q.cfg.PostgresURL)
	if err != nil {
		return fmt.Errorf("queue: parse postgres url: %w", err)
	}
	pcfg.MaxConns = 14
	if q.cfg.MaxConns > 0 {
		pcfg.MaxConns = int32(q.cfg.MaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("queue: postgres pool: %w", err)
	}
	drv := riverpgxv5.New(pool)
	if err := migrateLocked(ctx, pool, func() error { return migrate(ctx, drv, q.cfg.Logger) }); err != nil {
		pool.Close()
		return err
	}
	client, err := river.NewClient(drv, rcfg)
	if err != nil {
		pool.Close()
		return fmt.Errorf("queue: river client: %w", err)
	}
	bind(q, client, pool.Close)
	return nil
}

func (q *Queue) openSQLite(ctx context.Context, rcfg *river.Config) error {
	if q.cfg.SQLitePath == "" {
		return errors.New("queue: a PostgreSQL URL or a SQLite path is required")
	}
	tightened, err := filemode.PrepareDB(q.cfg.SQLitePath)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	for _, f := range tightened {
		q.cfg.Logger.Warn("queue database file was readable by other users; made it private (0600)", "file", f)
	}
	v := url.Values{}
	v.Set("_busy_timeout", "10000")
	v.Set("_journal_mode", "WAL")
	v.Set("_synchronous", "NORMAL")
	v.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: q.cfg.SQLitePath}).EscapedPath()+"?"+v.Encode())
	if err != nil {
		return fmt.Errorf("queue: open %s: %w", q.cfg.SQLitePath, err)
	}
	db.SetMaxOpenConns(1) // riversqlite: one connection, or SQLITE_BUSY
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	drv := riversqlite.New(db)
	if err := migrate(ctx, drv, q.cfg.Logger); err != nil {
		db.Close()
		return err
	}
	rcfg.PollOnly = true // no LISTEN/NOTIFY on SQLite
	client, err := river.NewClient(drv, rcfg)
	if err != nil {
		db.Close()
		return fmt.Errorf("queue: river client: %w", err)
	}
	bind(q, client, func() { db.Close() })
	return nil
}

// Migrate applies River's migrations, as Open does first, and returns:
// `pulsestream migrate` prepares everything a server would.
func Migrate(ctx context.Context, cfg Config) error {
	cfg.Deliver = func(context.Context, alert.Job, time.Time) error { return nil }
	q, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	q.Close()
	return nil
}

// migrateLocked runs River's migrations under a session advisory lock, so
// nodes starting together on one PostgreSQL take turns instead of racing
// to create the same tables.
func migrateLocked(ctx context.Context, pool *pgxpool.Pool, run func() error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("queue: migrate lock: %w", err)
	}
	defer conn.Release()
	const key = "hashtext(coalesce(current_schema(), '') || '.pulsestream_river_migrate')"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock("+key+")"); err != nil {
		return fmt.Errorf("queue: migrate lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock("+key+")"); err != nil {
			_ = conn.Hijack().Close(uctx) // a held session lock must not go back to the pool
		}
	}()
	return run()
}

func migrate[TTx any](ctx context.Context, drv riverdriver.Driver[TTx], log *slog.Logger) error {
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("queue: migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	return nil
}

func bind[TTx any](q *Queue, c *river.Client[TTx], closeFn func()) {
	q.insert = func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
		_, err := c.Insert(ctx, args, opts)
		return err
	}
	q.start, q.stop, q.close = c.Start, c.Stop, closeFn
}

// Enqueue adds the delivery job unless the same job (tenant, notification,
// round) is already queued, running or done.
func (q *Queue) Enqueue(ctx context.Context, j alert.Job) error {
	err := q.insert(ctx, notifyArgs{Job: j}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}})
	if err != nil {
		return fmt.Errorf("queue: enqueue: %w", err)
	}
	return nil
}

// Start starts working jobs in the background until Stop.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.start(ctx); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	return nil
}

// Stop lets running deliveries finish (until ctx is done), stops the client
// and closes its database handle. Jobs left are worked after the next start.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.stop(ctx)
	q.close()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("queue: stop: %w", err)
	}
	return nil
}

// Close releases the database handle of a queue that was never started.
func (q *Queue) Close() { q.close() }
