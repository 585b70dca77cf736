package ingest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The Elasticsearch bulk door: DecodeBulk reads the NDJSON body of a
// _bulk request into its items, turning each index/create document into
// the event object the native API takes (BulkEvent), so shippers' documents
// go through the same validation, quotas and exactly-once as any batch
// (Service.Ingest). The mapping is documented in README.md,
// "Elasticsearch bulk API (log shippers)".

// Defaults of the mapping.
const (
	BulkDefaultService    = OTLPDefaultService
	BulkDefaultType       = "log"
	BulkServiceField      = "service.name"
	BulkEventTypeField    = "event.dataset"
	bulkErrUnsupported    = "action_request_validation_exception"
	BulkErrMapperParsing  = "mapper_parsing_exception"
	bulkUnsupportedReason = "PulseStream stores events once and never changes them; only index and create actions are taken"
)

// BulkOptions change the mapping for one request (query parameters).
type BulkOptions struct {
	// Index is the {index} of the URL, the _index of actions without one.
	Index string
	// ServiceField, EventTypeField and ExternalIDField name the document
	// fields (dotted paths) that give service, event_type and external_id
	// (defaults: service.name, event.dataset, and the action's _id).
	ServiceField, EventTypeField, ExternalIDField string
}

// BulkItem is one action of a bulk request, in order.
type BulkItem struct {
	Op    string // index, create, update or delete
	Index string // the action's _index, else BulkOptions.Index
	ID    string // the action's _id ("" when none)
	// Event is the event object of an index or create document; nil when
	// the item is refused before ingestion (Err says why).
	Event json.RawMessage
	Err   *BulkError
}

// BulkError is an item's error in the bulk response.
type BulkError struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// bulkAction is an action line's metadata; other keys (routing,
// pipeline, _type…) are ignored.
type bulkAction struct {
	Index string `json:"_index"`
	ID    string `json:"_id"`
}

