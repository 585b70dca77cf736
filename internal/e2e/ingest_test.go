package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
)

func TestIngestStoresEveryField(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("fields", 0)
		when := n.Clock.Now().Add(-90 * time.Second).Add(250 * time.Microsecond)
		in := map[string]any{
			"event_type": "checkout.completed", "severity": "warning", "service": "shop-api",
			"endpoint": "/v1/cart/{id}", "status_code": 502, "user_id": "user-ß-42",
			"message": "upstream \"payments\" timed out\nretrying 🚀", "tags": map[string]any{"env": "prod", "region": "eu-west-1"},
			"timestamp": ts(when), "external_id": "order-7781", "payload": map[string]any{"amount": 12.5, "items": []any{"a", "b"}},
		}
		id := n.ingest(key, in)
		e := n.get(key, id)
		want := storedEvent{
			ID: id, ExternalID: "order-7781", EventType: "checkout.completed", Severity: "warning", Service: "shop-api",
			Endpoint: "/v1/cart/{id}", StatusCode: 502, UserID: "user-ß-42", Message: "upstream \"payments\" timed out\nretrying 🚀",
			Tags: map[string]string{"env": "prod", "region": "eu-west-1"}, Timestamp: when,
		}
		if e.ExternalID != want.ExternalID || e.EventType != want.EventType || e.Severity != want.Severity || e.Service != want.Service ||
			e.Endpoint != want.Endpoint || e.StatusCode != want.StatusCode || e.UserID != want.UserID || e.Message != want.Message ||
			len(e.Tags) != 2 || e.Tags["env"] != "prod" || e.Tags["region"] != "eu-west-1" || !e.Timestamp.Equal(when) {
			t.Fatalf("stored\n %+v\nwant\n %+v", e, want)
		}
		var p map[string]any
		if err := json.Unmarshal(e.Payload, &p); err != nil || p["amount"] != 12.5 || len(p["items"].([]any)) != 2 {
			t.Fatalf("payload = %s", e.Payload)
		}
		if !e.ReceivedAt.Equal(n.Clock.Now()) {
			t.Errorf("received_at = %v, want the receive time %v", e.ReceivedAt, n.Clock.Now())
		}
	})
}

func TestIngestDefaults(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("defaults", 0)
		n.Clock.Advance(1234567 * time.Microsecond)
		id := n.ingest(key, event(map[string]any{"severity": nil}))
		e := n.get(key, id)
		if e.Severity != "info" {
			t.Errorf("severity = %q, want the default info", e.Severity)
		}
		if !e.Timestamp.Equal(n.Clock.Now()) {
			t.Errorf("timestamp = %v, want the receive time %v", e.Timestamp, n.Clock.Now())
		}
		if e.ExternalID != "" || e.Endpoint != "" || e.StatusCode != 0 || len(e.Tags) != 0 || len(e.Payload) != 0 {
			t.Errorf("absent fields came back set: %+v", e)
		}
	})
}

func TestIngestIdempotentReplay(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("replay", 0)
		ev := event(map[string]any{"external_id": "req-1", "message": "hello", "tags": map[string]any{"a": "1", "b": "2"}})
		id := n.ingest(key, ev)

		// The very same body, sent later: the server filled in timestamp the
		// first time, but the replay is still the same event.
		n.Clock.Advance(10 * time.Minute)
		for range 2 {
			r := n.do("POST", "/api/v1/events", key, ev)
			expectStatus(t, r, http.StatusOK)
			if m := r.JSON(t); m["status"] != "duplicate" || m["id"] != id {
				t.Fatalf("replay = %s, want duplicate of %s", r.Body, id)
			}
		}
		// Key order inside the object does not matter either.
		reordered := `{"tags":{"b":"2","a":"1"},"message":"hello","severity":"info","service":"checkout","external_id":"req-1","event_type":"http.request"}`
		r := n.do("POST", "/api/v1/events", key, reordered)
		expectStatus(t, r, http.StatusOK)
		if m := r.JSON(t); m["id"] != id {
			t.Fatalf("reordered replay = %s", r.Body)
		}

		// Different content with the same external_id is a conflict naming the original.
		for _, over := range []map[string]any{
			{"message": "other"},
			{"severity": "error"},
			{"tags": map[string]any{"a": "1"}},
			{"timestamp": ts(n.Clock.Now())},
			{"payload": map[string]any{"x": 1}},
		} {
			changed := event(map[string]any{"external_id": "req-1", "message": "hello", "tags": map[string]any{"a": "1", "b": "2"}})
			for k, v := range over {
				changed[k] = v
			}
			m := problem(t, n.do("POST", "/api/v1/events", key, changed), http.StatusConflict)
			if m["id"] != id {
				t.Errorf("conflict (%v) id = %v, want the original %s", over, m["id"], id)
			}
		}
		// Exactly one event is stored.
		if p := n.search(key, q("external_id", "req-1")); len(p.Events) != 1 || p.Events[0].ID != id || p.Events[0].Message != "hello" {
			t.Fatalf("search by external_id = %+v", p.Events)
		}
		if p := n.search(key, nil); len(p.Events) != 1 {
			t.Fatalf("%d events stored, want 1", len(p.Events))
		}
	})
}

