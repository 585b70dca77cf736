package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The parts write path (docs/STORAGE.md, "Parts store: write path and
// reads"): one group commit is one transaction that settles exactly-once
// in event_keys — one row per event with an external id, the only
// per-event B-tree work — and writes the created events as one level-0
// block per tenant.

// keyChunk is the most rows of one event_keys INSERT (5 parameters each);
// a power of two, see pieces.
const keyChunk = 1024

// insertGroupParts is insertGroup for a parts database. Repeats inside a
// request, erased keys, duplicates and conflicts are answered exactly as
// in a rows database; the unique key of event_keys decides which of two
// concurrent events with one external id is created.
func (db *DB) insertGroupParts(ctx context.Context, tx *sql.Tx, reqs []insertReq) ([][]pulse.InsertResult, error) {
	results, firstOf, fresh := splitRepeats(reqs)
	fresh, err := db.answerErased(ctx, tx, reqs, fresh, results)
	if err != nil {
		return nil, err
	}
	var keyed []eventRef
	for _, f := range fresh {
		e := reqs[f.r].events[f.i]
		if e.ExternalID == "" {
			results[f.r][f.i] = pulse.InsertResult{Status: pulse.Created, ID: e.ID}
		} else {
			keyed = append(keyed, f)
		}
	}

	inserted := make(map[string]bool, len(keyed)) // ids whose key went in
	err = insertChunks(ctx, tx, "insert events: keys", db.keyInserts, keyChunk, keyed, make([]any, 0, min(len(keyed), keyChunk)*5),
		func(args []any, f eventRef) []any {
			e := reqs[f.r].events[f.i]
			return append(args, reqs[f.r].tenant, e.ExternalID, e.ID, e.ContentHash, micros(e.Timestamp))
		},
		func(rows *sql.Rows) error {
			var id string
			err := rows.Scan(&id)
			inserted[id] = true
			return err
		})
	if err != nil {
		return nil, err
	}
	for _, f := range keyed {
		if e := reqs[f.r].events[f.i]; inserted[e.ID] {
			results[f.r][f.i] = pulse.InsertResult{Status: pulse.Created, ID: e.ID}
		}
	}
	if err := resolveTaken(ctx, tx, "event_keys", reqs, keyed, results); err != nil {
		return nil, err
	}
	answerRepeats(reqs, results, firstOf)

	// One block per tenant (more for large payloads, writeBlocks), tenants
	// in the order of their first request.
	var tenants []int64
	created := map[int64][]*pulse.Event{}
	for r, req := range reqs {
		for i, e := range req.events {
			if results[r][i].Status != pulse.Created {
				continue
			}
			if _, ok := created[req.tenant]; !ok {
				tenants = append(tenants, req.tenant)
			}
			created[req.tenant] = append(created[req.tenant], e)
		}
	}
	for _, t := range tenants {
		n, err := writeBlocks(ctx, tx, t, 0, created[t])
		if err != nil {
			return nil, err
		}
		db.sinceMerge += n
	}
	return results, nil
}

// checkParts is what InsertEvents checks of a call to a parts database,
// in the caller's goroutine: every event is the tenant's, and no id
// repeats. (A rows database's primary key refuses a repeated id; a parts
// database has no index on ids: ids are the server's UUIDv7s, and a
// repeat inside one call is the one mistake it can see cheaply.)
func checkParts(tenantID string, events []*pulse.Event) error {
	seen := make(map[string]int, len(events))
	for i, e := range events {
		if e.TenantID != tenantID {
			return fmt.Errorf("insert events: event %d belongs to another tenant", i)
		}
		if j, ok := seen[e.ID]; ok {
			return fmt.Errorf("insert events: event %d repeats the id of event %d", i, j)
		}
		seen[e.ID] = i
	}
	return nil
}

// prepareKeyInserts prepares the event_keys inserts of every power-of-two
// row count up to keyChunk on the writer's connection (see prepareInserts).
func (db *DB) prepareKeyInserts(ctx context.Context) error {
	db.keyInserts = make([]*sql.Stmt, keyChunk+1)
	for n := 1; n <= keyChunk; n *= 2 {
		stmt, err := db.write.PrepareContext(ctx, "INSERT INTO event_keys (tenant, external_id, id, content_hash, ts) VALUES "+
			placeholders(n, 5)+" ON CONFLICT (tenant, external_id) DO NOTHING RETURNING id")
		if err != nil {
			return err
		}
		db.keyInserts[n] = stmt
	}
	return nil
}
