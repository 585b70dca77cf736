package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
)

func sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

func signedHeaders(secret string, ts int64, body []byte) []string {
	return []string{"X-PulseStream-Timestamp", strconv.FormatInt(ts, 10), "X-PulseStream-Signature", sign(secret, ts, body)}
}

func TestSignedRequests(t *testing.T) {
	t.Parallel()
	eachBackendCfg(t, func(c *config.Config) { c.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("signed", 0)
		body, _ := json.Marshal(event(map[string]any{"external_id": "s-1"}))

		r := n.do("POST", "/api/v1/signing-secrets", key, map[string]any{"name": "ci"})
		expectStatus(t, r, http.StatusCreated)
		secret := r.JSON(t)["secret"].(string)
		secretID := r.JSON(t)["signing_secret"].(map[string]any)["id"].(string)
		list := n.do("GET", "/api/v1/signing-secrets", key, nil)
		expectStatus(t, list, http.StatusOK)
		if strings.Contains(string(list.Body), secret) {
			t.Fatal("listing signing secrets shows the secret")
		}

		// Optional: unsigned requests pass, but a signature sent is checked.
		expectStatus(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "unsigned-1"})), http.StatusCreated)
		now := n.Clock.Now().Unix()
		problem(t, n.do("POST", "/api/v1/events", key, body, signedHeaders("pss_wrong", now, body)...), http.StatusUnauthorized)

		// Required by the tenant.
		expectStatus(t, n.do("PATCH", "/admin/v1/tenants/"+tenantID, adminToken, map[string]any{"require_signed_requests": true}), http.StatusOK)
		problem(t, n.do("POST", "/api/v1/events", key, event(map[string]any{"external_id": "unsigned-2"})), http.StatusUnauthorized)
		problem(t, n.do("POST", "/api/v1/events/batch", key, map[string]any{"events": []any{event(nil)}}), http.StatusUnauthorized)

		// Accepted.
		expectStatus(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(secret, now, body)...), http.StatusCreated)
		batch, _ := json.Marshal(map[string]any{"events": []any{event(map[string]any{"external_id": "s-2"})}})
		expectStatus(t, n.do("POST", "/api/v1/events/batch", key, batch, signedHeaders(secret, now, batch)...), http.StatusOK)
		// Up to 5 minutes old, up to 30 seconds ahead.
		expectStatus(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(secret, now-290, body)...), http.StatusOK)
		expectStatus(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(secret, now+30, body)...), http.StatusOK)
		problem(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(secret, now+31, body)...), http.StatusUnauthorized)

		// Wrong: another secret, another body, a malformed header.
		problem(t, n.do("POST", "/api/v1/events", key, body, signedHeaders("pss_other", now, body)...), http.StatusUnauthorized)
		problem(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(secret, now, []byte(`{"other":1}`))...), http.StatusUnauthorized)
		problem(t, n.do("POST", "/api/v1/events", key, body, "X-PulseStream-Timestamp", strconv.FormatInt(now, 10), "X-PulseStream-Signature", "sha1=abc"), http.StatusUnauthorized)
		problem(t, n.do("POST", "/api/v1/events", key, body, "X-PulseStream-Timestamp", "yesterday", "X-PulseStream-Signature", sign(secret, now, body)), http.StatusUnauthorized)

		// Replayed later / stale: outside the 5-minute window.
		captured := signedHeaders(secret, now, body)
		n.Clock.Advance(5*time.Minute + time.Second)
		problem(t, n.do("POST", "/api/v1/events", key, body, captured...), http.StatusUnauthorized)
		problem(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(secret, n.Clock.Now().Unix()-301, body)...), http.StatusUnauthorized)
		problem(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(secret, n.Clock.Now().Unix()+301, body)...), http.StatusUnauthorized)

		// One instant, one form: the signature covers the header's text, so
		// no other spelling of it is accepted even when signed.
		now = n.Clock.Now().Unix()
		for _, form := range []string{"0" + strconv.FormatInt(now, 10), "+" + strconv.FormatInt(now, 10), strconv.FormatInt(now, 10) + ".0",
			strconv.FormatInt(now, 10) + "e0", "1 " + strconv.FormatInt(now, 10)[1:], "-" + strconv.FormatInt(now, 10)} {
			m := hmac.New(sha256.New, []byte(secret))
			m.Write([]byte(form + "."))
			m.Write(body)
			r := problem(t, n.do("POST", "/api/v1/events", key, body, "X-PulseStream-Timestamp", form, "X-PulseStream-Signature", "v1="+hex.EncodeToString(m.Sum(nil))), http.StatusUnauthorized)
			if !strings.Contains(r["detail"].(string), "plain digits") {
				t.Errorf("timestamp %q: %v", form, r["detail"])
			}
		}

		// Rotation: a second secret works alongside; revoking the first stops it.
		r = n.do("POST", "/api/v1/signing-secrets", key, nil)
		expectStatus(t, r, http.StatusCreated)
		second := r.JSON(t)["secret"].(string)
		now = n.Clock.Now().Unix()
		expectStatus(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(second, now, body)...), http.StatusOK)
		expectStatus(t, n.do("DELETE", "/api/v1/signing-secrets/"+secretID, key, nil), http.StatusNoContent)
		problem(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(secret, now, body)...), http.StatusUnauthorized)
		expectStatus(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(second, now+1, body)...), http.StatusOK)
		problem(t, n.do("DELETE", "/api/v1/signing-secrets/"+secretID+"x", key, nil), http.StatusNotFound)
	})
}

