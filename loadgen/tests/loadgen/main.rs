//! End-to-end tests of the loadgen runtime against a local weighted stub on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod binary;
mod control;
mod helpers;
mod outcomes;
mod real_pages;
mod schema;
mod setup;
mod verdicts;
