//! A synthetic Supabase source: the schema of `sql/supabase_auth_schema.sql` and,
//! for benchmarks and rehearsals, any number of generated users.

use tokio_postgres::Client;

/// DDL of a Supabase-shaped `auth.users`, `auth.identities` and `public.profiles`.
pub const SUPABASE_AUTH_SCHEMA: &str = include_str!("../sql/supabase_auth_schema.sql");

/// Password of generated user `n` (1-based): `password-<n mod 16>`.
pub fn synthetic_password(n: u64) -> String {
    format!("password-{}", n % HASHES as u64)
}

/// Distinct bcrypt hashes cycled through (hashing 100,000 passwords would take
/// longer than importing them; the import copies hashes and never computes one).
const HASHES: usize = 16;

/// Generated users: `user<n>@synthetic.example`, ids `md5('synthetic-user-<n>')`.
/// Every 10th signs in with Google only (no password, a `google` identity); the
/// others have a bcrypt hash (cost `cost`) of [`synthetic_password`] and an
/// `email` identity; everyone has a profile. Generation runs inside Postgres.
pub async fn generate(client: &Client, users: u64, cost: u32) -> anyhow::Result<()> {
    client.batch_execute(SUPABASE_AUTH_SCHEMA).await?;
    let hashes: Vec<String> = (0..HASHES)
        .map(|k| bcrypt::hash(format!("password-{k}"), cost))
        .collect::<Result<_, _>>()?;
    let users = users as i64;
    client
        .execute(
        "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password,
                email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
                last_sign_in_at)
         SELECT '00000000-0000-0000-0000-000000000000', md5('synthetic-user-' || n)::uuid,
                'authenticated', 'authenticated', 'user' || n || '@synthetic.example',
                CASE WHEN n % 10 = 0 THEN NULL ELSE ($1::text[])[1 + n % 16] END,
                CASE WHEN n % 7 = 0 THEN NULL ELSE t + interval '5 minutes' END,
                CASE WHEN n % 10 = 0
                     THEN '{\"provider\": \"google\", \"providers\": [\"google\"]}'::jsonb
                     ELSE '{\"provider\": \"email\", \"providers\": [\"email\"]}'::jsonb END,
                jsonb_build_object('full_name', 'Synthetic User ' || n,
                                   'avatar_url', 'https://avatars.example/' || n || '.png'),
                t, t + interval '1 day', t + interval '2 days'
         FROM generate_series(1, $2::bigint) AS n,
              LATERAL (SELECT timestamptz '2021-01-01 00:00:00+00' + n * interval '17 minutes' AS t) AS s",
        &[&hashes, &users],
        )
        .await?;
    for sql in [
        "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at, id)
         SELECT CASE WHEN n % 10 = 0 THEN 'google-' || n ELSE u.id::text END, u.id,
                jsonb_build_object('sub', u.id::text, 'email', u.email),
                CASE WHEN n % 10 = 0 THEN 'google' ELSE 'email' END,
                u.created_at, u.created_at, md5('synthetic-identity-' || n)::uuid
         FROM generate_series(1, $1::bigint) AS n
         JOIN auth.users u ON u.id = md5('synthetic-user-' || n)::uuid",
        "INSERT INTO public.profiles (id, updated_at, username, full_name, avatar_url, website, bio)
         SELECT md5('synthetic-user-' || n)::uuid, timestamptz '2024-01-01 00:00:00+00',
                'user' || n, 'Synthetic User ' || n, 'https://avatars.example/' || n || '.png',
                'https://example.com/~user' || n, 'Learner number ' || n || '.'
         FROM generate_series(1, $1::bigint) AS n",
    ] {
        client.execute(sql, &[&users]).await?;
    }
    client
        .batch_execute("ANALYZE auth.users, auth.identities, public.profiles")
        .await?;
    Ok(())
}
