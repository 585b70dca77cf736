package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// SearchEvents returns at most f.Limit of the tenant's events matching f,
// newest first by (ts, id), after f.After or skipping f.Offset. The query
// is built from fixed fragments; every value is a placeholder.
func (db *DB) SearchEvents(ctx context.Context, tenantID string, f pulse.EventFilter) ([]*pulse.Event, error) {
	sql, args, ok := searchQuery(tenantID, f)
	if !ok {
		return []*pulse.Event{}, nil
	}
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, dbError("search events", err)
	}
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pulse.Event, error) { return scanEvent(r, tenantID) })
	if err != nil {
		return nil, dbError("search events", err)
	}
	return es, nil
}

// searchQuery returns the query for f, or ok=false when nothing can match.
func searchQuery(tenantID string, f pulse.EventFilter) (sql string, args []any, ok bool) {
	var b strings.Builder
	b.WriteString("SELECT " + eventColumns)
	if args, ok = filterSQL(&b, nil, tenantID, f); !ok {
		return "", nil, false
	}
	if f.After != nil {
		args = append(args, f.After.Timestamp, f.After.ID)
		fmt.Fprintf(&b, " AND (ts, id) < ($%d, $%d::uuid)", len(args)-1, len(args))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = pulse.DefaultSearchLimit
	}
	args = append(args, limit)
	fmt.Fprintf(&b, " ORDER BY ts DESC, id DESC LIMIT $%d", len(args))
	if f.Offset > 0 {
		args = append(args, f.Offset)
		fmt.Fprintf(&b, " OFFSET $%d", len(args))
	}
	return b.String(), args, true
}

// filterSQL appends to b the FROM and WHERE clauses selecting the tenant's
// events that match f (not its paging) and returns args with theirs
// appended, or ok=false when nothing can match.
func filterSQL(b *strings.Builder, args []any, tenantID string, f pulse.EventFilter) (_ []any, ok bool) {
	if f.NoMatch || f.Severities != nil && len(f.Severities) == 0 {
		return nil, false
	}
	args = append(args, tenantID)
	fmt.Fprintf(b, " FROM events WHERE tenant_id = $%d", len(args))
	where := func(cond string, v any) {
		args = append(args, v)
		b.WriteString(" AND ")
		b.WriteString(strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.EventType != "" {
		where("event_type = ?", f.EventType)
	}
	if f.Severities != nil {
		sevs := make([]string, len(f.Severities))
		for i, s := range f.Severities {
			sevs[i] = string(s)
		}
		where("severity = ANY(?::text[])", sevs)
	}
	if f.Service != "" {
		where("service = ?", f.Service)
	}
	if f.Endpoint != "" {
		where("endpoint = ?", f.Endpoint)
	}
	// status_code is NULL when unset, so the comparisons leave those out,
	// as EventFilter.Matches does.
	if f.StatusCode != 0 {
		where("status_code = ?", f.StatusCode)
	}
	if f.StatusCodeMin != 0 {
		where("status_code >= ?", f.StatusCodeMin)
	}
	if f.StatusCodeMax != 0 {
		where("status_code <= ?", f.StatusCodeMax)
	}
	if f.UserID != "" {
		where("user_id = ?", f.UserID)
	}
	if f.ExternalID != "" {
		where("external_id = ?", f.ExternalID)
	}
	if len(f.Tags) > 0 {
		// One containment test, so the GIN index is probed once; a key
		// asked with two values can match nothing.
		want := make(map[string]string, len(f.Tags))
		for _, t := range f.Tags {
			if v, dup := want[t.Key]; dup && v != t.Value {
				return nil, false
			}
			want[t.Key] = t.Value
		}
		js, err := json.Marshal(want)
		if err != nil {
			panic(fmt.Sprintf("encode tag filter: %v", err)) // a map of strings always encodes
		}
		where("tags @> ?::jsonb", string(js))
	}
	if !f.Start.IsZero() {
		where("ts >= ?", f.Start)
	}
	if !f.End.IsZero() {
		where("ts < ?", f.End)
	}
	return args, true
}

// EventHistogram counts the tenant's events matching q.Filter per bucket
// (date_bin from the epoch) and group in one statement: the matching rows
// are read once into a CTE, the top groups are its largest counts (ties by
// name in byte order, as the contract says, whatever the collation).
func (db *DB) EventHistogram(ctx context.Context, tenantID string, q pulse.HistogramQuery) ([]pulse.HistogramCount, error) {
	if q.Interval < time.Second {
		return nil, nil
	}
	var b strings.Builder
	args := []any{int64(q.Interval / time.Second)}
	group := "''"
	switch q.GroupBy {
	case pulse.GroupSeverity:
		group = "severity"
	case pulse.GroupService:
		group = "service"
	case pulse.GroupEventType:
		group = "event_type"
	case pulse.GroupStatusCode:
		group = "COALESCE(status_code::text, '')"
	case pulse.GroupTag:
		args = append(args, q.TagKey)
		group = "COALESCE(tags ->> $2::text, '')"
	}
	b.WriteString("WITH m AS (SELECT date_bin(make_interval(secs => $1::bigint), ts, TIMESTAMPTZ 'epoch') AS b, " + group + " AS g")
	args, ok := filterSQL(&b, args, tenantID, q.Filter)
	if !ok {
		return nil, nil
	}
	b.WriteString(")")
	if q.GroupBy == pulse.GroupNone {
		b.WriteString(" SELECT b, '', false, count(*) FROM m GROUP BY b")
	} else {
		args = append(args, max(q.Groups, 1))
		fmt.Fprintf(&b, `, top AS (SELECT g FROM m GROUP BY g ORDER BY count(*) DESC, g COLLATE "C" LIMIT $%d)`+
			" SELECT b, CASE WHEN g IN (SELECT g FROM top) THEN g ELSE '' END AS gg, g NOT IN (SELECT g FROM top) AS other, count(*)"+
			" FROM m GROUP BY b, gg, other", len(args))
	}
	rows, err := db.pool.Query(ctx, b.String(), args...)
	if err != nil {
		return nil, dbError("event histogram", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pulse.HistogramCount, error) {
		var c pulse.HistogramCount
		err := r.Scan(&c.Bucket, &c.Group, &c.Other, &c.Count)
		c.Bucket = c.Bucket.UTC()
		return c, err
	})
	if err != nil {
		return nil, dbError("event histogram", err)
	}
	return out, nil
}
