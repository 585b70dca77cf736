-- Production hardening: signed requests, the audit log, signing secrets.

-- +goose Up
ALTER TABLE tenants ADD COLUMN require_signed_requests INTEGER NOT NULL DEFAULT 0;

-- The audit log is append-only: the triggers refuse UPDATE and DELETE, so
-- not even a bug in the service can rewrite history. tenant_id is '' for
-- server-wide entries and has no foreign key: entries outlive what they name.
CREATE TABLE audit_log (
    seq         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    tenant_id   TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    source_ip   TEXT    NOT NULL DEFAULT '',
    request_id  TEXT    NOT NULL DEFAULT '',
    before_json TEXT,
    after_json  TEXT
) STRICT;

CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- Request-signing secrets, encrypted (AES-GCM) by the service.
CREATE TABLE signing_secrets (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    prefix     TEXT    NOT NULL,
    sealed     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

CREATE INDEX signing_secrets_tenant ON signing_secrets (tenant_id, created_at);

-- +goose Down
DROP TABLE signing_secrets;
DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TABLE audit_log;
ALTER TABLE tenants DROP COLUMN require_signed_requests;
