// Package config holds the server's configuration as a value: defaults,
// loading from flags and PULSESTREAM_* environment variables, validation.
// There are no globals; main builds one Config and passes it down.
package config

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
)

// Config is everything `pulsestream serve` can be told.
type Config struct {
	Addr        string
	DatabaseURL string
	RedisURL    string
	AdminToken  string

	RateLimitFailure string // "open" (fall back to the node's own limiter) or "closed" (503)

	MaxBodyBytes    int64
	MaxPayloadBytes int
	MaxBatchEvents  int
	KeyCacheTTL     time.Duration
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration

	MaintenanceInterval time.Duration

	PGMaxConns         int
	PGStatementTimeout time.Duration
	SQLiteSynchronous  string

	LogLevel  string
	LogFormat string
	Pprof     bool
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Addr:                ":8000",
		DatabaseURL:         "sqlite://./data/pulsestream.db",
		RateLimitFailure:    "open",
		MaxBodyBytes:        10 << 20,
		MaxPayloadBytes:     5 << 20,
		MaxBatchEvents:      1000,
		KeyCacheTTL:         2 * time.Second,
		RequestTimeout:      10 * time.Second,
		ShutdownTimeout:     20 * time.Second,
		MaintenanceInterval: 5 * time.Minute,
		PGMaxConns:          16,
		PGStatementTimeout:  5 * time.Second,
		SQLiteSynchronous:   "NORMAL",
		LogLevel:            "info",
		LogFormat:           "json",
	}
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("--addr must not be empty"))
	}
	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("--database must start with sqlite:, postgres:// or postgresql://"))
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis") {
		errs = append(errs, errors.New("--redis must be a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL"))
	}
	if c.RateLimitFailure != "open" && c.RateLimitFailure != "closed" {
		errs = append(errs, errors.New("--rate-limit-failure must be open or closed"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("--max-body-bytes must be at least 1024"))
	}
	if c.MaxPayloadBytes < 1 || int64(c.MaxPayloadBytes) > c.MaxBodyBytes {
		errs = append(errs, errors.New("--max-payload-bytes must be between 1 and --max-body-bytes"))
	}
	if c.MaxBatchEvents < 1 || c.MaxBatchEvents > 100000 {
		errs = append(errs, errors.New("--max-batch-events must be between 1 and 100000"))
	}
	if c.KeyCacheTTL < 0 || c.KeyCacheTTL > 5*time.Second {
		errs = append(errs, errors.New("--key-cache-ttl must be between 0 and 5s (revocation must take effect within 5 s)"))
	}
	if c.RequestTimeout <= 0 || c.ShutdownTimeout <= 0 || c.MaintenanceInterval <= 0 {
		errs = append(errs, errors.New("--request-timeout, --shutdown-timeout and --maintenance-interval must be positive"))
	}
	if c.PGMaxConns < 1 {
		errs = append(errs, errors.New("--pg-max-conns must be at least 1"))
	}
	switch strings.ToUpper(c.SQLiteSynchronous) {
	case "NORMAL", "FULL", "EXTRA":
	default:
		errs = append(errs, errors.New("--sqlite-synchronous must be NORMAL, FULL or EXTRA"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, errors.New("--log-level must be debug, info, warn or error"))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, errors.New("--log-format must be json or text"))
	}
	return errors.Join(errs...)
}

// envNames maps flags whose environment variable is not simply
// PULSESTREAM_<FLAG_IN_UPPER_SNAKE_CASE>.
var envNames = map[string]string{
	"database": "PULSESTREAM_DATABASE_URL",
	"redis":    "PULSESTREAM_REDIS_URL",
}

// EnvName is the environment variable that sets flag name.
func EnvName(name string) string {
	if n, ok := envNames[name]; ok {
		return n
	}
	return "PULSESTREAM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// DatabaseFlag registers --database on fs (shared by every subcommand).
func DatabaseFlag(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "database", *dst, "database URL: sqlite://PATH or postgres://...")
}

// ServeFlags registers every serve flag on fs, writing into c.
func ServeFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address")
	DatabaseFlag(fs, &c.DatabaseURL)
	fs.StringVar(&c.RedisURL, "redis", c.RedisURL, "Redis URL for the shared rate limiter (empty: in-process limiter)")
	fs.StringVar(&c.AdminToken, "admin-token", c.AdminToken, "operator token for /admin/v1 (empty: generated at first start and printed once)")
	fs.StringVar(&c.RateLimitFailure, "rate-limit-failure", c.RateLimitFailure, "when Redis is unreachable: open (use this node's limiter) or closed (503)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body, after gzip decompression")
	fs.IntVar(&c.MaxPayloadBytes, "max-payload-bytes", c.MaxPayloadBytes, "largest event payload (encoded JSON)")
	fs.IntVar(&c.MaxBatchEvents, "max-batch-events", c.MaxBatchEvents, "most events in one batch request")
	fs.DurationVar(&c.KeyCacheTTL, "key-cache-ttl", c.KeyCacheTTL, "how long an API key look-up is cached (≤ 5s)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "deadline for one request's database work")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long shutdown waits for in-flight requests")
	fs.DurationVar(&c.MaintenanceInterval, "maintenance-interval", c.MaintenanceInterval, "how often retention and partition upkeep run")
	fs.IntVar(&c.PGMaxConns, "pg-max-conns", c.PGMaxConns, "PostgreSQL connection pool size")
	fs.DurationVar(&c.PGStatementTimeout, "pg-statement-timeout", c.PGStatementTimeout, "PostgreSQL statement_timeout")
	fs.StringVar(&c.SQLiteSynchronous, "sqlite-synchronous", c.SQLiteSynchronous, "SQLite synchronous mode: NORMAL (safe on process crash) or FULL (also on power loss)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "json or text")
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, "serve /debug/pprof/ behind the admin token")
}

// Parse parses args into fs, then fills every flag that was not given on the
// command line from its environment variable (see EnvName).
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}
