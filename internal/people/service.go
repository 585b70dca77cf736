// Package people administers PulseStream's people: users, their
// memberships in tenants with a role, and (sessions.go, signin.go, ...)
// their sign-in. The CLI, the admin API and the console all call this one
// Service, so that every path applies the same rules and audits the same
// way; none of them writes people to the store directly.
package people

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/password"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/secretbox"
)

// Service is the domain service for people. Fill its fields and use it by
// pointer; it is safe for concurrent use. Store, Clock and Hasher are
// required; Box is needed only for the second factor; Audit and Logger
// have defaults.
//
// Secrets at rest: password hashes are argon2id PHC strings (Hasher);
// users' TOTP secrets are sealed by this package with Box (additional
// data: the user's id) before they reach the store, which keeps
// pulse.User.TOTPSecret as an opaque string — as signing secrets are
// sealed by their service, not by the store.
type Service struct {
	Store  pulse.Store
	Clock  pulse.Clock
	Hasher *password.Hasher
	Box    *secretbox.Box
	// Audit records one entry; nil appends it to Store and logs a failure
	// (the change has happened and the caller must learn so, so a failure
	// to record is never returned). The HTTP server sets it to count
	// failures in its metrics.
	Audit  func(ctx context.Context, e *pulse.AuditEntry)
	Logger *slog.Logger

	// members serializes this node's membership changes, so that two
	// concurrent demotions cannot both see a second owner. (Across nodes
	// on one PostgreSQL the check-then-write can still race; the window is
	// one request long.)
	members sync.Mutex
}

// Actor is who asks for a change, for the permission checks and the audit
// log. An operator (the admin token, the CLI or an operator user) may do
// everything; anyone else acts as a member of the tenant with Role.
type Actor struct {
	Name      string // the audit log's actor: pulse.ActorAdmin, pulse.ActorCLI, UserActor(id), ...
	Operator  bool
	UserID    string     // "" unless a person
	Role      pulse.Role // the actor's role in the tenant at hand (non-operators)
	SourceIP  string
	RequestID string
}

// UserActor names a person as the actor of an audit entry.
func UserActor(userID string) string { return "user:" + userID }

// OperatorActor is the server's operator under name (pulse.ActorAdmin,
// pulse.ActorCLI).
func OperatorActor(name string) Actor { return Actor{Name: name, Operator: true} }

func (s *Service) now() time.Time { return s.Clock.Now().UTC() }

// record audits a committed change by `by`; before and after must be
// summaries without secrets (UserView, MemberView, ...).
func (s *Service) record(ctx context.Context, by Actor, tenantID, action, target string, before, after any) {
	e := &pulse.AuditEntry{
		ID: pulse.NewID(), TenantID: tenantID, At: s.now(), Actor: by.Name, Action: action, Target: target,
		SourceIP: by.SourceIP, RequestID: by.RequestID, Before: pulse.Summary(before), After: pulse.Summary(after),
	}
	if e.Actor == "" {
		e.Actor = pulse.ActorAdmin
	}
	ctx = context.WithoutCancel(ctx)
	if s.Audit != nil {
		s.Audit(ctx, e)
		return
	}
	if err := s.Store.AppendAudit(ctx, e); err != nil {
		s.logger().ErrorContext(ctx, "audit entry not recorded", "err", err, "action", action, "target", target, "tenant_id", tenantID)
	}
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func forbidden(msg string) error { return pulse.Errorf(pulse.EFORBIDDEN, "%s", msg) }
