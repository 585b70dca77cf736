//go:build cgo

package app

import (
	"context"
	"log/slog"
	"strings"

	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
)

// The SQLite driver (mattn/go-sqlite3) needs cgo; without it (CGO_ENABLED=0,
// PostgreSQL-only builds) sqlite_nocgo.go refuses sqlite:// URLs instead.

func openSQLite(ctx context.Context, cfg config.Config, logger *slog.Logger, obs pulse.CommitObserver) (pulse.Store, error) {
	return sqlite.Open(ctx, cfg.DatabaseURL, sqlite.Config{Synchronous: strings.ToUpper(cfg.SQLiteSynchronous), EventStore: cfg.EventStore,
		MaxGroupWait: cfg.SQLiteGroupWait, Observer: obs, Logger: logger})
}

// RestoreSQLite replaces the SQLite database named by dsn with the backup
// src (see sqlite.Restore); it returns where the replaced files went.
func RestoreSQLite(ctx context.Context, src, dsn string) (string, error) {
	return sqlite.Restore(ctx, src, dsn)
}

// MigrateStore moves the events of the SQLite database cfg.DatabaseURL
// from rows into the parts store (sqlite.DB.MigrateToParts): resumable,
// verified, servers stopped. progress is told after each chunk.
func MigrateStore(ctx context.Context, cfg config.Config, progress func(done, total int64)) error {
	if !strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
		return errMigrateStoreSQLite
	}
	db, err := sqlite.Open(ctx, cfg.DatabaseURL, sqlite.Config{Synchronous: strings.ToUpper(cfg.SQLiteSynchronous), AllowMigrating: true})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.MigrateToParts(ctx, progress)
}
