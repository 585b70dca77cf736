package pulse

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"unicode/utf8"
)

// Search limits.
const (
	DefaultSearchLimit = 50
	MaxSearchLimit     = 1000
	MaxSearchOffset    = 10000
	MaxTagFilters      = 10
)

// Tag is one key:value pair of a tag filter.
type Tag struct{ Key, Value string }

// Cursor is a position in the newest-first order (timestamp desc, id desc):
// the next page holds events strictly after it in that order.
type Cursor struct {
	Timestamp time.Time
	ID        string
}

// EventFilter is a validated search. Zero values mean "no constraint".
// Severities is already the intersection of severity and min_severity; an
// empty slice with NoSeverity=true means nothing can match.
type EventFilter struct {
	EventType     string
	Severities    []Severity
	NoMatch       bool // the filters contradict each other; the result is empty
	Service       string
	Endpoint      string
	StatusCode    int
	StatusCodeMin int
	StatusCodeMax int
	UserID        string
	ExternalID    string
	Tags          []Tag
	Start, End    time.Time // start inclusive, end exclusive
	Limit         int
	Offset        int
	After         *Cursor
	// Text is the parsed q= (full-text search, fulltext.go): every phrase
	// must occur in the message or a payload string value. Stores do not
	// read it; SearchText answers it on top of SearchEvents.
	Text []Phrase
}

var searchParams = []string{"event_type", "severity", "min_severity", "service", "endpoint", "status_code",
	"status_code_min", "status_code_max", "user_id", "external_id", "tag", "start_time", "end_time", "limit", "cursor", "offset", "q"}

// CheckQuery names each query parameter of q that is not in known
// ("parameter.unknown", the name cut to 64 bytes) and each one given more
// than once that is not in repeatable ("<name>.invalid"), in a stable
// order. Every endpoint that reads query parameters calls it, so that a
// typo or a repeated filter is refused instead of silently ignored.
func CheckQuery(q url.Values, known []string, repeatable ...string) []FieldError {
	var errs []FieldError
	for _, k := range slices.Sorted(maps.Keys(q)) {
		switch {
		case !slices.Contains(known, k):
			if len(k) > 64 {
				k = k[:64]
			}
			errs = append(errs, FieldError{Field: k, Message: "is not a known query parameter", Reason: "parameter.unknown"})
		case len(q[k]) > 1 && !slices.Contains(repeatable, k):
			errs = append(errs, FieldError{Field: k, Message: "may be given only once", Reason: k + ".invalid"})
		}
	}
	return errs
}

// ParseEventFilter validates search query parameters, naming each bad one.
func ParseEventFilter(q url.Values) (EventFilter, error) { return checkedFilter(q, searchParams, true) }

var tailParams = []string{"event_type", "severity", "min_severity", "service", "endpoint", "status_code",
	"status_code_min", "status_code_max", "user_id", "external_id", "tag"}

// ParseTailFilter validates the live tail's query parameters: the search
// filters without the time range and paging (a tail follows new events).
func ParseTailFilter(q url.Values) (EventFilter, error) { return checkedFilter(q, tailParams, false) }

// checkedFilter is parseFilter after CheckQuery with the known parameters;
// the error names every bad parameter of both.
func checkedFilter(q url.Values, known []string, paging bool) (EventFilter, error) {
	errs := CheckQuery(q, known, "tag", "severity")
	f, err := parseFilter(q, paging)
	if fe, ok := err.(*Error); ok {
		errs = append(errs, fe.Fields...)
	}
	if len(errs) > 0 {
		return EventFilter{}, Invalid(errs...)
	}
	return f, nil
}

