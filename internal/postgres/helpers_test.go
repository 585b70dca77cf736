package postgres

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func createTenant(t testing.TB, db *DB, retentionDays int) *pulse.Tenant {
	t.Helper()
	if retentionDays == 0 {
		retentionDays = pulse.DefaultRetentionDays
	}
	id := newID()
	tn, err := pulse.NewTenant(id, "tenant-"+id, pulse.DefaultRateLimitPerMinute, retentionDays, now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTenant(t.Context(), tn); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	return tn
}

func newEvent(tenantID string, ts time.Time, externalID string) *pulse.Event {
	return &pulse.Event{
		ID: newID(), TenantID: tenantID, ExternalID: externalID,
		EventType: "user.signup", Severity: pulse.SeverityInfo, Service: "api",
		Endpoint: "/v1/signup", StatusCode: 201, UserID: "u-1", Message: "hello",
		Tags:      map[string]string{"env": "prod", "region": "eu"},
		Payload:   []byte(`{"plan":"pro","seats":3}`),
		Timestamp: ts.UTC().Truncate(time.Microsecond), ReceivedAt: now(),
		ContentHash: "h-" + externalID,
	}
}

func mustInsert(t testing.TB, db *DB, tenantID string, events ...*pulse.Event) []pulse.InsertResult {
	t.Helper()
	res, err := db.InsertEvents(t.Context(), tenantID, events)
	if err != nil {
		t.Fatalf("InsertEvents: %v", err)
	}
	return res
}

// count runs a count(*) query in db's schema.
func count(t testing.TB, db *DB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.pool.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func partitionExists(t testing.TB, db *DB, ts time.Time) bool {
	t.Helper()
	return count(t, db, `SELECT count(*) FROM pg_class WHERE oid = to_regclass($1)`, partitionName(dayOf(ts))) == 1
}
