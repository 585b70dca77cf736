package people

import (
	"context"
	"crypto/subtle"
	"strings"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Invitations: an owner or admin invites an email with a role; whoever
// holds the one-time link /invite/<token> (valid InvitationValidFor, the
// token shown once, only its hash stored) joins the tenant with that role
// — creating their user when the email is new.

const (
	// InvitationValidFor is how long an invitation link works.
	InvitationValidFor = 72 * time.Hour
	// MaxPendingInvitations bounds a tenant's unaccepted, unexpired invitations.
	MaxPendingInvitations = 100
)

// InviteResult is a new invitation. Token and Link are shown once.
type InviteResult struct {
	Invitation *pulse.Invitation
	Token      string
	Link       string // BaseURL + "/invite/" + Token
	Mailed     bool   // the link was sent by mail
	MailError  string // why sending failed ("" when mailed or no mailer)
}

func invalid(field, msg, reason string) error {
	return pulse.Invalid(pulse.FieldError{Field: field, Message: msg, Reason: reason})
}

// inviteeEmail returns the lower-cased address or EINVALID.
func inviteeEmail(email string) (string, error) {
	email, errs := checkEmail(strings.ToLower(email))
	if len(errs) > 0 {
		return "", pulse.Invalid(errs...)
	}
	return email, nil
}

// mayInvite: owners and admins (ActManageMembers) invite; only owners
// (ActManageOwners) invite owners; operators may do both.
func mayInvite(by Actor, role pulse.Role) error {
	switch {
	case by.Operator:
		return nil
	case !by.Role.Can(pulse.ActManageMembers):
		return forbidden("your role may not manage members")
	case role == pulse.RoleOwner && !by.Role.Can(pulse.ActManageOwners):
		return forbidden("only an owner may invite an owner")
	}
	return nil
}

// Invite creates an invitation to tenantID for email with role, and mails
// the link when a Mailer is set (a mail failure is reported in the result,
// not as an error: the invitation exists and its link can be passed on by
// hand). Errors: EFORBIDDEN, EINVALID (email, role), ECONFLICT (the
// tenant has MaxPendingInvitations pending).
func (a *Auth) Invite(ctx context.Context, by Actor, tenantID, email string, role pulse.Role, baseURL string) (*InviteResult, error) {
	if !role.Valid() {
		return nil, invalid("role", "must be one of owner, admin, member, viewer", "role.invalid")
	}
	if err := mayInvite(by, role); err != nil {
		return nil, err
	}
	email, err := inviteeEmail(email)
	if err != nil {
		return nil, err
	}
	now := a.now()
	pending, err := a.Store.ListInvitations(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, inv := range pending {
		if inv.AcceptedAt == nil && now.Before(inv.ExpiresAt) {
			n++
		}
	}
	if n >= MaxPendingInvitations {
		return nil, pulse.Errorf(pulse.ECONFLICT, "the tenant has %d pending invitations, the most it may have; revoke some first", n)
	}
	token := newSessionID()
	inv := &pulse.Invitation{ID: pulse.NewID(), TenantID: tenantID, Email: email, Role: role,
		TokenHash: pulse.HashSecret(token), InvitedBy: by.Name, CreatedAt: now, ExpiresAt: now.Add(InvitationValidFor)}
	if err := a.Store.CreateInvitation(ctx, inv); err != nil {
		return nil, err
	}
	a.record(ctx, by, tenantID, "invitation.create", "invitation/"+inv.ID, nil, InvitationView(inv))
	res := &InviteResult{Invitation: inv, Token: token, Link: strings.TrimRight(baseURL, "/") + "/invite/" + token}
	if a.Mailer != nil {
		if err := a.Mailer.SendInvitation(ctx, email, tenantID, role, res.Link, inv.ExpiresAt); err != nil {
			a.logger().WarnContext(ctx, "invitation mail not sent", "err", err, "invitation_id", inv.ID, "tenant_id", tenantID)
			res.MailError = "the mail could not be sent; pass the link on yourself"
		} else {
			res.Mailed = true
		}
	}
	return res, nil
}

// InvitationInfo is an invitation without its token hash.
type InvitationInfo struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenant_id"`
	Email      string     `json:"email"`
	Role       pulse.Role `json:"role"`
	InvitedBy  string     `json:"invited_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at"`
}

// InvitationView is inv as shown to members and written to the audit log.
func InvitationView(inv *pulse.Invitation) InvitationInfo {
	return InvitationInfo{ID: inv.ID, TenantID: inv.TenantID, Email: inv.Email, Role: inv.Role,
		InvitedBy: inv.InvitedBy, CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt, AcceptedAt: inv.AcceptedAt}
}

// ListInvitations lists a tenant's invitations (EFORBIDDEN without
// ActManageMembers).
func (a *Auth) ListInvitations(ctx context.Context, by Actor, tenantID string) ([]InvitationInfo, error) {
	if !by.Operator && !by.Role.Can(pulse.ActManageMembers) {
		return nil, forbidden("your role may not manage members")
	}
	invs, err := a.Store.ListInvitations(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]InvitationInfo, 0, len(invs))
	for _, inv := range invs {
		out = append(out, InvitationView(inv))
	}
	return out, nil
}

