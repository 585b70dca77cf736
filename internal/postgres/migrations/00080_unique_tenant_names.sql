-- Tenant names are unique per server (issue 17). Names already taken
-- twice keep the oldest tenant's name; each later one gets "-" and the
-- last 8 characters of its id appended (ids are unique; the tail of a
-- UUIDv7 is random), so the migration never fails on existing data.

-- +goose Up
UPDATE tenants t SET name = t.name || '-' || right(t.id, 8)
WHERE EXISTS (
    SELECT 1 FROM tenants o
    WHERE o.name = t.name AND (o.created_at, o.seq) < (t.created_at, t.seq)
);
CREATE UNIQUE INDEX tenants_name ON tenants (name);

-- +goose Down
DROP INDEX tenants_name;
