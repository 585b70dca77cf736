package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/pulsestream/pulsestream/internal/people"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// audit records a change made by this request: the actor (the request's
// API key or signed-in person, else the operator), source IP and request id come from r;
// before and after are summaries (nil when there is none) and must be
// values whose JSON holds no secret — the domain types hide theirs. Call
// it after the change is committed, from any handler of this package
// (rules, silences, ...). A failure to record is logged, not returned: the
// change has happened and the client must learn so.
func (s *Server) audit(r *http.Request, tenantID, action, target string, before, after any) {
	actor := pulse.ActorAdmin
	if k := apiKeyFrom(r.Context()); k != nil {
		actor = pulse.KeyActor(k.ID)
	} else if p, ok := pulse.PrincipalFrom(r.Context()); ok && p.UserID != "" {
		actor = people.UserActor(p.UserID)
	}
	e := &pulse.AuditEntry{
		ID: pulse.NewID(), TenantID: tenantID, At: s.clock.Now().UTC(), Actor: actor,
		Action: action, Target: target, SourceIP: s.clientIP(r), RequestID: requestID(r.Context()),
		Before: pulse.Summary(before), After: pulse.Summary(after),
	}
	if err := s.store.AppendAudit(context.WithoutCancel(r.Context()), e); err != nil {
		s.metrics.auditFailures.Inc()
		s.logger.ErrorContext(r.Context(), "audit entry not recorded", "err", err, "action", action,
			"target", target, "tenant_id", tenantID, "request_id", e.RequestID)
	}
}

// listAuditLog answers GET /api/v1/audit-log: the tenant's own entries.
func (s *Server) listAuditLog(w http.ResponseWriter, r *http.Request) {
	s.writeAuditPage(w, r, pulse.AuditFilter{TenantID: tenantFrom(r.Context()).ID})
}

// adminListAuditLog answers GET /admin/v1/audit-log[?tenant_id=].
func (s *Server) adminListAuditLog(w http.ResponseWriter, r *http.Request) {
	f := pulse.AuditFilter{AllTenants: true}
	if id := r.URL.Query().Get("tenant_id"); id != "" {
		f = pulse.AuditFilter{TenantID: id}
	}
	s.writeAuditPage(w, r, f, "tenant_id")
}

// writeAuditPage reads limit (1-1000, default 50), cursor and params (the
// route's own; any other parameter is refused) and answers
// {"entries": [...], "next_cursor": "..." | null}, newest first.
func (s *Server) writeAuditPage(w http.ResponseWriter, r *http.Request, f pulse.AuditFilter, params ...string) {
	q := r.URL.Query()
	if errs := pulse.CheckQuery(q, append(params, "limit", "cursor")); len(errs) > 0 {
		s.writeError(w, r, pulse.Invalid(errs...))
		return
	}
	f.Limit = 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.writeError(w, r, pulse.Invalid(pulse.FieldError{Field: "limit", Message: "must be an integer between 1 and 1000", Reason: "limit.invalid"}))
			return
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		seq, ok := decodeAuditCursor(v)
		if !ok {
			s.writeError(w, r, pulse.Invalid(pulse.FieldError{Field: "cursor", Message: "is not a cursor this server issued", Reason: "cursor.invalid"}))
			return
		}
		f.BeforeSeq = seq
	}
	entries, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var next *string
	if len(entries) == f.Limit {
		c := encodeAuditCursor(entries[len(entries)-1].Seq)
		next = &c
	}
	if entries == nil {
		entries = []*pulse.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "next_cursor": next})
}

func encodeAuditCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("audit:" + strconv.FormatInt(seq, 10)))
}

func decodeAuditCursor(c string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 7 || string(b[:6]) != "audit:" {
		return 0, false
	}
	seq, err := strconv.ParseInt(string(b[6:]), 10, 64)
	return seq, err == nil && seq > 0
}
