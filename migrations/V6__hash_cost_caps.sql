-- Cost caps on stored password hashes (crates/auth-server/src/password.rs,
-- MAX_BCRYPT_COST and MAX_ARGON2_*): every sign-in attempt for an address pays the
-- cost its hash declares, so one row with bcrypt cost 31 or argon2 m=1 GiB could
-- starve the hash pool. bcrypt cost <= 14; argon2 m <= 65536 KiB, t <= 10, p <= 4.
-- The auth-server never verifies a hash over the caps (sign-in fails like a wrong
-- password) and supabase-import leaves such a user without a password credential.

-- NULL (no hash) and hashes of another shape pass here; the shape is
-- accounts_credential_has_hash's business. A missing argon2 parameter fails.
CREATE FUNCTION identity.password_hash_within_cost_caps(hash text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN hash IS NULL THEN true
        WHEN hash ~ '^\$2[aby]\$[0-9]{2}\$' THEN
            substring(hash FROM '^\$2[aby]\$([0-9]{2})\$')::int <= 14
        -- `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`; up to 10 digits, so an absurd
        -- number is a refusal rather than an integer overflow.
        WHEN hash ~ '^\$argon2(id|i)\$' THEN COALESCE(
            substring(hash FROM '^\$argon2(?:id|i)\$(?:v=[0-9]+\$)?(?:[^$]*,)?m=([0-9]{1,10})(?:,|\$)')::bigint <= 65536
            AND substring(hash FROM '^\$argon2(?:id|i)\$(?:v=[0-9]+\$)?(?:[^$]*,)?t=([0-9]{1,10})(?:,|\$)')::bigint <= 10
            AND substring(hash FROM '^\$argon2(?:id|i)\$(?:v=[0-9]+\$)?(?:[^$]*,)?p=([0-9]{1,10})(?:,|\$)')::bigint <= 4,
            false)
        ELSE true
    END
$$;

-- NOT VALID: rows written from now on are checked at once, without scanning (or
-- failing on) rows that predate the caps. Such a row still fails to sign in (the
-- server refuses it); its user recovers through a password reset, which replaces
-- the hash. See docs/migrating-from-supabase.md ("Hashes over the cost caps").
ALTER TABLE identity.accounts
    ADD CONSTRAINT accounts_password_hash_cost_caps
    CHECK (identity.password_hash_within_cost_caps(password_hash)) NOT VALID;

-- With no such row (every fresh database), validate now, so the catalogue says the
-- whole table holds. Otherwise say how many rows there are and leave it NOT VALID
-- for the operator to validate once they are dealt with.
DO $$
DECLARE
    over_cap bigint;
BEGIN
    SELECT count(*) INTO over_cap FROM identity.accounts
    WHERE NOT identity.password_hash_within_cost_caps(password_hash);
    IF over_cap = 0 THEN
        ALTER TABLE identity.accounts VALIDATE CONSTRAINT accounts_password_hash_cost_caps;
    ELSE
        RAISE WARNING '% password hash(es) over the cost caps: they never verify; see docs/migrating-from-supabase.md, then ALTER TABLE identity.accounts VALIDATE CONSTRAINT accounts_password_hash_cost_caps', over_cap;
    END IF;
END
$$;