// RevokeInvitation deletes an invitation of the tenant (its link stops
// working). EFORBIDDEN, ENOTFOUND.
func (a *Auth) RevokeInvitation(ctx context.Context, by Actor, tenantID, id string) error {
	if !by.Operator && !by.Role.Can(pulse.ActManageMembers) {
		return forbidden("your role may not manage members")
	}
	invs, err := a.Store.ListInvitations(ctx, tenantID)
	if err != nil {
		return err
	}
	var before any
	for _, inv := range invs {
		if inv.ID == id {
			before = InvitationView(inv)
		}
	}
	if err := a.Store.DeleteInvitation(ctx, tenantID, id); err != nil {
		return err
	}
	a.record(ctx, by, tenantID, "invitation.revoke", "invitation/"+id, before, nil)
	return nil
}

// AcceptRequest accepts an invitation. Name and Password are needed only
// when the invitation's email has no user yet.
type AcceptRequest struct {
	Token, Name, Password    string
	IP, UserAgent, RequestID string
}

var errBadInvitation = invalid("token", "is not a valid invitation link", "token.invalid")

// AcceptInvitation settles an invitation once: it creates the user when
// the email is new (and signs them in: SessionID is set) and the
// membership when the user had none in the tenant (an existing role is
// kept: a role changes through the members page, not a link). Errors:
// EINVALID (unknown or expired token, name, password), ECONFLICT (already
// used).
func (a *Auth) AcceptInvitation(ctx context.Context, req AcceptRequest) (*SignInResult, error) {
	if !wellFormedSessionID(req.Token) {
		return nil, errBadInvitation
	}
	st := a.Store
	inv, err := st.GetInvitationByTokenHash(ctx, pulse.HashSecret(req.Token))
	if pulse.IsNotFound(err) {
		return nil, errBadInvitation
	} else if err != nil {
		return nil, err
	}
	now := a.now()
	if inv.AcceptedAt != nil {
		return nil, pulse.Errorf(pulse.ECONFLICT, "this invitation has already been used")
	}
	if !now.Before(inv.ExpiresAt) {
		return nil, invalid("token", "this invitation has expired; ask for a new one", "token.expired")
	}
	u, err := st.GetUserByEmail(ctx, inv.Email)
	if pulse.IsNotFound(err) {
		u = nil
	} else if err != nil {
		return nil, err
	}
	if u == nil { // check the new user's fields before using up the invitation
		if err := newUserErrs(req.Name, req.Password, inv.Email); err != nil {
			return nil, err
		}
	}
	if err := st.AcceptInvitation(ctx, inv.ID, now); err != nil {
		return nil, err // ECONFLICT: used meanwhile
	}
	res := &SignInResult{}
	if u == nil {
		// The invitation is the authority that creates this user.
		by := Actor{Name: "invitation:" + inv.ID, Operator: true, SourceIP: req.IP, RequestID: req.RequestID}
		if u, err = a.CreateUser(ctx, by, NewUser{Email: inv.Email, Name: req.Name, Password: req.Password}); err != nil {
			return nil, err
		}
		if res.SessionID, res.Session, err = a.startSession(ctx, u, req.IP, req.UserAgent); err != nil {
			return nil, err
		}
	}
	res.User = u
	ms, err := st.Memberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	member := false
	for _, m := range ms {
		member = member || m.TenantID == inv.TenantID
	}
	if !member {
		if err := st.PutMembership(ctx, &pulse.Membership{UserID: u.ID, TenantID: inv.TenantID, Role: inv.Role, CreatedAt: now}); err != nil {
			return nil, err
		}
	}
	a.record(ctx, Actor{Name: UserActor(u.ID), UserID: u.ID, SourceIP: req.IP, RequestID: req.RequestID},
		inv.TenantID, "invitation.accept", "invitation/"+inv.ID, nil, map[string]any{"user_id": u.ID, "role": inv.Role, "new_member": !member})
	return res, nil
}

