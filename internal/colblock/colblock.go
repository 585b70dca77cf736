// Package colblock encodes the events of one tenant as one immutable block
// for the parts event store (internal/sqlite in parts mode, docs/STORAGE.md):
// the events sorted by (timestamp, id), and a small Meta kept beside the
// block that lets a search skip the block without reading it.
//
// The API is what the store uses; the encoding behind it may change only
// together with a format version byte, since blocks live on disk.
package colblock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Meta summarises a block. It is stored beside the block (a few hundred
// bytes) and read on its own for pruning.
type Meta struct {
	Count        int
	MinTS, MaxTS time.Time // of the events' timestamps
	MinID, MaxID string    // of the events' ids (UUIDv7: ingest order)
}

// ErrCorrupt is returned (wrapped) for a block or meta that does not decode.
var ErrCorrupt = errors.New("colblock: corrupt block")

// Encode returns events (of one tenant, at least one) as a block and its
// Meta. The block holds them sorted by (Timestamp, ID) ascending; events is
// not modified.
func Encode(events []*pulse.Event) (Meta, []byte, error) {
	if len(events) == 0 {
		return Meta{}, nil, errors.New("colblock: no events")
	}
	sorted := slices.Clone(events)
	SortEvents(sorted)
	m := Meta{Count: len(sorted), MinTS: sorted[0].Timestamp, MaxTS: sorted[len(sorted)-1].Timestamp,
		MinID: sorted[0].ID, MaxID: sorted[0].ID}
	rows := make([]row, len(sorted))
	for i, e := range sorted {
		m.MinID, m.MaxID = min(m.MinID, e.ID), max(m.MaxID, e.ID)
		rows[i] = row{e.ID, e.ExternalID, e.EventType, string(e.Severity), e.Service, e.Endpoint, e.StatusCode, e.UserID,
			e.Message, e.Tags, e.Timestamp.UnixMicro(), e.ReceivedAt.UnixMicro(), e.Payload, e.ContentHash}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("colblock: encode: %w", err)
	}
	return m, append([]byte{0}, b...), nil
}

type row struct {
	ID, ExternalID, EventType, Severity, Service, Endpoint string
	StatusCode                                             int
	UserID, Message                                        string
	Tags                                                   map[string]string
	TS, Received                                           int64
	Payload                                                json.RawMessage `json:",omitempty"` // absent, not null: an empty payload reads back empty
	Hash                                                   string
}

// Decode returns the block's events, sorted by (Timestamp, ID) ascending,
// with TenantID set to tenantID. A block that does not decode is an error
// wrapping ErrCorrupt, never a panic.
func Decode(block []byte, tenantID string) ([]*pulse.Event, error) {
	if len(block) == 0 || block[0] != 0 {
		return nil, ErrCorrupt
	}
	var rows []row
	if err := json.Unmarshal(block[1:], &rows); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	out := make([]*pulse.Event, len(rows))
	for i, r := range rows {
		out[i] = &pulse.Event{ID: r.ID, TenantID: tenantID, ExternalID: r.ExternalID, EventType: r.EventType,
			Severity: pulse.Severity(r.Severity), Service: r.Service, Endpoint: r.Endpoint, StatusCode: r.StatusCode,
			UserID: r.UserID, Message: r.Message, Tags: r.Tags, Timestamp: time.UnixMicro(r.TS).UTC(),
			ReceivedAt: time.UnixMicro(r.Received).UTC(), Payload: r.Payload, ContentHash: r.Hash}
	}
	return out, nil
}

// MarshalMeta and UnmarshalMeta store a Meta beside its block.
func MarshalMeta(m Meta) []byte {
	b, _ := json.Marshal(m)
	return append([]byte{0}, b...)
}

// UnmarshalMeta parses what MarshalMeta wrote; errors wrap ErrCorrupt.
func UnmarshalMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 || b[0] != 0 {
		return m, ErrCorrupt
	}
	if err := json.NewDecoder(bytes.NewReader(b[1:])).Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return m, nil
}

// MayMatch reports whether an event of the block may pass f (paging
// ignored): false only when none can. The store still checks each event
// with f.Matches.
func (m *Meta) MayMatch(f *pulse.EventFilter) bool {
	switch {
	case f.NoMatch,
		!f.Start.IsZero() && m.MaxTS.Before(f.Start),
		!f.End.IsZero() && !m.MinTS.Before(f.End):
		return false
	}
	return true
}

// MayHaveUser reports whether an event of the block may have user_id u.
func (m *Meta) MayHaveUser(u string) bool { return u != "" }

// SortEvents sorts events by (Timestamp, ID) ascending, the order of a block.
func SortEvents(events []*pulse.Event) {
	slices.SortFunc(events, func(a, b *pulse.Event) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
