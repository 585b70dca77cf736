package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const ev1 = `{"event_type":"a","service":"s"`

// hostileGzipBomb is 64 MiB of zeros gzipped (about 64 KiB), built once.
var hostileGzipBomb = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zero := make([]byte, 1<<20)
	for range 64 {
		_, _ = zw.Write(zero)
	}
	_ = zw.Close()
	return buf.Bytes()
})

// storedCount is the number of the tenant's events (at most 1000).
func storedCount(t *testing.T, n *node, key string) int {
	t.Helper()
	return len(n.search(key, q("limit", "1000")).Events)
}

// TestHostileInput sends hostile bodies to both ingest routes: each gets a
// clear 4xx problem (no 5xx, no internals leaked) and nothing is stored.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("hostile", 1_000_000)
		const one, batch = "/api/v1/events", "/api/v1/events/batch"
		nest := func(open, close string, depth int) string {
			return strings.Repeat(open, depth) + "1" + strings.Repeat(close, depth)
		}
		tags := map[string]any{}
		for i := range 10000 {
			tags[fmt.Sprintf("k%d", i)] = "v"
		}
		tenKTags, _ := json.Marshal(event(map[string]any{"tags": tags}))
		cases := []struct {
			name    string
			path    string
			body    any
			headers []string
			want    []int
		}{
			{"depth bomb in payload", one, ev1 + `,"payload":{"a":` + nest("[", "]", 100_000) + `}}`, nil, []int{400}},
			{"depth bomb of objects as body", one, nest(`{"a":`, "}", 100_000), nil, []int{400}},
			{"depth bomb in a batch", batch, `{"events":[` + ev1 + `,"payload":{"a":` + nest("[", "]", 100_000) + `}}]}`, nil, []int{400, 422}},
			{"depth bomb in tags", one, ev1 + `,"tags":` + nest(`{"a":`, "}", 100_000) + `}`, nil, []int{400}},
			{"huge float status_code", one, ev1 + `,"status_code":1e400}`, nil, []int{422}},
			{"huge integer status_code", one, ev1 + `,"status_code":123456789012345678901234567890}`, nil, []int{422}},
			{"tiny negative status_code", one, ev1 + `,"status_code":-1e-400}`, nil, []int{422}},
			{"huge number as severity", one, ev1 + `,"severity":1e999999}`, nil, []int{422}},
			{"raw NUL byte in the body", one, ev1 + ",\"message\":\"a\x00b\"}", nil, []int{400, 422}},
			{"escaped NUL in payload", one, ev1 + `,"payload":{"k":"a\u0000b"}}`, nil, []int{422}},
			{"escaped NUL in a tag key", one, ev1 + `,"tags":{"k\u0000":"v"}}`, nil, []int{422}},
			{"escaped NUL in external_id", one, ev1 + `,"external_id":"x\u0000"}`, nil, []int{422}},
			{"duplicate top-level key", one, ev1 + `,"external_id":"a","external_id":"b"}`, nil, []int{422}},
			{"10,000 tags", one, tenKTags, nil, []int{422}},
			{"10,000 tags in a batch", batch, `{"events":[` + string(tenKTags) + `]}`, nil, []int{422}},
			{"gzip bomb (64 MiB of zeros)", one, hostileGzipBomb(), []string{"Content-Encoding", "gzip"}, []int{413}},
			{"gzip bomb in a batch", batch, hostileGzipBomb(), []string{"Content-Encoding", "gzip"}, []int{413}},
			{"CR/LF in external_id", one, ev1 + `,"external_id":"x\r\nX-Injected: 1"}`, nil, []int{422}},
			{"LF in external_id in a batch", batch, `{"events":[` + ev1 + `,"external_id":"x\nSet-Cookie: a=b"}]}`, nil, []int{422}},
			{"SQL in external_id is just text", one, ev1 + `,"external_id":"x'); DROP TABLE events; --","event_type":"bad type"}`, nil, []int{422}},
		}
		// No wall-clock bound: a gzip bomb's 413 proves the server stopped
		// inflating at --max-body-bytes (it reads at most that much plus one
		// byte); inflating those 10 MiB took 5–6 s under -race on a loaded
		// 2-core machine, which is not a defect.
		for _, c := range cases {
			r := n.do("POST", c.path, key, c.body, c.headers...)
			if !slices.Contains(c.want, r.Status) {
				t.Errorf("%s: status %d, want one of %v: %.300s", c.name, r.Status, c.want, r.Body)
				continue
			}
			if c.path == one || r.Status != http.StatusUnprocessableEntity {
				problem(t, r, r.Status)
			} else {
				checkNoLeak(t, r)
			}
			for _, h := range []string{"X-Injected", "Set-Cookie"} {
				if r.Header.Get(h) != "" {
					t.Errorf("%s: response carries an injected %s header", c.name, h)
				}
			}
		}
		if got := storedCount(t, n, key); got != 0 {
			t.Fatalf("%d events stored from hostile bodies", got)
		}
		expectStatus(t, n.do("GET", "/health", "", nil), http.StatusOK)
	})
}

