package pulse

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to exactly one HTTP status in httpapi; nothing else
// in the code base decides a status.
const (
	ECONFLICT     = "conflict"     // 409: the resource exists with other content
	EINTERNAL     = "internal"     // 500: a bug or an unexpected failure; details are logged, never shown
	EINVALID      = "invalid"      // 422: the request is well-formed but a field breaks a rule
	EBADREQUEST   = "bad_request"  // 400: the body is not JSON, or the request cannot be parsed
	ENOTFOUND     = "not_found"    // 404
	EUNAUTHORIZED = "unauthorized" // 401: missing, unknown, revoked or expired credentials
	EFORBIDDEN    = "forbidden"    // 403: valid credentials without the right to do this
	ETOOLARGE     = "too_large"    // 413
	EUNSUPPORTED  = "unsupported"  // 415: wrong Content-Type or Content-Encoding
	ERATELIMITED  = "rate_limited" // 429
	EUNAVAILABLE  = "unavailable"  // 503: the database or a dependency is down; nothing was kept; retry later
	// EUNKNOWN: 503 as well, but the write may have been kept: the
	// connection broke while COMMIT was in flight and the database could
	// not be asked afterwards. Retrying with the same external_id is safe
	// (a kept event then answers "duplicate" with its id); retrying an
	// event without external_id may store it twice.
	EUNKNOWN      = "outcome_unknown"
	EINSUFFICIENT = "insufficient" // 507: the disk is full
	EMETHOD       = "method"       // 405
	ETIMEOUT      = "body_timeout" // 408: the request body did not arrive within the body deadline
	EOVERLOADED   = "overloaded"   // 503: the node's memory budget for request bodies is spent; retry after Retry-After
)

// FieldError names one field (or query parameter) that broke a rule. Reason
// is a stable machine-readable code such as "severity.invalid".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Reason  string `json:"reason,omitempty"`
}

// Error is the one error type that crosses package boundaries toward the
// HTTP layer. Message is written for the user; wrapped errors are for logs.
type Error struct {
	Code       string
	Message    string
	Fields     []FieldError
	ID         string        // the conflicting resource's id, for ECONFLICT
	RetryAfter time.Duration // for ERATELIMITED and EUNAVAILABLE
	Err        error         // the cause, logged but never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted user-facing message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error listing the broken fields.
func Invalid(fields ...FieldError) *Error {
	fields = firstPerField(fields)
	msg := "validation failed"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fields}
}

// firstPerField keeps the first problem found with each field: a field
// reported by two checks (an unknown name by the decoder and the key
// check; a number where a timestamp string belongs, as a wrong type and as
// an unparsable time) is one problem for the client to fix.
func firstPerField(fields []FieldError) []FieldError {
	seen := make(map[string]bool, len(fields))
	out := fields[:0:0]
	for _, f := range fields {
		if !seen[f.Field] {
			seen[f.Field] = true
			out = append(out, f)
		}
	}
	return out
}

// Unavailable wraps a dependency failure as a retryable EUNAVAILABLE.
func Unavailable(err error, retryAfter time.Duration) *Error {
	return &Error{Code: EUNAVAILABLE, Message: "the service is temporarily unavailable, retry later", Err: err, RetryAfter: retryAfter}
}

// OutcomeUnknown wraps a failure after which a write may or may not have
// been committed (EUNKNOWN): only a retry with the same external_id can tell.
func OutcomeUnknown(err error, retryAfter time.Duration) *Error {
	return &Error{Code: EUNKNOWN, Err: err, RetryAfter: retryAfter,
		Message: "the outcome is unknown: the database did not confirm the commit, so the events may or may not be stored; retry with the same external_id (a stored event then answers duplicate with its id)"}
}

// ErrNotFound is returned by stores for a missing row (never nil, nil).
var ErrNotFound = &Error{Code: ENOTFOUND, Message: "not found"}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL otherwise.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// IsNotFound reports whether err is (or wraps) a not-found error.
func IsNotFound(err error) bool { return ErrorCode(err) == ENOTFOUND }
