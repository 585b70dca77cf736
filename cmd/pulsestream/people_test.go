package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/password"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/sqlite"
)

// user and member commands: create the first owner of a tenant, list,
// add a member, refuse to remove the last owner, set a password (which
// ends sessions), disable — every change audited, no password echoed.
func TestUserAndMemberCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cli.db")
	db := "sqlite://" + path
	getenv := func(string) string { return "" }
	var out, errOut bytes.Buffer
	cli := func(stdin string, args ...string) int {
		t.Helper()
		out.Reset()
		errOut.Reset()
		return runIO(ctx, append(args, "--database", db), getenv, strings.NewReader(stdin), &out, &errOut)
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		if code := cli(stdin, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}

	tenantID := regexp.MustCompile(`tenant_id: (\S+)`).FindStringSubmatch(must("", "tenant", "create", "acme"))[1]
	const pw = "a long enough passphrase"
	got := must(pw+"\n", "user", "create", "Ada@Example.com", "--name", "Ada", "--owner-of", tenantID, "--password-stdin")
	adaID := regexp.MustCompile(`user_id: (\S+)`).FindStringSubmatch(got)[1]
	if strings.Contains(got+errOut.String(), pw) {
		t.Fatalf("the password was echoed: %s %s", got, errOut.String())
	}
	must("another long passphrase", "user", "create", "grace@example.com", "--password-stdin")

	if code := cli("short\n", "user", "create", "bob@example.com", "--password-stdin"); code != 1 || !strings.Contains(errOut.String(), "at least 12") {
		t.Fatalf("short password: exit %d: %s", code, errOut.String())
	}
	if code := cli("", "user", "create", "bob@example.com"); code != 1 || !strings.Contains(errOut.String(), "--password-stdin") {
		t.Fatalf("no terminal and no --password-stdin: exit %d: %s", code, errOut.String())
	}
	if code := cli(pw, "user", "create", "ADA@example.com", "--password-stdin"); code != 1 || !strings.Contains(errOut.String(), "exists") {
		t.Fatalf("same email in another case: exit %d: %s", code, errOut.String())
	}

	list := must("", "user", "list")
	if !strings.Contains(list, "Ada@Example.com") || !strings.Contains(list, "grace@example.com") || strings.Contains(list, "argon2") {
		t.Fatalf("user list:\n%s", list)
	}
	must("", "member", "add", tenantID, "grace@example.com", "--role", "viewer")
	members := must("", "member", "list", tenantID)
	if !regexp.MustCompile(`Ada@Example.com\s+Ada\s+owner`).MatchString(members) || !regexp.MustCompile(`grace@example.com\s+-\s+viewer`).MatchString(members) {
		t.Fatalf("member list:\n%s", members)
	}
	if code := cli("", "member", "remove", tenantID, "ada@example.com"); code != 1 || !strings.Contains(errOut.String(), "at least one owner") {
		t.Fatalf("removing the last owner: exit %d: %s", code, errOut.String())
	}
	if code := cli("", "member", "add", tenantID, "grace@example.com", "--role", "boss"); code != 1 || !strings.Contains(errOut.String(), "role") {
		t.Fatalf("unknown role: exit %d: %s", code, errOut.String())
	}
	must("", "member", "remove", tenantID, "grace@example.com")

	// set-password ends the user's sessions; the new password verifies.
	s, err := sqlite.Open(ctx, path, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	sess := &pulse.Session{IDHash: "h1", UserID: adaID, CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	s.Close()
	must("the new long passphrase\n", "user", "set-password", "ada@example.com", "--password-stdin")
	must("", "user", "disable", adaID)

	s, err = sqlite.Open(ctx, path, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetSession(ctx, "h1"); !pulse.IsNotFound(err) {
		t.Fatalf("session after set-password: err = %v, want not found", err)
	}
	u, err := s.GetUser(ctx, adaID)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Disabled {
		t.Fatal("user not disabled")
	}
	if err := password.NewHasher(password.DefaultParams, 1).Verify(ctx, u.PasswordHash, "the new long passphrase"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	entries, err := s.ListAudit(ctx, pulse.AuditFilter{AllTenants: true, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if e.Actor != pulse.ActorCLI {
			t.Errorf("audit entry %s by %q, want cli", e.Action, e.Actor)
		}
		if strings.Contains(string(e.Before)+string(e.After), "argon2") {
			t.Errorf("audit entry %s carries a password hash", e.Action)
		}
		actions = append(actions, e.Action)
	}
	want := "user.update user.set_password member.remove member.add user.create member.add user.create tenant.create"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("audit actions (newest first) = %s\nwant %s", got, want)
	}
}

func TestUserMemberHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"user"}, {"member", "--help"}, {"user", "create", "--help"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage") && !strings.Contains(errOut.String(), "-password-stdin") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
	}
}
