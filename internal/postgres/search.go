package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

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
	if f.NoMatch || f.Severities != nil && len(f.Severities) == 0 {
		return "", nil, false
	}
	var b strings.Builder
	b.WriteString("SELECT " + eventColumns + " FROM events WHERE tenant_id = $1")
	args = []any{tenantID}
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
				return "", nil, false
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
