package secretbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	key := make([]byte, KeySize)
	rand.Read(key)
	box, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("pss_very-secret")
	sealed := box.Seal(secret, []byte("tenant-a/secret-1"))
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	if again := box.Seal(secret, []byte("tenant-a/secret-1")); bytes.Equal(again, sealed) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	got, err := box.Open(sealed, []byte("tenant-a/secret-1"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}

	other := make([]byte, KeySize)
	rand.Read(other)
	otherBox, _ := New(other)
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"other key": func() ([]byte, error) { return otherBox.Open(sealed, []byte("tenant-a/secret-1")) },
		"other ad":  func() ([]byte, error) { return box.Open(sealed, []byte("tenant-b/secret-1")) },
		"tampered":  func() ([]byte, error) { return box.Open(tampered, []byte("tenant-a/secret-1")) },
		"truncated": func() ([]byte, error) { return box.Open(sealed[:10], nil) },
		"empty":     func() ([]byte, error) { return box.Open(nil, nil) },
		"bad version": func() ([]byte, error) {
			v := bytes.Clone(sealed)
			v[0] = 9
			return box.Open(v, []byte("tenant-a/secret-1"))
		},
	} {
		if _, err := open(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: err = %v, want ErrOpen", name, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := make([]byte, KeySize)
	rand.Read(key)
	for _, s := range []string{
		hex.EncodeToString(key),
		base64.StdEncoding.EncodeToString(key),
		base64.RawURLEncoding.EncodeToString(key),
		" " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "short", base64.StdEncoding.EncodeToString(key[:16]), hex.EncodeToString(key)[:63] + "z"} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) succeeded", s)
		}
	}
}
