-- RS256 key pairs for the JWTs handed to backends. The private key is sealed with
-- AES-256-GCM under a key derived from AUTH_KEY_ENCRYPTION_SECRET (never stored);
-- `kek_id` names which secret sealed it, so previous secrets keep working.
--
-- Lifecycle: next (published, not signing) → current (signing) → retired
-- (published until its last token expired) → removed (unpublished, key wiped).
CREATE TABLE identity.signing_keys (
    kid             text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{16,64}$'),
    alg             text NOT NULL DEFAULT 'RS256' CHECK (alg = 'RS256'),
    state           text NOT NULL CHECK (state IN ('next', 'current', 'retired', 'removed')),
    public_jwk      jsonb NOT NULL,
    sealed_private  bytea,
    kek_id          text NOT NULL CHECK (length(kek_id) BETWEEN 1 AND 64),
    created_at      timestamptz NOT NULL DEFAULT now(),
    activated_at    timestamptz,
    retired_at      timestamptz,
    removed_at      timestamptz,
    CONSTRAINT signing_keys_private_kept_until_removed CHECK (
        (state = 'removed') = (sealed_private IS NULL)
    ),
    CONSTRAINT signing_keys_state_dates CHECK (
        (state <> 'current' OR activated_at IS NOT NULL)
        AND (state <> 'retired' OR retired_at IS NOT NULL)
        AND (state <> 'removed' OR removed_at IS NOT NULL)
    )
);

-- At most one key signs, and at most one waits to.
CREATE UNIQUE INDEX signing_keys_one_current ON identity.signing_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON identity.signing_keys (state) WHERE state = 'next';
