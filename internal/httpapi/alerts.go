package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/pulsestream/pulsestream/internal/alert"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// alertRoutes registers the alerting API: rules, alerts, notifications, silences.
func (s *Server) alertRoutes() {
	s.handle("POST /api/v1/alert-rules", s.require(pulse.ActManageRules, s.createRule))
	s.handle("GET /api/v1/alert-rules", s.require(pulse.ActRead, s.listRules))
	s.handle("GET /api/v1/alert-rules/{id}", s.require(pulse.ActRead, s.getRule))
	s.handle("PUT /api/v1/alert-rules/{id}", s.require(pulse.ActManageRules, s.putRule))
	s.handle("PATCH /api/v1/alert-rules/{id}", s.require(pulse.ActManageRules, s.patchRule))
	s.handle("DELETE /api/v1/alert-rules/{id}", s.require(pulse.ActManageRules, s.deleteRule))
	s.handle("POST /api/v1/alert-rules/{id}/test", s.require(pulse.ActManageRules, s.testRule))
	s.handle("POST /api/v1/alert-rules/preview", s.require(pulse.ActManageRules, s.previewRule))
	s.handle("GET /api/v1/alerts", s.require(pulse.ActRead, s.listAlerts))
	s.handle("GET /api/v1/alerts/{id}", s.require(pulse.ActRead, s.getAlert))
	s.handle("POST /api/v1/alerts/{id}/acknowledge", s.require(pulse.ActAcknowledge, s.acknowledgeAlert))
	s.handle("GET /api/v1/alerts/{id}/notifications", s.require(pulse.ActRead, s.listNotifications))
	s.handle("GET /api/v1/notifications/{id}", s.require(pulse.ActRead, s.getNotification))
	s.handle("POST /api/v1/notifications/{id}/retry", s.require(pulse.ActManageRules, s.retryNotification))
	s.handle("POST /api/v1/silences", s.require(pulse.ActSilence, s.createSilence))
	s.handle("GET /api/v1/silences", s.require(pulse.ActRead, s.listSilences))
	s.handle("DELETE /api/v1/silences/{id}", s.require(pulse.ActSilence, s.deleteSilence))
}

// pathID returns the {id} path value, or a not-found error naming what.
func pathID(r *http.Request, what string) (string, error) {
	id := r.PathValue("id")
	if !pulse.ValidID(id) {
		return "", pulse.Errorf(pulse.ENOTFOUND, "%s not found", what)
	}
	return id, nil
}

func notFoundAs(err error, what string) error {
	if pulse.IsNotFound(err) {
		return pulse.Errorf(pulse.ENOTFOUND, "%s not found", what)
	}
	return err
}

func (s *Server) ruleParam(r *http.Request) (*pulse.Rule, error) {
	id, err := pathID(r, "alert rule")
	if err != nil {
		return nil, err
	}
	rule, err := s.store.GetRule(r.Context(), tenantFrom(r.Context()).ID, id)
	if err != nil {
		return nil, notFoundAs(err, "alert rule")
	}
	return s.openSecrets(rule)
}

// Webhook secrets are sealed (AES-GCM, secretbox) before a rule is stored
// and opened when it is loaded here or by the delivery worker; handlers
// work with the plain rule.
func (s *Server) sealSecrets(rule *pulse.Rule) *pulse.Rule {
	if s.SecretBox == nil {
		return rule
	}
	c := *rule
	c.Notify = slices.Clone(rule.Notify)
	for i := range c.Notify {
		if c.Notify[i].Secret != "" {
			c.Notify[i].Secret = s.SecretBox.SealString(c.Notify[i].Secret, alert.WebhookSecretAD(rule.TenantID, rule.ID))
		}
	}
	return &c
}

func (s *Server) openSecrets(rule *pulse.Rule) (*pulse.Rule, error) {
	if s.SecretBox == nil {
		return rule, nil
	}
	for i := range rule.Notify {
		plain, err := s.SecretBox.OpenString(rule.Notify[i].Secret, alert.WebhookSecretAD(rule.TenantID, rule.ID))
		if err != nil {
			return nil, fmt.Errorf("open webhook secret of rule %s: %w", rule.ID, err)
		}
		rule.Notify[i].Secret = plain
	}
	return rule, nil
}

