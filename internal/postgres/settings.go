package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// GetSetting returns ErrNotFound when key was never set.
func (db *DB) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if err != nil {
		return "", dbError("get setting", err)
	}
	return v, nil
}

// SetSettingIfAbsent stores value unless key exists and returns the stored
// value. The read is a separate statement so that, under READ COMMITTED,
// it sees the row of a concurrent caller whose insert won.
func (db *DB) SetSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO NOTHING RETURNING value`, key, value).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.GetSetting(ctx, key)
	}
	if err != nil {
		return "", dbError("set setting", err)
	}
	return v, nil
}
