package sqlite

import (
	"context"
	"strings"
	"time"

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
	if db.parts {
		return db.searchParts(ctx, tenant, tenantID, f)
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
	b.WriteString("SELECT " + selectColumns)
	args, ts, id := filterSQL(&b, nil, tenant, f)
	where := func(cond string, vs ...any) {
		b.WriteString(" AND ")
		b.WriteString(cond)
		args = append(args, vs...)
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

// filterSQL appends to b the FROM and WHERE clauses that select the
// tenant's events matching f (not its paging), and their arguments to
// args; it returns args and the expressions of the ts and id columns.
func filterSQL(b *strings.Builder, args []any, tenant int64, f pulse.EventFilter) (_ []any, ts, id string) {
	where := func(cond string, vs ...any) {
		b.WriteString(" AND ")
		b.WriteString(cond)
		args = append(args, vs...)
	}
	ts, id = "e.ts", "e.id"
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
	return args, ts, id
}

// EventHistogram counts the tenant's events matching q.Filter per bucket
// (and group) in one statement: the matching rows are read once into a
// CTE of (bucket, group), the top groups are the largest counts of it.
func (db *DB) EventHistogram(ctx context.Context, tenantID string, q pulse.HistogramQuery) ([]pulse.HistogramCount, error) {
	f := q.Filter
	if f.NoMatch || f.Severities != nil && len(f.Severities) == 0 || q.Interval < time.Second {
		return nil, nil
	}
	tenant, ok, err := db.tenantNum(ctx, tenantID)
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, nil
	}
	if db.parts {
		return db.histogramParts(ctx, tenant, tenantID, q)
	}
	var b strings.Builder
	step := q.Interval.Microseconds()
	args := []any{step, step}
	group := "''"
	switch q.GroupBy {
	case pulse.GroupSeverity:
		group = "e.severity"
	case pulse.GroupService:
		group = "e.service"
	case pulse.GroupEventType:
		group = "e.event_type"
	case pulse.GroupStatusCode:
		group = "COALESCE(CAST(e.status_code AS TEXT), '')"
	case pulse.GroupTag:
		group = "COALESCE((SELECT j.value FROM json_each(e.tags) AS j WHERE j.key = ?), '')"
		args = append(args, q.TagKey)
	}
	// The bucket expression names the ts column of the FROM clause, which
	// filterSQL picks; it is e.ts or t0.ts, equal by the join.
	b.WriteString("WITH m AS (SELECT (e.ts / ?) * ? AS b, " + group + " AS g")
	args, _, _ = filterSQL(&b, args, tenant, f)
	b.WriteString(")")
	if q.GroupBy == pulse.GroupNone {
		b.WriteString(" SELECT b, '', 0, count(*) FROM m GROUP BY b")
	} else {
		b.WriteString(", top AS (SELECT g FROM m GROUP BY g ORDER BY count(*) DESC, g LIMIT ?)" +
			" SELECT b, CASE WHEN g IN (SELECT g FROM top) THEN g ELSE '' END AS gg, g NOT IN (SELECT g FROM top) AS other, count(*)" +
			" FROM m GROUP BY b, gg, other")
		args = append(args, max(q.Groups, 1))
	}
	return queryAll(ctx, db, "event histogram", func(row scanner) (pulse.HistogramCount, error) {
		var c pulse.HistogramCount
		var us int64
		err := row.Scan(&us, &c.Group, &c.Other, &c.Count)
		c.Bucket = fromMicros(us)
		return c, err
	}, b.String(), args...)
}
