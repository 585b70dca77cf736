// Package colblock encodes the events of one tenant as one immutable block
// for the parts event store (internal/sqlite in parts mode, docs/STORAGE.md):
// the events sorted by (timestamp, id), and a small Meta kept beside the
// block that lets a search skip the block without reading it.
//
// The API is what the store uses; the encoding behind it may change only
// together with a format version byte, since blocks live on disk. The
// format is described in docs/STORAGE.md ("Block format").
package colblock

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Limits of one block. Encode refuses more; Decode treats more as corrupt,
// so a corrupt block never makes it allocate beyond them.
const (
	MaxEvents      = 1 << 20   // events in a block
	MaxColumnBytes = 256 << 20 // one column's bytes before compression
)

// blockVersion is the first byte of a block.
const blockVersion = 1

// ErrCorrupt is returned (wrapped) for a block or meta that does not decode.
var ErrCorrupt = errors.New("colblock: corrupt block")

func corrupt(what string) error { return fmt.Errorf("%w: %s", ErrCorrupt, what) }

// Encode returns events (of one tenant, at least one, at most MaxEvents) as
// a block and its Meta. The block holds them sorted by (Timestamp, ID)
// ascending; events is not modified. Times are kept in microseconds (UTC),
// as every store keeps them; a Tags map without entries is read back as
// nil. A column of more than MaxColumnBytes is an error: the store cuts
// blocks by size before that.
func Encode(events []*pulse.Event) (Meta, []byte, error) {
	n := len(events)
	if n == 0 || n > MaxEvents {
		return Meta{}, nil, fmt.Errorf("colblock: %d events in a block (1 to %d)", n, MaxEvents)
	}
	ev := slices.Clone(events)
	slices.SortFunc(ev, func(a, b *pulse.Event) int { // in the microseconds stored
		return cmp.Or(cmp.Compare(a.Timestamp.UnixMicro(), b.Timestamp.UnixMicro()), strings.Compare(a.ID, b.ID))
	})
	// The buffers' sizes fit events like the bench's (docs/STORAGE.md).
	w := &blockWriter{out: make([]byte, 0, 64*n+1024), raw: make([]byte, 0, 128*n+1024)}
	w.out = binary.AppendUvarint(append(w.out, blockVersion), uint64(n))
	ix := newIndexBuilder(n)
	str := func(get func(e *pulse.Event) string) []string {
		var distinct []string
		w.section(func(b []byte) []byte {
			b, distinct = appendStrings(b, n, func(i int) string { return get(ev[i]) })
			return b
		})
		return distinct
	}
	w.section(func(b []byte) []byte { return appendIDs(b, ev) })
	w.section(func(b []byte) []byte {
		return appendTimes(b, ev, func(e *pulse.Event) time.Time { return e.Timestamp })
	})
	w.section(func(b []byte) []byte {
		return appendTimes(b, ev, func(e *pulse.Event) time.Time { return e.ReceivedAt })
	})
	ix.externalIDs.addStrings(str(func(e *pulse.Event) string { return e.ExternalID }))
	ix.eventTypes = str(func(e *pulse.Event) string { return e.EventType })
	ix.severities = str(func(e *pulse.Event) string { return string(e.Severity) })
	ix.services = str(func(e *pulse.Event) string { return e.Service })
	ix.endpoints = str(func(e *pulse.Event) string { return e.Endpoint })
	w.section(func(b []byte) []byte {
		for _, e := range ev {
			b = binary.AppendVarint(b, int64(e.StatusCode))
			ix.addStatus(e.StatusCode)
		}
		return b
	})
	ix.users.addStrings(str(func(e *pulse.Event) string { return e.UserID }))
	for _, m := range str(func(e *pulse.Event) string { return e.Message }) {
		ix.tokens.addText(m)
	}
	w.section(func(b []byte) []byte { return appendTags(b, ev, ix) })
	w.section(func(b []byte) []byte {
		for _, e := range ev {
			ix.addPayload(e.Payload)
		}
		return appendPayloads(b, ev)
	})
	str(func(e *pulse.Event) string { return e.ContentHash })
	if w.err != nil {
		return Meta{}, nil, w.err
	}
	m := Meta{Count: n, MinTS: time.UnixMicro(ev[0].Timestamp.UnixMicro()).UTC(),
		MaxTS: time.UnixMicro(ev[n-1].Timestamp.UnixMicro()).UTC(), MinID: ev[0].ID, MaxID: ev[0].ID}
	for _, e := range ev {
		m.MinID, m.MaxID = min(m.MinID, e.ID), max(m.MaxID, e.ID)
	}
	m.ix = ix.finish()
	return m, w.out, nil
}

