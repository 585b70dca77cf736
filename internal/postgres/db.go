package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is a pulse.Store on a PostgreSQL connection pool. It is safe for
// concurrent use; several DBs (nodes) may share one database and schema.
type DB struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	mu    sync.Mutex
	parts map[int64]bool // days (since the Unix epoch, UTC) whose events partition is known to exist

	// background ANALYZE of filling partitions (analyze.go)
	analyzeEvery int64
	sinceAnalyze atomic.Int64
	analyzing    atomic.Bool
	bgMu         sync.Mutex // orders bg.Add against Close's bg.Wait
	bg           sync.WaitGroup
	bgCtx        context.Context
	bgCancel     context.CancelFunc

	commits *committer // group commit of InsertEvents (groupcommit.go)
}

var _ pulse.Store = (*DB)(nil)

// Open connects to the database at dsn, creates cfg.Schema if set, runs the
// migrations and returns the store. It returns EUNAVAILABLE when the server
// cannot be reached.
func Open(ctx context.Context, dsn string, cfg Config) (*DB, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("postgres config: %w", err)
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse postgres dsn: %w", err)
	}
	pcfg.MaxConns = cfg.MaxConns
	pcfg.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	if cfg.Schema != "" {
		if err := createSchema(ctx, pcfg.ConnConfig, cfg.Schema); err != nil {
			return nil, err
		}
		pcfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{cfg.Schema}.Sanitize()
	}

	// Migrations may legitimately run longer than a request's statement, so
	// they run on a connection without the statement timeout.
	if err := migrate(ctx, pcfg.ConnConfig.Copy(), cfg.Logger); err != nil {
		return nil, err
	}

	pcfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres pool: %w", err)
	}
	db := &DB{pool: pool, log: cfg.Logger, parts: make(map[int64]bool), analyzeEvery: cfg.AnalyzeEvery}
	db.bgCtx, db.bgCancel = context.WithCancel(context.Background())
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	db.commits = startCommitter(db, cfg.Writers, cfg.Observer)
	return db, nil
}

// Close stops the group committer (a group in flight finishes), then
// closes the pool, waiting for connections in use to be returned.
func (db *DB) Close() error {
	db.commits.close()
	db.bgMu.Lock()
	db.bgCancel()
	db.bgMu.Unlock()
	db.bg.Wait()
	db.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return dbError("ping", err)
	}
	return nil
}

func createSchema(ctx context.Context, cc *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return dbError("connect", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// IF NOT EXISTS still fails with a unique violation when another node
	// creates the schema at the same moment; that is success too.
	_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	if err != nil && !isUniqueViolation(err) {
		return dbError("create schema", err)
	}
	return nil
}

// migrate applies the embedded migrations in the connection's search_path
// schema, holding an advisory lock for that schema so that nodes starting
// together apply each migration once.
func migrate(ctx context.Context, cc *pgx.ConnConfig, log *slog.Logger) error {
	sqlDB := stdlib.OpenDB(*cc)
	defer sqlDB.Close()
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithSessionLocker(schemaLocker{}),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(log),
	)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return dbError("migrate", err)
	}
	for _, r := range results {
		log.Info("applied migration", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// schemaLocker is a goose session locker that blocks on an advisory lock
// keyed by the current schema, so that tests in separate schemas migrate in
// parallel while nodes sharing a schema take turns. Unlike goose's own
// locker it waits in the server instead of polling every few seconds.
type schemaLocker struct{}

const migrateLockSQL = "hashtext(coalesce(current_schema(), '') || '.pulsestream_migrate')"

func (schemaLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+migrateLockSQL+")")
	return err
}

func (schemaLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock("+migrateLockSQL+")")
	return err
}
