package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// maxAttempts bounds how often a group's transaction is run when it
// deadlocks or fails to serialize, before answering EUNAVAILABLE.
const maxAttempts = 3

// InsertEvents stores events through the group committer (groupcommit.go):
// concurrent calls are merged into one transaction. Each event with an
// external id first claims (tenant, external_id) in event_keys; the claim
// and the event row commit together, so the primary key of event_keys
// makes exactly one of any number of concurrent callers create the event.
func (db *DB) InsertEvents(ctx context.Context, tenantID string, events []*pulse.Event) ([]pulse.InsertResult, error) {
	if len(events) == 0 {
		return []pulse.InsertResult{}, nil
	}
	// Event ids are unique per (tenant, ts) in the database: a unique index
	// on a partitioned table must hold the partition key. Ids are random
	// UUIDs issued by the server, so only a caller's bug can repeat one,
	// which is checked here within the call.
	seen := make(map[string]bool, len(events))
	for _, e := range events {
		if e.TenantID != tenantID {
			return nil, fmt.Errorf("insert events: event %s belongs to another tenant", e.ID)
		}
		if seen[e.ID] {
			return nil, fmt.Errorf("insert events: event id %s appears twice", e.ID)
		}
		seen[e.ID] = true
	}
	return db.commits.submit(ctx, insertReq{ctx: ctx, tenantID: tenantID, events: events})
}

// insertGroup runs the group's transaction, retrying deadlocks and
// serialization failures, and settles a COMMIT whose answer was lost.
func (db *DB) insertGroup(ctx context.Context, reqs []insertReq) ([][]pulse.InsertResult, error) {
	var times []time.Time
	for _, r := range reqs {
		for _, e := range r.events {
			times = append(times, e.Timestamp)
		}
	}
	var results [][]pulse.InsertResult
	var err error
	for attempt := 1; ; attempt++ {
		if err = db.ensurePartitions(ctx, db.pool, times); err != nil {
			return nil, err
		}
		var commitUnknown bool
		var xid string
		results, xid, commitUnknown, err = db.insertTx(ctx, reqs)
		if err == nil {
			return results, nil
		}
		if commitUnknown {
			// The connection broke during COMMIT: the rows may or may not be
			// stored. Ask the database on a fresh connection, so that a
			// committed group is never answered with a 503.
			committed, cerr := db.committed(ctx, xid)
			switch {
			case cerr == nil && committed:
				return results, nil
			case cerr == nil:
				return nil, dbError("insert events", err) // not stored: a clean 503
			default:
				// Not even the check could run (the database is still
				// unreachable): say so, never "nothing was kept".
				return nil, pulse.OutcomeUnknown(fmt.Errorf("insert events: commit outcome unknown: %w (check: %v)", err, cerr), retryAfter)
			}
		}
		if attempt == maxAttempts {
			break
		}
		switch {
		case isNoPartition(err):
			// Another node dropped a partition this one had cached.
			db.forgetPartitions()
		case isRetryable(err):
		default:
			return nil, dbError("insert events", err)
		}
	}
	if isRetryable(err) {
		return nil, pulse.Unavailable(fmt.Errorf("insert events: %w", err), retryAfter)
	}
	return nil, dbError("insert events", err)
}

// insertTx runs one attempt; commitUnknown reports that COMMIT itself failed
// without an answer from the server, and xid names the transaction so that
// its fate can be asked for.
func (db *DB) insertTx(ctx context.Context, reqs []insertReq) (results [][]pulse.InsertResult, xid string, commitUnknown bool, err error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, "", false, err
	}
	results, err = insertEvents(ctx, tx, reqs)
	if err == nil {
		err = tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text").Scan(&xid)
	}
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, "", false, err
	}
	// A client that hangs up must not interrupt a COMMIT in flight (which
	// would leave its outcome unknown); the commit gets a deadline of its own.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := tx.Commit(cctx); err != nil {
		var pgErr *pgconn.PgError
		return results, xid, !errors.As(err, &pgErr), err
	}
	return results, xid, false, nil
}

