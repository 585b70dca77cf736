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

func serveSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("serve", pos, 0); err != nil {
			return err
		}
		if err := sqliteFolder(cfg.DatabaseURL); err != nil {
			return err
		}
		logger := newLogger(cfg, e.stderr)
		redis.RouteClientLogs(logger)
		a, err := app.New(e.ctx, cfg, app.Options{Logger: logger, Stderr: e.stderr})
		if err != nil {
			return err
		}
		defer a.Close()
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return listenError(cfg.Addr, err)
		}
		a.Start()
		stopHUP := reloadOnSIGHUP(e.ctx, a, logger)
		defer stopHUP()
		b := app.ReadBuild()
		logger.Info("pulsestream listening", "addr", ln.Addr().String(), "tls", a.TLS(), "database", redactURL(cfg.DatabaseURL), "version", b.Version, "revision", b.Revision)
		if err := a.Serve(e.ctx, ln); err != nil {
			return err
		}
		logger.Info("stopped")
		return nil
	}
}

// listenError names the setting to change when the address is taken.
func listenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen on %s: the address is already in use (another pulsestream or program holds it); choose another with --addr (or PULSESTREAM_ADDR), e.g. --addr :8080", addr)
	}
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("listen on %s: permission denied (ports below 1024 need privileges); choose another with --addr (or PULSESTREAM_ADDR), e.g. --addr :8080", addr)
	}
	return fmt.Errorf("listen on %s: %w (set --addr or PULSESTREAM_ADDR)", addr, err)
}

// sqliteFolder creates the folder of a SQLite database, or says plainly
// why it cannot ("permission denied" and the path).
func sqliteFolder(databaseURL string) error {
	path, ok := strings.CutPrefix(databaseURL, "sqlite://")
	if !ok {
		return nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, filemode.Dir); err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EROFS) {
			return fmt.Errorf("database folder %s: permission denied (the user running pulsestream cannot create it); choose a writable place with --database sqlite://PATH", dir)
		}
		return fmt.Errorf("database folder %s: %w", dir, err)
	}
	if !writable(dir) {
		return fmt.Errorf("database folder %s: permission denied (the user running pulsestream cannot write there); choose a writable place with --database sqlite://PATH", dir)
	}
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

// writable tries to create a file in dir: the only test that holds for
// root, read-only mounts and ACLs alike.
func writable(dir string) bool {
	f, err := os.CreateTemp(dir, ".pulsestream-write-test-*")
	if err != nil {
		return false
	}
	f.Close()
	_ = os.Remove(f.Name())
	return true
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

func migrateSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("migrate", pos, 0); err != nil {
			return err
		}
		if err := sqliteFolder(cfg.DatabaseURL); err != nil {
			return err
		}
		p := newProgress(e.stderr, "migrate", "steps", 2)
		if err := app.Migrate(e.ctx, cfg, func(done int) { p.update(int64(done)) }); err != nil {
			return err
		}
		p.finish(2)
		fmt.Fprintln(e.stdout, "migrations applied to", redactURL(cfg.DatabaseURL), "(store and notification queue)")
		return nil
	}
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
