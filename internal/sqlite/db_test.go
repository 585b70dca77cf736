package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	db := openInternal(t, Config{Synchronous: "FULL", CacheSizeKiB: 2048, MmapSizeBytes: 1 << 20})
	for _, p := range []struct {
		db         *sql.DB
		name, want string
	}{
		{db.write, "journal_mode", "wal"},
		{db.read, "journal_mode", "wal"},
		{db.write, "foreign_keys", "1"},
		{db.write, "synchronous", "2"}, // FULL
		{db.read, "synchronous", "2"},
		{db.write, "cache_size", "-2048"},
		{db.read, "cache_size", "-1024"}, // an eighth of the writer's, at least 1 MiB
		{db.write, "mmap_size", "1048576"},
		{db.write, "wal_autocheckpoint", "10000"},
		{db.read, "mmap_size", "1048576"},
		{db.write, "busy_timeout", "5000"},
		{db.read, "query_only", "1"},
		{db.write, "query_only", "0"},
	} {
		if got := pragma(t, p.db, p.name); got != p.want {
			t.Errorf("PRAGMA %s = %s, want %s", p.name, got, p.want)
		}
	}
	if _, err := db.read.ExecContext(t.Context(), "DELETE FROM settings"); err == nil {
		t.Errorf("the read pool accepts writes")
	}
}

func TestConfigDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	def := Config{}.WithDefaults()
	if def.Synchronous != "NORMAL" || def.CacheSizeKiB != 64<<10 || def.MmapSizeBytes != 256<<20 ||
		def.BusyTimeout != 5*time.Second || def.ReadConns != 4 {
		t.Errorf("defaults = %+v", def)
	}
	if err := def.validate(); err != nil {
		t.Errorf("defaults are invalid: %v", err)
	}
	for _, c := range []Config{
		{Synchronous: "normal"}, {Synchronous: "OFF"}, {CacheSizeKiB: -1}, {MmapSizeBytes: -1},
		{BusyTimeout: -time.Second}, {ReadConns: -1},
	} {
		if err := c.WithDefaults().validate(); err == nil {
			t.Errorf("%+v is accepted", c)
		}
		if _, err := Open(t.Context(), t.TempDir()+"/x.db", c); err == nil {
			t.Errorf("Open accepts %+v", c)
		}
	}
}

func newEvent(tenantID string, ts time.Time, tags map[string]string) *pulse.Event {
	return &pulse.Event{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID, EventType: "t", Severity: pulse.SeverityInfo,
		Service: "s", Tags: tags, Timestamp: ts.UTC().Truncate(time.Microsecond), ReceivedAt: ts.UTC().Truncate(time.Microsecond), ContentHash: "h"}
}

func newTenant(t testing.TB, db *DB, retentionDays int) *pulse.Tenant {
	t.Helper()
	if retentionDays == 0 {
		retentionDays = pulse.DefaultRetentionDays
	}
	id := uuid.Must(uuid.NewV7()).String()
	tn, err := pulse.NewTenant(id, "t-"+id, pulse.DefaultRateLimitPerMinute, retentionDays, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

func count(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.read.QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMaintainRemovesTags: the trigger removes an event's tag rows with it.
func TestMaintainRemovesTags(t *testing.T) {
	t.Parallel()
	db := openInternal(t, Config{})
	tn := newTenant(t, db, 1)
	now := time.Now()
	old := newEvent(tn.ID, now.Add(-72*time.Hour), map[string]string{"a": "1", "b": "2", "c": ""})
	kept := newEvent(tn.ID, now, map[string]string{"a": "1"})
	if _, err := db.InsertEvents(t.Context(), tn.ID, []*pulse.Event{old, kept}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "event_tags"); n != 4 {
		t.Fatalf("%d tag rows, want 4", n)
	}
	if n, err := db.Maintain(t.Context(), now, 10); err != nil || n != 1 {
		t.Fatalf("Maintain = %d, %v; want 1", n, err)
	}
	if n := count(t, db, "event_tags"); n != 1 {
		t.Fatalf("%d tag rows after Maintain, want 1", n)
	}
}

// TestBusyIsUnavailable holds the write lock from another connection: a
// write then fails, after the busy timeout, with EUNAVAILABLE and a message
// that shows no SQL.
func TestBusyIsUnavailable(t *testing.T) {
	t.Parallel()
	db := openInternal(t, Config{BusyTimeout: time.Millisecond})
	other := sql.OpenDB(newConnector(db.path, Config{}.WithDefaults(), true))
	defer other.Close()
	tx, err := other.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	tn, _ := pulse.NewTenant(uuid.Must(uuid.NewV7()).String(), "t", pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, time.Now())
	for name, err := range map[string]error{
		"CreateTenant": db.CreateTenant(t.Context(), tn),
		"AddUsage":     db.AddUsage(t.Context(), []pulse.UsageCount{{TenantID: tn.ID, Hour: time.Now(), Metric: "m", Count: 1}}),
	} {
		var pe *pulse.Error
		if !errors.As(err, &pe) || pe.Code != pulse.EUNAVAILABLE {
			t.Errorf("%s while locked: %v, want EUNAVAILABLE", name, err)
		} else if strings.Contains(strings.ToLower(pe.Message), "insert") || pe.RetryAfter <= 0 {
			t.Errorf("%s: message %q / retry after %v", name, pe.Message, pe.RetryAfter)
		}
	}
}

// TestDiskFullIsInsufficient caps the file size so that SQLite reports
// SQLITE_FULL, which must surface as EINSUFFICIENT with nothing stored.
func TestDiskFullIsInsufficient(t *testing.T) {
	t.Parallel()
	db := openInternal(t, Config{})
	tn := newTenant(t, db, 0)
	pages := pragma(t, db.write, "page_count")
	if _, err := db.write.ExecContext(t.Context(), "PRAGMA max_page_count = "+pages); err != nil {
		t.Fatal(err)
	}
	var events []*pulse.Event
	for i := range 200 {
		e := newEvent(tn.ID, time.Now(), map[string]string{"i": fmt.Sprint(i)})
		e.Message = strings.Repeat("x", 2000)
		events = append(events, e)
	}
	_, err := db.InsertEvents(t.Context(), tn.ID, events)
	if pulse.ErrorCode(err) != pulse.EINSUFFICIENT {
		t.Fatalf("InsertEvents on a full disk: %v, want EINSUFFICIENT", err)
	}
	if n := count(t, db, "events"); n != 0 {
		t.Fatalf("%d events stored by a failed call", n)
	}
}
