package pulse

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on one event. MaxPayloadBytes is configurable; the rest are the
// documented contract.
const (
	MaxEventTypeLen  = 128
	MaxServiceLen    = 128
	MaxEndpointLen   = 512
	MaxUserIDLen     = 256
	MaxMessageBytes  = 16 << 10
	MaxTags          = 50
	MaxTagKeyLen     = 64
	MaxTagValueLen   = 256
	MaxExternalIDLen = 256
	MaxFutureSkew    = time.Hour

	DefaultMaxPayloadBytes = 5 << 20
)

// ParseOptions are the per-request inputs of event validation.
type ParseOptions struct {
	Now             time.Time     // the receive time, used when timestamp is absent
	Retention       time.Duration // events older than Now-Retention are refused
	MaxPayloadBytes int
	// Decode decodes the event object (and its tags); nil is DecodeJSON.
	Decode func(data []byte, v any) error
}

// ErrTrailingData is what a Decode returns when data holds more than one
// JSON value.
var ErrTrailingData = errors.New("more than one JSON value")

// DecodeJSON is the default ParseOptions.Decode: encoding/json with
// unknown fields refused. A replacement must behave the same: nil,
// ErrTrailingData, a *json.UnmarshalTypeError naming the field of a value
// of the wrong type, an error reading `json: unknown field "name"`, or any
// other error for invalid JSON (internal/ingest plugs in a faster decoder
// that hands every input it refuses to this one).
func DecodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return ErrTrailingData
	}
	return nil
}

// eventIn is the wire shape. Pointers tell "absent" from "empty"; status_code
// and payload stay raw so their JSON type can be checked exactly.
type eventIn struct {
	EventType  *string         `json:"event_type"`
	Severity   *string         `json:"severity"`
	Service    *string         `json:"service"`
	Endpoint   *string         `json:"endpoint"`
	StatusCode json.RawMessage `json:"status_code"`
	UserID     *string         `json:"user_id"`
	Message    *string         `json:"message"`
	Tags       json.RawMessage `json:"tags"`
	Timestamp  *string         `json:"timestamp"`
	ExternalID *string         `json:"external_id"`
	Payload    json.RawMessage `json:"payload"`
}

