package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/pulsestream/pulsestream/internal/config"
)

// The Elasticsearch bulk door, driven by the official Elasticsearch Go
// client (go-elasticsearch v8: its product check, ApiKey auth and
// esutil.BulkIndexer) against the real server.

const esBase = "/api/v1/ingest/elasticsearch"

func esClient(t *testing.T, n *node, key string) *elasticsearch.Client {
	t.Helper()
	c, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: []string{n.URL + esBase}, APIKey: key, DisableRetry: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// esDoc is one document for the indexer.
type esDoc struct {
	action, id string
	doc        any
}

// esOutcome is one item's answer as the client reads it.
type esOutcome struct {
	ok      bool // OnSuccess (else OnFailure)
	status  int
	result  string
	errType string
}

// bulkIndex sends docs through an esutil.BulkIndexer (one worker, one
// flush, into index) and returns each item's outcome by document id.
func bulkIndex(t *testing.T, c *elasticsearch.Client, index string, docs []esDoc) map[string]esOutcome {
	t.Helper()
	ctx := context.Background()
	var (
		mu  sync.Mutex
		out = map[string]esOutcome{}
	)
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client: c, Index: index, NumWorkers: 1, FlushInterval: time.Hour,
		OnError: func(_ context.Context, err error) { t.Errorf("bulk request failed: %v", err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	record := func(id string, ok bool, res esutil.BulkIndexerResponseItem) {
		mu.Lock()
		defer mu.Unlock()
		out[id] = esOutcome{ok: ok, status: res.Status, result: res.Result, errType: res.Error.Type}
	}
	for _, d := range docs {
		item := esutil.BulkIndexerItem{Action: d.action, DocumentID: d.id}
		if d.doc != nil {
			body, _ := json.Marshal(d.doc)
			item.Body = strings.NewReader(string(body))
		}
		id := d.id
		item.OnSuccess = func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem) {
			record(id, true, res)
		}
		item.OnFailure = func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
			if err != nil {
				t.Errorf("item %s: %v", id, err)
			}
			record(id, false, res)
		}
		if err := bi.Add(ctx, item); err != nil {
			t.Fatal(err)
		}
	}
	if err := bi.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(docs) {
		t.Fatalf("the client reported %d of %d items: %+v", len(out), len(docs), out)
	}
	return out
}

func expectOutcome(t *testing.T, out map[string]esOutcome, id string, want esOutcome) {
	t.Helper()
	if got := out[id]; got != want {
		t.Errorf("item %s: client read %+v, want %+v", id, got, want)
	}
}

// TestBulkIndexerMapping: the official client's version check passes;
// its BulkIndexer sends ECS documents with _ids → created and stored with
// the documented mapping, invalid and delete items 400; the same again →
// duplicates the client counts as successes, nothing stored twice; other
// content under a stored _id → 409; another tenant sees none of it and
// may use the same _ids.
func TestBulkIndexerMapping(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("shipper", 0)
		_, otherKey := n.tenant("other", 0)
		c := esClient(t, n, key)

		info, err := c.Info()
		if err != nil {
			t.Fatalf("Info (the client's product check): %v", err)
		}
		var ver struct {
			Version struct{ Number string } `json:"version"`
			Tagline string                  `json:"tagline"`
		}
		if err := json.NewDecoder(info.Body).Decode(&ver); err != nil || ver.Version.Number != "8.11.0" || info.Header.Get("X-Elastic-Product") != "Elasticsearch" {
			t.Fatalf("Info: %v %+v %v", err, ver, info.Header)
		}
		info.Body.Close()

		now := n.Clock.Now()
		docs := []esDoc{
			{"index", "o-1", map[string]any{
				"@timestamp": ts(now.Add(-time.Minute)), "message": "card declined",
				"log":     map[string]any{"level": "error"},
				"service": map[string]any{"name": "payments"}, "event.dataset": "payments.declined",
				"http":     map[string]any{"request": map[string]any{"method": "POST"}, "response": map[string]any{"status_code": 402}},
				"url.path": "/pay", "user": map[string]any{"id": "u-7"}, "host.name": "web-1", "attempt": 3,
			}},
			{"create", "o-2", map[string]any{"message": "second"}},
			{"index", "o-3", map[string]any{"@timestamp": ts(now.Add(2 * time.Hour)), "message": "from the future"}},
			{"delete", "o-9", nil},
		}
		out := bulkIndex(t, c, "checkout", docs)
		expectOutcome(t, out, "o-1", esOutcome{true, 201, "created", ""})
		expectOutcome(t, out, "o-9", esOutcome{false, 400, "", "action_request_validation_exception"})
		expectOutcome(t, out, "o-2", esOutcome{true, 201, "created", ""})
		expectOutcome(t, out, "o-3", esOutcome{false, 400, "", "mapper_parsing_exception"})

		page := n.search(key, q("external_id", "o-1"))
		if len(page.Events) != 1 {
			t.Fatalf("o-1 stored %d times", len(page.Events))
		}
		e := page.Events[0]
		if e.Service != "payments" || e.EventType != "payments.declined" || e.Severity != "error" || e.Message != "card declined" ||
			e.Endpoint != "/pay" || e.StatusCode != 402 || e.UserID != "u-7" || !e.Timestamp.Equal(now.Add(-time.Minute)) ||
			e.Tags["host.name"] != "web-1" || e.Tags["http.request.method"] != "POST" || len(e.Tags) != 2 || string(e.Payload) != `{"attempt":3}` {
			t.Errorf("o-1 stored as %+v (payload %s)", e, e.Payload)
		}
		page = n.search(key, q("external_id", "o-2"))
		if len(page.Events) != 1 || page.Events[0].Service != "checkout" || page.Events[0].EventType != "log" || page.Events[0].Severity != "info" {
			t.Errorf("o-2 (index as service) stored as %+v", page.Events)
		}

		// The shipper's retry: the same documents again.
		out = bulkIndex(t, c, "checkout", docs[:2])
		expectOutcome(t, out, "o-1", esOutcome{true, 200, "noop", ""})
		expectOutcome(t, out, "o-2", esOutcome{true, 200, "noop", ""})
		if got := n.search(key, q()); len(got.Events) != 2 {
			t.Errorf("after the same documents again: %d events, want 2", len(got.Events))
		}
		out = bulkIndex(t, c, "checkout", []esDoc{{"index", "o-2", map[string]any{"message": "changed"}}})
		expectOutcome(t, out, "o-2", esOutcome{false, 409, "", "version_conflict_engine_exception"})

		// Tenant isolation through this door.
		if got := n.search(otherKey, q()); len(got.Events) != 0 {
			t.Errorf("another tenant sees %d events", len(got.Events))
		}
		out = bulkIndex(t, esClient(t, n, otherKey), "", docs[1:2])
		expectOutcome(t, out, "o-2", esOutcome{true, 201, "created", ""})
		if got := n.search(key, q()); len(got.Events) != 2 {
			t.Errorf("the other tenant's document landed here: %d events", len(got.Events))
		}
	})
}

