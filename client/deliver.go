package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// batchAnswer is the server's answer to a batch: per-event results in
// input order (200, 422, and 429 when nothing fit the quota), or a problem.
type batchAnswer struct {
	Results []struct {
		Index  int          `json:"index"`
		Status string       `json:"status"`
		ID     string       `json:"id"`
		Errors []FieldError `json:"errors"`
	} `json:"results"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// deliver sends items until each has a final answer, retrying what may be
// retried. It returns the items it gave up on, with the reason. The retry
// limit counts consecutive attempts that settled nothing: a tenant over its
// quota whose every retry stores a few events is never given up on.
func (c *Client) deliver(ctx context.Context, items []item) ([]item, error) {
	failures := 0
	// signedAt is the signature timestamp of the last attempt. A retry is
	// signed with a later second: the server refuses a signed request it
	// has seen (same timestamp and body) as a replay.
	var signedAt int64
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return items, err
		}
		if attempt > 0 {
			c.count(func(s *Stats) { s.Retries++ })
		}
		c.count(func(s *Stats) { s.Requests++ })
		ans, status, retryAfter, err := c.post(ctx, items, &signedAt)
		if err != nil && ctx.Err() != nil {
			return items, ctx.Err()
		}
		var lastErr error
		switch {
		case err != nil: // connection error: retry all
			lastErr = err
		case len(ans.Results) == len(items) && (status == http.StatusOK || status == http.StatusAccepted || status == http.StatusUnprocessableEntity || status == http.StatusTooManyRequests):
			left := c.settle(ans, items)
			if len(left) < len(items) {
				failures = 0 // progress: the limit starts again
			}
			items = left
			lastErr = &APIError{Status: http.StatusTooManyRequests, Title: "rate limited", Detail: "events over the tenant's quota"}
		case retryable(status):
			lastErr = &APIError{Status: status, Title: ans.Title, Detail: ans.Detail}
		default:
			return items, &APIError{Status: status, Title: ans.Title, Detail: ans.Detail}
		}
		if len(items) == 0 {
			return nil, nil
		}
		failures++
		if failures > c.cfg.maxRetries {
			return items, fmt.Errorf("pulsestream: gave up after %d retries: %w", c.cfg.maxRetries, lastErr)
		}
		wait := retryAfter
		if wait < 0 {
			wait = c.backoff(failures - 1)
		}
		select {
		case <-c.cfg.clock.After(wait):
		case <-ctx.Done():
			return items, ctx.Err()
		}
	}
}

// settle applies per-event results and returns the items to retry (those
// answered "rate_limited").
func (c *Client) settle(ans batchAnswer, items []item) []item {
	var retry []item
	var created, dups int64
	for i, r := range ans.Results {
		it := items[i]
		switch r.Status {
		case "created", "accepted": // accepted: a server in log mode holds it durably
			created++
		case "duplicate":
			dups++
		case "rate_limited":
			retry = append(retry, it)
		default: // rejected, conflict
			c.count(func(s *Stats) { s.Rejected++ })
			c.cfg.onRejected(Rejection{Event: it.ev, Status: r.Status, ID: r.ID, Errors: r.Errors})
		}
	}
	c.count(func(s *Stats) { s.Created += created; s.Duplicates += dups })
	return retry
}

func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// backoff is the wait before retry n+1: full jitter over
// min(max, base·2ⁿ).
func (c *Client) backoff(n int) time.Duration {
	ceil := c.cfg.backoffMax
	if n < 30 && c.cfg.backoffBase<<n < ceil {
		ceil = c.cfg.backoffBase << n
	}
	return rand.N(ceil + 1)
}

// post sends one batch request. retryAfter is -1 without a usable header.
// A signed request is signed at the current second, or one after
// *signedAt when that is not later, and *signedAt is set to it.
func (c *Client) post(ctx context.Context, items []item, signedAt *int64) (ans batchAnswer, status int, retryAfter time.Duration, err error) {
	var raw bytes.Buffer
	raw.WriteString(`{"events":[`)
	for i, it := range items {
		if i > 0 {
			raw.WriteByte(',')
		}
		raw.Write(it.json)
	}
	raw.WriteString(`]}`)
	body := raw.Bytes()
	if c.cfg.gzip {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write(body) // writes to memory cannot fail
		_ = zw.Close()
		body = zb.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.batchURL, bytes.NewReader(body))
	if err != nil {
		return ans, 0, -1, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("User-Agent", "pulsestream-go-client/1")
	if c.cfg.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if c.cfg.signingSecret != "" {
		*signedAt = max(c.cfg.clock.Now().Unix(), *signedAt+1)
		ts := strconv.FormatInt(*signedAt, 10)
		m := hmac.New(sha256.New, []byte(c.cfg.signingSecret))
		m.Write([]byte(ts + "."))
		m.Write(body)
		req.Header.Set("X-PulseStream-Timestamp", ts)
		req.Header.Set("X-PulseStream-Signature", "v1="+hex.EncodeToString(m.Sum(nil)))
	}
	resp, err := c.cfg.httpClient.Do(req)
	if err != nil {
		return ans, 0, -1, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return ans, 0, -1, fmt.Errorf("pulsestream: read answer: %w", err)
	}
	retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.cfg.clock.Now())
	if err := json.Unmarshal(data, &ans); err != nil && resp.StatusCode < 300 {
		return ans, 0, -1, errors.New("pulsestream: the server's answer is not JSON")
	}
	if ans.Title == "" {
		ans.Title = http.StatusText(resp.StatusCode)
	}
	return ans, resp.StatusCode, retryAfter, nil
}

// parseRetryAfter reads delay-seconds or an HTTP date; -1 when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return -1
		}
		return time.Duration(min(n, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}
