package pulse

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// NewID returns a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then
// random bits. Time-ordered ids make inserts land at the right edge of the
// B-trees instead of all over them.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16|uint64(binary.BigEndian.Uint16(b[6:8])))
	b[6] = 0x70 | b[6]&0x0f // version 7
	b[8] = 0x80 | b[8]&0x3f // variant 10
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// CreateTenantWithKey creates a tenant and its first API key (all scopes)
// and returns the key's secret, to be shown once. The admin API and the CLI
// both use it.
func CreateTenantWithKey(ctx context.Context, s Store, now time.Time, name string, rateLimit, retentionDays int) (*Tenant, string, error) {
	t, err := NewTenant(NewID(), name, rateLimit, retentionDays, now)
	if err != nil {
		return nil, "", err
	}
	if err := s.CreateTenant(ctx, t); err != nil {
		return nil, "", err
	}
	k, secret, err := NewAPIKey(NewID(), t.ID, "default", nil, nil, now)
	if err != nil {
		return nil, "", err
	}
	if err := s.CreateAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	return t, secret, nil
}
