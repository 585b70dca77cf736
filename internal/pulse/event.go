package pulse

import (
	"encoding/json"
	"time"
)

// Severity is an event's level; the order matters for min_severity.
type Severity string

const (
	SeverityDebug    Severity = "debug"
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityError    Severity = "error"
	SeverityCritical Severity = "critical"
)

// Severities in increasing order.
var Severities = []Severity{SeverityDebug, SeverityInfo, SeverityWarning, SeverityError, SeverityCritical}

// Rank is the severity's position in Severities, or -1 if unknown.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return -1
}

// Event is one stored event. Timestamps are UTC with microsecond precision
// so that every backend stores and returns exactly the same value.
type Event struct {
	ID         string            `json:"id"`
	TenantID   string            `json:"-"`
	ExternalID string            `json:"external_id,omitempty"`
	EventType  string            `json:"event_type"`
	Severity   Severity          `json:"severity"`
	Service    string            `json:"service"`
	Endpoint   string            `json:"endpoint,omitempty"`
	StatusCode int               `json:"status_code,omitempty"` // 0 = not set
	UserID     string            `json:"user_id,omitempty"`
	Message    string            `json:"message,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Timestamp  time.Time         `json:"timestamp"`
	ReceivedAt time.Time         `json:"received_at"`
	Payload    json.RawMessage   `json:"payload,omitempty"`
	// ContentHash identifies the event as the client sent it: a replay of the
	// same body has the same hash even when the server filled in timestamp.
	ContentHash string `json:"-"`
	// legacyHash is, when it differs, the hash versions before the
	// canonical form gave the same event (over the payload and timestamp
	// bytes as sent); events stored by them carry it.
	legacyHash string
}

// SameContent reports whether stored, the ContentHash kept with an event
// stored earlier under e's external_id, is the hash of e's content: the
// canonical hash, or the byte-for-byte one that versions before it stored.
// Stores and ingest compare hashes only through it.
func (e *Event) SameContent(stored string) bool {
	return stored == e.ContentHash || e.legacyHash != "" && stored == e.legacyHash
}

// InsertStatus is what happened to one event handed to EventStore.InsertEvents.
type InsertStatus int

const (
	Created   InsertStatus = iota + 1 // stored now
	Duplicate                         // the external_id was stored before with the same content
	Conflict                          // the external_id was stored before with other content
)

func (s InsertStatus) String() string {
	switch s {
	case Created:
		return "created"
	case Duplicate:
		return "duplicate"
	case Conflict:
		return "conflict"
	}
	return "unknown"
}

// InsertResult is the outcome for one event; ID is the stored event's id
// (the original one for Duplicate and Conflict).
type InsertResult struct {
	Status InsertStatus
	ID     string
}

// StoredRef is what a store knows about an existing external_id.
type StoredRef struct {
	ID          string
	ContentHash string
}
