-- Rate-limit counters shared by every auth-server instance (crates/auth-server/src/
-- rate_limit.rs). One row per key (`ip:<address or IPv6 /64>`, `account:<e-mail or
-- user id>`): at most `max` hits in a window that starts at the key's first hit and
-- ends at `window_end`; the next hit after it starts a new window.
-- UNLOGGED: counters are worth losing in a crash, not a WAL write per sign-in.
CREATE UNLOGGED TABLE identity.rate_limits (
    key        text PRIMARY KEY CHECK (length(key) <= 512),
    window_end timestamptz NOT NULL,
    hits       integer NOT NULL CHECK (hits > 0)
);

-- The periodic sweep deletes windows that have ended.
CREATE INDEX rate_limits_window_end ON identity.rate_limits (window_end);
