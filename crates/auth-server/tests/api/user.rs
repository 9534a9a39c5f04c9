use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn update_user_changes_name_and_image() {
    let app = spawn_app().await;
    let user = app.user("sam@example.com").await;
    let before = app.session_of(&user.signed).await;
    let res = app
        .post_bearer(
            "/update-user",
            &user.signed,
            &json!({"name": "Sam Renamed", "image": "https://img.example/s.png"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get("set-auth-token").expect("h"),
        user.signed.as_str()
    );
    assert_eq!(set_cookies(res.headers()).len(), 1);
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"status": true})
    );
    let after = app.session_of(&user.signed).await;
    assert_eq!(after["user"]["name"], "Sam Renamed");
    assert_eq!(after["user"]["image"], "https://img.example/s.png");
    assert_ne!(after["user"]["updatedAt"], before["user"]["updatedAt"]);
    // null clears the image; name stays.
    let res = app
        .post_bearer("/update-user", &user.signed, &json!({"image": null}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let after = app.session_of(&user.signed).await;
    assert_eq!(after["user"]["image"], Value::Null);
    assert_eq!(after["user"]["name"], "Sam Renamed");
}

#[tokio::test]
async fn update_user_errors() {
    let app = spawn_app().await;
    let user = app.user("tess@example.com").await;
    assert_error(
        app.post_bearer(
            "/update-user",
            &user.signed,
            &json!({"email": "new@example.com"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("EMAIL_CAN_NOT_BE_UPDATED"),
    )
    .await;
    let body = assert_error(
        app.post_bearer("/update-user", &user.signed, &json!({"foo": "bar"}))
            .await,
        StatusCode::BAD_REQUEST,
        Some("NO_FIELDS_TO_UPDATE"),
    )
    .await;
    assert_eq!(body["message"], "No fields to update");
    assert_error(
        app.post_bearer("/update-user", &user.signed, &json!({"name": 7}))
            .await,
        StatusCode::BAD_REQUEST,
        Some("VALIDATION_ERROR"),
    )
    .await;
    assert_error(
        app.post("/update-user", &json!({"name": "x"})).await,
        StatusCode::UNAUTHORIZED,
        Some("UNAUTHORIZED"),
    )
    .await;
}
