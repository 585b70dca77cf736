package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// openCLIStore opens the existing database of a CLI command.
func openCLIStore(e *env, cfg config.Config) (pulse.Store, error) {
	if err := sqliteExists(cfg.DatabaseURL); err != nil {
		return nil, err
	}
	return app.OpenStore(e.ctx, cfg, slog.New(slog.DiscardHandler), nil)
}

func tenantCreateSetup(fs *flag.FlagSet) runFunc {
	rate := fs.Int("rate-limit", pulse.DefaultRateLimitPerMinute, "events per minute")
	retention := fs.Int("retention-days", pulse.DefaultRetentionDays, "days events are kept")
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("tenant create", pos, 1); err != nil {
			return err
		}
		s, err := openCLIStore(e, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		t, secret, err := pulse.CreateTenantWithKey(e.ctx, s, time.Now(), pos[0], *rate, *retention)
		if err != nil {
			return cliError(err)
		}
		cliAudit(e.ctx, s, e.stderr, t.ID, "tenant.create", "tenant/"+t.ID, nil, t)
		fmt.Fprintf(e.stdout, "tenant_id: %s\nname: %s\nrate_limit_per_minute: %d\nretention_days: %d\napi_key: %s\n\nThe API key is shown only once; store it now.\n",
			t.ID, t.Name, t.RateLimitPerMinute, t.RetentionDays, secret)
		return nil
	}
}

