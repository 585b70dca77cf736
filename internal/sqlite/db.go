package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"

	"github.com/pulsestream/pulsestream/internal/filemode"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ pulse.Store = (*DB)(nil)

// DB is a pulse.Store on one SQLite file. All writes go through one
// connection, so write transactions never wait on each other inside
// SQLite; reads use a separate pool and see the last committed state.
type DB struct {
	write *sql.DB // exactly one connection, BEGIN IMMEDIATE
	read  *sql.DB // query_only connections
	path  string
	cfg   Config

	// group commit (groupcommit.go)
	queue    chan insertReq
	closing  chan struct{}
	loopDone chan struct{}
	taken    atomic.Int64 // requests in groups the committer has closed (tests)

	// background checkpoints (checkpoint.go)
	ckpt      *sql.DB // one connection, only for wal_checkpoint
	ckptWake  chan struct{}
	ckptDone  chan struct{}
	sinceCkpt int          // events committed since the last wake; the committer's
	ckptRuns  atomic.Int64 // checkpoints that succeeded
	closeOnce sync.Once
	started   bool

	inserts    []*sql.Stmt // [n]: the n-row event insert, prepared at Open (events.go)
	tagInserts []*sql.Stmt // [n]: the n-row tag insert
	nums       sync.Map    // tenant id → tenants.num (events.go)
	erased     sync.Map    // tenants.num → true: the tenant has erased keys (erase.go)

	// parts: events live in event_blocks, not in events (mode.go, parts*.go).
	parts, migrating bool
	keyInserts       []*sql.Stmt // [n]: the n-row event_keys insert (parts_insert.go)
	blocks           *blockCache // decoded blocks (parts_cache.go)
	metas            metaCache   // block metas (parts_meta.go)
	mergeWake        chan struct{}
	mergeDone        chan struct{}
	sinceMerge       int // level-0 blocks written since the merger's last wake; the committer's
}

// Open opens (creating if needed, with its folder) the database named by
// dsn — "sqlite://./data/pulsestream.db", "sqlite:///abs/path.db" or a
// plain path — and applies the pending migrations.
func Open(ctx context.Context, dsn string, cfg Config) (*DB, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	path, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if path, err = filepath.Abs(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	tightened, err := filemode.PrepareDB(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	for _, f := range tightened {
		cfg.Logger.Warn("database file was readable by other users; made it private (0600)", "file", f)
	}

	db := &DB{path: path, cfg: cfg, queue: make(chan insertReq, cfg.MaxQueuedRequests),
		closing: make(chan struct{}), loopDone: make(chan struct{}),
		ckptWake: make(chan struct{}, 1), ckptDone: make(chan struct{}),
		mergeWake: make(chan struct{}, 1), mergeDone: make(chan struct{}), blocks: newBlockCache(blockCacheEvents)}
	db.write = sql.OpenDB(newConnector(path, cfg, true))
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)
	if err := db.migrate(ctx); err != nil {
		db.write.Close()
		return nil, err
	}
	// Readers open after the writer has switched the file to WAL.
	db.read = sql.OpenDB(newConnector(path, cfg, false))
	db.read.SetMaxOpenConns(cfg.ReadConns)
	db.read.SetMaxIdleConns(cfg.ReadConns)
	db.read.SetConnMaxIdleTime(0)
	if err := db.read.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := db.loadEventStore(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := db.loadErased(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := db.prepareInserts(ctx); err != nil {
		db.closeInserts()
		db.write.Close()
		db.read.Close()
		return nil, fmt.Errorf("sqlite: prepare insert: %w", err)
	}
	if err := db.openCheckpointer(ctx); err != nil {
		db.closeInserts()
		db.ckpt.Close()
		db.write.Close()
		db.read.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.started = true
	go db.commitLoop()
	go db.checkpointLoop()
	if db.parts && !cfg.noMerger {
		go db.mergeLoop()
	} else {
		close(db.mergeDone)
	}
	return db, nil
}

func (db *DB) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, fsys)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", db.path, err)
	}
	return nil
}

// Close stops the group committer (queued writes are refused with
// EUNAVAILABLE; a group being committed finishes), then the checkpointer
// and the merger (a merge under way finishes), and closes every connection.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.closing) })
	if db.started {
		<-db.loopDone
		<-db.ckptDone
		<-db.mergeDone
	}
	db.closeInserts()
	var errs []error
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.Close())
	}
	return errors.Join(append(errs, db.write.Close())...)
}

// Ping checks that a read connection answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return storeErr("ping", err)
	}
	return nil
}

// connector opens connections with the file's pragmas; it replaces
// sql.Register so that nothing is global.
type connector struct {
	drv *sqlite3.SQLiteDriver
	dsn string
}

func newConnector(path string, cfg Config, writer bool) *connector {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10))
	cache := cfg.CacheSizeKiB
	if !writer {
		cache = max(cache/8, 1024)
	}
	q.Set("_cache_size", strconv.Itoa(-cache)) // negative: KiB, not pages
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", cfg.Synchronous)
	if writer {
		q.Set("_journal_mode", "WAL")
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_query_only", "on")
	}
	mmap := cfg.MmapSizeBytes
	checkpoint := cfg.WALCheckpointPages
	return &connector{
		drv: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec("PRAGMA mmap_size = "+strconv.FormatInt(mmap, 10), nil)
			if err == nil && writer {
				_, err = c.Exec("PRAGMA wal_autocheckpoint = "+strconv.Itoa(checkpoint), nil)
			}
			return err
		}},
		dsn: "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode(),
	}
}

func (c *connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c *connector) Driver() driver.Driver                        { return c.drv }

// inTx runs fn in one write transaction (BEGIN IMMEDIATE on the writer).
func (db *DB) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return storeErr(op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return commitErr(op, err)
	}
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

type scanner interface{ Scan(dest ...any) error }

// queryAll runs a query on the read pool and scans every row; the result is
// never nil, so that an empty list encodes as [].
func queryAll[T any](ctx context.Context, db *DB, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	return queryRows(ctx, db.read, op, scan, query, args...)
}

// queryRows runs a query on q (the read pool or a transaction) and scans
// every row; the result is never nil.
func queryRows[T any](ctx context.Context, q querier, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, storeErr(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, storeErr(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr(op, err)
	}
	return out, nil
}
