//! Who the client is on the network: the peer, or, when the peer is a trusted proxy, the
//! address it forwarded (`X-Forwarded-For`, else `Forwarded: for=`), read from the right so
//! that what the client itself wrote at the left is never believed. The router tells the
//! subgraphs that need it in [`HEADER`], signed with a secret it shares with them, since a
//! client could send the header too.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use http::{HeaderMap, HeaderValue};
use ipnet::IpNet;
use sha2::Sha256;

use crate::config::server::ForwardedHeader;

/// The header the router sets on subgraph requests: `<address>`, or with a secret
/// `<address>;ts=<unix seconds>;sig=<mac>`, the MAC being HMAC-SHA256 under the shared secret
/// of `v1|<subgraph name>|<address>|<ts>`, base64url without padding: a value taken from one
/// subgraph's request does not work at another, nor for long.
pub const HEADER: &str = "x-tessera-client-address";

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Reads CIDRs (`10.0.0.0/8`) or single addresses.
    pub fn new(list: &[String], header: ForwardedHeader) -> anyhow::Result<Self> {
        list.iter()
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "server.trusted_proxies: {entry:?} is not a CIDR or address"
                        )
                    })
            })
            .collect::<anyhow::Result<_>>()
            .map(|nets| Self { nets, header })
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.nets.iter().any(|net| net.contains(&address))
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in hops(headers, self.header).iter().rev() {
            match hop {
                // Each trusted hop vouches for the one before it.
                Some(address) => {
                    client = *address;
                    if !self.trusts(client) {
                        return client;
                    }
                }
                // Past an entry that does not read as an address nothing is believed.
                None => return client,
            }
        }
        client
    }
}

/// IPv4 addresses mapped into IPv6 (a dual-stack listener's view) as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The forwarded hops, left (farthest) to right (nearest), from every line of the header in
/// order. A `Forwarded` element without `for=` is a hop that says nothing, which ends the walk.
fn hops(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let lines = |name: &str| -> Vec<&str> {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("\u{0}"))
            .collect()
    };
    match header {
        ForwardedHeader::XForwardedFor => lines("x-forwarded-for")
            .iter()
            .flat_map(|line| line.split(','))
            .map(|hop| parse_hop(hop.trim()))
            .collect(),
        ForwardedHeader::Forwarded => lines("forwarded")
            .iter()
            .flat_map(|line| line.split(','))
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    key.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_hop(value.trim().trim_matches('"')))
                })?
            })
            .collect(),
    }
}

/// `203.0.113.9`, `203.0.113.9:4711`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse().ok().map(canonical)
}

/// The [`HEADER`] value for `address` on a request to `subgraph`, signed when there is a
/// `secret`.
pub fn vouch(address: IpAddr, subgraph: &str, secret: Option<&str>) -> HeaderValue {
    let text = address.to_string();
    let value = match secret {
        Some(secret) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
            mac.update(format!("v1|{subgraph}|{text}|{now}").as_bytes());
            format!(
                "{text};ts={now};sig={}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            )
        }
        None => text,
    };
    HeaderValue::try_from(value).expect("an address and base64 are header text")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn forwarded_addresses_are_read_from_the_right_and_only_from_trusted_peers() {
        let list = ["10.0.0.0/8".to_owned(), "192.0.2.1".to_owned()];
        let trusted = TrustedProxies::new(&list, ForwardedHeader::XForwardedFor).expect("ok");
        let rfc = TrustedProxies::new(&list, ForwardedHeader::Forwarded).expect("ok");
        // The client wrote the first entry itself; the proxy appended the real one.
        let spoofed = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9")]);
        assert_eq!(trusted.client(ip("10.1.2.3"), &spoofed), ip("203.0.113.9"));
        // Several trusted proxies in a row.
        let chain = headers(&[
            ("x-forwarded-for", "1.1.1.1, 203.0.113.9"),
            ("x-forwarded-for", "10.0.0.7"),
        ]);
        assert_eq!(trusted.client(ip("192.0.2.1"), &chain), ip("203.0.113.9"));
        // An untrusted peer's headers mean nothing.
        assert_eq!(
            trusted.client(ip("198.51.100.4"), &spoofed),
            ip("198.51.100.4")
        );
        // Garbage stops the walk at the last trusted hop.
        let garbage = headers(&[("x-forwarded-for", "203.0.113.9, nonsense, 10.0.0.9")]);
        assert_eq!(trusted.client(ip("10.1.2.3"), &garbage), ip("10.0.0.9"));
        // RFC 7239, with ports and IPv6.
        let forwarded = headers(&[(
            "forwarded",
            "for=1.1.1.1, for=\"[2001:db8::1]:4711\";proto=https",
        )]);
        assert_eq!(rfc.client(ip("10.1.2.3"), &forwarded), ip("2001:db8::1"));
        // Only the configured header counts.
        assert_eq!(trusted.client(ip("10.1.2.3"), &forwarded), ip("10.1.2.3"));
        assert_eq!(rfc.client(ip("10.1.2.3"), &spoofed), ip("10.1.2.3"));
        // An element without for= ends the walk there.
        let silent = headers(&[("forwarded", "for=1.1.1.1, proto=https")]);
        assert_eq!(rfc.client(ip("10.1.2.3"), &silent), ip("10.1.2.3"));
        assert_eq!(
            trusted.client(ip("::ffff:10.1.2.3"), &spoofed),
            ip("203.0.113.9"),
            "an IPv4 peer seen through a dual-stack socket"
        );
        assert!(
            TrustedProxies::new(&["not an address".into()], ForwardedHeader::XForwardedFor)
                .is_err()
        );
    }

    #[test]
    fn the_vouched_address_is_signed_for_one_subgraph_with_the_secret() {
        assert_eq!(vouch(ip("203.0.113.9"), "auth", None), "203.0.113.9");
        let signed = vouch(ip("203.0.113.9"), "auth", Some("secret"));
        let text = signed.to_str().expect("text").to_owned();
        assert!(text.starts_with("203.0.113.9;ts="), "{text}");
        let sig = |v: HeaderValue| {
            let text = v.to_str().expect("text").to_owned();
            text.rsplit_once("sig=").expect("sig").1.to_owned()
        };
        let again = vouch(ip("203.0.113.9"), "auth", Some("another"));
        assert_ne!(sig(signed.clone()), sig(again));
        assert_ne!(
            sig(signed),
            sig(vouch(ip("203.0.113.9"), "blog", Some("secret")))
        );
    }
}
