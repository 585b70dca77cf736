//go:build cgo

package queue

import _ "github.com/mattn/go-sqlite3" // registers "sqlite3" for the queue's own file (cgo only; see internal/app/sqlite_nocgo.go)
