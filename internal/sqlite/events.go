package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// insertColumns are the columns InsertEvents writes; seq (the rowid) is
// assigned by SQLite and tenant is the tenant's number (tenants.num).
const insertColumns = `id, tenant, external_id, event_type, severity, service, endpoint, status_code, ` +
	`user_id, message, tags, ts, received_at, payload, content_hash`

// selectColumns are the columns scanEvent reads, qualified by the alias e;
// the tenant id is the caller's (every read is scoped to one tenant).
const selectColumns = `e.id, e.external_id, e.event_type, e.severity, e.service, e.endpoint, e.status_code, ` +
	`e.user_id, e.message, e.tags, e.ts, e.received_at, e.payload, e.content_hash`

// tenantNum returns the tenant's number (tenants.num), ok false for an
// unknown tenant. Numbers never change, so the cache never goes stale.
func (db *DB) tenantNum(ctx context.Context, tenantID string) (num int64, ok bool, err error) {
	if v, ok := db.nums.Load(tenantID); ok {
		return v.(int64), true, nil
	}
	err = db.read.QueryRowContext(ctx, `SELECT num FROM tenants WHERE id = ?`, tenantID).Scan(&num)
	if err == sql.ErrNoRows {
		return 0, false, nil
	} else if err != nil {
		return 0, false, storeErr("tenant", err)
	}
	db.nums.Store(tenantID, num)
	return num, true, nil
}

// insertChunks runs the prepared multi-row INSERT … RETURNING statements
// stmts[n] (n rows) over refs, in chunks of at most max rows (pieces):
// row appends one ref's column values to the arguments, and every row the
// statements return — the rows that went in — is passed to scan. args is
// a buffer to reuse.
func insertChunks(ctx context.Context, tx *sql.Tx, op string, stmts []*sql.Stmt, max int, refs []eventRef, args []any,
	row func(args []any, f eventRef) []any, scan func(*sql.Rows) error) error {
	start := 0
	for _, size := range pieces(len(refs), max) {
		args = args[:0]
		for _, f := range refs[start : start+size] {
			args = row(args, f)
		}
		start += size
		rows, err := tx.StmtContext(ctx, stmts[size]).QueryContext(ctx, args...)
		if err != nil {
			return storeErr(op, err)
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return storeErr(op, err)
			}
		}
		if err := rows.Close(); err != nil {
			return storeErr(op, err)
		}
		if err := rows.Err(); err != nil {
			return storeErr(op, err)
		}
	}
	return nil
}

