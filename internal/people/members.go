package people

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// MaxMembersPerTenant bounds a tenant's memberships.
const MaxMembersPerTenant = 1000

// MemberView is a membership with its user's public fields: the API's
// and the audit log's form.
type MemberView struct {
	UserID    string     `json:"user_id"`
	TenantID  string     `json:"tenant_id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	Role      pulse.Role `json:"role"`
	Disabled  bool       `json:"disabled"`
	CreatedAt time.Time  `json:"created_at"`
}

func memberView(m *pulse.Membership, u *pulse.User) MemberView {
	v := MemberView{UserID: m.UserID, TenantID: m.TenantID, Role: m.Role, CreatedAt: m.CreatedAt}
	if u != nil {
		v.Email, v.Name, v.Disabled = u.Email, u.Name, u.Disabled
	}
	return v
}

// Members lists the tenant's members with their users, oldest first: to
// the operator and to the tenant's members (Actor.Role set).
func (s *Service) Members(ctx context.Context, by Actor, tenantID string) ([]MemberView, error) {
	if !by.Operator && !by.Role.Can(pulse.ActRead) {
		return nil, forbidden("you are not a member of this tenant")
	}
	if _, err := s.Store.GetTenant(ctx, tenantID); err != nil {
		return nil, tenantErr(err)
	}
	ms, err := s.Store.Members(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]MemberView, 0, len(ms))
	for _, m := range ms {
		u, err := s.Store.GetUser(ctx, m.UserID)
		if err != nil {
			return nil, fmt.Errorf("members: user %s: %w", m.UserID, err)
		}
		out = append(out, memberView(m, u))
	}
	return out, nil
}

func tenantErr(err error) error {
	if pulse.IsNotFound(err) {
		return pulse.Errorf(pulse.ENOTFOUND, "tenant not found")
	}
	return err
}

// find returns the user's membership in the tenant among ms, and how many
// owners the tenant has.
func find(ms []*pulse.Membership, userID string) (cur *pulse.Membership, owners int) {
	for _, m := range ms {
		if m.UserID == userID {
			cur = m
		}
		if m.Role == pulse.RoleOwner {
			owners++
		}
	}
	return cur, owners
}

// mayChange checks that by may move a member from role `from` ("" when
// not a member) to role `to` ("" for removal): managing members needs
// ActManageMembers, and touching the owner role ActManageOwners; the
// operator may do everything.
func mayChange(by Actor, from, to pulse.Role) error {
	if by.Operator {
		return nil
	}
	if !by.Role.Can(pulse.ActManageMembers) {
		return forbidden("your role may not manage members")
	}
	if (from == pulse.RoleOwner || to == pulse.RoleOwner) && !by.Role.Can(pulse.ActManageOwners) {
		return forbidden("only an owner may grant, change or remove the owner role")
	}
	return nil
}

var errNoMember = pulse.Errorf(pulse.ENOTFOUND, "no such member in this tenant")

var errLastOwner = pulse.Errorf(pulse.ECONFLICT, "a tenant must keep at least one owner: make another member owner first")

// SetMember gives the user the role in the tenant, adding them when they
// are not a member; it returns the membership (with the user's public
// fields) and whether it is new.
// EINVALID for an unknown role or a full tenant, ENOTFOUND for an unknown
// tenant or user, EFORBIDDEN when by may not, ECONFLICT when it would
// demote the tenant's last owner.
func (s *Service) SetMember(ctx context.Context, by Actor, tenantID, userID string, role pulse.Role) (MemberView, bool, error) {
	return s.setMember(ctx, by, tenantID, userID, role, false)
}

// ChangeRole changes an existing member's role: the tenant API's form of
// SetMember, which never adds a member (people join by invitation) and
// refuses a person's change of their own role (EFORBIDDEN: another owner
// or admin must do it, so nobody promotes themself or locks themself
// out by mistake). ENOTFOUND when userID is not a member.
func (s *Service) ChangeRole(ctx context.Context, by Actor, tenantID, userID string, role pulse.Role) (MemberView, error) {
	if !by.Operator && by.UserID != "" && by.UserID == userID {
		return MemberView{}, forbidden("you may not change your own role: ask another owner or admin")
	}
	v, _, err := s.setMember(ctx, by, tenantID, userID, role, true)
	return v, err
}

func (s *Service) setMember(ctx context.Context, by Actor, tenantID, userID string, role pulse.Role, existingOnly bool) (MemberView, bool, error) {
	if !role.Valid() {
		return MemberView{}, false, pulse.Invalid(fieldErr("role", "must be one of owner, admin, member, viewer", "role.invalid"))
	}
	if _, err := s.Store.GetTenant(ctx, tenantID); err != nil {
		return MemberView{}, false, tenantErr(err)
	}
	s.members.Lock()
	defer s.members.Unlock()
	u, err := s.Store.GetUser(ctx, userID)
	if pulse.IsNotFound(err) && existingOnly {
		return MemberView{}, false, errNoMember
	} else if pulse.IsNotFound(err) {
		return MemberView{}, false, pulse.Errorf(pulse.ENOTFOUND, "user not found")
	} else if err != nil {
		return MemberView{}, false, err
	}
	ms, err := s.Store.Members(ctx, tenantID)
	if err != nil {
		return MemberView{}, false, err
	}
	cur, owners := find(ms, userID)
	if cur == nil && existingOnly {
		return MemberView{}, false, errNoMember
	}
	var from pulse.Role
	if cur != nil {
		from = cur.Role
	}
	if err := mayChange(by, from, role); err != nil {
		return MemberView{}, false, err
	}
	switch {
	case cur == nil && len(ms) >= MaxMembersPerTenant:
		return MemberView{}, false, pulse.Invalid(fieldErr("user_id", fmt.Sprintf("the tenant already has the maximum of %d members", MaxMembersPerTenant), "members.limit"))
	case from == role:
		return memberView(cur, u), false, nil
	case from == pulse.RoleOwner && owners <= 1:
		return MemberView{}, false, errLastOwner
	}
	m := &pulse.Membership{UserID: userID, TenantID: tenantID, Role: role, CreatedAt: s.now()}
	if cur != nil {
		m.CreatedAt = cur.CreatedAt
	}
	if err := s.Store.PutMembership(ctx, m); err != nil {
		return MemberView{}, false, err
	}
	var before any
	action := "member.add"
	if cur != nil {
		before, action = memberView(cur, u), "member.change_role"
	}
	view := memberView(m, u)
	s.record(ctx, by, tenantID, action, "member/"+userID, before, view)
	return view, cur == nil, nil
}

// RemoveMember removes the user from the tenant; their sessions end at
// once when it was their last tenant. ENOTFOUND when they are not a
// member, EFORBIDDEN when by may not, ECONFLICT for the last owner.
func (s *Service) RemoveMember(ctx context.Context, by Actor, tenantID, userID string) error {
	if !by.Operator && !by.Role.Can(pulse.ActManageMembers) {
		return forbidden("your role may not manage members")
	}
	s.members.Lock()
	defer s.members.Unlock()
	ms, err := s.Store.Members(ctx, tenantID)
	if err != nil {
		return err
	}
	cur, owners := find(ms, userID)
	if cur == nil {
		return errNoMember
	}
	if err := mayChange(by, cur.Role, ""); err != nil {
		return err
	}
	if cur.Role == pulse.RoleOwner && owners <= 1 {
		return errLastOwner
	}
	if err := s.Store.DeleteMembership(ctx, tenantID, userID); err != nil {
		return err
	}
	var u *pulse.User
	if got, err := s.Store.GetUser(ctx, userID); err == nil {
		u = got
	}
	s.record(ctx, by, tenantID, "member.remove", "member/"+userID, memberView(cur, u), nil)
	return nil
}

// CreateFirstOwner makes a person the owner of a tenant (operator only):
// the user with in.Email when one exists (in.Password is then ignored and
// may be empty), else a new user with in's fields.
func (s *Service) CreateFirstOwner(ctx context.Context, by Actor, tenantID string, in NewUser) (*pulse.User, error) {
	if err := operatorOnly(by); err != nil {
		return nil, err
	}
	if _, err := s.Store.GetTenant(ctx, tenantID); err != nil {
		return nil, tenantErr(err)
	}
	u, err := s.Store.GetUserByEmail(ctx, strings.TrimSpace(in.Email))
	if pulse.IsNotFound(err) {
		u, err = s.CreateUser(ctx, by, in)
	}
	if err != nil {
		return nil, err
	}
	if _, _, err := s.SetMember(ctx, by, tenantID, u.ID, pulse.RoleOwner); err != nil {
		return nil, err
	}
	return u, nil
}
