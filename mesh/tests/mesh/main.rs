//! Tests of the local data plane: the router against stub upstreams on
//! 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod admin;
mod differential;
mod helpers;
mod hostile;
mod policy;
mod proxy;
mod shared;
