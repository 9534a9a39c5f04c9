use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.expect("json");
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
