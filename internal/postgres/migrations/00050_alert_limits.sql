-- Per-tenant alerting limit overrides (issue 13): 0 uses the configured
-- default (pulse.AlertLimits).

-- +goose Up
ALTER TABLE tenants ADD COLUMN alert_max_rules INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN alert_max_groups_per_rule INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN alert_max_distinct_per_group INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN alert_max_window_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN alert_webhook_concurrency INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE tenants DROP COLUMN alert_webhook_concurrency;
ALTER TABLE tenants DROP COLUMN alert_max_window_seconds;
ALTER TABLE tenants DROP COLUMN alert_max_distinct_per_group;
ALTER TABLE tenants DROP COLUMN alert_max_groups_per_rule;
ALTER TABLE tenants DROP COLUMN alert_max_rules;
