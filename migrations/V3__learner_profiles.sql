-- Learner profiles served by the profile-api: one row per user (1:1), gone with
-- the user. A schema of its own keeps it apart from a restored Supabase
-- `public.profiles` during a migration, and lets the profile-api's database role
-- be granted exactly this schema.
CREATE SCHEMA IF NOT EXISTS learner;

CREATE TABLE learner.profiles (
    user_id                uuid PRIMARY KEY REFERENCES identity.users (id) ON DELETE CASCADE,
    display_name           text CHECK (length(display_name) BETWEEN 1 AND 100),
    bio                    text CHECK (length(bio) <= 2000),
    avatar_url             text CHECK (length(avatar_url) <= 2048 AND avatar_url ~ '^https?://'),
    software_background    text NOT NULL DEFAULT 'none'
        CHECK (software_background IN ('none', 'beginner', 'intermediate', 'advanced')),
    hardware_background    text NOT NULL DEFAULT 'none'
        CHECK (hardware_background IN ('none', 'beginner', 'intermediate', 'advanced')),
    programming_languages  text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(programming_languages) <= 30),
    learning_goals         text CHECK (length(learning_goals) <= 2000),
    -- BCP 47 tag such as en, ur, pt-BR.
    preferred_language     text NOT NULL DEFAULT 'en'
        CHECK (preferred_language ~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$' AND length(preferred_language) <= 35),
    -- Bumped on every write; the profile-api's ETag.
    version                bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER profiles_touch BEFORE UPDATE ON learner.profiles
    FOR EACH ROW EXECUTE FUNCTION identity.touch_updated_at();
