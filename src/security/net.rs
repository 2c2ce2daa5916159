//! Where a request comes from and where it was sent: client IP behind trusted proxies,
//! the CIDR allow-list, and the Host and Origin checks against DNS rebinding and
//! cross-site browser requests.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return canonical(peer);
    }
    let Some(xff) = forwarded_for else {
        return canonical(peer);
    };
    for part in xff.rsplit(',').map(str::trim) {
        match part.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return canonical(ip),
            // A malformed entry ends what we can believe.
            Err(_) => break,
        }
    }
    canonical(peer)
}

/// IPv4-mapped IPv6 addresses (from a dual-stack socket) as plain IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Whether the address is allowed (an empty list allows all).
pub fn allowed(ip: IpAddr, cidrs: &[IpNet]) -> bool {
    cidrs.is_empty() || cidrs.iter().any(|n| n.contains(&ip))
}

/// The host part of a `Host` header, lower-cased, without port or IPv6 brackets.
pub fn host_only(host: &str) -> String {
    let h = host.trim().to_ascii_lowercase();
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_owned();
    }
    match h.rsplit_once(':') {
        // A single colon is a port separator; more means a bare IPv6 address.
        Some((name, port)) if !name.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            name.to_owned()
        }
        _ => h,
    }
}

/// Whether a `Host` header names one of the allowed hosts (entries may carry a port).
pub fn host_allowed(host: Option<&str>, allowed: &[String]) -> bool {
    let Some(host) = host else { return false };
    let full = host.trim().to_ascii_lowercase();
    let bare = host_only(&full);
    allowed
        .iter()
        .any(|a| *a == "*" || *a == full || *a == bare)
}

/// Whether an `Origin` is allowed: absent (not a browser) always is; `null` never is
/// unless listed.
pub fn origin_allowed(origin: Option<&str>, allowed: &[String], any: bool) -> bool {
    match origin {
        None => true,
        Some(_) if any => true,
        Some(o) => allowed.iter().any(|a| {
            a.trim_end_matches('/')
                .eq_ignore_ascii_case(o.trim_end_matches('/'))
        }),
    }
}

/// Whether `origin` is the server's own: a page served by this server, calling it. Its
/// scheme is http(s) and its `host[:port]` is exactly the request's `Host`, which the
/// Host check has already accepted (so a rebinding name, refused as Host, cannot pass
/// as its own origin).
pub fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host.map(|h| h.trim().to_ascii_lowercase()) else {
        return false;
    };
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    ["http://", "https://"]
        .iter()
        .filter_map(|scheme| origin.strip_prefix(scheme))
        .any(|authority| !host.is_empty() && authority == host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_own_origin_is_same_origin() {
        let host = Some("127.0.0.1:8000");
        assert!(same_origin("http://127.0.0.1:8000", host));
        assert!(same_origin("http://127.0.0.1:8000/", host));
        assert!(same_origin("http://[::1]:8000", Some("[::1]:8000")));
        assert!(same_origin("http://localhost:8000", Some("LOCALHOST:8000")));
        // Another port, host or scheme is another origin.
        assert!(!same_origin("http://127.0.0.1:9000", host));
        assert!(!same_origin("http://localhost:8000", host));
        assert!(!same_origin("file://127.0.0.1:8000", host));
        assert!(!same_origin("null", host));
        assert!(!same_origin("http://127.0.0.1:8000", None));
        assert!(!same_origin("http://", Some("")));
    }

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(
            client_ip(peer, Some("203.0.113.9, 10.0.0.7"), &trusted).to_string(),
            "203.0.113.9"
        );
        assert_eq!(
            client_ip(
                "198.51.100.1".parse().unwrap(),
                Some("203.0.113.9"),
                &trusted
            )
            .to_string(),
            "198.51.100.1"
        );
        // A client forging an entry in front of the real one gains nothing.
        assert_eq!(
            client_ip(peer, Some("1.1.1.1, 203.0.113.9"), &trusted).to_string(),
            "203.0.113.9"
        );
        assert_eq!(client_ip(peer, Some("garbage"), &trusted), peer);
        assert_eq!(
            client_ip("::ffff:127.0.0.1".parse().unwrap(), None, &[]).to_string(),
            "127.0.0.1"
        );
    }

    #[test]
    fn cidr_allow_list() {
        assert!(allowed("192.168.1.5".parse().unwrap(), &[]));
        assert!(allowed(
            "192.168.1.5".parse().unwrap(),
            &nets(&["192.168.0.0/16"])
        ));
        assert!(!allowed(
            "10.0.0.1".parse().unwrap(),
            &nets(&["192.168.0.0/16"])
        ));
    }

    #[test]
    fn hosts_and_origins() {
        let hosts = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "mcp.example.com:8443".to_string(),
        ];
        assert!(host_allowed(Some("localhost:3000"), &hosts));
        assert!(host_allowed(Some("[::1]:3000"), &hosts));
        assert!(host_allowed(Some("mcp.example.com:8443"), &hosts));
        assert!(!host_allowed(Some("mcp.example.com:9999"), &hosts));
        assert!(!host_allowed(Some("evil.example"), &hosts));
        assert!(!host_allowed(None, &hosts));
        let origins = vec!["https://app.example.com".to_string()];
        assert!(origin_allowed(None, &origins, false));
        assert!(origin_allowed(
            Some("https://app.example.com"),
            &origins,
            false
        ));
        assert!(!origin_allowed(
            Some("https://evil.example"),
            &origins,
            false
        ));
        assert!(!origin_allowed(Some("null"), &origins, false));
        assert!(origin_allowed(Some("https://evil.example"), &[], true));
    }
}
