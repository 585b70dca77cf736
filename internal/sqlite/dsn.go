package sqlite

import (
	"fmt"
	"strings"
)

// parseDSN returns the file path named by dsn: "sqlite://./data/x.db"
// (relative), "sqlite:///abs/x.db" (absolute) or a plain path. Options are
// not taken from the DSN (they come from Config), and an in-memory database
// is refused because the writer and the readers would see different ones.
func parseDSN(dsn string) (string, error) {
	path := dsn
	if i := strings.Index(dsn, "://"); i >= 0 {
		if scheme := dsn[:i]; scheme != "sqlite" && scheme != "sqlite3" {
			return "", fmt.Errorf("sqlite: unsupported DSN scheme %q (want sqlite://)", scheme)
		}
		path = dsn[i+3:]
	}
	switch {
	case path == "":
		return "", fmt.Errorf("sqlite: DSN %q names no file", dsn)
	case strings.ContainsAny(path, "?#"):
		return "", fmt.Errorf("sqlite: DSN %q: options are set in the config, not in the DSN", dsn)
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return "", fmt.Errorf("sqlite: DSN %q: give a file path", dsn)
	}
	return path, nil
}
