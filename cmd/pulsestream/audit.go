package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

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

// auditLogCmd prints the newest audit entries, of one tenant or of all.
func auditLogCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	limit := 50
	s, pos, err := openCLIStore(ctx, "audit-log", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&limit, "limit", limit, "entries to show, newest first")
	})
	if err != nil {
		return err
	}
	defer s.Close()
	f := pulse.AuditFilter{AllTenants: true, Limit: limit}
	if len(pos) == 1 {
		f = pulse.AuditFilter{TenantID: pos[0], Limit: limit}
	}
	entries, err := s.ListAudit(ctx, f)
	if err != nil {
		return cliError(err)
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tTENANT\tACTOR\tACTION\tTARGET\tSOURCE_IP\tREQUEST_ID")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), dash(e.TenantID), e.Actor, e.Action, e.Target, dash(e.SourceIP), dash(e.RequestID))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
