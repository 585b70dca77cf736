package pulse

import (
	"context"
	"time"
)

// People: users (a person with an email and a password), their memberships
// in tenants with a role, server-side sessions and invitations. The role
// table (Can) is the one permission check that both the JSON API and the
// console call.

// Role is what a member may do in one tenant.
type Role string

const (
	RoleOwner  Role = "owner"  // everything, incl. members and deleting keys
	RoleAdmin  Role = "admin"  // rules, keys, silences, members except owners
	RoleMember Role = "member" // search, acknowledge, silence
	RoleViewer Role = "viewer" // read only
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleOwner, RoleAdmin, RoleMember, RoleViewer}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Action is something a principal asks to do in a tenant.
type Action string

const (
	ActRead          Action = "read"           // search events, view alerts, rules, usage, deliveries
	ActIngest        Action = "ingest"         // send events
	ActAcknowledge   Action = "acknowledge"    // acknowledge an alert
	ActSilence       Action = "silence"        // create or expire a silence
	ActManageRules   Action = "manage_rules"   // create, edit, delete rules; retry deliveries
	ActManageKeys    Action = "manage_keys"    // create and rotate API keys, signing secrets
	ActDeleteKeys    Action = "delete_keys"    // revoke API keys
	ActManageMembers Action = "manage_members" // invite, change roles, remove (not owners)
	ActManageOwners  Action = "manage_owners"  // grant, change or remove the owner role
	ActReadAudit     Action = "read_audit"     // read the tenant's audit log
	ActDataSubject   Action = "data_subject"   // export or erase every event of one user_id (GDPR)
)

// roleActions is the role × action table: data, read by Can only.
var roleActions = map[Role]map[Action]bool{
	RoleOwner: {ActRead: true, ActIngest: true, ActAcknowledge: true, ActSilence: true, ActManageRules: true,
		ActManageKeys: true, ActDeleteKeys: true, ActManageMembers: true, ActManageOwners: true, ActReadAudit: true,
		ActDataSubject: true},
	RoleAdmin: {ActRead: true, ActIngest: true, ActAcknowledge: true, ActSilence: true, ActManageRules: true,
		ActManageKeys: true, ActManageMembers: true, ActReadAudit: true},
	RoleMember: {ActRead: true, ActAcknowledge: true, ActSilence: true},
	RoleViewer: {ActRead: true},
}

// Can reports whether role r may do a.
func (r Role) Can(a Action) bool { return roleActions[r][a] }

// User is a person who signs in. Email is unique (compared lower-cased).
// Operator users may manage every tenant (the console's operator pages),
// as the admin token does.
type User struct {
	ID           string
	Email        string
	Name         string
	PasswordHash string // PHC string (argon2id); never shown
	Operator     bool
	Disabled     bool
	TOTPSecret   string // sealed at rest; "" when the second factor is off
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Membership is a user's role in one tenant.
type Membership struct {
	UserID    string
	TenantID  string
	Role      Role
	CreatedAt time.Time
}

// Session is a signed-in browser. Only the hash of its random id is stored.
type Session struct {
	IDHash     string
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute timeout
	UserAgent  string
	IP         string
}

// Invitation lets whoever holds its one-time token join a tenant with a
// role. Only the token's hash is stored.
type Invitation struct {
	ID         string
	TenantID   string
	Email      string
	Role       Role
	TokenHash  string
	InvitedBy  string // user id, or "operator"
	CreatedAt  time.Time
	ExpiresAt  time.Time
	AcceptedAt *time.Time
}

// Principal is who is acting on a tenant: an API key or a signed-in
// member. Handlers check Role.Can (API keys act with the role their scopes
// give them).
type Principal struct {
	TenantID string
	Role     Role
	UserID   string // "" for an API key
	APIKeyID string // "" for a person
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// PeopleStore keeps users, memberships, sessions and invitations. Emails
// are compared lower-cased and are unique (ECONFLICT otherwise).
// Not-found is ErrNotFound. Both backends run storetest's people suite.
type PeopleStore interface {
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// ListUsers returns every user, oldest first.
	ListUsers(ctx context.Context) ([]*User, error)
	// UpdateUser stores u's Email, Name, PasswordHash, Operator, Disabled,
	// TOTPSecret and UpdatedAt.
	UpdateUser(ctx context.Context, u *User) error

	// PutMembership creates or changes the user's role in the tenant.
	PutMembership(ctx context.Context, m *Membership) error
	// DeleteMembership removes it and, in the same transaction, every
	// session of that user that no longer has any membership (an operator
	// keeps theirs); ErrNotFound when there was none.
	DeleteMembership(ctx context.Context, tenantID, userID string) error
	// Memberships lists the tenants of a user; Members the users of a tenant.
	Memberships(ctx context.Context, userID string) ([]*Membership, error)
	Members(ctx context.Context, tenantID string) ([]*Membership, error)

	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns ErrNotFound for an unknown or deleted session;
	// expiry is the caller's check (it owns the clock).
	GetSession(ctx context.Context, idHash string) (*Session, error)
	// TouchSession sets LastSeenAt (the idle timeout counts from it).
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteUserSessions removes every session of the user except keep
	// ("" keeps none): sign out everywhere, password change, disable.
	DeleteUserSessions(ctx context.Context, userID, keep string) error

	CreateInvitation(ctx context.Context, inv *Invitation) error
	GetInvitationByTokenHash(ctx context.Context, tokenHash string) (*Invitation, error)
	ListInvitations(ctx context.Context, tenantID string) ([]*Invitation, error)
	// AcceptInvitation marks it accepted at `at` only if it was not yet
	// accepted (single use, settled by the database): ECONFLICT when it
	// was already used.
	AcceptInvitation(ctx context.Context, id string, at time.Time) error
	DeleteInvitation(ctx context.Context, tenantID, id string) error
}
