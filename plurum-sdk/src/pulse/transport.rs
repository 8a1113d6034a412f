//! The socket's byte stream: TCP, with TLS for `wss://` from the SDK's one
//! TLS configuration (see [`crate::tls`]).

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::Url;

/// Anything the WebSocket can run over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A plain or TLS connection.
pub(crate) type Stream = Box<dyn Io>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens the connection a `ws://` or `wss://` URL names.
pub(crate) async fn open(url: &Url) -> Result<Stream, BoxError> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("no port for {url}"))?;
    let host = url.host().ok_or_else(|| format!("no host in {url}"))?;
    let tcp = match &host {
        url::Host::Domain(domain) => TcpStream::connect((*domain, port)).await?,
        url::Host::Ipv4(ip) => TcpStream::connect((*ip, port)).await?,
        url::Host::Ipv6(ip) => TcpStream::connect((*ip, port)).await?,
    };
    tcp.set_nodelay(true)?;
    match url.scheme() {
        "ws" => Ok(Box::new(tcp)),
        "wss" => {
            let name = match host {
                url::Host::Domain(domain) => rustls::pki_types::ServerName::try_from(domain.to_owned())?,
                url::Host::Ipv4(ip) => rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V4(ip).into()),
                url::Host::Ipv6(ip) => rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V6(ip).into()),
            };
            let connector = tokio_rustls::TlsConnector::from(crate::tls::socket()?);
            Ok(Box::new(connector.connect(name, tcp).await?))
        }
        other => Err(format!("the pulse URL must be ws:// or wss:// (got {other}://)").into()),
    }
}
