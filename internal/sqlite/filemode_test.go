package sqlite_test

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
)

// wantMode fails unless path exists with exactly mode.
func wantMode(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if st.Mode().Perm() != mode {
		t.Errorf("%s has mode %v, want %v", filepath.Base(path), st.Mode().Perm(), mode)
	}
}

// TestFilesArePrivate: the database, its -wal and -shm, the folder Open
// creates and a backup are readable by the owner only, whatever the umask
// grants (0022 here would give 0644 files); a database left 0644 by an
// older version is made private on open, with a log line.
func TestFilesArePrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "pulse.db")
	db, err := sqlite.Open(t.Context(), path, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := pulse.NewTenant(pulse.NewID(), "files", 100, 30, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTenant(t.Context(), tn); err != nil { // a write: the WAL and its index exist
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := db.Backup(t.Context(), backup); err != nil {
		t.Fatal(err)
	}
	wantMode(t, dir, 0o700)
	for _, p := range []string{path, path + "-wal", path + "-shm", backup} {
		wantMode(t, p, 0o600)
	}
	if err := db.Backup(t.Context(), backup); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a second backup onto the same file: %v, want refused", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// An existing database readable by others is tightened on open.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	db, err = sqlite.Open(t.Context(), path, sqlite.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantMode(t, path, 0o600)
	if _, err := os.Stat(path + "-wal"); err == nil {
		wantMode(t, path+"-wal", 0o600)
	}
	if !strings.Contains(logs.String(), "made it private") || !strings.Contains(logs.String(), path) {
		t.Errorf("no log line names the tightened file: %q", logs.String())
	}
}
