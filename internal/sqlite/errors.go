package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// retryAfter is suggested to clients when the database is busy.
const retryAfter = time.Second

// storeErr turns a driver error into the error a caller may act on:
// ErrNotFound for no rows, EUNAVAILABLE when the file is busy, locked or
// cannot be opened, EINSUFFICIENT when the disk is full; anything else is
// wrapped (internal). SQL text never reaches a user-facing message.
func storeErr(op string, err error) error {
	var se sqlite3.Error
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return pulse.ErrNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", op, err)
	case !errors.As(err, &se):
		return fmt.Errorf("%s: %w", op, err)
	case se.Code == sqlite3.ErrFull || se.SystemErrno == syscall.ENOSPC:
		return &pulse.Error{Code: pulse.EINSUFFICIENT, Message: "the server's disk is full", Err: fmt.Errorf("%s: %w", op, err)}
	case se.Code == sqlite3.ErrBusy, se.Code == sqlite3.ErrLocked, se.Code == sqlite3.ErrCantOpen,
		se.Code == sqlite3.ErrIoErr, se.Code == sqlite3.ErrProtocol:
		return pulse.Unavailable(fmt.Errorf("%s: %w", op, err), retryAfter)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// commitErr is storeErr for a failed COMMIT: unless the disk is full, the
// transaction may succeed when retried, so it is EUNAVAILABLE.
func commitErr(op string, err error) error {
	err = storeErr(op+": commit", err)
	if c := pulse.ErrorCode(err); c == pulse.EINSUFFICIENT || c == pulse.EUNAVAILABLE {
		return err
	}
	return pulse.Unavailable(err, retryAfter)
}

// isConstraint reports whether err is the given constraint violation.
func isConstraint(err error, code sqlite3.ErrNoExtended) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == code
}
