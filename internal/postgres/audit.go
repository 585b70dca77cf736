package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// AppendAudit stores e and sets e.Seq; the table refuses updates and deletes.
func (db *DB) AppendAudit(ctx context.Context, e *pulse.AuditEntry) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO audit_log
		(id, tenant_id, at, actor, action, target, source_ip, request_id, before_json, after_json)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq`,
		e.ID, e.TenantID, e.At.UTC().Truncate(time.Microsecond), e.Actor, e.Action, e.Target, e.SourceIP, e.RequestID,
		jsonArg(e.Before), jsonArg(e.After)).Scan(&e.Seq)
	return dbError("append audit", err)
}

// ListAudit returns at most f.Limit entries, newest first, of one tenant
// (or of all with f.AllTenants).
func (db *DB) ListAudit(ctx context.Context, f pulse.AuditFilter) ([]*pulse.AuditEntry, error) {
	before := f.BeforeSeq
	if before <= 0 {
		before = 1<<63 - 1
	}
	const cols = `SELECT seq, id, tenant_id, at, actor, action, target, source_ip, request_id, before_json, after_json FROM audit_log`
	var rows pgx.Rows
	var err error
	if f.AllTenants {
		rows, err = db.pool.Query(ctx, cols+` WHERE seq < $1 ORDER BY seq DESC LIMIT $2`, before, f.Limit)
	} else {
		rows, err = db.pool.Query(ctx, cols+` WHERE tenant_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, f.TenantID, before, f.Limit)
	}
	if err != nil {
		return nil, dbError("list audit", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pulse.AuditEntry, error) {
		var e pulse.AuditEntry
		var before, after []byte
		if err := r.Scan(&e.Seq, &e.ID, &e.TenantID, &e.At, &e.Actor, &e.Action, &e.Target, &e.SourceIP, &e.RequestID, &before, &after); err != nil {
			return nil, err
		}
		e.At = e.At.UTC()
		if before != nil {
			e.Before = json.RawMessage(before)
		}
		if after != nil {
			e.After = json.RawMessage(after)
		}
		return &e, nil
	})
	if err != nil {
		return nil, dbError("list audit", err)
	}
	if out == nil {
		out = []*pulse.AuditEntry{}
	}
	return out, nil
}

// jsonArg passes JSON bytes as a jsonb parameter, or NULL when empty.
func jsonArg(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
