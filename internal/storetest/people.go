package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("PeopleUserCRUD", testUserCRUD)
	register("PeopleUserEmailUniqueIgnoringCase", testUserEmailUnique)
	register("PeopleUserNotFound", testUserNotFound)
	register("PeopleMemberships", testMemberships)
	register("PeopleMembershipNeedsTenantAndUser", testMembershipNeedsTenantAndUser)
	register("PeopleRemovedMemberSessionsStop", testRemovedMemberSessionsStop)
	register("PeopleRemovedMemberKeepsSessionsWhileMemberElsewhere", testRemovedMemberStillMemberElsewhere)
	register("PeopleRemovedOperatorKeepsSessions", testRemovedOperatorKeepsSessions)
	register("PeopleSessions", testSessions)
	register("PeopleDeleteUserSessionsKeepsOne", testDeleteUserSessionsKeep)
	register("PeopleInvitations", testInvitations)
	register("PeopleInvitationSingleUseConcurrent", testInvitationSingleUse)
	register("PeopleInvitationTenantIsolation", testInvitationTenantIsolation)
}

func newUser(email string) *pulse.User {
	at := now()
	return &pulse.User{ID: newID(), Email: email, Name: "Ada " + email, PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		CreatedAt: at, UpdatedAt: at}
}

// uniqueEmail returns an email no other test uses (stores are per test, but
// keep them distinct anyway), in the case given by prefix.
func uniqueEmail(prefix string) string { return prefix + "." + newID()[24:] + "@Example.com" }

func createUser(t *testing.T, s pulse.Store) *pulse.User {
	t.Helper()
	u := newUser(uniqueEmail("user"))
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

func putMember(t *testing.T, s pulse.Store, tenantID, userID string, role pulse.Role) {
	t.Helper()
	if err := s.PutMembership(t.Context(), &pulse.Membership{UserID: userID, TenantID: tenantID, Role: role, CreatedAt: now()}); err != nil {
		t.Fatalf("PutMembership: %v", err)
	}
}

func createSession(t *testing.T, s pulse.Store, userID string) *pulse.Session {
	t.Helper()
	at := now()
	ss := &pulse.Session{IDHash: "h" + newID(), UserID: userID, CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(12 * time.Hour),
		UserAgent: "Firefox", IP: "192.0.2.7"}
	if err := s.CreateSession(t.Context(), ss); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return ss
}

func checkUser(t *testing.T, got, want *pulse.User) {
	t.Helper()
	if got.ID != want.ID || got.Email != want.Email || got.Name != want.Name || got.PasswordHash != want.PasswordHash ||
		got.Operator != want.Operator || got.Disabled != want.Disabled || got.TOTPSecret != want.TOTPSecret ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("user = %+v, want %+v", got, want)
	}
}

func testUserCRUD(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	u := newUser(uniqueEmail("Ada"))
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkUser(t, got, u)
	// The email keeps its case as typed; lookups ignore it.
	if got, err = s.GetUserByEmail(ctx, strings.ToUpper(u.Email)); err != nil {
		t.Fatal(err)
	}
	checkUser(t, got, u)

	u2 := createUser(t, s)
	list, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != u.ID || list[1].ID != u2.ID {
		t.Fatalf("ListUsers = %v, want [%s %s]", list, u.ID, u2.ID)
	}

	u.Email, u.Name, u.PasswordHash = uniqueEmail("grace"), "Grace", "$argon2id$other"
	u.Operator, u.Disabled, u.TOTPSecret = true, true, "sealed-secret"
	u.UpdatedAt = now().Add(time.Minute)
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err = s.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	checkUser(t, got, u)
	if _, err := s.GetUserByEmail(ctx, "ada@example.com"); !pulse.IsNotFound(err) {
		t.Fatalf("old email after update: err = %v, want not found", err)
	}
	// Changing one's email to another's, whatever the case, conflicts.
	u.Email = strings.ToUpper(u2.Email)
	if err := s.UpdateUser(ctx, u); pulse.ErrorCode(err) != pulse.ECONFLICT {
		t.Fatalf("UpdateUser to a taken email: err = %v, want conflict", err)
	}
}

