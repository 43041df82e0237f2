//! ratings: the star ratings of a product. GET and
//! POST on `/ratings/{id}` with an in-memory store, the upstream fault
//! modes (`v-faulty`, `v-delayed`, `v-unavailable`, `v-unhealthy`) and the
//! database-backed v2 on MySQL.

mod config;
mod database;
mod error;
mod faults;
mod js_number;
mod routes;
mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use bookinfo_support::config::ListenArgs;
use bookinfo_support::http::Service;
use bookinfo_support::launch::Program;
use bookinfo_support::telemetry::TelemetryArgs;

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
    service: Service,
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
                service: Service::new(&version, Default::default()),
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

impl Program for AppState {
    const NAME: &'static str = "ratings";
    type Config = Config;

    fn listen(config: &Config) -> &ListenArgs {
        &config.listen
    }

    fn version(config: &Config) -> String {
        Mode::from_service_version(&config.service_version)
            .label()
            .to_owned()
    }

    fn telemetry(config: &Config) -> &TelemetryArgs {
        &config.telemetry
    }

    fn from_config(config: &Config) -> Result<Self, String> {
        build_state(config)
    }

    fn service(&self) -> &Service {
        &self.inner.service
    }

    fn routes(self) -> Router {
        routes::routes(self)
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
