package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// migrateFixture is a rows database at path holding events of three
// tenants (tags, payloads, some without external_id, one user erased so
// that erased_keys has rows), closed; it returns the tenants and every
// stored event as read from the rows.
func migrateFixture(t *testing.T, path string) ([]*pulse.Tenant, map[string][]*pulse.Event) {
	t.Helper()
	db, err := Open(t.Context(), path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().Add(-time.Hour)
	var tenants []*pulse.Tenant
	for tn := range 3 {
		tenant := newTenant(t, db, 0)
		tenants = append(tenants, tenant)
		var events []*pulse.Event
		for i := range 40 + 13*tn {
			var tags map[string]string
			if i%3 == 0 {
				tags = map[string]string{"env": "prod", "n": strconv.Itoa(i % 5)}
			}
			e := newEvent(tenant.ID, now.Add(time.Duration(i)*time.Second), tags)
			e.UserID, e.Message, e.ContentHash = []string{"alice", "bob", ""}[i%3], fmt.Sprintf("event %d", i), "h-"+e.ID
			if i%2 == 0 {
				e.ExternalID = fmt.Sprintf("x-%d", i)
			}
			if i%4 == 0 {
				e.Payload = []byte(fmt.Sprintf(`{"i":%d,"s":"a b"}`, i))
			}
			if i%7 == 0 {
				e.StatusCode, e.Endpoint, e.Severity = 500, "/v1/x", pulse.SeverityError
			}
			events = append(events, e)
		}
		if _, err := db.InsertEvents(t.Context(), tenant.ID, events); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.EraseUserEvents(t.Context(), tenants[1].ID, "alice", 0); err != nil || n == 0 {
		t.Fatalf("erase = %d, %v", n, err)
	}
	stored := map[string][]*pulse.Event{}
	for _, tn := range tenants {
		rows, err := db.read.QueryContext(t.Context(), `SELECT `+selectColumns+` FROM events AS e WHERE tenant = ?`, lifeNum(t, db, tn))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			e, err := scanEventRow(rows, tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			stored[tn.ID] = append(stored[tn.ID], e)
		}
		rows.Close()
	}
	return tenants, stored
}

// openMigrating opens path as migrate-store does.
func openMigrating(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(t.Context(), path, Config{AllowMigrating: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkMigrated: the database is parts, no rows are left, and every event
// and key reads back from the blocks exactly as the rows had them.
func checkMigrated(t *testing.T, db *DB, tenants []*pulse.Tenant, stored map[string][]*pulse.Event, erased int) {
	t.Helper()
	if k := db.EventStoreKind(); k != EventStoreParts {
		t.Fatalf("event store %q after the migration", k)
	}
	if v, err := db.GetSetting(t.Context(), eventStoreSetting); err != nil || v != EventStoreParts {
		t.Fatalf("setting %q, %v", v, err)
	}
	for _, table := range []string{"events", "event_tags"} {
		if n := count(t, db, table); n != 0 {
			t.Errorf("%d rows left in %s", n, table)
		}
	}
	for _, tn := range tenants {
		sameEvents(t, "tenant "+tn.Name, lifeEvents(t, db, tn), stored[tn.ID])
		if got, want := lifeKeys(t, db, tn, "event_keys"), keysOf(stored[tn.ID]); !slices.Equal(got, want) {
			t.Errorf("event_keys %v, want %v", got, want)
		}
	}
	if n := count(t, db, "erased_keys"); n != erased {
		t.Errorf("%d erased keys, want %d", n, erased)
	}
	for _, key := range []string{migrateEventsSetting, migrateKeysSetting, migrateDigestSetting} {
		if _, err := db.GetSetting(t.Context(), key); !pulse.IsNotFound(err) {
			t.Errorf("setting %s left behind: %v", key, err)
		}
	}
}

// TestMigrateToParts moves a rows database in chunks smaller than one
// tenant's events, reporting progress, and a reopened database is parts.
func TestMigrateToParts(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pulse.db")
	tenants, stored := migrateFixture(t, path)
	total := 0
	for _, events := range stored {
		total += len(events)
	}
	db := openMigrating(t, path)
	if db.EventStoreKind() != EventStoreRows {
		t.Fatalf("the fixture is %q", db.EventStoreKind())
	}
	erased := count(t, db, "erased_keys")
	var seen [][2]int64
	if err := db.migrateToParts(t.Context(), 17, func(done, total int64) { seen = append(seen, [2]int64{done, total}) }); err != nil {
		t.Fatal(err)
	}
	checkMigrated(t, db, tenants, stored, erased)
	if len(seen) != (total+16)/17 || seen[len(seen)-1] != [2]int64{int64(total), int64(total)} {
		t.Errorf("progress %v: want one call per chunk of 17, ending at %d of %d", seen, total, total)
	}
	if err := db.MigrateToParts(t.Context(), nil); !errors.Is(err, ErrAlreadyParts) {
		t.Errorf("a second migration: %v", err)
	}
	db.Close()
	again, err := Open(t.Context(), path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if !again.parts || again.migrating {
		t.Errorf("reopened: parts %v, migrating %v", again.parts, again.migrating)
	}
}

// TestMigrateToPartsInterrupted: a migration stopped after its first chunk
// leaves a database servers refuse; run again, it finishes with the same
// verified result.
func TestMigrateToPartsInterrupted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pulse.db")
	tenants, stored := migrateFixture(t, path)
	db := openMigrating(t, path)
	erased := count(t, db, "erased_keys")
	ctx, cancel := context.WithCancel(t.Context())
	err := db.migrateToParts(ctx, 25, func(done, total int64) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted migration = %v", err)
	}
	if n := count(t, db, "event_blocks"); n == 0 || count(t, db, "events") == 0 {
		t.Fatalf("interrupted after the first chunk: %d blocks, %d rows", n, count(t, db, "events"))
	}
	db.Close()
	if _, err := Open(t.Context(), path, Config{}); !errors.Is(err, ErrMigrating) {
		t.Fatalf("a server opening a half-migrated database: %v", err)
	}
	db = openMigrating(t, path)
	if db.EventStoreKind() != eventStoreMigrating {
		t.Fatalf("kind %q", db.EventStoreKind())
	}
	if err := db.migrateToParts(t.Context(), 25, nil); err != nil {
		t.Fatal(err)
	}
	checkMigrated(t, db, tenants, stored, erased)
}

// TestMigrateToPartsVerifies: blocks that do not hold what the rows held
// fail the verification, and the database stays migrating.
func TestMigrateToPartsVerifies(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pulse.db")
	migrateFixture(t, path)
	db := openMigrating(t, path)
	ctx, cancel := context.WithCancel(t.Context())
	if err := db.migrateToParts(ctx, 30, func(int64, int64) { cancel() }); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	// An event changed in the rows after the record was taken: the blocks
	// will not hold what the record says.
	if _, err := db.write.ExecContext(t.Context(), `UPDATE events SET message = 'changed' WHERE seq = (SELECT max(seq) FROM events)`); err != nil {
		t.Fatal(err)
	}
	err := db.migrateToParts(t.Context(), 30, nil)
	if err == nil || !strings.Contains(err.Error(), "verification failed") {
		t.Fatalf("migration of a changed database = %v", err)
	}
	if db.EventStoreKind() != eventStoreMigrating {
		t.Errorf("kind %q after a failed verification", db.EventStoreKind())
	}
	if v, _ := db.GetSetting(t.Context(), eventStoreSetting); v != eventStoreMigrating {
		t.Errorf("setting %q after a failed verification", v)
	}
}

// TestMigrateToPartsLarge migrates PULSESTREAM_TEST_MIGRATE_EVENTS events
// (default 30,000; .ci/run runs it with 1,000,000 without the race
// detector) generated in SQL, and logs how long the migration took.
func TestMigrateToPartsLarge(t *testing.T) {
	n := 30_000
	if v := os.Getenv("PULSESTREAM_TEST_MIGRATE_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	} else if testing.Short() {
		t.Skip("-short")
	}
	path := filepath.Join(t.TempDir(), "pulse.db")
	db, err := Open(t.Context(), path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	var nums []int64
	for range 3 {
		nums = append(nums, lifeNum(t, db, newTenant(t, db, 0)))
	}
	start := time.Now()
	base := micros(time.Now().Add(-24 * time.Hour))
	if _, err := db.write.ExecContext(t.Context(), `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
		INSERT INTO events (id, tenant, external_id, event_type, severity, service, endpoint, status_code,
			user_id, message, tags, ts, received_at, payload, content_hash)
		SELECT printf('%08x-0000-7000-8000-%012x', i / 1000, i), ?1 + (i % 3) * (?2 - ?1) / 2,
			CASE WHEN i % 2 = 0 THEN 'x-' || i END, 'type-' || (i % 7), 'info', 'svc-' || (i % 5), '/e/' || (i % 11),
			CASE WHEN i % 10 = 0 THEN 500 END, 'user-' || (i % 1000), 'message number ' || i,
			CASE WHEN i % 4 = 0 THEN json_object('env', 'prod', 'n', CAST(i % 10 AS TEXT)) END,
			?3 + i * 1000, ?3 + i * 1000 + 5, CASE WHEN i % 5 = 0 THEN CAST('{"k":' || i || '}' AS BLOB) END, 'h' || i
		FROM n`, n, nums[0], nums[2], base); err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(t.Context(), `INSERT INTO event_tags (tenant, key, value, ts, seq)
		SELECT e.tenant, j.key, j.value, e.ts, e.seq FROM events AS e, json_each(e.tags) AS j WHERE e.tags IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	t.Logf("generated %d event rows in %v", n, time.Since(start).Round(time.Millisecond))
	if got := count(t, db, "events"); got != n {
		t.Fatalf("%d rows generated, want %d", got, n)
	}
	db.Close()

	db = openMigrating(t, path)
	start = time.Now()
	if err := db.MigrateToParts(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("migrate-store moved and verified %d events in %v (%d blocks)", n, time.Since(start).Round(time.Millisecond), count(t, db, "event_blocks"))
	var moved, keys int
	if err := db.read.QueryRowContext(t.Context(), `SELECT sum(count) FROM event_blocks`).Scan(&moved); err != nil {
		t.Fatal(err)
	}
	keys = count(t, db, "event_keys")
	if moved != n || keys != (n+1)/2 || count(t, db, "events") != 0 || count(t, db, "event_tags") != 0 || db.EventStoreKind() != EventStoreParts {
		t.Fatalf("after the migration: %d events in blocks, %d keys, kind %q", moved, keys, db.EventStoreKind())
	}
}
