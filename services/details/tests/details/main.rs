//! Integration tests of details over real HTTP on 127.0.0.1, with a stub
//! external book API for v2.
#![allow(clippy::unwrap_used)]

mod external;
mod helpers;
mod routes;
