package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func checkQuotaHeaders(t *testing.T, r *response, limit, remaining int) {
	t.Helper()
	if got := headerInt(t, r, "X-RateLimit-Limit"); got != limit {
		t.Errorf("X-RateLimit-Limit = %d, want %d", got, limit)
	}
	if got := headerInt(t, r, "X-RateLimit-Remaining"); got != remaining {
		t.Errorf("X-RateLimit-Remaining = %d, want %d", got, remaining)
	}
	reset := headerInt(t, r, "X-RateLimit-Reset")
	if remaining < limit && (reset < 1 || reset > 60) {
		t.Errorf("X-RateLimit-Reset = %d, want 1..60 while the bucket is not full", reset)
	}
	if got, want := r.Header.Get("RateLimit-Policy"), fmt.Sprintf(`"events";q=%d;w=60`, limit); got != want {
		t.Errorf("RateLimit-Policy = %q, want %q", got, want)
	}
	if got, want := r.Header.Get("RateLimit"), fmt.Sprintf(`"events";r=%d;t=%d`, remaining, reset); got != want {
		t.Errorf("RateLimit = %q, want %q", got, want)
	}
}

func checkRetryAfter(t *testing.T, r *response) int {
	t.Helper()
	s := headerInt(t, r, "Retry-After")
	if s < 1 {
		t.Fatalf("Retry-After = %d, want ≥ 1", s)
	}
	return s
}

func fresh(n int, prefix string) []map[string]any {
	evs := make([]map[string]any, n)
	for i := range evs {
		evs[i] = event(map[string]any{"external_id": fmt.Sprintf("%s-%d", prefix, i)})
	}
	return evs
}

// TestRateLimitConcurrentSingles: limit 100, 150 events from 30 clients at
// once → exactly 100 created and 50 refused with 429.
func TestRateLimitConcurrentSingles(t *testing.T) {
	t.Parallel()
	eachLimiter(t, nil, func(t *testing.T, n *node) {
		_, key := n.tenant("burst", 100)
		evs := fresh(150, "c")
		work := make(chan map[string]any)
		var (
			mu      sync.Mutex
			status  = map[int]int{}
			retries []int
			bad     []string
			wg      sync.WaitGroup
		)
		for range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ev := range work {
					r, err := n.send("POST", "/api/v1/events", key, ev)
					mu.Lock()
					if err != nil {
						bad = append(bad, err.Error())
					} else {
						status[r.Status]++
						if r.Status == http.StatusTooManyRequests {
							ra := r.Header.Get("Retry-After")
							var s int
							if _, err := fmt.Sscan(ra, &s); err != nil || s < 1 {
								bad = append(bad, "Retry-After "+ra)
							}
							retries = append(retries, s)
							if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") || r.Header.Get("X-RateLimit-Remaining") != "0" {
								bad = append(bad, fmt.Sprintf("429 headers %v", r.Header))
							}
						}
					}
					mu.Unlock()
				}
			}()
		}
		for _, ev := range evs {
			work <- ev
		}
		close(work)
		wg.Wait()
		if len(bad) > 0 {
			t.Fatalf("bad responses: %v", bad)
		}
		if status[201] != 100 || status[429] != 50 || len(status) != 2 {
			t.Fatalf("statuses = %v, want exactly 100×201 and 50×429 (Redis calls failed or late: %v)", status, redisErrors(t, n))
		}
		if p := n.search(key, q("limit", "1000")); len(p.Events) != 100 {
			t.Fatalf("%d events stored, want 100", len(p.Events))
		}
	})
}

// TestRateLimitHeaders: every ingest response carries the quota headers and
// Remaining counts down one per created event.
func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	eachLimiter(t, nil, func(t *testing.T, n *node) {
		_, key := n.tenant("headers", 10)
		for i := range 10 {
			r := n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": fmt.Sprintf("h%d", i)}))
			expectStatus(t, r, http.StatusCreated)
			checkQuotaHeaders(t, r, 10, 9-i)
		}
		// A replay and a batch carry them as well, without using quota.
		r := n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "h3"}))
		expectStatus(t, r, http.StatusOK)
		checkQuotaHeaders(t, r, 10, 0)

		r = n.do("POST", "/api/v1/events", key, event(nil))
		problem(t, r, http.StatusTooManyRequests)
		checkQuotaHeaders(t, r, 10, 0)
		if ra, reset := checkRetryAfter(t, r), headerInt(t, r, "X-RateLimit-Reset"); ra != 6 || reset != 60 {
			t.Errorf("limit 10/min, all used: Retry-After = %d (want 6), X-RateLimit-Reset = %d (want 60)", ra, reset)
		}

		// Time refills the bucket: 30 s later five events are back.
		n.Clock.Advance(30 * time.Second)
		r, b := n.batch(key, fresh(2, "later"))
		expectStatus(t, r, http.StatusOK)
		if b.Accepted != 2 {
			t.Fatalf("after 30 s: %s", r.Body)
		}
		checkQuotaHeaders(t, r, 10, 3)
	})
}

