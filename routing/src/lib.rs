//! The routing model shared by the local data plane and the loadgen: serde
//! types of `networking.istio.io` VirtualService and DestinationRule and
//! Gateway API HTTPRoute, the loader that reads them from YAML files with
//! errors naming file, document and field, and the compiled table that
//! answers "which destination, with which weight" for a request.

pub mod load;
pub mod model;
pub mod policy;
pub mod table;