func tenantListSetup(fs *flag.FlagSet) runFunc {
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("tenant list", pos, 0); err != nil {
			return err
		}
		s, err := openCLIStore(e, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		ts, err := s.ListTenants(e.ctx)
		if err != nil {
			return cliError(err)
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tRATE_LIMIT/MIN\tRETENTION_DAYS\tDISABLED\tCREATED_AT")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%t\t%s\n", t.ID, t.Name, t.RateLimitPerMinute, t.RetentionDays, t.Disabled, t.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
}

// optionalBool is a flag that is either unset or exactly true or false
// ("maybe" is an error, not false).
type optionalBool struct{ v *bool }

func (b *optionalBool) String() string {
	if b == nil || b.v == nil {
		return ""
	}
	return strconv.FormatBool(*b.v)
}

func (b *optionalBool) Set(s string) error {
	switch s {
	case "true", "false":
		v := s == "true"
		b.v = &v
		return nil
	}
	return fmt.Errorf("%q is not true or false", s)
}

func tenantUpdateSetup(fs *flag.FlagSet) runFunc {
	rate := fs.Int("rate-limit", 0, "events per minute")
	retention := fs.Int("retention-days", 0, "days events are kept")
	var disabled optionalBool
	fs.Var(&disabled, "disabled", "true or false")
	var al [5]int
	fs.IntVar(&al[0], "alert-max-rules", -1, "alert rules the tenant may have (0: the default)")
	fs.IntVar(&al[1], "alert-max-groups-per-rule", -1, "groups one rule tracks (0: the default)")
	fs.IntVar(&al[2], "alert-max-distinct-per-group", -1, "users counted exactly per group before the estimate (0: the default)")
	fs.IntVar(&al[3], "alert-max-window-seconds", -1, "longest rule window (0: the default)")
	fs.IntVar(&al[4], "webhook-concurrency", -1, "webhook deliveries of the tenant a node runs at once (0: the default)")
	var tl [2]int
	fs.IntVar(&tl[0], "tail-max-streams", -1, "live tails the tenant may hold open on a node (0: the default, --tails-per-tenant)")
	fs.IntVar(&tl[1], "tail-events-per-second", -1, "events one live tail sends per second (0: the default, --tail-events-per-second)")
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("tenant update", pos, 1); err != nil {
			return err
		}
		s, err := openCLIStore(e, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		var p pulse.TenantPatch
		if *rate != 0 {
			p.RateLimitPerMinute = rate
		}
		if *retention != 0 {
			p.RetentionDays = retention
		}
		p.Disabled = disabled.v
		opt := func(v int) *int {
			if v < 0 {
				return nil
			}
			return &v
		}
		if tl != [2]int{-1, -1} {
			p.TailLimits = &pulse.TailLimitsPatch{MaxStreams: opt(tl[0]), EventsPerSecond: opt(tl[1])}
		}
		if al != [5]int{-1, -1, -1, -1, -1} {
			p.AlertLimits = &pulse.AlertLimitsPatch{MaxRules: opt(al[0]), MaxGroupsPerRule: opt(al[1]), MaxDistinctPerGroup: opt(al[2]), MaxWindowSeconds: opt(al[3]), WebhookConcurrency: opt(al[4])}
		}
		before, err := s.GetTenant(e.ctx, pos[0])
		if err != nil {
			return cliError(err)
		}
		t, err := s.UpdateTenant(e.ctx, pos[0], p)
		if err != nil {
			return cliError(err)
		}
		cliAudit(e.ctx, s, e.stderr, t.ID, "tenant.update", "tenant/"+t.ID, before, t)
		l := t.AlertLimits
		fmt.Fprintf(e.stdout, "tenant %s updated: rate_limit_per_minute=%d retention_days=%d disabled=%t alert_limits(0=default): max_rules=%d max_groups_per_rule=%d max_distinct_per_group=%d max_window_seconds=%d webhook_concurrency=%d tail_limits(0=default): max_streams=%d events_per_second=%d (all nodes see it within 5 s)\n",
			t.ID, t.RateLimitPerMinute, t.RetentionDays, t.Disabled, l.MaxRules, l.MaxGroupsPerRule, l.MaxDistinctPerGroup, l.MaxWindowSeconds, l.WebhookConcurrency, t.TailLimits.MaxStreams, t.TailLimits.EventsPerSecond)
		return nil
	}
}

// apikeySetup builds `apikey create|list|revoke|rotate`.
func apikeySetup(sub string) func(fs *flag.FlagSet) runFunc {
	return func(fs *flag.FlagSet) runFunc {
		var name, scopes string
		var expiresIn time.Duration
		grace := pulse.DefaultRotationGrace
		want := 1
		switch sub {
		case "create":
			fs.StringVar(&name, "name", "", "a label for the key")
			fs.StringVar(&scopes, "scopes", "ingest,read,admin", "comma-separated scopes")
			fs.DurationVar(&expiresIn, "expires-in", 0, "expire the key after this long (0: never)")
		case "rotate":
			fs.DurationVar(&grace, "grace", grace, "how long the old key keeps working (0: stops at once)")
			want = 2
		case "revoke":
			want = 2
		}
		return func(e *env, cfg config.Config, pos []string) error {
			if err := wantArgs("apikey "+sub, pos, want); err != nil {
				return err
			}
			s, err := openCLIStore(e, cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			return apikeyRun(e, s, sub, pos, name, scopes, expiresIn, grace)
		}
	}
}

func apikeyRun(e *env, s pulse.Store, sub string, pos []string, name, scopes string, expiresIn, grace time.Duration) error {
	ctx, stdout, stderr := e.ctx, e.stdout, e.stderr
	tenantID := pos[0]
	if _, err := s.GetTenant(ctx, tenantID); err != nil {
		return cliError(err)
	}
	now := time.Now()
	switch sub {
	case "create":
		var sc []pulse.Scope
		for _, x := range strings.Split(scopes, ",") {
			if x = strings.TrimSpace(x); x != "" {
				sc = append(sc, pulse.Scope(x))
			}
		}
		var exp *time.Time
		if expiresIn > 0 {
			e := now.Add(expiresIn)
			exp = &e
		}
		k, secret, err := pulse.NewAPIKey(pulse.NewID(), tenantID, name, sc, exp, now)
		if err != nil {
			return cliError(err)
		}
		if err := s.CreateAPIKey(ctx, k); err != nil {
			return cliError(err)
		}
		cliAudit(ctx, s, stderr, tenantID, "api_key.create", "api_key/"+k.ID, nil, k)
		fmt.Fprintf(stdout, "key_id: %s\napi_key: %s\n\nThe API key is shown only once; store it now.\n", k.ID, secret)
		return nil
	case "list":
		ks, err := s.ListAPIKeys(ctx, tenantID)
		if err != nil {
			return cliError(err)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tSCOPES\tCREATED_AT\tEXPIRES_AT\tREVOKED_AT")
		for _, k := range ks {
			fmt.Fprintf(tw, "%s\t%s…\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, joinScopes(k.Scopes), k.CreatedAt.Format(time.RFC3339), fmtTime(k.ExpiresAt), fmtTime(k.RevokedAt))
		}
		return tw.Flush()
	case "revoke":
		before, err := pulse.FindAPIKey(ctx, s, tenantID, pos[1])
		if err != nil {
			return cliError(err)
		}
		if err := s.RevokeAPIKey(ctx, tenantID, pos[1], now); err != nil {
			return cliError(err)
		}
		after, _ := pulse.FindAPIKey(ctx, s, tenantID, pos[1])
		cliAudit(ctx, s, stderr, tenantID, "api_key.revoke", "api_key/"+pos[1], before, after)
		fmt.Fprintf(stdout, "key %s revoked (refused by every node within 5 s)\n", pos[1])
		return nil
	}
	before, _ := pulse.FindAPIKey(ctx, s, tenantID, pos[1])
	old, next, secret, err := pulse.RotateKey(ctx, s, tenantID, pos[1], grace, now)
	if err != nil {
		return cliError(err)
	}
	cliAudit(ctx, s, stderr, tenantID, "api_key.rotate", "api_key/"+pos[1], before, map[string]any{"previous": old, "api_key": next})
	fmt.Fprintf(stdout, "key_id: %s\napi_key: %s\nprevious key %s stops working at %s\n\nThe API key is shown only once; store it now.\n",
		next.ID, secret, old.ID, old.RevokedAt.Format(time.RFC3339))
	return nil
}

func joinScopes(s []pulse.Scope) string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return strings.Join(out, ",")
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// cliError shows a domain error's message (and fields) instead of its code.
func cliError(err error) error {
	var pe *pulse.Error
	if e, ok := err.(*pulse.Error); ok {
		pe = e
	}
	if pe == nil {
		return err
	}
	msg := pe.Message
	for _, f := range pe.Fields {
		msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
	}
	return fmt.Errorf("%s", msg)
}
