-- Service clients (OAuth 2.0 client credentials, RFC 6749 §4.4): backends that
-- call our APIs as themselves. Managed with `auth-server clients …`; the secret is
-- shown once and stored only as an argon2id hash.
CREATE TABLE identity.oauth_clients (
    -- The client_id (and the `sub` of its tokens).
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    secret_hash     text NOT NULL CHECK (secret_hash LIKE '$argon2id$%'),
    -- Scopes the client may ask for; each `[a-z0-9:._-]+`.
    scopes          text[] NOT NULL DEFAULT '{}' CHECK (
        array_position(scopes, NULL) IS NULL
        AND array_to_string(scopes, ' ') ~ '^([a-z0-9:._-]+( [a-z0-9:._-]+)*)?$'
    ),
    disabled_at     timestamptz,
    last_issued_at  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER oauth_clients_touch BEFORE UPDATE ON identity.oauth_clients
    FOR EACH ROW EXECUTE FUNCTION identity.touch_updated_at();
