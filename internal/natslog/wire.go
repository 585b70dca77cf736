package natslog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// A message body is in one of two formats, told apart by its first byte:
//
//   - version 1 (the first releases of log mode, one event per message):
//     the event's fields as JSON (wireEvent), a newline, then the payload
//     bytes exactly as sent. It starts with '{'. Only read now: a node
//     keeps writing what a previous version left in the stream.
//   - version 2 (several events of one tenant per message): batchMagic,
//     the event count and the tenant, then each event's fields in order,
//     strings and the payload as uvarint length + bytes, integers as
//     varints. Binary because encoding and decoding JSON heads was a fifth
//     of a log-mode node's CPU (BENCHMARKS.md, "Log mode").
//
// A later format takes another first byte; decodeMessage refuses what it
// does not know, and the writer drops it as poison (counted and logged).
var batchMagic = []byte{0xB5, 'P', 'S', 2}

// wireEvent is the JSON head of a version 1 message: every field of the
// event but the payload, which follows the head and a newline byte for byte.
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

// decodeV1 is the event of a version 1 body.
func decodeV1(body []byte) (*pulse.Event, error) {
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

// eventSize bounds the bytes e takes in a version 2 body.
func eventSize(e *pulse.Event) int {
	n := len(e.ID) + len(e.ExternalID) + len(e.EventType) + len(e.Severity) + len(e.Service) + len(e.Endpoint) +
		len(e.UserID) + len(e.Message) + len(e.ContentHash) + len(e.Payload) + 15*binary.MaxVarintLen64
	for k, v := range e.Tags {
		n += len(k) + len(v) + 2*binary.MaxVarintLen64
	}
	return n
}

// encodeBatch is the version 2 body of events, all of tenantID.
func encodeBatch(tenantID string, events []*pulse.Event) []byte {
	size := len(batchMagic) + 2*binary.MaxVarintLen64 + len(tenantID)
	for _, e := range events {
		size += eventSize(e)
	}
	b := make([]byte, 0, size)
	b = append(b, batchMagic...)
	b = binary.AppendUvarint(b, uint64(len(events)))
	b = appendString(b, tenantID)
	for _, e := range events {
		b = appendString(b, e.ID)
		b = appendString(b, e.ExternalID)
		b = appendString(b, e.EventType)
		b = appendString(b, string(e.Severity))
		b = appendString(b, e.Service)
		b = appendString(b, e.Endpoint)
		b = binary.AppendVarint(b, int64(e.StatusCode))
		b = appendString(b, e.UserID)
		b = appendString(b, e.Message)
		b = binary.AppendUvarint(b, uint64(len(e.Tags)))
		for k, v := range e.Tags {
			b = appendString(appendString(b, k), v)
		}
		b = appendTime(b, e.Timestamp)
		b = appendTime(b, e.ReceivedAt)
		b = appendString(b, e.ContentHash)
		b = binary.AppendUvarint(b, uint64(len(e.Payload)))
		b = append(b, e.Payload...)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, t time.Time) []byte {
	return binary.AppendUvarint(binary.AppendVarint(b, t.Unix()), uint64(t.Nanosecond()))
}

// decodeMessage is the events of a message body of either version, all of
// one tenant.
func decodeMessage(body []byte) ([]*pulse.Event, error) {
	if !bytes.HasPrefix(body, batchMagic) {
		e, err := decodeV1(body)
		if err != nil {
			return nil, err
		}
		return []*pulse.Event{e}, nil
	}
	r := reader{b: body[len(batchMagic):]}
	n := r.uvarint()
	tenant := r.string()
	if r.err == nil && (n == 0 || n > uint64(len(r.b)) || tenant == "") {
		r.err = errors.New("no events or no tenant")
	}
	var events []*pulse.Event
	if r.err == nil {
		events = make([]*pulse.Event, 0, n)
	}
	for i := uint64(0); r.err == nil && i < n; i++ {
		e := &pulse.Event{TenantID: tenant}
		e.ID = r.string()
		e.ExternalID = r.string()
		e.EventType = r.string()
		e.Severity = pulse.Severity(r.string())
		e.Service = r.string()
		e.Endpoint = r.string()
		e.StatusCode = int(r.varint())
		e.UserID = r.string()
		e.Message = r.string()
		if tags := r.uvarint(); tags > 0 && tags <= uint64(len(r.b)) {
			e.Tags = make(map[string]string, tags)
			for range tags {
				k := r.string()
				e.Tags[k] = r.string()
			}
		} else if tags > 0 {
			r.fail()
		}
		e.Timestamp = r.time()
		e.ReceivedAt = r.time()
		e.ContentHash = r.string()
		if p := r.bytes(); len(p) > 0 {
			e.Payload = json.RawMessage(bytes.Clone(p))
		}
		if r.err == nil && (e.ID == "" || e.ContentHash == "") {
			r.err = errors.New("id or content hash missing")
		}
		events = append(events, e)
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = errors.New("bytes after the last event")
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode events: %w", r.err)
	}
	return events, nil
}

// reader reads a version 2 body; the first error sticks and every later
// read returns zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errors.New("truncated or malformed")
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) time() time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	if nsec >= 1e9 {
		r.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// dedupKey is what names e across requests: its external id, or, without
// one, its id (assigned by the node, so a replay never shares it).
func dedupKey(e *pulse.Event) string {
	if e.ExternalID != "" {
		return "x" + e.ExternalID
	}
	return "i" + e.ID
}

// msgID is the Nats-Msg-Id of a message holding events (of tenantID, in
// this order): a digest of the tenant and the events' dedup keys, so that
// JetStream drops a retry of the same request through any node within its
// duplicate window. A replay of some of the events in another request has
// another id; the database settles those (DEPLOYMENT.md, "Log mode").
func msgID(tenantID string, events []*pulse.Event) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(binary.AppendUvarint(n[:0], uint64(len(tenantID))))
	h.Write([]byte(tenantID))
	for _, e := range events {
		k := dedupKey(e)
		h.Write(binary.AppendUvarint(n[:0], uint64(len(k))))
		h.Write([]byte(k))
	}
	return "b-" + hex.EncodeToString(h.Sum(nil))
}
