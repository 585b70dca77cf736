package people

import (
	"testing"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func mustTenant(t *testing.T, s *Service) string {
	t.Helper()
	tn, err := pulse.NewTenant(pulse.NewID(), "acme", pulse.DefaultRateLimitPerMinute, pulse.DefaultRetentionDays, s.now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

func roleOf(t *testing.T, s *Service, tenantID, userID string) pulse.Role {
	t.Helper()
	ms, err := s.Members(t.Context(), operator, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.UserID == userID {
			return m.Role
		}
	}
	return ""
}

// Who may grant which role: the table of issue 14 (owner: members incl.
// owners; admin: members except owners; member and viewer: none).
func TestSetMemberRoleChecks(t *testing.T) {
	t.Parallel()
	s := newAdminService(t)
	ctx := t.Context()
	tenantID := mustTenant(t, s)
	owner, err := s.CreateFirstOwner(ctx, operator, tenantID, NewUser{Email: "owner@example.com", Password: "the owner's passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	target := mustCreateUser(t, s, "target@example.com")
	as := func(r pulse.Role) Actor { return Actor{Name: UserActor("x"), UserID: "x", Role: r} }

	for _, tc := range []struct {
		by       Actor
		from, to pulse.Role // from "": not a member yet
		want     string     // "" allowed, else the error code
	}{
		{as(pulse.RoleViewer), "", pulse.RoleViewer, pulse.EFORBIDDEN},
		{as(pulse.RoleMember), "", pulse.RoleViewer, pulse.EFORBIDDEN},
		{as(pulse.RoleAdmin), "", pulse.RoleMember, ""},
		{as(pulse.RoleAdmin), pulse.RoleMember, pulse.RoleAdmin, ""},
		{as(pulse.RoleAdmin), pulse.RoleAdmin, pulse.RoleOwner, pulse.EFORBIDDEN},
		{as(pulse.RoleOwner), pulse.RoleAdmin, pulse.RoleOwner, ""},
		{as(pulse.RoleAdmin), pulse.RoleOwner, pulse.RoleViewer, pulse.EFORBIDDEN},
		{as(pulse.RoleOwner), pulse.RoleOwner, pulse.RoleViewer, ""}, // two owners: allowed
		{operator, pulse.RoleViewer, pulse.RoleOwner, ""},
		{operator, pulse.RoleOwner, "boss", pulse.EINVALID},
	} {
		if got := roleOf(t, s, tenantID, target.ID); got != tc.from {
			t.Fatalf("fixture: target is %q, want %q", got, tc.from)
		}
		_, _, err := s.SetMember(ctx, tc.by, tenantID, target.ID, tc.to)
		if got := pulse.ErrorCode(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Fatalf("%s by %s/%t: %s → %s: err = %v, want %q", target.Email, tc.by.Role, tc.by.Operator, tc.from, tc.to, err, tc.want)
		}
		want := tc.to
		if tc.want != "" {
			want = tc.from
		}
		if got := roleOf(t, s, tenantID, target.ID); got != want {
			t.Fatalf("after %s → %s: role %q, want %q", tc.from, tc.to, got, want)
		}
	}
	if roleOf(t, s, tenantID, owner.ID) != pulse.RoleOwner {
		t.Fatal("the first owner lost their role")
	}
	_, _, err = s.SetMember(ctx, operator, tenantID, pulse.NewID(), pulse.RoleViewer)
	wantCode(t, "unknown user", err, pulse.ENOTFOUND)
	_, _, err = s.SetMember(ctx, operator, pulse.NewID(), target.ID, pulse.RoleViewer)
	wantCode(t, "unknown tenant", err, pulse.ENOTFOUND)
}

// A tenant keeps at least one owner: neither demoting nor removing the
// last one is allowed, by anyone; with a second owner both are.
func TestLastOwnerIsKept(t *testing.T) {
	t.Parallel()
	s := newAdminService(t)
	ctx := t.Context()
	tenantID := mustTenant(t, s)
	first, err := s.CreateFirstOwner(ctx, operator, tenantID, NewUser{Email: "first@example.com", Password: "the owner's passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	ownerActor := Actor{Name: UserActor(first.ID), UserID: first.ID, Role: pulse.RoleOwner}
	for _, by := range []Actor{operator, ownerActor} {
		_, _, err := s.SetMember(ctx, by, tenantID, first.ID, pulse.RoleAdmin)
		wantCode(t, "demote the last owner", err, pulse.ECONFLICT)
		wantCode(t, "remove the last owner", s.RemoveMember(ctx, by, tenantID, first.ID), pulse.ECONFLICT)
	}
	second := mustCreateUser(t, s, "second@example.com")
	if _, created, err := s.SetMember(ctx, ownerActor, tenantID, second.ID, pulse.RoleOwner); err != nil || !created {
		t.Fatalf("add a second owner: created %t, %v", created, err)
	}
	if err := s.RemoveMember(ctx, ownerActor, tenantID, first.ID); err != nil {
		t.Fatalf("remove an owner who is not the last: %v", err)
	}
	wantCode(t, "remove a non-member", s.RemoveMember(ctx, operator, tenantID, first.ID), pulse.ENOTFOUND)
	wantCode(t, "remove the new last owner", s.RemoveMember(ctx, operator, tenantID, second.ID), pulse.ECONFLICT)
}

// A removed member's sessions stop working at once; changes are audited
// in the tenant's log.
func TestRemoveMemberEndsSessions(t *testing.T) {
	t.Parallel()
	s := newAdminService(t)
	ctx := t.Context()
	tenantID := mustTenant(t, s)
	if _, err := s.CreateFirstOwner(ctx, operator, tenantID, NewUser{Email: "owner@example.com", Password: "the owner's passphrase"}); err != nil {
		t.Fatal(err)
	}
	u := mustCreateUser(t, s, "leaver@example.com")
	admin := Actor{Name: "user:admin", UserID: "admin", Role: pulse.RoleAdmin, SourceIP: "192.0.2.1", RequestID: "req-1"}
	if _, _, err := s.SetMember(ctx, admin, tenantID, u.ID, pulse.RoleMember); err != nil {
		t.Fatal(err)
	}
	ss := signIn(t, s, u)
	if err := s.RemoveMember(ctx, admin, tenantID, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.GetSession(ctx, ss.IDHash); !pulse.IsNotFound(err) {
		t.Fatalf("removed member's session: err = %v, want not found", err)
	}
	entries, err := s.Store.ListAudit(ctx, pulse.AuditFilter{TenantID: tenantID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+" "+e.Actor)
	}
	want := []string{"member.remove user:admin", "member.add user:admin", "member.add cli"}
	if len(got) != len(want) {
		t.Fatalf("audit = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("audit = %v, want %v", got, want)
		}
	}
	if e := entries[0]; e.SourceIP != "192.0.2.1" || e.RequestID != "req-1" || e.Target != "member/"+u.ID || e.Before == nil || e.After != nil {
		t.Fatalf("member.remove entry = %+v", e)
	}
}

func TestMembersNeedsMembership(t *testing.T) {
	t.Parallel()
	s := newAdminService(t)
	tenantID := mustTenant(t, s)
	_, err := s.Members(t.Context(), Actor{Name: "user:x", UserID: "x"}, tenantID)
	wantCode(t, "Members by a non-member", err, pulse.EFORBIDDEN)
	_, err = s.Members(t.Context(), operator, pulse.NewID())
	wantCode(t, "Members of an unknown tenant", err, pulse.ENOTFOUND)
}
