-- Auth tables live in the schema `identity`, so a restored Supabase dump (`auth`,
-- `public`, `storage` …) can sit beside ours during a migration.
CREATE SCHEMA IF NOT EXISTS identity;

-- Keeps updated_at honest for every write, whatever the caller forgets.
CREATE FUNCTION identity.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TABLE identity.users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL CHECK (length(name) <= 256),
    -- Stored lower-cased, so the plain unique constraint is case-insensitive.
    email           text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
    email_verified  boolean NOT NULL DEFAULT false,
    image           text CHECK (length(image) <= 2048),
    -- Database role a backend should act as; Supabase-style backends expect this value.
    role            text NOT NULL DEFAULT 'authenticated' CHECK (length(role) BETWEEN 1 AND 64),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TRIGGER users_touch BEFORE UPDATE ON identity.users
    FOR EACH ROW EXECUTE FUNCTION identity.touch_updated_at();

-- Ways to sign in. For provider 'credential', account_id is the user id and
-- password_hash holds an argon2id PHC string.
CREATE TABLE identity.accounts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    provider_id     text NOT NULL CHECK (length(provider_id) BETWEEN 1 AND 64),
    account_id      text NOT NULL CHECK (length(account_id) BETWEEN 1 AND 255),
    password_hash   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_provider_account_key UNIQUE (provider_id, account_id),
    CONSTRAINT accounts_credential_has_hash CHECK (
        provider_id <> 'credential' OR password_hash LIKE '$argon2id$%'
    )
);
CREATE INDEX accounts_user_id_idx ON identity.accounts (user_id);
-- One password per user.
CREATE UNIQUE INDEX accounts_one_credential_per_user
    ON identity.accounts (user_id) WHERE provider_id = 'credential';

CREATE TRIGGER accounts_touch BEFORE UPDATE ON identity.accounts
    FOR EACH ROW EXECUTE FUNCTION identity.touch_updated_at();

-- Server-side sessions. Only SHA-256 of the bearer token is stored: a leaked table
-- dump cannot be replayed as cookies.
CREATE TABLE identity.sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    token_hash      bytea NOT NULL CHECK (length(token_hash) = 32),
    expires_at      timestamptz NOT NULL,
    -- false for rememberMe:false sessions: one day, never slid.
    remember        boolean NOT NULL DEFAULT true,
    ip_address      text NOT NULL DEFAULT '' CHECK (length(ip_address) <= 64),
    user_agent      text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT sessions_expiry_after_creation CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_id_idx ON identity.sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON identity.sessions (expires_at);

-- One-time tokens (password reset, e-mail verification); stored hashed as well.
CREATE TABLE identity.verifications (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    purpose         text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 64),
    token_hash      bytea NOT NULL CHECK (length(token_hash) = 32),
    user_id         uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT verifications_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX verifications_user_id_idx ON identity.verifications (user_id);