// insertGroup stores the events of every request of one group commit
// inside tx (see groupcommit.go) and returns each request's results. All
// the group's rows go in together, up to insertChunk rows per statement, so that
// fifty single-event requests cost three statements (32 + 16 + 2 rows), not fifty. The unique
// index on (tenant, external_id) decides duplicates: rows go in with
// INSERT ... ON CONFLICT DO NOTHING RETURNING id, seq, and the rows not
// returned are resolved against what is stored (an earlier request, or an
// earlier request of this group). Repeats inside one request follow their
// first occurrence. A parts database stores the group as blocks instead
// (insertGroupParts).
func (db *DB) insertGroup(ctx context.Context, tx *sql.Tx, reqs []insertReq) ([][]pulse.InsertResult, error) {
	if db.parts {
		return db.insertGroupParts(ctx, tx, reqs)
	}
	results, firstOf, fresh := splitRepeats(reqs)
	fresh, err := db.answerErased(ctx, tx, reqs, fresh, results)
	if err != nil {
		return nil, err
	}

	inserted := make(map[string]int64, len(fresh)) // id → seq
	args := make([]any, 0, insertChunk*eventColumnCount)
	err = insertChunks(ctx, tx, "insert events", db.inserts, insertChunk, fresh, args,
		func(args []any, f eventRef) []any { return append(args, reqs[f.r].rows[f.i]...) },
		func(rows *sql.Rows) error {
			var id string
			var seq int64
			err := rows.Scan(&id, &seq)
			inserted[id] = seq
			return err
		})
	if err != nil {
		return nil, err
	}
	for _, f := range fresh {
		if e := reqs[f.r].events[f.i]; inserted[e.ID] != 0 { // seq starts at 1
			results[f.r][f.i] = pulse.InsertResult{Status: pulse.Created, ID: e.ID}
		}
	}
	if err := resolveTaken(ctx, tx, "events", reqs, fresh, results); err != nil {
		return nil, err
	}
	answerRepeats(reqs, results, firstOf)

	tagArgs := args[:0]
	flushTags := func() error {
		rest := tagArgs
		for _, size := range pieces(len(tagArgs)/5, tagChunk) {
			if _, err := tx.StmtContext(ctx, db.tagInserts[size]).ExecContext(ctx, rest[:size*5]...); err != nil {
				return storeErr("insert events: tags", err)
			}
			rest = rest[size*5:]
		}
		tagArgs = tagArgs[:0]
		return nil
	}
	for _, f := range fresh {
		e := reqs[f.r].events[f.i]
		if results[f.r][f.i].Status != pulse.Created {
			continue
		}
		seq := inserted[e.ID]
		for k, v := range e.Tags {
			tagArgs = append(tagArgs, reqs[f.r].tenant, k, v, micros(e.Timestamp), seq)
			if len(tagArgs) == tagChunk*5 {
				if err := flushTags(); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := flushTags(); err != nil {
		return nil, err
	}
	return results, nil
}

// eventRef is one event of a group: request r, event i.
type eventRef struct{ r, i int }

// splitRepeats makes the group's empty results and returns, per request,
// each external id's first occurrence, and the events to store: all but
// the repeats of an external id inside one request.
func splitRepeats(reqs []insertReq) (results [][]pulse.InsertResult, firstOf []map[string]int, fresh []eventRef) {
	results = make([][]pulse.InsertResult, len(reqs))
	firstOf = make([]map[string]int, len(reqs)) // per request: external_id → first occurrence
	for r, req := range reqs {
		results[r] = make([]pulse.InsertResult, len(req.events))
		firstOf[r] = make(map[string]int, len(req.events))
		for i, e := range req.events {
			if e.ExternalID != "" {
				if _, ok := firstOf[r][e.ExternalID]; ok {
					continue
				}
				firstOf[r][e.ExternalID] = i
			}
			fresh = append(fresh, eventRef{r, i})
		}
	}
	return results, firstOf, fresh
}

// answerErased answers the events of fresh whose key belongs to an erased
// event (EraseUserEvents: those keys stay taken) and returns the others.
// Only tenants that ever erased pay this lookup.
func (db *DB) answerErased(ctx context.Context, tx *sql.Tx, reqs []insertReq, fresh []eventRef, results [][]pulse.InsertResult) ([]eventRef, error) {
	erasedKeys := map[int64][]string{}
	for _, f := range fresh {
		if t, x := reqs[f.r].tenant, reqs[f.r].events[f.i].ExternalID; x != "" && db.hasErased(t) {
			erasedKeys[t] = append(erasedKeys[t], x)
		}
	}
	for tenant, xs := range erasedKeys {
		refs, err := lookupErased(ctx, tx, tenant, xs)
		if err != nil {
			return nil, err
		}
		fresh = slices.DeleteFunc(fresh, func(f eventRef) bool {
			e := reqs[f.r].events[f.i]
			stored, ok := refs[e.ExternalID]
			if ok && reqs[f.r].tenant == tenant {
				results[f.r][f.i] = resolve(e, stored)
				return true
			}
			return false
		})
	}
	return fresh, nil
}

// resolveTaken answers the events of refs not yet answered — their
// external id was stored before (by an earlier request, or one earlier in
// this group) — from what table (events or event_keys) holds.
func resolveTaken(ctx context.Context, tx *sql.Tx, table string, reqs []insertReq, refs []eventRef, results [][]pulse.InsertResult) error {
	lost := map[int64][]string{} // tenant → external ids stored before
	for _, f := range refs {
		if results[f.r][f.i].Status == 0 {
			lost[reqs[f.r].tenant] = append(lost[reqs[f.r].tenant], reqs[f.r].events[f.i].ExternalID)
		}
	}
	stored := make(map[int64]map[string]pulse.StoredRef, len(lost))
	for tenant, ids := range lost {
		refs, err := lookupKeys(ctx, tx, table, tenant, ids)
		if err != nil {
			return err
		}
		stored[tenant] = refs
	}
	for _, f := range refs {
		if results[f.r][f.i].Status != 0 {
			continue
		}
		e := reqs[f.r].events[f.i]
		ref, ok := stored[reqs[f.r].tenant][e.ExternalID]
		if !ok {
			return fmt.Errorf("insert events: event %d neither stored nor found", f.i)
		}
		results[f.r][f.i] = resolve(e, ref)
	}
	return nil
}

// answerRepeats answers each repeat of an external id inside a request
// like its first occurrence.
func answerRepeats(reqs []insertReq, results [][]pulse.InsertResult, firstOf []map[string]int) {
	for r, req := range reqs {
		for i, e := range req.events {
			if results[r][i].Status == 0 { // a repeat inside the request
				f := firstOf[r][e.ExternalID]
				ref := pulse.StoredRef{ID: results[r][f].ID, ContentHash: req.events[f].ContentHash}
				if results[r][f].Status == pulse.Conflict {
					ref.ContentHash = "" // the stored content is not the first occurrence's
				}
				results[r][i] = resolve(e, ref)
			}
		}
	}
}

const (
	eventColumnCount = 15
	insertChunk      = 256  // most rows per event INSERT (15 parameters each); a power of two
	tagChunk         = 1024 // most rows per tag INSERT (5 parameters each); a power of two
)

// pieces splits n rows into statements: as many full chunks as fit, then
// the rest by its binary digits (100 → 64, 32, 4), so that every statement
// has a power-of-two row count and one of a few prepared statements fits
// it. Larger statements are cheaper per row (ingest-batch 64 → 128 rows:
// +16 %, BENCHMARKS.md); a group of 10 single events costs 2 statements.
func pieces(n, chunk int) []int {
	var out []int
	for ; n >= chunk; n -= chunk {
		out = append(out, chunk)
	}
	for size := chunk / 2; size > 0; size /= 2 {
		if n&size != 0 {
			out = append(out, size)
		}
	}
	return out
}

// prepareInserts prepares, on the writer's only connection, the event and
// tag inserts for every power-of-two row count up to a chunk (see pieces),
// so that no insert is ever parsed again (preparing a group's odd-sized
// last statement each time cost 9 % of the server's CPU with single events).
func (db *DB) prepareInserts(ctx context.Context) error {
	db.inserts = make([]*sql.Stmt, insertChunk+1)
	db.tagInserts = make([]*sql.Stmt, tagChunk+1)
	for n := 1; n <= max(insertChunk, tagChunk); n *= 2 {
		if n <= insertChunk {
			stmt, err := db.write.PrepareContext(ctx, insertSQL(n))
			if err != nil {
				return err
			}
			db.inserts[n] = stmt
		}
		if n <= tagChunk {
			stmt, err := db.write.PrepareContext(ctx, "INSERT INTO event_tags (tenant, key, value, ts, seq) VALUES "+placeholders(n, 5))
			if err != nil {
				return err
			}
			db.tagInserts[n] = stmt
		}
	}
	if db.parts {
		return db.prepareKeyInserts(ctx)
	}
	return nil
}

func (db *DB) closeInserts() {
	for _, stmt := range slices.Concat(db.inserts, db.tagInserts, db.keyInserts) {
		if stmt != nil {
			stmt.Close()
		}
	}
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
	if e.SameContent(ref.ContentHash) {
		return pulse.InsertResult{Status: pulse.Duplicate, ID: ref.ID}
	}
	return pulse.InsertResult{Status: pulse.Conflict, ID: ref.ID}
}

// eventRows is the rows of events (each of tenantID) for insertGroup.
func eventRows(tenantID string, tenant int64, events []*pulse.Event) ([][]any, error) {
	rows := make([][]any, len(events))
	for i, e := range events {
		if e.TenantID != tenantID {
			return nil, fmt.Errorf("insert events: event %d belongs to another tenant", i)
		}
		row, err := eventRow(e, tenant)
		if err != nil {
			return nil, err
		}
		rows[i] = row
	}
	return rows, nil
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
	if db.parts {
		return db.getEventParts(ctx, tenant, tenantID, id)
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
	refs, err := lookupKeys(ctx, db.read, db.keysTable(), tenant, externalIDs)
	if err != nil || !db.hasErased(tenant) || len(refs) == len(externalIDs) {
		return refs, err
	}
	erased, err := lookupErased(ctx, db.read, tenant, externalIDs)
	for x, ref := range erased {
		refs[x] = ref
	}
	return refs, err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// lookupErased reads the erased keys among externalIDs (erase.go).
func lookupErased(ctx context.Context, q querier, tenant int64, externalIDs []string) (map[string]pulse.StoredRef, error) {
	return lookupKeys(ctx, q, "erased_keys", tenant, externalIDs)
}

// keysTable is the table that holds stored events' external ids.
func (db *DB) keysTable() string {
	if db.parts {
		return "event_keys"
	}
	return "events"
}

// lookupKeys reads (external_id, id, content_hash) of the tenant's
// externalIDs from table, events, event_keys or erased_keys (a constant,
// never input).
func lookupKeys(ctx context.Context, q querier, table string, tenant int64, externalIDs []string) (map[string]pulse.StoredRef, error) {
	out := make(map[string]pulse.StoredRef, len(externalIDs))
	for len(externalIDs) > 0 {
		batch := externalIDs[:min(lookupBatch, len(externalIDs))]
		externalIDs = externalIDs[len(batch):]
		args := make([]any, 0, len(batch)+1)
		args = append(args, tenant)
		for _, id := range batch {
			args = append(args, id)
		}
		rows, err := q.QueryContext(ctx, `SELECT external_id, id, content_hash FROM `+table+`
			WHERE tenant = ? AND external_id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, storeErr("lookup "+table+" keys", err)
		}
		for rows.Next() {
			var ext string
			var ref pulse.StoredRef
			if err := rows.Scan(&ext, &ref.ID, &ref.ContentHash); err != nil {
				rows.Close()
				return nil, storeErr("lookup "+table+" keys", err)
			}
			out[ext] = ref
		}
		if err := rows.Close(); err != nil {
			return nil, storeErr("lookup "+table+" keys", err)
		}
		if err := rows.Err(); err != nil {
			return nil, storeErr("lookup "+table+" keys", err)
		}
	}
	return out, nil
}
