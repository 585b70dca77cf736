package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("AuditAppendList", testAuditAppendList)
	register("AuditPagesAndTenants", testAuditPages)
	register("SigningSecretLifecycle", testSigningSecrets)
	register("APIKeyRotate", testAPIKeyRotate)
	register("APIKeyRotateRevokedOrForeign", testAPIKeyRotateRefused)
	register("APIKeyTouch", testAPIKeyTouch)
	register("TenantRequireSignedRequests", testTenantRequireSigned)
}

func auditEntry(tenantID, action string, at time.Time) *pulse.AuditEntry {
	return &pulse.AuditEntry{
		ID: newID(), TenantID: tenantID, At: at, Actor: pulse.ActorAdmin, Action: action,
		Target: "tenant/" + tenantID, SourceIP: "192.0.2.7", RequestID: "req-1",
		Before: json.RawMessage(`{"name":"a"}`), After: json.RawMessage(`{"name":"b"}`),
	}
}

func testAuditAppendList(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	at := now()
	e := auditEntry(tn.ID, "tenant.update", at)
	if err := s.AppendAudit(t.Context(), e); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	if e.Seq <= 0 {
		t.Fatalf("AppendAudit set Seq = %d, want > 0", e.Seq)
	}
	bare := &pulse.AuditEntry{ID: newID(), TenantID: tn.ID, At: at, Actor: pulse.ActorCLI, Action: "api_key.revoke", Target: "api_key/x"}
	if err := s.AppendAudit(t.Context(), bare); err != nil {
		t.Fatalf("AppendAudit without summaries: %v", err)
	}
	got, err := s.ListAudit(t.Context(), pulse.AuditFilter{TenantID: tn.ID, Limit: 10})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	if len(got) != 2 || got[0].ID != bare.ID || got[1].ID != e.ID {
		t.Fatalf("ListAudit = %d entries, want [%s %s] newest first", len(got), bare.ID, e.ID)
	}
	g := got[1]
	if g.Seq != e.Seq || g.TenantID != tn.ID || g.Actor != e.Actor || g.Action != e.Action || g.Target != e.Target ||
		g.SourceIP != e.SourceIP || g.RequestID != e.RequestID || !jsonEqual(g.Before, e.Before) || !jsonEqual(g.After, e.After) {
		t.Errorf("entry = %+v, want %+v", g, e)
	}
	checkTime(t, "At", g.At, at)
	if got[0].Before != nil || got[0].After != nil {
		t.Errorf("entry without summaries came back with %s / %s", got[0].Before, got[0].After)
	}
}

func testAuditPages(t *testing.T, s pulse.Store) {
	a, b := createTenant(t, s, 0), createTenant(t, s, 0)
	var wantA []string
	for i := range 7 {
		tn := a
		if i%3 == 2 {
			tn = b
		}
		e := auditEntry(tn.ID, fmt.Sprintf("action.%d", i), now())
		if err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		if tn == a {
			wantA = append([]string{e.ID}, wantA...) // newest first
		}
	}
	server := &pulse.AuditEntry{ID: newID(), At: now(), Actor: pulse.ActorAdmin, Action: "server.thing", Target: "server"}
	if err := s.AppendAudit(t.Context(), server); err != nil {
		t.Fatalf("AppendAudit server-wide: %v", err)
	}
	var gotA []string
	f := pulse.AuditFilter{TenantID: a.ID, Limit: 2}
	for range 10 {
		page, err := s.ListAudit(t.Context(), f)
		if err != nil {
			t.Fatalf("ListAudit: %v", err)
		}
		for _, e := range page {
			if e.TenantID != a.ID {
				t.Fatalf("tenant %s's page holds an entry of %q", a.ID, e.TenantID)
			}
			gotA = append(gotA, e.ID)
		}
		if len(page) < f.Limit {
			break
		}
		f.BeforeSeq = page[len(page)-1].Seq
	}
	if fmt.Sprint(gotA) != fmt.Sprint(wantA) {
		t.Errorf("pages of tenant a = %v, want %v", gotA, wantA)
	}
	all, err := s.ListAudit(t.Context(), pulse.AuditFilter{AllTenants: true, Limit: 100})
	if err != nil {
		t.Fatalf("ListAudit all: %v", err)
	}
	if len(all) != 8 || all[0].ID != server.ID {
		t.Errorf("all tenants: %d entries (first %s), want 8 starting with the server-wide one", len(all), all[0].ID)
	}
}

