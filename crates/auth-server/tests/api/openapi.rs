use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// The served document (after checking it is served).
async fn openapi_doc(app: &TestApp) -> Value {
    let res = app
        .http
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("json")
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let app = spawn_app().await;
    let doc = openapi_doc(&app).await;
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    let served: BTreeSet<(String, String)> = auth_server::routes::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    // Every route the server registers is documented with its method, and nothing
    // is documented that is not served.
    assert_eq!(test_support::openapi_operations(&doc), served);
    // The wire types are there as schemas.
    for schema in ["User", "Session", "ErrorBody", "SignInResponse"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

/// The request bodies in the document are the forms the handlers parse, under the
/// field names the better-auth client sends.
#[tokio::test]
async fn request_body_schemas_use_the_wire_field_names() {
    let app = spawn_app().await;
    let doc = openapi_doc(&app).await;
    let expected = [
        (
            "SignUp",
            &[
                "name",
                "email",
                "password",
                "image",
                "callbackURL",
                "rememberMe",
            ][..],
        ),
        (
            "SignIn",
            &["email", "password", "callbackURL", "rememberMe"],
        ),
        (
            "ChangePassword",
            &["currentPassword", "newPassword", "revokeOtherSessions"],
        ),
        ("UpdateUser", &["name", "image"]),
        ("RevokeSession", &["token"]),
    ];
    for (schema, fields) in expected {
        let props: BTreeSet<&str> = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema} missing"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(props, fields.iter().copied().collect(), "{schema}");
    }
    let sign_up = &doc["paths"]["/api/auth/sign-up/email"]["post"]["requestBody"];
    assert!(
        sign_up.to_string().contains("#/components/schemas/SignUp"),
        "{sign_up}"
    );
}
