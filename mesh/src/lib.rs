//! The local data plane of Bookinfo: the Istio routing model read from the
//! same `istio/` files a cluster uses, a router with VirtualService
//! semantics in front of each service host, live route changes in epochs,
//! and the launcher that runs the whole app on one machine.

pub mod admin;
pub mod demo;
pub mod lint;
pub mod load;
pub mod model;
pub mod plane;
pub mod table;
pub mod up;
