//! End-to-end scenarios across `plurum-sdk` and `plurum-cli`: the SDK and
//! the `plurum` binary working together against one reference server. The
//! scenarios are in `tests/`; this library only finds the binary.

use std::path::PathBuf;

/// The `plurum` binary built by the workspace (`cargo test --workspace`
/// builds it for the CLI's own tests), next to this test executable.
///
/// # Panics
/// When it has not been built, with the command that builds it.
pub fn plurum_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let binary = dir.join(format!("plurum{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is not built: run the workspace's tests (cargo test --workspace --all-features), \
         or build it first (cargo build -p plurum-cli)",
        binary.display()
    );
    binary
}

/// The code samples of the repository's README and guides compile as
/// doctests (kept here, in a crate that is never published, because these
/// documents are not part of either package).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/sdk.md")]
struct SdkGuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/server.md")]
struct ServerGuideDoctests;