// withNewSecrets is rule without secrets, except those that old lacked:
// a generated or newly set secret is shown once, in the answer that made it.
func withNewSecrets(rule, old *pulse.Rule) *pulse.Rule {
	out := rule.Redacted()
	for i, n := range rule.Notify {
		known := false
		if old != nil {
			for _, o := range old.Notify {
				known = known || o.Secret == n.Secret
			}
		}
		if !known {
			out.Notify[i].Secret = n.Secret
		}
	}
	return out
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request) {
	var spec pulse.RuleSpec
	if err := s.decodeJSON(r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	rule, err := pulse.NewRule(pulse.NewID(), tenantFrom(r.Context()).ID, spec, s.clock.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkRuleLimits(r.Context(), rule); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.CreateRule(r.Context(), s.sealSecrets(rule)); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, rule.TenantID, "alert_rule.create", "alert_rule/"+rule.ID, nil, rule.ForAudit())
	writeJSON(w, http.StatusCreated, withNewSecrets(rule, nil))
}

// previewRule validates a rule body as createRule does (the same 422s,
// except the count of rules: a preview adds none) and evaluates it over
// the tenant's stored events of its window, at most the last hour
// (alert.PreviewRule bounds the read). It stores and sends nothing.
func (s *Server) previewRule(w http.ResponseWriter, r *http.Request) {
	var spec pulse.RuleSpec
	if err := s.decodeJSON(r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant := tenantFrom(r.Context()).ID
	now := s.clock.Now()
	rule, err := pulse.NewRule(pulse.NewID(), tenant, spec, now)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.store.GetTenant(r.Context(), tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limits := s.AlertLimits.With(t.AlertLimits)
	if err := limits.CheckRule(rule, 0); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := alert.PreviewRule(r.Context(), s.store, rule, limits, now, alert.PreviewMaxEvents)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) {
	rules, err := s.store.ListRules(r.Context(), tenantFrom(r.Context()).ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]*pulse.Rule, len(rules))
	for i, rule := range rules {
		out[i] = rule.Redacted()
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": out})
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request) {
	rule, err := s.ruleParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		*pulse.Rule
		Status *pulse.RuleStatus `json:"status,omitempty"`
	}{Rule: rule.Redacted()}
	if s.RuleStatus != nil {
		if st, ok := s.RuleStatus(rule.ID); ok {
			out.Status = &st
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// checkRuleLimits refuses (422, naming the field) a rule beyond its
// tenant's alert limits: beyond max_rules (counting the others), or
// beyond max_window_seconds. The count is read before the insert, so two
// concurrent creates may pass one over the limit; the evaluator's memory
// stays bounded by the per-rule caps regardless.
func (s *Server) checkRuleLimits(ctx context.Context, rule *pulse.Rule) error {
	t, err := s.store.GetTenant(ctx, rule.TenantID)
	if err != nil {
		return err
	}
	rules, err := s.store.ListRules(ctx, rule.TenantID)
	if err != nil {
		return err
	}
	others := 0
	for _, o := range rules {
		if o.ID != rule.ID {
			others++
		}
	}
	return s.AlertLimits.With(t.AlertLimits).CheckRule(rule, others)
}

func (s *Server) putRule(w http.ResponseWriter, r *http.Request) {
	s.replaceRule(w, r, false)
}

func (s *Server) patchRule(w http.ResponseWriter, r *http.Request) {
	s.replaceRule(w, r, true)
}

// replaceRule is PUT (the body is the whole rule) and PATCH (the body's
// top-level fields replace the stored ones; filter merges field by field).
func (s *Server) replaceRule(w http.ResponseWriter, r *http.Request, patch bool) {
	old, err := s.ruleParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var spec pulse.RuleSpec
	if patch {
		body, err := readJSONBody(r, 1<<20, nil)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var present map[string]json.RawMessage
		if json.Unmarshal(body, &present) != nil {
			s.writeError(w, r, pulse.Errorf(pulse.EBADREQUEST, "the body is not a JSON object"))
			return
		}
		spec = old.RuleSpec
		spec.Filter.Tags = clone(old.Filter.Tags)
		if _, ok := present["notify"]; ok {
			spec.Notify = nil
		}
		if _, ok := present["group_by"]; ok {
			spec.GroupBy = nil
		}
		r.Body = http.NoBody
		r2 := r.Clone(r.Context())
		r2.Body = readCloser{bytes.NewReader(body)}
		r2.ContentLength = int64(len(body))
		r2.Header.Del("Content-Encoding")
		r = r2
	}
	if err := s.decodeJSON(r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	rule, err := old.Replace(spec, s.clock.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkRuleLimits(r.Context(), rule); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.UpdateRule(r.Context(), s.sealSecrets(rule)); err != nil {
		s.writeError(w, r, notFoundAs(err, "alert rule"))
		return
	}
	s.audit(r, rule.TenantID, "alert_rule.update", "alert_rule/"+rule.ID, old.ForAudit(), rule.ForAudit())
	writeJSON(w, http.StatusOK, withNewSecrets(rule, old))
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func clone(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request) {
	tenant := tenantFrom(r.Context()).ID
	id, err := pathID(r, "alert rule")
	var old *pulse.Rule
	if err == nil { // the secrets stay sealed: the audit summary drops them
		old, err = s.store.GetRule(r.Context(), tenant, id)
	}
	if err == nil {
		err = s.store.DeleteRule(r.Context(), tenant, id, s.clock.Now())
	}
	if err != nil {
		s.writeError(w, r, notFoundAs(err, "alert rule"))
		return
	}
	s.audit(r, old.TenantID, "alert_rule.delete", "alert_rule/"+old.ID, old.ForAudit(), nil)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) testRule(w http.ResponseWriter, r *http.Request) {
	rule, err := s.ruleParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(rule.Notify) == 0 {
		s.writeError(w, r, pulse.Invalid(pulse.FieldError{Field: "notify", Message: "the rule has no webhook to test", Reason: "notify.empty"}))
		return
	}
	notes := alert.TestNotifications(s.sealSecrets(rule), s.clock.Now())
	if err := s.store.CreateNotifications(r.Context(), notes); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, rule.TenantID, "alert_rule.test", "alert_rule/"+rule.ID, nil, map[string]any{"notifications": notes})
	writeJSON(w, http.StatusAccepted, map[string]any{"notifications": notes})
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := pulse.AlertFilter{Status: q.Get("status"), RuleID: q.Get("rule_id"), After: q.Get("cursor"), Limit: 50}
	errs := pulse.CheckQuery(q, []string{"status", "rule_id", "cursor", "limit"})
	if f.Status != "" && f.Status != pulse.AlertFiring && f.Status != pulse.AlertResolved {
		errs = append(errs, pulse.FieldError{Field: "status", Message: "must be firing or resolved", Reason: "status.invalid"})
	}
	if f.RuleID != "" && !pulse.ValidID(f.RuleID) {
		errs = append(errs, pulse.FieldError{Field: "rule_id", Message: "is not a rule id", Reason: "rule_id.invalid"})
	}
	if f.After != "" && !pulse.ValidID(f.After) {
		errs = append(errs, pulse.FieldError{Field: "cursor", Message: "is not a cursor returned by this API", Reason: "cursor.invalid"})
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			errs = append(errs, pulse.FieldError{Field: "limit", Message: "must be an integer from 1 to 200", Reason: "limit.invalid"})
		}
		f.Limit = n
	}
	if len(errs) > 0 {
		s.writeError(w, r, pulse.Invalid(errs...))
		return
	}
	alerts, err := s.store.ListAlerts(r.Context(), tenantFrom(r.Context()).ID, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var next any
	if len(alerts) == f.Limit {
		next = alerts[len(alerts)-1].ID
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": alerts, "next_cursor": next})
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "alert")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.store.GetAlert(r.Context(), tenantFrom(r.Context()).ID, id)
	if err != nil {
		s.writeError(w, r, notFoundAs(err, "alert"))
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) acknowledgeAlert(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "alert")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant := tenantFrom(r.Context()).ID
	before, err := s.store.GetAlert(r.Context(), tenant, id)
	if err != nil {
		s.writeError(w, r, notFoundAs(err, "alert"))
		return
	}
	a, err := s.store.AcknowledgeAlert(r.Context(), tenant, id, s.clock.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		s.writeError(w, r, notFoundAs(err, "alert"))
		return
	}
	s.audit(r, tenant, "alert.acknowledge", "alert/"+id, before, a)
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "alert")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant := tenantFrom(r.Context()).ID
	if _, err := s.store.GetAlert(r.Context(), tenant, id); err != nil {
		s.writeError(w, r, notFoundAs(err, "alert"))
		return
	}
	notes, err := s.store.ListNotifications(r.Context(), tenant, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": notes})
}

func (s *Server) getNotification(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "notification")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.store.GetNotification(r.Context(), tenantFrom(r.Context()).ID, id)
	if err != nil {
		s.writeError(w, r, notFoundAs(err, "notification"))
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (s *Server) retryNotification(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "notification")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant := tenantFrom(r.Context()).ID
	before, err := s.store.GetNotification(r.Context(), tenant, id)
	if err != nil {
		s.writeError(w, r, notFoundAs(err, "notification"))
		return
	}
	n, err := s.store.RetryNotification(r.Context(), tenant, id, s.clock.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		s.writeError(w, r, notFoundAs(err, "notification"))
		return
	}
	s.audit(r, tenant, "notification.retry", "notification/"+id, before, n)
	writeJSON(w, http.StatusAccepted, n)
}

type silenceRequest struct {
	RuleID   string            `json:"rule_id"`
	Matchers map[string]string `json:"matchers"`
	StartsAt *time.Time        `json:"starts_at"`
	EndsAt   time.Time         `json:"ends_at"`
	Comment  string            `json:"comment"`
}

func (s *Server) createSilence(w http.ResponseWriter, r *http.Request) {
	var in silenceRequest
	if err := s.decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	tenant := tenantFrom(r.Context()).ID
	sil := &pulse.Silence{ID: pulse.NewID(), TenantID: tenant, RuleID: in.RuleID, Matchers: in.Matchers,
		StartsAt: now, EndsAt: in.EndsAt.UTC().Truncate(time.Microsecond), Comment: in.Comment, CreatedAt: now}
	if in.StartsAt != nil {
		sil.StartsAt = in.StartsAt.UTC().Truncate(time.Microsecond)
	}
	if err := sil.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if sil.RuleID != "" {
		if _, err := s.store.GetRule(r.Context(), tenant, sil.RuleID); pulse.IsNotFound(err) {
			s.writeError(w, r, pulse.Invalid(pulse.FieldError{Field: "rule_id", Message: "no such alert rule", Reason: "rule_id.unknown"}))
			return
		} else if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if err := s.store.CreateSilence(r.Context(), sil); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, tenant, "silence.create", "silence/"+sil.ID, nil, sil)
	writeJSON(w, http.StatusCreated, sil)
}

func (s *Server) listSilences(w http.ResponseWriter, r *http.Request) {
	sils, err := s.store.ListSilences(r.Context(), tenantFrom(r.Context()).ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": sils})
}

func (s *Server) deleteSilence(w http.ResponseWriter, r *http.Request) {
	tenant := tenantFrom(r.Context()).ID
	id, err := pathID(r, "silence")
	var before *pulse.Silence
	if err == nil {
		before = s.findSilence(r, tenant, id)
		err = notFoundAs(s.store.DeleteSilence(r.Context(), tenant, id), "silence")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, tenant, "silence.delete", "silence/"+id, before, nil)
	w.WriteHeader(http.StatusNoContent)
}

// findSilence is the tenant's silence id for the audit log's before, or
// nil when it cannot be read (the store has no single-silence read; the
// deletion that follows reports a missing silence).
func (s *Server) findSilence(r *http.Request, tenantID, id string) *pulse.Silence {
	sils, err := s.store.ListSilences(r.Context(), tenantID)
	if err != nil {
		return nil
	}
	for _, sil := range sils {
		if sil.ID == id {
			return sil
		}
	}
	return nil
}
