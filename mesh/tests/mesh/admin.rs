//! The admin endpoint as `kubectl` for the local data plane: list, apply,
//! delete (by name or by file), each change a new epoch.

use bookinfo_mesh::admin;
use bookinfo_mesh::plane::Plane;
use bookinfo_support::testing::serve;

use crate::helpers::{REVIEWS_SUBSETS, instance};

const CANARY: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - {destination: {host: reviews, subset: v1}, weight: 30}\n    - {destination: {host: reviews, subset: v2}, weight: 70}\n";

async fn send(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request
        .header("content-type", "application/yaml")
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn objects_are_listed_and_deleted_by_name_or_by_file_each_a_new_epoch() {
    let plane = Plane::new(vec![
        instance("reviews", "v1", "127.0.0.1:1".parse().unwrap()),
        instance("reviews", "v2", "127.0.0.1:2".parse().unwrap()),
    ]);
    let server = serve(admin::router(plane.clone(), None)).await;
    let client = reqwest::Client::new();
    let (status, _) = send(
        client
            .post(server.url("/apply"))
            .body(format!("{REVIEWS_SUBSETS}---\n{CANARY}")),
    )
    .await;
    assert_eq!(status, 200);
    let (_, listed) = send(client.get(server.url("/objects"))).await;
    let kinds: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["DestinationRule", "VirtualService"]);
    assert_eq!(
        listed["items"][1]["spec"]["http"][0]["route"][1]["weight"],
        70
    );

    let (status, deleted) =
        send(client.delete(server.url("/objects/VirtualService/reviews"))).await;
    assert_eq!((status, deleted["epoch"].as_u64()), (200, Some(2)));
    assert!(
        plane::shares_of(&plane, "reviews").is_none(),
        "no route in force"
    );
    let (status, again) = send(client.delete(server.url("/objects/VirtualService/reviews"))).await;
    assert_eq!(status, 404, "{again}");
    assert_eq!(plane.epoch(), 2, "a failed delete changes nothing");

    let (status, _) = send(client.post(server.url("/apply")).body(CANARY)).await;
    assert_eq!(status, 200);
    let (status, deleted) = send(client.delete(server.url("/apply")).body(CANARY)).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(plane.object_count(), 1, "only the DestinationRule is left");
    let (status, _) = send(client.delete(server.url("/apply")).body(CANARY)).await;
    assert_eq!(status, 404);
}

mod plane {
    /// The shares of `host`'s default route, if it has one.
    pub(super) fn shares_of(
        plane: &bookinfo_mesh::plane::Plane,
        host: &str,
    ) -> Option<std::collections::BTreeMap<String, f64>> {
        bookinfo_mesh::plane::shares(&plane.table()).remove(host)
    }
}
