use bookinfo_ratings::{Mode, MysqlConfig, StateBuilder};

use crate::helpers::{self, Server, get, post};
use crate::mariadb::MariaDb;

/// The upstream `mysqldb-init.sql` data, with a non-root user for TCP.
const SEED: &str = "CREATE DATABASE test; USE test;
    CREATE TABLE ratings (ReviewID INT NOT NULL PRIMARY KEY, Rating INT);
    INSERT INTO ratings VALUES (1, 5), (2, 4);
    CREATE USER 'bookinfo'@'%' IDENTIFIED BY 'password';
    GRANT ALL ON test.* TO 'bookinfo'@'%';";

fn config(port: u16, password: &str) -> MysqlConfig {
    MysqlConfig {
        host: "127.0.0.1".into(),
        port,
        user: "bookinfo".into(),
        password: password.into(),
    }
}

async fn ratings_server(port: u16, password: &str) -> Server {
    helpers::start(
        StateBuilder::new(Mode::Database)
            .mysql(config(port, password))
            .build(),
    )
    .await
}

#[tokio::test]
async fn v2_reads_ratings_from_a_real_mariadb_and_reports_its_failures() {
    let db = MariaDb::start();
    db.sql(SEED).unwrap();

    let server = ratings_server(db.port, "password").await;
    let (status, body, headers) = get(&server.url("/ratings/7")).await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"id":7,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#);
    assert_eq!(headers["x-bookinfo-version"], "ratings-v2");

    db.sql("UPDATE test.ratings SET Rating = 1 WHERE ReviewID = 1")
        .unwrap();
    let (_, body, _) = get(&server.url("/ratings/0")).await;
    assert_eq!(body, r#"{"id":0,"ratings":{"Reviewer1":1,"Reviewer2":4}}"#);

    let (status, body) = post(&server.url("/ratings/0"), r#"{"Reviewer1":3}"#).await;
    assert_eq!(status, 501);
    assert_eq!(
        body,
        r#"{"error":"Post not implemented for database backed ratings"}"#
    );

    let refused = ratings_server(db.port, "wrong").await;
    let (status, body, _) = get(&refused.url("/ratings/0")).await;
    assert_eq!(status, 500);
    assert_eq!(body, r#"{"error":"could not connect to ratings database"}"#);

    db.sql("DROP TABLE test.ratings").unwrap();
    let (status, body, _) = get(&server.url("/ratings/0")).await;
    assert_eq!(status, 500);
    assert_eq!(body, r#"{"error":"could not perform select"}"#);
}

#[tokio::test]
async fn v2_answers_500_quickly_when_no_database_listens() {
    let port = bookinfo_support::testing::closed_port().port();
    let server = ratings_server(port, "password").await;
    let started = std::time::Instant::now();
    let (status, body, _) = get(&server.url("/ratings/0")).await;
    assert_eq!(status, 500);
    assert_eq!(body, r#"{"error":"could not connect to ratings database"}"#);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
