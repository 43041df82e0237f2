//! The local data plane of Bookinfo: the Istio routing model read from the
//! same `istio/` files a cluster uses, a router with VirtualService
//! semantics in front of each service host, live route changes in epochs,
//! and the launcher that runs the whole app on one machine.

pub mod admin;
pub mod demo;
pub mod lint;
pub mod plane;
pub mod up;

// The routing model lives in its own crate (the loadgen reads the same files).
pub use bookinfo_routing::{load, model, table};
