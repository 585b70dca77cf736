package app

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/pulsestream/pulsestream/internal/people"
)

// openAuth builds the sign-in service (issue 14) over a.People: sessions
// with the configured timeouts, invitations mailed through --smtp-url.
func (a *App) openAuth() error {
	auth, err := people.NewAuth(a.People, a.cfg.SessionIdleTimeout, a.cfg.SessionMaxAge)
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	if a.cfg.SMTPURL != "" {
		if auth.Mailer, err = people.ParseSMTPURL(a.cfg.SMTPURL); err != nil {
			return err
		}
	}
	a.auth = auth
	return nil
}

// Auth is the sign-in service (tests, the console).
func (a *App) Auth() *people.Auth { return a.auth }

// printSetupURL prints, while no operator user exists, the one-time URL
// that makes its opener the first operator (valid until used or the
// server restarts).
func (a *App) printSetupURL(ctx context.Context, addr net.Addr) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	tok, err := a.auth.StartSetup(ctx)
	if err != nil {
		a.opts.Logger.Warn("first-run setup: cannot tell whether an operator exists", "err", err)
		return
	}
	if tok == "" {
		return
	}
	scheme, host := "http", addr.String()
	if a.certs != nil {
		scheme = "https"
	}
	if h, port, err := net.SplitHostPort(host); err == nil {
		if ip := net.ParseIP(h); h == "" || ip != nil && ip.IsUnspecified() {
			host = net.JoinHostPort("localhost", port)
		}
	}
	fmt.Fprintf(a.opts.Stderr, "\nNo operator yet. Open this link once to become the operator (valid until used or restart):\n\n    %s://%s/setup#%s\n\nOr run: pulsestream user create --operator\n\n", scheme, host, tok)
}
