package pulse

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults for a new tenant.
const (
	DefaultRateLimitPerMinute = 100
	DefaultRetentionDays      = 30
	MaxRetentionDays          = 3650
	MaxRateLimitPerMinute     = 1_000_000_000
)

// Tenant is one application team. Every event, key and rule belongs to one.
type Tenant struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	RateLimitPerMinute int       `json:"rate_limit_per_minute"`
	RetentionDays      int       `json:"retention_days"`
	Disabled           bool      `json:"disabled"`
	CreatedAt          time.Time `json:"created_at"`
	// RequireSignedRequests makes ingestion refuse requests without a valid
	// X-PulseStream-Signature (see SigningSecret).
	RequireSignedRequests bool `json:"require_signed_requests"`
	// AlertLimits overrides the configured alerting limits for this
	// tenant; a zero field uses the default.
	AlertLimits AlertLimits `json:"alert_limits"`
	// TailLimits overrides the configured live tail limits for this
	// tenant; a zero field uses the default.
	TailLimits TailLimits `json:"tail_limits"`
}

// Retention is how long the tenant's events are kept.
func (t *Tenant) Retention() time.Duration {
	return time.Duration(t.RetentionDays) * 24 * time.Hour
}

// TenantPatch lists the fields of a tenant that may change; nil means unchanged.
// TenantNameTaken is the ECONFLICT of a tenant name already in use: names
// are unique per server (so that the CLI, the console and people can tell
// tenants apart by name).
func TenantNameTaken(name string) *Error {
	return &Error{Code: ECONFLICT, Message: fmt.Sprintf("a tenant named %q exists; tenant names are unique (choose another name)", name)}
}

type TenantPatch struct {
	Name               *string `json:"name"`
	RateLimitPerMinute *int    `json:"rate_limit_per_minute"`
	RetentionDays      *int    `json:"retention_days"`
	Disabled           *bool   `json:"disabled"`

	RequireSignedRequests *bool `json:"require_signed_requests"`
	// AlertLimits sets the fields of the override it names; 0 goes back
	// to the default.
	AlertLimits *AlertLimitsPatch `json:"alert_limits"`
	// TailLimits sets the fields of the override it names; 0 goes back to
	// the default.
	TailLimits *TailLimitsPatch `json:"tail_limits"`
}

// AlertLimitsPatch lists the alert limit overrides that change; nil means
// unchanged, 0 means "use the default".
type AlertLimitsPatch struct {
	MaxRules            *int `json:"max_rules"`
	MaxGroupsPerRule    *int `json:"max_groups_per_rule"`
	MaxDistinctPerGroup *int `json:"max_distinct_per_group"`
	MaxWindowSeconds    *int `json:"max_window_seconds"`
	WebhookConcurrency  *int `json:"webhook_concurrency"`
}

func (p *AlertLimitsPatch) apply(l *AlertLimits) {
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	set(&l.MaxRules, p.MaxRules)
	set(&l.MaxGroupsPerRule, p.MaxGroupsPerRule)
	set(&l.MaxDistinctPerGroup, p.MaxDistinctPerGroup)
	set(&l.MaxWindowSeconds, p.MaxWindowSeconds)
	set(&l.WebhookConcurrency, p.WebhookConcurrency)
}

// Apply validates p and applies it to t.
func (p TenantPatch) Apply(t *Tenant) error {
	var errs []FieldError
	if p.Name != nil {
		t.Name = strings.TrimSpace(*p.Name)
	}
	if p.RateLimitPerMinute != nil {
		t.RateLimitPerMinute = *p.RateLimitPerMinute
	}
	if p.RetentionDays != nil {
		t.RetentionDays = *p.RetentionDays
	}
	if p.Disabled != nil {
		t.Disabled = *p.Disabled
	}
	if p.RequireSignedRequests != nil {
		t.RequireSignedRequests = *p.RequireSignedRequests
	}
	if p.AlertLimits != nil {
		p.AlertLimits.apply(&t.AlertLimits)
	}
	if p.TailLimits != nil {
		p.TailLimits.apply(&t.TailLimits)
	}
	errs = append(errs, t.validate()...)
	if len(errs) > 0 {
		return Invalid(errs...)
	}
	return nil
}

// NewTenant builds a validated tenant. Callers supply the defaults
// (DefaultRateLimitPerMinute, DefaultRetentionDays) for values a user left
// out: an explicit 0 is refused, not silently replaced.
func NewTenant(id, name string, rateLimit, retentionDays int, now time.Time) (*Tenant, error) {
	t := &Tenant{ID: id, Name: strings.TrimSpace(name), RateLimitPerMinute: rateLimit, RetentionDays: retentionDays, CreatedAt: now.UTC().Truncate(time.Microsecond)}
	if errs := t.validate(); len(errs) > 0 {
		return nil, Invalid(errs...)
	}
	return t, nil
}

func (t *Tenant) validate() []FieldError {
	var errs []FieldError
	if t.Name == "" || utf8.RuneCountInString(t.Name) > 128 || strings.ContainsRune(t.Name, 0) || !utf8.ValidString(t.Name) {
		errs = append(errs, FieldError{Field: "name", Message: "must be 1-128 characters", Reason: "name.invalid"})
	}
	if t.RateLimitPerMinute < 1 || t.RateLimitPerMinute > MaxRateLimitPerMinute {
		errs = append(errs, FieldError{Field: "rate_limit_per_minute", Message: "must be between 1 and 1000000000", Reason: "rate_limit_per_minute.invalid"})
	}
	if t.RetentionDays < 1 || t.RetentionDays > MaxRetentionDays {
		errs = append(errs, FieldError{Field: "retention_days", Message: "must be between 1 and 3650", Reason: "retention_days.invalid"})
	}
	errs = append(errs, t.AlertLimits.fieldErrors(true)...)
	return append(errs, t.TailLimits.fieldErrors()...)
}
