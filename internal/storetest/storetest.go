// Package storetest is the one conformance suite that every pulse.Store
// implementation runs (internal/sqlite, internal/postgres). A behaviour
// change goes into this suite first, then into both backends.
package storetest

import (
	"testing"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Opener returns a fresh, empty, migrated store for one test; it registers
// its own cleanup with t.Cleanup.
type Opener func(t *testing.T) pulse.Store

// Run runs the whole suite against the stores made by open. Every sub-test
// calls t.Parallel and opens its own store.
func Run(t *testing.T, open Opener) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

type testCase struct {
	name string
	fn   func(t *testing.T, s pulse.Store)
}

// tests is filled by the files of this package (tenants_test-like files
// named for what they cover: tenants.go, keys.go, events.go, search.go, ...).
var tests []testCase

func register(name string, fn func(t *testing.T, s pulse.Store)) {
	tests = append(tests, testCase{name: name, fn: fn})
}
