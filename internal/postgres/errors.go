package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// retryAfter is what EUNAVAILABLE errors suggest to clients.
const retryAfter = time.Second

// dbError turns a pgx error into the pulse error the contract promises:
// ErrNotFound for no rows, EUNAVAILABLE for connection failures, timeouts
// and transactions that failed to serialize, EINSUFFICIENT for a full disk,
// and a wrapped internal error otherwise. op names the operation for logs;
// no SQL reaches a user-facing message.
func dbError(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pulse.Error
	if errors.As(err, &pe) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return pulse.ErrNotFound
	}
	wrapped := fmt.Errorf("%s: %w", op, err)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "53100": // disk_full
			return &pulse.Error{Code: pulse.EINSUFFICIENT, Message: "the database is out of disk space", Err: wrapped}
		case retryable(pgErr.Code),
			strings.HasPrefix(pgErr.Code, "08"),                                 // connection_exception
			pgErr.Code == "57014",                                               // query_canceled: statement_timeout
			pgErr.Code == "55P03",                                               // lock_not_available: lock_timeout
			pgErr.Code == "53300",                                               // too_many_connections
			pgErr.Code == "53200",                                               // out_of_memory
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutdown, cannot connect now
			return pulse.Unavailable(wrapped, retryAfter)
		}
		return wrapped
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) ||
		// A connection that died mid-query (server gone, network cut).
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		strings.Contains(err.Error(), "conn closed") {
		return pulse.Unavailable(wrapped, retryAfter)
	}
	return wrapped
}

// retryable reports whether a transaction that failed with code may succeed
// when run again: serialization failures and deadlocks.
func retryable(code string) bool {
	return code == "40001" || code == "40P01"
}

// isRetryable reports whether err is a serialization failure or deadlock.
func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && retryable(pgErr.Code)
}

// isLockTimeout reports whether err is a lock_timeout expiring.
func isLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}
