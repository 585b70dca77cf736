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
	return sqlite.Open(ctx, cfg.DatabaseURL, sqlite.Config{Synchronous: strings.ToUpper(cfg.SQLiteSynchronous), MaxGroupWait: cfg.SQLiteGroupWait, Observer: obs, Logger: logger})
}

// RestoreSQLite replaces the SQLite database named by dsn with the backup
// src (see sqlite.Restore); it returns where the replaced files went.
func RestoreSQLite(ctx context.Context, src, dsn string) (string, error) {
	return sqlite.Restore(ctx, src, dsn)
}
