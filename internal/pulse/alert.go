package pulse

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Alert rule limits.
const (
	MaxRuleWindowSeconds = 86400
	MaxRuleForSeconds    = 86400
	MaxRuleCooldown      = 86400
	DefaultRuleCooldown  = 300
	MaxRuleGroupBy       = 5
	MaxRuleNotifiers     = 10
	MaxRuleTagFilters    = 10
	MaxAlertSamples      = 10
	MaxWebhookURLLen     = 2048
)

// Aggregates and operators of a rule's condition.
const (
	AggregateCount         = "count"
	AggregateDistinctUsers = "count_distinct:user_id"
	OperatorGT             = "gt"
	OperatorGTE            = "gte"
)

// Alert statuses and the kinds of notifications.
const (
	AlertFiring       = "firing"
	AlertResolved     = "resolved"
	AlertAcknowledged = "acknowledged" // a history entry only; the status stays firing

	NotifyFiring   = "firing"
	NotifyResolved = "resolved"
	NotifyTest     = "test"

	NotificationPending   = "pending"
	NotificationDelivered = "delivered"
	NotificationFailed    = "failed"
)

// RuleFilter selects the events a rule counts. Zero values mean "any".
type RuleFilter struct {
	EventType     string            `json:"event_type,omitempty"`
	Severity      []Severity        `json:"severity,omitempty"`
	MinSeverity   Severity          `json:"min_severity,omitempty"`
	Service       string            `json:"service,omitempty"`
	Endpoint      string            `json:"endpoint,omitempty"`
	StatusCodeMin int               `json:"status_code_min,omitempty"`
	StatusCodeMax int               `json:"status_code_max,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
}

// Condition is what must hold over the window for a rule to fire.
type Condition struct {
	Aggregate     string  `json:"aggregate"`
	Threshold     float64 `json:"threshold"`
	Operator      string  `json:"operator"`
	WindowSeconds int     `json:"window_seconds"`
}

// Holds reports whether value crosses the threshold.
func (c Condition) Holds(value float64) bool {
	if c.Operator == OperatorGTE {
		return value >= c.Threshold
	}
	return value > c.Threshold
}

// Window is the condition's window as a duration.
func (c Condition) Window() time.Duration { return time.Duration(c.WindowSeconds) * time.Second }

// Notifier is one destination of a rule's notifications. Secret is shown to
// the user once (when generated or set) and never returned afterwards.
type Notifier struct {
	Type   string `json:"type"`
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
}

// RuleSpec is what a user writes: the body of POST/PUT /alert-rules.
type RuleSpec struct {
	Name            string     `json:"name"`
	Description     string     `json:"description"`
	Filter          RuleFilter `json:"filter"`
	Condition       Condition  `json:"condition"`
	GroupBy         []string   `json:"group_by"`
	ForSeconds      int        `json:"for_seconds"`
	CooldownSeconds *int       `json:"cooldown_seconds"`
	Notify          []Notifier `json:"notify"`
	Enabled         *bool      `json:"enabled"`
}

// Rule is one tenant's alert rule.
type Rule struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	RuleSpec
	// match is the filter compiled for Matches; set by Compile.
	match *EventFilter
}

// Redacted returns a copy of r without notifier secrets, for responses.
func (r *Rule) Redacted() *Rule {
	c := *r
	c.Notify = slices.Clone(r.Notify)
	for i := range c.Notify {
		c.Notify[i].Secret = ""
	}
	return &c
}

// ForAudit is Redacted with each webhook URL cut to its scheme and host:
// a receiver's path or query often is a credential itself (Slack-style
// URLs), and the audit log keeps what it is given forever.
func (r *Rule) ForAudit() *Rule {
	c := r.Redacted()
	for i := range c.Notify {
		c.Notify[i].URL = auditURL(c.Notify[i].URL)
	}
	return c
}

func auditURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(redacted)"
	}
	if (u.Path == "" || u.Path == "/") && u.RawQuery == "" {
		return u.Scheme + "://" + u.Host + u.Path
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// IsEnabled reports whether the rule is evaluated.
func (r *Rule) IsEnabled() bool { return r.Enabled == nil || *r.Enabled }

// Cooldown is how long the condition must stay false before resolving.
func (r *Rule) Cooldown() time.Duration {
	if r.CooldownSeconds == nil {
		return DefaultRuleCooldown * time.Second
	}
	return time.Duration(*r.CooldownSeconds) * time.Second
}

// Compile prepares Matches; stores call it on every rule they return.
func (r *Rule) Compile() {
	f := &EventFilter{EventType: r.Filter.EventType, Service: r.Filter.Service, Endpoint: r.Filter.Endpoint,
		StatusCodeMin: r.Filter.StatusCodeMin, StatusCodeMax: r.Filter.StatusCodeMax}
	if len(r.Filter.Severity) > 0 || r.Filter.MinSeverity != "" {
		sevs := slices.Clone(Severities)
		if len(r.Filter.Severity) > 0 {
			sevs = slices.DeleteFunc(sevs, func(s Severity) bool { return !slices.Contains(r.Filter.Severity, s) })
		}
		if min := r.Filter.MinSeverity.Rank(); min > 0 {
			sevs = slices.DeleteFunc(sevs, func(s Severity) bool { return s.Rank() < min })
		}
		f.Severities = sevs
		f.NoMatch = len(sevs) == 0
	}
	for _, k := range sortedKeys(r.Filter.Tags) {
		f.Tags = append(f.Tags, Tag{Key: k, Value: r.Filter.Tags[k]})
	}
	r.match = f
}

// Matches reports whether e is counted by the rule (its tenant is not checked).
func (r *Rule) Matches(e *Event) bool {
	if r.match == nil {
		r.Compile()
	}
	return r.match.Matches(e)
}

// GroupKey returns the canonical key of e's group under the rule ("" without
// group_by): the quoted label values in group_by order. It does not allocate
// beyond the key, since it runs for every matching event.
func (r *Rule) GroupKey(e *Event) string {
	if len(r.GroupBy) == 0 {
		return ""
	}
	var buf [128]byte
	b := buf[:0]
	for i, g := range r.GroupBy {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, groupValue(g, e))
	}
	return string(b)
}

// GroupLabels returns e's group labels under the rule (nil without group_by).
func (r *Rule) GroupLabels(e *Event) map[string]string {
	if len(r.GroupBy) == 0 {
		return nil
	}
	labels := make(map[string]string, len(r.GroupBy))
	for _, g := range r.GroupBy {
		labels[g] = groupValue(g, e)
	}
	return labels
}

func groupValue(g string, e *Event) string {
	switch g {
	case "service":
		return e.Service
	case "endpoint":
		return e.Endpoint
	case "event_type":
		return e.EventType
	}
	return e.Tags[strings.TrimPrefix(g, "tag:")]
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// NewWebhookSecret returns a Standard Webhooks secret: "whsec_" and the
// base64 of 32 random bytes.
func NewWebhookSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// WebhookKey decodes a secret made by NewWebhookSecret (or given by a user).
func WebhookKey(secret string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
}

// NewRule validates spec and builds a rule. Notifiers without a secret get a
// generated one; the caller shows the returned rule's secrets once.
func NewRule(id, tenantID string, spec RuleSpec, now time.Time) (*Rule, error) {
	if err := spec.normalize(); err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	r := &Rule{ID: id, TenantID: tenantID, CreatedAt: now, UpdatedAt: now, RuleSpec: spec}
	r.Compile()
	return r, nil
}

// Replace validates spec and returns r with it (keeping id and created_at).
// A notifier without a secret keeps the secret of r's notifier with the same
// URL, or gets a new one.
func (r *Rule) Replace(spec RuleSpec, now time.Time) (*Rule, error) {
	for i, n := range spec.Notify {
		if n.Secret != "" {
			continue
		}
		for _, old := range r.Notify {
			if old.URL == n.URL {
				spec.Notify[i].Secret = old.Secret
			}
		}
	}
	nr, err := NewRule(r.ID, r.TenantID, spec, now)
	if err != nil {
		return nil, err
	}
	nr.CreatedAt = r.CreatedAt
	return nr, nil
}

// normalize applies defaults and validates, naming every broken field.
func (s *RuleSpec) normalize() error {
	var errs []FieldError
	bad := func(field, msg string) {
		errs = append(errs, FieldError{Field: field, Message: msg, Reason: field + ".invalid"})
	}
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" || utf8.RuneCountInString(s.Name) > 128 || !cleanString(s.Name) {
		bad("name", "is required: 1-128 characters")
	}
	if utf8.RuneCountInString(s.Description) > 1024 || !cleanString(s.Description) {
		bad("description", "must be at most 1024 characters")
	}

	f := &s.Filter
	if f.EventType != "" && (len(f.EventType) > MaxEventTypeLen || !validEventType(f.EventType)) {
		bad("filter.event_type", "must be 1-128 characters of A-Z a-z 0-9 _ . : -")
	}
	for _, sev := range f.Severity {
		if sev.Rank() < 0 {
			bad("filter.severity", "must list only debug, info, warning, error, critical")
			break
		}
	}
	if f.MinSeverity != "" && f.MinSeverity.Rank() < 0 {
		bad("filter.min_severity", "must be one of debug, info, warning, error, critical")
	}
	if utf8.RuneCountInString(f.Service) > MaxServiceLen || !cleanString(f.Service) {
		bad("filter.service", "must be at most 128 characters")
	}
	if utf8.RuneCountInString(f.Endpoint) > MaxEndpointLen || !cleanString(f.Endpoint) {
		bad("filter.endpoint", "must be at most 512 characters")
	}
	if f.StatusCodeMin != 0 && (f.StatusCodeMin < 100 || f.StatusCodeMin > 599) {
		bad("filter.status_code_min", "must be from 100 to 599")
	}
	if f.StatusCodeMax != 0 && (f.StatusCodeMax < 100 || f.StatusCodeMax > 599) {
		bad("filter.status_code_max", "must be from 100 to 599")
	}
	if f.StatusCodeMin != 0 && f.StatusCodeMax != 0 && f.StatusCodeMax < f.StatusCodeMin {
		bad("filter.status_code_max", "must not be below status_code_min")
	}
	if len(f.Tags) > MaxRuleTagFilters {
		bad("filter.tags", fmt.Sprintf("may hold at most %d tags", MaxRuleTagFilters))
	}
	for k, v := range f.Tags {
		if k == "" || utf8.RuneCountInString(k) > MaxTagKeyLen || strings.Contains(k, ":") || !cleanString(k) ||
			utf8.RuneCountInString(v) > MaxTagValueLen || !cleanString(v) {
			bad("filter.tags", "keys must be 1-64 characters without ':', values at most 256")
			break
		}
	}

	c := &s.Condition
	switch c.Aggregate {
	case AggregateCount, AggregateDistinctUsers:
	case "":
		bad("condition.aggregate", "is required: count or count_distinct:user_id")
	default:
		bad("condition.aggregate", "must be count or count_distinct:user_id")
	}
	if c.Operator == "" {
		c.Operator = OperatorGT
	}
	if c.Operator != OperatorGT && c.Operator != OperatorGTE {
		bad("condition.operator", "must be gt or gte")
	}
	if c.Threshold < 0 || c.Threshold > 1e12 {
		bad("condition.threshold", "must be a number from 0 to 1e12")
	}
	if c.WindowSeconds < 1 || c.WindowSeconds > MaxRuleWindowSeconds {
		bad("condition.window_seconds", fmt.Sprintf("is required: 1 to %d", MaxRuleWindowSeconds))
	}

	if len(s.GroupBy) > MaxRuleGroupBy {
		bad("group_by", fmt.Sprintf("may list at most %d labels", MaxRuleGroupBy))
	}
	for i, g := range s.GroupBy {
		field := fmt.Sprintf("group_by[%d]", i)
		switch {
		case g == "service", g == "endpoint", g == "event_type":
		case strings.HasPrefix(g, "tag:"):
			k := g[4:]
			if k == "" || utf8.RuneCountInString(k) > MaxTagKeyLen || strings.Contains(k, ":") || !cleanString(k) {
				bad(field, "tag:<key> needs a tag key of 1-64 characters")
			}
		default:
			bad(field, "must be service, endpoint, event_type or tag:<key>")
		}
		if slices.Index(s.GroupBy, g) < i {
			bad(field, "is repeated")
		}
	}
	if s.ForSeconds < 0 || s.ForSeconds > MaxRuleForSeconds {
		bad("for_seconds", fmt.Sprintf("must be from 0 to %d", MaxRuleForSeconds))
	}
	if s.CooldownSeconds == nil {
		d := DefaultRuleCooldown
		s.CooldownSeconds = &d
	} else if *s.CooldownSeconds < 0 || *s.CooldownSeconds > MaxRuleCooldown {
		bad("cooldown_seconds", fmt.Sprintf("must be from 0 to %d", MaxRuleCooldown))
	}
	if len(s.Notify) > MaxRuleNotifiers {
		bad("notify", fmt.Sprintf("may list at most %d notifiers", MaxRuleNotifiers))
	}
	for i := range s.Notify {
		n := &s.Notify[i]
		field := fmt.Sprintf("notify[%d]", i)
		if n.Type == "" {
			n.Type = "webhook"
		}
		if n.Type != "webhook" {
			bad(field+".type", "must be webhook")
		}
		if u, err := url.Parse(n.URL); err != nil || len(n.URL) > MaxWebhookURLLen || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			bad(field+".url", "must be an http:// or https:// URL without credentials, at most 2048 characters")
		}
		if n.Secret == "" {
			n.Secret = NewWebhookSecret()
		} else if key, err := WebhookKey(n.Secret); !strings.HasPrefix(n.Secret, "whsec_") || err != nil || len(key) < 16 || len(key) > 64 {
			bad(field+".secret", "must be whsec_ followed by the base64 of 16-64 bytes")
		}
	}
	if s.Enabled == nil {
		t := true
		s.Enabled = &t
	}
	if len(errs) > 0 {
		return Invalid(errs...)
	}
	return nil
}

func cleanString(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// Alert is one firing (or resolved) instance of a rule for one group.
type Alert struct {
	ID             string            `json:"id"`
	TenantID       string            `json:"-"`
	RuleID         string            `json:"rule_id"`
	RuleName       string            `json:"rule_name"`
	GroupKey       string            `json:"-"`
	Group          map[string]string `json:"group"`
	Status         string            `json:"status"`
	Value          float64           `json:"value"`
	Threshold      float64           `json:"threshold"`
	StartedAt      time.Time         `json:"started_at"`
	ResolvedAt     *time.Time        `json:"resolved_at"`
	AcknowledgedAt *time.Time        `json:"acknowledged_at"`
	SampleEventIDs []string          `json:"sample_event_ids"`
	Silenced       bool              `json:"silenced"`
	History        []AlertState      `json:"history,omitempty"`
}

// AlertState is one transition of an alert.
type AlertState struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	Value  float64   `json:"value"`
}

// AlertFilter selects alerts of one tenant, newest first.
type AlertFilter struct {
	Status string // "" = any
	RuleID string // "" = any
	After  string // the last id of the previous page
	Limit  int
}

// Silence mutes notifications of matching alerts between StartsAt and EndsAt.
type Silence struct {
	ID        string            `json:"id"`
	TenantID  string            `json:"-"`
	RuleID    string            `json:"rule_id,omitempty"`
	Matchers  map[string]string `json:"matchers,omitempty"`
	StartsAt  time.Time         `json:"starts_at"`
	EndsAt    time.Time         `json:"ends_at"`
	Comment   string            `json:"comment,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
}

