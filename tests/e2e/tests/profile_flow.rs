//! The whole path a learner takes: sign up on the auth-server, get a JWT, and manage
//! the profile on the profile-api with it. Both services are the real ones, on
//! port 0, sharing one fresh database; the profile-api knows the auth-server only
//! by its JWKS URL, issuer and audience, as in production.

use e2e::{body, send, start_stack};
use reqwest::{Response, StatusCode};
use serde_json::json;

fn etag(res: &Response) -> String {
    e2e::header(res, "etag")
}

#[tokio::test]
async fn sign_up_get_a_jwt_and_manage_the_profile() {
    use reqwest::Method;
    let stack = start_stack().await;
    let profile_ready = send(stack.http.get(format!("{}/readyz", stack.profile))).await;
    assert_eq!(profile_ready.status(), StatusCode::OK, "profile-api ready");

    // Sign up through the auth-server (bearer mode) and exchange the session for a JWT.
    let ada = stack.learner("ada@example.com").await;
    let (user_id, jwt) = (ada.id, ada.jwt);

    // No profile yet; without the JWT nothing at all.
    assert_eq!(
        send(stack.profile_request(Method::GET, &jwt))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let anonymous = send(stack.http.get(format!("{}/api/profile", stack.profile))).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Create.
    let res = send(stack.profile_request(Method::PUT, &jwt).json(&json!({
        "display_name": "Ada",
        "software_background": "advanced",
        "hardware_background": "beginner",
        "programming_languages": ["Python", "Rust"],
        "preferred_language": "ur",
    })))
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created = body(res).await;
    assert_eq!(created["user_id"], user_id.as_str());

    // Read.
    let res = send(stack.profile_request(Method::GET, &jwt)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tag_read = etag(&res);
    assert_eq!(body(res).await, created);

    // Patch (merge patch, conditional on what we read).
    let res = send(
        stack
            .profile_request(Method::PATCH, &jwt)
            .header("content-type", "application/merge-patch+json")
            .header("if-match", &tag_read)
            .body(
                json!({"learning_goals": "Build a biped", "hardware_background": null}).to_string(),
            ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let tag_patched = etag(&res);
    let patched = body(res).await;
    assert_eq!(patched["learning_goals"], "Build a biped");
    assert_eq!(patched["hardware_background"], "none");
    assert_eq!(patched["software_background"], "advanced");

    // A conditional update with the stale tag loses; with the fresh one it wins.
    let stale = send(
        stack
            .profile_request(Method::PUT, &jwt)
            .header("if-match", &tag_read)
            .json(&json!({"display_name": "Stale tab"})),
    )
    .await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(body(stale).await["code"], "PRECONDITION_FAILED");
    let fresh = send(
        stack
            .profile_request(Method::PUT, &jwt)
            .header("if-match", &tag_patched)
            .json(&json!({"display_name": "Ada Lovelace", "preferred_language": "en"})),
    )
    .await;
    assert_eq!(fresh.status(), StatusCode::OK);
    assert_eq!(body(fresh).await["display_name"], "Ada Lovelace");

    // Delete.
    let res = send(stack.profile_request(Method::DELETE, &jwt)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        send(stack.profile_request(Method::GET, &jwt))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // Recreate, then delete the user: the profile goes with them.
    let res = send(
        stack
            .profile_request(Method::PUT, &jwt)
            .json(&json!({"display_name": "Again"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    stack
        .db
        .client()
        .await
        .batch_execute(&format!(
            "DELETE FROM identity.users WHERE id = '{user_id}'"
        ))
        .await
        .expect("delete user");
    let res = send(stack.profile_request(Method::GET, &jwt)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(res).await["code"], "PROFILE_NOT_FOUND");
}
