package bench

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

func TestReadResponse(t *testing.T) {
	const next = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"
	for _, c := range []struct {
		name, in string
		status   int
		keep     bool
		err      bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}", 200, true, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"a\"\r\nA\r\n:[1,2,3,4]\r\n1\r\n}\r\n0\r\nX-Trailer: y\r\n\r\n", 200, true, false},
		{"connection close", "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 503, false, false},
		{"HTTP/1.0", "HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n", 202, false, false},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", 204, true, false},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", 0, false, true},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, false, true},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, false, true},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", 200, true, true},
		{"informational", "HTTP/1.1 100 Continue\r\n\r\n", 0, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			if !c.err && c.keep {
				in += next // the reader must stop exactly at the end of the first response
			}
			br := bufio.NewReader(strings.NewReader(in))
			status, keep, err := readResponse(br)
			if (err != nil) != c.err || (!c.err && (status != c.status || keep != c.keep)) {
				t.Fatalf("got %d, keep %v, err %v; want %d, keep %v, err %v", status, keep, err, c.status, c.keep, c.err)
			}
			if !c.err && c.keep {
				if status, keep, err := readResponse(br); status != 201 || !keep || err != nil {
					t.Fatalf("next response: %d %v %v", status, keep, err)
				}
				if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
					t.Fatal("bytes left after the second response")
				}
			}
		})
	}
	// A body that runs to the end of the connection.
	br := bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\n\r\nall of it"))
	if status, keep, err := readResponse(br); status != 200 || keep || err != nil {
		t.Fatalf("body to EOF: %d %v %v", status, keep, err)
	}
}

// ingestServer answers like a PulseStream server, with the server's own
// decoders, and records every external id it accepts. Some answers are
// chunked and some close the connection, as a server may.
type ingestServer struct {
	mu       sync.Mutex
	ids      map[string]int
	requests atomic.Int64
	fail     atomic.Bool
}

func (s *ingestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/admin/v1/tenants" {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"api_key":"key-1"}`)
		return
	}
	n := s.requests.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Method != "POST" || r.Header.Get("Authorization") != "Bearer key-1" || r.Header.Get("Content-Type") != "application/json" || s.fail.Load() {
		http.Error(w, "refused", http.StatusServiceUnavailable)
		return
	}
	raws := []([]byte){body}
	if r.URL.Path == "/api/v1/events/batch" {
		list, err := ingest.DecodeBatch(body, 1000)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		raws = raws[:0]
		for _, raw := range list {
			raws = append(raws, raw)
		}
	} else if r.URL.Path != "/api/v1/events" {
		http.NotFound(w, r)
		return
	}
	now := time.Now()
	for _, raw := range raws {
		e, err := pulse.ParseEvent(raw, pulse.ParseOptions{Now: now, Retention: time.Hour})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.ids[e.ExternalID]++
		s.mu.Unlock()
	}
	switch {
	case n%7 == 0:
		w.(http.Flusher).Flush() // the answer goes out chunked
	case n%11 == 0:
		w.Header().Set("Connection", "close")
	}
	_, _ = io.WriteString(w, `{"accepted":true}`)
}

// The ingest scenarios deliver every event exactly once (replays only in
// ingest-dup), through the lean client and through net/http alike.
func TestIngestScenariosDeliver(t *testing.T) {
	for _, netHTTP := range []bool{false, true} {
		t.Run(map[bool]string{false: "wire", true: "net-http"}[netHTTP], func(t *testing.T) {
			srv := &ingestServer{ids: map[string]int{}}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			ctx := context.Background()
			r, err := NewRunner(ctx, HTTPOptions{Target: ts.URL, AdminToken: "admin", NetHTTP: netHTTP,
				BatchEvents: 3000, BatchSize: 100, BatchClients: 3, SingleEvents: 300, SingleClients: 5})
			if err != nil {
				t.Fatal(err)
			}
			if usesWire := r.addr != ""; usesWire == netHTTP {
				t.Fatalf("wire client in use: %v", usesWire)
			}
			for _, sc := range []struct {
				name     string
				events   int
				distinct int
			}{
				{"ingest-batch", 3000, 3000},
				{"ingest-single", 300, 300},
				// Requests 1, 2, 10–12 and 20–22 of 30 replay request i/2's
				// events: 22 fresh requests plus requests 1, 10 and 11's
				// events, first sent by a replay.
				{"ingest-dup", 3000, 2500},
			} {
				clear(srv.ids)
				res, err := r.Run(ctx, sc.name)
				if err != nil || res.Events != sc.events || res.Errors != 0 {
					t.Fatalf("%s: %+v, %v", sc.name, res, err)
				}
				total := 0
				for id, k := range srv.ids {
					if !strings.Contains(id, sc.name) {
						t.Fatalf("%s: external id %q", sc.name, id)
					}
					if k > 1 && sc.name != "ingest-dup" {
						t.Fatalf("%s: %q received %d times", sc.name, id, k)
					}
					total += k
				}
				if total != sc.events || len(srv.ids) != sc.distinct {
					t.Fatalf("%s: server received %d events, %d distinct; want %d, %d", sc.name, total, len(srv.ids), sc.events, sc.distinct)
				}
			}
			// Refused requests are counted as errors, and the next ones
			// still go through.
			srv.fail.Store(true)
			res, _ := r.Run(ctx, "ingest-single")
			if res.Errors != 300 || res.Events != 0 {
				t.Fatalf("refused: %+v", res)
			}
			srv.fail.Store(false)
			if res, err := r.Run(ctx, "ingest-single"); err != nil || res.Errors != 0 || res.Events != 300 {
				t.Fatalf("after refusals: %+v, %v", res, err)
			}
		})
	}
}

func TestWireAddr(t *testing.T) {
	for target, want := range map[string]string{
		"http://127.0.0.1:8000": "127.0.0.1:8000",
		"http://localhost":      "localhost:80",
		"http://[::1]:9":        "[::1]:9",
		"https://example.com":   "",
		"http://host/prefix":    "",
		"::":                    "",
	} {
		if got, _ := wireAddr(target); got != want {
			t.Errorf("wireAddr(%q) = %q, want %q", target, got, want)
		}
	}
}