// newUserErrs checks a new user's name and password before anything is
// spent (CreateUser checks them again).
func newUserErrs(name, pw, email string) error {
	errs := checkName(strings.TrimSpace(name))
	if strings.TrimSpace(name) == "" {
		errs = append(errs, fieldErr("name", "is required", "name.required"))
	}
	errs = append(errs, passwordErrs(pw, email)...)
	if len(errs) > 0 {
		return pulse.Invalid(errs...)
	}
	return nil
}

// First run: while no operator user exists, `serve` prints a setup URL
// with a one-time token; POST /api/v1/setup with it creates the first
// operator and signs them in. Only the token's hash is kept, in memory: a
// restart prints a new one.
type setupToken struct {
	mu   sync.Mutex
	hash string
}

// NeedsSetup reports whether no operator user exists.
func (a *Auth) NeedsSetup(ctx context.Context) (bool, error) {
	users, err := a.Store.ListUsers(ctx)
	if err != nil {
		return false, err
	}
	for _, u := range users {
		if u.Operator && !u.Disabled {
			return false, nil
		}
	}
	return true, nil
}

// StartSetup returns a new one-time setup token when no operator exists
// ("" otherwise); it replaces any earlier one.
func (a *Auth) StartSetup(ctx context.Context) (string, error) {
	need, err := a.NeedsSetup(ctx)
	if err != nil || !need {
		return "", err
	}
	tok := newSessionID()
	a.setup.mu.Lock()
	a.setup.hash = pulse.HashSecret(tok)
	a.setup.mu.Unlock()
	return tok, nil
}

// SetupRequest creates the first operator.
type SetupRequest struct {
	Token, Email, Name, Password string
	IP, UserAgent, RequestID     string
}

// Setup creates the first operator user with the setup token and signs
// them in; the token is then spent. EUNAUTHORIZED for a wrong or spent
// token (or when an operator exists), EINVALID for the fields.
func (a *Auth) Setup(ctx context.Context, req SetupRequest) (*SignInResult, error) {
	a.setup.mu.Lock()
	defer a.setup.mu.Unlock() // one setup at a time
	if a.setup.hash == "" || subtle.ConstantTimeCompare([]byte(pulse.HashSecret(req.Token)), []byte(a.setup.hash)) != 1 {
		return nil, pulse.Errorf(pulse.EUNAUTHORIZED, "this setup link is not valid (it works once, until the server restarts)")
	}
	if need, err := a.NeedsSetup(ctx); err != nil {
		return nil, err
	} else if !need {
		a.setup.hash = ""
		return nil, pulse.Errorf(pulse.EUNAUTHORIZED, "an operator already exists; sign in instead")
	}
	if err := newUserErrs(req.Name, req.Password, req.Email); err != nil {
		return nil, err
	}
	by := Actor{Name: "setup", Operator: true, SourceIP: req.IP, RequestID: req.RequestID}
	u, err := a.CreateUser(ctx, by, NewUser{Email: strings.ToLower(strings.TrimSpace(req.Email)), Name: req.Name, Password: req.Password, Operator: true})
	if err != nil {
		return nil, err
	}
	a.setup.hash = ""
	now := a.now()
	id, s, err := a.startSession(ctx, u, req.IP, req.UserAgent)
	if err != nil {
		return nil, err
	}
	return &SignInResult{SessionID: id, Session: s, User: u, Device: a.sealDevice(u.ID, newSessionID(), now)}, nil
}
