use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn two_tabs_cannot_overwrite_each_other() {
    let app = spawn_app().await;
    let user = app.user("tabs@example.com").await;
    app.put_profile(&user.jwt, &json!({"display_name": "Start"}))
        .await;

    // Both tabs load the profile.
    let tab_a = etag_of(&app.get_profile(&user.jwt).await);
    let tab_b = etag_of(&app.get_profile(&user.jwt).await);
    assert_eq!(tab_a, tab_b);

    // Tab A saves first.
    let res = send(
        app.profile(Method::PATCH, &user.jwt)
            .header("if-match", &tab_a)
            .json(&json!({"bio": "from tab A"})),
    )
    .await;
    let (tab_a_new, _) = profile_of(res, StatusCode::OK).await;
    assert_ne!(tab_a_new, tab_a);

    // Tab B's PATCH, PUT and DELETE with the old ETag are all refused.
    let stale = [
        app.profile(Method::PATCH, &user.jwt)
            .header("if-match", &tab_b)
            .json(&json!({"bio": "from tab B"})),
        app.profile(Method::PUT, &user.jwt)
            .header("if-match", &tab_b)
            .json(&json!({"bio": "from tab B"})),
        app.profile(Method::DELETE, &user.jwt)
            .header("if-match", &tab_b),
    ];
    for req in stale {
        assert_error(
            send(req).await,
            StatusCode::PRECONDITION_FAILED,
            "PRECONDITION_FAILED",
        )
        .await;
    }
    let (tag, body) = profile_of(app.get_profile(&user.jwt).await, StatusCode::OK).await;
    assert_eq!(tag, tab_a_new);
    assert_eq!(body["bio"], "from tab A");

    // After reloading, tab B can save (PUT with If-Match replaces that version).
    let res = send(
        app.profile(Method::PUT, &user.jwt)
            .header("if-match", &tag)
            .json(&json!({"display_name": "Tab B", "bio": "merged"})),
    )
    .await;
    let (tag_b, body) = profile_of(res, StatusCode::OK).await;
    assert_eq!(body["bio"], "merged");
    // And a conditional DELETE with the current tag works.
    let res = send(
        app.profile(Method::DELETE, &user.jwt)
            .header("if-match", &tag_b),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn if_match_star_requires_a_profile() {
    let app = spawn_app().await;
    let user = app.user("star@example.com").await;
    let put = || {
        app.profile(Method::PUT, &user.jwt)
            .header("if-match", "*")
            .json(&json!({"display_name": "X"}))
    };
    assert_error(
        send(put()).await,
        StatusCode::PRECONDITION_FAILED,
        "PRECONDITION_FAILED",
    )
    .await;
    assert_eq!(
        app.sql("SELECT count(*) FROM learner.profiles").await[0].get::<_, i64>(0),
        0
    );
    app.put_profile(&user.jwt, &json!({})).await;
    let (_, body) = profile_of(send(put()).await, StatusCode::OK).await;
    assert_eq!(body["display_name"], "X");
}

#[tokio::test]
async fn if_none_match_star_makes_put_create_only() {
    let app = spawn_app().await;
    let user = app.user("createonly@example.com").await;
    let create = |name: &str| {
        app.profile(Method::PUT, &user.jwt)
            .header("if-none-match", "*")
            .json(&json!({"display_name": name}))
    };
    assert_eq!(send(create("First")).await.status(), StatusCode::CREATED);
    assert_error(
        send(create("Second")).await,
        StatusCode::PRECONDITION_FAILED,
        "PRECONDITION_FAILED",
    )
    .await;
    let (_, body) = profile_of(app.get_profile(&user.jwt).await, StatusCode::OK).await;
    assert_eq!(body["display_name"], "First");
}

#[tokio::test]
async fn concurrent_writers_with_one_etag_exactly_one_wins() {
    let app = spawn_app().await;
    let user = app.user("race@example.com").await;
    assert_eq!(
        app.put_profile(&user.jwt, &json!({})).await.status(),
        StatusCode::CREATED
    );
    let version_of = |rows: Vec<tokio_postgres::Row>| -> (i64, Option<String>) {
        assert_eq!(rows.len(), 1, "one profile row");
        (rows[0].get("version"), rows[0].get("bio"))
    };
    let select = format!(
        "SELECT version, bio FROM learner.profiles WHERE user_id = '{}'",
        user.id
    );
    let (before, _) = version_of(app.sql(&select).await);
    let tag = etag_of(&app.get_profile(&user.jwt).await);
    let writes = (0..8).map(|i| {
        let req = app
            .profile(Method::PATCH, &user.jwt)
            .header("if-match", &tag)
            .json(&json!({"bio": format!("writer {i}")}));
        async move { (i, send(req).await) }
    });
    let handles: Vec<_> = writes.map(tokio::spawn).collect();
    let mut outcomes = Vec::new();
    for h in handles {
        let (i, res) = h.await.expect("task");
        let status = res.status();
        let body: Value = res.json().await.expect("json body");
        outcomes.push((i, status, body));
    }
    let statuses: Vec<StatusCode> = outcomes.iter().map(|(_, s, _)| *s).collect();
    let winners: Vec<_> = outcomes
        .iter()
        .filter(|(_, s, _)| *s == StatusCode::OK)
        .collect();
    let failed = statuses
        .iter()
        .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
        .count();
    assert_eq!((winners.len(), failed), (1, 7), "{statuses:?}");

    // The stored row is the winner's write, made exactly once on top of the tag.
    let (winner, _, winner_body) = winners[0];
    let (after, bio) = version_of(app.sql(&select).await);
    assert_eq!(bio.as_deref(), Some(format!("writer {winner}").as_str()));
    assert_eq!(winner_body["bio"], format!("writer {winner}"));
    assert_eq!(after, before + 1, "one write landed, the others did not");
    let (_, body) = profile_of(app.get_profile(&user.jwt).await, StatusCode::OK).await;
    assert_eq!(
        &body, winner_body,
        "what GET serves is what the winner was told"
    );
}

#[tokio::test]
async fn get_revalidates_with_if_none_match() {
    let app = spawn_app().await;
    let user = app.user("revalidate@example.com").await;
    app.put_profile(&user.jwt, &json!({"display_name": "R"}))
        .await;
    let tag = etag_of(&app.get_profile(&user.jwt).await);
    let res = send(
        app.profile(Method::GET, &user.jwt)
            .header("if-none-match", &tag),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(etag_of(&res), tag);
    // Weak comparison: W/"…" matches too.
    let res = send(
        app.profile(Method::GET, &user.jwt)
            .header("if-none-match", format!("W/{tag}")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    app.patch_profile(&user.jwt, &json!({"bio": "changed"}))
        .await;
    let res = send(
        app.profile(Method::GET, &user.jwt)
            .header("if-none-match", &tag),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn if_match_compares_strongly_and_rejects_garbage() {
    let app = spawn_app().await;
    let user = app.user("strong@example.com").await;
    app.put_profile(&user.jwt, &json!({})).await;
    let tag = etag_of(&app.get_profile(&user.jwt).await);
    // A weak tag never satisfies If-Match.
    let res = send(
        app.profile(Method::PATCH, &user.jwt)
            .header("if-match", format!("W/{tag}"))
            .json(&json!({"bio": "x"})),
    )
    .await;
    assert_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;
    // A list containing the current tag does.
    let res = send(
        app.profile(Method::PATCH, &user.jwt)
            .header("if-match", format!("\"v99-1\", {tag}"))
            .json(&json!({"bio": "x"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Unquoted or otherwise malformed tags are a 400 naming the header.
    let res = send(
        app.profile(Method::PATCH, &user.jwt)
            .header("if-match", tag.trim_matches('"'))
            .json(&json!({"bio": "y"})),
    )
    .await;
    let err = assert_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("if-match")),
        "{err}"
    );
}

#[tokio::test]
async fn a_tag_from_before_a_delete_does_not_match_the_recreated_profile() {
    let app = spawn_app().await;
    let user = app.user("aba@example.com").await;
    let (old_tag, _) = profile_of(
        app.put_profile(&user.jwt, &json!({"display_name": "Old"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    app.delete_profile(&user.jwt).await;
    let (new_tag, _) = profile_of(
        app.put_profile(&user.jwt, &json!({"display_name": "New"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    // Both are version 1, yet different incarnations.
    assert!(old_tag.starts_with("\"v1-") && new_tag.starts_with("\"v1-"));
    assert_ne!(old_tag, new_tag);
    let res = send(
        app.profile(Method::PUT, &user.jwt)
            .header("if-match", &old_tag)
            .json(&json!({"display_name": "Stale tab"})),
    )
    .await;
    assert_error(res, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;
}
