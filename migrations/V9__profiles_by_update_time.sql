-- The profile-api's service listing walks profiles by (updated_at, user_id), a
-- keyset that stays stable while profiles change (GET /api/service/profiles).
CREATE INDEX profiles_updated_at_user_id_idx ON learner.profiles (updated_at, user_id);
