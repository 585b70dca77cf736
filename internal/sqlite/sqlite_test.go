package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/storetest"
)

// openTest opens a fresh database file in the test's temporary folder.
func openTest(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "pulse.db"), sqlite.Config{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) pulse.Store { return openTest(t) })
}

func TestOpenCreatesFolder(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b")
	db, err := sqlite.Open(t.Context(), "sqlite://"+dir+"/pulse.db", sqlite.Config{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if _, err := os.Stat(filepath.Join(dir, "pulse.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pulse.db")
	db, err := sqlite.Open(t.Context(), "sqlite://"+path, sqlite.Config{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	tn, _ := pulse.NewTenant(uuid.Must(uuid.NewV7()).String(), "kept", pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, time.Now())
	if err := db.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	e := testEvent(tn.ID, time.Now())
	if _, err := db.InsertEvents(t.Context(), tn.ID, []*pulse.Event{e}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Reopening runs the migrations again (a no-op) and finds the data.
	db, err = sqlite.Open(t.Context(), path, sqlite.Config{Synchronous: "FULL"})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if got, err := db.GetTenant(t.Context(), tn.ID); err != nil || got.Name != "kept" {
		t.Fatalf("GetTenant after reopen = %+v, %v", got, err)
	}
	if got, err := db.GetEvent(t.Context(), tn.ID, e.ID); err != nil || !got.Timestamp.Equal(e.Timestamp) {
		t.Fatalf("GetEvent after reopen = %+v, %v", got, err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dsn := range []string{"", "postgres://x/y", ":memory:", file + "/sub/pulse.db", file} {
		if db, err := sqlite.Open(t.Context(), dsn, sqlite.Config{}); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

func testEvent(tenantID string, ts time.Time) *pulse.Event {
	ts = ts.UTC().Truncate(time.Microsecond)
	return &pulse.Event{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID, EventType: "http.request",
		Severity: pulse.SeverityInfo, Service: "api", Endpoint: "/v1/orders", StatusCode: 200, UserID: "u1",
		Message: "GET /v1/orders", Tags: map[string]string{"env": "prod", "region": "eu"}, Timestamp: ts, ReceivedAt: ts,
		Payload: []byte(`{"bytes":512,"latency_ms":12}`), ContentHash: "h"}
}

func benchTenant(b *testing.B, db *sqlite.DB) string {
	b.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	tn, _ := pulse.NewTenant(id, "bench-"+id, pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, time.Now())
	if err := db.CreateTenant(b.Context(), tn); err != nil {
		b.Fatal(err)
	}
	return tn.ID
}

// BenchmarkInsertBatch100 stores batches of 100 events, half of them with
// an external id, all with two tags.
func BenchmarkInsertBatch100(b *testing.B) {
	db := openTest(b)
	tenantID := benchTenant(b, db)
	base := time.Now()
	n := 0
	for b.Loop() {
		batch := make([]*pulse.Event, 100)
		for i := range batch {
			batch[i] = testEvent(tenantID, base.Add(time.Duration(n)*time.Microsecond))
			if n%2 == 0 {
				batch[i].ExternalID = fmt.Sprintf("ext-%d", n)
			}
			n++
		}
		if _, err := db.InsertEvents(b.Context(), tenantID, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSearchFiltered searches 50 000 events of one tenant (among
// 60 000) by service, severity and tag, 50 per page, following the cursor.
func BenchmarkSearchFiltered(b *testing.B) { benchSearchFiltered(b, openTest(b)) }

func benchSearchFiltered(b *testing.B, db *sqlite.DB) {
	tenantID, otherID := benchTenant(b, db), benchTenant(b, db)
	base := time.Now().Add(-time.Hour)
	services := []string{"api", "billing", "worker", "auth"}
	for _, tc := range []struct {
		tenant string
		n      int
	}{{tenantID, 50_000}, {otherID, 10_000}} {
		for start := 0; start < tc.n; start += 1000 {
			batch := make([]*pulse.Event, 1000)
			for i := range batch {
				k := start + i
				e := testEvent(tc.tenant, base.Add(time.Duration(k)*time.Millisecond))
				e.Service = services[k%len(services)]
				e.Severity = pulse.Severities[k%len(pulse.Severities)]
				e.Tags = map[string]string{"env": []string{"prod", "staging"}[k%2], "shard": fmt.Sprint(k % 16)}
				batch[i] = e
			}
			if _, err := db.InsertEvents(b.Context(), tc.tenant, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	filters := map[string]pulse.EventFilter{
		"service":          {Service: "billing", Limit: 50},
		"severity":         {Severities: []pulse.Severity{pulse.SeverityError, pulse.SeverityCritical}, Limit: 50},
		"tag":              {Tags: []pulse.Tag{{Key: "shard", Value: "7"}}, Limit: 50},
		"service+tags":     {Service: "api", Tags: []pulse.Tag{{Key: "env", Value: "prod"}, {Key: "shard", Value: "4"}}, Limit: 50},
		"service+time":     {Service: "worker", Start: base.Add(10 * time.Second), End: base.Add(40 * time.Second), Limit: 50},
		"none+cursor_deep": {Limit: 50},
	}
	for name, f := range filters {
		b.Run(name, func(b *testing.B) {
			page := f
			for b.Loop() {
				got, err := db.SearchEvents(b.Context(), tenantID, page)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) < page.Limit { // wrap around at the end
					page = f
					continue
				}
				c := pulse.CursorAfter(got[len(got)-1])
				page.After = &c
			}
		})
	}
}

// BenchmarkSearchText: q= by the bounded scan (storetest.BenchSearchText).
func BenchmarkSearchText(b *testing.B) { storetest.BenchSearchText(b, openTest(b)) }
