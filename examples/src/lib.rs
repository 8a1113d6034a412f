//! Runnable scenarios for `plurum-sdk`.
