package chaos

import (
	"database/sql"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// TestChaosDiskFull puts the SQLite database on an 8 MiB tmpfs and fills it
// under load: ingestion answers 507 or 503 (never 500, never a 2xx for an
// event that was not stored), the process stays up, and once a filler file
// is deleted ingestion recovers without a restart. Afterwards the database
// passes PRAGMA integrity_check and reads back the same after a restart.
func TestChaosDiskFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount an 8 MiB tmpfs for the disk-full scenario (needs root or CAP_SYS_ADMIN): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() }) // runs after the server is stopped
	reserve := filepath.Join(dir, "reserve")
	if err := os.WriteFile(reserve, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "pulsestream.db")
	srv := startServer(t, "sqlite://"+dbPath)
	key := srv.tenant("disk-full", 1_000_000_000)
	f := startFleet(t, srv.URL, key, fleetConfig{name: "diskfull", clients: 4, batchMax: 20, padBytes: 2048, pace: 5 * time.Millisecond})

	// Load until the disk is full and writes fail.
	deadline := time.Now().Add(60 * time.Second)
	for f.rec.statusTotal(http.StatusInsufficientStorage)+f.rec.statusTotal(http.StatusServiceUnavailable) < 20 {
		if time.Now().After(deadline) || !srv.running() {
			t.Fatalf("no 507/503 after 60 s of load on a full 8 MiB disk (running=%v); statuses %v", srv.running(), f.rec.statuses)
		}
		time.Sleep(50 * time.Millisecond) // waiting for the disk to fill
	}
	// Take the last bytes too, so that even small writes fail.
	filler := filepath.Join(dir, "filler")
	fillUp(t, filler)
	f.rec.setPhase("full")
	time.Sleep(2 * time.Second) // load on the full disk
	full := f.rec.phaseStatuses("full")
	if st, _, err := srv.get("/health", ""); err != nil || st != http.StatusOK {
		t.Errorf("/health on a full disk: %d %v", st, err)
	}
	if !srv.running() {
		t.Fatalf("pulsestream died on a full disk: %v", srv.exitState())
	}

	// Space returns: ingestion recovers by itself.
	_ = os.Remove(filler)
	_ = os.Remove(reserve)
	f.rec.setPhase("space-returned")
	recovered := waitRecovered(t, srv, f, 20*time.Second)
	time.Sleep(time.Second) // load after recovery
	f.Stop(10 * time.Second)
	fig := f.verify(t, srv)
	logFigures(t, "disk full", fig)
	t.Logf("disk full: answers while full %v; recovered %v after space returned", full, recovered.Round(time.Millisecond))
	exactlyOnce(t, fig)
	if n := f.rec.statusTotal(http.StatusInternalServerError); n != 0 {
		t.Errorf("%d answers 500 on a full disk; want 507 or 503", n)
	}
	if fig.Unexpected != 0 {
		t.Errorf("%d unexpected answers (see log)", fig.Unexpected)
	}

	// No corruption: a clean stop, an integrity check from another
	// process, and a restart that reads back the same events.
	if code, _ := srv.terminate(30 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM: %d", code)
	}
	integrity := integrityCheck(t, dbPath)
	if integrity != "ok" {
		t.Errorf("PRAGMA integrity_check = %q", integrity)
	}
	srv.start()
	again := f.verify(t, srv)
	if again.Found != fig.Found || again.Lost != 0 || again.Duplicates != 0 {
		t.Errorf("after a restart: found %d (was %d), lost %d, duplicates %d", again.Found, fig.Found, again.Lost, again.Duplicates)
	}
	record("disk_full_sqlite", map[string]any{"tmpfs_mib": 8, "answers_while_full": full, "recovered_ms": recovered.Milliseconds(),
		"integrity_check": integrity, "figures": fig})
}

// fillUp writes path until the filesystem is full.
func fillUp(t *testing.T, path string) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return
		}
		t.Fatal(err)
	}
	defer fh.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := fh.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill disk: %v", err)
			}
			return
		}
	}
}

func integrityCheck(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	return res
}
