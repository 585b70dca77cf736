package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// cluster starts n nodes on one PostgreSQL schema and one Redis, sharing a
// fake clock. It skips (with a message) unless both test servers are set.
func cluster(t *testing.T, n int, redisURL string, mutate func(*config.Config)) []*node {
	t.Helper()
	if os.Getenv("PULSESTREAM_TEST_REDIS_URL") == "" {
		t.Skip("PULSESTREAM_TEST_REDIS_URL not set; skipping multi-node tests")
	}
	db := postgresURL(t)
	if redisURL == "" {
		redisURL = os.Getenv("PULSESTREAM_TEST_REDIS_URL")
	}
	clock := newFakeClock()
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(t, db, clock, func(c *config.Config) {
			c.RedisURL = redisURL
			// Outage tests lower it (see exactRedisTimeout).
			c.RedisTimeout = exactRedisTimeout
			if mutate != nil {
				mutate(c)
			}
		})
	}
	return nodes
}

func TestClusterDedupAcrossNodes(t *testing.T) {
	t.Parallel()
	nodes := cluster(t, 3, "", nil)
	_, key := nodes[0].tenant("dedup", 100000)
	body := event(map[string]any{"external_id": "one-and-only"})
	var created, dup atomic.Int32
	ids := sync.Map{}
	var wg sync.WaitGroup
	for i := range 60 { // 3 nodes × 20 concurrent requests
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := nodes[i%3].do("POST", "/api/v1/events", key, body)
			switch r.Status {
			case http.StatusCreated:
				created.Add(1)
			case http.StatusOK:
				dup.Add(1)
			default:
				t.Errorf("status %d: %s", r.Status, r.Body)
				return
			}
			ids.Store(r.JSON(t)["id"], true)
		}()
	}
	wg.Wait()
	if created.Load() != 1 || dup.Load() != 59 {
		t.Fatalf("created %d, duplicates %d; want 1 and 59", created.Load(), dup.Load())
	}
	n := 0
	ids.Range(func(_, _ any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d different ids returned, want 1", n)
	}
	r := nodes[2].do("GET", "/api/v1/events?external_id=one-and-only", key, nil)
	if got := len(r.JSON(t)["events"].([]any)); got != 1 {
		t.Fatalf("stored %d events, want 1", got)
	}
}

