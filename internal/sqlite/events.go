package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"pulsestream/internal/pulse"
)

// insertColumns are the columns InsertEvents writes; seq (the rowid) is
// assigned by SQLite and tenant is the tenant's number (tenants.num).
const insertColumns = `id, tenant, external_id, event_type, severity, service, endpoint, status_code, ` +
	`user_id, message, tags, ts, received_at, payload, content_hash`

// selectColumns are the columns scanEvent reads, qualified by the alias e;
// the tenant id is the caller's (every read is scoped to one tenant).
const selectColumns = `e.id, e.external_id, e.event_type, e.severity, e.service, e.endpoint, e.status_code, ` +
	`e.user_id, e.message, e.tags, e.ts, e.received_at, e.payload, e.content_hash`

// tenantNums caches tenants.num by tenant id: a tenant's number never
// changes, so entries never go stale.
type tenantNums struct{ m sync.Map }

// tenantNum returns the tenant's number, ok false for an unknown tenant.
func (db *DB) tenantNum(ctx context.Context, tenantID string) (num int64, ok bool, err error) {
	if v, ok := db.nums.m.Load(tenantID); ok {
		return v.(int64), true, nil
	}
	err = db.read.QueryRowContext(ctx, `SELECT num FROM tenants WHERE id = ?`, tenantID).Scan(&num)
	if err == sql.ErrNoRows {
		return 0, false, nil
	} else if err != nil {
		return 0, false, storeErr("tenant", err)
	}
	db.nums.m.Store(tenantID, num)
	return num, true, nil
}

// insertEvents stores one request's events (rows: their column values)
// inside tx (the group commit's
// transaction, see groupcommit.go). The unique index on (tenant_id,
// external_id) decides duplicates: rows go in with multi-row INSERT ... ON
// CONFLICT DO NOTHING RETURNING id, and the rows not returned are resolved
// against what is stored. Repeats inside the call follow their first
// occurrence.
func (db *DB) insertEvents(ctx context.Context, tx *sql.Tx, tenant int64, events []*pulse.Event, rows [][]any) ([]pulse.InsertResult, error) {
	results := make([]pulse.InsertResult, len(events))
	firstOf := make(map[string]int, len(events)) // external_id → index of its first occurrence
	fresh := make([]int, 0, len(events))
	for i, e := range events {
		if e.ExternalID != "" {
			if _, ok := firstOf[e.ExternalID]; ok {
				continue
			}
			firstOf[e.ExternalID] = i
		}
		fresh = append(fresh, i)
	}

	inserted := make(map[string]int64, len(fresh)) // id → seq
	for start := 0; start < len(fresh); start += insertChunk {
		chunk := fresh[start:min(start+insertChunk, len(fresh))]
		args := make([]any, 0, len(chunk)*eventColumnCount)
		for _, i := range chunk {
			args = append(args, rows[i]...)
		}
		stmt, err := db.insertStmt(ctx, tx, len(chunk))
		if err != nil {
			return nil, err
		}
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return nil, storeErr("insert events", err)
		}
		for rows.Next() {
			var id string
			var seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				rows.Close()
				return nil, storeErr("insert events", err)
			}
			inserted[id] = seq
		}
		if err := rows.Close(); err != nil {
			return nil, storeErr("insert events", err)
		}
		if err := rows.Err(); err != nil {
			return nil, storeErr("insert events", err)
		}
	}

	var lost []string // external ids stored before this call
	for _, i := range fresh {
		e := events[i]
		if _, ok := inserted[e.ID]; ok {
			results[i] = pulse.InsertResult{Status: pulse.Created, ID: e.ID}
		} else {
			lost = append(lost, e.ExternalID)
		}
	}
	if len(lost) > 0 {
		stored, err := lookupExternalIDs(ctx, tx, tenant, lost)
		if err != nil {
			return nil, err
		}
		for _, i := range fresh {
			if results[i].Status == 0 {
				ref, ok := stored[events[i].ExternalID]
				if !ok {
					return nil, fmt.Errorf("insert events: event %d neither stored nor found", i)
				}
				results[i] = resolve(events[i], ref)
			}
		}
	}
	for i, e := range events {
		if results[i].Status == 0 { // a repeat inside the call
			f := firstOf[e.ExternalID]
			ref := pulse.StoredRef{ID: results[f].ID, ContentHash: events[f].ContentHash}
			if results[f].Status == pulse.Conflict {
				ref.ContentHash = "" // the stored content is not the first occurrence's
			}
			results[i] = resolve(e, ref)
		}
	}

	var tagArgs []any
	for _, i := range fresh {
		e := events[i]
		if results[i].Status != pulse.Created {
			continue
		}
		seq := inserted[e.ID]
		for k, v := range e.Tags {
			tagArgs = append(tagArgs, tenant, k, v, micros(e.Timestamp), seq)
		}
	}
	for len(tagArgs) > 0 {
		n := min(len(tagArgs)/5, tagChunk)
		q := "INSERT INTO event_tags (tenant, key, value, ts, seq) VALUES " + placeholders(n, 5)
		if _, err := tx.ExecContext(ctx, q, tagArgs[:n*5]...); err != nil {
			return nil, storeErr("insert events: tags", err)
		}
		tagArgs = tagArgs[n*5:]
	}
	return results, nil
}

const (
	eventColumnCount = 15
	insertChunk      = 64  // rows per INSERT (15 parameters each)
	tagChunk         = 200 // tag rows per INSERT (5 parameters each)
)

