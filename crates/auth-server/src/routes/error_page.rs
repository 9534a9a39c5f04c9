//! `GET /api/auth/error?error=CODE`: the page a mailed link lands on when it has
//! nowhere else to go (Better Auth serves one too).

use actix_web::http::header;
use actix_web::HttpRequest;
use actix_web::HttpResponse;

use crate::forms::query_param;

/// A plain HTML page naming the error.
#[utoipa::path(get, path = "/api/auth/error", tag = "account",
    params(("error" = Option<String>, Query)),
    responses((status = 200, content_type = "text/html", description = "A page naming the error code")))]
pub async fn error_page(req: HttpRequest) -> HttpResponse {
    // Only a code's own characters are shown: nothing the link carried is echoed.
    let code: String = query_param(&req, "error")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    let hint = match code.as_str() {
        "INVALID_TOKEN" => "This link is invalid, was already used, or has expired. Ask for a new one.",
        "RESET_PAGE_NOT_CONFIGURED" => "This reset link has no page to open. Ask for a new reset from the site's \"forgot password\" page.",
        "state_mismatch" | "state_not_found" => "This sign-in expired or was started in another browser. Start it again from the site.",
        "account_not_linked" => "An account with this e-mail address already exists. Sign in with your password (or verify your address) first, then link this provider from your account page.",
        "access_denied" => "The sign-in was cancelled at the provider.",
        "provider_unavailable" => "The sign-in provider cannot be reached right now. Try again in a moment.",
        "email_not_verified" | "email_not_found" => "The provider did not give a verified e-mail address for your account.",
        _ => "Something went wrong. Go back to the site and try again.",
    };
    let code = if code.is_empty() {
        "UNKNOWN".to_owned()
    } else {
        code
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title></head>\
             <body><h1>Something went wrong</h1><p>{hint}</p><p><code>{code}</code></p></body></html>"
        ))
}