func testSigningSecrets(t *testing.T, s pulse.Store) {
	a, b := createTenant(t, s, 0), createTenant(t, s, 0)
	sec := &pulse.SigningSecret{ID: newID(), TenantID: a.ID, Name: "ci", Prefix: "pss_abcd", Sealed: []byte{1, 2, 3, 0, 255}, CreatedAt: now()}
	if err := s.CreateSigningSecret(t.Context(), sec); err != nil {
		t.Fatalf("CreateSigningSecret: %v", err)
	}
	wantCode(t, s.CreateSigningSecret(t.Context(), sec), pulse.ECONFLICT)
	orphan := *sec
	orphan.ID, orphan.TenantID = newID(), newID()
	wantCode(t, s.CreateSigningSecret(t.Context(), &orphan), pulse.ENOTFOUND)

	list, err := s.ListSigningSecrets(t.Context(), a.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListSigningSecrets = %v, %v; want one", list, err)
	}
	g := list[0]
	if g.ID != sec.ID || g.TenantID != a.ID || g.Name != "ci" || g.Prefix != sec.Prefix || string(g.Sealed) != string(sec.Sealed) || g.RevokedAt != nil {
		t.Errorf("secret = %+v, want %+v", g, sec)
	}
	checkTime(t, "CreatedAt", g.CreatedAt, sec.CreatedAt)
	if other, err := s.ListSigningSecrets(t.Context(), b.ID); err != nil || len(other) != 0 {
		t.Errorf("tenant b sees %d secrets (err %v), want 0", len(other), err)
	}

	wantCode(t, s.RevokeSigningSecret(t.Context(), b.ID, sec.ID, now()), pulse.ENOTFOUND)
	at := now()
	if err := s.RevokeSigningSecret(t.Context(), a.ID, sec.ID, at); err != nil {
		t.Fatalf("RevokeSigningSecret: %v", err)
	}
	if err := s.RevokeSigningSecret(t.Context(), a.ID, sec.ID, at.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeSigningSecret again: %v", err)
	}
	list, _ = s.ListSigningSecrets(t.Context(), a.ID)
	if len(list) != 1 || list[0].RevokedAt == nil {
		t.Fatalf("after revoke: %+v", list)
	}
	checkTime(t, "RevokedAt", *list[0].RevokedAt, at)
}

