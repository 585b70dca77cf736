-- Production hardening: signed requests, the audit log, signing secrets.

-- +goose Up
ALTER TABLE tenants ADD COLUMN require_signed_requests boolean NOT NULL DEFAULT false;

-- The audit log is append-only: the trigger refuses UPDATE and DELETE, so
-- not even a bug in the service can rewrite history. tenant_id is '' for
-- server-wide entries and has no foreign key: entries outlive what they name.
CREATE TABLE audit_log (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          text NOT NULL UNIQUE,
    tenant_id   text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    target      text NOT NULL,
    source_ip   text NOT NULL DEFAULT '',
    request_id  text NOT NULL DEFAULT '',
    before_json jsonb,
    after_json  jsonb
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Request-signing secrets, encrypted (AES-GCM) by the service.
CREATE TABLE signing_secrets (
    seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id         text PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    name       text NOT NULL DEFAULT '',
    prefix     text NOT NULL,
    sealed     bytea NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX signing_secrets_tenant ON signing_secrets (tenant_id, seq);

-- +goose Down
DROP TABLE signing_secrets;
DROP TRIGGER audit_log_append_only ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_log;
ALTER TABLE tenants DROP COLUMN require_signed_requests;
