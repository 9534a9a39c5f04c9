-- What importing users from Supabase Auth needs (crates/supabase-import,
-- docs/migrating-from-supabase.md).

-- Supabase keeps two JSON blobs per user and so do we, never merged:
-- `app_metadata` is server-controlled (provider, providers, roles an app granted),
-- `user_metadata` is whatever the user was allowed to write about themselves.
-- `banned_until`: sign-in is refused while now() < banned_until.
ALTER TABLE identity.users
    ADD COLUMN app_metadata  jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT users_app_metadata_is_object CHECK (jsonb_typeof(app_metadata) = 'object'),
    ADD COLUMN user_metadata jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT users_user_metadata_is_object CHECK (jsonb_typeof(user_metadata) = 'object'),
    ADD COLUMN banned_until  timestamptz;

-- A credential may now also hold an imported hash: argon2i/argon2id PHC or bcrypt
-- ($2a$/$2b$/$2y$, cost 04–31, 22+31 characters of salt and hash). The auth-server
-- only ever writes argon2id and replaces an imported hash at the first sign-in.
ALTER TABLE identity.accounts DROP CONSTRAINT accounts_credential_has_hash;
ALTER TABLE identity.accounts ADD CONSTRAINT accounts_credential_has_hash CHECK (
    provider_id <> 'credential'
    OR (password_hash IS NOT NULL AND (
        password_hash LIKE '$argon2id$%'
        OR password_hash LIKE '$argon2i$%'
        OR password_hash ~ '^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$'
    ))
);

-- One row per execution of the import. A run stays 'running' until it has gone
-- through the whole source; `checkpoint` is the last auth.users id whose batch
-- committed, so an interrupted run resumes after it.
CREATE TABLE identity.import_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_kind     text NOT NULL DEFAULT 'supabase' CHECK (length(source_kind) BETWEEN 1 AND 32),
    -- host, port and database of the source (never its password).
    source          text NOT NULL CHECK (length(source) <= 512),
    -- Options that decide what is written (profile table and column mapping).
    options         jsonb NOT NULL,
    options_digest  text NOT NULL CHECK (length(options_digest) = 64),
    status          text NOT NULL CHECK (status IN ('running', 'completed', 'abandoned')),
    checkpoint      uuid,
    batches         integer NOT NULL DEFAULT 0 CHECK (batches >= 0),
    -- Running totals, restored when the run resumes.
    counts          jsonb NOT NULL DEFAULT '{}',
    -- The final report, once completed.
    report          jsonb,
    started_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    CONSTRAINT import_runs_finished_when_done CHECK ((status = 'running') = (finished_at IS NULL))
);
-- At most one unfinished run per kind of source.
CREATE UNIQUE INDEX import_runs_one_running ON identity.import_runs (source_kind)
    WHERE status = 'running';

CREATE TRIGGER import_runs_touch BEFORE UPDATE ON identity.import_runs
    FOR EACH ROW EXECUTE FUNCTION identity.touch_updated_at();

-- Rows of the source the run reported (skipped, refused, conflicting, failed), so
-- a resumed run's report still lists those found before the interruption.
-- `user_id` is the source's id: the user may not exist here.
CREATE TABLE identity.import_issues (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES identity.import_runs (id) ON DELETE CASCADE,
    user_id         uuid,
    email           text CHECK (length(email) <= 512),
    category        text NOT NULL CHECK (length(category) BETWEEN 1 AND 64),
    detail          text NOT NULL DEFAULT '' CHECK (length(detail) <= 4096)
);
CREATE INDEX import_issues_run_id_idx ON identity.import_issues (run_id);

-- Provenance: a user that came from an import, with digests of what the import
-- last wrote for them. A re-run compares the source against these digests: equal
-- means "source unchanged since the last import", so the row is skipped even if it
-- was changed here since (an argon2id re-hash at sign-in, a new name); different
-- means the source changed and is copied again. Goes away with the user.
CREATE TABLE identity.imported_users (
    user_id             uuid PRIMARY KEY REFERENCES identity.users (id) ON DELETE CASCADE,
    source_kind         text NOT NULL DEFAULT 'supabase' CHECK (length(source_kind) BETWEEN 1 AND 32),
    -- The run that last wrote this row (no foreign key: one check per imported row
    -- would slow the import down for nothing).
    run_id              bigint NOT NULL,
    user_digest         bytea NOT NULL CHECK (length(user_digest) = 32),
    credential_digest   bytea CHECK (length(credential_digest) = 32),
    identities_digest   bytea CHECK (length(identities_digest) = 32),
    profile_digest      bytea CHECK (length(profile_digest) = 32),
    -- learner.profiles columns whose source value broke a constraint and was left out.
    rejected_profile_columns text[] NOT NULL DEFAULT '{}',
    imported_at         timestamptz NOT NULL DEFAULT now()
);
