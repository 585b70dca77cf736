package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Data-subject requests (GDPR art. 15 and 17) for one user_id of the
// tenant: an NDJSON export of every event and an erasure. Both need the
// admin scope (the one permission line in routes()).

// subjectUserID returns the route's {user_id}, or answers 422.
func (s *Server) subjectUserID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("user_id")
	if errs := pulse.CheckQuery(r.URL.Query(), nil); len(errs) > 0 {
		s.writeError(w, r, pulse.Invalid(errs...))
		return "", false
	}
	if id == "" || utf8.RuneCountInString(id) > pulse.MaxUserIDLen || !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0 {
		s.writeError(w, r, pulse.Invalid(pulse.FieldError{Field: "user_id", Reason: "user_id.invalid",
			Message: "must be 1-256 characters of valid UTF-8"}))
		return "", false
	}
	return id, true
}

// subjectTarget names the user in the audit log by a hash of the id: the
// log records that a request was made without keeping the personal data
// the erasure removed. Whoever knows the id can find its entries.
func subjectTarget(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return "user_id_sha256:" + hex.EncodeToString(sum[:])
}

// exportUserEvents answers GET /api/v1/users/{user_id}/events/export with
// the user's events as NDJSON (one event per line, newest first), read
// and flushed page by page. A failure after the first line aborts the
// connection, so that a cut export can never pass for a complete one.
func (s *Server) exportUserEvents(w http.ResponseWriter, r *http.Request) {
	userID, ok := s.subjectUserID(w, r)
	if !ok {
		return
	}
	tenant := tenantFrom(r.Context())
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	started := false
	n, err := pulse.ExportUserEvents(r.Context(), s.store, tenant.ID, userID, pulse.ExportPageSize, func(page []*pulse.Event) error {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
		}
		// Each page has the request timeout to be written (the server's
		// write timeout alone would cut a long export).
		_ = rc.SetWriteDeadline(time.Now().Add(s.RequestTimeout))
		for _, e := range page {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return rc.Flush()
	})
	if err != nil {
		if !started {
			s.writeError(w, r, err)
			return
		}
		s.logger.WarnContext(r.Context(), "export cut short", "err", err, "events", n, "request_id", requestID(r.Context()))
		panic(http.ErrAbortHandler)
	}
	if !started {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
	}
	s.audit(r, tenant.ID, "user_events.export", subjectTarget(userID), nil, map[string]int{"events": n})
}

// eraseUserEvents answers DELETE /api/v1/users/{user_id}/events with
// {"erased": n}. The store erases in chunks: if the request ends early
// (timeout, client gone), what was erased stays erased, is audited, and
// repeating the request finishes (a complete erasure then answers 0).
func (s *Server) eraseUserEvents(w http.ResponseWriter, r *http.Request) {
	userID, ok := s.subjectUserID(w, r)
	if !ok {
		return
	}
	ctx, cancel := contextWithTimeout(r, s.RequestTimeout)
	defer cancel()
	tenant := tenantFrom(ctx)
	n, err := s.store.EraseUserEvents(ctx, tenant.ID, userID, pulse.DefaultEraseChunk)
	if n > 0 || err == nil {
		s.audit(r, tenant.ID, "user_events.erase", subjectTarget(userID), nil, map[string]any{"erased": n, "complete": err == nil})
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"erased": n})
}