func testUserEmailUnique(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	u := createUser(t, s)
	for _, email := range []string{u.Email, strings.ToUpper(u.Email), strings.ToLower(u.Email)} {
		if err := s.CreateUser(ctx, newUser(email)); pulse.ErrorCode(err) != pulse.ECONFLICT {
			t.Fatalf("CreateUser(%q) after %q: err = %v, want conflict", email, u.Email, err)
		}
	}
	list, err := s.ListUsers(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUsers = %d users, %v; want 1", len(list), err)
	}
}

func testUserNotFound(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	if _, err := s.GetUser(ctx, newID()); !pulse.IsNotFound(err) {
		t.Fatalf("GetUser: err = %v, want not found", err)
	}
	if _, err := s.GetUserByEmail(ctx, "nobody@example.com"); !pulse.IsNotFound(err) {
		t.Fatalf("GetUserByEmail: err = %v, want not found", err)
	}
	if err := s.UpdateUser(ctx, newUser("nobody@example.com")); !pulse.IsNotFound(err) {
		t.Fatalf("UpdateUser: err = %v, want not found", err)
	}
	if list, err := s.ListUsers(ctx); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("ListUsers = %#v, %v; want an empty, non-nil list", list, err)
	}
}

func memberIDs(ms []*pulse.Membership, tenant bool) []string {
	var out []string
	for _, m := range ms {
		if tenant {
			out = append(out, m.TenantID+"="+string(m.Role))
		} else {
			out = append(out, m.UserID+"="+string(m.Role))
		}
	}
	return out
}

