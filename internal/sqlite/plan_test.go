package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// openInternal opens a fresh database for the tests that look inside.
func openInternal(t *testing.T, cfg Config) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "pulse.db"), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queryPlan returns EXPLAIN QUERY PLAN of the search for f, one line per step.
func queryPlan(t *testing.T, db *DB, f pulse.EventFilter) []string {
	t.Helper()
	q, args := searchQuery(1, f)
	rows, err := db.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestSearchUsesIndex checks that every filtered search starts from an index
// (never a table scan) and reads it in order: the only sort allowed is the
// one of ties on ts ("LAST TERM OF ORDER BY"), which lets LIMIT stop the
// walk after one page.
func TestSearchUsesIndex(t *testing.T) {
	t.Parallel()
	db := openInternal(t, Config{})
	after := &pulse.Cursor{Timestamp: time.Now(), ID: "0198a3c2-0000-7000-8000-000000000001"}
	tests := []struct {
		f     pulse.EventFilter
		index string // the index the first step must use
		sorts bool   // whether a temp b-tree sort is acceptable
	}{
		{pulse.EventFilter{}, "events_ts", false},
		{pulse.EventFilter{After: after}, "events_ts", false},
		{pulse.EventFilter{Start: time.Now().Add(-time.Hour), End: time.Now()}, "events_ts", false},
		{pulse.EventFilter{EventType: "a", After: after}, "events_event_type", false},
		{pulse.EventFilter{Service: "a"}, "events_service", false},
		{pulse.EventFilter{Endpoint: "/x"}, "events_endpoint", false},
		{pulse.EventFilter{UserID: "u"}, "events_user_id", false},
		{pulse.EventFilter{StatusCode: 500}, "events_ts", false},
		{pulse.EventFilter{StatusCodeMin: 500}, "events_ts", false},
		{pulse.EventFilter{Service: "a", StatusCodeMin: 500}, "events_service", false},
		{pulse.EventFilter{Service: "a", StatusCode: 503}, "events_service", false},
		{pulse.EventFilter{EventType: "a", Severities: []pulse.Severity{pulse.SeverityError}}, "events_event_type", false},
		{pulse.EventFilter{Severities: []pulse.Severity{pulse.SeverityError}}, "events_ts", false},
		{pulse.EventFilter{ExternalID: "x"}, "events_external_id", false},
		{pulse.EventFilter{Tags: []pulse.Tag{{Key: "env", Value: "prod"}}}, "PRIMARY KEY", false},
		{pulse.EventFilter{Tags: []pulse.Tag{{Key: "env", Value: "prod"}, {Key: "region", Value: "eu"}}, After: after}, "PRIMARY KEY", false},
	}
	for _, tc := range tests {
		plan := queryPlan(t, db, tc.f)
		text := strings.Join(plan, "\n")
		if !strings.HasPrefix(plan[0], "SEARCH") || !strings.Contains(plan[0], tc.index) {
			t.Errorf("%+v: plan does not start with %s:\n%s", tc.f, tc.index, text)
		}
		if strings.Contains(text, "SCAN e") || strings.Contains(text, "SCAN t") {
			t.Errorf("%+v: plan scans a table:\n%s", tc.f, text)
		}
		if !tc.sorts && strings.Contains(strings.NewReplacer("TEMP B-TREE FOR RIGHT PART OF ORDER BY", "", "TEMP B-TREE FOR LAST TERM OF ORDER BY", "").Replace(text), "TEMP B-TREE") {
			t.Errorf("%+v: plan sorts instead of reading an index in order:\n%s", tc.f, text)
		}
	}
}