// ParseEvent decodes and validates one event object. It returns EBADREQUEST
// when raw is not JSON and EINVALID (listing every broken field) otherwise.
// The returned event has no ID or TenantID yet.
func ParseEvent(raw []byte, opt ParseOptions) (*Event, error) {
	raw = bytes.TrimSpace(raw)
	if !utf8.Valid(raw) {
		// encoding/json would silently store U+FFFD instead of the bytes sent.
		return nil, Errorf(EBADREQUEST, "the body is not valid UTF-8")
	}
	if len(raw) == 0 || raw[0] != '{' {
		if len(raw) > 0 && !json.Valid(raw) {
			return nil, Errorf(EBADREQUEST, "the body is not valid JSON")
		}
		return nil, Invalid(FieldError{Field: "event", Message: "must be a JSON object", Reason: "event.not_object"})
	}
	decode := opt.Decode
	if decode == nil {
		decode = DecodeJSON
	}
	var in eventIn
	var errs []FieldError
	if err := decode(raw, &in); errors.Is(err, ErrTrailingData) {
		return nil, Errorf(EBADREQUEST, "the body holds more than one JSON value")
	} else if err != nil {
		fe, ok := decodeFieldError(err)
		if !ok {
			return nil, Errorf(EBADREQUEST, "the body is not valid JSON")
		}
		errs = append(errs, fe)
	}
	// raw is valid JSON now (the decoders read a whole value before they
	// fill fields in).
	if off := loneSurrogate(raw); off >= 0 {
		// Both decoders would store U+FFFD instead of what was sent.
		field := fieldAt(raw, off)
		return nil, Invalid(FieldError{Field: field, Message: `must not contain a lone UTF-16 surrogate escape (\ud800-\udfff without its pair)`, Reason: field + ".invalid"})
	}
	if err := CheckObjectKeys(raw, eventFields, ""); err != nil {
		errs = append(errs, *err)
	}
	if tags := bytes.TrimSpace(in.Tags); len(tags) > 0 && tags[0] == '{' {
		if err := CheckObjectKeys(tags, nil, "tags."); err != nil {
			errs = append(errs, *err)
		}
	}
	e := &Event{}
	h := newHasher()

	e.EventType, errs = reqString(in.EventType, "event_type", MaxEventTypeLen, errs)
	if e.EventType != "" && !validEventType(e.EventType) {
		errs = append(errs, FieldError{Field: "event_type", Message: "may only contain letters, digits and _ . : -", Reason: "event_type.invalid"})
	}
	h.add(e.EventType)

	e.Severity = SeverityInfo
	if in.Severity != nil {
		e.Severity = Severity(*in.Severity)
		if e.Severity.Rank() < 0 {
			errs = append(errs, FieldError{Field: "severity", Message: "must be one of debug, info, warning, error, critical", Reason: "severity.invalid"})
		}
	}
	h.add(string(e.Severity))

	e.Service, errs = reqString(in.Service, "service", MaxServiceLen, errs)
	h.add(e.Service)
	e.Endpoint, errs = optString(in.Endpoint, "endpoint", MaxEndpointLen, false, errs)
	h.add(e.Endpoint)

	if sc := bytes.TrimSpace(in.StatusCode); len(sc) > 0 && string(sc) != "null" {
		n, err := strconv.Atoi(string(sc))
		if err != nil || n < 100 || n > 599 {
			errs = append(errs, FieldError{Field: "status_code", Message: "must be an integer from 100 to 599", Reason: "status_code.invalid"})
		} else {
			e.StatusCode = n
		}
	}
	h.add(strconv.Itoa(e.StatusCode))

	e.UserID, errs = optString(in.UserID, "user_id", MaxUserIDLen, false, errs)
	h.add(e.UserID)
	e.Message, errs = optString(in.Message, "message", MaxMessageBytes, true, errs)
	h.add(e.Message)

	var tags map[string]string
	if t := bytes.TrimSpace(in.Tags); len(t) > 0 && string(t) != "null" {
		if err := decode(t, &tags); err != nil {
			errs = append(errs, FieldError{Field: "tags", Message: "must be an object of string values", Reason: "tags.type"})
		}
	}
	if len(tags) > 0 {
		errs = checkTags(tags, errs)
		e.Tags = tags
		keys := make([]string, 0, len(tags))
		for k := range tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		h.add(strconv.Itoa(len(keys)))
		for _, k := range keys {
			h.add(k)
			h.add(tags[k])
		}
	} else {
		h.add("0")
	}

	e.Timestamp = opt.Now
	// The hash takes the timestamp as the instant it names (…T11:00:00+01:00
	// is …T10:00:00Z) and the payload in canonical form; legacyHash is the
	// hash of the bytes as sent, which versions before the canonical form
	// stored.
	var tsSent, tsCanon string
	if in.Timestamp != nil {
		ts, err := time.Parse(time.RFC3339Nano, *in.Timestamp)
		switch {
		case err != nil:
			errs = append(errs, FieldError{Field: "timestamp", Message: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z", Reason: "timestamp.invalid"})
		case ts.After(opt.Now.Add(MaxFutureSkew)):
			errs = append(errs, FieldError{Field: "timestamp", Message: "must not be more than 1 hour in the future", Reason: "timestamp.future"})
		case opt.Retention > 0 && ts.Before(opt.Now.Add(-opt.Retention)):
			errs = append(errs, FieldError{Field: "timestamp", Message: "is older than the tenant's retention period", Reason: "timestamp.too_old"})
		default:
			e.Timestamp = ts
		}
		tsSent, tsCanon = *in.Timestamp, ts.UTC().Format(time.RFC3339Nano)
	}
	e.Timestamp = e.Timestamp.UTC().Truncate(time.Microsecond)

	if in.ExternalID != nil {
		e.ExternalID, errs = reqString(in.ExternalID, "external_id", MaxExternalIDLen, errs)
		if msg := checkExternalID(e.ExternalID); msg != "" {
			errs = append(errs, FieldError{Field: "external_id", Message: msg, Reason: "external_id.invalid"})
		}
	}

	if p := bytes.TrimSpace(in.Payload); len(p) > 0 && string(p) != "null" {
		max := opt.MaxPayloadBytes
		if max <= 0 {
			max = DefaultMaxPayloadBytes
		}
		switch {
		case p[0] != '{':
			errs = append(errs, FieldError{Field: "payload", Message: "must be a JSON object", Reason: "payload.invalid"})
		case len(p) > max:
			errs = append(errs, FieldError{Field: "payload", Message: fmt.Sprintf("must be at most %d bytes", max), Reason: "payload.too_large"})
		case bytes.IndexByte(p, 0) >= 0 || bytes.Contains(p, []byte(`\u0000`)):
			errs = append(errs, FieldError{Field: "payload", Message: "must not contain NUL characters", Reason: "payload.invalid"})
		default:
			var buf bytes.Buffer
			buf.Grow(len(p))
			if err := json.Compact(&buf, p); err != nil {
				errs = append(errs, FieldError{Field: "payload", Message: "must be a JSON object", Reason: "payload.invalid"})
			} else {
				e.Payload = buf.Bytes()
			}
		}
	}
	canon := e.Payload
	if len(e.Payload) > 0 {
		var err error
		canon, err = canonicalJSON(make([]byte, 0, len(e.Payload)), e.Payload)
		var dup errDuplicateKey
		if errors.As(err, &dup) {
			errs = append(errs, FieldError{Field: "payload", Message: fmt.Sprintf("holds the key %q more than once in one object", dup.key[:min(len(dup.key), 64)]), Reason: "field.duplicate"})
		} else if err != nil {
			errs = append(errs, FieldError{Field: "payload", Message: "must be a JSON object", Reason: "payload.invalid"})
		}
	}

	if len(errs) > 0 {
		return nil, Invalid(errs...)
	}
	e.ContentHash = h.sum(tsCanon, e.ExternalID, canon)
	if tsCanon != tsSent || !bytes.Equal(canon, e.Payload) {
		e.legacyHash = h.sum(tsSent, e.ExternalID, e.Payload)
	}
	return e, nil
}

// fieldAt names the top-level field of the event object raw whose key or
// value holds offset off: "event" when off is not inside a known field.
func fieldAt(raw []byte, off int) string {
	depth, key := 0, ""
	for i := 0; i < len(raw) && i < off; i++ {
		switch raw[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			start := i
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
			j := i + 1
			for j < len(raw) && (raw[j] == ' ' || raw[j] == '\t' || raw[j] == '\n' || raw[j] == '\r') {
				j++
			}
			if depth == 1 && j < len(raw) && raw[j] == ':' {
				key = ""
				if i < off { // off is not in this key itself
					key, _ = unescapeJSON(raw[start : i+1])
				}
			}
		}
	}
	if !slices.Contains(eventFields, key) {
		return "event"
	}
	return key
}

// checkExternalID returns why an external id is refused, or "". An
// external id is compared byte for byte forever (normalising it would turn
// other clients' stored keys into new ones), so what cannot be seen or
// typed reliably is refused rather than cleaned up: white space at either
// end, control characters (Cc), format characters (Cf: zero-width
// characters, bidi controls, the BOM) and line or paragraph separators.
func checkExternalID(s string) string {
	if s == "" {
		return ""
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "must not start or end with white space"
	}
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			return fmt.Sprintf("must not contain control, format or invisible characters (found U+%04X)", r)
		}
	}
	return ""
}

