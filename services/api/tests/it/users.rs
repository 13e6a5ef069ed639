use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, seeded_settings};

#[tokio::test]
async fn user_crud_with_conflicts_and_validation() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;

    let created = app
        .post_json(
            "/v1/users",
            &json!({"email": "grace@example.com", "name": "Grace"}).to_string(),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let user: Value = created.json().await.unwrap();
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["version"], 1);

    // The same e-mail in another case is taken.
    let clash = app
        .post_json(
            "/v1/users",
            &json!({"email": "GRACE@example.com", "name": "G"}).to_string(),
        )
        .await;
    assert_eq!(clash.status(), StatusCode::CONFLICT);

    let invalid = app
        .post_json(
            "/v1/users",
            &json!({"email": "not-an-address", "name": "G"}).to_string(),
        )
        .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = invalid.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().starts_with("email: "));

    let patch = |body: Value| {
        app.client
            .patch(app.url(&format!("/v1/users/{id}")))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let renamed = patch(json!({"version": 1, "name": "Grace Hopper"}))
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    let renamed: Value = renamed.json().await.unwrap();
    assert_eq!(renamed["name"], "Grace Hopper");
    assert_eq!(renamed["version"], 2);
    // A stale version loses.
    let stale = patch(json!({"version": 1, "name": "Amazing Grace"}))
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let empty = patch(json!({"version": 2})).await.unwrap();
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let listed: Value = app
        .get("/v1/users?name_contains=hopper&sort=name&direction=desc&limit=10")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let bad_sort = app.get("/v1/users?sort=age").await;
    assert_eq!(bad_sort.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad_limit = app.get("/v1/users?limit=1000").await;
    assert_eq!(bad_limit.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Filters are data, never SQL.
    let injection: Value = app
        .get("/v1/users?name_contains=%27%20OR%201%3D1%20--")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(injection["total"], 0);

    let deleted = app
        .client
        .delete(app.url(&format!("/v1/users/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/v1/users/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}
