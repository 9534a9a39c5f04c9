use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

fn is_iso_millis_utc(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    s.len() == 24
        && b[10] == b'T'
        && b[19] == b'.'
        && b[23] == b'Z'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[tokio::test]
async fn a_profile_is_created_read_replaced_and_deleted() {
    let app = spawn_app().await;
    let user = app.user("crud@example.com").await;

    // Nothing yet.
    assert_error(
        app.get_profile(&user.jwt).await,
        StatusCode::NOT_FOUND,
        "PROFILE_NOT_FOUND",
    )
    .await;

    // The benchmark's body creates …
    let res = app
        .put_profile(
            &user.jwt,
            &json!({"display_name": "Bench User 1", "bio": "..."}),
        )
        .await;
    assert_eq!(
        res.headers().get("location").expect("location"),
        "/api/profile"
    );
    let (created_tag, created) = profile_of(res, StatusCode::CREATED).await;
    assert_eq!(
        created,
        json!({
            "user_id": user.id,
            "display_name": "Bench User 1",
            "bio": "...",
            "avatar_url": null,
            "software_background": "none",
            "hardware_background": "none",
            "programming_languages": [],
            "learning_goals": null,
            "preferred_language": "en",
            "created_at": created["created_at"],
            "updated_at": created["updated_at"],
        })
    );
    assert!(is_iso_millis_utc(&created["created_at"]), "{created}");
    assert!(is_iso_millis_utc(&created["updated_at"]), "{created}");

    // … and the same body again replaces (200), with a new ETag.
    let res = app
        .put_profile(
            &user.jwt,
            &json!({"display_name": "Bench User 1", "bio": "..."}),
        )
        .await;
    let (replaced_tag, _) = profile_of(res, StatusCode::OK).await;
    assert_ne!(replaced_tag, created_tag);

    // GET returns what PUT stored, with the same ETag.
    let full = json!({
        "display_name": "Ada",
        "bio": "Builds robots.\nLikes ROS 2.",
        "avatar_url": "https://cdn.example.com/ada.png",
        "software_background": "advanced",
        "hardware_background": "intermediate",
        "programming_languages": ["Rust", "Python", "C++"],
        "learning_goals": "Humanoid locomotion",
        "preferred_language": "ur",
    });
    let (put_tag, put_body) =
        profile_of(app.put_profile(&user.jwt, &full).await, StatusCode::OK).await;
    let (get_tag, get_body) = profile_of(app.get_profile(&user.jwt).await, StatusCode::OK).await;
    assert_eq!(get_tag, put_tag);
    assert_eq!(get_body, put_body);
    for (k, v) in full.as_object().expect("object") {
        assert_eq!(&get_body[k], v, "{k}");
    }
    assert_eq!(
        get_body["created_at"], created["created_at"],
        "creation time kept"
    );

    // A PUT replaces the whole profile: absent fields go back to their defaults.
    let (_, replaced) = profile_of(
        app.put_profile(&user.jwt, &json!({"display_name": "Ada L."}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["bio"], Value::Null);
    assert_eq!(replaced["software_background"], "none");
    assert_eq!(replaced["programming_languages"], json!([]));
    assert_eq!(replaced["preferred_language"], "en");

    // DELETE, then it is gone.
    let res = app.delete_profile(&user.jwt).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.bytes().await.expect("body").is_empty());
    assert_error(
        app.get_profile(&user.jwt).await,
        StatusCode::NOT_FOUND,
        "PROFILE_NOT_FOUND",
    )
    .await;
    assert_error(
        app.delete_profile(&user.jwt).await,
        StatusCode::NOT_FOUND,
        "PROFILE_NOT_FOUND",
    )
    .await;
    // And can be created again.
    let res = app.put_profile(&user.jwt, &json!({})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn responses_are_private_and_head_works() {
    let app = spawn_app().await;
    let user = app.user("head@example.com").await;
    app.put_profile(&user.jwt, &json!({"display_name": "H"}))
        .await;
    let get = app.get_profile(&user.jwt).await;
    assert_eq!(
        get.headers().get("cache-control").expect("cc"),
        "private, no-cache"
    );
    assert!(get
        .headers()
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("Authorization"))));
    let tag = etag_of(&get);
    let head = send(app.profile(Method::HEAD, &user.jwt)).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(etag_of(&head), tag);
    assert!(head.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn each_user_sees_only_their_own_profile() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    app.put_profile(&ada.jwt, &json!({"display_name": "Ada"}))
        .await;
    assert_error(
        app.get_profile(&bob.jwt).await,
        StatusCode::NOT_FOUND,
        "PROFILE_NOT_FOUND",
    )
    .await;
    let (_, bobs) = profile_of(
        app.put_profile(&bob.jwt, &json!({"display_name": "Bob"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(bobs["user_id"], bob.id.as_str());
    assert_eq!(
        app.delete_profile(&bob.jwt).await.status(),
        StatusCode::NO_CONTENT
    );
    let (_, adas) = profile_of(app.get_profile(&ada.jwt).await, StatusCode::OK).await;
    assert_eq!(adas["display_name"], "Ada");
}

#[tokio::test]
async fn deleting_the_user_removes_the_profile() {
    let app = spawn_app().await;
    let user = app.user("cascade@example.com").await;
    assert_eq!(
        app.put_profile(&user.jwt, &json!({"display_name": "Gone soon"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    app.sql(&format!(
        "DELETE FROM identity.users WHERE id = '{}'",
        user.id
    ))
    .await;
    let rows = app.sql("SELECT count(*) FROM learner.profiles").await;
    assert_eq!(rows[0].get::<_, i64>(0), 0, "cascaded");
    // The JWT is still valid until it expires; the profile is not there.
    assert_error(
        app.get_profile(&user.jwt).await,
        StatusCode::NOT_FOUND,
        "PROFILE_NOT_FOUND",
    )
    .await;
    // Writing for a user who no longer exists is refused as an unusable token.
    let res = app
        .put_profile(&user.jwt, &json!({"display_name": "Ghost"}))
        .await;
    assert_eq!(
        res.headers().get("www-authenticate").expect("challenge"),
        r#"Bearer error="invalid_token""#
    );
    assert_error(res, StatusCode::UNAUTHORIZED, "USER_NOT_FOUND").await;
}

#[tokio::test]
async fn stored_defaults_match_the_column_defaults() {
    // The API fills defaults itself (a PUT stores every column); they must agree
    // with the table's, so a row inserted by other means reads the same.
    let app = spawn_app().await;
    let user = app.user("defaults@example.com").await;
    let other = app.user("other@example.com").await;
    let (_, via_api) = profile_of(
        app.put_profile(&user.jwt, &json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    app.sql(&format!(
        "INSERT INTO learner.profiles (user_id) VALUES ('{}')",
        other.id
    ))
    .await;
    let (_, via_sql) = profile_of(app.get_profile(&other.jwt).await, StatusCode::OK).await;
    for field in [
        "display_name",
        "bio",
        "avatar_url",
        "software_background",
        "hardware_background",
        "programming_languages",
        "learning_goals",
        "preferred_language",
    ] {
        assert_eq!(via_api[field], via_sql[field], "{field}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let user = app.user("paths@example.com").await;
    assert_error(
        send(
            app.http
                .get(app.url("/api/profiles"))
                .bearer_auth(&user.jwt),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let res = send(app.profile(Method::POST, &user.jwt).json(&json!({}))).await;
    assert_eq!(
        res.headers().get("allow").expect("allow"),
        "GET, HEAD, PUT, PATCH, DELETE"
    );
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    // Every other route names its own methods.
    for path in ["/api/service/profiles", "/healthz"] {
        let res = send(app.http.delete(app.url(path)).bearer_auth(&user.jwt)).await;
        assert_eq!(res.headers().get("allow").expect("allow"), "GET", "{path}");
        assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    }
}

#[tokio::test]
async fn cors_admits_trusted_origins_and_exposes_etag() {
    let app = spawn_app().await;
    let preflight = send(
        app.http
            .request(Method::OPTIONS, app.url("/api/profile"))
            .header("origin", TRUSTED)
            .header("access-control-request-method", "PATCH")
            .header(
                "access-control-request-headers",
                "authorization, content-type, if-match",
            ),
    )
    .await;
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(h.get("access-control-allow-origin").expect("acao"), TRUSTED);
    let allowed = h
        .get("access-control-allow-headers")
        .expect("acah")
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    for name in ["authorization", "content-type", "if-match", "if-none-match"] {
        assert!(allowed.contains(name), "{allowed}");
    }

    let user = app.user("cors@example.com").await;
    app.put_profile(&user.jwt, &json!({})).await;
    let res = send(
        app.profile(Method::GET, &user.jwt)
            .header("origin", TRUSTED),
    )
    .await;
    assert_eq!(
        res.headers()
            .get("access-control-allow-origin")
            .expect("acao"),
        TRUSTED
    );
    let exposed = res
        .headers()
        .get("access-control-expose-headers")
        .expect("aceh")
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(exposed.contains("etag"), "{exposed}");
    // The retry headers of a 503, under the names the auth-server exposes too.
    let names: Vec<&str> = exposed.split(',').map(str::trim).collect();
    assert!(
        names.contains(&"retry-after") && names.contains(&"x-retry-after"),
        "{exposed}"
    );

    // Error bodies are readable cross-origin too (a page must see its 412s and 422s).
    let res = send(
        app.profile(Method::PATCH, &user.jwt)
            .header("origin", TRUSTED)
            .header("if-match", "\"v99-1\"")
            .json(&json!({})),
    )
    .await;
    assert_eq!(
        res.headers()
            .get("access-control-allow-origin")
            .expect("acao"),
        TRUSTED
    );
    assert_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;

    // A preflight for a method we do not serve is refused with our JSON body.
    let refused = send(
        app.http
            .request(Method::OPTIONS, app.url("/api/profile"))
            .header("origin", TRUSTED)
            .header("access-control-request-method", "POST"),
    )
    .await;
    assert_error(refused, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;

    // Another origin gets no CORS grant (the browser then hides the response).
    let res = send(
        app.profile(Method::GET, &user.jwt)
            .header("origin", "https://evil.example"),
    )
    .await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
}
