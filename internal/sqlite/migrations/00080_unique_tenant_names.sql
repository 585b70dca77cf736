-- Tenant names are unique per server (issue 17). Names already taken
-- twice keep the oldest tenant's name; each later one gets "-" and the
-- last 8 characters of its id appended (ids are unique; the tail of a
-- UUIDv7 is random), so the migration never fails on existing data.

-- +goose Up
UPDATE tenants SET name = name || '-' || substr(id, length(id) - 7)
WHERE EXISTS (
    SELECT 1 FROM tenants o
    WHERE o.name = tenants.name
      AND (o.created_at < tenants.created_at OR (o.created_at = tenants.created_at AND o.id < tenants.id))
);
CREATE UNIQUE INDEX tenants_name ON tenants (name);

-- +goose Down
DROP INDEX tenants_name;
