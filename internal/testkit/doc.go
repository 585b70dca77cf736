// Package testkit holds the few fakes and fixtures the tests of several
// packages share: a clock that moves only when told to (the one fake time
// source the project allows), a fresh PostgreSQL schema per test, a TCP
// fault proxy and nats-server processes (single or a cluster). It is
// imported by tests only.
package testkit
