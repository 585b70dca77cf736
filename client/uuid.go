package client

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// newUUIDv7 returns an RFC 9562 version 7 UUID: 48 bits of Unix
// milliseconds, then 74 random bits from crypto/rand.
func newUUIDv7(now time.Time) string {
	var u [16]byte
	_, _ = rand.Read(u[6:]) // never fails (crypto/rand panics instead)
	ms := uint64(now.UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // variant 10
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}