// Mutes reports whether s silences a of ruleID at t.
func (s *Silence) Mutes(a *Alert, t time.Time) bool {
	if s.TenantID != a.TenantID || t.Before(s.StartsAt) || !t.Before(s.EndsAt) {
		return false
	}
	if s.RuleID != "" && s.RuleID != a.RuleID {
		return false
	}
	for k, v := range s.Matchers {
		if a.Group[k] != v {
			return false
		}
	}
	return true
}

// Validate checks a silence written by a user.
func (s *Silence) Validate() error {
	var errs []FieldError
	if s.RuleID == "" && len(s.Matchers) == 0 {
		errs = append(errs, FieldError{Field: "rule_id", Message: "a rule_id or matchers are required", Reason: "rule_id.required"})
	}
	if s.RuleID != "" && !ValidID(s.RuleID) {
		errs = append(errs, FieldError{Field: "rule_id", Message: "is not a rule id", Reason: "rule_id.invalid"})
	}
	if len(s.Matchers) > MaxRuleGroupBy {
		errs = append(errs, FieldError{Field: "matchers", Message: "may hold at most 5 labels", Reason: "matchers.invalid"})
	}
	for k, v := range s.Matchers {
		if k == "" || len(k) > 70 || len(v) > MaxTagValueLen || !cleanString(k) || !cleanString(v) {
			errs = append(errs, FieldError{Field: "matchers", Message: "labels are group_by names with values of at most 256 characters", Reason: "matchers.invalid"})
			break
		}
	}
	if s.EndsAt.IsZero() || !s.EndsAt.After(s.StartsAt) {
		errs = append(errs, FieldError{Field: "ends_at", Message: "is required and must be after starts_at", Reason: "ends_at.invalid"})
	}
	if utf8.RuneCountInString(s.Comment) > 1024 || !cleanString(s.Comment) {
		errs = append(errs, FieldError{Field: "comment", Message: "must be at most 1024 characters", Reason: "comment.invalid"})
	}
	if len(errs) > 0 {
		return Invalid(errs...)
	}
	return nil
}

