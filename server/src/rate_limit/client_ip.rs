//! The client's address: the socket peer, unless the peer is a trusted proxy
//! (`TRUSTED_PROXIES`); then the right-most address of `X-Forwarded-For`
//! that is not itself a trusted proxy. A missing or malformed header falls
//! back to the peer, never to "unknown": a client that rotates a forged
//! header from an untrusted address is still keyed by its socket.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The resolved client address, as a request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Resolves the client address of a request from `peer`.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for part in text.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                // One bad entry makes the whole chain untrustworthy.
                Err(_) => return peer,
            }
        }
    }
    match hops.iter().rev().find(|ip| !is_trusted(ip)) {
        Some(client) => *client,
        // Every hop is a proxy of ours: the first one is the closest to the client.
        None => hops.first().copied().unwrap_or(peer),
    }
}

/// The client address of a request from the socket peer's address.
pub fn client_of(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> ClientIp {
    let peer = peer.unwrap_or(IpAddr::from([127, 0, 0, 1]));
    ClientIp(resolve(peer, headers, trusted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve(ip("203.0.113.9"), &headers(&["1.2.3.4"]), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let chain = headers(&["6.6.6.6, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &chain, &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_missing_or_malformed_header_falls_back_to_the_peer() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve(ip("10.0.0.1"), &headers(&[]), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), &headers(&["1.2.3.4, nonsense"]), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), &headers(&["10.0.0.5"]), &trusted),
            ip("10.0.0.5")
        );
    }
}