func TestRateLimitBatch(t *testing.T) {
	t.Parallel()
	eachLimiter(t, nil, func(t *testing.T, n *node) {
		_, key := n.tenant("batch-limit", 100)
		evs := fresh(150, "b")
		evs[3]["severity"] = "nope" // a rejected event costs nothing
		r, b := n.batch(key, evs)
		expectStatus(t, r, http.StatusOK)
		b.checkOrder(t, 150)
		if b.Accepted != 100 || b.RateLimited != 49 || b.Rejected != 1 {
			t.Fatalf("counts: accepted %d rate_limited %d rejected %d; want 100, 49, 1", b.Accepted, b.RateLimited, b.Rejected)
		}
		for i, res := range b.Results {
			want := "created"
			switch {
			case i == 3:
				want = "rejected"
			case i > 100:
				want = "rate_limited"
			}
			if res.Status != want {
				t.Fatalf("result %d = %s, want %s", i, res.Status, want)
			}
			if want == "rate_limited" && res.ID != "" {
				t.Fatalf("rate-limited result %d has an id", i)
			}
		}
		checkRetryAfter(t, r)
		checkQuotaHeaders(t, r, 100, 0)
		if strings.Count(string(r.Body), `"rate_limited"`) < 50 {
			t.Fatalf("body lacks rate_limited count or statuses")
		}

		// Nothing fits: 429, still with a body that says what happened.
		r, b = n.batch(key, fresh(10, "next"))
		m := problem(t, r, http.StatusTooManyRequests)
		checkRetryAfter(t, r)
		if m["rate_limited"] != 10.0 || m["accepted"] != 0.0 {
			t.Errorf("429 batch body: %s", r.Body)
		}
		if p := n.search(key, q("limit", "1000")); len(p.Events) != 100 {
			t.Fatalf("%d events stored, want 100", len(p.Events))
		}
		// The rate-limited events can be sent again later.
		n.Clock.Advance(time.Minute)
		r, b = n.batch(key, evs[101:])
		expectStatus(t, r, http.StatusOK)
		if b.Accepted != 49 {
			t.Fatalf("retried events: %s", r.Body)
		}
	})
}

// TestRateLimitChargesOnlyCreated: duplicates, conflicts and invalid events
// use no quota.
func TestRateLimitChargesOnlyCreated(t *testing.T) {
	t.Parallel()
	eachLimiter(t, nil, func(t *testing.T, n *node) {
		_, key := n.tenant("charges", 100)
		evs := fresh(100, "v")
		r, b := n.batch(key, evs)
		expectStatus(t, r, http.StatusOK)
		if b.Accepted != 100 {
			t.Fatalf("first 100: %s", r.Body)
		}
		r, b = n.batch(key, evs)
		expectStatus(t, r, http.StatusOK)
		if b.Duplicates != 100 || b.Accepted != 0 || b.RateLimited != 0 {
			t.Fatalf("resent 100: accepted %d duplicates %d rate_limited %d", b.Accepted, b.Duplicates, b.RateLimited)
		}
		bad := make([]map[string]any, 50)
		for i := range bad {
			bad[i] = event(map[string]any{"service": nil})
		}
		r, b = n.batch(key, bad)
		expectStatus(t, r, http.StatusUnprocessableEntity)
		if b.Rejected != 50 {
			t.Fatalf("50 invalid: %s", r.Body)
		}
		// Single replays, conflicts and invalid events are answered as such,
		// not with 429, when the quota is used up.
		r = n.do("POST", "/api/v1/events", key, evs[7])
		expectStatus(t, r, http.StatusOK)
		checkQuotaHeaders(t, r, 100, 0)
		problem(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "v-7", "message": "changed"})), http.StatusConflict)
		invalid(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"severity": "x"})), "severity")

		r = n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "one-more"}))
		problem(t, r, http.StatusTooManyRequests)
		checkRetryAfter(t, r)
		if p := n.search(key, q("limit", "1000")); len(p.Events) != 100 {
			t.Fatalf("%d events stored, want 100", len(p.Events))
		}
	})
}

