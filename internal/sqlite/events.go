package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"pulsestream/internal/pulse"
)

const eventColumns = `id, tenant_id, external_id, event_type, severity, service, endpoint, status_code, ` +
	`user_id, message, tags, ts, received_at, payload, content_hash`

// eventColumnsE is eventColumns qualified by the alias e, for joins.
var eventColumnsE = "e." + strings.ReplaceAll(eventColumns, ", ", ", e.")

// InsertEvents stores events in one IMMEDIATE transaction. The unique index
// on (tenant_id, external_id) decides what is new; a repeated external_id
// (stored before or earlier in the call) resolves to the stored event.
func (db *DB) InsertEvents(ctx context.Context, tenantID string, events []*pulse.Event) ([]pulse.InsertResult, error) {
	for i, e := range events {
		if e.TenantID != tenantID {
			return nil, fmt.Errorf("insert events: event %d belongs to another tenant", i)
		}
	}
	results := make([]pulse.InsertResult, len(events))
	if len(events) == 0 {
		return results, nil
	}
	err := db.inTx(ctx, "insert events", func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO events (`+eventColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, external_id) WHERE external_id IS NOT NULL DO NOTHING`)
		if err != nil {
			return storeErr("insert events: prepare", err)
		}
		defer ins.Close()
		var insTag, existing *sql.Stmt
		// stored is what the call knows about each external_id so far.
		stored := map[string]pulse.StoredRef{}
		for i, e := range events {
			if e.ExternalID != "" {
				if ref, ok := stored[e.ExternalID]; ok {
					results[i] = resolve(e, ref)
					continue
				}
			}
			row, err := eventRow(e)
			if err != nil {
				return err
			}
			res, err := ins.ExecContext(ctx, row...)
			if err != nil {
				return storeErr("insert events", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return storeErr("insert events", err)
			}
			if n == 0 { // the external_id was stored before this call
				if existing == nil {
					if existing, err = tx.PrepareContext(ctx, `SELECT id, content_hash FROM events WHERE tenant_id = ? AND external_id = ?`); err != nil {
						return storeErr("insert events: prepare", err)
					}
					defer existing.Close()
				}
				var ref pulse.StoredRef
				if err := existing.QueryRowContext(ctx, tenantID, e.ExternalID).Scan(&ref.ID, &ref.ContentHash); err != nil {
					return storeErr("insert events: resolve external id", err)
				}
				stored[e.ExternalID] = ref
				results[i] = resolve(e, ref)
				continue
			}
			results[i] = pulse.InsertResult{Status: pulse.Created, ID: e.ID}
			if e.ExternalID != "" {
				stored[e.ExternalID] = pulse.StoredRef{ID: e.ID, ContentHash: e.ContentHash}
			}
			if len(e.Tags) > 0 && insTag == nil {
				if insTag, err = tx.PrepareContext(ctx, `INSERT INTO event_tags (tenant_id, key, value, ts, event_id) VALUES (?, ?, ?, ?, ?)`); err != nil {
					return storeErr("insert events: prepare", err)
				}
				defer insTag.Close()
			}
			for k, v := range e.Tags {
				if _, err := insTag.ExecContext(ctx, tenantID, k, v, micros(e.Timestamp), e.ID); err != nil {
					return storeErr("insert events: tags", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

func resolve(e *pulse.Event, ref pulse.StoredRef) pulse.InsertResult {
	if e.ContentHash == ref.ContentHash {
		return pulse.InsertResult{Status: pulse.Duplicate, ID: ref.ID}
	}
	return pulse.InsertResult{Status: pulse.Conflict, ID: ref.ID}
}

// eventRow is e's values in eventColumns order.
func eventRow(e *pulse.Event) ([]any, error) {
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
	return []any{e.ID, e.TenantID, ext, e.EventType, string(e.Severity), e.Service, e.Endpoint, status,
		e.UserID, e.Message, tags, micros(e.Timestamp), micros(e.ReceivedAt), payload, e.ContentHash}, nil
}

func scanEvent(row scanner) (*pulse.Event, error) {
	var e pulse.Event
	var ext, tags sql.NullString
	var status sql.NullInt64
	var ts, received int64
	var payload []byte
	if err := row.Scan(&e.ID, &e.TenantID, &ext, &e.EventType, &e.Severity, &e.Service, &e.Endpoint, &status,
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
	e, err := scanEvent(db.read.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ? AND tenant_id = ?`, id, tenantID))
	if err != nil {
		return nil, storeErr("get event", err)
	}
	return e, nil
}

// lookupBatch keeps each query well under SQLite's limit on parameters.
const lookupBatch = 500

// LookupExternalIDs returns the stored id and hash of each known external id.
func (db *DB) LookupExternalIDs(ctx context.Context, tenantID string, externalIDs []string) (map[string]pulse.StoredRef, error) {
	out := make(map[string]pulse.StoredRef, len(externalIDs))
	for len(externalIDs) > 0 {
		batch := externalIDs[:min(lookupBatch, len(externalIDs))]
		externalIDs = externalIDs[len(batch):]
		args := make([]any, 0, len(batch)+1)
		args = append(args, tenantID)
		for _, id := range batch {
			args = append(args, id)
		}
		_, err := queryAll(ctx, db, "lookup external ids", func(row scanner) (struct{}, error) {
			var ext string
			var ref pulse.StoredRef
			if err := row.Scan(&ext, &ref.ID, &ref.ContentHash); err != nil {
				return struct{}{}, err
			}
			out[ext] = ref
			return struct{}{}, nil
		}, `SELECT external_id, id, content_hash FROM events
			WHERE tenant_id = ? AND external_id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
