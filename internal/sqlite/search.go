package sqlite

import (
	"context"
	"strings"

	"pulsestream/internal/pulse"
)

// SearchEvents returns at most f.Limit (default pulse.DefaultSearchLimit,
// at most pulse.MaxSearchLimit+1: a page and one more) events matching f, newest first by (ts, id).
func (db *DB) SearchEvents(ctx context.Context, tenantID string, f pulse.EventFilter) ([]*pulse.Event, error) {
	if f.NoMatch || f.Severities != nil && len(f.Severities) == 0 {
		return []*pulse.Event{}, nil
	}
	query, args := searchQuery(tenantID, f)
	return queryAll(ctx, db, "search events", scanEvent, query, args...)
}

// searchQuery builds the query for f. Only fixed SQL text is appended; every
// value from the filter is a placeholder argument.
//
// With tags, the first tag drives the query: its event_tags rows are walked
// in (ts, event_id) order on the primary key, and each further tag is one
// primary-key lookup. Without tags, the planner picks among the events
// indexes on (tenant_id, <field>, ts DESC, id DESC).
func searchQuery(tenantID string, f pulse.EventFilter) (string, []any) {
	var b strings.Builder
	var args []any
	where := func(cond string, vs ...any) {
		b.WriteString(" AND ")
		b.WriteString(cond)
		args = append(args, vs...)
	}
	ts, id := "e.ts", "e.id"
	b.WriteString("SELECT " + eventColumnsE)
	if len(f.Tags) > 0 {
		ts, id = "t0.ts", "t0.event_id"
		b.WriteString(" FROM event_tags AS t0 JOIN events AS e ON e.id = t0.event_id WHERE t0.tenant_id = ? AND t0.key = ? AND t0.value = ?")
		args = append(args, tenantID, f.Tags[0].Key, f.Tags[0].Value)
		where("e.tenant_id = ?", tenantID)
		for _, t := range f.Tags[1:] {
			where("EXISTS (SELECT 1 FROM event_tags AS t WHERE t.tenant_id = ? AND t.key = ? AND t.value = ? AND t.ts = e.ts AND t.event_id = e.id)",
				tenantID, t.Key, t.Value)
		}
	} else {
		b.WriteString(" FROM events AS e WHERE e.tenant_id = ?")
		args = append(args, tenantID)
	}
	for _, c := range []struct {
		col string
		v   string
	}{
		{"e.event_type", f.EventType},
		{"e.service", f.Service},
		{"e.endpoint", f.Endpoint},
		{"e.user_id", f.UserID},
		{"e.external_id", f.ExternalID},
	} {
		if c.v != "" {
			where(c.col+" = ?", c.v)
		}
	}
	// When an equality filter on a selective column is present, its index
	// (which holds rows in (ts, id) order, so LIMIT stops early) must drive
	// the query. Without statistics the planner may instead pick the
	// severity or status_code index for a wide range and sort hundreds of
	// thousands of rows (measured: 1.1 s instead of 3 ms at 2M events for
	// service=…&status_code_min=500); a unary + keeps those terms as plain
	// filters.
	weak := ""
	if f.EventType != "" || f.Service != "" || f.Endpoint != "" || f.UserID != "" || f.ExternalID != "" || len(f.Tags) > 0 {
		weak = "+"
	}
	if len(f.Severities) > 0 {
		sevs := make([]any, len(f.Severities))
		for i, s := range f.Severities {
			sevs[i] = string(s)
		}
		where(weak+"e.severity IN (?"+strings.Repeat(", ?", len(sevs)-1)+")", sevs...)
	}
	// A NULL status_code (not set) fails every comparison, as Matches says.
	if f.StatusCode != 0 {
		where(weak+"e.status_code = ?", f.StatusCode)
	}
	// A status range (status_code_min=500 matches a quarter of the events or
	// more) is read through the ts index in order, never sorted.
	if f.StatusCodeMin != 0 {
		where("+e.status_code >= ?", f.StatusCodeMin)
	}
	if f.StatusCodeMax != 0 {
		where("+e.status_code <= ?", f.StatusCodeMax)
	}
	if !f.Start.IsZero() {
		where(ts+" >= ?", micros(f.Start))
	}
	if !f.End.IsZero() {
		where(ts+" < ?", micros(f.End))
	}
	if f.After != nil {
		where("("+ts+", "+id+") < (?, ?)", micros(f.After.Timestamp), f.After.ID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = pulse.DefaultSearchLimit
	}
	b.WriteString(" ORDER BY " + ts + " DESC, " + id + " DESC LIMIT ? OFFSET ?")
	args = append(args, min(limit, pulse.MaxSearchLimit+1), max(f.Offset, 0))
	return b.String(), args
}
