package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/secretbox"
)

// Payload is the JSON body of a webhook.
type Payload struct {
	Type      string      `json:"type"` // alert.firing, alert.resolved, alert.test
	Timestamp time.Time   `json:"timestamp"`
	Data      PayloadData `json:"data"`
}

// PayloadData describes the alert.
type PayloadData struct {
	TenantID       string            `json:"tenant_id"`
	RuleID         string            `json:"rule_id"`
	RuleName       string            `json:"rule_name"`
	AlertID        string            `json:"alert_id,omitempty"`
	Status         string            `json:"status"`
	Group          map[string]string `json:"group"`
	Value          float64           `json:"value"`
	Threshold      float64           `json:"threshold"`
	Operator       string            `json:"operator"`
	Aggregate      string            `json:"aggregate"`
	WindowSeconds  int               `json:"window_seconds"`
	StartedAt      *time.Time        `json:"started_at,omitempty"`
	ResolvedAt     *time.Time        `json:"resolved_at,omitempty"`
	SampleEventIDs []string          `json:"sample_event_ids"`
}

// buildNotifications makes one notification per webhook of r for a's
// transition of the given kind.
func buildNotifications(r *pulse.Rule, a *pulse.Alert, kind string, now time.Time) []*pulse.Notification {
	if len(r.Notify) == 0 {
		return nil
	}
	d := PayloadData{
		TenantID: r.TenantID, RuleID: r.ID, RuleName: r.Name, Status: kind, Group: a.Group,
		Value: a.Value, Threshold: r.Condition.Threshold, Operator: r.Condition.Operator,
		Aggregate: r.Condition.Aggregate, WindowSeconds: r.Condition.WindowSeconds,
		SampleEventIDs: a.SampleEventIDs,
	}
	if a.ID != "" {
		d.AlertID, d.StartedAt, d.ResolvedAt = a.ID, &a.StartedAt, a.ResolvedAt
	}
	if d.Group == nil {
		d.Group = map[string]string{}
	}
	if d.SampleEventIDs == nil {
		d.SampleEventIDs = []string{}
	}
	body, _ := json.Marshal(Payload{Type: "alert." + kind, Timestamp: now.UTC(), Data: d})
	at := now.UTC().Truncate(time.Microsecond)
	notes := make([]*pulse.Notification, 0, len(r.Notify))
	for _, n := range r.Notify {
		notes = append(notes, &pulse.Notification{
			ID: pulse.NewID(), TenantID: r.TenantID, AlertID: a.ID, RuleID: r.ID, Kind: kind, URL: n.URL, Secret: n.Secret,
			Payload: body, Status: pulse.NotificationPending, CreatedAt: at, UpdatedAt: at,
		})
	}
	return notes
}

// TestNotifications builds the notifications of POST /alert-rules/{id}/test.
func TestNotifications(r *pulse.Rule, now time.Time) []*pulse.Notification {
	return buildNotifications(r, &pulse.Alert{Value: r.Condition.Threshold}, pulse.NotifyTest, now)
}

// Sign returns the Standard Webhooks signature header value of a message:
// "v1," and the base64 HMAC-SHA256 of "id.timestamp.body" keyed with the
// decoded secret.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := pulse.WebhookKey(secret)
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// permanentError is a delivery failure that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// IsPermanent reports whether a Deliver error must not be retried.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Backoff returns the wait before retry number attempt (1 = after the first
// failure): base·2^(attempt-1), capped at maxStep, with ±25 % jitter.
func Backoff(base, maxStep time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < maxStep; i++ {
			d *= 2
		}
		d = min(d, maxStep)
		return d - d/4 + time.Duration(rand.Int64N(int64(d/2)+1))
	}
}

// DelivererConfig wires a Deliverer.
type DelivererConfig struct {
	Store   pulse.AlertStore
	Clock   pulse.Clock
	Client  *http.Client // default NewHTTPClient(ClientConfig{})
	Logger  *slog.Logger
	Metrics *Metrics
	// TenantConcurrency bounds each tenant's deliveries in flight on this
	// node; default DefaultTenantConcurrency for every tenant. A job of a
	// tenant at its limit is not attempted: Deliver returns ErrDeferred.
	TenantConcurrency TenantConcurrency
	// RetryFor is how long a notification is retried before it is failed.
	// Default 24h.
	RetryFor time.Duration
	// SecretBox opens webhook secrets, which are stored sealed (see
	// WebhookSecretAD); nil means they are stored in the clear.
	SecretBox *secretbox.Box
}

// WebhookSecretAD binds a sealed webhook secret to its tenant and rule, so
// a sealed value copied to another row does not open.
func WebhookSecretAD(tenantID, ruleID string) string {
	return "webhook-secret:" + tenantID + ":" + ruleID
}

