package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// newID returns a fresh id of the kind the service issues (UUIDv7, time ordered).
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// now is the current time as stores keep it: UTC, microsecond precision.
// Tests use real recent times (not a fixed date) so that backends which
// partition by time (PostgreSQL) accept them; nothing sleeps on it.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// createTenant stores a new tenant with a unique id and the given retention
// (0 = default).
func createTenant(t *testing.T, s pulse.Store, retentionDays int) *pulse.Tenant {
	t.Helper()
	id := newID()
	if retentionDays == 0 {
		retentionDays = pulse.DefaultRetentionDays
	}
	tn, err := pulse.NewTenant(id, "tenant "+id[len(id)-12:], pulse.DefaultRateLimitPerMinute, retentionDays, now())
	if err != nil {
		t.Fatalf("NewTenant: %v", err)
	}
	if err := s.CreateTenant(t.Context(), tn); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	return tn
}

// newEvent returns a valid minimal event of tenantID at ts, with its
// ContentHash already computed.
func newEvent(tenantID string, ts time.Time) *pulse.Event {
	e := &pulse.Event{
		ID:         newID(),
		TenantID:   tenantID,
		EventType:  "user.signup",
		Severity:   pulse.SeverityInfo,
		Service:    "api",
		Timestamp:  ts.UTC().Truncate(time.Microsecond),
		ReceivedAt: now(),
	}
	return rehash(e)
}

// withExternalID sets the external id and recomputes the hash.
func withExternalID(e *pulse.Event, ext string) *pulse.Event {
	e.ExternalID = ext
	return rehash(e)
}

// rehash recomputes e.ContentHash from the fields a client sends, the way
// pulse.ParseEvent does in spirit: same content, same hash.
func rehash(e *pulse.Event) *pulse.Event {
	keys := slices.Sorted(maps.Keys(e.Tags))
	var b strings.Builder
	fmt.Fprintf(&b, "%q %q %q %q %d %q %q %q %d", e.EventType, e.Severity, e.Service, e.Endpoint,
		e.StatusCode, e.UserID, e.Message, e.ExternalID, e.Timestamp.UnixMicro())
	for _, k := range keys {
		fmt.Fprintf(&b, " %q=%q", k, e.Tags[k])
	}
	b.Write(e.Payload)
	sum := sha256.Sum256([]byte(b.String()))
	e.ContentHash = hex.EncodeToString(sum[:16])
	return e
}

// insert stores events for tenantID and fails the test on error or on a
// wrong number of results.
func insert(t *testing.T, s pulse.Store, tenantID string, events ...*pulse.Event) []pulse.InsertResult {
	t.Helper()
	res, err := s.InsertEvents(t.Context(), tenantID, events)
	if err != nil {
		t.Fatalf("InsertEvents: %v", err)
	}
	if len(res) != len(events) {
		t.Fatalf("InsertEvents returned %d results for %d events", len(res), len(events))
	}
	return res
}

// wantCode fails unless err carries the pulse error code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := pulse.ErrorCode(err); got != code {
		t.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
}

// checkTime fails unless got is exactly want and in UTC.
func checkTime(t *testing.T, field string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("%s = %v (%v), want %v UTC", field, got, got.Location(), want)
	}
}

// checkEvent compares every field of a stored event with what was inserted.
// Empty and nil tags are the same; payloads compare as JSON values, since a
// backend may keep JSON in a canonical form (PostgreSQL jsonb).
func checkEvent(t *testing.T, got, want *pulse.Event) {
	t.Helper()
	if got == nil {
		t.Fatalf("event %s: got nil", want.ID)
	}
	str := func(field, g, w string) {
		if g != w {
			t.Errorf("event %s: %s = %q, want %q", want.ID, field, g, w)
		}
	}
	str("ID", got.ID, want.ID)
	str("TenantID", got.TenantID, want.TenantID)
	str("ExternalID", got.ExternalID, want.ExternalID)
	str("EventType", got.EventType, want.EventType)
	str("Severity", string(got.Severity), string(want.Severity))
	str("Service", got.Service, want.Service)
	str("Endpoint", got.Endpoint, want.Endpoint)
	str("UserID", got.UserID, want.UserID)
	str("Message", got.Message, want.Message)
	str("ContentHash", got.ContentHash, want.ContentHash)
	if got.StatusCode != want.StatusCode {
		t.Errorf("event %s: StatusCode = %d, want %d", want.ID, got.StatusCode, want.StatusCode)
	}
	if len(got.Tags) != len(want.Tags) || (len(want.Tags) > 0 && !maps.Equal(got.Tags, want.Tags)) {
		t.Errorf("event %s: Tags = %v, want %v", want.ID, got.Tags, want.Tags)
	}
	checkTime(t, "Timestamp", got.Timestamp, want.Timestamp)
	checkTime(t, "ReceivedAt", got.ReceivedAt, want.ReceivedAt)
	if !jsonEqual(got.Payload, want.Payload) {
		t.Errorf("event %s: Payload = %s, want %s", want.ID, got.Payload, want.Payload)
	}
}

func jsonEqual(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// ids lists the ids of events, in order.
func ids(events []*pulse.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// newestFirst is the order of SearchEvents: timestamp desc, then id desc.
func newestFirst(a, b *pulse.Event) int {
	if c := b.Timestamp.Compare(a.Timestamp); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}