func testAPIKeyRotate(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	exp := now().Add(72 * time.Hour)
	old := newKey(t, tn.ID, []pulse.Scope{pulse.ScopeIngest}, &exp)
	if err := s.CreateAPIKey(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	at := now()
	gotOld, next, secret, err := pulse.RotateKey(t.Context(), s, tn.ID, old.ID, time.Hour, at)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if secret == "" || next.ID == old.ID || next.Name != old.Name || next.Scopes[0] != pulse.ScopeIngest || len(next.Scopes) != 1 {
		t.Fatalf("new key = %+v", next)
	}
	checkTimePtr(t, "new ExpiresAt", next.ExpiresAt, old.ExpiresAt)
	want := next.CreatedAt.Add(time.Hour)
	checkTimePtr(t, "old RevokedAt (returned)", gotOld.RevokedAt, &want)
	stored, err := s.GetAPIKeyByHash(t.Context(), old.Hash)
	if err != nil {
		t.Fatal(err)
	}
	checkTimePtr(t, "old RevokedAt (stored)", stored.RevokedAt, &want)
	if !stored.Active(at.Add(59*time.Minute)) || stored.Active(at.Add(time.Hour)) {
		t.Errorf("old key: active during the grace period and not after it, got otherwise")
	}
	if got, err := s.GetAPIKeyByHash(t.Context(), pulse.HashSecret(secret)); err != nil || got.ID != next.ID {
		t.Fatalf("new key by hash = %v, %v", got, err)
	}
	// A key in its grace period has a successor: rotating it again is
	// refused with the successor's id, and changes nothing.
	_, _, _, err = pulse.RotateKey(t.Context(), s, tn.ID, old.ID, 10*time.Hour, at.Add(time.Minute))
	wantCode(t, err, pulse.ECONFLICT)
	if e, ok := err.(*pulse.Error); !ok || e.ID != next.ID || !strings.Contains(e.Message, next.ID) {
		t.Errorf("second rotation: %v, want a conflict naming the successor %s", err, next.ID)
	}
	// At the store level too (two rotations racing past the check above).
	other, _, _ := pulse.NewAPIKey(newID(), tn.ID, old.Name, old.Scopes, nil, at.Add(time.Minute))
	_, err = s.RotateAPIKey(t.Context(), tn.ID, old.ID, other, at.Add(time.Minute).Add(time.Hour))
	wantCode(t, err, pulse.ECONFLICT)
	if keys, _ := s.ListAPIKeys(t.Context(), tn.ID); len(keys) != 2 {
		t.Errorf("after refused rotations the tenant has %d keys, want 2 (the old key and one successor)", len(keys))
	}
	stored, _ = s.GetAPIKeyByHash(t.Context(), old.Hash)
	checkTimePtr(t, "old RevokedAt after refused rotations", stored.RevokedAt, &want)
	// The successor itself rotates normally.
	if _, _, _, err := pulse.RotateKey(t.Context(), s, tn.ID, next.ID, time.Hour, at.Add(time.Minute)); err != nil {
		t.Errorf("rotating the successor: %v", err)
	}
}

func testAPIKeyRotateRefused(t *testing.T, s pulse.Store) {
	a, b := createTenant(t, s, 0), createTenant(t, s, 0)
	k := createKey(t, s, a.ID)
	_, _, _, err := pulse.RotateKey(t.Context(), s, b.ID, k.ID, 0, now())
	wantCode(t, err, pulse.ENOTFOUND)
	next, _, _ := pulse.NewAPIKey(newID(), b.ID, "x", nil, nil, now())
	_, err = s.RotateAPIKey(t.Context(), b.ID, k.ID, next, now()) // store level too
	wantCode(t, err, pulse.ENOTFOUND)
	if err := s.RevokeAPIKey(t.Context(), a.ID, k.ID, now()); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = pulse.RotateKey(t.Context(), s, a.ID, k.ID, 0, now().Add(time.Second))
	wantCode(t, err, pulse.ECONFLICT)
	keys, _ := s.ListAPIKeys(t.Context(), a.ID)
	if len(keys) != 1 {
		t.Errorf("a refused rotation left %d keys, want 1", len(keys))
	}
}

func testAPIKeyTouch(t *testing.T, s pulse.Store) {
	a, b := createTenant(t, s, 0), createTenant(t, s, 0)
	k1, k2 := createKey(t, s, a.ID), createKey(t, s, a.ID)
	at := now()
	err := s.TouchAPIKeys(t.Context(), []pulse.KeyUse{
		{TenantID: a.ID, KeyID: k1.ID, At: at},
		{TenantID: b.ID, KeyID: k2.ID, At: at}, // wrong tenant: ignored
	})
	if err != nil {
		t.Fatalf("TouchAPIKeys: %v", err)
	}
	if err := s.TouchAPIKeys(t.Context(), []pulse.KeyUse{{TenantID: a.ID, KeyID: k1.ID, At: at.Add(-time.Hour)}}); err != nil {
		t.Fatalf("TouchAPIKeys earlier: %v", err)
	}
	got1, _ := s.GetAPIKeyByHash(t.Context(), k1.Hash)
	got2, _ := s.GetAPIKeyByHash(t.Context(), k2.Hash)
	checkTimePtr(t, "k1 LastUsedAt", got1.LastUsedAt, &at)
	checkTimePtr(t, "k2 LastUsedAt", got2.LastUsedAt, nil)
	if err := s.TouchAPIKeys(t.Context(), nil); err != nil {
		t.Errorf("TouchAPIKeys(nil): %v", err)
	}
}

func testTenantRequireSigned(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	if tn.RequireSignedRequests {
		t.Fatal("a new tenant requires signed requests")
	}
	yes := true
	got, err := s.UpdateTenant(t.Context(), tn.ID, pulse.TenantPatch{RequireSignedRequests: &yes})
	if err != nil || !got.RequireSignedRequests {
		t.Fatalf("UpdateTenant = %+v, %v", got, err)
	}
	if got, err = s.GetTenant(t.Context(), tn.ID); err != nil || !got.RequireSignedRequests {
		t.Fatalf("GetTenant = %+v, %v", got, err)
	}
	list, _ := s.ListTenants(t.Context())
	for _, x := range list {
		if x.ID == tn.ID && !x.RequireSignedRequests {
			t.Errorf("ListTenants lost require_signed_requests")
		}
	}
}
