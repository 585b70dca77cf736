// Package e2e holds black-box tests of the HTTP API: each test starts a real
// node (internal/app) on a fresh database — a temporary SQLite file, and a
// fresh PostgreSQL schema when PULSESTREAM_TEST_POSTGRES_URL is set — and
// talks to it over HTTP only.
package e2e