// parseFilter reads the filter parameters of q (and the paging ones,
// limit, offset and cursor, when paging is set); the caller checks the
// names with CheckQuery. The error is an *Error of EINVALID.
func parseFilter(q url.Values, paging bool) (EventFilter, error) {
	f := EventFilter{Limit: DefaultSearchLimit}
	var errs []FieldError
	bad := func(field, msg string) {
		errs = append(errs, FieldError{Field: field, Message: msg, Reason: field + ".invalid"})
	}
	str := func(name string, max int) string {
		vs := q[name]
		if len(vs) != 1 { // absent, or repeated (CheckQuery named it)
			return ""
		}
		v := vs[0]
		if v == "" || utf8.RuneCountInString(v) > max || strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
			bad(name, fmt.Sprintf("must be 1-%d characters of valid UTF-8", max))
			return ""
		}
		return v
	}
	num := func(name string, min, max int) int {
		v := str(name, 12)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			bad(name, fmt.Sprintf("must be an integer from %d to %d", min, max))
			return 0
		}
		return n
	}
	tm := func(name string) time.Time {
		v := str(name, 64)
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			bad(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
			return time.Time{}
		}
		return t.UTC()
	}

	f.EventType = str("event_type", MaxEventTypeLen)
	f.Service = str("service", MaxServiceLen)
	f.Endpoint = str("endpoint", MaxEndpointLen)
	f.UserID = str("user_id", MaxUserIDLen)
	f.ExternalID = str("external_id", MaxExternalIDLen)
	f.StatusCode = num("status_code", 100, 599)
	f.StatusCodeMin = num("status_code_min", 100, 599)
	f.StatusCodeMax = num("status_code_max", 100, 599)
	f.Start = tm("start_time")
	f.End = tm("end_time")
	if paging {
		if l := num("limit", 1, MaxSearchLimit); l > 0 {
			f.Limit = l
		}
		if _, ok := q["offset"]; ok {
			f.Offset = num("offset", 0, MaxSearchOffset)
		}
	}

	sevs := slices.Clone(Severities)
	if vs, ok := q["severity"]; ok {
		var want []Severity
		for _, v := range vs {
			for _, s := range strings.Split(v, ",") {
				if Severity(s).Rank() < 0 {
					bad("severity", "must be one of debug, info, warning, error, critical")
					break
				}
				want = append(want, Severity(s))
			}
		}
		sevs = slices.DeleteFunc(sevs, func(s Severity) bool { return !slices.Contains(want, s) })
		f.Severities = sevs
	}
	if v := str("min_severity", 16); v != "" {
		min := Severity(v).Rank()
		if min < 0 {
			bad("min_severity", "must be one of debug, info, warning, error, critical")
		} else {
			sevs = slices.DeleteFunc(sevs, func(s Severity) bool { return s.Rank() < min })
			f.Severities = sevs
		}
	}
	if f.Severities != nil && len(f.Severities) == 0 {
		f.NoMatch = true
	}

	if vs := q["tag"]; len(vs) > 0 {
		if len(vs) > MaxTagFilters {
			bad("tag", fmt.Sprintf("may be given at most %d times", MaxTagFilters))
		}
		for _, v := range vs {
			k, val, ok := strings.Cut(v, ":")
			if !ok || k == "" || utf8.RuneCountInString(k) > MaxTagKeyLen || utf8.RuneCountInString(val) > MaxTagValueLen ||
				strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
				bad("tag", "must be key:value")
				continue
			}
			f.Tags = append(f.Tags, Tag{Key: k, Value: val})
		}
	}
	if vs := q["q"]; len(vs) == 1 {
		text, msg := parseTextQuery(vs[0])
		if msg != "" {
			bad("q", msg)
		}
		f.Text = text
	}
	if c := str("cursor", 256); paging && c != "" {
		if cur, err := DecodeCursor(c); err != nil {
			bad("cursor", "is not a cursor returned by this API")
		} else {
			f.After = &cur
		}
	}
	if f.After != nil && f.Offset > 0 {
		bad("offset", "cannot be combined with cursor")
	}
	if !f.Start.IsZero() && !f.End.IsZero() && !f.End.After(f.Start) {
		bad("end_time", "must be after start_time")
	}
	if f.StatusCodeMin > 0 && f.StatusCodeMax > 0 && f.StatusCodeMax < f.StatusCodeMin {
		bad("status_code_max", "must not be below status_code_min")
	}
	if len(errs) > 0 {
		return EventFilter{}, Invalid(errs...)
	}
	return f, nil
}

// Matches reports whether e passes f (ignoring paging). Stores do the same in
// SQL; this is for the conformance suite and in-memory consumers.
func (f *EventFilter) Matches(e *Event) bool {
	switch {
	case f.NoMatch,
		f.EventType != "" && e.EventType != f.EventType,
		f.Severities != nil && !slices.Contains(f.Severities, e.Severity),
		f.Service != "" && e.Service != f.Service,
		f.Endpoint != "" && e.Endpoint != f.Endpoint,
		f.StatusCode != 0 && e.StatusCode != f.StatusCode,
		f.StatusCodeMin != 0 && (e.StatusCode == 0 || e.StatusCode < f.StatusCodeMin),
		f.StatusCodeMax != 0 && (e.StatusCode == 0 || e.StatusCode > f.StatusCodeMax),
		f.UserID != "" && e.UserID != f.UserID,
		f.ExternalID != "" && e.ExternalID != f.ExternalID,
		!f.Start.IsZero() && e.Timestamp.Before(f.Start),
		!f.End.IsZero() && !e.Timestamp.Before(f.End):
		return false
	}
	for _, t := range f.Tags {
		if v, ok := e.Tags[t.Key]; !ok || v != t.Value {
			return false
		}
	}
	return MatchesText(e, f.Text)
}

// Encode returns the cursor's opaque text form.
func (c Cursor) Encode() string {
	b := make([]byte, 0, 8+len(c.ID))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Timestamp.UnixMicro()))
	b = append(b, c.ID...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a cursor made by Encode.
func DecodeCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8+36 {
		return Cursor{}, Errorf(EINVALID, "bad cursor")
	}
	id := string(b[8:])
	us := int64(binary.BigEndian.Uint64(b[:8]))
	// Only times an event can have: after 1970, before the year 10000.
	if !validUUID(id) || us < 0 || us > maxCursorMicros {
		return Cursor{}, Errorf(EINVALID, "bad cursor")
	}
	return Cursor{Timestamp: time.UnixMicro(us).UTC(), ID: id}, nil
}

const maxCursorMicros = 253402300799_999999 // 9999-12-31T23:59:59.999999Z

// CursorAfter is the cursor pointing just past e.
func CursorAfter(e *Event) Cursor { return Cursor{Timestamp: e.Timestamp, ID: e.ID} }

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// ValidID reports whether s has the form of an id this service issues
// (a lower-case UUID); stores may assume their id arguments pass it.
func ValidID(s string) bool { return validUUID(s) }