// committed asks, on a fresh connection, whether transaction xid committed.
// The server may still be finishing a COMMIT whose connection broke, so "in
// progress" is waited out briefly; only "aborted" means nothing was stored.
func (db *DB) committed(ctx context.Context, xid string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for {
		var status *string
		if err := db.pool.QueryRow(ctx, `SELECT pg_xact_status($1::xid8)`, xid).Scan(&status); err != nil {
			return false, err
		}
		switch {
		case status == nil:
			return false, fmt.Errorf("transaction %s is too old to tell", xid)
		case *status == "committed":
			return true, nil
		case *status == "aborted":
			return false, nil
		}
		select { // "in progress": the server is still finishing it
		case <-ctx.Done():
			return false, fmt.Errorf("transaction %s still in progress: %w", xid, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// keyOf names an idempotency key: tenant and external id.
type keyOf struct{ tenant, x string }

// insertEvents stores the events of every request of a group in tx, with
// one statement per step whatever the group's size: claim the keys, look up
// the keys others hold, insert the rows. The first occurrence of an
// external id in a request claims it; a later request of the group with the
// same key sees the first one's event, as a later transaction would.
func insertEvents(ctx context.Context, tx pgx.Tx, reqs []insertReq) ([][]pulse.InsertResult, error) {
	type ref struct{ r, i int } // request, event
	first := make([]map[string]int, len(reqs))
	var claims []ref
	for r, req := range reqs {
		first[r] = make(map[string]int)
		for i, e := range req.events {
			if e.ExternalID == "" {
				continue
			}
			if _, ok := first[r][e.ExternalID]; !ok {
				first[r][e.ExternalID] = i
				claims = append(claims, ref{r, i})
			}
		}
	}
	// Keys are claimed in (tenant, external id) order so that concurrent
	// transactions claiming overlapping sets cannot deadlock.
	slices.SortStableFunc(claims, func(a, b ref) int {
		if c := strings.Compare(reqs[a.r].tenantID, reqs[b.r].tenantID); c != 0 {
			return c
		}
		return strings.Compare(reqs[a.r].events[a.i].ExternalID, reqs[b.r].events[b.i].ExternalID)
	})
	keys := make([]*pulse.Event, len(claims))
	tenants := make([]string, len(claims))
	for j, c := range claims {
		keys[j], tenants[j] = reqs[c.r].events[c.i], reqs[c.r].tenantID
	}
	won, stored, err := claimKeys(ctx, tx, tenants, keys)
	if err != nil {
		return nil, err
	}

	results := make([][]pulse.InsertResult, len(reqs))
	var rows []*pulse.Event
	var rowTenants []string
	for r, req := range reqs {
		results[r] = make([]pulse.InsertResult, len(req.events))
		for i, e := range req.events {
			if e.ExternalID == "" || first[r][e.ExternalID] == i && won[e.ID] {
				results[r][i] = pulse.InsertResult{Status: pulse.Created, ID: e.ID}
				rows, rowTenants = append(rows, e), append(rowTenants, req.tenantID)
				continue
			}
			held := stored[keyOf{req.tenantID, e.ExternalID}]
			status := pulse.Conflict
			if e.SameContent(held.ContentHash) {
				status = pulse.Duplicate
			}
			results[r][i] = pulse.InsertResult{Status: status, ID: held.ID}
		}
	}
	present, err := insertRows(ctx, tx, rowTenants, rows)
	if err != nil {
		return nil, err
	}
	if len(present) > 0 {
		// Events re-delivered by the ingest log (same id and timestamp):
		// the first delivery stored them.
		for r := range results {
			for i, res := range results[r] {
				if res.Status == pulse.Created && present[keyOf{reqs[r].tenantID, res.ID}] {
					results[r][i].Status = pulse.Duplicate
				}
			}
		}
	}
	return results, nil
}

// claimKeys inserts the idempotency keys of events (of tenants, in that
// order) and returns the ids of the events that won their key and, for
// every key, what holds it (the winner's event id and content hash).
func claimKeys(ctx context.Context, tx pgx.Tx, tenants []string, events []*pulse.Event) (map[string]bool, map[keyOf]pulse.StoredRef, error) {
	won := make(map[string]bool, len(events))
	stored := make(map[keyOf]pulse.StoredRef, len(events))
	if len(events) == 0 {
		return won, stored, nil
	}
	xs := make([]string, len(events))
	ids := make([]string, len(events))
	hashes := make([]string, len(events))
	ts := make([]time.Time, len(events))
	for j, e := range events {
		xs[j], ids[j], hashes[j], ts[j] = e.ExternalID, e.ID, e.ContentHash, e.Timestamp
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO event_keys (tenant_id, external_id, event_id, content_hash, ts)
		SELECT tn, x, i::uuid, h, t
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY AS u(tn, x, i, h, t, n)
		ORDER BY n
		ON CONFLICT (tenant_id, external_id) DO NOTHING
		RETURNING event_id::text`, tenants, xs, ids, hashes, ts)
	if err != nil {
		return nil, nil, err
	}
	created, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, err
	}
	for _, id := range created {
		won[id] = true
	}
	var lostTenants, lostXs []string
	for j, e := range events {
		if won[e.ID] {
			stored[keyOf{tenants[j], e.ExternalID}] = pulse.StoredRef{ID: e.ID, ContentHash: e.ContentHash}
		} else {
			lostTenants, lostXs = append(lostTenants, tenants[j]), append(lostXs, e.ExternalID)
		}
	}
	if len(lostXs) == 0 {
		return won, stored, nil
	}
	// A separate statement: under READ COMMITTED it sees the keys that
	// concurrent transactions committed while this one waited on them (and
	// the keys this transaction claimed for an earlier request).
	rows, err = tx.Query(ctx, `
		SELECT k.tenant_id, k.external_id, k.event_id::text, k.content_hash
		FROM event_keys AS k JOIN unnest($1::text[], $2::text[]) AS u(tn, x) ON k.tenant_id = u.tn AND k.external_id = u.x`,
		lostTenants, lostXs)
	if err != nil {
		return nil, nil, err
	}
	var key keyOf
	var held pulse.StoredRef
	if _, err := pgx.ForEachRow(rows, []any{&key.tenant, &key.x, &held.ID, &held.ContentHash}, func() error {
		stored[key] = held
		return nil
	}); err != nil {
		return nil, nil, err
	}
	for j := range lostXs {
		if _, ok := stored[keyOf{lostTenants[j], lostXs[j]}]; !ok {
			// The winner's key expired in between; running again will claim it.
			return nil, nil, &pgconn.PgError{Code: "40001", Message: "idempotency key vanished"}
		}
	}
	return won, stored, nil
}

// insertEventRows inserts one tenant's events (see insertRows).
func insertEventRows(ctx context.Context, tx pgx.Tx, tenantID string, events []*pulse.Event) error {
	tenants := make([]string, len(events))
	for i := range tenants {
		tenants[i] = tenantID
	}
	_, err := insertRows(ctx, tx, tenants, events)
	return err
}

// insertRows inserts events (of tenants, row by row) in one statement: one
// array parameter per column, expanded by unnest (faster than COPY for the
// batch sizes the API accepts; see BenchmarkInsertBatch). A row whose
// (tenant, timestamp, id) is already stored is skipped and returned in
// present (as keyOf{tenant, id}): the ingest log re-delivers an event after a
// crash between commit and acknowledgement, and an event without an
// external id has only its id to be recognised by.
func insertRows(ctx context.Context, tx pgx.Tx, tenants []string, events []*pulse.Event) (present map[keyOf]bool, err error) {
	if len(events) == 0 {
		return nil, nil
	}
	n := len(events)
	var (
		ids, types, sevs, svcs, eps, uids, msgs, hashes = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		xs, tags, payloads = make([]*string, n), make([]*string, n), make([]*string, n)
		codes              = make([]*int32, n)
		ts, recv           = make([]time.Time, n), make([]time.Time, n)
	)
	for i, e := range events {
		ids[i], types[i], sevs[i], svcs[i], eps[i], uids[i], msgs[i], hashes[i] =
			e.ID, e.EventType, string(e.Severity), e.Service, e.Endpoint, e.UserID, e.Message, e.ContentHash
		ts[i], recv[i] = e.Timestamp, e.ReceivedAt
		if e.ExternalID != "" {
			xs[i] = &e.ExternalID
		}
		if e.StatusCode != 0 {
			c := int32(e.StatusCode)
			codes[i] = &c
		}
		if len(e.Tags) > 0 {
			b, err := json.Marshal(e.Tags)
			if err != nil {
				return nil, fmt.Errorf("encode tags: %w", err)
			}
			s := string(b)
			tags[i] = &s
		}
		if len(e.Payload) > 0 {
			s := string(e.Payload)
			payloads[i] = &s
		}
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO events (tenant_id, id, external_id, event_type, severity, service, endpoint, status_code,
			user_id, message, tags, ts, received_at, payload, content_hash)
		SELECT tn, id::uuid, x, et, sev, svc, ep, sc, uid, msg, tg::jsonb, t, r, p::json, h
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int4[],
			$9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::timestamptz[], $14::text[], $15::text[])
			AS u(tn, id, x, et, sev, svc, ep, sc, uid, msg, tg, t, r, p, h)
		ON CONFLICT DO NOTHING`,
		tenants, ids, xs, types, sevs, svcs, eps, codes, uids, msgs, tags, ts, recv, payloads, hashes)
	if err != nil || tag.RowsAffected() == int64(n) {
		return nil, err
	}
	// Rare: some rows were there already. Which ones were inserted now is
	// told by xmin, the inserting transaction (this one).
	rows, err := tx.Query(ctx, `
		SELECT e.tenant_id, e.id::text FROM events e
		JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(tn, id, t) ON e.tenant_id = u.tn AND e.ts = u.t AND e.id = u.id::uuid
		WHERE NOT e.xmin = (pg_current_xact_id()::text::bigint % 4294967296)::text::xid`, tenants, ids, ts)
	if err != nil {
		return nil, err
	}
	present = make(map[keyOf]bool)
	var k keyOf
	if _, err := pgx.ForEachRow(rows, []any{&k.tenant, &k.x}, func() error { present[k] = true; return nil }); err != nil {
		return nil, err
	}
	return present, nil
}

// LookupExternalIDs returns what is stored for the tenant's external ids.
func (db *DB) LookupExternalIDs(ctx context.Context, tenantID string, externalIDs []string) (map[string]pulse.StoredRef, error) {
	if len(externalIDs) == 0 {
		return map[string]pulse.StoredRef{}, nil
	}
	refs, err := lookupKeys(ctx, db.pool, tenantID, externalIDs)
	if err != nil {
		return nil, dbError("lookup external ids", err)
	}
	return refs, nil
}

func lookupKeys(ctx context.Context, q querier, tenantID string, externalIDs []string) (map[string]pulse.StoredRef, error) {
	rows, err := q.Query(ctx, `SELECT external_id, event_id, content_hash FROM event_keys
		WHERE tenant_id = $1 AND external_id = ANY($2::text[])`, tenantID, externalIDs)
	if err != nil {
		return nil, err
	}
	refs := make(map[string]pulse.StoredRef, len(externalIDs))
	var x string
	var ref pulse.StoredRef
	_, err = pgx.ForEachRow(rows, []any{&x, &ref.ID, &ref.ContentHash}, func() error {
		refs[x] = ref
		return nil
	})
	if err != nil {
		return nil, err
	}
	return refs, nil
}

const eventColumns = "id, external_id, event_type, severity, service, endpoint, status_code, user_id, message, tags, ts, received_at, payload, content_hash"

// GetEvent returns the tenant's event; ErrNotFound for a missing id or
// another tenant's.
func (db *DB) GetEvent(ctx context.Context, tenantID, id string) (*pulse.Event, error) {
	if !pulse.ValidID(id) {
		return nil, pulse.ErrNotFound
	}
	rows, err := db.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err != nil {
		return nil, dbError("get event", err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) (*pulse.Event, error) { return scanEvent(r, tenantID) })
	if err != nil {
		return nil, dbError("get event", err)
	}
	return e, nil
}

func scanEvent(r pgx.CollectableRow, tenantID string) (*pulse.Event, error) {
	e := pulse.Event{TenantID: tenantID}
	var x *string
	var code *int32
	var tags, payload []byte
	if err := r.Scan(&e.ID, &x, &e.EventType, &e.Severity, &e.Service, &e.Endpoint, &code, &e.UserID, &e.Message,
		&tags, &e.Timestamp, &e.ReceivedAt, &payload, &e.ContentHash); err != nil {
		return nil, err
	}
	if x != nil {
		e.ExternalID = *x
	}
	if code != nil {
		e.StatusCode = int(*code)
	}
	if tags != nil {
		if err := json.Unmarshal(tags, &e.Tags); err != nil {
			return nil, fmt.Errorf("decode tags of event %s: %w", e.ID, err)
		}
	}
	if payload != nil {
		e.Payload = json.RawMessage(payload)
	}
	e.Timestamp, e.ReceivedAt = e.Timestamp.UTC(), e.ReceivedAt.UTC()
	return &e, nil
}

// isNoPartition reports whether err says that no partition holds a row.
func isNoPartition(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.TableName == "events"
}
