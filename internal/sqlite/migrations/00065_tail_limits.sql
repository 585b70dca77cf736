-- Per-tenant live tail limit overrides (issue 14): 0 uses the configured
-- default (--tails-per-tenant, --tail-events-per-second).

-- +goose Up
ALTER TABLE tenants ADD COLUMN tail_max_streams INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN tail_events_per_second INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE tenants DROP COLUMN tail_events_per_second;
ALTER TABLE tenants DROP COLUMN tail_max_streams;
