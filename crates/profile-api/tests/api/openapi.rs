use std::collections::BTreeSet;

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
        .expect("request");
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    let served: BTreeSet<(String, String)> = profile_api::routes::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let documented = test_support::openapi_operations(&doc);
    assert_eq!(documented, served, "routes and /openapi.json differ");
    let profile = &doc["components"]["schemas"]["Profile"]["properties"];
    for field in [
        "display_name",
        "software_background",
        "preferred_language",
        "created_at",
    ] {
        assert!(profile[field].is_object(), "Profile.{field} documented");
    }
}
