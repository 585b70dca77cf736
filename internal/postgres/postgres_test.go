package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) pulse.Store { return openTestDB(t) })
}

// testDSN returns the test server's DSN, or skips the test when none is set.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("PULSESTREAM_TEST_POSTGRES_URL")
	if dsn == "" {
		t.Skip("PULSESTREAM_TEST_POSTGRES_URL not set; skipping PostgreSQL tests")
	}
	return dsn
}

// newTestSchema returns the name of a fresh schema, dropped when the test
// ends. An unreachable server fails the test.
func newTestSchema(t testing.TB) string {
	t.Helper()
	dsn := testDSN(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "pst_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop test schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	return schema
}

// openTestDB opens a store in a fresh schema, closed when the test ends.
func openTestDB(t testing.TB) *DB {
	t.Helper()
	return openSchemaDB(t, newTestSchema(t))
}

// openSchemaDB opens another store (a node) on schema.
func openSchemaDB(t testing.TB, schema string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, testDSN(t), Config{Schema: schema, MaxConns: 4})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
