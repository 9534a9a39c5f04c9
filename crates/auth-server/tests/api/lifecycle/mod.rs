//! The account lifecycle end to end: mail delivered over real SMTP to a server on
//! loopback (`smtp-sink`), links followed like a browser (redirects by hand).

mod change_email;
mod delete;
mod outbox;
mod reset;
mod verification;

use std::time::Duration;

use auth_server::Settings;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use smtp_sink::{ReceivedMail, SmtpSink};

use crate::helpers::{spawn_app_with, TestApp, TRUSTED};

/// How long a test waits for a mail.
pub const MAIL_WAIT: Duration = Duration::from_secs(15);

/// An app whose mail goes to a fresh SMTP server, retrying fast.
pub async fn app_with_mail(tweak: impl FnOnce(&mut Settings)) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().expect("smtp sink");
    let url = sink.url();
    let app = spawn_app_with(|s| {
        fast_mail(s);
        s.smtp_url = Some(url);
        tweak(s);
    })
    .await;
    (app, sink)
}

/// Retry and poll in fractions of a second; no request floor unless a test sets it.
pub fn fast_mail(s: &mut Settings) {
    s.mail_retry_initial = 0.2;
    s.mail_retry_max = 0.5;
    s.mail_poll_interval = 0.1;
    s.mail_request_floor_ms = 0;
}

impl TestApp {
    /// GETs an absolute URL (a mailed link) without following redirects,
    /// optionally as a signed-in browser (its `set-auth-token` as a bearer).
    pub async fn open(&self, link: &str, bearer: Option<&str>) -> Response {
        let mut req = self.http.get(link);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        req.send().await.expect("request")
    }

    /// POSTs JSON to an auth path as a bearer client, from the trusted origin.
    pub async fn post_as(&self, path: &str, bearer: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .header("origin", TRUSTED)
            .bearer_auth(bearer)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Requests a password reset for `email` landing on the trusted reset page.
    pub async fn request_reset(&self, email: &str) -> Response {
        self.post(
            "/request-password-reset",
            &json!({"email": email, "redirectTo": format!("{TRUSTED}/reset")}),
        )
        .await
    }

    /// Rows of the outbox: (recipient, kind, sent, failed, sealed still there).
    pub async fn outbox(&self) -> Vec<(String, String, bool, bool, bool)> {
        self.sql(
            "SELECT recipient, kind, sent_at IS NOT NULL, failed_at IS NOT NULL, sealed IS NOT NULL
             FROM identity.mail_outbox ORDER BY created_at",
        )
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
    }
}

/// The `location` of a redirect.
pub fn location(res: &Response) -> String {
    assert_eq!(res.status(), StatusCode::FOUND, "not a redirect");
    crate::helpers::header_text(res, "location")
}

/// A mail's action link: it names the configured base URL, which the test opens
/// at the app's real address.
pub fn action_link(mail: &ReceivedMail, app: &TestApp) -> String {
    let base = app.settings.base_url.trim_end_matches('/');
    let link = mail
        .link_containing(&format!("{base}/api/auth/"))
        .unwrap_or_else(|| panic!("no link in {:?}", mail.text));
    assert!(mail.html.contains("href="), "html body has the link too");
    link.replacen(base, &app.address, 1)
}
