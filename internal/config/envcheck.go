package config

import (
	"fmt"
	"slices"
	"strings"
)

// FileEnv names the configuration file when --config is not given
// (EnvName("config"); KnownEnv lists it).
const FileEnv = "PULSESTREAM_CONFIG"

// notSettings are PULSESTREAM_ variables read by the test suites and the
// examples, not by the server: no warning for them.
var notSettings = []string{"PULSESTREAM_TEST_", "PULSESTREAM_CHAOS_", "PULSESTREAM_SOAK", "PULSESTREAM_REQUIRE_EXTERNAL", "PULSESTREAM_KEY"}

// UnknownEnv returns one warning per PULSESTREAM_ variable of environ
// ("NAME=value" entries) that is not a setting, naming the closest known
// one, so that a typo (PULSESTREAM_DATABSE_URL) does not silently fall
// back to a default.
func UnknownEnv(environ []string) []string {
	known := KnownEnv()
	var warnings []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "PULSESTREAM_") || slices.Contains(known, name) {
			continue
		}
		if slices.ContainsFunc(notSettings, func(p string) bool { return name == p || strings.HasSuffix(p, "_") && strings.HasPrefix(name, p) }) {
			continue
		}
		warnings = append(warnings, fmt.Sprintf("environment variable %s is not a PulseStream setting and is ignored; did you mean %s?", name, closest(name, known)))
	}
	slices.Sort(warnings)
	return warnings
}

// closest returns the candidate with the smallest edit distance to s.
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := editDistance(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