func TestIngestConcurrentSameExternalID(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("race", 1000)
		ev := event(map[string]any{"external_id": "same-for-all", "message": "race"})
		const clients = 50
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			statuses = map[int]int{}
			idsSeen  = map[string]int{}
			errs     []string
		)
		start := make(chan struct{})
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r, err := n.send("POST", "/api/v1/events", key, ev)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err.Error())
					return
				}
				statuses[r.Status]++
				var m map[string]string
				if json.Unmarshal(r.Body, &m) == nil {
					idsSeen[m["id"]]++
					if (r.Status == 201) != (m["status"] == "created") || (r.Status == 200) != (m["status"] == "duplicate") {
						errs = append(errs, "status field mismatch: "+string(r.Body))
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		if statuses[201] != 1 || statuses[200] != clients-1 {
			t.Fatalf("statuses = %v, want one 201 and %d 200", statuses, clients-1)
		}
		if len(idsSeen) != 1 {
			t.Fatalf("ids returned = %v, want one id", idsSeen)
		}
		p := n.search(key, q("external_id", "same-for-all"))
		if len(p.Events) != 1 || idsSeen[p.Events[0].ID] != clients {
			t.Fatalf("search found %d events (%v), want exactly the one returned", len(p.Events), ids(p.Events))
		}
	})
}

func TestIngestContentTypeAndBody(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("ctype", 0)
		body, _ := json.Marshal(event(nil))
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "json"} {
			r := n.do("POST", "/api/v1/events", key, body, "Content-Type", ct)
			problem(t, r, http.StatusUnsupportedMediaType)
		}
		for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON"} {
			r := n.do("POST", "/api/v1/events", key, body, "Content-Type", ct)
			expectStatus(t, r, http.StatusCreated)
		}
		problem(t, n.do("POST", "/api/v1/events", key, body, "Content-Encoding", "br"), http.StatusUnsupportedMediaType)
		problem(t, n.do("POST", "/api/v1/events", key, []byte("\x1f\x8bnot gzip"), "Content-Encoding", "gzip"), http.StatusBadRequest)
		problem(t, n.do("POST", "/api/v1/events", key, "{not json}"), http.StatusBadRequest)
	})
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipBomb is an event of 11 MiB that compresses to a few KiB (made once:
// compressing is slow under the race detector).
var gzipBomb = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write([]byte(`{"event_type":"bomb","service":"s","message":"`))
	spaces := bytes.Repeat([]byte(" "), 1<<20)
	for range 11 {
		_, _ = zw.Write(spaces)
	}
	_, _ = zw.Write([]byte(`"}`))
	_ = zw.Close()
	return buf.Bytes()
})

