package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// codeStatus is the only mapping from error codes to HTTP statuses.
var codeStatus = map[string]int{
	pulse.EBADREQUEST:   http.StatusBadRequest,
	pulse.EUNAUTHORIZED: http.StatusUnauthorized,
	pulse.EFORBIDDEN:    http.StatusForbidden,
	pulse.ENOTFOUND:     http.StatusNotFound,
	pulse.EMETHOD:       http.StatusMethodNotAllowed,
	pulse.ECONFLICT:     http.StatusConflict,
	pulse.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	pulse.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	pulse.EINVALID:      http.StatusUnprocessableEntity,
	pulse.ERATELIMITED:  http.StatusTooManyRequests,
	pulse.EINTERNAL:     http.StatusInternalServerError,
	pulse.EUNAVAILABLE:  http.StatusServiceUnavailable,
	pulse.EUNKNOWN:      http.StatusServiceUnavailable, // its own problem type: the write may have been kept
	pulse.EINSUFFICIENT: http.StatusInsufficientStorage,
	pulse.ETIMEOUT:      http.StatusRequestTimeout,
	pulse.EOVERLOADED:   http.StatusServiceUnavailable,
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type    string             `json:"type"`
	Title   string             `json:"title"`
	Status  int                `json:"status"`
	Detail  string             `json:"detail"`
	Errors  []pulse.FieldError `json:"errors,omitempty"`
	ID      string             `json:"id,omitempty"`
	Request string             `json:"request_id,omitempty"`
	// Extra members for specific problems (e.g. a batch's counts on 429).
	Extra map[string]any `json:"-"`
}

// toError turns any error into an *pulse.Error; unknown errors become
// EINTERNAL and a context deadline becomes EUNAVAILABLE.
func toError(err error) *pulse.Error {
	var pe *pulse.Error
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.Is(err, context.DeadlineExceeded):
		return pulse.Unavailable(err, time.Second)
	case errors.Is(err, context.Canceled):
		return &pulse.Error{Code: pulse.EUNAVAILABLE, Message: "the request was cancelled", Err: err, RetryAfter: time.Second}
	}
	return &pulse.Error{Code: pulse.EINTERNAL, Message: "internal error", Err: err}
}

// writeError writes err as problem+json. Internal errors are logged once,
// here, with the request id, and shown to the user as a plain 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeProblem(w, r, err, nil)
}

func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error, extra map[string]any) {
	e, status, msg := s.errorStatus(w, r, err)
	p := map[string]any{
		"type":       "/docs#problem-" + e.Code,
		"title":      http.StatusText(status),
		"status":     status,
		"detail":     msg,
		"request_id": requestID(r.Context()),
	}
	if len(e.Fields) > 0 {
		p["errors"] = e.Fields
	}
	if e.ID != "" {
		p["id"] = e.ID
	}
	for k, v := range extra {
		p[k] = v
	}
	writeJSONType(w, status, "application/problem+json", p)
}

// errorStatus is the one place that decides an error's status and the
// message a user sees: internal errors are logged here, once, and shown as
// "internal error"; Retry-After is set on w when the error has one (always
// on 429 and 503). Writers of other body formats (OTLP) use it too.
func (s *Server) errorStatus(w http.ResponseWriter, r *http.Request, err error) (*pulse.Error, int, string) {
	e := toError(err)
	status, ok := codeStatus[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	msg := e.Message
	switch {
	case status >= 500 && status != http.StatusServiceUnavailable && status != http.StatusInsufficientStorage:
		s.logger.ErrorContext(r.Context(), "request failed", "err", err, "request_id", requestID(r.Context()))
		msg = "internal error"
	case e.Code == pulse.EUNKNOWN:
		s.logger.WarnContext(r.Context(), "request outcome unknown: commit not confirmed", "err", err, "request_id", requestID(r.Context()))
		if sw, ok := w.(*statusWriter); ok {
			sw.mayBeKept = true
		}
	case status >= 500:
		s.logger.WarnContext(r.Context(), "request refused: dependency unavailable", "err", err, "request_id", requestID(r.Context()))
	}
	if e.RetryAfter > 0 || status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(e.RetryAfter)))
	}
	return e, status, msg
}

// retrySeconds rounds up to whole seconds, at least 1.
func retrySeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
