package sqlite

import "testing"

func TestParseDSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dsn, path string
		ok        bool
	}{
		{"sqlite://./data/pulsestream.db", "./data/pulsestream.db", true},
		{"sqlite://data/pulsestream.db", "data/pulsestream.db", true},
		{"sqlite:///var/lib/pulse/p.db", "/var/lib/pulse/p.db", true},
		{"sqlite3:///abs.db", "/abs.db", true},
		{"pulse.db", "pulse.db", true},
		{"/tmp/x/pulse.db", "/tmp/x/pulse.db", true},
		{"./dir with space/p.db", "./dir with space/p.db", true},
		{"", "", false},
		{"sqlite://", "", false},
		{"postgres://localhost/db", "", false},
		{"sqlite://./p.db?_journal=DELETE", "", false},
		{"sqlite://:memory:", "", false},
		{":memory:", "", false},
		{"file:p.db", "", false},
	}
	for _, tc := range tests {
		path, err := parseDSN(tc.dsn)
		if (err == nil) != tc.ok || path != tc.path {
			t.Errorf("parseDSN(%q) = %q, %v; want %q, ok=%v", tc.dsn, path, err, tc.path, tc.ok)
		}
	}
}
