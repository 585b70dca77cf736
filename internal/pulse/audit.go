package pulse

import (
	"context"
	"encoding/json"
	"time"
)

// Actors that are not an API key. A key acts as "key:<key id>" (KeyActor).
const (
	ActorAdmin = "admin" // the operator token on /admin/v1
	ActorCLI   = "cli"   // a pulsestream subcommand on the database
)

// KeyActor names an API key as the actor of an audit entry.
func KeyActor(keyID string) string { return "key:" + keyID }

// AuditEntry records one change: who did what to which thing, from where,
// and a before/after summary. Summaries are the resources' public JSON
// forms, which never carry secrets (keys and signing secrets are shown as
// id and prefix). TenantID is empty for server-wide changes.
type AuditEntry struct {
	Seq       int64           `json:"-"` // assigned by the store: append order
	ID        string          `json:"id"`
	TenantID  string          `json:"tenant_id,omitempty"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"` // "tenant.update", "api_key.rotate", ...
	Target    string          `json:"target"` // "tenant/<id>", "api_key/<id>", ...
	SourceIP  string          `json:"source_ip,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
	Before    json.RawMessage `json:"before,omitempty"`
	After     json.RawMessage `json:"after,omitempty"`
}

// AuditFilter selects a page of the audit log, newest first.
type AuditFilter struct {
	// TenantID restricts the page to one tenant's entries; it is required
	// unless AllTenants is set (the operator's view).
	TenantID   string
	AllTenants bool
	// BeforeSeq continues after the last entry of the previous page (0: start).
	BeforeSeq int64
	Limit     int
}

// AuditStore keeps the audit log. It is append-only: there is no update or
// delete, so that the log can be trusted as a record.
type AuditStore interface {
	// AppendAudit stores e and sets e.Seq.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// ListAudit returns at most f.Limit entries, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
}

// Summary is the JSON form of v for an audit entry's Before or After; nil
// stays nil. Only pass values whose JSON form holds no secret.
func Summary(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
