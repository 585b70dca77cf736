package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/sqlite"
)

// TestBackupWhileWritingAndRestore backs up a SQLite database while a
// server keeps ingesting, restores the copy elsewhere, and checks that
// every event acknowledged before the backup started is in it.
func TestBackupWhileWritingAndRestore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "live.db")
	cfg := config.Default()
	cfg.DatabaseURL, cfg.AdminToken = dbURL, "backup-test-admin-token-0123456789"
	a, err := app.New(context.Background(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	srv := httptest.NewServer(a.Handler())
	defer func() { srv.Close(); a.Close() }()

	post := func(path, key string, body any) map[string]any {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != http.StatusCreated {
			return nil
		}
		return out
	}
	tenant := post("/admin/v1/tenants", cfg.AdminToken, map[string]any{"name": "backup", "rate_limit_per_minute": 1_000_000})
	tenantID := tenant["tenant"].(map[string]any)["id"].(string)
	key := tenant["api_key"].(string)

	var mu sync.Mutex
	var acked []string
	progress := make(chan int, 1000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 { // concurrent writers, as clients would be
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				out := post("/api/v1/events", key, map[string]any{"event_type": "t", "service": "s", "external_id": fmt.Sprintf("w%d-%d", w, i)})
				if out == nil {
					continue
				}
				mu.Lock()
				acked = append(acked, out["id"].(string))
				n := len(acked)
				mu.Unlock()
				select {
				case progress <- n:
				default:
				}
			}
		})
	}
	for n := range progress {
		if n >= 200 {
			break
		}
	}
	mu.Lock()
	before := append([]string(nil), acked...) // acknowledged before the backup starts
	mu.Unlock()

	file := filepath.Join(dir, "backup.db")
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"backup", file, "--database", dbURL}, noEnv, &out, &errOut); code != 0 {
		t.Fatalf("backup exit %d: %s", code, errOut.String())
	}
	for n := range progress { // writing went on during and after the backup
		if n >= len(before)+100 {
			break
		}
	}
	close(stop)
	wg.Wait()

	// A second backup to the same file is refused rather than overwriting.
	if code := run(t.Context(), []string{"backup", file, "--database", dbURL}, noEnv, io.Discard, io.Discard); code == 0 {
		t.Error("backup overwrote an existing file")
	}

	restored := filepath.Join(dir, "restored", "pulse.db")
	errOut.Reset()
	if code := run(t.Context(), []string{"restore", file, "--database", "sqlite://" + restored}, noEnv, io.Discard, &errOut); code != 0 {
		t.Fatalf("restore exit %d: %s", code, errOut.String())
	}
	db, err := sqlite.Open(t.Context(), restored, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range before {
		if _, err := db.GetEvent(t.Context(), tenantID, id); err != nil {
			t.Fatalf("event %s, acknowledged before the backup, is not in the restored database: %v", id, err)
		}
	}
	t.Logf("%d events acknowledged before the backup, all restored", len(before))

	// Not a PulseStream database: refused.
	junk := filepath.Join(dir, "junk.db")
	_ = os.WriteFile(junk, []byte("junk"), 0o600)
	errOut.Reset()
	if code := run(t.Context(), []string{"restore", junk, "--database", "sqlite://" + restored}, noEnv, io.Discard, &errOut); code == 0 {
		t.Error("restore accepted a file that is not a database")
	}
	// PostgreSQL: pointed to the runbook.
	errOut.Reset()
	if code := run(t.Context(), []string{"backup", file + "2", "--database", "postgres://x/y"}, noEnv, io.Discard, &errOut); code == 0 || !strings.Contains(errOut.String(), "pg_dump") {
		t.Errorf("backup of PostgreSQL: exit %d, %q", code, errOut.String())
	}
}

// TestRestoreRefusesDatabaseInUse holds the database open in another
// process (this test binary, re-run as a helper) and expects restore to
// refuse.
func TestRestoreRefusesDatabaseInUse(t *testing.T) {
	if path := os.Getenv("PULSESTREAM_TEST_HOLD_DB"); path != "" {
		db, err := sqlite.Open(context.Background(), path, sqlite.Config{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("open")
		_, _ = io.ReadAll(os.Stdin) // hold it until the parent closes stdin
		db.Close()
		os.Exit(0)
	}
	t.Parallel()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	db, err := sqlite.Open(t.Context(), live, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "backup.db")
	if err := db.Backup(t.Context(), file); err != nil {
		t.Fatal(err)
	}
	db.Close()

	helper := holdOpen(t, live)
	var errOut bytes.Buffer
	if code := run(t.Context(), []string{"restore", file, "--database", "sqlite://" + live}, noEnv, io.Discard, &errOut); code == 0 || !strings.Contains(errOut.String(), "in another process") {
		t.Errorf("restore over a database in use: exit %d, %q", code, errOut.String())
	}
	helper()
	var out bytes.Buffer
	if code := run(t.Context(), []string{"restore", file, "--database", "sqlite://" + live}, noEnv, &out, &errOut); code != 0 {
		t.Fatalf("restore after the server stopped: %s", errOut.String())
	}
	if !strings.Contains(out.String(), "pre-restore") {
		t.Errorf("restore does not say where the previous database went: %q", out.String())
	}
}

func noEnv(string) string { return "" }
