use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::*;

/// One invalid body per rule, with the field the error must name.
fn invalid_bodies() -> Vec<(Value, &'static str)> {
    let long = |n: usize| "x".repeat(n);
    vec![
        (json!({"display_name": ""}), "display_name"),
        (json!({"display_name": long(101)}), "display_name"),
        (json!({"display_name": " \t "}), "display_name"),
        (json!({"display_name": 42}), "display_name"),
        (json!({"bio": long(2001)}), "bio"),
        (json!({"bio": "nul \u{0} byte"}), "bio"),
        (json!({"avatar_url": "not a url"}), "avatar_url"),
        (json!({"avatar_url": "javascript:alert(1)"}), "avatar_url"),
        (
            json!({"avatar_url": "ftp://example.com/a.png"}),
            "avatar_url",
        ),
        (
            json!({"avatar_url": "https://user:pw@example.com/a.png"}),
            "avatar_url",
        ),
        (
            json!({"avatar_url": format!("https://example.com/{}", long(2040))}),
            "avatar_url",
        ),
        (
            json!({"software_background": "expert"}),
            "software_background",
        ),
        (
            json!({"hardware_background": ["advanced"]}),
            "hardware_background",
        ),
        (
            json!({"programming_languages": "Rust"}),
            "programming_languages",
        ),
        (
            json!({"programming_languages": ["Rust", 7]}),
            "programming_languages",
        ),
        (
            json!({"programming_languages": [long(41)]}),
            "programming_languages",
        ),
        (
            json!({"programming_languages": vec!["x"; 31]}),
            "programming_languages",
        ),
        (
            json!({"programming_languages": ["Go", "Go"]}),
            "programming_languages",
        ),
        (json!({"learning_goals": long(2001)}), "learning_goals"),
        (
            json!({"preferred_language": "English"}),
            "preferred_language",
        ),
        (json!({"preferred_language": "en_GB"}), "preferred_language"),
        (json!({"preferred_language": "x"}), "preferred_language"),
        (json!({"favourite_robot": "R2-D2"}), "favourite_robot"),
        (
            json!({"updated_at": "2026-01-01T00:00:00.000Z"}),
            "updated_at",
        ),
    ]
}

#[tokio::test]
async fn every_validation_error_is_a_422_naming_its_field() {
    let app = spawn_app().await;
    let user = app.user("invalid@example.com").await;
    for (body, field) in invalid_bodies() {
        let res = app.put_profile(&user.jwt, &body).await;
        let err = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
        assert_eq!(err["field"], field, "PUT {body}");
        assert!(
            err["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(&format!("{field}: "))),
            "{err}"
        );
    }
    let rows = app.sql("SELECT count(*) FROM learner.profiles").await;
    assert_eq!(rows[0].get::<_, i64>(0), 0, "nothing stored");

    // PATCH applies the same rules and leaves the profile untouched.
    let (tag, stored) = profile_of(
        app.put_profile(&user.jwt, &json!({"display_name": "Valid"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    for (body, field) in invalid_bodies() {
        let res = app.patch_profile(&user.jwt, &body).await;
        let err = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
        assert_eq!(err["field"], field, "PATCH {body}");
    }
    let (tag_after, after) = profile_of(app.get_profile(&user.jwt).await, StatusCode::OK).await;
    assert_eq!((tag_after, after), (tag, stored));
}

#[tokio::test]
async fn the_documented_example_error_body() {
    let app = spawn_app().await;
    let user = app.user("example@example.com").await;
    let res = app
        .put_profile(&user.jwt, &json!({"display_name": ""}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({
            "code": "VALIDATION_ERROR",
            "message": "display_name: must be 1 to 100 characters",
            "field": "display_name",
        })
    );
}

#[tokio::test]
async fn values_are_normalised_where_the_standard_allows() {
    let app = spawn_app().await;
    let user = app.user("normal@example.com").await;
    let (_, body) = profile_of(
        app.put_profile(
            &user.jwt,
            &json!({
                "avatar_url": "HTTPS://Example.com/Me.png",
                "preferred_language": "PT-br",
                "display_name": "É".repeat(100),
            }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(body["avatar_url"], "https://Example.com/Me.png");
    assert_eq!(body["preferred_language"], "pt-BR");
    assert_eq!(
        body["display_name"].as_str().map(|s| s.chars().count()),
        Some(100)
    );
}

#[tokio::test]
async fn bodies_that_are_not_json_objects() {
    let app = spawn_app().await;
    let user = app.user("shapes@example.com").await;
    let raw = |body: &'static str, content_type: Option<&'static str>| {
        let mut req = app.profile(Method::PUT, &user.jwt).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        send(req)
    };
    // Syntax errors are 400.
    for body in ["{", "{\"display_name\": }", "nul", "{\"a\":\"\\ud800\"}"] {
        assert_error(
            raw(body, Some("application/json")).await,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        )
        .await;
    }
    assert_error(
        raw("", Some("application/json")).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    // Valid JSON of the wrong shape is 422 without a field.
    for body in ["[]", "\"x\"", "null", "3"] {
        let err = assert_error(
            raw(body, Some("application/json")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        )
        .await;
        assert!(err.get("field").is_none(), "{err}");
    }
    // A missing or foreign content type is 415, before the body is looked at.
    assert_error(
        raw("{}", None).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    assert_error(
        raw("display_name=x", Some("application/x-www-form-urlencoded")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    // merge-patch is for PATCH only.
    assert_error(
        raw("{}", Some("application/merge-patch+json")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    // Parameters and case do not matter.
    assert_eq!(
        raw("{}", Some("Application/JSON; charset=utf-8"))
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app_with(|s| s.body_limit = 1024).await;
    let user = app.user("big@example.com").await;
    let body = json!({"bio": "x".repeat(2000)});
    assert_error(
        app.put_profile(&user.jwt, &body).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    assert_error(
        app.patch_profile(&user.jwt, &body).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    // Without a Content-Length (chunked), the limit still holds.
    let port = app.address.rsplit(':').next().expect("port");
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .expect("connect");
    let chunk = format!("{{\"bio\": \"{}\"}}", "x".repeat(2000));
    let request = format!(
        "PUT /api/profile HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{chunk}\r\n0\r\n\r\n",
        user.jwt,
        chunk.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains("\"code\":\"PAYLOAD_TOO_LARGE\""),
        "{response}"
    );
    // Just under the limit is fine.
    let res = app
        .put_profile(&user.jwt, &json!({"bio": "x".repeat(900)}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}