// insertStmt returns the prepared multi-row insert for n rows; full chunks
// reuse one statement prepared on the writer connection at Open (it cannot
// be prepared later: the only connection is then busy in the transaction).
func (db *DB) insertStmt(ctx context.Context, tx *sql.Tx, n int) (*sql.Stmt, error) {
	if n == insertChunk {
		return tx.StmtContext(ctx, db.fullInsert), nil
	}
	stmt, err := tx.PrepareContext(ctx, insertSQL(n))
	if err != nil {
		return nil, storeErr("insert events: prepare", err)
	}
	return stmt, nil
}

func insertSQL(n int) string {
	return "INSERT INTO events (" + insertColumns + ") VALUES " + placeholders(n, eventColumnCount) +
		" ON CONFLICT (tenant, external_id) WHERE external_id IS NOT NULL DO NOTHING RETURNING id, seq"
}

// placeholders returns "(?, ?), (?, ?)" for rows × cols.
func placeholders(rows, cols int) string {
	var b strings.Builder
	b.Grow(rows * (cols*3 + 3))
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

func resolve(e *pulse.Event, ref pulse.StoredRef) pulse.InsertResult {
	if e.ContentHash == ref.ContentHash {
		return pulse.InsertResult{Status: pulse.Duplicate, ID: ref.ID}
	}
	return pulse.InsertResult{Status: pulse.Conflict, ID: ref.ID}
}

// eventRow is e's values in insertColumns order.
func eventRow(e *pulse.Event, tenant int64) ([]any, error) {
	var tags, payload, ext, status any
	if len(e.Tags) > 0 {
		b, err := json.Marshal(e.Tags)
		if err != nil {
			return nil, fmt.Errorf("insert events: tags: %w", err)
		}
		tags = string(b)
	}
	if len(e.Payload) > 0 {
		payload = []byte(e.Payload)
	}
	if e.ExternalID != "" {
		ext = e.ExternalID
	}
	if e.StatusCode != 0 {
		status = e.StatusCode
	}
	return []any{e.ID, tenant, ext, e.EventType, string(e.Severity), e.Service, e.Endpoint, status,
		e.UserID, e.Message, tags, micros(e.Timestamp), micros(e.ReceivedAt), payload, e.ContentHash}, nil
}

// scanEvent reads selectColumns into an event of tenantID.
func scanEvent(tenantID string) func(scanner) (*pulse.Event, error) {
	return func(row scanner) (*pulse.Event, error) { return scanEventRow(row, tenantID) }
}

func scanEventRow(row scanner, tenantID string) (*pulse.Event, error) {
	e := pulse.Event{TenantID: tenantID}
	var ext, tags sql.NullString
	var status sql.NullInt64
	var ts, received int64
	var payload []byte
	if err := row.Scan(&e.ID, &ext, &e.EventType, &e.Severity, &e.Service, &e.Endpoint, &status,
		&e.UserID, &e.Message, &tags, &ts, &received, &payload, &e.ContentHash); err != nil {
		return nil, err
	}
	e.ExternalID = ext.String
	e.StatusCode = int(status.Int64)
	if tags.Valid {
		if err := json.Unmarshal([]byte(tags.String), &e.Tags); err != nil {
			return nil, fmt.Errorf("event %s: tags: %w", e.ID, err)
		}
	}
	e.Timestamp, e.ReceivedAt = fromMicros(ts), fromMicros(received)
	if len(payload) > 0 {
		e.Payload = payload
	}
	return &e, nil
}

// GetEvent returns ErrNotFound for a missing id or another tenant's event.
func (db *DB) GetEvent(ctx context.Context, tenantID, id string) (*pulse.Event, error) {
	tenant, ok, err := db.tenantNum(ctx, tenantID)
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, storeErr("get event", sql.ErrNoRows)
	}
	e, err := scanEventRow(db.read.QueryRowContext(ctx, `SELECT `+selectColumns+` FROM events AS e WHERE e.id = ? AND e.tenant = ?`, id, tenant), tenantID)
	if err != nil {
		return nil, storeErr("get event", err)
	}
	return e, nil
}

// lookupBatch keeps each query well under SQLite's limit on parameters.
const lookupBatch = 500

// LookupExternalIDs returns the stored id and hash of each known external id.
func (db *DB) LookupExternalIDs(ctx context.Context, tenantID string, externalIDs []string) (map[string]pulse.StoredRef, error) {
	tenant, ok, err := db.tenantNum(ctx, tenantID)
	if err != nil {
		return nil, err
	} else if !ok {
		return map[string]pulse.StoredRef{}, nil
	}
	return lookupExternalIDs(ctx, db.read, tenant, externalIDs)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// lookupExternalIDs reads what is stored for externalIDs, on the read pool
// or inside a write transaction.
func lookupExternalIDs(ctx context.Context, q querier, tenant int64, externalIDs []string) (map[string]pulse.StoredRef, error) {
	out := make(map[string]pulse.StoredRef, len(externalIDs))
	for len(externalIDs) > 0 {
		batch := externalIDs[:min(lookupBatch, len(externalIDs))]
		externalIDs = externalIDs[len(batch):]
		args := make([]any, 0, len(batch)+1)
		args = append(args, tenant)
		for _, id := range batch {
			args = append(args, id)
		}
		rows, err := q.QueryContext(ctx, `SELECT external_id, id, content_hash FROM events
			WHERE tenant = ? AND external_id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, storeErr("lookup external ids", err)
		}
		for rows.Next() {
			var ext string
			var ref pulse.StoredRef
			if err := rows.Scan(&ext, &ref.ID, &ref.ContentHash); err != nil {
				rows.Close()
				return nil, storeErr("lookup external ids", err)
			}
			out[ext] = ref
		}
		if err := rows.Close(); err != nil {
			return nil, storeErr("lookup external ids", err)
		}
		if err := rows.Err(); err != nil {
			return nil, storeErr("lookup external ids", err)
		}
	}
	return out, nil
}
