package colblock

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Meta summarises a block. It is stored beside the block (about 200 bytes
// for one event, 1.3 KB for 100, 40 KB for 10,000 — mostly its Bloom
// filters) and read on its own for pruning.
type Meta struct {
	Count        int
	MinTS, MaxTS time.Time // of the events' timestamps (microseconds, UTC)
	MinID, MaxID string    // of the events' ids (UUIDv7: ingest order)
	// ix is what Encode learned for pruning; nil (a Meta made by hand)
	// prunes by time only.
	ix *index
}

// index is a block's pruning data.
type index struct {
	eventTypes, severities, services, endpoints valueSet
	statusCodes                                 []int // distinct, sorted; nil with manyCodes
	manyCodes                                   bool
	minStatus, maxStatus                        int   // of the non-zero status codes; 0: none
	users, externalIDs, tags, tokens            bloom // non-empty user ids, external ids, tag key\0value, text tokens
}

// maxSetValues is the most distinct values a valueSet or the status codes
// list; with more, the field cannot prune.
const maxSetValues = 64

// valueSet is a field's distinct values (sorted), or many of them.
type valueSet struct {
	many bool
	vals []string
}

func newValueSet(distinct []string) valueSet {
	if len(distinct) > maxSetValues {
		return valueSet{many: true}
	}
	vals := slices.Clone(distinct)
	slices.Sort(vals)
	return valueSet{vals: vals}
}

// may reports whether an event may have v; "" asks for nothing.
func (s valueSet) may(v string) bool {
	if v == "" || s.many {
		return true
	}
	_, ok := slices.BinarySearch(s.vals, v)
	return ok
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
	ix := m.ix
	if ix == nil {
		return true
	}
	if !ix.eventTypes.may(f.EventType) || !ix.services.may(f.Service) || !ix.endpoints.may(f.Endpoint) ||
		!ix.mayHaveStatus(f) ||
		f.UserID != "" && !ix.users.has(xxhash.Sum64String(f.UserID)) ||
		f.ExternalID != "" && !ix.externalIDs.has(xxhash.Sum64String(f.ExternalID)) ||
		!m.MayHaveText(f.Text) {
		return false
	}
	if f.Severities != nil && !slices.ContainsFunc(f.Severities, func(s pulse.Severity) bool {
		return ix.severities.may(string(s))
	}) {
		return false
	}
	for _, t := range f.Tags {
		if !ix.tags.has(tagHash(t.Key, t.Value)) {
			return false
		}
	}
	return true
}

// mayHaveStatus reports whether an event may pass f's status code filters.
func (ix *index) mayHaveStatus(f *pulse.EventFilter) bool {
	ok := func(c int) bool {
		return (f.StatusCode == 0 || c == f.StatusCode) &&
			(f.StatusCodeMin == 0 || c != 0 && c >= f.StatusCodeMin) &&
			(f.StatusCodeMax == 0 || c != 0 && c <= f.StatusCodeMax)
	}
	if !ix.manyCodes {
		return slices.ContainsFunc(ix.statusCodes, ok)
	}
	lo, hi := max(f.StatusCode, f.StatusCodeMin), f.StatusCodeMax
	if f.StatusCode != 0 && hi == 0 {
		hi = f.StatusCode
	}
	if lo == 0 && hi == 0 {
		return true
	}
	return ix.maxStatus != 0 && ix.maxStatus >= lo && (hi == 0 || ix.minStatus <= hi)
}

// MayHaveUser reports whether an event of the block may have user_id u.
func (m *Meta) MayHaveUser(u string) bool {
	return u != "" && (m.ix == nil || m.ix.users.has(xxhash.Sum64String(u)))
}

// MayHaveExternalID reports whether an event of the block may have
// external_id id.
func (m *Meta) MayHaveExternalID(id string) bool {
	return id != "" && (m.ix == nil || m.ix.externalIDs.has(xxhash.Sum64String(id)))
}

// MayHaveText reports whether an event of the block may match the
// full-text query text (pulse.MatchesText): every token of every phrase
// occurs in a message or payload string of the block.
func (m *Meta) MayHaveText(text []pulse.Phrase) bool {
	if m.ix == nil {
		return true
	}
	for _, p := range text {
		for _, t := range p {
			if !m.ix.tokens.has(xxhash.Sum64String(t)) {
				return false
			}
		}
	}
	return true
}

// indexBuilder gathers a block's pruning data while Encode writes it.
type indexBuilder struct {
	eventTypes, severities, services, endpoints []string // distinct values
	codes                                       []int
	manyCodes                                   bool
	minStatus, maxStatus                        int
	users, externalIDs, tags, tokens            bloomBuilder
}

func newIndexBuilder(n int) *indexBuilder {
	return &indexBuilder{tags: bloomBuilder{hashes: make([]uint64, 0, 4*n)}, tokens: bloomBuilder{hashes: make([]uint64, 0, 16*n)}}
}

func (b *indexBuilder) addStatus(c int) {
	if c != 0 {
		if b.minStatus == 0 || c < b.minStatus {
			b.minStatus = c
		}
		b.maxStatus = max(b.maxStatus, c)
	}
	if !b.manyCodes && !slices.Contains(b.codes, c) {
		b.codes = append(b.codes, c)
		if len(b.codes) > maxSetValues {
			b.manyCodes, b.codes = true, nil
		}
	}
}

// addPayload adds the tokens of the payload's string values, as
// pulse.MatchesText finds them: the tokens of the raw bytes hold them (and
// those of keys and numbers: a few more false positives), except where an
// escape spells a character, so a payload with one is also decoded.
func (b *indexBuilder) addPayload(p []byte) {
	if len(p) == 0 {
		return
	}
	b.tokens.addText(string(p))
	if bytes.IndexByte(p, '\\') < 0 {
		return
	}
	var v any
	if json.Unmarshal(p, &v) == nil {
		b.addJSONStrings(v)
	}
}

func (b *indexBuilder) addJSONStrings(v any) {
	switch v := v.(type) {
	case string:
		b.tokens.addText(v)
	case []any:
		for _, x := range v {
			b.addJSONStrings(x)
		}
	case map[string]any:
		for _, x := range v {
			b.addJSONStrings(x)
		}
	}
}

func (b *indexBuilder) finish() *index {
	ix := &index{eventTypes: newValueSet(b.eventTypes), severities: newValueSet(b.severities),
		services: newValueSet(b.services), endpoints: newValueSet(b.endpoints),
		statusCodes: slices.Sorted(slices.Values(b.codes)), manyCodes: b.manyCodes,
		minStatus: b.minStatus, maxStatus: b.maxStatus,
		users: b.users.build(), externalIDs: b.externalIDs.build(), tags: b.tags.build(), tokens: b.tokens.build()}
	if ix.manyCodes {
		ix.statusCodes = nil
	}
	return ix
}

// metaVersion is the first byte of a marshalled Meta.
const metaVersion = 1

// MarshalMeta and UnmarshalMeta store a Meta beside its block.
func MarshalMeta(m Meta) []byte {
	b := []byte{metaVersion}
	b = binary.AppendUvarint(b, uint64(m.Count))
	b = binary.AppendVarint(b, m.MinTS.UnixMicro())
	b = binary.AppendVarint(b, m.MaxTS.UnixMicro())
	b = appendString(b, m.MinID)
	b = appendString(b, m.MaxID)
	ix := m.ix
	if ix == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	for _, s := range []valueSet{ix.eventTypes, ix.severities, ix.services, ix.endpoints} {
		if s.many {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(s.vals))+1)
		for _, v := range s.vals {
			b = appendString(b, v)
		}
	}
	if ix.manyCodes {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(ix.statusCodes))+1)
		for _, c := range ix.statusCodes {
			b = binary.AppendVarint(b, int64(c))
		}
	}
	b = binary.AppendVarint(b, int64(ix.minStatus))
	b = binary.AppendVarint(b, int64(ix.maxStatus))
	for _, bl := range []bloom{ix.users, ix.externalIDs, ix.tags, ix.tokens} {
		b = binary.AppendUvarint(b, uint64(len(bl)))
		for _, w := range bl {
			b = binary.LittleEndian.AppendUint64(b, w)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// UnmarshalMeta parses what MarshalMeta wrote; errors wrap ErrCorrupt.
func UnmarshalMeta(b []byte) (Meta, error) {
	if len(b) == 0 || b[0] != metaVersion {
		return Meta{}, corrupt("unknown meta version")
	}
	r := &reader{b: b[1:]}
	str := func() string { return string(r.bytes(r.count(len(r.b)))) }
	m := Meta{Count: r.count(MaxEvents), MinTS: time.UnixMicro(r.varint()).UTC(), MaxTS: time.UnixMicro(r.varint()).UTC(),
		MinID: str(), MaxID: str()}
	switch r.byte() {
	case 0:
	case 1:
		ix := &index{}
		for _, s := range []*valueSet{&ix.eventTypes, &ix.severities, &ix.services, &ix.endpoints} {
			n := r.count(maxSetValues + 1)
			s.many = n == 0
			for i := 1; i < n; i++ {
				s.vals = append(s.vals, str())
			}
			if !slices.IsSorted(s.vals) {
				r.bad = true
			}
		}
		n := r.count(maxSetValues + 1)
		ix.manyCodes = n == 0
		for i := 1; i < n; i++ {
			ix.statusCodes = append(ix.statusCodes, int(r.varint()))
		}
		ix.minStatus, ix.maxStatus = int(r.varint()), int(r.varint())
		for _, bl := range []*bloom{&ix.users, &ix.externalIDs, &ix.tags, &ix.tokens} {
			n := r.count(maxBloomWords)
			if n&(n-1) != 0 { // a power of two or none
				r.bad = true
			}
			words := r.bytes(8 * n)
			if r.bad {
				break
			}
			if n > 0 {
				*bl = make(bloom, n)
				for i := range *bl {
					(*bl)[i] = binary.LittleEndian.Uint64(words[8*i:])
				}
			}
		}
		m.ix = ix
	default:
		r.bad = true
	}
	if r.bad || len(r.b) != 0 || m.Count == 0 {
		return Meta{}, corrupt("meta")
	}
	return m, nil
}
