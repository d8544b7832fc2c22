//! The client address that per-IP rate limits count.
//!
//! It is the TCP peer, unless the peer is a trusted proxy: then `X-Forwarded-For` is read from
//! the right, skipping trusted proxies, and the first untrusted entry is the client. Entries
//! left of it were written by the client and are never believed, so sending `X-Forwarded-For`
//! cannot move a request into another address's budget.

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

impl TrustedProxies {
    /// Parses IP addresses and CIDR blocks such as `10.0.0.0/8`.
    pub fn parse(entries: &[String]) -> anyhow::Result<Self> {
        let networks = entries
            .iter()
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "{entry:?} is neither an IP address nor a CIDR block such as 10.0.0.0/8"
                        )
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { networks })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }

    /// Returns the client address of a request from `peer` with the given `X-Forwarded-For`
    /// header values.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let entries: Vec<&str> = forwarded_for
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(address) = parse_entry(entry) else {
                // An unparsable hop cannot be trusted or skipped, so the last parsed address is the
                // client.
                return client;
            };
            client = address;
            if !self.contains(address) {
                return address;
            }
        }
        client
    }
}

/// Parses an `X-Forwarded-For` entry: an address, optionally with a port or IPv6 brackets.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
        .map(|address| address.to_canonical())
}

/// Returns the rate-limit subject of an address: an IPv4 address as it is, an IPv6 address as
/// its /64 network, because one client usually controls a whole /64.
pub fn rate_limit_subject(address: IpAddr) -> String {
    match address.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            format!(
                "{:x}:{:x}:{:x}:{:x}::/64",
                segments[0], segments[1], segments[2], segments[3]
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn untrusted_peer_ignores_header() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".into()]).expect("parse");
        let client = trusted.client_ip(ip("203.0.113.5"), ["198.51.100.1"].into_iter());
        assert_eq!(client, ip("203.0.113.5"));
    }

    #[test]
    fn trusted_peer_uses_rightmost_untrusted_entry() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".into()]).expect("parse");
        let client = trusted.client_ip(
            ip("10.0.0.2"),
            ["1.1.1.1, 198.51.100.7", "10.0.0.9"].into_iter(),
        );
        assert_eq!(client, ip("198.51.100.7"));
    }

    #[test]
    fn trusted_peer_without_header_is_client() {
        let trusted = TrustedProxies::parse(&["127.0.0.1".into()]).expect("parse");
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), std::iter::empty()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn garbage_entry_stops_the_walk() {
        let trusted = TrustedProxies::parse(&["127.0.0.1".into()]).expect("parse");
        let client = trusted.client_ip(ip("127.0.0.1"), ["198.51.100.7, nonsense"].into_iter());
        assert_eq!(client, ip("127.0.0.1"));
    }

    #[test]
    fn entries_with_ports_parse() {
        assert_eq!(parse_entry("198.51.100.7:4711"), Some(ip("198.51.100.7")));
        assert_eq!(parse_entry("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_entry("[2001:db8::1]:80"), Some(ip("2001:db8::1")));
    }

    #[test]
    fn ipv6_subject_is_its_network() {
        assert_eq!(
            rate_limit_subject(ip("2001:db8:1:2:3:4:5:6")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(rate_limit_subject(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }
}
