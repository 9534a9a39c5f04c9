-- A Supabase-shaped source: auth.users and auth.identities as GoTrue's migrations
-- leave them today (shared/specs/supabase-and-neon.md §1.1, §1.3), and the
-- `public.profiles` table of Supabase's "user management" starter plus a bio.
-- Used by the tests and by `supabase-synth`; never applied to our own database.
CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE IF NOT EXISTS auth.users (
    instance_id                 uuid,
    id                          uuid NOT NULL PRIMARY KEY,
    aud                         varchar(255),
    role                        varchar(255),
    email                       varchar(255),
    encrypted_password          varchar(255),
    email_confirmed_at          timestamptz,
    invited_at                  timestamptz,
    confirmation_token          varchar(255),
    confirmation_sent_at        timestamptz,
    recovery_token              varchar(255),
    recovery_sent_at            timestamptz,
    email_change_token_new      varchar(255),
    email_change                varchar(255),
    email_change_sent_at        timestamptz,
    last_sign_in_at             timestamptz,
    raw_app_meta_data           jsonb,
    raw_user_meta_data          jsonb,
    is_super_admin              boolean,
    created_at                  timestamptz,
    updated_at                  timestamptz,
    phone                       text UNIQUE DEFAULT NULL,
    phone_confirmed_at          timestamptz,
    phone_change                text DEFAULT '',
    phone_change_token          varchar(255) DEFAULT '',
    phone_change_sent_at        timestamptz,
    confirmed_at                timestamptz GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
    email_change_token_current  varchar(255) DEFAULT '',
    email_change_confirm_status smallint DEFAULT 0 CHECK (email_change_confirm_status >= 0 AND email_change_confirm_status <= 2),
    banned_until                timestamptz,
    reauthentication_token      varchar(255) DEFAULT '',
    reauthentication_sent_at    timestamptz,
    is_sso_user                 boolean NOT NULL DEFAULT false,
    deleted_at                  timestamptz,
    is_anonymous                boolean NOT NULL DEFAULT false
);
-- E-mails are unique only among non-SSO users.
CREATE UNIQUE INDEX IF NOT EXISTS users_email_partial_key ON auth.users (email) WHERE (is_sso_user = false);
CREATE INDEX IF NOT EXISTS users_instance_id_idx ON auth.users (instance_id);
CREATE INDEX IF NOT EXISTS users_is_anonymous_idx ON auth.users (is_anonymous);

CREATE TABLE IF NOT EXISTS auth.identities (
    provider_id     text NOT NULL,
    user_id         uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    identity_data   jsonb NOT NULL,
    provider        text NOT NULL,
    last_sign_in_at timestamptz,
    created_at      timestamptz,
    updated_at      timestamptz,
    email           text GENERATED ALWAYS AS (lower(identity_data ->> 'email')) STORED,
    id              uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider)
);
CREATE INDEX IF NOT EXISTS identities_user_id_idx ON auth.identities (user_id);
CREATE INDEX IF NOT EXISTS identities_email_idx ON auth.identities (email text_pattern_ops);

CREATE TABLE IF NOT EXISTS public.profiles (
    id          uuid NOT NULL PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    updated_at  timestamptz,
    username    text UNIQUE CHECK (char_length(username) >= 3),
    full_name   text,
    avatar_url  text,
    website     text,
    bio         text
);
