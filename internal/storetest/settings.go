package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("SettingNotFound", testSettingNotFound)
	register("SettingSetIfAbsent", testSettingSetIfAbsent)
	register("SettingSetIfAbsentConcurrent", testSettingConcurrent)
}

func testSettingNotFound(t *testing.T, s pulse.Store) {
	_, err := s.GetSetting(t.Context(), "never-set-"+newID())
	wantCode(t, err, pulse.ENOTFOUND)
}

func testSettingSetIfAbsent(t *testing.T, s pulse.Store) {
	key := "admin_token_hash-" + newID()
	for _, v := range []string{"first", "second"} {
		got, err := s.SetSettingIfAbsent(t.Context(), key, v)
		if err != nil {
			t.Fatalf("SetSettingIfAbsent(%q): %v", v, err)
		}
		if got != "first" {
			t.Fatalf("SetSettingIfAbsent(%q) = %q, want %q", v, got, "first")
		}
	}
	got, err := s.GetSetting(t.Context(), key)
	if err != nil || got != "first" {
		t.Fatalf("GetSetting = %q, %v; want first", got, err)
	}
}

func testSettingConcurrent(t *testing.T, s pulse.Store) {
	key := "race-" + newID()
	const n = 20
	got := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = s.SetSettingIfAbsent(t.Context(), key, fmt.Sprintf("value-%d", i))
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("SetSettingIfAbsent #%d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("callers disagree: %q and %q", got[0], got[i])
		}
	}
	var values []string
	for i := range n {
		values = append(values, fmt.Sprintf("value-%d", i))
	}
	if !slices.Contains(values, got[0]) {
		t.Fatalf("stored value %q was never offered", got[0])
	}
	stored, err := s.GetSetting(t.Context(), key)
	if err != nil || stored != got[0] {
		t.Fatalf("GetSetting = %q, %v; want %q", stored, err, got[0])
	}
}
