//! Integration tests of the shared serving and telemetry plumbing, over real
//! HTTP on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod otlp;
mod shutdown;
