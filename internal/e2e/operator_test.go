package e2e

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Issue 17: what a new operator meets in the first hour.

// An NDJSON batch gets the same per-event results as the same events in a
// JSON batch, with the same count limit.
func TestBatchNDJSON(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("ndjson", 0)
		lines := []string{
			`{"event_type": "signup", "service": "accounts", "external_id": "s-1"}`,
			`{"event_type": "signup", "service": "accounts", "external_id": "s-1"}`,
			`{"event_type": "signup", "service": "accounts", "severity": "loud"}`,
			`not json`,
			``,
			`{"event_type": "signup", "service": "accounts"}`,
		}
		r := n.do("POST", "/api/v1/events/batch", key, strings.Join(lines, "\r\n")+"\n", "Content-Type", "application/x-ndjson")
		expectStatus(t, r, http.StatusOK)
		var b batchResult
		mustUnmarshal(t, r.Body, &b)
		b.checkOrder(t, 5)
		want := []string{"created", "duplicate", "rejected", "rejected", "created"}
		for i, res := range b.Results {
			if res.Status != want[i] {
				t.Errorf("line %d: %+v, want %s", i, res, want[i])
			}
		}
		if b.Accepted != 2 || b.Duplicates != 1 || b.Rejected != 2 {
			t.Errorf("counts %+v", b)
		}
		if b.Results[1].ID != b.Results[0].ID || b.Results[2].Errors[0].Field != "severity" {
			t.Errorf("results %+v", b.Results)
		}
		// The same events as a JSON batch (without the line that is not
		// JSON): the same outcomes, now all duplicates or rejections.
		var evs []map[string]any
		for _, l := range lines {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil {
				evs = append(evs, m)
			}
		}
		_, jb := n.batch(key, evs)
		if jb.Duplicates != 2 || jb.Rejected != 1 || jb.Results[0].ID != b.Results[0].ID {
			t.Errorf("JSON batch of the same events: %+v", jb)
		}
		// Limits: empty and too many lines are 422 events.
		invalid(t, n.do("POST", "/api/v1/events/batch", key, "\n\n", "Content-Type", "application/x-ndjson"), "events")
		invalid(t, n.do("POST", "/api/v1/events/batch", key, strings.Repeat("{}\n", 1001), "Content-Type", "application/x-ndjson"), "events")
	})
}

// Each validation problem is reported once: an unknown field, a number
// where the timestamp string belongs.
func TestValidationProblemOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("once", 0)
		for field, ev := range map[string]map[string]any{
			"bogus":     event(map[string]any{"bogus": 1}),
			"timestamp": event(map[string]any{"timestamp": 12345}),
		} {
			m := invalid(t, n.do("POST", "/api/v1/events", key, ev), field)
			if fs := fields(m); len(fs) != 1 {
				t.Errorf("%s: %d problems %q, want one: %s", field, len(fs), fs, m)
			}
			_, b := n.batch(key, []map[string]any{ev})
			if len(b.Results) != 1 || len(b.Results[0].Errors) != 1 || b.Results[0].Errors[0].Field != field {
				t.Errorf("%s in a batch: %+v", field, b.Results)
			}
		}
	})
}

// Tenant names are unique per server: a second tenant, or a rename, with a
// name in use is a 409 that names it.
func TestTenantNamesUnique(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		n.tenant("checkout-team", 0)
		otherID, _ := n.tenant("payments", 0)
		m := problem(t, n.do("POST", "/admin/v1/tenants", adminToken, map[string]any{"name": "checkout-team"}), http.StatusConflict)
		if !strings.Contains(m["detail"].(string), `"checkout-team"`) {
			t.Errorf("409 does not name the name: %v", m)
		}
		// Names are trimmed before they are compared.
		problem(t, n.do("POST", "/admin/v1/tenants", adminToken, map[string]any{"name": "  checkout-team "}), http.StatusConflict)
		problem(t, n.do("PATCH", "/admin/v1/tenants/"+otherID, adminToken, map[string]any{"name": "checkout-team"}), http.StatusConflict)
		r := n.do("GET", "/admin/v1/tenants", adminToken, nil)
		var list struct {
			Tenants []struct{ Name string } `json:"tenants"`
		}
		mustUnmarshal(t, r.Body, &list)
		var names []string
		for _, tn := range list.Tenants {
			names = append(names, tn.Name)
		}
		if slices.Compare(names, []string{"checkout-team", "payments"}) != 0 {
			t.Errorf("tenants after refused duplicates: %q", names)
		}
	})
}

// /metrics carries pulsestream_build_info with the module version and VCS
// revision labels.
func TestBuildInfoMetric(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		r := n.do("GET", "/metrics", "", nil)
		expectStatus(t, r, http.StatusOK)
		re := regexp.MustCompile(`(?m)^pulsestream_build_info\{goversion="go[^"]+",revision="[^"]+",version="[^"]+"\} 1$`)
		if !re.Match(r.Body) {
			t.Errorf("/metrics lacks pulsestream_build_info: %s", regexp.MustCompile(`(?m)^pulsestream_build.*$`).Find(r.Body))
		}
	})
}

// Backups over HTTP are for SQLite; PostgreSQL gets a 400 naming pg_dump.
func TestBackupEndpoint(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		problem(t, n.do("GET", "/admin/v1/backup", "", nil), http.StatusUnauthorized)
		r := n.do("GET", "/admin/v1/backup", adminToken, nil)
		if strings.HasPrefix(n.DB, "sqlite") {
			expectStatus(t, r, http.StatusOK)
			if !strings.HasPrefix(string(r.Body), "SQLite format 3\x00") || r.Header.Get("Content-Type") != "application/vnd.sqlite3" {
				t.Errorf("not a SQLite file: %q %q", r.Header.Get("Content-Type"), r.Body[:min(16, len(r.Body))])
			}
			return
		}
		if m := problem(t, r, http.StatusBadRequest); !strings.Contains(m["detail"].(string), "pg_dump") {
			t.Errorf("PostgreSQL backup: %v", m)
		}
	})
}
