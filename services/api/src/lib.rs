//! The wire contract of Bookinfo, at the bottom of the crate graph: the
//! types of details, reviews and ratings, the header names and page
//! sentences clients match ([`contract`]), the exit codes of every program
//! ([`exit`]), and typed clients that call the
//! services with the forwarded headers and the contract's timeouts. It
//! depends on no server framework.
//! No service depends on another service's crate: only on this one.

mod client;
pub mod contract;
pub mod details;
pub mod exit;
pub mod ratings;
pub mod reviews;

pub use client::{Backend, BuildError, CallError, MAX_BODY, POOL_IDLE_TIMEOUT, Reply};
