//go:build !cgo

package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

var errNoCgo = errors.New("this binary was built without cgo (CGO_ENABLED=0), which the SQLite driver needs: use a postgres:// database, or build with cgo (a C compiler and CGO_ENABLED=1) for SQLite")

func openSQLite(context.Context, config.Config, *slog.Logger, pulse.CommitObserver) (pulse.Store, error) {
	return nil, errNoCgo
}

// RestoreSQLite is unavailable without cgo.
func RestoreSQLite(context.Context, string, string) (string, error) { return "", errNoCgo }

// MigrateStore is unavailable without cgo.
func MigrateStore(_ context.Context, cfg config.Config, _ func(done, total int64)) error {
	if !strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
		return errMigrateStoreSQLite
	}
	return errNoCgo
}
