package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/filemode"
	"github.com/pulsestream/pulsestream/internal/redis"
)

var errUsage = errors.New("usage")

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationInSeconds}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg := config.Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config.ServeFlags(fs, &cfg)
	if err := config.Parse(fs, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errUsage
		}
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	redis.RouteClientLogs(logger)
	a, err := app.New(ctx, cfg, app.Options{Logger: logger, Stderr: stderr})
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	a.Start()
	stopHUP := reloadOnSIGHUP(ctx, a, logger)
	defer stopHUP()
	logger.Info("pulsestream listening", "addr", ln.Addr().String(), "tls", a.TLS(), "database", redactURL(cfg.DatabaseURL), "version", version)
	if err := a.Serve(ctx, ln); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

// durationInSeconds writes a time.Duration attribute (ours, goose's,
// River's) as seconds, a float, with the unit in the key ("duration" →
// "duration_s"), instead of slog's raw nanoseconds.
func durationInSeconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.Float64(a.Key+"_s", a.Value.Duration().Seconds())
	}
	return a
}

// redactURL hides a password in a database URL before it is logged.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if at := strings.LastIndex(u, "@"); at > i {
			rest := u[i+3 : at]
			if c := strings.Index(rest, ":"); c >= 0 {
				return u[:i+3] + rest[:c] + ":***" + u[at:]
			}
		}
	}
	return u
}

// dbFlags parses the flags of a CLI subcommand that only needs the database.
func dbFlags(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (config.Config, *flag.FlagSet, error) {
	cfg := config.Default()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	config.DatabaseFlag(fs, &cfg.DatabaseURL)
	fs.StringVar(&cfg.SQLiteSynchronous, "sqlite-synchronous", cfg.SQLiteSynchronous, "SQLite synchronous mode")
	if extra != nil {
		extra(fs)
	}
	if err := config.Parse(fs, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, fs, errUsage
		}
		return cfg, fs, err
	}
	if strings.HasPrefix(cfg.DatabaseURL, "sqlite://") {
		// CLI commands must not create a database in a wrong place silently,
		// but on first use the folder may not exist yet.
		path := strings.TrimPrefix(cfg.DatabaseURL, "sqlite://")
		_ = os.MkdirAll(filepath.Dir(path), filemode.Dir)
	}
	return cfg, fs, cfg.Validate()
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := dbFlags("migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	s, err := app.OpenStore(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied to", redactURL(cfg.DatabaseURL))
	return s.Close()
}

// reloadOnSIGHUP re-reads the TLS certificate on every SIGHUP until ctx
// ends or the returned stop is called (which waits for the goroutine).
func reloadOnSIGHUP(ctx context.Context, a *app.App, logger *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-hup:
				if err := a.ReloadTLS(); err != nil {
					logger.Error("SIGHUP: TLS certificate not reloaded; still serving the previous one", "err", err)
				} else if a.TLS() {
					logger.Info("SIGHUP: TLS certificate reloaded")
				}
			}
		}
	})
	return func() {
		signal.Stop(hup)
		close(done)
		wg.Wait()
	}
}