// TestIngestSizeLimits uses the default size limits: a 5 MiB payload fits,
// a body over 10 MiB does not, also when it only grows that large after
// gzip decompression. The request and statement timeouts are generous: a
// 5 MiB event is one statement, which on a loaded machine under -race can
// outlast the default 5 s statement timeout (a 503), and time is not what
// this test is about.
func TestIngestSizeLimits(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, func(c *config.Config) {
		c.RequestTimeout, c.PGStatementTimeout = 2*time.Minute, 2*time.Minute
	}, func(t *testing.T, n *node) {
		_, key := n.tenant("sizes", 0)
		const maxPayload = 5 << 20

		// A payload of exactly 5 MiB encoded.
		prefix, suffix := `{"blob":"`, `"}`
		blob := strings.Repeat("x", maxPayload-len(prefix)-len(suffix))
		payload := prefix + blob + suffix
		body := `{"event_type":"big","service":"s","payload":` + payload + `}`
		r := n.do("POST", "/api/v1/events", key, body)
		expectStatus(t, r, http.StatusCreated)
		id := r.JSON(t)["id"].(string)
		if e := n.get(key, id); string(e.Payload) != payload {
			t.Fatalf("5 MiB payload came back with %d bytes, want %d", len(e.Payload), len(payload))
		}

		// One byte more is a 422 naming payload.
		body = `{"event_type":"big","service":"s","payload":` + prefix + blob + "x" + suffix + `}`
		invalid(t, n.do("POST", "/api/v1/events", key, body), "payload")

		// A body over 10 MiB: 413, with and without a Content-Length.
		huge := `{"event_type":"big","service":"s","message":"` + strings.Repeat("m", 10<<20) + `"}`
		problem(t, n.do("POST", "/api/v1/events", key, huge), http.StatusRequestEntityTooLarge)
		problem(t, n.do("POST", "/api/v1/events", key, strings.NewReader(huge)), http.StatusRequestEntityTooLarge)
		problem(t, n.do("POST", "/api/v1/events/batch", key, `{"events":[`+huge+`]}`), http.StatusRequestEntityTooLarge)

		// Gzip: a small event is accepted, and a bomb that inflates past
		// 10 MiB is refused.
		small, _ := json.Marshal(event(map[string]any{"message": "zipped"}))
		r = n.do("POST", "/api/v1/events", key, gz(t, small), "Content-Encoding", "gzip")
		expectStatus(t, r, http.StatusCreated)
		if e := n.get(key, r.JSON(t)["id"].(string)); e.Message != "zipped" {
			t.Fatalf("gzip event message = %q", e.Message)
		}
		bomb := gzipBomb()
		if len(bomb) > 100<<10 {
			t.Fatalf("bomb is %d bytes compressed", len(bomb))
		}
		problem(t, n.do("POST", "/api/v1/events", key, bomb, "Content-Encoding", "gzip"), http.StatusRequestEntityTooLarge)
		problem(t, n.do("POST", "/api/v1/events/batch", key, bomb, "Content-Encoding", "gzip"), http.StatusRequestEntityTooLarge)

		if p := n.search(key, nil); len(p.Events) != 2 {
			t.Fatalf("%d events stored, want 2", len(p.Events))
		}
	})
}

// TestIngestConfiguredBodyLimit: the body limit is configurable and applies
// after decompression.
func TestIngestConfiguredBodyLimit(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, func(c *config.Config) {
		c.MaxBodyBytes = 4096
		c.MaxPayloadBytes = 1024
	}, func(t *testing.T, n *node) {
		_, key := n.tenant("small", 0)
		fits := event(map[string]any{"message": strings.Repeat("a", 3000)})
		n.ingest(key, fits)
		tooBig := event(map[string]any{"message": strings.Repeat("a", 4096)})
		problem(t, n.do("POST", "/api/v1/events", key, tooBig), http.StatusRequestEntityTooLarge)
		data, _ := json.Marshal(tooBig)
		problem(t, n.do("POST", "/api/v1/events", key, gz(t, data), "Content-Encoding", "gzip"), http.StatusRequestEntityTooLarge)
		invalid(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"payload": map[string]any{"a": strings.Repeat("p", 1100)}})), "payload")

		// Incompressible data: the gzip stream itself is over the limit.
		noise := make([]byte, 6000)
		_, _ = rand.Read(noise)
		data, _ = json.Marshal(event(map[string]any{"message": base64.StdEncoding.EncodeToString(noise)}))
		zipped := gz(t, data)
		if len(zipped) <= 4096 {
			t.Fatalf("compressed noise is only %d bytes", len(zipped))
		}
		problem(t, n.do("POST", "/api/v1/events", key, zipped, "Content-Encoding", "gzip"), http.StatusRequestEntityTooLarge)
	})
}

// A gzip body that is over the limit after decompression and hardly
// compresses (so its compressed form is over the limit too) is a 413, not a
// 400 for a body "cut off" by a cap on the compressed stream.
func TestIngestGzipIncompressibleOverLimit(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, func(c *config.Config) { c.MaxBodyBytes = 64 << 10; c.MaxPayloadBytes = 32 << 10 }, func(t *testing.T, n *node) {
		_, key := n.tenant("gzip-limit", 1000)
		noise := make([]byte, 96<<10)
		if _, err := rand.Read(noise); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(event(map[string]any{"message": hex.EncodeToString(noise)}))
		problem(t, n.do("POST", "/api/v1/events", key, gz(t, body), "Content-Encoding", "gzip"), http.StatusRequestEntityTooLarge)
	})
}