// TestBulkQuotaAndRefusals: over the quota the client reads per-item 429s
// (and Retry-After); Basic and ApiKey base64(id:key) credentials work, a
// wrong key is 401 and the admin token is still Bearer-only; whole-request
// problems are Elasticsearch-shaped errors.
func TestBulkQuotaAndRefusals(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("quota", 2)
		c := esClient(t, n, key)
		var docs []esDoc
		for i := range 3 {
			docs = append(docs, esDoc{"create", label(i), map[string]any{"message": label(i)}})
		}
		out := bulkIndex(t, c, "q", docs)
		expectOutcome(t, out, "e0", esOutcome{true, 201, "created", ""})
		expectOutcome(t, out, "e1", esOutcome{true, 201, "created", ""})
		expectOutcome(t, out, "e2", esOutcome{false, 429, "", "es_rejected_execution_exception"})

		// The retry of the whole request: the stored ones are duplicates
		// and cost nothing, the third is still over quota.
		body := ""
		for i := range 3 {
			body += fmt.Sprintf(`{"create":{"_id":%q}}`+"\n"+`{"message":%q}`+"\n", label(i), label(i))
		}
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("pulsestream:"+key))
		r := n.do("POST", esBase+"/q/_bulk", "", body, "Authorization", basic, "Content-Type", "application/x-ndjson")
		expectStatus(t, r, http.StatusOK)
		checkRetryAfter(t, r)
		var resp struct {
			Errors bool
			Items  []map[string]struct{ Status int }
		}
		mustUnmarshal(t, r.Body, &resp)
		if !resp.Errors || len(resp.Items) != 3 || resp.Items[0]["create"].Status != 200 || resp.Items[1]["create"].Status != 200 || resp.Items[2]["create"].Status != 429 {
			t.Errorf("retry answer %s", r.Body)
		}
		if got := n.search(key, q()); len(got.Events) != 2 {
			t.Errorf("stored %d events, want 2", len(got.Events))
		}

		apiKey := "ApiKey " + base64.StdEncoding.EncodeToString([]byte("any-id:"+key))
		expectStatus(t, n.do("GET", esBase+"/", "", nil, "Authorization", apiKey), http.StatusOK)
		for _, path := range []string{esBase, esBase + "/", esBase + "/_cluster/health"} {
			r := n.do("HEAD", path, key, nil)
			if r.Status != http.StatusOK || r.Header.Get("X-Elastic-Product") != "Elasticsearch" {
				t.Errorf("HEAD %s: %d %v", path, r.Status, r.Header)
			}
		}
		r = n.do("POST", esBase+"/_bulk", "psk_wrong", body, "Content-Type", "application/x-ndjson")
		expectStatus(t, r, http.StatusUnauthorized)
		if r.Header.Get("X-Elastic-Product") != "Elasticsearch" {
			t.Errorf("401 without X-Elastic-Product")
		}
		adminBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminToken))
		expectStatus(t, n.do("GET", "/admin/v1/tenants", "", nil, "Authorization", adminBasic), http.StatusUnauthorized)
		expectStatus(t, n.do("GET", "/admin/v1/tenants", "", nil, "Authorization", "ApiKey "+adminToken), http.StatusUnauthorized)

		for _, tc := range []struct {
			body, ct string
			status   int
		}{
			{"not json\n{}\n", "application/x-ndjson", http.StatusBadRequest},
			{`{"index":{}}` + "\n", "application/json", http.StatusBadRequest},
			{body, "text/plain", http.StatusUnsupportedMediaType},
		} {
			r := n.do("POST", esBase+"/_bulk", key, tc.body, "Content-Type", tc.ct)
			expectStatus(t, r, tc.status)
			var e struct {
				Error  struct{ Type, Reason string }
				Status int
			}
			mustUnmarshal(t, r.Body, &e)
			if e.Status != tc.status || e.Error.Type == "" || e.Error.Reason == "" {
				t.Errorf("%q: error body %s", tc.body, r.Body)
			}
		}
	})
}

