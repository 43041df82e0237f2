//! `loadgen`: see the crate README.
fn main() {}
