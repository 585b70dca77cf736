package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/pulsestream/pulsestream/internal/filemode"
)

// Backup writes a consistent copy of the database to dest with VACUUM INTO:
// one read transaction, so it sees exactly what was committed when it
// started and never blocks the writer (of this or another process) in WAL
// mode. dest must not exist. The copy is compact and has no -wal file.
func (db *DB) Backup(ctx context.Context, dest string) error {
	dest, err := filepath.Abs(dest)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// The copy holds sealed secrets and key hashes: create it 0600 before
	// SQLite writes into it (VACUUM INTO fills an empty file).
	if err := filemode.CreatePrivate(dest); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("backup: %s exists; choose a new file", dest)
	} else if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// A connection of its own: the read pool is query_only (which forbids
	// VACUUM INTO) and the writer must stay free for inserts.
	conn := sql.OpenDB(&connector{drv: &sqlite3.SQLiteDriver{}, dsn: "file:" + (&url.URL{Path: db.path}).EscapedPath() + "?_busy_timeout=5000"})
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		_ = os.Remove(dest)
		return storeErr("backup", err)
	}
	return nil
}

// Restore replaces the database named by dsn with the backup file src. It
// refuses while any process has the database open (stop every server
// first), checks that src is an intact PulseStream database, and keeps the
// replaced files next to it as <name>.pre-restore-<time>[-wal|-shm]. The
// new file is copied beside the target, synced and renamed into place, so
// a crash leaves either the old or the new database.
func Restore(ctx context.Context, src, dsn string) (replaced string, err error) {
	path, err := parseDSN(dsn)
	if err != nil {
		return "", err
	}
	if path, err = filepath.Abs(path); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if err := verifyBackup(ctx, src); err != nil {
		return "", err
	}
	if busy, err := inUse(path); err != nil {
		return "", fmt.Errorf("restore: check whether %s is in use: %w", path, err)
	} else if busy {
		return "", fmt.Errorf("restore: %s is open in another process; stop every pulsestream server using it first", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), filemode.Dir); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	tmp := path + ".restoring"
	if err := copyFile(src, tmp); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("restore: %w", err)
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	if _, err := os.Stat(path); err == nil {
		replaced = path + ".pre-restore-" + stamp
	}
	// The old -wal and -shm belong to the old database: left in place,
	// SQLite would replay that WAL onto the restored file.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); err == nil {
			if err := os.Rename(path+suffix, path+".pre-restore-"+stamp+suffix); err != nil {
				return "", fmt.Errorf("restore: set aside %s: %w", path+suffix, err)
			}
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	return replaced, nil
}

// verifyBackup opens src read-only and checks its integrity and that it
// holds PulseStream's schema.
func verifyBackup(ctx context.Context, src string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	db := sql.OpenDB(&connector{drv: &sqlite3.SQLiteDriver{}, dsn: "file:" + (&url.URL{Path: src}).EscapedPath() + "?mode=ro&_query_only=on"})
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		return fmt.Errorf("restore: %s is not a readable SQLite database: %w", src, err)
	}
	if check != "ok" {
		return fmt.Errorf("restore: %s fails the integrity check: %s", src, check)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('goose_db_version', 'tenants', 'events')`).Scan(&n); err != nil || n != 3 {
		return fmt.Errorf("restore: %s is not a PulseStream database", src)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return errors.Join(out.Sync(), out.Close())
}
