-- Social sign-in (Google, GitHub, any OpenID Connect provider).

-- An authorization in flight: created by POST /sign-in/social or /link-social,
-- consumed (deleted) by the provider's redirect to /callback/<provider>. Only
-- SHA-256 of the `state` parameter is stored; the browser that started the flow
-- holds the state itself in a signed cookie, so a state replayed from another
-- browser is refused. The PKCE verifier and the nonce are useless without the
-- authorization code (which only the browser sees) and the client secret, and the
-- row lives ten minutes.
CREATE TABLE identity.oauth_states (
    state_hash       bytea PRIMARY KEY CHECK (length(state_hash) = 32),
    provider_id      text NOT NULL CHECK (length(provider_id) BETWEEN 1 AND 64),
    code_verifier    text NOT NULL CHECK (length(code_verifier) BETWEEN 43 AND 128),
    nonce            text CHECK (length(nonce) <= 128),
    callback_url     text NOT NULL CHECK (length(callback_url) <= 2048),
    error_url        text CHECK (length(error_url) <= 2048),
    new_user_url     text CHECK (length(new_user_url) <= 2048),
    -- link-social: the user and the session that asked for the link.
    link_user_id     uuid REFERENCES identity.users (id) ON DELETE CASCADE,
    link_session_id  uuid,
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT oauth_states_link_has_session CHECK (
        (link_user_id IS NULL) = (link_session_id IS NULL)
    )
);
CREATE INDEX oauth_states_expires_at_idx ON identity.oauth_states (expires_at);

-- What the provider granted, and (only with AUTH_SOCIAL_STORE_TOKENS) its tokens,
-- sealed like the signing keys (AES-GCM under the key-encryption secret, bound to
-- the account row).
ALTER TABLE identity.accounts
    ADD COLUMN scope                   text CHECK (length(scope) <= 2048),
    ADD COLUMN access_token_sealed     bytea,
    ADD COLUMN refresh_token_sealed    bytea,
    ADD COLUMN token_kek_id            text CHECK (length(token_kek_id) <= 64),
    ADD COLUMN access_token_expires_at timestamptz,
    ADD CONSTRAINT accounts_sealed_tokens_have_kek CHECK (
        (access_token_sealed IS NULL AND refresh_token_sealed IS NULL) OR token_kek_id IS NOT NULL
    );
