//! What this binary is: its version, the commit it was built from, the
//! target it was built for and the TLS provider it carries — for
//! `plurum --version` (and `--version --json`, for bug reports).

use serde::Serialize;

/// The crate's version.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit (12 hex digits), or empty when the build did not know it
/// (set `PLURUM_BUILD_COMMIT`; a git checkout supplies it by itself).
const COMMIT: &str = env!("PLURUM_BUILD_COMMIT");

/// The target triple, e.g. `x86_64-unknown-linux-musl`.
pub(crate) const TARGET: &str = env!("PLURUM_BUILD_TARGET");

/// The build, as `--version --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BuildInfo {
    pub(crate) name: &'static str,
    pub(crate) version: &'static str,
    /// `null` when the build did not know it.
    pub(crate) commit: Option<&'static str>,
    pub(crate) target: &'static str,
    /// `ring` or `aws-lc-rs` (rustls's crypto provider).
    pub(crate) tls_provider: &'static str,
}

impl BuildInfo {
    pub(crate) fn get() -> Self {
        Self {
            name: "plurum",
            version: VERSION,
            commit: (!COMMIT.is_empty()).then_some(COMMIT),
            target: TARGET,
            tls_provider: plurum_sdk::tls::provider_name(),
        }
    }

    /// `0.1.0 (commit 1a2b3c4d5e6f, x86_64-unknown-linux-gnu, rustls with ring)`:
    /// what follows the name in `plurum --version`.
    pub(crate) fn line(&self) -> String {
        format!(
            "{} (commit {}, {}, rustls with {})",
            self.version,
            self.commit.unwrap_or("unknown"),
            self.target,
            self.tls_provider
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_line_names_every_part() {
        let info = BuildInfo::get();
        let line = info.line();
        assert!(line.starts_with(VERSION), "{line}");
        assert!(line.contains(TARGET) && !TARGET.is_empty(), "{line}");
        assert!(line.contains("rustls with "), "{line}");
        let json = serde_json::to_value(&info).unwrap();
        for key in ["name", "version", "commit", "target", "tls_provider"] {
            assert!(json.get(key).is_some(), "{key}: {json}");
        }
    }
}
