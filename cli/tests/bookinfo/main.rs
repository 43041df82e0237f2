//! Tests of the `bookinfo` program: the whole app on real processes behind
//! the local data plane, the demo, and the commands' argument checks.
#![allow(clippy::unwrap_used)]

mod commands;
mod e2e;
mod traces;
