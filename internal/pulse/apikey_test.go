package pulse

import (
	"strings"
	"testing"
)

func TestWellFormedSecret(t *testing.T) {
	t.Parallel()
	if s := GenerateSecret(KeyPrefix, 40); !WellFormedSecret(s) {
		t.Errorf("a generated key %q is not well formed", s)
	}
	for _, s := range []string{
		"", "ps_", "ps_" + strings.Repeat("a", 31), "ps_" + strings.Repeat("a", 201),
		"PS_" + strings.Repeat("a", 40), "psadm_" + strings.Repeat("a", 40),
		"ps_" + strings.Repeat("a", 39) + "-", "ps_" + strings.Repeat("a", 39) + "é",
		"ps_" + strings.Repeat("a", 39) + " ",
	} {
		if WellFormedSecret(s) {
			t.Errorf("%q taken for a key", s)
		}
	}
}
