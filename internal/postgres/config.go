package postgres

import (
	"errors"
	"log/slog"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Config tunes the connection pool. The zero value is usable: WithDefaults
// fills in every unset field.
type Config struct {
	// MaxConns caps the pool; default 10.
	MaxConns int32
	// StatementTimeout is the server-side statement_timeout of every
	// connection; a statement that runs longer fails with EUNAVAILABLE.
	// Default 5s.
	StatementTimeout time.Duration
	// ConnectTimeout bounds dialing and authenticating; default 5s.
	ConnectTimeout time.Duration
	// Schema, when set, is created if missing and becomes the only entry of
	// search_path, so tables, partitions and migrations live there. Tests
	// use one schema each; production leaves it empty (search_path from the
	// DSN or the server).
	Schema string
	// Logger receives maintenance and migration messages; default discards.
	Logger *slog.Logger
	// AnalyzeEvery is how many new rows make the store ANALYZE the
	// partitions it is filling (see analyze.go). Default 50,000.
	AnalyzeEvery int64
	// Writers is how many group-commit transactions may run at once
	// (groupcommit.go). Default MaxConns/2, between 1 and 4.
	Writers int
	// Observer, when set, is told about every group commit and every
	// request refused because the queue is full (metrics).
	Observer pulse.CommitObserver
}

// WithDefaults returns c with every unset field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxConns <= 0 {
		c.MaxConns = 10
	}
	if c.Writers <= 0 {
		c.Writers = min(4, max(1, int(c.MaxConns)/2))
	}
	if c.StatementTimeout <= 0 {
		c.StatementTimeout = 5 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.AnalyzeEvery <= 0 {
		c.AnalyzeEvery = 50_000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	if len(c.Schema) > 63 {
		return errors.New("schema name longer than 63 bytes")
	}
	return nil
}
