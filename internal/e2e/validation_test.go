package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func manyTags(n, keyLen, valLen int) map[string]any {
	tags := map[string]any{}
	for i := range n {
		k := fmt.Sprintf("%0*d", keyLen, i)
		tags[k] = strings.Repeat("v", valLen)
	}
	return tags
}

// TestValidationRejectsEachRule sends one event per rule of the field table,
// each breaking exactly that rule, and expects 422 naming the field.
func TestValidationRejectsEachRule(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("validation", 100000)
		now := n.Clock.Now()
		cases := []struct {
			name  string
			over  map[string]any
			field string
		}{
			{"event_type missing", map[string]any{"event_type": nil}, "event_type"},
			{"event_type empty", map[string]any{"event_type": ""}, "event_type"},
			{"event_type too long", map[string]any{"event_type": strings.Repeat("a", 129)}, "event_type"},
			{"event_type space", map[string]any{"event_type": "http request"}, "event_type"},
			{"event_type slash", map[string]any{"event_type": "http/request"}, "event_type"},
			{"event_type non-ascii", map[string]any{"event_type": "événement"}, "event_type"},
			{"event_type number", map[string]any{"event_type": 7}, "event_type"},
			{"severity unknown", map[string]any{"severity": "bogus"}, "severity"},
			{"severity upper case", map[string]any{"severity": "INFO"}, "severity"},
			{"severity empty", map[string]any{"severity": ""}, "severity"},
			{"severity number", map[string]any{"severity": 3}, "severity"},
			{"service missing", map[string]any{"service": nil}, "service"},
			{"service empty", map[string]any{"service": ""}, "service"},
			{"service too long", map[string]any{"service": strings.Repeat("é", 129)}, "service"},
			{"service NUL", map[string]any{"service": "a\x00b"}, "service"},
			{"endpoint too long", map[string]any{"endpoint": "/" + strings.Repeat("a", 512)}, "endpoint"},
			{"endpoint NUL", map[string]any{"endpoint": "/a\x00"}, "endpoint"},
			{"status_code string", map[string]any{"status_code": "200"}, "status_code"},
			{"status_code 99", map[string]any{"status_code": 99}, "status_code"},
			{"status_code 600", map[string]any{"status_code": 600}, "status_code"},
			{"status_code fraction", map[string]any{"status_code": 200.5}, "status_code"},
			{"status_code bool", map[string]any{"status_code": true}, "status_code"},
			{"user_id too long", map[string]any{"user_id": strings.Repeat("u", 257)}, "user_id"},
			{"user_id NUL", map[string]any{"user_id": "\x00"}, "user_id"},
			{"user_id number", map[string]any{"user_id": 42}, "user_id"},
			{"message too long", map[string]any{"message": strings.Repeat("m", 16<<10+1)}, "message"},
			{"message NUL", map[string]any{"message": "hello\x00world"}, "message"},
			{"tags too many", map[string]any{"tags": manyTags(51, 3, 1)}, "tags"},
			{"tags key too long", map[string]any{"tags": manyTags(1, 65, 1)}, "tags"},
			{"tags key empty", map[string]any{"tags": map[string]any{"": "v"}}, "tags"},
			{"tags value too long", map[string]any{"tags": manyTags(1, 3, 257)}, "tags"},
			{"tags value number", map[string]any{"tags": map[string]any{"k": 1}}, "tags"},
			{"tags value object", map[string]any{"tags": map[string]any{"k": map[string]any{}}}, "tags"},
			{"tags array", map[string]any{"tags": []any{"a", "b"}}, "tags"},
			{"tags string", map[string]any{"tags": "env=prod"}, "tags"},
			{"tags NUL value", map[string]any{"tags": map[string]any{"k": "v\x00"}}, "tags"},
			{"tags NUL key", map[string]any{"tags": map[string]any{"k\x00": "v"}}, "tags"},
			{"timestamp garbage", map[string]any{"timestamp": "yesterday"}, "timestamp"},
			{"timestamp date only", map[string]any{"timestamp": now.Format("2006-01-02")}, "timestamp"},
			{"timestamp no zone", map[string]any{"timestamp": now.Format("2006-01-02T15:04:05")}, "timestamp"},
			{"timestamp number", map[string]any{"timestamp": now.Unix()}, "timestamp"},
			{"timestamp future", map[string]any{"timestamp": ts(now.Add(time.Hour + time.Minute))}, "timestamp"},
			{"timestamp older than retention", map[string]any{"timestamp": ts(now.Add(-31 * 24 * time.Hour))}, "timestamp"},
			{"external_id empty", map[string]any{"external_id": ""}, "external_id"},
			{"external_id too long", map[string]any{"external_id": strings.Repeat("x", 257)}, "external_id"},
			{"external_id NUL", map[string]any{"external_id": "a\x00"}, "external_id"},
			{"external_id number", map[string]any{"external_id": 12}, "external_id"},
			{"payload array", map[string]any{"payload": []any{1, 2}}, "payload"},
			{"payload string", map[string]any{"payload": "{}"}, "payload"},
			{"payload number", map[string]any{"payload": 1}, "payload"},
			{"payload NUL", map[string]any{"payload": map[string]any{"s": "a\x00b"}}, "payload"},
			{"unknown field", map[string]any{"colour": "red"}, "colour"},
			{"unknown field like a real one", map[string]any{"Severity_": "info"}, "Severity_"},
			// encoding/json matches names case-insensitively; the contract
			// names exact fields, so "SERVICE" is unknown (and would
			// otherwise silently replace "service").
			{"field name in other case", map[string]any{"SERVICE": "other"}, "SERVICE"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := n.do("POST", "/api/v1/events", key, event(c.over))
				invalid(t, r, c.field)
			})
		}
		// Nothing of the above was stored.
		if p := n.search(key, q("limit", "1000")); len(p.Events) != 0 {
			t.Fatalf("%d rejected events were stored", len(p.Events))
		}
	})
}

