//! Exit codes (DESIGN.md, "CLI").

/// Success.
pub(crate) const OK: u8 = 0;
/// An error.
pub(crate) const ERROR: u8 = 1;