// TestBulkSignedTenant: a tenant that requires signed requests refuses an
// unsigned bulk request (401, nothing stored) and takes a signed one.
func TestBulkSignedTenant(t *testing.T) {
	t.Parallel()
	mutate := func(c *config.Config) { c.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }
	eachBackendCfg(t, mutate, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("signed", 0)
		r := n.do("POST", "/api/v1/signing-secrets", key, map[string]any{"name": "shipper"})
		expectStatus(t, r, http.StatusCreated)
		secret := r.JSON(t)["secret"].(string)
		expectStatus(t, n.do("PATCH", "/admin/v1/tenants/"+tenantID, adminToken, map[string]any{"require_signed_requests": true}), http.StatusOK)
		body := []byte(`{"create":{"_id":"s-1"}}` + "\n" + `{"message":"m"}` + "\n")
		expectStatus(t, n.do("POST", esBase+"/_bulk", key, body, "Content-Type", "application/x-ndjson"), http.StatusUnauthorized)
		if got := n.search(key, q()); len(got.Events) != 0 {
			t.Fatalf("unsigned request stored %d", len(got.Events))
		}
		headers := append([]string{"Content-Type", "application/x-ndjson"}, signedHeaders(secret, n.Clock.Now().Unix(), body)...)
		expectStatus(t, n.do("POST", esBase+"/_bulk", key, body, headers...), http.StatusOK)
		if got := n.search(key, q("external_id", "s-1")); len(got.Events) != 1 {
			t.Fatalf("signed request: stored %d", len(got.Events))
		}
	})
}
