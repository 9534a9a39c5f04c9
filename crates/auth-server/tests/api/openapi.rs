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
    let paths = doc["paths"].as_object().expect("paths");

    // Every route the server registers is documented with its method …
    let served: BTreeSet<(String, String)> = auth_server::routes::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    for (method, path) in &served {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is served but missing from /openapi.json"
        );
    }
    // … and nothing is documented that is not served.
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    assert_eq!(documented, served);
    // The wire types are there as schemas.
    for schema in ["User", "Session", "ErrorBody", "SignInResponse"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}
