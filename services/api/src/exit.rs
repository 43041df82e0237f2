//! The exit codes of every Bookinfo program (the services, `bookinfo`,
//! `loadgen`), so that scripts and CI can tell the cases apart the same way
//! whichever program they ran.

/// Done: the server stopped cleanly; the split PASSed; healthy; no lint error.
pub const SUCCESS: u8 = 0;
/// The check failed: the split FAILed; unhealthy; lint found errors; a
/// server stopped on an error.
pub const FAILURE: u8 = 1;
/// A verification ran but decided nothing (INCONCLUSIVE).
pub const INCONCLUSIVE: u8 = 2;
/// Nothing ran: bad arguments, configuration or set-up (including usage
/// errors, which clap alone would report with 2).
pub const SETUP: u8 = 3;
