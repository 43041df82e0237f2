//! The local data plane of Bookinfo: routers with VirtualService and
//! HTTPRoute semantics (the routing model and table are `bookinfo-routing`'s)
//! and DestinationRule traffic policies in front of the service hosts, the admin endpoint that changes routes in
//! epochs, and the launcher that runs every service behind them on one
//! machine (`bookinfo up`) or fronts instances that run elsewhere
//! (`bookinfo proxy`).

pub mod admin;
mod cluster;
pub mod envoy;
pub mod plane;
pub mod stats;
pub mod supervise;
pub mod topology;
mod trace;
pub mod up;
