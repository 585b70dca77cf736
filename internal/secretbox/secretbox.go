// Package secretbox encrypts secrets at rest (webhook and request-signing
// secrets) with AES-256-GCM under one key, PULSESTREAM_SECRET_KEY. A sealed
// value is a version byte, a random 12-byte nonce and the ciphertext with
// its tag; the caller's additional data (e.g. the row's tenant and id)
// binds a ciphertext to its place, so it cannot be moved to another row.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the key length in bytes (AES-256).
const KeySize = 32

const version = 1

// ErrOpen is returned for a value that was not sealed under this key (or
// with other additional data), or that was altered.
var ErrOpen = errors.New("secretbox: cannot open: wrong key, wrong additional data or altered value")

// Box seals and opens values under one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// ParseKey decodes a key written as 64 hex characters or as base64
// (standard or URL alphabet, padded or not) of 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("secret key must decode to %d bytes, got %d (generate one with: openssl rand -base64 32)", KeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("secret key must be 32 bytes as base64 or 64 hex characters (generate one with: openssl rand -base64 32)")
}

// NewFromString is ParseKey followed by New.
func NewFromString(s string) (*Box, error) {
	key, err := ParseKey(s)
	if err != nil {
		return nil, err
	}
	return New(key)
}

// Seal encrypts plaintext; ad is authenticated but not stored.
func (b *Box) Seal(plaintext, ad []byte) []byte {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b.aead.Seal(out, out[1:], plaintext, ad)
}

// Open decrypts a value made by Seal with the same ad; ErrOpen otherwise.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// sealedPrefix marks a string made by SealString, so that values stored
// before encryption was introduced can still be read.
const sealedPrefix = "sealed:v1:"

// SealString seals plaintext and returns it as printable text for a column.
func (b *Box) SealString(plaintext, ad string) string {
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(b.Seal([]byte(plaintext), []byte(ad)))
}

// OpenString opens a value made by SealString with the same ad. A value
// without the prefix is returned as it is (stored before sealing existed).
func (b *Box) OpenString(s, ad string) (string, error) {
	rest, ok := strings.CutPrefix(s, sealedPrefix)
	if !ok {
		return s, nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("secretbox: sealed value is not base64: %w", err)
	}
	plain, err := b.Open(raw, []byte(ad))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}
