package config

import (
	"slices"
	"testing"
)

func TestKnownEnv(t *testing.T) {
	t.Parallel()
	known := KnownEnv()
	for _, want := range []string{"PULSESTREAM_DATABASE_URL", "PULSESTREAM_REDIS_URL", "PULSESTREAM_ADMIN_TOKEN", "PULSESTREAM_METRICS_TOKEN", "PULSESTREAM_SECRET_KEY", "PULSESTREAM_ADDR"} {
		if !slices.Contains(known, want) {
			t.Errorf("KnownEnv lacks %s", want)
		}
	}
	if slices.Contains(known, "PULSESTREAM_DATABASE") || !slices.IsSorted(known) || len(slices.Compact(slices.Clone(known))) != len(known) {
		t.Errorf("KnownEnv must hold each variable's real name once, sorted: %v", known)
	}
}