// Notification is one message to one webhook for one alert transition (or a
// test). Its id is the webhook-id, the same on every attempt.
type Notification struct {
	ID          string                `json:"id"`
	TenantID    string                `json:"-"`
	AlertID     string                `json:"alert_id,omitempty"`
	RuleID      string                `json:"rule_id"`
	Kind        string                `json:"kind"`
	URL         string                `json:"url"`
	Secret      string                `json:"-"`
	Payload     json.RawMessage       `json:"-"`
	Status      string                `json:"status"`
	Round       int                   `json:"-"` // bumped by a manual retry, so the queue sees a new job
	Queued      bool                  `json:"-"`
	CreatedAt   time.Time             `json:"created_at"`
	UpdatedAt   time.Time             `json:"updated_at"`
	DeliveredAt *time.Time            `json:"delivered_at"`
	LastError   string                `json:"last_error,omitempty"`
	Attempts    []NotificationAttempt `json:"attempts"`
}

// NotificationAttempt is one try to deliver a notification.
type NotificationAttempt struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	Outcome    string    `json:"outcome"` // "delivered", "retry", "failed"
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// EventScan selects events for the alert evaluator, in id (receive) order.
type EventScan struct {
	TenantID string    // "" = every tenant
	AfterID  string    // ids greater than this ("" = from the start)
	UpToID   string    // ids up to and including this ("" = no bound)
	Since    time.Time // timestamp >= Since (zero = no bound)
	Limit    int
	IDsOnly  bool // return events with only ID set (a cheap index-only read)
}

