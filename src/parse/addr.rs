//! Addresses as Envoy prints them: `1.2.3.4:443`, `[2001:db8::1]:443`, and HTTP authorities
//! (`host`, `host:8080`, `[::1]:8080`, `host.`).

use std::net::IpAddr;

/// Splits `ip:port` or `[ipv6]:port` into its parts. Returns `None` when either is unreadable.
pub fn split_socket(s: &str) -> Option<(IpAddr, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        rest.split_once("]:")?
    } else {
        let i = memchr::memrchr(b':', s.as_bytes())?;
        (&s[..i], &s[i + 1..])
    };
    let ip: IpAddr = host.parse().ok()?;
    let port: u16 = port.parse().ok()?;
    Some((ip, port))
}

/// An HTTP authority split into host and optional port. The host keeps its case; a bracketed
/// IPv6 literal loses its brackets.
pub fn split_authority(s: &str) -> (&str, Option<u16>) {
    if let Some(rest) = s.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (s, None),
        };
    }
    match s.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 literal, no port.
        Some((h, _)) if h.contains(':') => (s, None),
        Some((h, p)) => match p.parse() {
            Ok(port) => (h, Some(port)),
            Err(_) => (s, None),
        },
        None => (s, None),
    }
}

/// Where an address sits, as far as egress is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddrScope {
    /// Routable on the internet.
    Public,
    /// RFC 1918, CGNAT, link-local, ULA, loopback and other non-routable space: usually pods,
    /// nodes or services of the platform itself.
    Private,
    /// Istio's automatically allocated ServiceEntry addresses (240.240.0.0/16, 2001:2::/48):
    /// a host the mesh already knows.
    AutoAllocated,
}

pub fn scope(ip: IpAddr) -> AddrScope {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if o[0] == 240 && o[1] == 240 {
                AddrScope::AutoAllocated
            } else if v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT 100.64.0.0/10
                || o[0] == 0
                || o[0] >= 224
            {
                AddrScope::Private
            } else {
                AddrScope::Public
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return scope(IpAddr::V4(v4));
            }
            if s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0 {
                AddrScope::AutoAllocated
            } else if v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00 // ULA fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xff00) == 0xff00
            // multicast
            {
                AddrScope::Private
            } else {
                AddrScope::Public
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets() {
        assert_eq!(
            split_socket("1.2.3.4:443"),
            Some(("1.2.3.4".parse().unwrap(), 443))
        );
        assert_eq!(
            split_socket("[2001:2::f0f0:89b7]:10002"),
            Some(("2001:2::f0f0:89b7".parse().unwrap(), 10002))
        );
        assert_eq!(split_socket("1.2.3.4"), None);
        assert_eq!(split_socket("host:80"), None);
        assert_eq!(split_socket("1.2.3.4:99999"), None);
    }

    #[test]
    fn authorities() {
        assert_eq!(split_authority("httpbin:8000"), ("httpbin", Some(8000)));
        assert_eq!(split_authority("Example.COM"), ("Example.COM", None));
        assert_eq!(split_authority("[::1]:8080"), ("::1", Some(8080)));
        assert_eq!(split_authority("[::1]"), ("::1", None));
        assert_eq!(split_authority("::1"), ("::1", None));
        assert_eq!(split_authority("host:abc"), ("host:abc", None));
    }

    #[test]
    fn scopes() {
        let s = |x: &str| scope(x.parse().unwrap());
        assert_eq!(s("10.1.2.3"), AddrScope::Private);
        assert_eq!(s("172.17.0.1"), AddrScope::Private);
        assert_eq!(s("192.168.1.1"), AddrScope::Private);
        assert_eq!(s("100.64.0.1"), AddrScope::Private);
        assert_eq!(s("169.254.169.254"), AddrScope::Private);
        assert_eq!(s("240.240.40.99"), AddrScope::AutoAllocated);
        assert_eq!(s("2001:2::f0f0:89b7"), AddrScope::AutoAllocated);
        assert_eq!(s("fd00::1"), AddrScope::Private);
        assert_eq!(s("fe80::1"), AddrScope::Private);
        assert_eq!(s("140.82.112.3"), AddrScope::Public);
        assert_eq!(s("2606:4700::6810:84e5"), AddrScope::Public);
        assert_eq!(s("::ffff:10.0.0.1"), AddrScope::Private);
    }
}
