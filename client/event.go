package client

import (
	"fmt"
	"time"
)

// Event is one event as the server's API takes it. EventType and Service are
// required (Service defaults to WithService's value). A zero Timestamp is set
// to the time Send is called; an empty ExternalID to a new UUIDv7.
type Event struct {
	EventType  string            `json:"event_type"`
	Service    string            `json:"service"`
	Severity   string            `json:"severity,omitempty"` // debug, info, warning, error, critical
	Endpoint   string            `json:"endpoint,omitempty"`
	StatusCode int               `json:"status_code,omitempty"`
	UserID     string            `json:"user_id,omitempty"`
	Message    string            `json:"message,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Timestamp  time.Time         `json:"timestamp,omitzero"`
	ExternalID string            `json:"external_id,omitempty"`
	Payload    any               `json:"payload,omitempty"` // a JSON object: a map or a struct
}

// Severities the server knows.
const (
	SeverityDebug    = "debug"
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityError    = "error"
	SeverityCritical = "critical"
)

// FieldError is the server's reason for refusing one field of an event.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Reason  string `json:"reason,omitempty"`
}

// Rejection is an event the server refused: Status is "rejected" (Errors
// name the fields) or "conflict" (its ExternalID was used for another
// event, whose id is ID). Retrying it would not help.
type Rejection struct {
	Event  Event
	Status string
	ID     string
	Errors []FieldError
}

func (r Rejection) Error() string {
	if len(r.Errors) > 0 {
		return fmt.Sprintf("event %s %s: %s: %s", r.Event.ExternalID, r.Status, r.Errors[0].Field, r.Errors[0].Message)
	}
	return fmt.Sprintf("event %s %s", r.Event.ExternalID, r.Status)
}

// APIError is an answer the client does not retry (a 4xx other than 408 and
// 429), or the last retryable one when retries are used up.
type APIError struct {
	Status int    // HTTP status
	Title  string // the problem's title
	Detail string // the problem's detail
}

func (e *APIError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("pulsestream: %d %s: %s", e.Status, e.Title, e.Detail)
	}
	return fmt.Sprintf("pulsestream: %d %s", e.Status, e.Title)
}

// Stats counts what happened to the events given to Send.
type Stats struct {
	Buffered   int   // events held now (waiting or being sent)
	Created    int64 // stored by the server (or, 202 "accepted", held durably in its ingest log)
	Duplicates int64 // already stored (a retry, or an ExternalID sent twice)
	Rejected   int64 // refused by the server, given to OnRejected
	Failed     int64 // given up by the client, given to OnError
	Dropped    int64 // refused by Send because the buffer was full (WithDropWhenFull)
	Requests   int64 // batch requests sent, retries included
	Retries    int64 // of which retries
}
