use bookinfo_support::config::ListenArgs;
use bookinfo_support::telemetry::TelemetryArgs;

use crate::database::MysqlConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DbType {
    Mongodb,
    Mysql,
}

/// The ratings binary's settings, under the upstream variable names.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "ratings", about = "Bookinfo ratings service")]
pub struct Config {
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// v1, v2 (database), v-faulty, v-delayed, v-unavailable, v-unhealthy;
    /// anything else behaves as v1, as upstream.
    #[arg(long, env = "SERVICE_VERSION", default_value = "v1")]
    pub service_version: String,
    /// Database of v2.
    #[arg(
        long,
        env = "DB_TYPE",
        value_enum,
        default_value = "mongodb",
        ignore_case = true
    )]
    pub db_type: DbType,
    #[arg(long, env = "MYSQL_DB_HOST", default_value = "mysqldb")]
    pub mysql_host: String,
    #[arg(long, env = "MYSQL_DB_PORT", default_value_t = 3306)]
    pub mysql_port: u16,
    #[arg(long, env = "MYSQL_DB_USER", default_value = "root")]
    pub mysql_user: String,
    #[arg(
        long,
        env = "MYSQL_DB_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub mysql_password: String,
}

impl Config {
    pub fn mysql(&self) -> MysqlConfig {
        MysqlConfig {
            host: self.mysql_host.clone(),
            port: self.mysql_port,
            user: self.mysql_user.clone(),
            password: self.mysql_password.clone(),
        }
    }
}
