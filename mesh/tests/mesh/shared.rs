//! The router of `bookinfo proxy`: one port for every host, told apart by the
//! Host header, as docker/compose.yaml runs it.

use std::time::Duration;

use bookinfo_mesh::plane::{Plane, shared_router};
use bookinfo_routing::load::load_str;

use crate::helpers::{REVIEWS_SUBSETS, instance, serve, stub};

async fn answer(addr: std::net::SocketAddr, host: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/anything"))
        .header("host", host)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_host_header_picks_the_service_in_short_qualified_and_ported_forms() {
    let (reviews, _) = stub("reviews", 0, Duration::ZERO).await;
    let (ratings, _) = stub("ratings", 0, Duration::ZERO).await;
    let plane = Plane::new(vec![
        instance("reviews", "v1", reviews.addr),
        instance("ratings", "v1", ratings.addr),
    ]);
    let proxy = serve(shared_router(plane, None, None)).await;
    for host in [
        "reviews",
        "reviews:9080",
        "reviews.mesh:9080",
        "reviews.default.svc.cluster.local",
    ] {
        assert_eq!(
            answer(proxy.addr, host).await,
            (200, "reviews".into()),
            "{host}"
        );
    }
    assert_eq!(
        answer(proxy.addr, "ratings.mesh:9080").await,
        (200, "ratings".into())
    );
}

#[tokio::test]
async fn requests_naming_no_known_host_go_to_the_default_host_or_get_404() {
    let (productpage, _) = stub("productpage", 0, Duration::ZERO).await;
    let instances = vec![instance("productpage", "v1", productpage.addr)];
    let with_default = serve(shared_router(
        Plane::new(instances.clone()),
        Some("productpage".into()),
        None,
    ))
    .await;
    assert_eq!(
        answer(with_default.addr, "127.0.0.1:9080").await,
        (200, "productpage".into())
    );
    assert_eq!(
        answer(with_default.addr, "localhost").await,
        (200, "productpage".into())
    );
    let without = serve(shared_router(Plane::new(instances), None, None)).await;
    assert_eq!(answer(without.addr, "127.0.0.1:9080").await.0, 404);
}

#[tokio::test]
async fn instances_given_by_name_are_resolved_when_dialled() {
    let (v2, _) = stub("v2", 0, Duration::ZERO).await;
    let mut by_name = instance("reviews", "v2", v2.addr);
    by_name.authority = format!("localhost:{}", v2.addr.port());
    let plane = Plane::new(vec![by_name]);
    let mut objects = load_str("subsets", REVIEWS_SUBSETS).unwrap().objects;
    objects.extend(
        load_str(
            "vs",
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec:\n  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews, subset: v2}}]\n",
        )
        .unwrap()
        .objects,
    );
    plane.replace(objects).unwrap();
    let proxy = serve(shared_router(plane, None, None)).await;
    assert_eq!(answer(proxy.addr, "reviews").await, (200, "v2".into()));
}
