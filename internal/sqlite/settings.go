package sqlite

import (
	"context"
	"database/sql"
)

// GetSetting returns ErrNotFound when key was never set.
func (db *DB) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	if err := db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v); err != nil {
		return "", storeErr("get setting", err)
	}
	return v, nil
}

// SetSettingIfAbsent stores value unless key exists and returns the value
// stored in the end; concurrent callers all get the same one.
func (db *DB) SetSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	var stored string
	err := db.inTx(ctx, "set setting", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return storeErr("set setting", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&stored); err != nil {
			return storeErr("set setting", err)
		}
		return nil
	})
	return stored, err
}