// TestSignedReplay: a captured signed request sent again within the window
// is refused (409, reason signature.replayed) and stores nothing; each
// fresh signature is accepted; a request refused without effect (429) may
// be sent again as it was.
func TestSignedReplay(t *testing.T) {
	t.Parallel()
	eachLimiter(t, func(c *config.Config) { c.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }, func(t *testing.T, n *node) {
		_, key := n.tenant("replay", 0)
		r := n.do("POST", "/api/v1/signing-secrets", key, nil)
		expectStatus(t, r, http.StatusCreated)
		secret := r.JSON(t)["secret"].(string)
		body, _ := json.Marshal(event(map[string]any{"message": "no external id"}))
		now := n.Clock.Now().Unix()
		captured := signedHeaders(secret, now, body)

		expectStatus(t, n.do("POST", "/api/v1/events", key, body, captured...), http.StatusCreated)
		for range 2 {
			m := problem(t, n.do("POST", "/api/v1/events", key, body, captured...), http.StatusConflict)
			if errs, _ := m["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["reason"] != "signature.replayed" {
				t.Fatalf("replay problem: %v", m)
			}
		}
		n.Clock.Advance(4 * time.Minute) // still within the window
		problem(t, n.do("POST", "/api/v1/events", key, body, captured...), http.StatusConflict)
		if got := len(n.search(key, q("limit", "100")).Events); got != 1 {
			t.Fatalf("%d events stored from 4 sends of one signed request, want 1", got)
		}
		// The same body signed again, later, is a new request.
		expectStatus(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(secret, n.Clock.Now().Unix(), body)...), http.StatusCreated)
		// Batches too.
		batch, _ := json.Marshal(map[string]any{"events": []any{event(nil), event(nil)}})
		bh := signedHeaders(secret, n.Clock.Now().Unix(), batch)
		expectStatus(t, n.do("POST", "/api/v1/events/batch", key, batch, bh...), http.StatusOK)
		problem(t, n.do("POST", "/api/v1/events/batch", key, batch, bh...), http.StatusConflict)
		if got := len(n.search(key, q("limit", "100")).Events); got != 4 {
			t.Fatalf("%d events stored, want 4", got)
		}

		// Refused by the rate limit: nothing kept, so the same signed
		// request is accepted once the quota refills.
		_, limited := n.tenant("replay-limited", 1)
		r = n.do("POST", "/api/v1/signing-secrets", limited, nil)
		expectStatus(t, r, http.StatusCreated)
		ls := r.JSON(t)["secret"].(string)
		expectStatus(t, n.do("POST", "/api/v1/events", limited, body, signedHeaders(ls, n.Clock.Now().Unix(), body)...), http.StatusCreated)
		again := signedHeaders(ls, n.Clock.Now().Unix()+1, body)
		problem(t, n.do("POST", "/api/v1/events", limited, body, again...), http.StatusTooManyRequests)
		n.Clock.Advance(time.Minute)
		expectStatus(t, n.do("POST", "/api/v1/events", limited, body, again...), http.StatusCreated)
		problem(t, n.do("POST", "/api/v1/events", limited, body, again...), http.StatusConflict)
	})
}

// TestClusterSignedReplay: a signed request accepted by one node is
// refused by the others (the Redis replay guard).
func TestClusterSignedReplay(t *testing.T) {
	t.Parallel()
	nodes := cluster(t, 3, "", func(c *config.Config) { c.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" })
	_, key := nodes[0].tenant("cluster-replay", 0)
	r := nodes[0].do("POST", "/api/v1/signing-secrets", key, nil)
	expectStatus(t, r, http.StatusCreated)
	secret := r.JSON(t)["secret"].(string)
	body, _ := json.Marshal(event(nil))
	h := signedHeaders(secret, nodes[0].Clock.Now().Unix(), body)
	expectStatus(t, nodes[0].do("POST", "/api/v1/events", key, body, h...), http.StatusCreated)
	problem(t, nodes[1].do("POST", "/api/v1/events", key, body, h...), http.StatusConflict)
	problem(t, nodes[2].do("POST", "/api/v1/events", key, body, h...), http.StatusConflict)
	if got := len(nodes[2].search(key, q("limit", "100")).Events); got != 1 {
		t.Fatalf("%d events stored, want 1", got)
	}
}
