package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/sqlite"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// fakeClock is the only fake in these tests: time moves when a test says.
type fakeClock = testkit.Clock

func newFakeClock() *fakeClock { return testkit.NewClock(time.Now().UTC().Truncate(time.Second)) }

// backends returns the database URLs to run black-box tests on: a new
// SQLite file always, and a new PostgreSQL schema when configured.
type backend struct {
	name string
	url  func(t *testing.T) string
}

func backends() []backend {
	bs := []backend{{name: "sqlite", url: func(t *testing.T) string {
		return "sqlite://" + t.TempDir() + "/pulsestream.db"
	}}, {name: "parts", url: partsURL}}
	bs = append(bs, backend{name: "postgres", url: postgresURL})
	return bs
}

// partsURL creates a SQLite database of the parts event store
// (docs/STORAGE.md) and returns its URL: a database keeps the kind it was
// created with, so the node under test opens it as parts whatever its
// configuration says.
func partsURL(t *testing.T) string {
	url := "sqlite://" + t.TempDir() + "/pulsestream.db"
	db, err := sqlite.Open(context.Background(), url, sqlite.Config{EventStore: sqlite.EventStoreParts})
	if err != nil {
		t.Fatalf("create a parts database: %v", err)
	}
	if kind := db.EventStoreKind(); kind != sqlite.EventStoreParts {
		t.Fatalf("new database is %q, want parts", kind)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return url
}

const adminToken = "test-admin-token-0123456789"

// postgresURL creates a fresh schema and returns a URL whose search_path
// points at it. Unset variable: skip; unreachable server: fail.
func postgresURL(t *testing.T) string { return testkit.PostgresSchema(t, "e2e") }

// node is one running PulseStream server under test.
type node struct {
	t     *testing.T
	URL   string
	DB    string // the database URL, so a peer node can share it
	App   *app.App
	Clock *fakeClock
}

// startNode starts a node on dbURL; mutate may change the config.
func startNode(t *testing.T, dbURL string, clock *fakeClock, mutate func(*config.Config)) *node {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	cfg.AdminToken = adminToken
	cfg.MaintenanceInterval = time.Hour
	// Tests run many nodes at once against one PostgreSQL (max_connections
	// 100): each node gets small pools (store + queue ≤ 8 connections).
	cfg.PGMaxConns = 4
	if mutate != nil {
		mutate(&cfg)
	}
	opts := app.Options{Clock: clock}
	if os.Getenv("PULSESTREAM_TEST_LOG") != "" { // server logs on stderr, for debugging a test
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a, err := app.New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	a.Start()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = a.Close()
	})
	return &node{t: t, URL: srv.URL, DB: dbURL, App: a, Clock: clock}
}

// eachBackend runs fn as a parallel sub-test per backend with a fresh node.
func eachBackend(t *testing.T, fn func(t *testing.T, n *node)) {
	eachBackendCfg(t, nil, fn)
}

func eachBackendCfg(t *testing.T, mutate func(*config.Config), fn func(t *testing.T, n *node)) {
	t.Helper()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, startNode(t, b.url(t), newFakeClock(), mutate))
		})
	}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object (status %d): %q", r.Status, r.Body)
	}
	return m
}

// do sends a request; body may be a string, []byte, an io.Reader (sent
// without a length, i.e. chunked) or any JSON value. headers are name, value
// pairs; an empty value removes the header.
func (n *node) do(method, path, key string, body any, headers ...string) *response {
	n.t.Helper()
	r, err := n.send(method, path, key, body, headers...)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// send is do without the testing.T, for use from other goroutines.
func (n *node) send(method, path, key string, body any, headers ...string) (*response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = struct{ io.Reader }{b} // hide the type so the length is unknown
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, n.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// tenant creates a tenant through the admin API and returns its id and key.
func (n *node) tenant(name string, rateLimit int) (string, string) {
	n.t.Helper()
	body := map[string]any{"name": name}
	if rateLimit > 0 {
		body["rate_limit_per_minute"] = rateLimit
	}
	r := n.do("POST", "/admin/v1/tenants", adminToken, body)
	if r.Status != http.StatusCreated {
		n.t.Fatalf("create tenant: %d %s", r.Status, r.Body)
	}
	m := r.JSON(n.t)
	return m["tenant"].(map[string]any)["id"].(string), m["api_key"].(string)
}

// event returns a valid event body with the given overrides.
func event(over map[string]any) map[string]any {
	e := map[string]any{"event_type": "http.request", "service": "checkout", "severity": "info"}
	for k, v := range over {
		if v == nil {
			delete(e, k)
		} else {
			e[k] = v
		}
	}
	return e
}

func expectStatus(t *testing.T, r *response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, want, r.Body)
	}
}
