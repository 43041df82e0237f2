//! Tests of `bookinfo lint` on the shipped manifests and on broken fixtures.
#![allow(clippy::unwrap_used)]

mod checks;
