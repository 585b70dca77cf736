package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := Open(t.Context(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable", Config{ConnectTimeout: 2 * time.Second})
	if code := pulse.ErrorCode(err); code != pulse.EUNAVAILABLE {
		t.Fatalf("Open = %v (code %q), want %s", err, code, pulse.EUNAVAILABLE)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open took %v to fail", d)
	}
}

func TestStatementTimeoutUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, testDSN(t), Config{Schema: newTestSchema(t), StatementTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.pool.Exec(ctx, "SELECT pg_sleep(1)")
	if code := pulse.ErrorCode(dbError("sleep", err)); code != pulse.EUNAVAILABLE {
		t.Fatalf("statement timeout gives %q (%v), want %s", code, err, pulse.EUNAVAILABLE)
	}
}