// rawRequest writes head and body on a new TCP connection, half-closes it
// (or closes it when closeAll) and returns the status line of the answer.
func rawRequest(t *testing.T, n *node, head, body string, closeAll bool) string {
	t.Helper()
	u, _ := url.Parse(n.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(head + body)); err != nil {
		t.Fatal(err)
	}
	if closeAll {
		return ""
	}
	_ = c.(*net.TCPConn).CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// TestHostileTruncatedBodies: a body that stops mid-stream (Content-Length
// larger than what is sent, or a chunked body cut inside a chunk) is a 400
// when the client still listens, and never stores anything.
func TestHostileTruncatedBodies(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("truncated", 1_000_000)
		head := func(path, framing string) string {
			return "POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
				"\r\nContent-Type: application/json\r\n" + framing + "\r\n"
		}
		partial := ev1 + `,"external_id":"cut","message":"` + strings.Repeat("m", 500)
		for _, path := range []string{"/api/v1/events", "/api/v1/events/batch"} {
			if got := rawRequest(t, n, head(path, "Content-Length: 100000\r\n"), partial, false); !strings.HasPrefix(got, "HTTP/1.1 400") {
				t.Errorf("%s with a short body: %q, want HTTP/1.1 400", path, got)
			}
			if got := rawRequest(t, n, head(path, "Transfer-Encoding: chunked\r\n"), "400\r\n"+partial, false); !strings.HasPrefix(got, "HTTP/1.1 400") {
				t.Errorf("%s with a cut chunk: %q, want HTTP/1.1 400", path, got)
			}
			// A complete JSON object, but fewer bytes than announced.
			whole := ev1 + `,"external_id":"cut-whole"}`
			if got := rawRequest(t, n, head(path, fmt.Sprintf("Content-Length: %d\r\n", len(whole)+10)), whole, false); !strings.HasPrefix(got, "HTTP/1.1 400") {
				t.Errorf("%s with a complete object but a short body: %q, want HTTP/1.1 400", path, got)
			}
			rawRequest(t, n, head(path, "Content-Length: 100000\r\n"), partial, true)
		}
		time.Sleep(200 * time.Millisecond) // let the server notice the closed connections
		if got := storedCount(t, n, key); got != 0 {
			t.Fatalf("%d events stored from truncated bodies", got)
		}
		expectStatus(t, n.do("GET", "/ready", "", nil), http.StatusOK)
	})
}