// TestRateLimitRefill: after Retry-After seconds (on the fake clock) the
// next event is accepted, and not a second earlier.
func TestRateLimitRefill(t *testing.T) {
	t.Parallel()
	eachLimiter(t, nil, func(t *testing.T, n *node) {
		_, key := n.tenant("refill", 10)
		r, b := n.batch(key, fresh(10, "r"))
		if r.Status != http.StatusOK || b.Accepted != 10 {
			t.Fatalf("fill: %s", r.Body)
		}
		r = n.do("POST", "/api/v1/events", key, event(nil))
		problem(t, r, http.StatusTooManyRequests)
		wait := checkRetryAfter(t, r)

		n.Clock.Advance(time.Duration(wait-1) * time.Second)
		problem(t, n.do("POST", "/api/v1/events", key, event(nil)), http.StatusTooManyRequests)
		n.Clock.Advance(time.Second)
		n.ingest(key, event(nil))
		problem(t, n.do("POST", "/api/v1/events", key, event(nil)), http.StatusTooManyRequests)

		// A whole minute refills the whole burst, and no more.
		n.Clock.Advance(2 * time.Minute)
		r, b = n.batch(key, fresh(15, "after"))
		if r.Status != http.StatusOK || b.Accepted != 10 || b.RateLimited != 5 {
			t.Fatalf("after a quiet period: accepted %d rate_limited %d, want 10 and 5: %s", b.Accepted, b.RateLimited, r.Body)
		}
	})
}

// TestRateLimitChange: a new limit set through the admin API applies at once
// on the node that changed it and within the key-cache TTL on another node.
func TestRateLimitChange(t *testing.T) {
	t.Parallel()
	eachLimiter(t, nil, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("change", 5)
		other := n.peer(t, nil)
		expectStatus(t, other.do("GET", "/api/v1/events", key, nil), http.StatusOK) // cache the tenant on the peer

		r, b := n.batch(key, fresh(6, "a"))
		if r.Status != http.StatusOK || b.Accepted != 5 || b.RateLimited != 1 {
			t.Fatalf("limit 5: %s", r.Body)
		}
		expectStatus(t, n.do("PATCH", "/admin/v1/tenants/"+tenantID, adminToken, map[string]any{"rate_limit_per_minute": 1000}), http.StatusOK)
		r = n.do("POST", "/api/v1/events", key, event(nil))
		expectStatus(t, r, http.StatusCreated)
		if got := headerInt(t, r, "X-RateLimit-Limit"); got != 1000 {
			t.Fatalf("X-RateLimit-Limit = %d right after the change on this node", got)
		}

		// Lower it again and look from the other node, 3 s later.
		expectStatus(t, n.do("PATCH", "/admin/v1/tenants/"+tenantID, adminToken, map[string]any{"rate_limit_per_minute": 2}), http.StatusOK)
		n.Clock.Advance(3 * time.Second)
		created := 0
		for i := range 5 {
			r := other.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": fmt.Sprintf("o%d", i)}))
			if got := headerInt(t, r, "X-RateLimit-Limit"); got != 2 {
				t.Fatalf("other node: X-RateLimit-Limit = %d, want 2", got)
			}
			if r.Status == http.StatusCreated {
				created++
			} else {
				problem(t, r, http.StatusTooManyRequests)
			}
		}
		if created > 2 {
			t.Fatalf("other node created %d events under a limit of 2", created)
		}
	})
}

// TestRateLimitRefundsLostRaces: concurrent requests with one external_id
// all reserve quota before the database decides; only the one that created
// the event may keep its reservation.
func TestRateLimitRefundsLostRaces(t *testing.T) {
	t.Parallel()
	eachLimiter(t, nil, func(t *testing.T, n *node) {
		_, key := n.tenant("refunds", 100) // room for every reservation in flight
		ev := event(map[string]any{"external_id": "contended"})
		var wg sync.WaitGroup
		statuses := make([]int, 30)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r, err := n.send("POST", "/api/v1/events", key, ev); err == nil {
					statuses[i] = r.Status
				}
			}()
		}
		wg.Wait()
		created, dup := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusOK:
				dup++
			}
		}
		if created != 1 || dup != 29 {
			t.Fatalf("statuses %v: want one 201 and 29 200", statuses)
		}
		r := n.do("POST", "/api/v1/events", key, event(nil))
		expectStatus(t, r, http.StatusCreated)
		checkQuotaHeaders(t, r, 100, 98)
	})
}
