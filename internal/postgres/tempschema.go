package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// TempSchema creates schema in the database of url and returns url with
// its search_path set to it, and drop, which removes the schema and
// everything in it (tables, partitions, the queue's). The load generator
// runs there so that a shared database keeps nothing of a run.
func TempSchema(ctx context.Context, url, schema string) (string, func(context.Context) error, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", nil, dbError("connect", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	name := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", nil, dbError("create schema", err)
	}
	drop := func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return dbError("connect", err)
		}
		defer c.Close(context.WithoutCancel(ctx))
		if _, err := c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			return dbError("drop schema", err)
		}
		return nil
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return fmt.Sprintf("%s%ssearch_path=%s", url, sep, schema), drop, nil
}
