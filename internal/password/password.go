// Package password hashes and checks people's passwords with argon2id
// (RFC 9106) in the PHC string format, bounds how many hashes run at once
// so that a flood of sign-ins cannot exhaust memory, and holds the rules a
// new password must follow.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen int
	KeyLen  uint32
}

// DefaultParams were chosen by measuring on the development machine (see
// BENCHMARKS.md, "Password hashing"): about 50–100 ms per hash on one core
// with 32 MiB, within OWASP's argon2id recommendations (m ≥ 19 MiB).
var DefaultParams = Params{Memory: 32 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// TestParams are cheap parameters for tests only.
var TestParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// DefaultConcurrency is how many hashes a Hasher computes at once by default:
// at most DefaultConcurrency × Params.Memory of RAM goes to hashing.
const DefaultConcurrency = 2

// ErrMismatch is returned by Verify when the password is wrong.
var ErrMismatch = errors.New("password: mismatch")

// Hasher hashes and verifies passwords with Params, at most a fixed number
// at a time. It is safe for concurrent use. The zero value is not usable;
// call NewHasher.
type Hasher struct {
	params Params
	sem    chan struct{}
}

// NewHasher returns a Hasher computing at most concurrency hashes at once
// (DefaultConcurrency when ≤ 0).
func NewHasher(p Params, concurrency int) *Hasher {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	return &Hasher{params: p, sem: make(chan struct{}, concurrency)}
}

// acquire waits for a hashing slot or for ctx: a caller that gives up
// (client gone, deadline) never starts a hash.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return pulse.Unavailable(fmt.Errorf("password: waiting for a hashing slot: %w", ctx.Err()), 0)
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC string of password under a fresh random salt:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<key> (unpadded
// base64). It fails only when ctx ends while waiting for a slot.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	return encode(h.params, salt, key), nil
}

// Verify checks password against a PHC string made by Hash (with any
// parameters within limits): nil when it matches, ErrMismatch when not,
// another error when the string is malformed. The comparison is constant
// time.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) error {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return err
	}
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether encoded was made with other parameters than
// the Hasher's (so a caller may re-hash after a successful sign-in).
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, salt, key, err := decode(encoded)
	return err != nil || p.Memory != h.params.Memory || p.Time != h.params.Time ||
		p.Threads != h.params.Threads || len(salt) != h.params.SaltLen || uint32(len(key)) != h.params.KeyLen
}

var b64 = base64.RawStdEncoding

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Limits on what decode accepts, so that a tampered hash cannot make
// Verify allocate gigabytes or spin for minutes.
const (
	maxMemory = 1 << 20 // KiB: 1 GiB
	maxTime   = 64
)

var errFormat = errors.New("password: not an argon2id PHC string")

func decode(s string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errFormat
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errFormat
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil {
		return p, nil, nil, errFormat
	}
	if p.Memory < 8 || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || threads < 1 || threads > 255 {
		return p, nil, nil, errFormat
	}
	p.Threads = uint8(threads)
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errFormat
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errFormat
	}
	p.SaltLen, p.KeyLen = len(salt), uint32(len(key))
	return p, salt, key, nil
}