// decodeFieldError turns a decoder error that concerns one field into a
// FieldError; syntax errors return false.
func decodeFieldError(err error) (FieldError, bool) {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if i := strings.IndexByte(field, '.'); i >= 0 {
			field = field[:i]
		}
		if field == "" {
			return FieldError{Field: "event", Message: "must be a JSON object", Reason: "event.not_object"}, true
		}
		msg := "has the wrong type"
		if field == "tags" {
			msg = "must be an object of string values"
		} else if te.Type != nil && te.Type.Kind().String() == "ptr" || te.Type != nil && te.Type.String() == "string" {
			msg = "must be a string"
		}
		return FieldError{Field: field, Message: msg, Reason: field + ".type"}, true
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		name, _ := strconv.Unquote(strings.TrimPrefix(msg, "json: unknown field "))
		if len(name) > 64 {
			name = name[:64]
		}
		return FieldError{Field: name, Message: "is not a known field", Reason: "field.unknown"}, true
	}
	return FieldError{}, false
}

func reqString(v *string, field string, max int, errs []FieldError) (string, []FieldError) {
	if v == nil || *v == "" {
		return "", append(errs, FieldError{Field: field, Message: "is required", Reason: field + ".required"})
	}
	return optString(v, field, max, false, errs)
}

// optString checks length (in characters, or bytes when inBytes) and bans
// NUL and invalid UTF-8, which no backend stores faithfully.
func optString(v *string, field string, max int, inBytes bool, errs []FieldError) (string, []FieldError) {
	if v == nil {
		return "", errs
	}
	s := *v
	n := len(s)
	if !inBytes {
		n = utf8.RuneCountInString(s)
	}
	if n > max {
		unit := "characters"
		if inBytes {
			unit = "bytes"
		}
		return "", append(errs, FieldError{Field: field, Message: fmt.Sprintf("must be at most %d %s", max, unit), Reason: field + ".too_long"})
	}
	if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		return "", append(errs, FieldError{Field: field, Message: "must be valid UTF-8 without NUL characters", Reason: field + ".invalid"})
	}
	return s, errs
}

