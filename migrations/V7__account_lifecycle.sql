-- Account lifecycle: one-time tokens for e-mail verification, password reset,
-- e-mail change and account deletion; the durable mail outbox; imported
-- credentials that wait for a confirmed address.

-- One-time tokens. Only SHA-256 of the token is stored. `email` is the address the
-- token was mailed for: a token is honoured only while the user still has that
-- address, so a link mailed before an e-mail change cannot act on the new one.
-- `used_at`: a verification link opened twice (a mail scanner, then the user) is
-- answered "already done" without acting again; other tokens are deleted when used.
ALTER TABLE identity.verifications
    ADD COLUMN email     text NOT NULL DEFAULT '' CHECK (length(email) <= 320),
    -- change-email: the address the user asked for.
    ADD COLUMN new_email text CHECK (new_email = lower(new_email) AND length(new_email) BETWEEN 3 AND 320),
    ADD COLUMN used_at   timestamptz,
    ADD CONSTRAINT verifications_purpose_known CHECK (purpose IN (
        'email-verification', 'password-reset', 'change-email-confirmation',
        'change-email-verification', 'delete-account'
    )),
    ADD CONSTRAINT verifications_change_has_new_email CHECK (
        (purpose LIKE 'change-email-%') = (new_email IS NOT NULL)
    );
ALTER TABLE identity.verifications ALTER COLUMN email DROP DEFAULT;
CREATE INDEX verifications_expires_at_idx ON identity.verifications (expires_at);

-- An imported password whose owner never confirmed the address on Supabase: it
-- signs in only once the address is verified here (a verification or reset mail),
-- so whoever registered someone else's address on Supabase does not keep it.
ALTER TABLE identity.accounts
    ADD COLUMN awaits_confirmed_email boolean NOT NULL DEFAULT false;

UPDATE identity.accounts a SET awaits_confirmed_email = true
FROM identity.imported_users iu
JOIN identity.users u ON u.id = iu.user_id
WHERE a.user_id = iu.user_id
  AND a.provider_id = 'credential'
  AND NOT u.email_verified;

-- Mails waiting to be sent. The request that causes a mail inserts it in its own
-- transaction and returns; a worker in every instance claims due rows
-- (FOR UPDATE SKIP LOCKED, leasing them by pushing `next_attempt_at`), sends, and
-- marks them sent, or schedules a retry with backoff until `give_up_at`.
-- The rendered mail holds a live link, so it is stored sealed (AES-GCM under the
-- key-encryption secret) and erased once sent or given up.
CREATE TABLE identity.mail_outbox (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind             text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    recipient        text NOT NULL CHECK (length(recipient) BETWEEN 3 AND 320),
    -- sealed JSON {subject, text, html}; NULL once sent or given up
    sealed           bytea,
    kek_id           text NOT NULL CHECK (length(kek_id) BETWEEN 1 AND 64),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    give_up_at       timestamptz NOT NULL,
    last_error       text CHECK (length(last_error) <= 1024),
    sent_at          timestamptz,
    failed_at        timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mail_outbox_pending_has_body CHECK (
        (sent_at IS NULL AND failed_at IS NULL) = (sealed IS NOT NULL)
    )
);
-- The worker's queue: pending mails by due time.
CREATE INDEX mail_outbox_due_idx ON identity.mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
