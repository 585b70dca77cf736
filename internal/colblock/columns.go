package colblock

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Column sections: uvarint length, then a kind byte and the column's bytes,
// raw or zstd-compressed (then preceded by their uvarint raw length).
const (
	sectionRaw  = 0
	sectionZstd = 1
	minCompress = 64 // bytes: below, zstd's frame costs more than it saves
)

// String columns: plain (every row's string) or a dictionary of the
// distinct strings and every row's index into it.
const (
	stringsPlain = 0
	stringsDict  = 1
)

// ID columns: 16 raw bytes per canonical lower-case UUID, or strings.
const (
	idsUUID    = 0
	idsStrings = 1
)

// The encoder and decoder serve concurrent EncodeAll/DecodeAll calls, up to
// GOMAXPROCS at once. SpeedFastest: on the bench events Encode takes
// ~15–30 % less time than with SpeedDefault for 10–16 % more bytes
// (docs/STORAGE.md).
var (
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(0))
	decoder, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxColumnBytes), zstd.WithDecoderConcurrency(0))
)

type blockWriter struct {
	out, raw []byte
	err      error
}

// section appends the column that fill writes, compressed when it pays.
func (w *blockWriter) section(fill func([]byte) []byte) {
	raw := fill(w.raw[:0])
	w.raw = raw
	if len(raw) > MaxColumnBytes {
		w.err = fmt.Errorf("colblock: a column of %d bytes (at most %d)", len(raw), MaxColumnBytes)
		return
	}
	if len(raw) >= minCompress {
		z := encoder.EncodeAll(raw, make([]byte, 0, len(raw)/2))
		if len(z) < len(raw) {
			w.out = binary.AppendUvarint(w.out, uint64(1+uvarintLen(len(raw))+len(z)))
			w.out = append(w.out, sectionZstd)
			w.out = binary.AppendUvarint(w.out, uint64(len(raw)))
			w.out = append(w.out, z...)
			return
		}
	}
	w.out = binary.AppendUvarint(w.out, uint64(1+len(raw)))
	w.out = append(w.out, sectionRaw)
	w.out = append(w.out, raw...)
}

func uvarintLen(n int) int { return len(binary.AppendUvarint(nil, uint64(n))) }

// reader reads a block; the first malformed read sets bad and every later
// one returns zero values, so callers check bad once at the end.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length or count of at most max.
func (r *reader) count(max int) int {
	v := r.uvarint()
	if v > uint64(max) {
		r.bad, r.b = true, nil
		return 0
	}
	return int(v)
}

