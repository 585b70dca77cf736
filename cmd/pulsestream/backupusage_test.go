package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/sqlite"
)

// TestBackupIncludesUsage ingests, backs up through the server at once,
// restores, and finds the usage counters the server held only in memory:
// the node's background flush never runs here (no Start), so only the
// flush before the copy can have written them.
func TestBackupIncludesUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DatabaseURL, cfg.AdminToken = "sqlite://"+filepath.Join(dir, "live.db"), "backup-usage-admin-token-0123456789"
	a, err := app.New(t.Context(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer func() { srv.Close(); a.Close() }()
	post := func(path, key, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	created := post("/admin/v1/tenants", cfg.AdminToken, `{"name": "usage"}`)
	tenantID, key := created["tenant"].(map[string]any)["id"].(string), created["api_key"].(string)
	for _, id := range []string{"a", "b", "c", "a"} { // three created, one duplicate
		post("/api/v1/events", key, `{"event_type": "t", "service": "s", "external_id": "`+id+`"}`)
	}
	post("/api/v1/events/batch", key, `{"events": [{"event_type": "t", "service": "s"}, {"event_type": "t", "service": "s", "severity": "loud"}]}`)

	file := filepath.Join(dir, "backup.db")
	env := map[string]string{"PULSESTREAM_ADMIN_TOKEN": cfg.AdminToken}
	code, out, errOut := runCLI(t, func(k string) string { return env[k] }, "backup", file, "--server", srv.URL)
	if code != 0 {
		t.Fatalf("backup --server: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "usage counters flushed") || !strings.Contains(errOut, "backup done bytes=") {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
	restored := filepath.Join(dir, "restored", "pulse.db")
	if code, _, errOut := runCLI(t, noEnv, "restore", file, "--database", "sqlite://"+restored); code != 0 {
		t.Fatalf("restore: %s", errOut)
	}
	db, err := sqlite.Open(t.Context(), restored, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	counts, err := db.ListUsage(t.Context(), tenantID, time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[c.Metric] += c.Count
	}
	if got["created"] != 4 || got["duplicate"] != 1 || got["rejected:severity.invalid"] != 1 {
		t.Errorf("usage in the restored backup: %v, want created 4, duplicate 1, one rejection", got)
	}

	// Without the admin token, or with a wrong one: refused, nothing written.
	code, _, errOut = runCLI(t, noEnv, "backup", filepath.Join(dir, "b2.db"), "--server", srv.URL)
	if code != 1 || !strings.Contains(errOut, "PULSESTREAM_ADMIN_TOKEN") {
		t.Errorf("no token: exit %d, %q", code, errOut)
	}
	resp, err := http.Get(srv.URL + "/admin/v1/backup")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || bytes.Contains(body, []byte("SQLite format")) {
		t.Errorf("backup without a token: %d", resp.StatusCode)
	}
}
