package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
)

// TestMigrateStore: migrate-store moves a rows database to parts, says so,
// refuses a database in use, a second run, and PostgreSQL; --event-store
// parts makes a new database parts.
func TestMigrateStore(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rows.db")
	db, err := sqlite.Open(t.Context(), path, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := pulse.NewTenant(uuid.Must(uuid.NewV7()).String(), "m", pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, time.Now())
	if err := db.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	var events []*pulse.Event
	for i := range 25 {
		events = append(events, &pulse.Event{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tn.ID, ExternalID: fmt.Sprintf("x-%d", i),
			EventType: "t", Severity: pulse.SeverityInfo, Service: "s", Timestamp: time.Now().UTC().Truncate(time.Microsecond),
			ReceivedAt: time.Now().UTC().Truncate(time.Microsecond), ContentHash: "h"})
	}
	if _, err := db.InsertEvents(t.Context(), tn.ID, events); err != nil {
		t.Fatal(err)
	}
	db.Close()
	url := "sqlite://" + path

	release := holdOpen(t, path)
	if code, _, errOut := runCLI(t, noEnv, "migrate-store", "--database", url); code == 0 || !strings.Contains(errOut, "in another process") {
		t.Errorf("migrate-store on a database in use: exit %d, %q", code, errOut)
	}
	release()
	code, out, errOut := runCLI(t, noEnv, "migrate-store", "--database", url)
	if code != 0 || !strings.Contains(out, "parts store") || !strings.Contains(errOut, "migrate-store done events=25 ") {
		t.Fatalf("migrate-store: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	db, err = sqlite.Open(t.Context(), path, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if k := db.EventStoreKind(); k != sqlite.EventStoreParts {
		t.Errorf("after migrate-store the database is %q", k)
	}
	db.Close()
	if code, _, errOut := runCLI(t, noEnv, "migrate-store", "--database", url); code == 0 || !strings.Contains(errOut, "already") {
		t.Errorf("a second migrate-store: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, noEnv, "migrate-store", "--database", "postgres://x/y"); code == 0 || !strings.Contains(errOut, "PostgreSQL") {
		t.Errorf("migrate-store on PostgreSQL: exit %d, %q", code, errOut)
	}

	fresh := filepath.Join(t.TempDir(), "parts.db")
	getenv := func(k string) string {
		if k == "PULSESTREAM_EVENT_STORE" {
			return "parts"
		}
		return ""
	}
	if code, out, _ := runCLI(t, getenv, "config", "print"); code != 0 || !strings.Contains(out, `event-store = "parts"`) {
		t.Errorf("config print with PULSESTREAM_EVENT_STORE=parts: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, getenv, "migrate", "--database", "sqlite://"+fresh); code != 0 {
		t.Fatalf("migrate with PULSESTREAM_EVENT_STORE=parts: exit %d, %s", code, errOut)
	}
	db, err = sqlite.Open(t.Context(), fresh, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if k := db.EventStoreKind(); k != sqlite.EventStoreParts {
		t.Errorf("a database created with PULSESTREAM_EVENT_STORE=parts is %q", k)
	}
}
