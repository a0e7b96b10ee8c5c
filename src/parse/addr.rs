//! Addresses as Envoy prints them: `1.2.3.4:443`, `[2001:db8::1]:443`, and HTTP authorities
//! (`host`, `host:8080`, `[::1]:8080`, `host.`).

use std::net::{IpAddr, Ipv4Addr};

/// Splits `ip:port` or `[ipv6]:port` into its parts. Returns `None` when either is unreadable.
pub fn split_socket(s: &str) -> Option<(IpAddr, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        rest.split_once("]:")?
    } else {
        let i = memchr::memrchr(b':', s.as_bytes())?;
        (&s[..i], &s[i + 1..])
    };
    let ip = parse_ip(host)?;
    let port: u16 = port.parse().ok()?;
    Some((ip, port))
}

/// `s.parse::<IpAddr>().ok()`, with a fast path for the dotted quads most entries hold (the
/// standard parser took a tenth of the time of an egress entry).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    if let Some(v4) = parse_ipv4(s.as_bytes()) {
        return Some(IpAddr::V4(v4));
    }
    // The fast path takes every IPv4 address the standard parser takes, and only an IPv6
    // address has a colon.
    if s.contains(':') {
        s.parse().ok()
    } else {
        None
    }
}

/// Four decimal octets of at most three digits, none above 255 and none with a leading zero:
/// what `Ipv4Addr::from_str` accepts.
fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, o) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut n = 0u16;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start == 3 {
                return None;
            }
            n = n * 10 + u16::from(c - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || (len > 1 && b[start] == b'0') {
            return None;
        }
        *o = u8::try_from(n).ok()?;
    }
    (i == b.len()).then_some(Ipv4Addr::from(octets))
}

/// Writes `ip` as `Display` does, into `buf`; returns the text.
pub fn write_ip(ip: IpAddr, buf: &mut [u8; 48]) -> &str {
    let n = match ip {
        IpAddr::V4(v4) => {
            let mut n = 0;
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[n] = b'.';
                    n += 1;
                }
                if o >= 100 {
                    buf[n] = b'0' + o / 100;
                    n += 1;
                }
                if o >= 10 {
                    buf[n] = b'0' + o / 10 % 10;
                    n += 1;
                }
                buf[n] = b'0' + o % 10;
                n += 1;
            }
            n
        }
        IpAddr::V6(_) => {
            use std::io::Write;
            let mut cur = std::io::Cursor::new(&mut buf[..]);
            write!(cur, "{ip}").expect("an IP address fits in 48 bytes");
            cur.position() as usize
        }
    };
    std::str::from_utf8(&buf[..n]).expect("ASCII")
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
    /// RFC 1918, CGNAT, link-local, ULA, loopback, documentation, benchmarking and other
    /// special-purpose space: usually pods, nodes, VPC or on-premises networks.
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
                // Special-purpose (RFC 6890): IETF protocol assignments 192.0.0.0/24,
                // documentation 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, benchmarking
                // 198.18.0.0/15.
                || (o[0] == 192 && o[1] == 0 && (o[2] == 0 || o[2] == 2))
                || (o[0] == 198 && o[1] == 51 && o[2] == 100)
                || (o[0] == 203 && o[1] == 0 && o[2] == 113)
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
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
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
                || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0)
            // discard 100::/64
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
        for special in [
            "192.0.2.1",
            "198.51.100.66",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.0.170",
            "2001:db8::1",
            "100::1",
        ] {
            assert_eq!(s(special), AddrScope::Private, "{special}");
        }
        for public in [
            "192.0.3.1",
            "198.51.101.1",
            "203.0.114.1",
            "198.20.0.1",
            "192.1.2.3",
        ] {
            assert_eq!(s(public), AddrScope::Public, "{public}");
        }
    }

    #[test]
    fn parse_ip_agrees_with_the_standard_parser() {
        let octets = [
            "0", "00", "01", "7", "10", "99", "100", "255", "256", "999", "1000", "", "x",
        ];
        let mut cases: Vec<String> = Vec::new();
        for a in octets {
            for b in ["0", "01", "255", "256", ""] {
                cases.push(format!("{a}.{b}.3.4"));
                cases.push(format!("1.2.{a}.{b}"));
            }
        }
        cases.extend(
            [
                "1.2.3",
                "1.2.3.4.5",
                "1.2.3.4.",
                ".1.2.3.4",
                "::1",
                "::ffff:1.2.3.4",
                "2001:db8::1",
            ]
            .map(String::from),
        );
        // And random strings over the bytes addresses are made of.
        let alphabet = b"0123456789.:af ";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 17) as usize;
            cases.push(
                (0..len)
                    .map(|k| char::from(alphabet[((x >> (3 * k % 60)) % 15) as usize]))
                    .collect(),
            );
        }
        for c in cases {
            assert_eq!(parse_ip(&c), c.parse::<IpAddr>().ok(), "{c:?}");
        }
    }

    #[test]
    fn write_ip_writes_what_display_writes() {
        let mut buf = [0u8; 48];
        for n in (0..=u32::MAX)
            .step_by(65_521)
            .chain([0, 1, u32::MAX, 0x0a00_0001])
        {
            let ip = IpAddr::V4(Ipv4Addr::from(n));
            assert_eq!(write_ip(ip, &mut buf), ip.to_string());
        }
        for t in [
            "::",
            "::1",
            "2001:db8::1",
            "::ffff:1.2.3.4",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            let ip: IpAddr = t.parse().unwrap();
            assert_eq!(write_ip(ip, &mut buf), ip.to_string());
        }
    }
}
