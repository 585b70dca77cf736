package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// cliAudit records a change made by a CLI command (actor "cli"). The change
// has been made; a failure to record it is reported, not fatal.
func cliAudit(ctx context.Context, s pulse.Store, stderr io.Writer, tenantID, action, target string, before, after any) {
	e := &pulse.AuditEntry{
		ID: pulse.NewID(), TenantID: tenantID, At: time.Now().UTC(), Actor: pulse.ActorCLI,
		Action: action, Target: target, Before: pulse.Summary(before), After: pulse.Summary(after),
	}
	appendCLIAudit(ctx, s, stderr, e)
}

// appendCLIAudit stores e; a failure is reported on stderr, not returned.
func appendCLIAudit(ctx context.Context, s pulse.Store, stderr io.Writer, e *pulse.AuditEntry) {
	if err := s.AppendAudit(ctx, e); err != nil {
		fmt.Fprintf(stderr, "warning: the change was made but not recorded in the audit log: %v\n", err)
	}
}

func auditLogSetup(fs *flag.FlagSet) runFunc {
	limit := fs.Int("limit", 50, "entries to show, newest first")
	return func(e *env, cfg config.Config, pos []string) error {
		if err := wantArgs("audit-log", pos, 0, 1); err != nil {
			return err
		}
		s, err := openCLIStore(e, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		f := pulse.AuditFilter{AllTenants: true, Limit: *limit}
		if len(pos) == 1 {
			f = pulse.AuditFilter{TenantID: pos[0], Limit: *limit}
		}
		entries, err := s.ListAudit(e.ctx, f)
		if err != nil {
			return cliError(err)
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "AT\tTENANT\tACTOR\tACTION\tTARGET\tSOURCE_IP\tREQUEST_ID")
		for _, x := range entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.At.Format(time.RFC3339), dash(x.TenantID), x.Actor, x.Action, x.Target, dash(x.SourceIP), dash(x.RequestID))
		}
		return tw.Flush()
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