// TestHostileSearchFilters puts SQL metacharacters and LIKE wildcards in
// every search filter: filters are exact matches, so nothing matches, no
// error leaks, and the stored events are intact afterwards.
func TestHostileSearchFilters(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("sqli", 1_000_000)
		for i := range 3 {
			n.ingest(key, event(map[string]any{"service": "svc", "endpoint": "/p", "user_id": "u1",
				"external_id": fmt.Sprintf("x%d", i), "status_code": 200, "tags": map[string]any{"k": "v"}}))
		}
		values := []string{"%", "_", "%%", "*", `\`, `\%`, "svc%", "sv_", "x%", "' OR '1'='1", "svc' OR 1=1 --",
			"'; DROP TABLE events; --", `" OR ""="`, "svc\\", "$1", "?", "%' UNION SELECT id FROM events --", "[a-z]*", "~*"}
		for _, f := range []string{"event_type", "service", "endpoint", "user_id", "external_id"} {
			for _, v := range values {
				r := n.do("GET", "/api/v1/events?"+q(f, v).Encode(), key, nil)
				switch r.Status {
				case http.StatusOK:
					var p searchPage
					mustUnmarshal(t, r.Body, &p)
					if len(p.Events) != 0 {
						t.Errorf("%s=%q matched %d events; filters are exact", f, v, len(p.Events))
					}
				case http.StatusUnprocessableEntity:
					invalid(t, r, f)
				default:
					t.Errorf("%s=%q: status %d: %s", f, v, r.Status, r.Body)
				}
			}
		}
		for _, v := range []string{"%:%", "k:%", "%:v", "k:_", "_:v", "k:' OR '1'='1", "k' OR 1=1 --:v", `k:\`, "k:v' --"} {
			r := n.do("GET", "/api/v1/events?"+q("tag", v).Encode(), key, nil)
			expectStatus(t, r, http.StatusOK)
			var p searchPage
			mustUnmarshal(t, r.Body, &p)
			if len(p.Events) != 0 {
				t.Errorf("tag=%q matched %d events", v, len(p.Events))
			}
		}
		for _, f := range []string{"status_code", "status_code_min", "status_code_max", "start_time", "end_time", "severity", "min_severity", "limit", "offset", "cursor"} {
			for _, v := range []string{"200 OR 1=1", "1; DROP TABLE events", "%", "' OR '1'='1"} {
				invalid(t, n.do("GET", "/api/v1/events?"+q(f, v).Encode(), key, nil), f)
			}
		}
		if got := storedCount(t, n, key); got != 3 {
			t.Fatalf("%d events after the hostile searches, want 3", got)
		}
	})
}

// TestHostileLimitOffset: absurd limit and offset values are a 422 naming
// the parameter.
func TestHostileLimitOffset(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("limits", 1_000_000)
		for _, v := range []string{"0", "-1", "1001", "1000000000", "99999999999999999999999999", "1e3", "0x10", "1.5", " 5", "abc", "", "-0"} {
			r := n.do("GET", "/api/v1/events?"+q("limit", v).Encode(), key, nil)
			if v == "-0" && r.Status == http.StatusOK {
				continue // -0 is 0 to strconv; either answer is sane as long as it is not a 5xx
			}
			invalid(t, r, "limit")
		}
		for _, v := range []string{"-1", "10001", "9223372036854775807", "99999999999999999999999999", "1e4", "abc", ""} {
			invalid(t, n.do("GET", "/api/v1/events?"+q("offset", v).Encode(), key, nil), "offset")
		}
		invalid(t, n.do("GET", "/api/v1/events?"+q("limit", "5", "limit", "6").Encode(), key, nil), "limit")
		expectStatus(t, n.do("GET", "/api/v1/events?"+q("limit", "1000", "offset", "10000").Encode(), key, nil), http.StatusOK)
	})
}

// TestHostileSearchPagingAtMaxLimit pages with the largest limit over more
// events than one page holds: the first page must carry a next_cursor.
// (Found by this test: the SQLite store once capped LIMIT at 1000 while the
// handler asks for limit+1 rows, ending paging after the first page.)
func TestHostileSearchPagingAtMaxLimit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("paging", 1_000_000)
		for b := range 2 {
			evs := make([]map[string]any, 0, 1000)
			for i := range 1000 - 999*b {
				evs = append(evs, event(map[string]any{"external_id": fmt.Sprintf("p%d-%d", b, i)}))
			}
			r, br := n.batch(key, evs)
			expectStatus(t, r, http.StatusOK)
			if br.Accepted != len(evs) {
				t.Fatalf("batch %d: accepted %d of %d", b, br.Accepted, len(evs))
			}
		}
		p := n.search(key, q("limit", "1000"))
		if len(p.Events) != 1000 || p.NextCursor == nil {
			t.Fatalf("limit=1000 over 1001 events: %d events, next_cursor=%v; want 1000 and a cursor", len(p.Events), p.NextCursor)
		}
		if p2 := n.search(key, q("limit", "1000", "cursor", *p.NextCursor)); len(p2.Events) != 1 || p2.NextCursor != nil {
			t.Fatalf("second page: %d events, next_cursor=%v; want 1 and none", len(p2.Events), p2.NextCursor)
		}
	})
}

// TestHostileForgedCursors: a cursor is only a position. One made from
// tenant A's events and used by tenant B shows B nothing of A, and
// malformed cursors are a 422 naming cursor.
func TestHostileForgedCursors(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, keyA := n.tenant("cursor-a", 1_000_000)
		_, keyB := n.tenant("cursor-b", 1_000_000)
		var idsA, idsB []string
		for i := range 5 {
			idsA = append(idsA, n.ingest(keyA, event(map[string]any{"external_id": fmt.Sprintf("same-%d", i)})))
			idsB = append(idsB, n.ingest(keyB, event(map[string]any{"external_id": fmt.Sprintf("same-%d", i)})))
		}
		pageA := n.search(keyA, q("limit", "2"))
		if pageA.NextCursor == nil {
			t.Fatal("tenant A's first page has no cursor")
		}
		forge := func(ts int64, id string) string {
			b := binary.BigEndian.AppendUint64(nil, uint64(ts))
			return base64.RawURLEncoding.EncodeToString(append(b, id...))
		}
		far := time.Now().Add(24 * time.Hour).UnixMicro()
		cursors := map[string]string{
			"A's own next_cursor":              *pageA.NextCursor,
			"A's newest event, future time":    forge(far, idsA[4]),
			"A's oldest event, max time":       forge(1<<62, idsA[0]),
			"A's event at time zero":           forge(0, idsA[2]),
			"B's own event with A's neighbour": forge(far, idsB[0]),
		}
		for name, c := range cursors {
			r := n.do("GET", "/api/v1/events?"+q("cursor", c, "limit", "1000").Encode(), keyB, nil)
			if r.Status >= 500 {
				t.Errorf("%s: status %d: %s", name, r.Status, r.Body)
				continue
			}
			if r.Status == http.StatusUnprocessableEntity {
				invalid(t, r, "cursor")
				continue
			}
			expectStatus(t, r, http.StatusOK)
			var p searchPage
			mustUnmarshal(t, r.Body, &p)
			for _, e := range p.Events {
				if slices.Contains(idsA, e.ID) || !slices.Contains(idsB, e.ID) {
					t.Errorf("%s: tenant B's search returned %s, not one of B's events", name, e.ID)
				}
			}
		}
		for _, id := range idsA {
			problem(t, n.do("GET", "/api/v1/events/"+id, keyB, nil), http.StatusNotFound)
		}
		bad := []string{"!!!", "AAAA", strings.Repeat("A", 300), forge(far, "not-a-uuid-but-36-characters-long!!"),
			forge(far, strings.Repeat("0", 35)), base64.StdEncoding.EncodeToString([]byte("x' OR 1=1 --")),
			forge(far, idsA[0]) + "AA", forge(far, idsA[0]) + "==", "%00", forge(far, idsA[0]+"\x00")}
		for _, c := range bad {
			invalid(t, n.do("GET", "/api/v1/events?"+q("cursor", c).Encode(), keyB, nil), "cursor")
		}
	})
}

// TestHostileEncodingAndNames holds hostile inputs this suite found the
// server getting wrong, now fixed: invalid UTF-8 (encoding/json would store
// U+FFFD instead of the bytes sent) is a 400; a key differing only in case
// ("Service", which encoding/json would merge into service) and duplicate
// keys inside tags or a batch body are 422; a cursor with an impossible time
// is a 422 naming cursor, not a 500.
func TestHostileEncodingAndNames(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("encoding-names", 1_000_000)
		cases := []struct{ name, path, body, field string }{
			{"invalid UTF-8 in service", "/api/v1/events", "{\"event_type\":\"a\",\"service\":\"s\xff\xfe\"}", "service"},
			{"invalid UTF-8 in a tag value", "/api/v1/events", ev1 + ",\"tags\":{\"k\":\"\xc3\x28\"}}", "tags"},
			{"invalid UTF-8 in external_id", "/api/v1/events", ev1 + ",\"external_id\":\"x\xff\"}", "external_id"},
			{"invalid UTF-8 in message", "/api/v1/events", ev1 + ",\"message\":\"\xf8\x88\x80\x80\x80\"}", "message"},
			{"invalid UTF-8 in a payload value", "/api/v1/events", ev1 + ",\"payload\":{\"s\":\"\xff\xfe\"}}", "payload"},
			{"invalid UTF-8 in a payload key", "/api/v1/events", ev1 + ",\"payload\":{\"\xff\":1}}", "payload"},
			{"key differing only in case", "/api/v1/events", ev1 + `,"Service":"t"}`, "Service"},
			{"duplicate keys in tags", "/api/v1/events", ev1 + `,"tags":{"k":"1","k":"2"}}`, "tags"},
			{"events twice in a batch", "/api/v1/events/batch", `{"events":[` + ev1 + `}],"events":[` + ev1 + `}]}`, "events"},
		}
		for _, c := range cases {
			r := n.do("POST", c.path, key, c.body)
			if r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 422 (or 400) naming %s: %.200s", c.name, r.Status, c.field, r.Body)
			}
		}
		if got := storedCount(t, n, key); got != 0 {
			t.Errorf("%d events stored from invalid bodies", got)
		}
		negative := int64(-1 << 62)
		b := binary.BigEndian.AppendUint64(nil, uint64(negative))
		cursor := base64.RawURLEncoding.EncodeToString(append(b, "01a21955-7ba6-72b4-b3e1-2e20ebbf7cdd"...))
		if r := n.do("GET", "/api/v1/events?"+q("cursor", cursor).Encode(), key, nil); r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusOK {
			t.Errorf("a cursor with an out-of-range time: status %d, want 422 naming cursor: %.200s", r.Status, r.Body)
		}
	})
}
