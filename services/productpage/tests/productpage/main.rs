//! Integration tests of productpage against stub backends on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod forwarding;
mod helpers;
mod hostile;
mod page;
mod routes;
mod session;
mod timing;
