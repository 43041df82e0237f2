//! Integration tests of reviews over real HTTP on 127.0.0.1, with stub
//! ratings services that answer, fail, or sleep.
#![allow(clippy::unwrap_used)]

mod bodies;
mod degrade;
mod helpers;
mod rehearsal;
