package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// userID is the id of the user with email.
func (n *node) userID(email string) string {
	n.t.Helper()
	u, err := n.App.Store.GetUserByEmail(context.Background(), email)
	if err != nil {
		n.t.Fatal(err)
	}
	return u.ID
}

// TestTenantMembersAPI: the tenant's members routes with each role's
// session and an admin-scope key: who may see, change and remove whom,
// the last owner kept, one's own role untouchable, and a removed member's
// session refused at once.
func TestTenantMembersAPI(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, _ := n.tenant("members", 0)
		otherID, _ := n.tenant("other", 0)
		as := func(cookie string) []string { return []string{"Cookie", cookie, "X-PulseStream-Tenant", tenantID} }
		owner := as(n.signIn(n.member(tenantID, "owner@example.com", pulse.RoleOwner)))
		admin := as(n.signIn(n.member(tenantID, "admin@example.com", pulse.RoleAdmin)))
		member := as(n.signIn(n.member(tenantID, "member@example.com", pulse.RoleMember)))
		viewer := as(n.signIn(n.member(tenantID, "viewer@example.com", pulse.RoleViewer)))
		n.member(tenantID, "owner2@example.com", pulse.RoleMember)
		n.member(otherID, "stranger@example.com", pulse.RoleOwner)
		ownerID, adminID, memberID := n.userID("owner@example.com"), n.userID("admin@example.com"), n.userID("member@example.com")
		owner2ID, strangerID := n.userID("owner2@example.com"), n.userID("stranger@example.com")
		owner2 := as(n.signIn("owner2@example.com"))
		path := func(id string) string { return "/api/v1/members/" + id }
		role := func(r pulse.Role) map[string]any { return map[string]any{"role": r} }

		// Everyone in the tenant sees who is in it, and only them.
		list := n.do("GET", "/api/v1/members", "", nil, viewer...).JSON(t)
		ms := list["members"].([]any)
		if len(ms) != 5 {
			t.Fatalf("viewer lists %d members, want 5: %v", len(ms), list)
		}
		for _, m := range ms {
			if e := m.(map[string]any)["email"]; e == "stranger@example.com" {
				t.Error("another tenant's member is listed")
			}
			if _, ok := m.(map[string]any)["password_hash"]; ok {
				t.Error("a password hash in the list")
			}
		}

		// Viewers and members may not change or remove anyone.
		problem(t, n.do("PUT", path(adminID), "", role(pulse.RoleViewer), viewer...), http.StatusForbidden)
		problem(t, n.do("DELETE", path(adminID), "", nil, member...), http.StatusForbidden)

		// An admin manages non-owners but cannot demote, remove or make an owner.
		r := n.do("PUT", path(memberID), "", role(pulse.RoleViewer), admin...)
		expectStatus(t, r, http.StatusOK)
		if got := r.JSON(t)["role"]; got != "viewer" {
			t.Errorf("role after the change: %v", got)
		}
		problem(t, n.do("PUT", path(ownerID), "", role(pulse.RoleAdmin), admin...), http.StatusForbidden)
		problem(t, n.do("DELETE", path(ownerID), "", nil, admin...), http.StatusForbidden)
		problem(t, n.do("PUT", path(memberID), "", role(pulse.RoleOwner), admin...), http.StatusForbidden)

		// Nobody changes their own role, not even an owner.
		if p := problem(t, n.do("PUT", path(adminID), "", role(pulse.RoleOwner), admin...), http.StatusForbidden); !strings.Contains(p["detail"].(string), "own role") {
			t.Errorf("own role: %v", p)
		}
		problem(t, n.do("PUT", path(ownerID), "", role(pulse.RoleAdmin), owner...), http.StatusForbidden)

		// PUT never adds: a user of another tenant, or no user at all, is 404.
		problem(t, n.do("PUT", path(strangerID), "", role(pulse.RoleViewer), owner...), http.StatusNotFound)
		problem(t, n.do("PUT", path(pulse.NewID()), "", role(pulse.RoleViewer), owner...), http.StatusNotFound)
		problem(t, n.do("DELETE", path(strangerID), "", nil, owner...), http.StatusNotFound)
		problem(t, n.do("PUT", path(memberID), "", role("king"), owner...), http.StatusUnprocessableEntity)

		// The last owner is kept: the only owner may not leave (409); once
		// another owner exists the first may be demoted, and the second,
		// now the only owner, may not leave.
		problem(t, n.do("DELETE", path(ownerID), "", nil, owner...), http.StatusConflict)
		expectStatus(t, n.do("PUT", path(owner2ID), "", role(pulse.RoleOwner), owner...), http.StatusOK)
		expectStatus(t, n.do("PUT", path(ownerID), "", role(pulse.RoleAdmin), owner2...), http.StatusOK)
		problem(t, n.do("DELETE", path(owner2ID), "", nil, owner2...), http.StatusConflict)
		problem(t, n.do("PUT", path(owner2ID), "", role(pulse.RoleMember), owner...), http.StatusForbidden) // now an admin

		// A removed member's session stops working at once.
		expectStatus(t, n.do("GET", "/api/v1/events", "", nil, member...), http.StatusOK)
		expectStatus(t, n.do("DELETE", path(memberID), "", nil, admin...), http.StatusNoContent)
		if r := n.do("GET", "/api/v1/events", "", nil, member...); r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
			t.Errorf("removed member's session: %d, want 401 or 403", r.Status)
		}
		problem(t, n.do("DELETE", path(memberID), "", nil, admin...), http.StatusNotFound)

		// An API key with the admin scope acts as admin.
		kr := n.do("POST", "/admin/v1/tenants/"+tenantID+"/api-keys", adminToken, map[string]any{"scopes": []string{"admin", "read"}})
		expectStatus(t, kr, http.StatusCreated)
		key := kr.JSON(t)["key"].(string)
		expectStatus(t, n.do("GET", "/api/v1/members", key, nil), http.StatusOK)
		expectStatus(t, n.do("PUT", path(adminID), key, role(pulse.RoleMember)), http.StatusOK)
		problem(t, n.do("PUT", path(owner2ID), key, role(pulse.RoleAdmin)), http.StatusForbidden)

		// Every change is in the audit log.
		entries, _ := auditLog(t, n, "/api/v1/audit-log", key)
		count := map[string]int{}
		for _, e := range entries {
			count[e.Action]++
		}
		if count["member.change_role"] != 4 || count["member.remove"] != 1 {
			t.Errorf("audit: %v", count)
		}
	})
}

