-- The audit trail: one row per auth event, written in the same transaction as the
-- change it records. No foreign keys: the record outlives the user or client it
-- names. Never a password, token or cookie; `detail` holds the reason of a refusal
-- and the event's non-secret particulars. Kept AUTH_AUDIT_RETENTION (swept);
-- read with `auth-server audit`.
CREATE TABLE identity.audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    event       text NOT NULL CHECK (length(event) BETWEEN 1 AND 64),
    user_id     uuid,
    client_id   uuid,
    ip          text NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
    user_agent  text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    request_id  text NOT NULL DEFAULT '' CHECK (length(request_id) <= 128),
    detail      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object')
);
CREATE INDEX audit_log_user_at_idx ON identity.audit_log (user_id, at) WHERE user_id IS NOT NULL;
CREATE INDEX audit_log_ip_at_idx ON identity.audit_log (ip, at);
CREATE INDEX audit_log_at_idx ON identity.audit_log (at);
