//! Integration tests of ratings over real HTTP on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod bad_input;
mod faults;
mod helpers;
mod hostile;
mod mariadb;
mod mysql;
mod routes;