// DecodeBulk splits body (NDJSON: an action line, then a document line
// except for delete) into items. Blank lines are skipped. A line that is
// not an action object, an unknown action, or an action without its
// document line make the whole request EBADREQUEST, as in Elasticsearch; a
// document that is not a JSON object, and update and delete actions, are
// items with an Err.
func DecodeBulk(body []byte, opt BulkOptions) ([]BulkItem, error) {
	var items []BulkItem
	lines := bytes.Split(body, []byte{'\n'})
	next := func(i int) int { // the index of the next non-blank line, or len(lines)
		for ; i < len(lines) && len(bytes.TrimSpace(lines[i])) == 0; i++ {
		}
		return i
	}
	for i := next(0); i < len(lines); i = next(i + 1) {
		op, meta, err := bulkActionLine(lines[i])
		if err != nil {
			return nil, pulse.Errorf(pulse.EBADREQUEST, "line %d: %s", i+1, err)
		}
		it := BulkItem{Op: op, Index: cmp.Or(meta.Index, opt.Index), ID: meta.ID}
		if op == "delete" {
			it.Err = &BulkError{Type: bulkErrUnsupported, Reason: bulkUnsupportedReason}
			items = append(items, it)
			continue
		}
		if i = next(i + 1); i == len(lines) {
			return nil, pulse.Errorf(pulse.EBADREQUEST, "the %s action of the last item has no document line", op)
		}
		switch doc, ok := bulkDocument(lines[i]); {
		case op == "update":
			it.Err = &BulkError{Type: bulkErrUnsupported, Reason: bulkUnsupportedReason}
		case !ok:
			it.Err = &BulkError{Type: BulkErrMapperParsing, Reason: fmt.Sprintf("failed to parse: line %d is not a JSON object", i+1)}
		default:
			raw, err := json.Marshal(BulkEvent(doc, it.Index, it.ID, opt))
			if err != nil { // not reachable: the values came from JSON
				it.Err = &BulkError{Type: BulkErrMapperParsing, Reason: "failed to parse the document"}
				break
			}
			it.Event = raw
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil, pulse.Errorf(pulse.EBADREQUEST, "the bulk request holds no action")
	}
	return items, nil
}

// bulkActionLine decodes {"<op>": {metadata}}.
func bulkActionLine(line []byte) (string, bulkAction, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil || len(obj) != 1 {
		return "", bulkAction{}, fmt.Errorf("malformed action/metadata line, expected an object with one action")
	}
	var (
		op   string
		meta bulkAction
	)
	for k := range obj {
		op = k
	}
	switch op {
	case "index", "create", "update", "delete":
	default:
		return "", meta, fmt.Errorf("unknown action %q (index, create, update or delete)", op)
	}
	if err := json.Unmarshal(obj[op], &meta); err != nil {
		return "", meta, fmt.Errorf("malformed %s metadata: _index and _id must be strings", op)
	}
	return op, meta, nil
}

// bulkDocument decodes a document line; numbers are kept as sent.
func bulkDocument(line []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil || doc == nil || dec.More() {
		return nil, false
	}
	return doc, true
}

// BulkEvent maps a document onto an event object (README.md has the
// table). Nested objects and dotted keys are the same field: the document
// is flattened into dotted paths first (when a path is given both ways,
// the nested one wins). The mapped fields are taken out; of the rest, the
// string values that fit a tag become tags, up to pulse.MaxTags in path
// order, and everything else goes into the payload under its dotted path.
func BulkEvent(doc map[string]any, index, id string, opt BulkOptions) *eventObject {
	f := map[string]any{}
	flatten("", doc, f)
	e := &eventObject{
		EventType: BulkDefaultType,
		Service:   cmp.Or(index, BulkDefaultService),
		Severity:  string(pulse.SeverityInfo),
	}
	payload := map[string]any{}
	if s, ok := takeString(f, cmp.Or(opt.ServiceField, BulkServiceField)); ok && s != "" {
		e.Service = s
	}
	if s, ok := takeString(f, cmp.Or(opt.EventTypeField, BulkEventTypeField)); ok && s != "" {
		e.EventType = s
	}
	if opt.ExternalIDField != "" {
		if s, ok := takeString(f, opt.ExternalIDField); ok && s != "" {
			id = s
		}
	}
	if id != "" {
		e.ExternalID = &id
	}
	for _, k := range []string{"@timestamp", "timestamp"} {
		if ts, ok := bulkTime(f[k]); ok {
			e.Timestamp = ts
			delete(f, k)
			break
		}
	}
	for _, k := range []string{"message", "log"} {
		if s, ok := takeString(f, k); ok {
			e.Message = s
			if len(s) > pulse.MaxMessageBytes {
				// Kept whole in the payload; the message is its first
				// MaxMessageBytes (whole runes).
				payload[k] = s
				e.Message = strings.ToValidUTF8(s[:pulse.MaxMessageBytes], "")
			}
			break
		}
	}
	for _, k := range []string{"log.level", "level"} {
		if s, ok := takeString(f, k); ok {
			e.Severity = string(SeverityFromText(s))
			break
		}
	}
	if s, ok := takeString(f, "url.path"); ok {
		e.Endpoint = s
	}
	if s, ok := takeString(f, "user.id"); ok {
		e.UserID = s
	}
	if v, ok := f["http.response.status_code"]; ok {
		if n, err := strconv.Atoi(fmt.Sprint(v)); err == nil && n >= 100 && n <= 599 {
			e.StatusCode = n
			delete(f, "http.response.status_code")
		}
	}

	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	tags := map[string]string{}
	for _, k := range keys {
		if s, ok := f[k].(string); ok && len(tags) < pulse.MaxTags && tagFits(k, s) {
			tags[k] = s
			continue
		}
		payload[k] = f[k]
	}
	if len(tags) > 0 {
		e.Tags = tags
	}
	if len(payload) > 0 {
		e.Payload = payload
	}
	return e
}

// flatten puts the leaves of m into out under their dotted paths, in key
// order (the first of a path wins). Arrays and empty objects are leaves.
func flatten(prefix string, m map[string]any, out map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if sub, ok := m[k].(map[string]any); ok && len(sub) > 0 {
			flatten(path, sub, out)
			continue
		}
		if _, seen := out[path]; !seen {
			out[path] = m[k]
		}
	}
}

// takeString removes and returns f[k] when it is a string.
func takeString(f map[string]any, k string) (string, bool) {
	s, ok := f[k].(string)
	if ok {
		delete(f, k)
	}
	return s, ok
}

// bulkTime is a timestamp as given (a string, validated by ingest) or
// from epoch milliseconds (a number, Elasticsearch's other default date
// format).
func bulkTime(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		ms, err := x.Int64()
		if err != nil {
			return "", false
		}
		return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), true
	}
	return "", false
}
