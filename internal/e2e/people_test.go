package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The operator's people API: create users, list and patch them, give them
// tenants with roles, keep the last owner, and remove members — whose
// sessions end at once. Passwords and hashes never appear in responses or
// in the audit log.
func TestPeopleAdminAPI(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, n *node) {
		tenantID, key := n.tenant("people", 0)
		const pw = "correct horse battery staple"
		r := n.do("POST", "/admin/v1/users", adminToken, map[string]any{"email": "Ada@Example.com", "name": "Ada", "password": pw})
		expectStatus(t, r, http.StatusCreated)
		ada := r.JSON(t)
		adaID := ada["id"].(string)
		if ada["email"] != "Ada@Example.com" || ada["operator"] != false || ada["totp_enabled"] != false {
			t.Fatalf("created user = %v", ada)
		}
		for _, leak := range []string{pw, "argon2", "password", "hash"} {
			if strings.Contains(string(r.Body), leak) {
				t.Fatalf("create user response contains %q: %s", leak, r.Body)
			}
		}
		problem(t, n.do("POST", "/admin/v1/users", adminToken, map[string]any{"email": "ada@example.COM", "password": pw}), http.StatusConflict)
		m := problem(t, n.do("POST", "/admin/v1/users", adminToken, map[string]any{"email": "b@example.com", "password": "short"}), http.StatusUnprocessableEntity)
		if got := fields(m); len(got) != 1 || got[0] != "password" {
			t.Fatalf("short password: fields %v", got)
		}
		problem(t, n.do("POST", "/admin/v1/users", adminToken, map[string]any{"email": "b@example.com", "password": pw, "role": "owner"}), http.StatusUnprocessableEntity)
		problem(t, n.do("POST", "/admin/v1/users", key, map[string]any{"email": "b@example.com", "password": pw}), http.StatusUnauthorized)

		r = n.do("POST", "/admin/v1/users", adminToken, map[string]any{"email": "grace@example.com", "password": "grace's long passphrase"})
		expectStatus(t, r, http.StatusCreated)
		graceID := r.JSON(t)["id"].(string)

		list := n.do("GET", "/admin/v1/users", adminToken, nil)
		expectStatus(t, list, http.StatusOK)
		if users := list.JSON(t)["users"].([]any); len(users) != 2 || users[0].(map[string]any)["id"] != adaID {
			t.Fatalf("users = %v", users)
		}

		// Members: PUT adds (201), changes (200); the last owner stays.
		path := "/admin/v1/tenants/" + tenantID + "/members/"
		r = n.do("PUT", path+adaID, adminToken, map[string]any{"role": "owner"})
		expectStatus(t, r, http.StatusCreated)
		if mm := r.JSON(t); mm["role"] != "owner" || mm["email"] != "Ada@Example.com" || mm["tenant_id"] != tenantID {
			t.Fatalf("member = %v", mm)
		}
		expectStatus(t, n.do("PUT", path+graceID, adminToken, map[string]any{"role": "viewer"}), http.StatusCreated)
		expectStatus(t, n.do("PUT", path+graceID, adminToken, map[string]any{"role": "admin"}), http.StatusOK)
		problem(t, n.do("PUT", path+graceID, adminToken, map[string]any{"role": "boss"}), http.StatusUnprocessableEntity)
		problem(t, n.do("PUT", path+adaID, adminToken, map[string]any{"role": "admin"}), http.StatusConflict)
		problem(t, n.do("DELETE", path+adaID, adminToken, nil), http.StatusConflict)
		problem(t, n.do("PUT", path+pulse.NewID(), adminToken, map[string]any{"role": "viewer"}), http.StatusNotFound)
		problem(t, n.do("PUT", "/admin/v1/tenants/"+pulse.NewID()+"/members/"+adaID, adminToken, map[string]any{"role": "viewer"}), http.StatusNotFound)
		problem(t, n.do("GET", "/admin/v1/tenants/"+pulse.NewID()+"/members", adminToken, nil), http.StatusNotFound)

		r = n.do("GET", "/admin/v1/tenants/"+tenantID+"/members", adminToken, nil)
		expectStatus(t, r, http.StatusOK)
		members := r.JSON(t)["members"].([]any)
		if len(members) != 2 || members[0].(map[string]any)["role"] != "owner" || members[1].(map[string]any)["role"] != "admin" {
			t.Fatalf("members = %v", members)
		}

		// Removing Grace from her only tenant ends her sessions at once.
		ctx := context.Background()
		at := n.Clock.Now().UTC()
		sess := &pulse.Session{IDHash: "grace-session", UserID: graceID, CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(time.Hour)}
		if err := n.App.Store.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, n.do("DELETE", path+graceID, adminToken, nil), http.StatusNoContent)
		if _, err := n.App.Store.GetSession(ctx, sess.IDHash); !pulse.IsNotFound(err) {
			t.Fatalf("removed member's session: err = %v, want not found", err)
		}
		problem(t, n.do("DELETE", path+graceID, adminToken, nil), http.StatusNotFound)

		// PATCH: a new password ends sessions; so does disabling.
		sess.IDHash = "ada-session"
		sess.UserID = adaID
		if err := n.App.Store.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		r = n.do("PATCH", "/admin/v1/users/"+adaID, adminToken, map[string]any{"password": "a brand new passphrase", "name": "Ada L."})
		expectStatus(t, r, http.StatusOK)
		if u := r.JSON(t); u["name"] != "Ada L." {
			t.Fatalf("patched user = %v", u)
		}
		if _, err := n.App.Store.GetSession(ctx, "ada-session"); !pulse.IsNotFound(err) {
			t.Fatalf("session after a password change: err = %v, want not found", err)
		}
		u, err := n.App.Store.GetUser(ctx, adaID)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.App.People.Hasher.Verify(ctx, u.PasswordHash, "a brand new passphrase"); err != nil {
			t.Fatalf("new password does not verify: %v", err)
		}
		r = n.do("PATCH", "/admin/v1/users/"+adaID, adminToken, map[string]any{"disabled": true})
		expectStatus(t, r, http.StatusOK)
		if r.JSON(t)["disabled"] != true {
			t.Fatalf("disable: %s", r.Body)
		}
		problem(t, n.do("PATCH", "/admin/v1/users/"+adaID, adminToken, map[string]any{"password": "Ada@Example.com"}), http.StatusUnprocessableEntity)
		problem(t, n.do("PATCH", "/admin/v1/users/"+pulse.NewID(), adminToken, map[string]any{"name": "x"}), http.StatusNotFound)
		problem(t, n.do("PATCH", "/admin/v1/users/"+adaID, adminToken, map[string]any{"password_hash": "x"}), http.StatusUnprocessableEntity)

		// Every change is in the audit log, without a password or hash.
		entries, raw := auditLog(t, n, "/admin/v1/audit-log", adminToken)
		for _, leak := range []string{pw, "a brand new passphrase", "argon2", "hash"} {
			if strings.Contains(raw, leak) {
				t.Fatalf("the audit log contains %q", leak)
			}
		}
		var actions []string
		for _, e := range entries {
			if strings.HasPrefix(e.Action, "user.") || strings.HasPrefix(e.Action, "member.") {
				if e.Actor != "admin" {
					t.Errorf("%s by %q, want admin", e.Action, e.Actor)
				}
				actions = append(actions, e.Action)
			}
		}
		want := "user.update user.set_password member.remove member.change_role member.add member.add user.create user.create"
		if got := strings.Join(actions, " "); got != want {
			t.Fatalf("audit actions (newest first):\n%s\nwant\n%s", got, want)
		}
	})
}