func TestClusterSharedQuota(t *testing.T) {
	t.Parallel()
	nodes := cluster(t, 3, "", nil)
	_, key := nodes[0].tenant("quota", 100)
	var created, limited atomic.Int32
	var wg sync.WaitGroup
	for i := range 150 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := nodes[i%3].do("POST", "/api/v1/events", key, event(map[string]any{"external_id": fmt.Sprint("q-", i)}))
			switch r.Status {
			case http.StatusCreated:
				created.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
				if r.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			default:
				t.Errorf("status %d: %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 100 || limited.Load() != 50 {
		var late []float64
		for _, n := range nodes {
			late = append(late, redisErrors(t, n))
		}
		t.Fatalf("created %d, limited %d across 3 nodes; want exactly 100 and 50 (Redis calls failed or late per node: %v)", created.Load(), limited.Load(), late)
	}
}

func TestClusterRevocationAndLimitChangeSeenByAllNodes(t *testing.T) {
	t.Parallel()
	nodes := cluster(t, 3, "", nil)
	tenantID, key := nodes[0].tenant("revoke", 1000)
	for _, n := range nodes { // warm every node's key cache
		expectStatus(t, n.do("GET", "/api/v1/events", key, nil), http.StatusOK)
	}
	keys := nodes[0].do("GET", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, nil).JSON(t)["api_keys"].([]any)
	keyID := keys[0].(map[string]any)["id"].(string)
	expectStatus(t, nodes[0].do("DELETE", "/admin/v1/tenants/"+tenantID+"/api-keys/"+keyID, adminToken, nil), http.StatusNoContent)
	expectStatus(t, nodes[0].do("GET", "/api/v1/events", key, nil), http.StatusUnauthorized) // at once on the node that revoked
	nodes[0].Clock.Advance(3 * time.Second)                                                  // < 5 s: every cache entry has expired
	for i, n := range nodes {
		if r := n.do("GET", "/api/v1/events", key, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("node %d still accepts a revoked key 3 s later: %d", i, r.Status)
		}
	}
}

func TestClusterRedisOutageFallsBack(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(os.Getenv("PULSESTREAM_TEST_REDIS_URL"))
	if err != nil || u.Host == "" {
		t.Skip("PULSESTREAM_TEST_REDIS_URL not set; skipping multi-node tests")
	}
	p := testkit.StartProxy(t, u.Host)
	nodes := cluster(t, 2, strings.Replace(u.String(), u.Host, p.Addr, 1), func(c *config.Config) { c.RedisTimeout = 250 * time.Millisecond })
	_, key := nodes[0].tenant("redis-down", 100000)
	expectStatus(t, nodes[0].do("POST", "/api/v1/events", key, event(nil)), http.StatusCreated)
	p.Cut()
	for i := range 10 {
		start := time.Now()
		r := nodes[i%2].do("POST", "/api/v1/events", key, event(nil))
		if d := time.Since(start); d > time.Second {
			t.Errorf("request took %v with Redis down; want < 1 s", d)
		}
		expectStatus(t, r, http.StatusCreated) // fail-open: the node's own limiter decides
	}
	p.Restore()
	expectStatus(t, nodes[1].do("POST", "/api/v1/events", key, event(nil)), http.StatusCreated)
}

func TestClusterRedisOutageFailClosed(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(os.Getenv("PULSESTREAM_TEST_REDIS_URL"))
	if err != nil || u.Host == "" {
		t.Skip("PULSESTREAM_TEST_REDIS_URL not set; skipping multi-node tests")
	}
	p := testkit.StartProxy(t, u.Host)
	nodes := cluster(t, 1, strings.Replace(u.String(), u.Host, p.Addr, 1), func(c *config.Config) {
		c.RateLimitFailure = "closed"
		c.RedisTimeout = 250 * time.Millisecond
	})
	_, key := nodes[0].tenant("redis-closed", 100000)
	expectStatus(t, nodes[0].do("POST", "/api/v1/events", key, event(nil)), http.StatusCreated)
	p.Cut()
	start := time.Now()
	r := nodes[0].do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "while-down"}))
	if d := time.Since(start); d > time.Second {
		t.Errorf("request took %v with Redis down; want < 1 s", d)
	}
	expectStatus(t, r, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	p.Restore()
	// The limiter skips Redis for a probe interval (1 s) after a failure;
	// move the clock past it. The Redis client itself redials on its own
	// schedule, so poll briefly in real time for that.
	deadline := time.Now().Add(5 * time.Second)
	for {
		nodes[0].Clock.Advance(2 * time.Second)
		r = nodes[0].do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "while-down"}))
		if r.Status == http.StatusCreated || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	expectStatus(t, r, http.StatusCreated) // the refused event was not kept: now it is new
}

func TestPostgresOutage503ThenRecovery(t *testing.T) {
	t.Parallel()
	base := os.Getenv("PULSESTREAM_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("PULSESTREAM_TEST_POSTGRES_URL not set; skipping PostgreSQL outage test")
	}
	db := postgresURL(t) // creates the schema through the real server
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	p := testkit.StartProxy(t, u.Host)
	proxied := strings.Replace(db, u.Host, p.Addr, 1)
	n := startNode(t, proxied, newFakeClock(), func(c *config.Config) {
		c.RequestTimeout = 2 * time.Second
		c.PGStatementTimeout = time.Second
	})
	_, key := n.tenant("pg-down", 100000)
	expectStatus(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "before"})), http.StatusCreated)

	p.Cut()
	start := time.Now()
	r := n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "during"}))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ingest took %v with PostgreSQL down; want within the request timeout", d)
	}
	expectStatus(t, r, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	expectStatus(t, n.do("GET", "/ready", "", nil), http.StatusServiceUnavailable)
	for _, s := range []string{"SELECT", "pgx", "dial tcp", "127.0.0.1"} {
		if strings.Contains(string(r.Body), s) {
			t.Errorf("503 body leaks %q: %s", s, r.Body)
		}
	}

	p.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for n.do("GET", "/ready", "", nil).Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("not ready 10 s after PostgreSQL came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The event refused during the outage was not kept: it is created now.
	expectStatus(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "during"})), http.StatusCreated)
	expectStatus(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "before"})), http.StatusOK)
}
