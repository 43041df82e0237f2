//! ratings: the star ratings of a product (contract section 5). GET and
//! POST on `/ratings/{id}` with an in-memory store, the upstream fault
//! modes (`v-faulty`, `v-delayed`, `v-unavailable`, `v-unhealthy`) and the
//! database-backed v2 on MySQL.

mod config;
mod database;
mod error;
mod faults;
mod routes;
mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

pub use config::{Config, DbType};
pub use database::MysqlConfig;
pub use error::RatingsError;
pub use faults::{Chance, Clock, Mode, RandomChance, SystemClock};

use database::Database;
use store::Store;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    service: bookinfo_support::http::Service,
    mode: Mode,
    store: Store,
    database: Option<Database>,
    chance: Arc<dyn Chance>,
    clock: Arc<dyn Clock>,
    delay: Duration,
}

impl AppState {
    pub fn mode(&self) -> &Mode {
        &self.inner.mode
    }
}

/// Builds the state for `mode`. `chance` and `clock` are injectable so tests
/// of the fault modes are deterministic; `delay` is the `v-delayed` pause.
pub struct StateBuilder {
    mode: Mode,
    database: Option<MysqlConfig>,
    chance: Arc<dyn Chance>,
    clock: Arc<dyn Clock>,
    delay: Duration,
}

impl StateBuilder {
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            database: None,
            chance: Arc::new(RandomChance),
            clock: Arc::new(SystemClock::start()),
            delay: faults::DELAY,
        }
    }

    pub fn mysql(mut self, config: MysqlConfig) -> Self {
        self.database = Some(config);
        self
    }

    pub fn chance(mut self, chance: Arc<dyn Chance>) -> Self {
        self.chance = chance;
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn build(self) -> AppState {
        let version = format!("ratings-{}", self.mode.label());
        AppState {
            inner: Arc::new(Inner {
                service: bookinfo_support::http::Service::new(&version, Default::default()),
                mode: self.mode,
                store: Store::default(),
                database: self.database.map(Database::new),
                chance: self.chance,
                clock: self.clock,
                delay: self.delay,
            }),
        }
    }
}

/// The state the binary runs with, from its configuration.
pub fn build_state(config: &Config) -> Result<AppState, String> {
    let mode = Mode::from_service_version(&config.service_version);
    let mut builder = StateBuilder::new(mode.clone());
    if mode == Mode::Database {
        match config.db_type {
            DbType::Mysql => builder = builder.mysql(config.mysql()),
            DbType::Mongodb => {
                return Err("SERVICE_VERSION=v2 with MongoDB is not supported by this \
                    build; set DB_TYPE=mysql (and MYSQL_DB_HOST etc.)"
                    .to_owned());
            }
        }
    }
    Ok(builder.build())
}

pub fn app(state: AppState) -> Router {
    let service = state.inner.service.clone();
    service.router(routes::routes(state))
}

pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let service = state.inner.service.clone();
    service.serve(listener, app(state), shutdown, drain).await
}

/// The whole `ratings` program: configuration from `args` and the environment,
/// then serve until SIGTERM. The `ratings` binary and the `bookinfo` launcher
/// both run this.
pub async fn main(args: impl IntoIterator<Item = String>) -> std::process::ExitCode {
    let config: Config = match bookinfo_support::launch::parse_args(args) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let state = match build_state(&config) {
        Ok(state) => state,
        Err(error) => return bookinfo_support::launch::setup_failed("ratings", error),
    };
    let drain = config.listen.drain;
    bookinfo_support::launch::launch("ratings", &config.listen, &config.telemetry, |listener| {
        run(
            listener,
            state,
            bookinfo_support::http::shutdown_signal(),
            drain,
        )
    })
    .await
}
