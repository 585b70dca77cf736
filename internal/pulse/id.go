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

// IDMillis is the Unix millisecond encoded in a UUIDv7 made by NewID (0 for
// anything else).
func IDMillis(id string) int64 {
	if len(id) < 13 || id[8] != '-' {
		return 0
	}
	var b [6]byte
	if _, err := hex.Decode(b[:4], []byte(id[0:8])); err != nil {
		return 0
	}
	if _, err := hex.Decode(b[4:], []byte(id[9:13])); err != nil {
		return 0
	}
	var ms int64
	for _, c := range b {
		ms = ms<<8 | int64(c)
	}
	return ms
}

// IDAt is the smallest UUIDv7 of Unix millisecond ms: every id NewID makes
// at ms or later sorts at or after it.
func IDAt(ms int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(max(ms, 0))<<16)
	var out [12]byte
	hex.Encode(out[:], b[:6])
	return string(out[:8]) + "-" + string(out[8:12]) + "-0000-0000-000000000000"
}
