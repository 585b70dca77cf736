package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/filemode"
)

// backupSetup: `backup FILE` writes a consistent online copy of the SQLite
// database; the server may keep running and writing meanwhile. With
// --server the running server writes it (GET /admin/v1/backup), after
// flushing the usage counters it holds in memory, so that the copy has
// them up to the moment it is taken.
func backupSetup(fs *flag.FlagSet) runFunc {
	server := fs.String("server", "", "URL of the running server to back up through (includes its in-memory usage counters); needs PULSESTREAM_ADMIN_TOKEN")
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("backup", pos, 1); err != nil {
			return err
		}
		dest := pos[0]
		if err := checkBackupDest(dest); err != nil {
			return err
		}
		p := newProgress(e.stderr, "backup", "bytes", 0)
		if *server != "" {
			n, err := backupFromServer(e, *server, dest, p)
			if err != nil {
				return err
			}
			p.finish(n)
			fmt.Fprintf(e.stdout, "backup written to %s by %s (consistent as of its start, usage counters flushed first)\n", dest, *server)
			return nil
		}
		if !strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
			return fmt.Errorf("backup copies SQLite databases; for PostgreSQL use pg_dump or PITR (docs/RUNBOOK.md)")
		}
		if err := sqliteExists(cfg.DatabaseURL); err != nil {
			return err
		}
		s, err := app.OpenStore(e.ctx, cfg, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			return err
		}
		defer s.Close()
		db, ok := s.(app.FileBackupper)
		if !ok {
			return fmt.Errorf("backup: not a SQLite store")
		}
		if st, err := os.Stat(strings.TrimPrefix(cfg.DatabaseURL, "sqlite://")); err == nil {
			p.total = st.Size()
		}
		stop := watchFile(p, dest)
		err = db.Backup(e.ctx, dest)
		stop()
		if err != nil {
			return err
		}
		if st, err := os.Stat(dest); err == nil {
			p.finish(st.Size())
		}
		fmt.Fprintf(e.stdout, "backup written to %s (consistent as of its start; usage counted by a running server in its last second is not in it: use --server for that)\n", dest)
		return nil
	}
}

// checkBackupDest says what is wrong with a backup destination before any
// work: its folder missing or not writable, or the file already there.
func checkBackupDest(dest string) error {
	abs, err := filepath.Abs(dest)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	dir := filepath.Dir(abs)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("backup: folder %s does not exist; create it first (mkdir -p %s)", dir, dir)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("backup: permission denied reading folder %s", dir)
	case err != nil:
		return fmt.Errorf("backup: %w", err)
	case !st.IsDir():
		return fmt.Errorf("backup: %s is not a folder", dir)
	}
	if _, err := os.Lstat(abs); err == nil {
		return fmt.Errorf("backup: %s exists; choose a new file", abs)
	}
	return nil
}

// backupFromServer downloads GET /admin/v1/backup into dest (created 0600).
func backupFromServer(e *env, server, dest string, p *progress) (int64, error) {
	token := e.getenv("PULSESTREAM_ADMIN_TOKEN")
	if token == "" {
		return 0, fmt.Errorf("backup --server needs the admin token in PULSESTREAM_ADMIN_TOKEN")
	}
	req, err := http.NewRequestWithContext(e.ctx, "GET", strings.TrimRight(server, "/")+"/admin/v1/backup", nil)
	if err != nil {
		return 0, fmt.Errorf("backup --server: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("backup --server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("backup --server: the server answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	if err := filemode.CreatePrivate(dest); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_TRUNC, filemode.Private)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	p.total = resp.ContentLength
	n, err := io.Copy(f, &progressReader{r: resp.Body, p: p})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dest)
		return 0, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}

// progressReader updates p with the bytes read through it.
type progressReader struct {
	r io.Reader
	p *progress
	n int64
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.n += int64(n)
	r.p.update(r.n)
	return n, err
}

// restoreSetup: `restore FILE` replaces the SQLite database with FILE;
// every server using the database must be stopped first (it refuses
// otherwise).
func restoreSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("restore", pos, 1); err != nil {
			return err
		}
		if !strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
			return fmt.Errorf("restore works on SQLite; for PostgreSQL use pg_restore or PITR (docs/RUNBOOK.md)")
		}
		st, err := os.Stat(pos[0])
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		p := newProgress(e.stderr, "restore", "bytes", st.Size())
		stop := watchFile(p, strings.TrimPrefix(cfg.DatabaseURL, "sqlite://")+".restoring")
		replaced, err := app.RestoreSQLite(e.ctx, pos[0], cfg.DatabaseURL)
		stop()
		if err != nil {
			return err
		}
		p.finish(st.Size())
		fmt.Fprintf(e.stdout, "restored %s into %s\n", pos[0], redactURL(cfg.DatabaseURL))
		if replaced != "" {
			fmt.Fprintf(e.stdout, "the previous database was kept as %s\n", replaced)
		}
		return nil
	}
}
