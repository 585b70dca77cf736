package pulse

import (
	"strings"
	"testing"
)

// TestRuleForAudit: the audit log keeps a rule without its webhook secret
// and without the path or query of its receiver URL (often a credential),
// but with enough to recognise the receiver.
func TestRuleForAudit(t *testing.T) {
	t.Parallel()
	r := &Rule{}
	r.Notify = []Notifier{
		{Type: "webhook", URL: "https://hooks.example.com/services/T000/B000/XXXXSECRETXXXX?token=abc", Secret: "whsec_shh"},
		{Type: "webhook", URL: "https://alerts.example.com/", Secret: "whsec_2"},
	}
	a := r.ForAudit()
	if got := a.Notify[0].URL; got != "https://hooks.example.com/…" {
		t.Errorf("audited URL %q", got)
	}
	if got := a.Notify[1].URL; got != "https://alerts.example.com/" {
		t.Errorf("audited URL without a path %q", got)
	}
	for _, n := range a.Notify {
		if n.Secret != "" || strings.Contains(n.URL, "SECRET") || strings.Contains(n.URL, "token") {
			t.Errorf("audit copy leaks %+v", n)
		}
	}
	if r.Notify[0].Secret != "whsec_shh" || !strings.Contains(r.Notify[0].URL, "token=abc") {
		t.Errorf("ForAudit changed the rule itself: %+v", r.Notify[0])
	}
}