// AlertStore keeps alert rules, alerts, silences, notifications and the
// evaluator's lease. Methods with a tenant id scope by it; the others serve
// the evaluator and the delivery worker, which work for every tenant.
//
// Errors: ErrNotFound for a missing (or another tenant's) row; ECONFLICT
// where noted.
type AlertStore interface {
	CreateRule(ctx context.Context, r *Rule) error
	GetRule(ctx context.Context, tenantID, id string) (*Rule, error)
	// ListRules returns the tenant's rules (not deleted), oldest first.
	ListRules(ctx context.Context, tenantID string) ([]*Rule, error)
	// UpdateRule replaces the stored rule r.ID of r.TenantID.
	UpdateRule(ctx context.Context, r *Rule) error
	// DeleteRule hides the rule; the evaluator resolves its open alerts.
	DeleteRule(ctx context.Context, tenantID, id string, at time.Time) error
	// ListEnabledRules returns every enabled rule of every enabled tenant.
	ListEnabledRules(ctx context.Context) ([]*Rule, error)

	// FireAlert stores a new firing alert with its first history entry and
	// the notifications, in one transaction. ECONFLICT when the rule already
	// has a firing alert for the group.
	FireAlert(ctx context.Context, a *Alert, notes []*Notification) error
	// ResolveAlert marks a firing alert resolved at at with value, adds the
	// history entry and stores the notifications, in one transaction.
	// ECONFLICT when the alert is not firing.
	ResolveAlert(ctx context.Context, tenantID, id string, at time.Time, value float64, notes []*Notification) error
	// AcknowledgeAlert records an acknowledgement (once) and returns the alert.
	AcknowledgeAlert(ctx context.Context, tenantID, id string, at time.Time) (*Alert, error)
	// GetAlert returns the alert with its history, oldest entry first.
	GetAlert(ctx context.Context, tenantID, id string) (*Alert, error)
	// ListAlerts returns at most f.Limit alerts, newest first, without history.
	ListAlerts(ctx context.Context, tenantID string, f AlertFilter) ([]*Alert, error)
	// ListFiringAlerts returns every firing alert of every tenant.
	ListFiringAlerts(ctx context.Context) ([]*Alert, error)

	CreateSilence(ctx context.Context, s *Silence) error
	ListSilences(ctx context.Context, tenantID string) ([]*Silence, error)
	DeleteSilence(ctx context.Context, tenantID, id string) error
	// ListActiveSilences returns every tenant's silences with ends_at > at.
	ListActiveSilences(ctx context.Context, at time.Time) ([]*Silence, error)

	// CreateNotifications stores notifications (such as tests) on their own.
	CreateNotifications(ctx context.Context, notes []*Notification) error
	// GetNotification returns the notification with its attempts.
	GetNotification(ctx context.Context, tenantID, id string) (*Notification, error)
	// ListNotifications returns an alert's notifications with their attempts, oldest first.
	ListNotifications(ctx context.Context, tenantID, alertID string) ([]*Notification, error)
	// ListUnqueuedNotifications returns up to limit pending notifications not yet handed to the queue.
	ListUnqueuedNotifications(ctx context.Context, limit int) ([]*Notification, error)
	// MarkNotificationsQueued records that the queue holds the notifications' jobs.
	MarkNotificationsQueued(ctx context.Context, ids []string) error
	// RecordAttempt appends an attempt and sets the notification's status
	// (and delivered_at when delivered) in one transaction.
	RecordAttempt(ctx context.Context, tenantID, id string, a NotificationAttempt, status string) error
	// RetryNotification puts a failed notification back to pending in a new
	// round. ECONFLICT when it is not failed.
	RetryNotification(ctx context.Context, tenantID, id string, at time.Time) (*Notification, error)
	// CountPendingNotifications is the number of notifications not yet delivered or failed.
	CountPendingNotifications(ctx context.Context) (int, error)

	// AcquireLease takes or renews the named lease for holder until now+ttl
	// and reports whether holder has it (another unexpired holder keeps it).
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder has it.
	ReleaseLease(ctx context.Context, name, holder string) error

	// ScanEvents returns events of s in id order with the fields rules look
	// at (no payload or message).
	ScanEvents(ctx context.Context, s EventScan) ([]*Event, error)
	// MaxEventID returns the greatest event id, "" when there is none.
	MaxEventID(ctx context.Context) (string, error)
}
