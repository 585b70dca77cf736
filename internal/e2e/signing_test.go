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

	"pulsestream/internal/config"
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
		// Within 5 minutes of skew either way.
		expectStatus(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(secret, now+290, body)...), http.StatusOK)

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

		// Rotation: a second secret works alongside; revoking the first stops it.
		r = n.do("POST", "/api/v1/signing-secrets", key, nil)
		expectStatus(t, r, http.StatusCreated)
		second := r.JSON(t)["secret"].(string)
		now = n.Clock.Now().Unix()
		expectStatus(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(second, now, body)...), http.StatusOK)
		expectStatus(t, n.do("DELETE", "/api/v1/signing-secrets/"+secretID, key, nil), http.StatusNoContent)
		problem(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(secret, now, body)...), http.StatusUnauthorized)
		expectStatus(t, n.do("POST", "/api/v1/events", key, body, signedHeaders(second, now, body)...), http.StatusOK)
		problem(t, n.do("DELETE", "/api/v1/signing-secrets/"+secretID+"x", key, nil), http.StatusNotFound)
	})
}