func testMemberships(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	t1, t2 := createTenant(t, s, 0), createTenant(t, s, 0)
	a, b := createUser(t, s), createUser(t, s)
	putMember(t, s, t1.ID, a.ID, pulse.RoleOwner)
	putMember(t, s, t1.ID, b.ID, pulse.RoleViewer)
	putMember(t, s, t2.ID, a.ID, pulse.RoleMember)

	ms, err := s.Members(ctx, t1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(memberIDs(ms, false), " "), a.ID+"=owner "+b.ID+"=viewer"; got != want {
		t.Fatalf("Members(t1) = %s, want %s", got, want)
	}
	if ms[0].TenantID != t1.ID || ms[0].CreatedAt.IsZero() {
		t.Fatalf("membership = %+v", ms[0])
	}
	if ms, err = s.Members(ctx, t2.ID); err != nil || len(ms) != 1 || ms[0].UserID != a.ID {
		t.Fatalf("Members(t2) = %v, %v; want only %s (no other tenant's members)", memberIDs(ms, false), err, a.ID)
	}
	if ms, err = s.Memberships(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(memberIDs(ms, true), " "), t1.ID+"=owner "+t2.ID+"=member"; got != want {
		t.Fatalf("Memberships(a) = %s, want %s", got, want)
	}

	// Changing a role keeps one membership, and its creation time.
	created := ms[0].CreatedAt
	if err := s.PutMembership(ctx, &pulse.Membership{UserID: a.ID, TenantID: t1.ID, Role: pulse.RoleAdmin, CreatedAt: now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if ms, err = s.Members(ctx, t1.ID); err != nil || len(ms) != 2 || ms[0].Role != pulse.RoleAdmin || !ms[0].CreatedAt.Equal(created) {
		t.Fatalf("after role change: %v, %v; want a admin first, created %v", memberIDs(ms, false), err, created)
	}

	if err := s.DeleteMembership(ctx, t1.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMembership(ctx, t1.ID, b.ID); !pulse.IsNotFound(err) {
		t.Fatalf("second DeleteMembership: err = %v, want not found", err)
	}
	if err := s.DeleteMembership(ctx, t2.ID, b.ID); !pulse.IsNotFound(err) {
		t.Fatalf("DeleteMembership of a non-member: err = %v, want not found", err)
	}
	if ms, err = s.Memberships(ctx, b.ID); err != nil || ms == nil || len(ms) != 0 {
		t.Fatalf("Memberships(b) = %#v, %v; want an empty, non-nil list", ms, err)
	}
}

func testMembershipNeedsTenantAndUser(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	tn, u := createTenant(t, s, 0), createUser(t, s)
	for name, m := range map[string]*pulse.Membership{
		"unknown tenant": {UserID: u.ID, TenantID: newID(), Role: pulse.RoleViewer, CreatedAt: now()},
		"unknown user":   {UserID: newID(), TenantID: tn.ID, Role: pulse.RoleViewer, CreatedAt: now()},
	} {
		if err := s.PutMembership(ctx, m); !pulse.IsNotFound(err) {
			t.Errorf("%s: err = %v, want not found", name, err)
		}
	}
}

// A removed member's sessions stop working at once: with their last
// membership gone, GetSession no longer finds them.
func testRemovedMemberSessionsStop(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, 0)
	gone, stays := createUser(t, s), createUser(t, s)
	putMember(t, s, tn.ID, gone.ID, pulse.RoleAdmin)
	putMember(t, s, tn.ID, stays.ID, pulse.RoleOwner)
	s1, s2 := createSession(t, s, gone.ID), createSession(t, s, gone.ID)
	other := createSession(t, s, stays.ID)

	if err := s.DeleteMembership(ctx, tn.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	for _, ss := range []*pulse.Session{s1, s2} {
		if _, err := s.GetSession(ctx, ss.IDHash); !pulse.IsNotFound(err) {
			t.Fatalf("removed member's session: err = %v, want not found", err)
		}
	}
	if _, err := s.GetSession(ctx, other.IDHash); err != nil {
		t.Fatalf("another member's session: %v", err)
	}
}

// A member removed from one tenant who still belongs to another keeps
// their sessions, but the removed tenant is gone from their memberships
// (which every request checks).
func testRemovedMemberStillMemberElsewhere(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	t1, t2 := createTenant(t, s, 0), createTenant(t, s, 0)
	u := createUser(t, s)
	putMember(t, s, t1.ID, u.ID, pulse.RoleMember)
	putMember(t, s, t2.ID, u.ID, pulse.RoleViewer)
	ss := createSession(t, s, u.ID)
	if err := s.DeleteMembership(ctx, t1.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, ss.IDHash); err != nil {
		t.Fatalf("session of a member of another tenant: %v", err)
	}
	ms, err := s.Memberships(ctx, u.ID)
	if err != nil || len(ms) != 1 || ms[0].TenantID != t2.ID {
		t.Fatalf("Memberships = %v, %v; want only %s", memberIDs(ms, true), err, t2.ID)
	}
}

func testRemovedOperatorKeepsSessions(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, 0)
	u := newUser(uniqueEmail("op"))
	u.Operator = true
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	putMember(t, s, tn.ID, u.ID, pulse.RoleOwner)
	ss := createSession(t, s, u.ID)
	if err := s.DeleteMembership(ctx, tn.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, ss.IDHash); err != nil {
		t.Fatalf("operator's session after their last membership went: %v", err)
	}
}

func testSessions(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	u := createUser(t, s)
	ss := createSession(t, s, u.ID)
	got, err := s.GetSession(ctx, ss.IDHash)
	if err != nil {
		t.Fatal(err)
	}
	if !(got.IDHash == ss.IDHash && got.UserID == ss.UserID && got.CreatedAt.Equal(ss.CreatedAt) &&
		got.LastSeenAt.Equal(ss.LastSeenAt) && got.ExpiresAt.Equal(ss.ExpiresAt) && got.UserAgent == ss.UserAgent && got.IP == ss.IP) {
		t.Fatalf("GetSession = %+v, want %+v", got, ss)
	}
	dup := *ss
	if err := s.CreateSession(ctx, &dup); pulse.ErrorCode(err) != pulse.ECONFLICT {
		t.Fatalf("CreateSession with a taken hash: err = %v, want conflict", err)
	}
	orphan := *ss
	orphan.IDHash, orphan.UserID = "h"+newID(), newID()
	if err := s.CreateSession(ctx, &orphan); !pulse.IsNotFound(err) {
		t.Fatalf("CreateSession for an unknown user: err = %v, want not found", err)
	}

	later := ss.LastSeenAt.Add(17 * time.Minute)
	if err := s.TouchSession(ctx, ss.IDHash, later); err != nil {
		t.Fatal(err)
	}
	if got, err = s.GetSession(ctx, ss.IDHash); err != nil || !got.LastSeenAt.Equal(later) || !got.ExpiresAt.Equal(ss.ExpiresAt) {
		t.Fatalf("after touch: %+v, %v; want last seen %v, expiry unchanged", got, err, later)
	}
	if err := s.DeleteSession(ctx, ss.IDHash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, ss.IDHash); !pulse.IsNotFound(err) {
		t.Fatalf("deleted session: err = %v, want not found", err)
	}
	if err := s.TouchSession(ctx, ss.IDHash, later); !pulse.IsNotFound(err) {
		t.Fatalf("TouchSession of a deleted session: err = %v, want not found", err)
	}
	if err := s.DeleteSession(ctx, ss.IDHash); !pulse.IsNotFound(err) {
		t.Fatalf("second DeleteSession: err = %v, want not found", err)
	}
}

func testDeleteUserSessionsKeep(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	u, other := createUser(t, s), createUser(t, s)
	a, b, c := createSession(t, s, u.ID), createSession(t, s, u.ID), createSession(t, s, u.ID)
	o := createSession(t, s, other.ID)
	if err := s.DeleteUserSessions(ctx, u.ID, b.IDHash); err != nil {
		t.Fatal(err)
	}
	for _, ss := range []*pulse.Session{a, c} {
		if _, err := s.GetSession(ctx, ss.IDHash); !pulse.IsNotFound(err) {
			t.Fatalf("session not kept: err = %v, want not found", err)
		}
	}
	for _, ss := range []*pulse.Session{b, o} {
		if _, err := s.GetSession(ctx, ss.IDHash); err != nil {
			t.Fatalf("kept session / other user's session: %v", err)
		}
	}
	// keep "" keeps none, and a user without sessions is no error.
	if err := s.DeleteUserSessions(ctx, u.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, b.IDHash); !pulse.IsNotFound(err) {
		t.Fatalf("after keep \"\": err = %v, want not found", err)
	}
	if err := s.DeleteUserSessions(ctx, u.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, o.IDHash); err != nil {
		t.Fatalf("other user's session: %v", err)
	}
}

func newInvitation(tenantID string, role pulse.Role) *pulse.Invitation {
	at := now()
	return &pulse.Invitation{ID: newID(), TenantID: tenantID, Email: uniqueEmail("invitee"), Role: role, TokenHash: "t" + newID(),
		InvitedBy: pulse.ActorAdmin, CreatedAt: at, ExpiresAt: at.Add(72 * time.Hour)}
}

func createInvitation(t *testing.T, s pulse.Store, tenantID string) *pulse.Invitation {
	t.Helper()
	inv := newInvitation(tenantID, pulse.RoleAdmin)
	if err := s.CreateInvitation(t.Context(), inv); err != nil {
		t.Fatalf("CreateInvitation: %v", err)
	}
	return inv
}

func testInvitations(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, 0)
	inv := createInvitation(t, s, tn.ID)
	got, err := s.GetInvitationByTokenHash(ctx, inv.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != inv.ID || got.TenantID != tn.ID || got.Email != inv.Email || got.Role != inv.Role || got.TokenHash != inv.TokenHash ||
		got.InvitedBy != inv.InvitedBy || !got.CreatedAt.Equal(inv.CreatedAt) || !got.ExpiresAt.Equal(inv.ExpiresAt) || got.AcceptedAt != nil {
		t.Fatalf("invitation = %+v, want %+v", got, inv)
	}
	dup := newInvitation(tn.ID, pulse.RoleViewer)
	dup.TokenHash = inv.TokenHash
	if err := s.CreateInvitation(ctx, dup); pulse.ErrorCode(err) != pulse.ECONFLICT {
		t.Fatalf("CreateInvitation with a taken token hash: err = %v, want conflict", err)
	}
	if err := s.CreateInvitation(ctx, newInvitation(newID(), pulse.RoleViewer)); !pulse.IsNotFound(err) {
		t.Fatalf("CreateInvitation for an unknown tenant: err = %v, want not found", err)
	}
	if _, err := s.GetInvitationByTokenHash(ctx, "unknown"); !pulse.IsNotFound(err) {
		t.Fatalf("unknown token: err = %v, want not found", err)
	}
	second := createInvitation(t, s, tn.ID)
	list, err := s.ListInvitations(ctx, tn.ID)
	if err != nil || len(list) != 2 || list[0].ID != inv.ID || list[1].ID != second.ID {
		t.Fatalf("ListInvitations = %v, %v; want [%s %s]", list, err, inv.ID, second.ID)
	}

	at := now().Add(time.Hour)
	if err := s.AcceptInvitation(ctx, inv.ID, at); err != nil {
		t.Fatal(err)
	}
	if got, err = s.GetInvitationByTokenHash(ctx, inv.TokenHash); err != nil || got.AcceptedAt == nil || !got.AcceptedAt.Equal(at) {
		t.Fatalf("after accept: %+v, %v; want accepted at %v", got, err, at)
	}
	if err := s.AcceptInvitation(ctx, inv.ID, at.Add(time.Minute)); pulse.ErrorCode(err) != pulse.ECONFLICT {
		t.Fatalf("second AcceptInvitation: err = %v, want conflict", err)
	}
	if got, _ = s.GetInvitationByTokenHash(ctx, inv.TokenHash); !got.AcceptedAt.Equal(at) {
		t.Fatalf("a refused accept changed accepted_at to %v", got.AcceptedAt)
	}
	if err := s.AcceptInvitation(ctx, newID(), at); !pulse.IsNotFound(err) {
		t.Fatalf("AcceptInvitation of an unknown id: err = %v, want not found", err)
	}

	if err := s.DeleteInvitation(ctx, tn.ID, second.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetInvitationByTokenHash(ctx, second.TokenHash); !pulse.IsNotFound(err) {
		t.Fatalf("deleted invitation: err = %v, want not found", err)
	}
	if err := s.DeleteInvitation(ctx, tn.ID, second.ID); !pulse.IsNotFound(err) {
		t.Fatalf("second DeleteInvitation: err = %v, want not found", err)
	}
}

// Two people accepting the same invitation at once: the database lets
// exactly one through.
func testInvitationSingleUse(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	for round := range 5 {
		inv := createInvitation(t, s, tn.ID)
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.AcceptInvitation(t.Context(), inv.ID, now())
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case pulse.ErrorCode(err) != pulse.ECONFLICT:
				t.Fatalf("round %d: AcceptInvitation: err = %v, want nil or conflict", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of %d concurrent accepts succeeded, want exactly 1 (errors %v)", round, ok, n, errs)
		}
	}
}

func testInvitationTenantIsolation(t *testing.T, s pulse.Store) {
	ctx := t.Context()
	t1, t2 := createTenant(t, s, 0), createTenant(t, s, 0)
	inv := createInvitation(t, s, t1.ID)
	if list, err := s.ListInvitations(ctx, t2.ID); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("ListInvitations(other tenant) = %#v, %v; want an empty, non-nil list", list, err)
	}
	if err := s.DeleteInvitation(ctx, t2.ID, inv.ID); !pulse.IsNotFound(err) {
		t.Fatalf("DeleteInvitation by another tenant: err = %v, want not found", err)
	}
	if _, err := s.GetInvitationByTokenHash(ctx, inv.TokenHash); err != nil {
		t.Fatalf("invitation after another tenant's delete: %v", err)
	}
}