// Deliverer sends notifications; the queue's worker calls Deliver.
type Deliverer struct {
	cfg   DelivererConfig
	slots *tenantSlots
}

// NewDeliverer returns a Deliverer.
func NewDeliverer(cfg DelivererConfig) *Deliverer {
	if cfg.Clock == nil {
		cfg.Clock = pulse.SystemClock{}
	}
	if cfg.Client == nil {
		cfg.Client = NewHTTPClient(ClientConfig{})
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = 24 * time.Hour
	}
	if cfg.TenantConcurrency == nil {
		cfg.TenantConcurrency = func(string) int { return DefaultTenantConcurrency }
	}
	return &Deliverer{cfg: cfg, slots: newTenantSlots(cfg.TenantConcurrency)}
}

// Deliver makes one attempt at j, records it, and returns nil when done
// (delivered, or nothing left to do), a permanent error when it gave up,
// ErrDeferred when j's tenant has its share of deliveries in flight (nothing
// attempted; try later), or another error to be retried. since is when the
// job was first queued.
func (d *Deliverer) Deliver(ctx context.Context, j Job, since time.Time) error {
	release, ok, first := d.slots.tryAcquire(j.TenantID)
	if !ok {
		d.cfg.Metrics.deferred.WithLabelValues(DeferredTenantConcurrency).Inc()
		if first {
			d.cfg.Logger.Info("tenant at its webhook concurrency limit; its deliveries wait for a slot",
				"tenant", j.TenantID, "limit", d.cfg.TenantConcurrency(j.TenantID))
		}
		return ErrDeferred
	}
	defer release()
	n, err := d.cfg.Store.GetNotification(ctx, j.TenantID, j.NotificationID)
	if pulse.IsNotFound(err) {
		return permanentError{err}
	} else if err != nil {
		return err
	}
	if n.Status != pulse.NotificationPending || n.Round != j.Round {
		return nil // done already (a job handed over twice)
	}
	start := time.Now()
	code, sendErr := d.send(ctx, n)
	att := pulse.NotificationAttempt{At: d.cfg.Clock.Now().UTC().Truncate(time.Microsecond), StatusCode: code, DurationMS: time.Since(start).Milliseconds()}
	status := pulse.NotificationPending
	var result error
	switch {
	case sendErr == nil && code >= 200 && code < 300:
		att.Outcome, status = pulse.NotificationDelivered, pulse.NotificationDelivered
	default:
		if sendErr != nil {
			att.Error = failureReason(sendErr)
			d.cfg.Logger.Info("webhook attempt failed", "tenant", n.TenantID, "notification", n.ID,
				"host", webhookHost(n.URL), "reason", att.Error, "err", failureDetail(sendErr))
		} else {
			att.Error = statusReason(code)
		}
		retry := sendErr != nil && !errors.Is(sendErr, ErrForbiddenAddress) && !IsPermanent(sendErr) ||
			code >= 500 || code == http.StatusTooManyRequests
		if retry && time.Since(since) < d.cfg.RetryFor {
			att.Outcome, result = "retry", errors.New(att.Error)
		} else {
			att.Outcome, status, result = pulse.NotificationFailed, pulse.NotificationFailed, permanentError{errors.New(att.Error)}
		}
	}
	d.cfg.Metrics.attempts.WithLabelValues(att.Outcome).Inc()
	if err := d.cfg.Store.RecordAttempt(context.WithoutCancel(ctx), j.TenantID, n.ID, att, status); err != nil {
		return err // the queue tries again; the receiver may see the message twice (same webhook-id)
	}
	return result
}

// send POSTs the signed notification and returns the status code.
func (d *Deliverer) send(ctx context.Context, n *pulse.Notification) (int, error) {
	ts := d.cfg.Clock.Now()
	secret := n.Secret
	if d.cfg.SecretBox != nil {
		var err error
		if secret, err = d.cfg.SecretBox.OpenString(n.Secret, WebhookSecretAD(n.TenantID, n.RuleID)); err != nil {
			return 0, permanentError{fmt.Errorf("%w: open: %w", errSecret, err)}
		}
	}
	sig, err := Sign(secret, n.ID, ts, n.Payload)
	if err != nil {
		return 0, permanentError{fmt.Errorf("%w: %w", errSecret, err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(n.Payload))
	if err != nil {
		return 0, permanentError{fmt.Errorf("%w: %w", errURL, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "PulseStream-Webhook/1")
	req.Header.Set("webhook-id", n.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// webhookHost is the host of a webhook URL, for logs (the rest may hold a
// token of the receiver).
func webhookHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
