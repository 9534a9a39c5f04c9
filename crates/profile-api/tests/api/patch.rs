use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn merge_patch_sets_keeps_and_resets_fields() {
    let app = spawn_app().await;
    let user = app.user("patch@example.com").await;
    let (tag0, before) = profile_of(
        app.put_profile(
            &user.jwt,
            &json!({
                "display_name": "Ada",
                "bio": "Builds robots",
                "avatar_url": "https://cdn.example.com/a.png",
                "software_background": "advanced",
                "hardware_background": "beginner",
                "programming_languages": ["Rust", "Python"],
                "learning_goals": "SLAM",
                "preferred_language": "ur",
            }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    // Values replace, null resets to the default, absent members stay.
    let (tag1, after) = profile_of(
        app.patch_profile(
            &user.jwt,
            &json!({
                "display_name": "Ada Lovelace",
                "bio": null,
                "hardware_background": null,
                "programming_languages": ["C++"],
                "preferred_language": null,
            }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_ne!(tag1, tag0);
    assert_eq!(after["display_name"], "Ada Lovelace");
    assert_eq!(after["bio"], Value::Null);
    assert_eq!(after["hardware_background"], "none");
    assert_eq!(
        after["programming_languages"],
        json!(["C++"]),
        "arrays are replaced"
    );
    assert_eq!(after["preferred_language"], "en");
    for kept in [
        "avatar_url",
        "software_background",
        "learning_goals",
        "created_at",
    ] {
        assert_eq!(after[kept], before[kept], "{kept}");
    }
    let (_, stored) = profile_of(app.get_profile(&user.jwt).await, StatusCode::OK).await;
    assert_eq!(stored, after);

    // Resetting a list and clearing a nullable field.
    let (_, cleared) = profile_of(
        app.patch_profile(
            &user.jwt,
            &json!({"programming_languages": null, "display_name": null, "avatar_url": null}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["programming_languages"], json!([]));
    assert_eq!(cleared["display_name"], Value::Null);
    assert_eq!(cleared["avatar_url"], Value::Null);
    assert_eq!(cleared["software_background"], "advanced");
}

#[tokio::test]
async fn patch_accepts_plain_json_too() {
    let app = spawn_app().await;
    let user = app.user("patchjson@example.com").await;
    app.put_profile(&user.jwt, &json!({"display_name": "A"}))
        .await;
    let res = send(
        app.profile(Method::PATCH, &user.jwt)
            .json(&json!({"learning_goals": "Kinematics"})),
    )
    .await;
    let (_, body) = profile_of(res, StatusCode::OK).await;
    assert_eq!(body["learning_goals"], "Kinematics");
    assert_eq!(body["display_name"], "A");
    // An empty patch changes nothing but is still a successful write.
    let (_, same) = profile_of(
        app.patch_profile(&user.jwt, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(same["learning_goals"], "Kinematics");
}

#[tokio::test]
async fn patch_needs_an_existing_profile() {
    let app = spawn_app().await;
    let user = app.user("patchmissing@example.com").await;
    assert_error(
        app.patch_profile(&user.jwt, &json!({"display_name": "A"}))
            .await,
        StatusCode::NOT_FOUND,
        "PROFILE_NOT_FOUND",
    )
    .await;
    // Preconditions do not turn a missing profile into a 412 (RFC 9110 §13.2.1).
    assert_error(
        send(
            app.profile(Method::PATCH, &user.jwt)
                .header("if-match", "*")
                .json(&json!({"display_name": "A"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "PROFILE_NOT_FOUND",
    )
    .await;
    let rows = app.sql("SELECT count(*) FROM learner.profiles").await;
    assert_eq!(rows[0].get::<_, i64>(0), 0, "PATCH never creates");
}

#[tokio::test]
async fn patch_with_another_media_type_is_415_and_says_what_it_accepts() {
    let app = spawn_app().await;
    let user = app.user("patch415@example.com").await;
    app.put_profile(&user.jwt, &json!({})).await;
    let res = send(
        app.profile(Method::PATCH, &user.jwt)
            .header("content-type", "application/json-patch+json")
            .body(r#"[{"op":"replace","path":"/bio","value":"x"}]"#),
    )
    .await;
    assert_eq!(
        res.headers().get("accept-patch").expect("accept-patch"),
        "application/merge-patch+json, application/json"
    );
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
}
