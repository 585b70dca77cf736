package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pulsestream/pulsestream/internal/app"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// interleaved lets flags come after positional arguments
// ("tenant create NAME --rate-limit 5"), as users type them.
func interleaved(fs *flag.FlagSet, args []string) ([]string, []string) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") {
				if f := fs.Lookup(name); f != nil && i+1 < len(args) {
					if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
						flags = append(flags, args[i+1])
						i++
					}
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	return flags, pos
}

func openCLIStore(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (pulse.Store, []string, error) {
	probe := flag.NewFlagSet(name, flag.ContinueOnError)
	probe.String("database", "", "")
	probe.String("sqlite-synchronous", "", "")
	if extra != nil {
		extra(probe)
	}
	flags, pos := interleaved(probe, args)
	cfg, _, err := dbFlags(name, flags, getenv, stderr, extra)
	if err != nil {
		return nil, nil, err
	}
	s, err := app.OpenStore(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return nil, nil, err
	}
	return s, pos, nil
}

func tenantCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: pulsestream tenant create NAME [--rate-limit N] [--retention-days N] | tenant list")
		return errUsage
	}
	switch args[0] {
	case "create":
		var rate, retention int
		s, pos, err := openCLIStore(ctx, "tenant create", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
			fs.IntVar(&rate, "rate-limit", pulse.DefaultRateLimitPerMinute, "events per minute")
			fs.IntVar(&retention, "retention-days", pulse.DefaultRetentionDays, "days events are kept")
		})
		if err != nil {
			return err
		}
		defer s.Close()
		if len(pos) != 1 {
			return fmt.Errorf("tenant create needs exactly one NAME")
		}
		t, secret, err := pulse.CreateTenantWithKey(ctx, s, time.Now(), pos[0], rate, retention)
		if err != nil {
			return cliError(err)
		}
		cliAudit(ctx, s, stderr, t.ID, "tenant.create", "tenant/"+t.ID, nil, t)
		fmt.Fprintf(stdout, "tenant_id: %s\nname: %s\nrate_limit_per_minute: %d\nretention_days: %d\napi_key: %s\n\nThe API key is shown only once; store it now.\n",
			t.ID, t.Name, t.RateLimitPerMinute, t.RetentionDays, secret)
		return nil
	case "list":
		s, _, err := openCLIStore(ctx, "tenant list", args[1:], getenv, stderr, nil)
		if err != nil {
			return err
		}
		defer s.Close()
		ts, err := s.ListTenants(ctx)
		if err != nil {
			return cliError(err)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tRATE_LIMIT/MIN\tRETENTION_DAYS\tDISABLED\tCREATED_AT")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%t\t%s\n", t.ID, t.Name, t.RateLimitPerMinute, t.RetentionDays, t.Disabled, t.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "update":
		var rate, retention int
		var disabled string
		var al [5]int
		s, pos, err := openCLIStore(ctx, "tenant update", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
			fs.IntVar(&rate, "rate-limit", 0, "events per minute")
			fs.IntVar(&retention, "retention-days", 0, "days events are kept")
			fs.StringVar(&disabled, "disabled", "", "true or false")
			fs.IntVar(&al[0], "alert-max-rules", -1, "alert rules the tenant may have (0: the default)")
			fs.IntVar(&al[1], "alert-max-groups-per-rule", -1, "groups one rule tracks (0: the default)")
			fs.IntVar(&al[2], "alert-max-distinct-per-group", -1, "users counted exactly per group before the estimate (0: the default)")
			fs.IntVar(&al[3], "alert-max-window-seconds", -1, "longest rule window (0: the default)")
			fs.IntVar(&al[4], "webhook-concurrency", -1, "webhook deliveries of the tenant a node runs at once (0: the default)")
		})
		if err != nil {
			return err
		}
		defer s.Close()
		if len(pos) != 1 {
			return fmt.Errorf("tenant update needs exactly one TENANT_ID")
		}
		var p pulse.TenantPatch
		if rate != 0 {
			p.RateLimitPerMinute = &rate
		}
		if retention != 0 {
			p.RetentionDays = &retention
		}
		if disabled != "" {
			d := disabled == "true"
			p.Disabled = &d
		}
		if al != [5]int{-1, -1, -1, -1, -1} {
			opt := func(v int) *int {
				if v < 0 {
					return nil
				}
				return &v
			}
			p.AlertLimits = &pulse.AlertLimitsPatch{MaxRules: opt(al[0]), MaxGroupsPerRule: opt(al[1]), MaxDistinctPerGroup: opt(al[2]), MaxWindowSeconds: opt(al[3]), WebhookConcurrency: opt(al[4])}
		}
		before, err := s.GetTenant(ctx, pos[0])
		if err != nil {
			return cliError(err)
		}
		t, err := s.UpdateTenant(ctx, pos[0], p)
		if err != nil {
			return cliError(err)
		}
		cliAudit(ctx, s, stderr, t.ID, "tenant.update", "tenant/"+t.ID, before, t)
		l := t.AlertLimits
		fmt.Fprintf(stdout, "tenant %s updated: rate_limit_per_minute=%d retention_days=%d disabled=%t alert_limits(0=default): max_rules=%d max_groups_per_rule=%d max_distinct_per_group=%d max_window_seconds=%d webhook_concurrency=%d (all nodes see it within 5 s)\n",
			t.ID, t.RateLimitPerMinute, t.RetentionDays, t.Disabled, l.MaxRules, l.MaxGroupsPerRule, l.MaxDistinctPerGroup, l.MaxWindowSeconds, l.WebhookConcurrency)
		return nil
	}
	return fmt.Errorf("unknown tenant command %q (create, list, update)", args[0])
}

func apikeyCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: pulsestream apikey create|list|revoke|rotate TENANT_ID [KEY_ID]")
		return errUsage
	}
	var name, scopes string
	var expiresIn time.Duration
	grace := pulse.DefaultRotationGrace
	s, pos, err := openCLIStore(ctx, "apikey "+args[0], args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		switch args[0] {
		case "create":
			fs.StringVar(&name, "name", "", "a label for the key")
			fs.StringVar(&scopes, "scopes", "ingest,read,admin", "comma-separated scopes")
			fs.DurationVar(&expiresIn, "expires-in", 0, "expire the key after this long (0: never)")
		case "rotate":
			fs.DurationVar(&grace, "grace", grace, "how long the old key keeps working (0: stops at once)")
		}
	})
	if err != nil {
		return err
	}
	defer s.Close()
	if len(pos) < 1 {
		return fmt.Errorf("apikey %s needs a TENANT_ID", args[0])
	}
	tenantID := pos[0]
	if _, err := s.GetTenant(ctx, tenantID); err != nil {
		return cliError(err)
	}
	now := time.Now()
	switch args[0] {
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
		if len(pos) != 2 {
			return fmt.Errorf("apikey revoke needs TENANT_ID and KEY_ID")
		}
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
	case "rotate":
		if len(pos) != 2 {
			return fmt.Errorf("apikey rotate needs TENANT_ID and KEY_ID")
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
	return fmt.Errorf("unknown apikey command %q (create, list, revoke, rotate)", args[0])
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
