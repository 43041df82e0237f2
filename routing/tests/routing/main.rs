//! Tests of the routing model and table: the shipped files and broken ones
//! read with errors that say where, and rules chosen as Istio and the
//! Gateway API choose them.
#![allow(clippy::unwrap_used)]

mod fields;
mod gateway_api;
mod limits;
mod loading;
mod policy;
mod precedence;
mod selection;

/// The reviews subsets of `istio/destination-rule-all.yaml`.
pub const REVIEWS_SUBSETS: &str = "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
  - name: v3
    labels: {version: v3}
";
