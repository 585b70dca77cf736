package queue_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/alert"
	"github.com/pulsestream/pulsestream/internal/queue"
)

// TestSQLiteFileIsPrivate: River's own SQLite file, its -wal and -shm and
// the folder made for them are the owner's only (River's jobs carry
// notification ids and tenant ids).
func TestSQLiteFileIsPrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "queue.db")
	q, err := queue.Open(t.Context(), queue.Config{SQLitePath: path,
		Deliver: func(context.Context, alert.Job, time.Time) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	want := map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600}
	for p, mode := range want {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat: %v", err) // the migration wrote: the WAL and its index exist
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", filepath.Base(p), st.Mode().Perm(), mode)
		}
	}
}