// Decode returns the block's events, sorted by (Timestamp, ID) ascending,
// with TenantID set to tenantID. A block that does not decode is an error
// wrapping ErrCorrupt, never a panic. The events share backing memory (one
// allocation per column), so keeping one event keeps its block's strings.
func Decode(block []byte, tenantID string) ([]*pulse.Event, error) {
	return DecodeColumns(block, tenantID, AllColumns)
}

// Columns selects the fields DecodeColumns reads.
type Columns uint16

// The columns DecodeColumns may leave out; ID and Timestamp are always read.
const (
	ColReceivedAt Columns = 1 << iota
	ColExternalID
	ColEventType
	ColSeverity
	ColService
	ColEndpoint
	ColStatusCode
	ColUserID
	ColMessage
	ColTags
	ColPayload
	ColContentHash
	AllColumns = 1<<iota - 1
)

// DecodeColumns is Decode reading only the ID, the Timestamp and the
// fields cols selects; the others are left zero, and their compressed
// bytes are skipped unread (and unchecked).
func DecodeColumns(block []byte, tenantID string, cols Columns) ([]*pulse.Event, error) {
	if len(block) == 0 || block[0] != blockVersion {
		return nil, corrupt("unknown block version")
	}
	r := &reader{b: block[1:]}
	n := r.count(MaxEvents)
	if r.bad || n == 0 {
		return nil, corrupt("event count")
	}
	// Each column is checked to hold n rows before the events are allocated.
	sets := make([]func(evs []pulse.Event), 0, 14)
	col := func(c Columns, read func(c *reader) func(evs []pulse.Event)) {
		if c != 0 && cols&c == 0 {
			r.bytes(r.count(len(r.b)))
			return
		}
		raw, err := r.section()
		if err != nil || r.bad {
			r.bad = true
			return
		}
		cr := &reader{b: raw}
		set := read(cr)
		if cr.bad || len(cr.b) != 0 {
			r.bad = true
			return
		}
		sets = append(sets, set)
	}
	str := func(c Columns, set func(e *pulse.Event, s string)) {
		col(c, func(c *reader) func([]pulse.Event) {
			vals := c.strings(n)
			return func(evs []pulse.Event) {
				for i, s := range vals {
					set(&evs[i], s)
				}
			}
		})
	}
	col(0, func(c *reader) func([]pulse.Event) { return setIDs(c, n) })
	col(0, func(c *reader) func([]pulse.Event) {
		return setTimes(c, n, func(e *pulse.Event, t time.Time) { e.Timestamp = t })
	})
	col(ColReceivedAt, func(c *reader) func([]pulse.Event) {
		return setTimes(c, n, func(e *pulse.Event, t time.Time) { e.ReceivedAt = t })
	})
	str(ColExternalID, func(e *pulse.Event, s string) { e.ExternalID = s })
	str(ColEventType, func(e *pulse.Event, s string) { e.EventType = s })
	str(ColSeverity, func(e *pulse.Event, s string) { e.Severity = pulse.Severity(s) })
	str(ColService, func(e *pulse.Event, s string) { e.Service = s })
	str(ColEndpoint, func(e *pulse.Event, s string) { e.Endpoint = s })
	col(ColStatusCode, func(c *reader) func([]pulse.Event) {
		codes := make([]int, n)
		for i := range codes {
			codes[i] = int(c.varint())
		}
		return func(evs []pulse.Event) {
			for i, v := range codes {
				evs[i].StatusCode = v
			}
		}
	})
	str(ColUserID, func(e *pulse.Event, s string) { e.UserID = s })
	str(ColMessage, func(e *pulse.Event, s string) { e.Message = s })
	col(ColTags, func(c *reader) func([]pulse.Event) { return setTags(c, n) })
	col(ColPayload, func(c *reader) func([]pulse.Event) { return setPayloads(c, n) })
	str(ColContentHash, func(e *pulse.Event, s string) { e.ContentHash = s })
	if r.bad || len(r.b) != 0 {
		return nil, corrupt("column")
	}
	evs := make([]pulse.Event, n)
	for _, set := range sets {
		set(evs)
	}
	out := make([]*pulse.Event, n)
	for i := range evs {
		evs[i].TenantID = tenantID
		out[i] = &evs[i]
	}
	// Encode wrote them sorted; a block out of order is corrupt, since
	// searches rely on the order.
	for i := 1; i < n; i++ {
		if compareEvents(out[i-1], out[i]) > 0 {
			return nil, corrupt("events out of order")
		}
	}
	return out, nil
}

// SortEvents sorts events by (Timestamp, ID) ascending, the order of a block.
func SortEvents(events []*pulse.Event) { slices.SortFunc(events, compareEvents) }

func compareEvents(a, b *pulse.Event) int {
	return cmp.Or(a.Timestamp.Compare(b.Timestamp), strings.Compare(a.ID, b.ID))
}