// TestConsoleMembers: the members page lists the people with a role
// select and buttons only for those the viewer may manage; the form
// changes a role and removes through the API.
func TestConsoleMembers(t *testing.T) {
	t.Parallel()
	n := startNode(t, "sqlite://"+t.TempDir()+"/p.db", newFakeClock(), nil)
	tenantID, _ := n.tenant("console", 0)
	owner := n.signIn(n.member(tenantID, "owner@example.com", pulse.RoleOwner))
	admin := n.signIn(n.member(tenantID, "admin@example.com", pulse.RoleAdmin))
	viewer := n.signIn(n.member(tenantID, "viewer@example.com", pulse.RoleViewer))
	n.member(tenantID, "ana@example.com", pulse.RoleMember)
	anaID, ownerID := n.userID("ana@example.com"), n.userID("owner@example.com")
	page := "/t/" + tenantID + "/members"

	// The viewer sees the people, and no control to change them.
	r := n.page("GET", page, nil, "Cookie", viewer)
	body := string(r.Body)
	if r.Status != http.StatusOK || !strings.Contains(body, "ana@example.com") || !strings.Contains(body, "owner@example.com") {
		t.Fatalf("viewer's members page: %d %s", r.Status, body)
	}
	if strings.Contains(body, ">Remove ") || strings.Contains(body, ">Change role") {
		t.Error("a viewer is offered managing members")
	}
	checkAccessible(t, "members (viewer)", r)
	if r := n.page("POST", page+"/"+anaID+"/remove", url.Values{}, "Cookie", viewer); r.Status != http.StatusForbidden {
		t.Errorf("viewer posting remove by hand: %d, want 403", r.Status)
	}

	// An admin may manage ana but not the owner, nor themself.
	r = n.page("GET", page, nil, "Cookie", admin)
	body = string(r.Body)
	if !strings.Contains(body, `action="/t/`+tenantID+`/members/`+anaID+`/remove"`) ||
		strings.Contains(body, `/members/`+ownerID+`/`) || strings.Contains(body, ">Remove admin@example.com<") {
		t.Errorf("admin's controls: %s", body)
	}
	checkAccessible(t, "members (admin)", r)

	// The owner changes ana's role with the form, then removes her.
	r = n.page("GET", page, nil, "Cookie", owner)
	if !strings.Contains(string(r.Body), `<label for="role-`+anaID+`">`) || !strings.Contains(string(r.Body), ">Change role of ana@example.com<") {
		t.Errorf("owner's members page lacks the role form: %s", r.Body)
	}
	checkAccessible(t, "members (owner)", r)
	r = n.page("POST", page+"/"+anaID+"/role", url.Values{"role": {"admin"}}, "Cookie", owner)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("change role: %d %s", r.Status, r.Body)
	}
	cookieHdr := []string{"Cookie", owner, "X-PulseStream-Tenant", tenantID}
	for _, m := range n.do("GET", "/api/v1/members", "", nil, cookieHdr...).JSON(t)["members"].([]any) {
		if m := m.(map[string]any); m["user_id"] == anaID && m["role"] != "admin" {
			t.Errorf("ana's role after the form: %v", m["role"])
		}
	}
	// A refusal from the API is shown on the page (the last owner).
	if r := n.page("POST", page+"/"+ownerID+"/remove", url.Values{}, "Cookie", owner); r.Status != http.StatusConflict ||
		!strings.Contains(string(r.Body), "at least one owner") {
		t.Errorf("removing the last owner: %d", r.Status)
	}
	if r := n.page("POST", page+"/"+anaID+"/remove", url.Values{}, "Cookie", owner); r.Status != http.StatusSeeOther {
		t.Errorf("remove: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(n.page("GET", page, nil, "Cookie", owner).Body), "ana@example.com") {
		t.Error("ana is still listed after removal")
	}
}
