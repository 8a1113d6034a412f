//! TLS, built once for REST and the pulse socket alike: one rustls
//! `ClientConfig` with an explicit crypto provider (no process-level
//! default is consulted or installed, so a dependency graph that also
//! enables another provider cannot make it panic) and the platform's
//! certificate verifier (the system's roots and revocation rules, on every
//! path).
//!
//! The provider is chosen by cargo features: `rustls-ring` (the default)
//! or `rustls-aws-lc-rs` (which wins when both are on).

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls_platform_verifier::BuilderVerifierExt as _;

use crate::error::Error;

#[cfg(not(any(feature = "rustls-ring", feature = "rustls-aws-lc-rs")))]
compile_error!(
    "plurum-sdk needs a TLS crypto provider: enable its `rustls-ring` (default) or `rustls-aws-lc-rs` feature"
);

/// The crypto provider the features chose.
fn provider() -> CryptoProvider {
    #[cfg(feature = "rustls-aws-lc-rs")]
    {
        rustls::crypto::aws_lc_rs::default_provider()
    }
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls-aws-lc-rs")))]
    {
        rustls::crypto::ring::default_provider()
    }
    // Never compiled into a build: the `compile_error!` above stops it. This
    // arm only keeps that error the only one the compiler prints.
    #[cfg(not(any(feature = "rustls-ring", feature = "rustls-aws-lc-rs")))]
    {
        unreachable!("plurum-sdk was built without a TLS crypto provider")
    }
}

/// The name of the crypto provider in use (`ring` or `aws-lc-rs`).
#[must_use]
pub const fn provider_name() -> &'static str {
    if cfg!(feature = "rustls-aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "ring"
    }
}

/// The base configuration, built once per process (loading the platform's
/// roots is not free).
fn base() -> Result<&'static ClientConfig, Error> {
    static BASE: OnceLock<Result<ClientConfig, String>> = OnceLock::new();
    BASE.get_or_init(|| {
        ClientConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_platform_verifier())
            .map(|builder| builder.with_no_client_auth())
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| Error::Config(format!("could not set up TLS: {e}")))
}

/// The configuration REST uses: HTTP/2 where the server offers it, else
/// HTTP/1.1. Hand it to your own HTTP clients to trust what the SDK trusts,
/// with the same provider (reqwest: `ClientBuilder::tls_backend_preconfigured`).
///
/// # Errors
/// [`Error::Config`] when the platform's verifier cannot be set up.
pub fn client_config() -> Result<ClientConfig, Error> {
    let mut config = base()?.clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The configuration for the pulse socket (HTTP/1.1: a WebSocket upgrade).
#[cfg(feature = "pulse")]
pub(crate) fn socket() -> Result<Arc<ClientConfig>, Error> {
    static SOCKET: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = SOCKET.get() {
        return Ok(config.clone());
    }
    let mut config = base()?.clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(SOCKET.get_or_init(|| Arc::new(config)).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_provider_chosen_explicitly_without_a_process_default() {
        let config = client_config().unwrap();
        assert_eq!(config.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert!(
            CryptoProvider::get_default().is_none(),
            "no process-level provider is installed or needed"
        );
        assert!(["ring", "aws-lc-rs"].contains(&provider_name()));
        #[cfg(feature = "pulse")]
        assert_eq!(socket().unwrap().alpn_protocols, [b"http/1.1".to_vec()]);
    }
}