func (r *reader) bytes(n int) []byte {
	if n > len(r.b) {
		r.bad, r.b = true, nil
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) byte() byte {
	if b := r.bytes(1); len(b) == 1 {
		return b[0]
	}
	return 0
}

// section returns the next column's bytes, decompressed.
func (r *reader) section() ([]byte, error) {
	s := &reader{b: r.bytes(r.count(len(r.b)))}
	kind := s.byte()
	switch {
	case r.bad || s.bad:
		return nil, corrupt("section")
	case kind == sectionRaw:
		return s.b, nil
	case kind != sectionZstd:
		return nil, corrupt("section kind")
	}
	n := s.count(MaxColumnBytes)
	if s.bad {
		return nil, corrupt("section length")
	}
	// The capacity grows only with what really decompresses (bounded by
	// the decoder's MaxColumnBytes), not with what a corrupt length says.
	out, err := decoder.DecodeAll(s.b, make([]byte, 0, min(n, 1<<20)))
	if err != nil || len(out) != n {
		return nil, corrupt("compressed section")
	}
	return out, nil
}

// appendStrings appends n strings, as a dictionary when at most half of
// them are distinct, and returns the distinct ones in order of
// appearance, or, once there are more than maxSetValues and clearly too
// many for a dictionary, all n (then a caller sees more than maxSetValues
// too, and repeats).
func appendStrings(b []byte, n int, get func(int) string) ([]byte, []string) {
	seen := make(map[string]uint32)
	var distinct []string
	rows := make([]uint32, n)
	for i := range n {
		s := get(i)
		k, ok := seen[s]
		if !ok {
			if len(distinct) >= max(n/2, maxSetValues) || i >= 2*maxSetValues && 8*len(distinct) > 7*i {
				all := make([]string, n)
				for i := range all {
					all[i] = get(i)
				}
				return appendList(append(b, stringsPlain), n, get), all
			}
			k = uint32(len(distinct))
			seen[s] = k
			distinct = append(distinct, s)
		}
		rows[i] = k
	}
	if 2*len(distinct) > n {
		return appendList(append(b, stringsPlain), n, get), distinct
	}
	b = append(b, stringsDict)
	b = binary.AppendUvarint(b, uint64(len(distinct)))
	b = appendList(b, len(distinct), func(i int) string { return distinct[i] })
	for _, k := range rows {
		b = binary.AppendUvarint(b, uint64(k))
	}
	return b, distinct
}

// appendList appends n lengths, then the n strings' bytes.
func appendList(b []byte, n int, get func(int) string) []byte {
	for i := range n {
		b = binary.AppendUvarint(b, uint64(len(get(i))))
	}
	for i := range n {
		b = append(b, get(i)...)
	}
	return b
}

// strings reads what appendStrings wrote for n rows.
func (r *reader) strings(n int) []string {
	switch r.byte() {
	case stringsPlain:
		return r.list(n)
	case stringsDict:
		dict := r.list(r.count(len(r.b)))
		if n > len(r.b) { // each index takes a byte at least
			r.bad = true
			return nil
		}
		out := make([]string, n)
		for i := range out {
			k := r.uvarint()
			if k >= uint64(len(dict)) {
				r.bad = true
				return nil
			}
			out[i] = dict[k]
		}
		return out
	}
	r.bad = true
	return nil
}

// list reads what appendList wrote: the strings share one allocation.
func (r *reader) list(n int) []string {
	if n > len(r.b) { // each length takes a byte at least
		r.bad = true
		return nil
	}
	ends := make([]int, n)
	total := 0
	for i := range ends {
		total += r.count(len(r.b))
		ends[i] = total
	}
	data := string(r.bytes(total))
	if r.bad {
		return nil
	}
	out := make([]string, n)
	start := 0
	for i, end := range ends {
		out[i], start = data[start:end], end
	}
	return out
}

func appendIDs(b []byte, ev []*pulse.Event) []byte {
	for _, e := range ev {
		if !pulse.ValidID(e.ID) {
			b = append(b, idsStrings)
			b, _ = appendStrings(b, len(ev), func(i int) string { return ev[i].ID })
			return b
		}
	}
	b = append(b, idsUUID)
	for _, e := range ev {
		for i := 0; i < 36; i += 2 { // the hex digit pairs, skipping the dashes
			if e.ID[i] == '-' {
				i++
			}
			b = append(b, unhex(e.ID[i])<<4|unhex(e.ID[i+1]))
		}
	}
	return b
}

// unhex is the value of a lower-case hex digit.
func unhex(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

func setIDs(r *reader, n int) func([]pulse.Event) {
	var ids []string
	switch r.byte() {
	case idsStrings:
		ids = r.strings(n)
	case idsUUID:
		raw := r.bytes(16 * n)
		if r.bad {
			return nil
		}
		text := make([]byte, 0, 36*n)
		for i := range n {
			u := raw[16*i:]
			text = hex.AppendEncode(text, u[0:4])
			text = append(text, '-')
			text = hex.AppendEncode(text, u[4:6])
			text = append(text, '-')
			text = hex.AppendEncode(text, u[6:8])
			text = append(text, '-')
			text = hex.AppendEncode(text, u[8:10])
			text = append(text, '-')
			text = hex.AppendEncode(text, u[10:16])
		}
		all := string(text)
		ids = make([]string, n)
		for i := range ids {
			ids[i] = all[36*i : 36*i+36]
		}
	default:
		r.bad = true
	}
	return func(evs []pulse.Event) {
		for i, id := range ids {
			evs[i].ID = id
		}
	}
}

// appendTimes appends microseconds as deltas from the previous row.
func appendTimes(b []byte, ev []*pulse.Event, get func(*pulse.Event) time.Time) []byte {
	prev := int64(0)
	for _, e := range ev {
		us := get(e).UnixMicro()
		b = binary.AppendVarint(b, us-prev)
		prev = us
	}
	return b
}

func setTimes(r *reader, n int, set func(*pulse.Event, time.Time)) func([]pulse.Event) {
	if n > len(r.b) {
		r.bad = true
		return nil
	}
	us := make([]int64, n)
	prev := int64(0)
	for i := range us {
		prev += r.varint()
		us[i] = prev
	}
	return func(evs []pulse.Event) {
		for i, v := range us {
			set(&evs[i], time.UnixMicro(v).UTC())
		}
	}
}

// appendTags appends each row's number of tags, then the keys and the
// values of all rows in key order, and adds the pairs to the tag bloom.
func appendTags(b []byte, ev []*pulse.Event, ix *indexBuilder) []byte {
	total := 0
	for _, e := range ev {
		total += len(e.Tags)
	}
	keys, vals := make([]string, 0, total), make([]string, 0, total)
	for _, e := range ev {
		b = binary.AppendUvarint(b, uint64(len(e.Tags)))
		start := len(keys)
		for k := range e.Tags {
			keys = append(keys, k)
		}
		slices.Sort(keys[start:])
		for _, k := range keys[start:] {
			vals = append(vals, e.Tags[k])
			ix.tags.add(tagHash(k, e.Tags[k]))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(keys)))
	b, _ = appendStrings(b, len(keys), func(i int) string { return keys[i] })
	b, _ = appendStrings(b, len(vals), func(i int) string { return vals[i] })
	return b
}

func setTags(r *reader, n int) func([]pulse.Event) {
	if n > len(r.b) {
		r.bad = true
		return nil
	}
	counts := make([]int, n)
	total := 0
	for i := range counts {
		counts[i] = r.count(len(r.b))
		total += counts[i]
	}
	if r.count(len(r.b)) != total || r.bad {
		r.bad = true
		return nil
	}
	keys := r.strings(total)
	vals := r.strings(total)
	if r.bad {
		return nil
	}
	return func(evs []pulse.Event) {
		j := 0
		for i, c := range counts {
			if c == 0 {
				continue
			}
			m := make(map[string]string, c)
			for _, k := range keys[j : j+c] {
				m[k] = vals[j]
				j++
			}
			evs[i].Tags = m
		}
	}
}

// appendPayloads appends each row's length plus one (0: nil), then the bytes.
func appendPayloads(b []byte, ev []*pulse.Event) []byte {
	for _, e := range ev {
		if e.Payload == nil {
			b = append(b, 0)
		} else {
			b = binary.AppendUvarint(b, uint64(len(e.Payload))+1)
		}
	}
	for _, e := range ev {
		b = append(b, e.Payload...)
	}
	return b
}

func setPayloads(r *reader, n int) func([]pulse.Event) {
	if n > len(r.b) {
		r.bad = true
		return nil
	}
	lens := make([]int, n) // -1: nil
	total := 0
	for i := range lens {
		lens[i] = r.count(len(r.b)+1) - 1
		total += max(lens[i], 0)
	}
	data := bytes.Clone(r.bytes(total)) // an uncompressed section is the caller's memory
	if r.bad {
		return nil
	}
	return func(evs []pulse.Event) {
		start := 0
		for i, l := range lens {
			if l >= 0 {
				evs[i].Payload = data[start : start+l : start+l]
				start += l
			}
		}
	}
}
