package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// subjectTarget is how the audit log names a data subject (a hash of the
// user id, never the id itself).
func subjectTarget(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return "user_id_sha256:" + hex.EncodeToString(sum[:])
}

func exportNDJSON(t *testing.T, n *node, key, userID string) []storedEvent {
	t.Helper()
	r := n.do("GET", "/api/v1/users/"+url.PathEscape(userID)+"/events/export", key, nil)
	expectStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type = %q", ct)
	}
	var out []storedEvent
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e storedEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("export line is not an event: %v: %q", err, sc.Text())
		}
		out = append(out, e)
	}
	return out
}

func TestDataSubjectExportErase(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("subjects", 10000)
		_, otherKey := n.tenant("others", 0)
		base := n.Clock.Now().Add(-time.Hour)
		const user = "alice/ü 1" // a slash and a space: escaped in the path
		var evs []map[string]any
		for i := range 1203 { // more than two export pages
			u := user
			if i%100 == 7 {
				u = "bob"
			}
			evs = append(evs, event(map[string]any{"user_id": u, "external_id": fmt.Sprintf("x%d", i),
				"timestamp": ts(base.Add(time.Duration(i) * time.Millisecond)), "message": fmt.Sprintf("m%d", i)}))
		}
		for i := 0; i < len(evs); i += 1000 {
			resp, b := n.batch(key, evs[i:min(i+1000, len(evs))])
			expectStatus(t, resp, http.StatusOK)
			if b.Accepted != min(1000, len(evs)-i) {
				t.Fatalf("batch: %d accepted, %d rate limited", b.Accepted, b.RateLimited)
			}
		}
		n.ingest(otherKey, event(map[string]any{"user_id": user}))

		got := exportNDJSON(t, n, key, user)
		if len(got) != 1203-12 {
			t.Fatalf("export: %d events, want %d", len(got), 1203-12)
		}
		seen := map[string]bool{}
		for i, e := range got {
			if e.UserID != user || seen[e.ID] || i > 0 && e.Timestamp.After(got[i-1].Timestamp) {
				t.Fatalf("export line %d: %+v (repeated or out of order or another user)", i, e)
			}
			seen[e.ID] = true
		}

		// Scope: a key without admin may not.
		_, readKey := n.newKey(tenantID, map[string]any{"scopes": []string{"read"}})
		problem(t, n.do("GET", "/api/v1/users/bob/events/export", readKey, nil), http.StatusForbidden)
		problem(t, n.do("DELETE", "/api/v1/users/bob/events", readKey, nil), http.StatusForbidden)
		invalid(t, n.do("DELETE", "/api/v1/users/bob/events?x=1", key, nil), "x")

		r := n.do("DELETE", "/api/v1/users/"+url.PathEscape(user)+"/events", key, nil)
		expectStatus(t, r, http.StatusOK)
		if m := r.JSON(t); m["erased"] != float64(1191) {
			t.Fatalf("erase: %s", r.Body)
		}
		if got := exportNDJSON(t, n, key, user); len(got) != 0 {
			t.Errorf("%d events left after the erasure", len(got))
		}
		problem(t, n.do("GET", "/api/v1/events/"+got[0].ID, key, nil), http.StatusNotFound)
		if got := exportNDJSON(t, n, key, "bob"); len(got) != 12 {
			t.Errorf("bob has %d events, want 12", len(got))
		}
		if got := exportNDJSON(t, n, otherKey, user); len(got) != 1 {
			t.Errorf("the other tenant's user has %d events, want 1", len(got))
		}
		// Idempotent, and a replay of an erased event is not stored again.
		r = n.do("DELETE", "/api/v1/users/"+url.PathEscape(user)+"/events", key, nil)
		expectStatus(t, r, http.StatusOK)
		if m := r.JSON(t); m["erased"] != float64(0) {
			t.Errorf("second erase: %s", r.Body)
		}
		resp, b := n.batch(key, evs[:5])
		expectStatus(t, resp, http.StatusOK)
		if b.Accepted != 0 || b.Duplicates != 5 {
			t.Errorf("replay after erasure: %d accepted, %d duplicates", b.Accepted, b.Duplicates)
		}
		if got := exportNDJSON(t, n, key, user); len(got) != 0 {
			t.Errorf("the replay stored %d erased events again", len(got))
		}

		entries, _ := auditLog(t, n, "/api/v1/audit-log", key)
		var actions []string
		for _, e := range entries {
			if e.Target == subjectTarget(user) {
				actions = append(actions, fmt.Sprintf("%s %v", e.Action, e.After))
			}
		}
		want := []string{"user_events.export map[events:0]", "user_events.erase map[complete:true erased:0]", "user_events.export map[events:0]",
			"user_events.erase map[complete:true erased:1191]", "user_events.export map[events:1191]"}
		if fmt.Sprint(actions) != fmt.Sprint(want) {
			t.Errorf("audit entries (newest first) = %q\nwant %q", actions, want)
		}
	})
}
