package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// AppendAudit stores e and sets e.Seq; the table refuses updates and deletes.
func (db *DB) AppendAudit(ctx context.Context, e *pulse.AuditEntry) error {
	err := db.write.QueryRowContext(ctx, `INSERT INTO audit_log
		(id, tenant_id, at, actor, action, target, source_ip, request_id, before_json, after_json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		e.ID, e.TenantID, micros(e.At), e.Actor, e.Action, e.Target, e.SourceIP, e.RequestID,
		nullJSON(e.Before), nullJSON(e.After)).Scan(&e.Seq)
	if err != nil {
		return storeErr("append audit", err)
	}
	return nil
}

// ListAudit returns at most f.Limit entries, newest first, of one tenant
// (or of all with f.AllTenants).
func (db *DB) ListAudit(ctx context.Context, f pulse.AuditFilter) ([]*pulse.AuditEntry, error) {
	before := f.BeforeSeq
	if before <= 0 {
		before = 1<<63 - 1
	}
	const cols = `SELECT seq, id, tenant_id, at, actor, action, target, source_ip, request_id, before_json, after_json FROM audit_log`
	if f.AllTenants {
		return queryAll(ctx, db, "list audit", scanAudit, cols+` WHERE seq < ? ORDER BY seq DESC LIMIT ?`, before, f.Limit)
	}
	return queryAll(ctx, db, "list audit", scanAudit, cols+` WHERE tenant_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, f.TenantID, before, f.Limit)
}

func scanAudit(row scanner) (*pulse.AuditEntry, error) {
	var e pulse.AuditEntry
	var at int64
	var before, after sql.NullString
	if err := row.Scan(&e.Seq, &e.ID, &e.TenantID, &at, &e.Actor, &e.Action, &e.Target, &e.SourceIP, &e.RequestID, &before, &after); err != nil {
		return nil, err
	}
	e.At = fromMicros(at)
	if before.Valid {
		e.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		e.After = json.RawMessage(after.String)
	}
	return &e, nil
}

func nullJSON(b json.RawMessage) sql.NullString {
	if len(b) == 0 {
		return sql.NullString{}
	}
	return sql.NullString{String: string(b), Valid: true}
}
