//! HTTP routes: Better Auth's API under `/api/auth`, plus health probes.
//! Handlers are thin: parse the request, call a service, shape the response.

mod health;
mod password;
mod session;
mod sign_in;
mod sign_up;
mod tokens;
mod user;

use actix_web::{web, HttpResponse};

/// Better Auth answers unknown paths and wrong methods alike with an empty 404.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(not_found))
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/.well-known/jwks.json", web::get().to(tokens::jwks))
        .route(
            "/.well-known/openid-configuration",
            web::get().to(tokens::openid_configuration),
        )
        .service(
            web::scope("/api/auth")
                .service(resource("/ok").route(web::get().to(health::ok)))
                .service(resource("/token").route(web::get().to(tokens::token)))
                .service(resource("/jwks").route(web::get().to(tokens::jwks)))
                .service(resource("/sign-up/email").route(web::post().to(sign_up::sign_up)))
                .service(resource("/sign-in/email").route(web::post().to(sign_in::sign_in)))
                .service(
                    resource("/get-session")
                        .route(web::get().to(session::get_session))
                        .route(web::post().to(session::post_get_session)),
                )
                .service(resource("/sign-out").route(web::post().to(session::sign_out)))
                .service(resource("/list-sessions").route(web::get().to(session::list_sessions)))
                .service(resource("/revoke-session").route(web::post().to(session::revoke_session)))
                .service(
                    resource("/revoke-sessions").route(web::post().to(session::revoke_sessions)),
                )
                .service(
                    resource("/revoke-other-sessions")
                        .route(web::post().to(session::revoke_other_sessions)),
                )
                .service(resource("/update-user").route(web::post().to(user::update_user)))
                .service(
                    resource("/change-password").route(web::post().to(password::change_password)),
                )
                .default_service(web::to(not_found)),
        );
}