// TestValidationAcceptsBoundaryValues sends the largest and smallest good
// value of each rule and expects 201 and the value stored as sent.
func TestValidationAcceptsBoundaryValues(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("validation-ok", 100000)
		now := n.Clock.Now()
		cases := []struct {
			name  string
			over  map[string]any
			check func(e storedEvent) bool
		}{
			{"event_type 128 and all characters", map[string]any{"event_type": strings.Repeat("aZ09_.:-", 16)}, func(e storedEvent) bool { return e.EventType == strings.Repeat("aZ09_.:-", 16) }},
			{"event_type 1", map[string]any{"event_type": "x"}, func(e storedEvent) bool { return e.EventType == "x" }},
			{"severity debug", map[string]any{"severity": "debug"}, func(e storedEvent) bool { return e.Severity == "debug" }},
			{"severity info", map[string]any{"severity": "info"}, func(e storedEvent) bool { return e.Severity == "info" }},
			{"severity warning", map[string]any{"severity": "warning"}, func(e storedEvent) bool { return e.Severity == "warning" }},
			{"severity error", map[string]any{"severity": "error"}, func(e storedEvent) bool { return e.Severity == "error" }},
			{"severity critical", map[string]any{"severity": "critical"}, func(e storedEvent) bool { return e.Severity == "critical" }},
			{"severity default", map[string]any{"severity": nil}, func(e storedEvent) bool { return e.Severity == "info" }},
			{"service 128 characters", map[string]any{"service": strings.Repeat("é", 128)}, func(e storedEvent) bool { return e.Service == strings.Repeat("é", 128) }},
			{"endpoint 512", map[string]any{"endpoint": "/" + strings.Repeat("a", 511)}, func(e storedEvent) bool { return len(e.Endpoint) == 512 }},
			{"status_code 100", map[string]any{"status_code": 100}, func(e storedEvent) bool { return e.StatusCode == 100 }},
			{"status_code 599", map[string]any{"status_code": 599}, func(e storedEvent) bool { return e.StatusCode == 599 }},
			{"status_code null", map[string]any{"status_code": nil}, func(e storedEvent) bool { return e.StatusCode == 0 }},
			{"user_id 256", map[string]any{"user_id": strings.Repeat("ü", 256)}, func(e storedEvent) bool { return e.UserID == strings.Repeat("ü", 256) }},
			{"message 16 KiB", map[string]any{"message": strings.Repeat("m", 16<<10)}, func(e storedEvent) bool { return len(e.Message) == 16<<10 }},
			{"tags 50 keys of 64, values of 256", map[string]any{"tags": manyTags(50, 64, 256)}, func(e storedEvent) bool { return len(e.Tags) == 50 }},
			{"tags empty value", map[string]any{"tags": map[string]any{"k": ""}}, func(e storedEvent) bool { v, ok := e.Tags["k"]; return ok && v == "" }},
			{"timestamp 59 minutes ahead", map[string]any{"timestamp": ts(now.Add(59 * time.Minute))}, func(e storedEvent) bool { return e.Timestamp.Equal(now.Add(59 * time.Minute)) }},
			{"timestamp 29 days old", map[string]any{"timestamp": ts(now.Add(-29 * 24 * time.Hour))}, func(e storedEvent) bool { return e.Timestamp.Equal(now.Add(-29 * 24 * time.Hour)) }},
			{"timestamp with offset", map[string]any{"timestamp": now.In(time.FixedZone("", 2*3600)).Format(time.RFC3339)}, func(e storedEvent) bool { return e.Timestamp.Equal(now) }},
			{"timestamp microseconds", map[string]any{"timestamp": ts(now.Add(-123456 * time.Microsecond))}, func(e storedEvent) bool { return e.Timestamp.Equal(now.Add(-123456 * time.Microsecond)) }},
			{"external_id 256", map[string]any{"external_id": strings.Repeat("x", 256)}, func(e storedEvent) bool { return e.ExternalID == strings.Repeat("x", 256) }},
			{"payload empty object", map[string]any{"payload": map[string]any{}}, func(e storedEvent) bool { return string(e.Payload) == "{}" }},
			{"payload nested", map[string]any{"payload": map[string]any{"a": []any{1, "two", nil, true}, "b": map[string]any{"c": 1.5}}}, func(e storedEvent) bool {
				return string(e.Payload) == `{"a":[1,"two",null,true],"b":{"c":1.5}}`
			}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				id := n.ingest(key, event(c.over))
				if e := n.get(key, id); !c.check(e) {
					t.Errorf("stored event does not hold the value sent: %+v", e)
				}
			})
		}
	})
}

