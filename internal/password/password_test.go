package password

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func TestHashVerify(t *testing.T) {
	t.Parallel()
	h := NewHasher(TestParams, 2)
	ctx := t.Context()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Count(enc, "$") != 5 {
		t.Fatalf("hash %q is not a PHC argon2id string", enc)
	}
	if err := h.Verify(ctx, enc, "correct horse battery staple"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple"} {
		if err := h.Verify(ctx, enc, wrong); !errors.Is(err, ErrMismatch) {
			t.Fatalf("Verify(%q) = %v, want ErrMismatch", wrong, err)
		}
	}
	again, _ := h.Hash(ctx, "correct horse battery staple")
	if again == enc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	// A hash made with other parameters still verifies, and asks for a rehash.
	strong := NewHasher(Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	if err := strong.Verify(ctx, enc, "correct horse battery staple"); err != nil {
		t.Fatalf("Verify with other parameters: %v", err)
	}
	if !strong.NeedsRehash(enc) || h.NeedsRehash(enc) {
		t.Fatal("NeedsRehash does not follow the parameters")
	}
}

func TestVerifyRefusesMalformed(t *testing.T) {
	t.Parallel()
	h := NewHasher(TestParams, 1)
	good, _ := h.Hash(t.Context(), "correct horse battery staple")
	parts := strings.Split(good, "$")
	for name, enc := range map[string]string{
		"empty":         "",
		"bcrypt":        "$2a$10$abcdefghijklmnopqrstuu",
		"argon2i":       strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":   strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":   strings.Replace(good, "m=64", "m=99999999", 1),
		"huge time":     strings.Replace(good, "t=1", "t=1000", 1),
		"zero threads":  strings.Replace(good, "p=1", "p=0", 1),
		"bad salt":      fmt.Sprintf("$%s$%s$%s$!!!$%s", parts[1], parts[2], parts[3], parts[5]),
		"short key":     fmt.Sprintf("$%s$%s$%s$%s$AAAA", parts[1], parts[2], parts[3], parts[4]),
		"missing parts": "$argon2id$v=19$m=64,t=1,p=1$",
	} {
		if err := h.Verify(t.Context(), enc, "correct horse battery staple"); err == nil || errors.Is(err, ErrMismatch) {
			t.Errorf("%s: Verify = %v, want a format error", name, err)
		}
	}
}

// Hashing waits for a free slot; a caller whose context ends first never
// hashes and gets EUNAVAILABLE.
func TestHashWaitsForASlot(t *testing.T) {
	t.Parallel()
	h := NewHasher(TestParams, 1)
	h.sem <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Hash(ctx, "correct horse battery staple"); pulse.ErrorCode(err) != pulse.EUNAVAILABLE {
		t.Fatalf("Hash with every slot busy and a done context: %v, want EUNAVAILABLE", err)
	}
	if err := h.Verify(ctx, "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", "x"); pulse.ErrorCode(err) != pulse.EUNAVAILABLE {
		t.Fatalf("Verify with every slot busy and a done context: %v, want EUNAVAILABLE", err)
	}
	done := make(chan error, 1)
	go func() { _, err := h.Hash(t.Context(), "correct horse battery staple"); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("Hash ran while every slot was busy (err %v)", err)
	default:
	}
	<-h.sem // free the slot: the waiting hash proceeds
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(h.sem) != 0 {
		t.Fatalf("%d slots still held after the hash", len(h.sem))
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pw, email, reason string
	}{
		{"12345678901", "", "password.too_short"},
		{"123456789012", "", ""},
		{strings.Repeat("é", 128), "", ""}, // 256 bytes
		{strings.Repeat("x", 257), "", "password.too_long"},
		{"ada@example.com", "Ada@Example.com", "password.is_email"},
		{"ada@example.com!", "ada@example.com", ""},
	} {
		err := Check(tc.pw, tc.email)
		var pe *pulse.Error
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("Check(%q) = %v, want nil", tc.pw, err)
		case tc.reason != "" && (!errors.As(err, &pe) || pe.Code != pulse.EINVALID || pe.Fields[0].Reason != tc.reason):
			t.Errorf("Check(%q) = %v, want %s", tc.pw, err, tc.reason)
		}
	}
}
