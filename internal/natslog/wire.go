package natslog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// wireEvent is the JSON head of a message: every field of the event but
// the payload, which follows the head and a newline byte for byte.
type wireEvent struct {
	Tenant      string            `json:"tenant"`
	ID          string            `json:"id"`
	ExternalID  string            `json:"external_id,omitempty"`
	EventType   string            `json:"event_type"`
	Severity    pulse.Severity    `json:"severity"`
	Service     string            `json:"service"`
	Endpoint    string            `json:"endpoint,omitempty"`
	StatusCode  int               `json:"status_code,omitempty"`
	UserID      string            `json:"user_id,omitempty"`
	Message     string            `json:"message,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Timestamp   time.Time         `json:"timestamp"`
	ReceivedAt  time.Time         `json:"received_at"`
	ContentHash string            `json:"content_hash"`
}

// encode is the message body of e.
func encode(e *pulse.Event) ([]byte, error) {
	head, err := json.Marshal(wireEvent{
		Tenant: e.TenantID, ID: e.ID, ExternalID: e.ExternalID, EventType: e.EventType, Severity: e.Severity,
		Service: e.Service, Endpoint: e.Endpoint, StatusCode: e.StatusCode, UserID: e.UserID, Message: e.Message,
		Tags: e.Tags, Timestamp: e.Timestamp, ReceivedAt: e.ReceivedAt, ContentHash: e.ContentHash,
	})
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	body := make([]byte, 0, len(head)+1+len(e.Payload))
	body = append(append(head, '\n'), e.Payload...)
	return body, nil
}

// decode is the event of a message body.
func decode(body []byte) (*pulse.Event, error) {
	head, payload, ok := bytes.Cut(body, []byte{'\n'})
	if !ok {
		return nil, errors.New("decode event: no newline after the head")
	}
	var w wireEvent
	if err := json.Unmarshal(head, &w); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if w.Tenant == "" || w.ID == "" || w.ContentHash == "" {
		return nil, errors.New("decode event: tenant, id or content hash missing")
	}
	e := &pulse.Event{
		ID: w.ID, TenantID: w.Tenant, ExternalID: w.ExternalID, EventType: w.EventType, Severity: w.Severity,
		Service: w.Service, Endpoint: w.Endpoint, StatusCode: w.StatusCode, UserID: w.UserID, Message: w.Message,
		Tags: w.Tags, Timestamp: w.Timestamp.UTC(), ReceivedAt: w.ReceivedAt.UTC(), ContentHash: w.ContentHash,
	}
	if len(payload) > 0 {
		e.Payload = json.RawMessage(bytes.Clone(payload))
	}
	return e, nil
}

// msgID is the Nats-Msg-Id of e: a digest of (tenant, external_id), so
// that a replay through any node is recognised within the duplicate window
// whatever characters the external id holds, or the event id.
func msgID(e *pulse.Event) string {
	if e.ExternalID == "" {
		return "id-" + e.ID
	}
	h := sha256.New()
	h.Write([]byte(e.TenantID))
	h.Write([]byte{0})
	h.Write([]byte(e.ExternalID))
	return "x-" + hex.EncodeToString(h.Sum(nil))
}