func TestValidationListsEveryBrokenField(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("multi", 0)
		r := n.do("POST", "/api/v1/events", key, event(map[string]any{"severity": "loud", "status_code": 42, "service": nil}))
		m := problem(t, r, http.StatusUnprocessableEntity)
		got := fields(m)
		for _, f := range []string{"severity", "status_code", "service"} {
			if !strings.Contains(strings.Join(got, ","), f) {
				t.Errorf("errors %q lack %q", got, f)
			}
		}
	})
}

// TestValidationTenantRetention: the retention limit is the tenant's own.
func TestValidationTenantRetention(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		r := n.do("POST", "/admin/v1/tenants", adminToken, map[string]any{"name": "short", "retention_days": 7})
		expectStatus(t, r, http.StatusCreated)
		key := r.JSON(t)["api_key"].(string)
		now := n.Clock.Now()
		invalid(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"timestamp": ts(now.Add(-8 * 24 * time.Hour))})), "timestamp")
		n.ingest(key, event(map[string]any{"timestamp": ts(now.Add(-6 * 24 * time.Hour))}))
	})
}

// TestValidationBodyShape covers bodies that are JSON but not an event,
// duplicate keys, and non-JSON bodies.
func TestValidationBodyShape(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("shape", 0)
		for _, body := range []string{`[1,2]`, `"event"`, `42`, `null`} {
			r := n.do("POST", "/api/v1/events", key, body)
			if r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity {
				t.Errorf("body %s: status %d, want 400 or 422: %s", body, r.Status, r.Body)
			}
			problem(t, r, r.Status)
		}
		for _, body := range []string{`{"event_type":`, `not json`, `{"event_type":"a","service":"b"} trailing`, `{'a':1}`, ``} {
			problem(t, n.do("POST", "/api/v1/events", key, body), http.StatusBadRequest)
		}
		dup := `{"event_type":"a","service":"b","severity":"info","severity":"error"}`
		invalid(t, n.do("POST", "/api/v1/events", key, dup), "severity")
		if p := n.search(key, nil); len(p.Events) != 0 {
			t.Fatalf("%d events stored from bad bodies", len(p.Events))
		}
	})
}
