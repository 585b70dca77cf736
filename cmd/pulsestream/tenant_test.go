package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
)

// tenant update --alert-max-* (and --tail-*) sets the named overrides, leaves the others,
// and 0 goes back to the default.
func TestTenantUpdateAlertLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := migrated(t)
	path := strings.TrimPrefix(db, "sqlite://")
	getenv := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"tenant", "create", "cli", "--database", db}, getenv, &out, &errOut); code != 0 {
		t.Fatalf("tenant create: exit %d: %s", code, errOut.String())
	}
	id := regexp.MustCompile(`tenant_id: (\S+)`).FindStringSubmatch(out.String())[1]
	update := func(args ...string) {
		t.Helper()
		out.Reset()
		errOut.Reset()
		if code := run(ctx, append([]string{"tenant", "update", id, "--database", db}, args...), getenv, &out, &errOut); code != 0 {
			t.Fatalf("tenant update %v: exit %d: %s", args, code, errOut.String())
		}
	}
	update("--alert-max-rules", "5", "--alert-max-groups-per-rule", "300")
	if !strings.Contains(out.String(), "max_rules=5 max_groups_per_rule=300") {
		t.Fatalf("output: %s", out.String())
	}
	update("--alert-max-rules", "0", "--alert-max-window-seconds", "600", "--webhook-concurrency", "7")
	if !strings.Contains(out.String(), "webhook_concurrency=7") {
		t.Fatalf("output: %s", out.String())
	}
	// Tail limit overrides (issue 14), beside the alert ones.
	update("--tail-max-streams", "2", "--tail-events-per-second", "9")
	if !strings.Contains(out.String(), "max_streams=2 events_per_second=9") {
		t.Fatalf("output: %s", out.String())
	}
	update("--tail-events-per-second", "0")
	s, err := sqlite.Open(ctx, path, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tn, err := s.GetTenant(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := (pulse.AlertLimits{MaxGroupsPerRule: 300, MaxWindowSeconds: 600, WebhookConcurrency: 7}); tn.AlertLimits != want {
		t.Fatalf("overrides = %+v, want %+v", tn.AlertLimits, want)
	}
	if want := (pulse.TailLimits{MaxStreams: 2}); tn.TailLimits != want {
		t.Fatalf("tail overrides = %+v, want %+v", tn.TailLimits, want)
	}
}
