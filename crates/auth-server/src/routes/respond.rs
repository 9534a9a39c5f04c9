//! Responses that hand out credentials, built in one place: the session cookie
//! (and `dont_remember`), `set-auth-token`, and an RS256 JWT in `set-auth-jwt`.
//! Every one of them is `no-store`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde::Serialize;

use crate::cookies::SET_AUTH_JWT;
use crate::db::sessions::SessionRow;
use crate::db::users::UserRow;
use crate::state::AppState;

/// A 200 under construction that may carry a session.
pub struct SessionResponse<'a> {
    state: &'a AppState,
    res: HttpResponseBuilder,
}

impl<'a> SessionResponse<'a> {
    /// An empty 200.
    pub fn ok(state: &'a AppState) -> Self {
        let mut res = HttpResponse::Ok();
        res.insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        Self { state, res }
    }

    /// An empty 302 to `location` (Better Auth sends these as `application/json`).
    pub fn found(state: &'a AppState, location: HeaderValue) -> Self {
        let mut res = HttpResponse::Found();
        res.insert_header((header::LOCATION, location))
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        Self { state, res }
    }

    /// Finishes without a body.
    pub fn finish(mut self) -> HttpResponse {
        self.res.finish()
    }

    /// Sets the session cookie and `set-auth-token` for `token`.
    pub fn session(mut self, token: &str, remember: bool) -> Self {
        let s = self.state;
        s.cookies.set_session(
            &mut self.res,
            &s.signer,
            token,
            remember,
            s.settings.session_expires_in,
        );
        self
    }

    /// Adds a JWT for this session in `set-auth-jwt`, so a backend can be called
    /// without another round trip. Best effort: the session is already made, so a
    /// JWT that cannot be minted (no key loaded yet) leaves the header out rather
    /// than failing the request; `GET /token` answers 503 then.
    pub fn jwt(mut self, session: &SessionRow, user: &UserRow) -> Self {
        match self.state.tokens.token_for(&self.state.keys, session, user) {
            Ok(jwt) => {
                if let Ok(v) = HeaderValue::from_str(&jwt) {
                    self.res.insert_header((SET_AUTH_JWT, v));
                }
            }
            Err(e) => tracing::warn!(error = %e, "set-auth-jwt left out"),
        }
        self
    }

    /// Sets the state cookie of a social sign-in in flight.
    pub fn oauth_state(mut self, oauth_state: &str) -> Self {
        let s = self.state;
        s.cookies.set_oauth_state(
            &mut self.res,
            &s.signer,
            oauth_state,
            crate::social_sign_in::STATE_TTL_SECS,
        );
        self
    }

    /// Clears the state cookie of a finished social sign-in.
    pub fn clear_oauth_state(mut self) -> Self {
        self.state.cookies.clear_oauth_state(&mut self.res);
        self
    }

    /// Clears the auth cookies (the session is gone).
    pub fn clear(mut self) -> Self {
        self.state.cookies.clear(&mut self.res);
        self
    }

    /// Adds another header (a redirect's `Location`).
    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.res.insert_header((name, value));
        self
    }

    /// Finishes with a JSON body.
    pub fn json(mut self, body: impl Serialize) -> HttpResponse {
        self.res.json(body)
    }
}
