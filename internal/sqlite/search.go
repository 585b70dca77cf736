package sqlite

import (
	"context"
	"strings"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// SearchEvents returns at most f.Limit (default pulse.DefaultSearchLimit,
// at most pulse.MaxSearchLimit+1: a page and one more) events matching f, newest first by (ts, id).
func (db *DB) SearchEvents(ctx context.Context, tenantID string, f pulse.EventFilter) ([]*pulse.Event, error) {
	if f.NoMatch || f.Severities != nil && len(f.Severities) == 0 {
		return []*pulse.Event{}, nil
	}
	tenant, ok, err := db.tenantNum(ctx, tenantID)
	if err != nil {
		return nil, err
	} else if !ok {
		return []*pulse.Event{}, nil // an unknown tenant sees nothing
	}
	query, args := searchQuery(tenant, f)
	return queryAll(ctx, db, "search events", scanEvent(tenantID), query, args...)
}

// searchQuery builds the query for f. Only fixed SQL text is appended; every
// value from the filter is a placeholder argument.
//
// With tags, the first tag drives the query: its event_tags rows are walked
// backwards in (ts, seq) order on the primary key, and each further tag is
// one primary-key lookup. Without tags, the planner picks among the events
// indexes on (tenant, <field>, ts), read backwards. Index entries end in
// the rowid, not the id, so events with the same ts are put in id order by
// a sort of just those ties ("TEMP B-TREE FOR RIGHT PART OF ORDER BY"): the
// LIMIT still stops the walk after one page.
func searchQuery(tenant int64, f pulse.EventFilter) (string, []any) {
	var b strings.Builder
	var args []any
	where := func(cond string, vs ...any) {
		b.WriteString(" AND ")
		b.WriteString(cond)
		args = append(args, vs...)
	}
	ts, id := "e.ts", "e.id"
	b.WriteString("SELECT " + selectColumns)
	if len(f.Tags) > 0 {
		ts = "t0.ts"
		b.WriteString(" FROM event_tags AS t0 JOIN events AS e ON e.seq = t0.seq WHERE t0.tenant = ? AND t0.key = ? AND t0.value = ?")
		args = append(args, tenant, f.Tags[0].Key, f.Tags[0].Value)
		for _, t := range f.Tags[1:] {
			where("EXISTS (SELECT 1 FROM event_tags AS t WHERE t.tenant = ? AND t.key = ? AND t.value = ? AND t.ts = e.ts AND t.seq = e.seq)",
				tenant, t.Key, t.Value)
		}
	} else {
		b.WriteString(" FROM events AS e WHERE e.tenant = ?")
		args = append(args, tenant)
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
	// Severity and status code have no index (a handful of values each):
	// they filter rows while an index is walked newest-first.
	if len(f.Severities) > 0 {
		sevs := make([]any, len(f.Severities))
		for i, s := range f.Severities {
			sevs[i] = string(s)
		}
		where("e.severity IN (?"+strings.Repeat(", ?", len(sevs)-1)+")", sevs...)
	}
	// A NULL status_code (not set) fails every comparison, as Matches says.
	if f.StatusCode != 0 {
		where("e.status_code = ?", f.StatusCode)
	}
	if f.StatusCodeMin != 0 {
		where("e.status_code >= ?", f.StatusCodeMin)
	}
	if f.StatusCodeMax != 0 {
		where("e.status_code <= ?", f.StatusCodeMax)
	}
	if !f.Start.IsZero() {
		where(ts+" >= ?", micros(f.Start))
	}
	if !f.End.IsZero() {
		where(ts+" < ?", micros(f.End))
	}
	if f.After != nil {
		// Written so that ts <= ? bounds the index range (a row value
		// comparison could not: id is not in the index).
		at := micros(f.After.Timestamp)
		where(ts+" <= ? AND ("+ts+" < ? OR "+id+" < ?)", at, at, f.After.ID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = pulse.DefaultSearchLimit
	}
	b.WriteString(" ORDER BY " + ts + " DESC, " + id + " DESC LIMIT ? OFFSET ?")
	args = append(args, min(limit, pulse.MaxSearchLimit+1), max(f.Offset, 0))
	return b.String(), args
}