func checkTags(tags map[string]string, errs []FieldError) []FieldError {
	if len(tags) > MaxTags {
		return append(errs, FieldError{Field: "tags", Message: fmt.Sprintf("must have at most %d keys", MaxTags), Reason: "tags.too_many"})
	}
	for k, v := range tags {
		switch {
		case k == "" || utf8.RuneCountInString(k) > MaxTagKeyLen:
			return append(errs, FieldError{Field: "tags", Message: fmt.Sprintf("keys must be 1-%d characters", MaxTagKeyLen), Reason: "tags.key_invalid"})
		case utf8.RuneCountInString(v) > MaxTagValueLen:
			return append(errs, FieldError{Field: "tags", Message: fmt.Sprintf("values must be at most %d characters", MaxTagValueLen), Reason: "tags.value_too_long"})
		case strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(k) || !utf8.ValidString(v):
			return append(errs, FieldError{Field: "tags", Message: "must be valid UTF-8 without NUL characters", Reason: "tags.invalid"})
		case strings.ContainsRune(k, ':'):
			return append(errs, FieldError{Field: "tags", Message: "keys must not contain ':'", Reason: "tags.key_invalid"})
		}
	}
	return errs
}

func validEventType(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// eventFields are the exact top-level names of an event. encoding/json
// matches names case-insensitively ("Service" would fill service), so the
// names are checked byte for byte here.
var eventFields = []string{"event_type", "severity", "service", "endpoint", "status_code", "user_id",
	"message", "tags", "timestamp", "external_id", "payload"}

// CheckObjectKeys walks the top-level keys of the JSON object raw (already
// known to be valid JSON) in one pass, allocating only for a key that holds
// an escape; keys are compared unescaped, as the decoders see them. It
// refuses a key that appears twice — encoding/json would silently keep the
// last one, so a client could not tell which value was stored — and, when
// allowed is not nil, a key that is not exactly one of allowed. field prefixes the name in
// the returned error ("tags." for keys inside tags).
func CheckObjectKeys(raw []byte, allowed []string, field string) *FieldError {
	var keys [64][]byte
	n := 0
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			start := i + 1
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
			if depth != 1 {
				continue
			}
			// A top-level string is a key when a ':' follows it.
			j := i + 1
			for j < len(raw) && (raw[j] == ' ' || raw[j] == '\t' || raw[j] == '\n' || raw[j] == '\r') {
				j++
			}
			if j >= len(raw) || raw[j] != ':' {
				continue
			}
			key := raw[start:i]
			if bytes.IndexByte(key, '\\') >= 0 {
				// Compare what the decoders see: "\u0061" is "a".
				name, err := unescapeJSON(raw[start-1 : i+1])
				if err != nil {
					return &FieldError{Field: cmp.Or(strings.TrimSuffix(field, "."), "event"), Message: "has a key with a lone UTF-16 surrogate escape", Reason: "field.invalid"}
				}
				key = []byte(name)
			}
			if allowed != nil && !slices.Contains(allowed, string(key)) {
				return &FieldError{Field: field + keyName(key), Message: "is not a known field (names are case-sensitive)", Reason: "field.unknown"}
			}
			for _, k := range keys[:min(n, len(keys))] {
				if bytes.Equal(k, key) {
					return &FieldError{Field: field + keyName(key), Message: "appears more than once", Reason: "field.duplicate"}
				}
			}
			if n < len(keys) {
				keys[n] = key
			}
			n++
		}
	}
	return nil
}

// keyName is an (unescaped) key as a field name, at most 64 bytes.
func keyName(key []byte) string {
	if len(key) > 64 {
		key = key[:64]
		for len(key) > 0 && !utf8.Valid(key) {
			key = key[:len(key)-1]
		}
	}
	return string(key)
}

// hasher builds ContentHash from length-prefixed parts, so that no two
// different events share a preimage: the parts added, then the tail
// handed to sum.
type hasher struct{ buf []byte }

func newHasher() *hasher { return &hasher{buf: make([]byte, 0, 256)} }

func (h *hasher) add(s string) {
	h.buf = binary.AppendUvarint(h.buf, uint64(len(s)))
	h.buf = append(h.buf, s...)
}

func (h *hasher) sum(ts, externalID string, payload []byte) string {
	d := sha256.New() // streamed: a large payload is not copied into buf
	d.Write(h.buf)
	var n [binary.MaxVarintLen64]byte
	for _, p := range [][]byte{[]byte(ts), []byte(externalID), payload} {
		d.Write(binary.AppendUvarint(n[:0], uint64(len(p))))
		d.Write(p)
	}
	var s [sha256.Size]byte
	return hex.EncodeToString(d.Sum(s[:0])[:16])
}
