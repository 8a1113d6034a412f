//! End-to-end scenarios across `plurum-sdk` and `plurum-cli` live in this
//! package's `tests/` directory once the reference server exists; the
//! library itself is empty.
