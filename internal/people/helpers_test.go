package people

import (
	"bytes"
	"errors"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func asError(err error, pe **pulse.Error) bool { return errors.As(err, pe) }

func containsBytes(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }
