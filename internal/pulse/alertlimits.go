package pulse

import "fmt"

// AlertLimits bound what one tenant's alert rules may cost the evaluator:
// its memory is (rules × groups per rule × distinct values per group),
// each factor capped here, so it is set by configuration and not by what a
// tenant sends. Zero fields of a tenant's override mean "use the default".
type AlertLimits struct {
	// MaxRules is the number of rules a tenant may have.
	MaxRules int `json:"max_rules"`
	// MaxGroupsPerRule is the number of groups (series) one rule tracks;
	// events of a new group beyond it are dropped and counted.
	MaxGroupsPerRule int `json:"max_groups_per_rule"`
	// MaxDistinctPerGroup is how many distinct user ids a count_distinct
	// group tracks exactly; beyond it the count is a HyperLogLog estimate.
	MaxDistinctPerGroup int `json:"max_distinct_per_group"`
	// MaxWindowSeconds is the longest window a rule may use.
	MaxWindowSeconds int `json:"max_window_seconds"`
	// WebhookConcurrency is the tenant's share of a node's webhook
	// workers (the node caps it at half of them). Its server default is
	// --webhook-tenant-concurrency (the app puts it in the defaults).
	WebhookConcurrency int `json:"webhook_concurrency"`
}

// Defaults of AlertLimits (config flags may change them).
const (
	DefaultAlertMaxRules            = 100
	DefaultAlertMaxGroupsPerRule    = 1000
	DefaultAlertMaxDistinctPerGroup = 1000
	DefaultAlertMaxWindowSeconds    = MaxRuleWindowSeconds
	DefaultWebhookConcurrency       = 4
	MaxAlertLimit                   = 1_000_000
)

// DefaultAlertLimits are the built-in defaults.
func DefaultAlertLimits() AlertLimits {
	return AlertLimits{
		MaxRules:            DefaultAlertMaxRules,
		MaxGroupsPerRule:    DefaultAlertMaxGroupsPerRule,
		MaxDistinctPerGroup: DefaultAlertMaxDistinctPerGroup,
		MaxWindowSeconds:    DefaultAlertMaxWindowSeconds,
		WebhookConcurrency:  DefaultWebhookConcurrency,
	}
}

// With returns l with the non-zero fields of override in place of its own:
// the limits in force for a tenant whose override it is.
func (l AlertLimits) With(override AlertLimits) AlertLimits {
	pick := func(def, o int) int {
		if o > 0 {
			return o
		}
		return def
	}
	return AlertLimits{
		MaxRules:            pick(l.MaxRules, override.MaxRules),
		MaxGroupsPerRule:    pick(l.MaxGroupsPerRule, override.MaxGroupsPerRule),
		MaxDistinctPerGroup: pick(l.MaxDistinctPerGroup, override.MaxDistinctPerGroup),
		MaxWindowSeconds:    pick(l.MaxWindowSeconds, override.MaxWindowSeconds),
		WebhookConcurrency:  pick(l.WebhookConcurrency, override.WebhookConcurrency),
	}
}

// Validate checks a set of defaults (every field set) or, with override,
// an override (0 allowed: use the default).
func (l AlertLimits) Validate(override bool) error {
	if errs := l.fieldErrors(override); len(errs) > 0 {
		return Invalid(errs...)
	}
	return nil
}

func (l AlertLimits) fieldErrors(override bool) []FieldError {
	var errs []FieldError
	check := func(field string, v, hi int) {
		if (v == 0 && override) || (v >= 1 && v <= hi) {
			return
		}
		lo := 1
		if override {
			lo = 0
		}
		errs = append(errs, FieldError{Field: "alert_limits." + field, Message: fmt.Sprintf("must be between %d and %d", lo, hi), Reason: "alert_limits.invalid"})
	}
	check("max_rules", l.MaxRules, MaxAlertLimit)
	check("max_groups_per_rule", l.MaxGroupsPerRule, MaxAlertLimit)
	check("max_distinct_per_group", l.MaxDistinctPerGroup, MaxAlertLimit)
	check("max_window_seconds", l.MaxWindowSeconds, MaxRuleWindowSeconds)
	check("webhook_concurrency", l.WebhookConcurrency, 500)
	return errs
}

// CheckRule refuses a rule that would exceed l for a tenant that has
// `existing` other rules (not counting r itself, when r is an update).
// Errors are EINVALID (422) naming the field.
func (l AlertLimits) CheckRule(r *Rule, existing int) error {
	var errs []FieldError
	if existing >= l.MaxRules {
		errs = append(errs, FieldError{Field: "rules", Message: fmt.Sprintf("the tenant has %d rules, its limit (alert_limits.max_rules) is %d", existing, l.MaxRules), Reason: "rules.limit"})
	}
	if r.Condition.WindowSeconds > l.MaxWindowSeconds {
		errs = append(errs, FieldError{Field: "condition.window_seconds", Message: fmt.Sprintf("is %d, the tenant's limit (alert_limits.max_window_seconds) is %d", r.Condition.WindowSeconds, l.MaxWindowSeconds), Reason: "condition.window_seconds.limit"})
	}
	if len(errs) > 0 {
		return Invalid(errs...)
	}
	return nil
}

// RuleStatus is what the evaluator holds for a rule, shown as the rule's
// "status" by the node that evaluates it.
type RuleStatus struct {
	Groups        int   `json:"groups"`
	MaxGroups     int   `json:"max_groups"`
	GroupsDropped int64 `json:"groups_dropped"` // events of new groups refused at MaxGroups
}
