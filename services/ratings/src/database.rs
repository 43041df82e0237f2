//! The database-backed v2 on MySQL/MariaDB: `SELECT Rating FROM ratings` in
//! database `test`, first row for Reviewer1, second for Reviewer2.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use serde_json::{Map, Value, json};

use crate::RatingsError;

/// Bounded so a dead database gives an error well inside reviews' 2.5 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct MysqlConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
}

pub(crate) struct Database {
    pool: mysql_async::Pool,
}

impl Database {
    /// Connects lazily: the service starts even when the database is not up
    /// yet, and answers 500 until it is.
    pub(crate) fn new(config: MysqlConfig) -> Self {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(config.host)
            .tcp_port(config.port)
            .user(Some(config.user))
            .pass(Some(config.password))
            .db_name(Some("test"))
            .prefer_socket(false);
        Self {
            pool: mysql_async::Pool::new(opts),
        }
    }

    pub(crate) async fn ratings(&self) -> Result<Map<String, Value>, RatingsError> {
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, self.pool.get_conn())
            .await
            .map_err(|_| RatingsError::DbConnect("timed out".into()))?
            .map_err(|e| RatingsError::DbConnect(e.to_string()))?;
        let rows: Vec<Option<i64>> =
            tokio::time::timeout(QUERY_TIMEOUT, conn.query("SELECT Rating FROM ratings"))
                .await
                .map_err(|_| RatingsError::DbQuery("timed out".into()))?
                .map_err(|e| RatingsError::DbQuery(e.to_string()))?;
        let stars = |row: usize| rows.get(row).copied().flatten().unwrap_or(0);
        let mut ratings = Map::new();
        ratings.insert("Reviewer1".into(), json!(stars(0)));
        ratings.insert("Reviewer2".into(), json!(stars(1)));
        Ok(ratings)
    }
}
