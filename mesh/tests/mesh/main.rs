//! Tests of the local data plane: the routing model on the shipped files and
//! on broken ones, and the router against stub upstreams on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod e2e;
mod helpers;
mod lint;
mod loading;
mod proxy;
mod selection;
mod shared;
