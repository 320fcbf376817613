//! The listener: how long a client may take to send a request, and how much of the router one
//! client may hold. Read when a connection opens (so a reload applies to new connections), except
//! `max_connections`, which is fixed when the router starts.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// How long a client has to send a request's headers, in milliseconds: from the connection
    /// opening for the first request, from the first byte for each later one. A connection
    /// that runs out is closed.
    #[serde(default = "default_header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// How long a client has to send a request's body once its headers arrived, in
    /// milliseconds (`BODY_READ_TIMEOUT`, 408). The body is read inside the overall request
    /// timeout (`traffic.timeout_ms`), which keeps running while it is read.
    #[serde(default = "default_body_read_timeout_ms")]
    pub body_read_timeout_ms: u64,
    /// How long a kept-alive connection may wait for its next request with nothing to
    /// answer, in milliseconds, and how long a response may wait for a client that does
    /// not read it. WebSockets have their own timers (`subscriptions`).
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// The most client connections open at once; further clients wait in the listen queue
    /// until one closes. Fixed at start.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// The most requests in flight on one HTTP/2 connection.
    #[serde(default = "default_max_concurrent_streams")]
    pub max_concurrent_streams: u32,
    /// The largest request head (request line and headers), in bytes; a larger one gets 431.
    /// HTTP/1 cannot go below 8,192.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// The most headers one request may have (431 beyond).
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// The largest WebSocket frame a client may send, in bytes; a message (at most
    /// `limits.max_body_bytes`) may span several frames.
    #[serde(default = "default_websocket_max_frame_bytes")]
    pub websocket_max_frame_bytes: usize,
    /// Proxies in front of the router (CIDRs or addresses) whose `X-Forwarded-For` or
    /// `Forwarded` is believed, read from the right: the client's address is the nearest hop
    /// that is not one of them. From any other peer those headers are ignored. The client's
    /// address keys rate limits and is what subgraphs are told.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Which header the trusted proxies write: only that one is read, so a client cannot
    /// slip an address into the other.
    #[serde(default)]
    pub forwarded_header: ForwardedHeader,
    /// Serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with this certificate, so that the router can
    /// face clients without a proxy; absent, plain HTTP/1.1 and h2c. Read at start; the files
    /// are looked at again every `reload.interval_ms`, and a changed pair that loads is served
    /// to new connections.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// The router's certificate.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM: the certificate, then any intermediates.
    pub cert_file: std::path::PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: std::path::PathBuf,
}

/// The header that carries the forwarded client address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardedHeader {
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=`.
    Forwarded,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: default_header_read_timeout_ms(),
            body_read_timeout_ms: default_body_read_timeout_ms(),
            idle_timeout_ms: default_idle_timeout_ms(),
            max_connections: default_max_connections(),
            max_concurrent_streams: default_max_concurrent_streams(),
            max_header_bytes: default_max_header_bytes(),
            max_headers: default_max_headers(),
            websocket_max_frame_bytes: default_websocket_max_frame_bytes(),
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            tls: None,
        }
    }
}

impl ServerConfig {
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        for (name, value) in [
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("body_read_timeout_ms", self.body_read_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("max_connections", self.max_connections as u64),
            (
                "max_concurrent_streams",
                u64::from(self.max_concurrent_streams),
            ),
            ("max_headers", self.max_headers as u64),
            (
                "websocket_max_frame_bytes",
                self.websocket_max_frame_bytes as u64,
            ),
        ] {
            if value == 0 {
                anyhow::bail!("server.{name} must be above 0");
            }
        }
        for (name, value) in [
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("body_read_timeout_ms", self.body_read_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
        ] {
            if value > MAX_TIMEOUT_MS {
                anyhow::bail!("server.{name} must be at most {MAX_TIMEOUT_MS} (a day)");
            }
        }
        if self.max_connections > MAX_PERMITS {
            anyhow::bail!("server.max_connections must be at most {MAX_PERMITS}");
        }
        crate::edge::client_address::TrustedProxies::new(
            &self.trusted_proxies,
            self.forwarded_header,
        )?;
        if self.max_header_bytes < 8192 {
            anyhow::bail!("server.max_header_bytes must be at least 8192");
        }
        Ok(())
    }
}

/// The longest timeout accepted: a day, far beyond any sensible one and far from overflow.
pub(crate) const MAX_TIMEOUT_MS: u64 = 86_400_000;

/// The most of anything counted by a semaphore.
pub(crate) const MAX_PERMITS: usize = 1_000_000;

fn default_header_read_timeout_ms() -> u64 {
    10_000
}

fn default_body_read_timeout_ms() -> u64 {
    10_000
}

fn default_idle_timeout_ms() -> u64 {
    60_000
}

fn default_max_connections() -> usize {
    10_000
}

fn default_max_concurrent_streams() -> u32 {
    100
}

fn default_max_header_bytes() -> usize {
    16 * 1024
}

fn default_max_headers() -> usize {
    100
}

fn default_websocket_max_frame_bytes() -> usize {
    1024 * 1024
}
