package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("APIKeyCreateGetByHash", testAPIKeyCreateGet)
	register("APIKeyGetByHashNotFound", testAPIKeyNotFound)
	register("APIKeyDuplicateHash", testAPIKeyDuplicateHash)
	register("APIKeyListPerTenant", testAPIKeyList)
	register("APIKeyRevoke", testAPIKeyRevoke)
	register("APIKeyRevokeWrongTenant", testAPIKeyRevokeWrongTenant)
}

func newKey(t *testing.T, tenantID string, scopes []pulse.Scope, expiresAt *time.Time) *pulse.APIKey {
	t.Helper()
	k, _, err := pulse.NewAPIKey(newID(), tenantID, "key "+tenantID[len(tenantID)-6:], scopes, expiresAt, now())
	if err != nil {
		t.Fatalf("NewAPIKey: %v", err)
	}
	return k
}

func createKey(t *testing.T, s pulse.Store, tenantID string) *pulse.APIKey {
	t.Helper()
	k := newKey(t, tenantID, nil, nil)
	if err := s.CreateAPIKey(t.Context(), k); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	return k
}

func checkTimePtr(t *testing.T, field string, got, want *time.Time) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", field, got, want)
	default:
		checkTime(t, field, *got, *want)
	}
}

func checkKey(t *testing.T, got, want *pulse.APIKey) {
	t.Helper()
	if got.ID != want.ID || got.TenantID != want.TenantID || got.Name != want.Name ||
		got.Prefix != want.Prefix || got.Hash != want.Hash || !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("key = %+v, want %+v", got, want)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTimePtr(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTimePtr(t, "RevokedAt", got.RevokedAt, want.RevokedAt)
	checkTimePtr(t, "LastUsedAt", got.LastUsedAt, want.LastUsedAt)
}

func testAPIKeyCreateGet(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	exp := now().Add(48 * time.Hour)
	for _, k := range []*pulse.APIKey{
		newKey(t, tn.ID, nil, nil),
		newKey(t, tn.ID, []pulse.Scope{pulse.ScopeRead}, &exp),
		newKey(t, tn.ID, []pulse.Scope{pulse.ScopeAdmin, pulse.ScopeIngest}, nil),
	} {
		if err := s.CreateAPIKey(t.Context(), k); err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		got, err := s.GetAPIKeyByHash(t.Context(), k.Hash)
		if err != nil {
			t.Fatalf("GetAPIKeyByHash: %v", err)
		}
		checkKey(t, got, k)
	}
}

func testAPIKeyNotFound(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	k := createKey(t, s, tn.ID)
	_, err := s.GetAPIKeyByHash(t.Context(), pulse.HashSecret("ps_unknown"))
	wantCode(t, err, pulse.ENOTFOUND)
	_, err = s.GetAPIKeyByHash(t.Context(), strings.ToUpper(k.Hash)) // hashes match exactly
	wantCode(t, err, pulse.ENOTFOUND)
}

func testAPIKeyDuplicateHash(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	k := createKey(t, s, tn.ID)
	dup := newKey(t, tn.ID, nil, nil)
	dup.Hash = k.Hash
	wantCode(t, s.CreateAPIKey(t.Context(), dup), pulse.ECONFLICT)
}

func testAPIKeyList(t *testing.T, s pulse.Store) {
	a, b, c := createTenant(t, s, 0), createTenant(t, s, 0), createTenant(t, s, 0)
	want := map[string][]*pulse.APIKey{}
	for i, tn := range []*pulse.Tenant{a, b, a, a, b} {
		k := newKey(t, tn.ID, nil, nil)
		k.CreatedAt = k.CreatedAt.Add(time.Duration(i) * time.Second)
		if err := s.CreateAPIKey(t.Context(), k); err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		want[tn.ID] = append(want[tn.ID], k)
	}
	for _, tn := range []*pulse.Tenant{a, b, c} {
		got, err := s.ListAPIKeys(t.Context(), tn.ID)
		if err != nil {
			t.Fatalf("ListAPIKeys: %v", err)
		}
		if len(got) != len(want[tn.ID]) {
			t.Fatalf("ListAPIKeys(%s) returned %d keys, want %d", tn.ID, len(got), len(want[tn.ID]))
		}
		// The order is not part of the contract: match by id.
		for _, w := range want[tn.ID] {
			i := slices.IndexFunc(got, func(k *pulse.APIKey) bool { return k.ID == w.ID })
			if i < 0 {
				t.Fatalf("ListAPIKeys(%s) misses key %s", tn.ID, w.ID)
			}
			checkKey(t, got[i], w)
		}
	}
}

func testAPIKeyRevoke(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	k := createKey(t, s, tn.ID)
	other := createKey(t, s, tn.ID)
	at := now()
	if err := s.RevokeAPIKey(t.Context(), tn.ID, k.ID, at); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	// A later revocation keeps the first time.
	if err := s.RevokeAPIKey(t.Context(), tn.ID, k.ID, at.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeAPIKey again: %v", err)
	}
	got, err := s.GetAPIKeyByHash(t.Context(), k.Hash)
	if err != nil {
		t.Fatalf("GetAPIKeyByHash of a revoked key: %v", err)
	}
	want := *k
	want.RevokedAt = &at
	checkKey(t, got, &want)
	if got.Active(at) {
		t.Errorf("revoked key is active")
	}
	got, err = s.GetAPIKeyByHash(t.Context(), other.Hash)
	if err != nil {
		t.Fatalf("GetAPIKeyByHash: %v", err)
	}
	checkKey(t, got, other) // untouched
}

func testAPIKeyRevokeWrongTenant(t *testing.T, s pulse.Store) {
	a, b := createTenant(t, s, 0), createTenant(t, s, 0)
	k := createKey(t, s, a.ID)
	wantCode(t, s.RevokeAPIKey(t.Context(), b.ID, k.ID, now()), pulse.ENOTFOUND)
	wantCode(t, s.RevokeAPIKey(t.Context(), a.ID, newID(), now()), pulse.ENOTFOUND)
	got, err := s.GetAPIKeyByHash(t.Context(), k.Hash)
	if err != nil {
		t.Fatalf("GetAPIKeyByHash: %v", err)
	}
	if got.RevokedAt != nil {
		t.Errorf("key revoked through another tenant: RevokedAt = %v", got.RevokedAt)
	}
}
