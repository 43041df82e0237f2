//! The wire types of details, reviews and ratings, and typed clients that
//! call them with the forwarded headers and the contract's timeouts.
//! No service depends on another service's crate: only on this one.

mod client;
pub mod details;
pub mod ratings;
pub mod reviews;

pub use client::{Backend, CallError, Reply};
