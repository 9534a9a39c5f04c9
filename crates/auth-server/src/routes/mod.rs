//! HTTP routes: Better Auth's API under `/api/auth`, plus health probes.
//! Handlers are thin: parse the request, call a service, shape the response.

pub(crate) mod account;
pub(crate) mod error_page;
pub(crate) mod health;
pub(crate) mod oauth2;
pub(crate) mod password;
pub(crate) mod reset;
pub(crate) mod respond;
pub(crate) mod session;
pub(crate) mod sign_in;
pub(crate) mod sign_up;
pub(crate) mod social;
pub(crate) mod tokens;
pub(crate) mod user;
pub(crate) mod verification;

use actix_web::HttpResponse;

/// Better Auth answers unknown paths and wrong methods alike with an empty 404.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

// Every route, once (`ROUTES` and `configure`); a wrong method on a known path is
// the same empty 404 as an unknown path, as Better Auth does.
service_kit::routes! {
    wrap: [service_kit::Deadline],
    default: not_found;
    "/healthz" => { get: health::healthz },
    "/readyz" => { get: health::readyz },
    "/openapi.json" => { get: crate::openapi::openapi_json },
    "/.well-known/jwks.json" => { get: tokens::well_known_jwks },
    "/.well-known/openid-configuration" => { get: tokens::openid_configuration },
    "/oauth2/token" => { post: oauth2::token },
    "/api/auth/ok" => { get: health::ok },
    "/api/auth/sign-up/email" => { post: sign_up::sign_up },
    "/api/auth/sign-in/email" => { post: sign_in::sign_in },
    "/api/auth/get-session" => { get: session::get_session, post: session::post_get_session },
    "/api/auth/sign-out" => { post: session::sign_out },
    "/api/auth/list-sessions" => { get: session::list_sessions },
    "/api/auth/revoke-session" => { post: session::revoke_session },
    "/api/auth/revoke-sessions" => { post: session::revoke_sessions },
    "/api/auth/revoke-other-sessions" => { post: session::revoke_other_sessions },
    "/api/auth/update-user" => { post: user::update_user },
    "/api/auth/change-password" => { post: password::change_password },
    "/api/auth/token" => { get: tokens::token },
    "/api/auth/jwks" => { get: tokens::jwks },
    "/api/auth/send-verification-email" => { post: verification::send_verification_email },
    "/api/auth/verify-email" => { get: verification::verify_email },
    "/api/auth/change-email" => { post: verification::change_email },
    "/api/auth/request-password-reset" => { post: reset::request_password_reset },
    "/api/auth/reset-password" => { post: reset::reset_password },
    "/api/auth/reset-password/{token}" => { get: reset::reset_password_link },
    "/api/auth/delete-user" => { post: account::delete_user },
    "/api/auth/delete-user/callback" => { get: account::delete_user_callback },
    "/api/auth/verify-password" => { post: account::verify_password },
    "/api/auth/list-accounts" => { get: account::list_accounts },
    "/api/auth/sign-in/social" => { post: social::sign_in_social },
    "/api/auth/link-social" => { post: social::link_social },
    "/api/auth/unlink-account" => { post: social::unlink_account },
    "/api/auth/callback/{provider}" => { get: social::callback, post: social::callback_post },
    "/api/auth/error" => { get: error_page::error_page },
}
