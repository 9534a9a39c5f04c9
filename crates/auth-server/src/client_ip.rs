//! The client's address, as the rate limiter and session rows see it: the socket
//! peer, or — only when that peer is a configured trusted proxy — the right-most hop
//! of the forwarding header that is not itself a trusted proxy. Everything left of
//! that hop was written by the client and is never believed.

use std::net::IpAddr;

use actix_web::http::header::{HeaderMap, HeaderName};
use ipnet::IpNet;

/// Which forwarding header a trusted proxy writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

/// Resolves the client IP of a request; built once from the settings.
#[derive(Debug, Clone)]
pub struct ClientIpResolver {
    proxies: Vec<IpNet>,
    header: ForwardHeader,
}

/// Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (its /32 or /128).
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("AUTH_TRUSTED_PROXIES entry {s:?} is not an address or CIDR"))
}

impl ClientIpResolver {
    /// A resolver trusting `proxies`; with none, the socket peer is always the client.
    pub fn new(proxies: Vec<IpNet>, header: ForwardHeader) -> Self {
        Self { proxies, header }
    }

    fn is_proxy(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|n| n.contains(&ip))
    }

    /// The client IP for a request from socket `peer` with these headers.
    pub fn resolve(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.is_proxy(peer) {
            return Some(peer);
        }
        let name = match self.header {
            ForwardHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            ForwardHeader::Forwarded => HeaderName::from_static("forwarded"),
        };
        // Hops in the order proxies appended them, across repeated header lines.
        let hops: Vec<&str> = headers
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let parsed = match self.header {
                ForwardHeader::XForwardedFor => parse_hop(hop),
                ForwardHeader::Forwarded => forwarded_for(hop).and_then(parse_hop),
            };
            // An unreadable hop ends the chain: the last proxy we trust vouches for
            // nothing beyond it, so the client is that proxy's peer as far as we know.
            let Some(ip) = parsed else { break };
            client = ip;
            if !self.is_proxy(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// The `for=` parameter of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
    })
}

/// `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]:80`, optionally quoted.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inner, _) = rest.split_once(']')?;
        return inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The rate-limit bucket of an address: IPv4 per address, IPv6 per /64 (one
/// customer's allocation; rotating within it must not buy more tries).
pub fn bucket(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let net = ipnet::Ipv6Net::new(v6, 64).map(|n| n.trunc());
            match net {
                Ok(n) => format!("ip:{n}"),
                Err(_) => format!("ip:{v6}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    fn resolver(proxies: &[&str], header: ForwardHeader) -> ClientIpResolver {
        let nets = proxies
            .iter()
            .map(|p| parse_cidr(p).expect("cidr"))
            .collect();
        ClientIpResolver::new(nets, header)
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_send() {
        let r = resolver(&["10.0.0.0/8"], ForwardHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["1.1.1.1"]);
        assert_eq!(
            r.resolve(Some(ip("203.0.113.9")), &h),
            Some(ip("203.0.113.9"))
        );
        let none = resolver(&[], ForwardHeader::XForwardedFor);
        assert_eq!(none.resolve(Some(ip("10.0.0.1")), &h), Some(ip("10.0.0.1")));
    }

    #[test]
    fn right_most_untrusted_hop_wins() {
        let r = resolver(&["10.0.0.0/8", "192.0.2.7"], ForwardHeader::XForwardedFor);
        // The client prepended a spoofed address; our proxies appended the real one.
        let h = headers("x-forwarded-for", &["6.6.6.6, 198.51.100.4", "192.0.2.7"]);
        assert_eq!(
            r.resolve(Some(ip("10.1.2.3")), &h),
            Some(ip("198.51.100.4"))
        );
        // Only proxies in the chain: the left-most of them.
        let h = headers("x-forwarded-for", &["10.9.9.9, 192.0.2.7"]);
        assert_eq!(r.resolve(Some(ip("10.1.2.3")), &h), Some(ip("10.9.9.9")));
        // No header: the proxy itself.
        assert_eq!(
            r.resolve(Some(ip("10.1.2.3")), &HeaderMap::new()),
            Some(ip("10.1.2.3"))
        );
        // Garbage ends the chain at the last trusted hop.
        let h = headers("x-forwarded-for", &["1.1.1.1, not-an-ip"]);
        assert_eq!(r.resolve(Some(ip("10.1.2.3")), &h), Some(ip("10.1.2.3")));
        let h = headers("x-forwarded-for", &["[2001:db8::1]:443, 203.0.113.5:1234"]);
        assert_eq!(r.resolve(Some(ip("10.1.2.3")), &h), Some(ip("203.0.113.5")));
    }

    #[test]
    fn forwarded_header_only_when_configured() {
        let xff = resolver(&["127.0.0.1"], ForwardHeader::XForwardedFor);
        let h = headers("forwarded", &["for=198.51.100.1"]);
        assert_eq!(
            xff.resolve(Some(ip("127.0.0.1")), &h),
            Some(ip("127.0.0.1"))
        );
        let fwd = resolver(&["127.0.0.1"], ForwardHeader::Forwarded);
        let h = headers(
            "forwarded",
            &["for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https"],
        );
        assert_eq!(
            fwd.resolve(Some(ip("127.0.0.1")), &h),
            Some(ip("2001:db8:cafe::17"))
        );
    }

    #[test]
    fn ipv6_buckets_are_per_64() {
        assert_eq!(
            bucket(ip("2001:db8:1:2:aaaa::1")),
            bucket(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_eq!(bucket(ip("::ffff:192.0.2.1")), "ip:192.0.2.1");
        assert_ne!(bucket(ip("192.0.2.1")), bucket(ip("192.0.2.2")));
    }

    #[test]
    fn cidrs_parse() {
        assert!(parse_cidr("10.0.0.0/8").is_ok());
        assert!(parse_cidr("10.1.2.3/8").is_ok());
        assert!(parse_cidr("::1").is_ok());
        assert!(parse_cidr("nonsense").is_err());
    }
}
