//! Public DNS resolvers as the plan (`resolvers`) and `dns verify --resolver` name them: an IP
//! address with an optional port. Shared because the plan checks them offline and the DNS client
//! asks them.

use std::net::{IpAddr, SocketAddr};

/// Parses `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address; the port defaults to 53.
pub fn parse_server(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(address) = text.parse::<SocketAddr>() {
        if address.port() == 0 {
            return Err("port 0 cannot be asked".into());
        }
        return Ok(address);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    if let Some((host, port)) = text.rsplit_once(':') {
        if host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
            return match port.parse::<u16>() {
                Ok(0) | Err(_) => Err(format!("`{port}` is not a port number (1-65535)")),
                Ok(_) => Err("write an IPv6 address with a port as [address]:port".into()),
            };
        }
        if port.parse::<u16>().is_ok() {
            return Err("it is a host name; resolvers are given by IP address".into());
        }
    }
    if !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && text.chars().any(|c| c.is_ascii_alphabetic())
    {
        return Err("it is a host name; resolvers are given by IP address".into());
    }
    Err("it must be an IP address, optionally with :PORT".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_resolver_arguments_never_panic_and_are_explained() {
        let seeds: Vec<Vec<u8>> = ["192.0.2.53", "[2001:db8::1]:5353", "2001:db8::1", "127.0.0.1:53", "dns.example"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        crate::fuzz::run("resolver", &seeds, &[":", "[", "]", "0", "65536", ".", "::", "%eth0"], 5_000, |input| {
            match parse_server(&String::from_utf8_lossy(input)) {
                Ok(address) => assert_ne!(address.port(), 0),
                Err(reason) => assert!(!reason.is_empty()),
            }
        });
    }

    #[test]
    fn server_addresses() {
        assert_eq!(parse_server("1.1.1.1").unwrap().to_string(), "1.1.1.1:53");
        assert_eq!(parse_server("127.0.0.1:5353").unwrap().to_string(), "127.0.0.1:5353");
        assert_eq!(parse_server("::1").unwrap().to_string(), "[::1]:53");
        assert_eq!(parse_server("[::1]:5300").unwrap().to_string(), "[::1]:5300");
        assert!(parse_server("dns.google").unwrap_err().contains("host name"));
        assert!(parse_server("dns.google:53").unwrap_err().contains("host name"));
        assert!(parse_server("1.1.1.1:0").is_err());
        assert!(parse_server("1.1.1.1:99999").is_err());
        assert!(parse_server("").is_err());
    }
}
