package password

import (
	"strings"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Length limits, in bytes. The maximum bounds the work of hashing a
// hostile input; passphrases fit comfortably.
const (
	MinLength = 12
	MaxLength = 256
)

// Check returns EINVALID (field "password") when password is shorter than
// MinLength, longer than MaxLength bytes, or equal to the email (case
// ignored).
func Check(password, email string) error {
	fe := func(msg, reason string) error {
		return pulse.Invalid(pulse.FieldError{Field: "password", Message: msg, Reason: reason})
	}
	switch {
	case len(password) < MinLength:
		return fe("must be at least 12 characters", "password.too_short")
	case len(password) > MaxLength:
		return fe("must be at most 256 bytes", "password.too_long")
	case email != "" && strings.EqualFold(strings.TrimSpace(password), strings.TrimSpace(email)):
		return fe("must not be your email address", "password.is_email")
	}
	return nil
}
