// Package sqlite implements pulse.Store on one SQLite file (WAL mode) with
// github.com/mattn/go-sqlite3. It owns the schema (embedded goose
// migrations, applied by Open), one writer connection that serializes every
// write transaction, and a pool of read-only connections for queries.
package sqlite
