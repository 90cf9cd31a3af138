//! IP address and port parsing shared by every parser.

use std::net::IpAddr;

use crate::format::RejectReason;

/// An IP address that does not parse; the message names the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an IPv4 or IPv6 address")]
pub struct IpError {
    /// The text as it was given.
    pub text: String,
}

impl IpError {
    /// The rejection reason a parser reports for this error.
    pub fn reject_reason(&self) -> RejectReason {
        RejectReason::InvalidIp
    }
}

/// Parses an IPv4 or IPv6 address.
///
/// IPv6 may be compressed (`fe80::1`) or fully expanded (`fe80:0000:0000:0000:...`), as
/// Suricata prints it; a zone suffix (`%eth0`) is dropped. IPv4-mapped IPv6 addresses
/// (`::ffff:192.0.2.1`) become the IPv4 address, so one attacker has one address whichever
/// socket family the sensor used.
///
/// ```
/// use vigil_sensors::net::parse_ip;
/// let expanded = parse_ip("fe80:0000:0000:0000:b085:ddff:fe50:a215").unwrap();
/// assert_eq!(expanded, parse_ip("fe80::b085:ddff:fe50:a215").unwrap());
/// assert_eq!(parse_ip("::ffff:192.0.2.1").unwrap(), parse_ip("192.0.2.1").unwrap());
/// assert!(parse_ip("300.1.2.3").is_err());
/// ```
///
/// # Errors
/// [`IpError`] naming the text when it is not an address.
pub fn parse_ip(text: &str) -> Result<IpAddr, IpError> {
    let address = match text.split_once('%') {
        Some((address, zone)) if !zone.is_empty() && address.contains(':') => address,
        _ => text,
    };
    address
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .map_err(|_| IpError {
            text: text.to_string(),
        })
}

/// A port that is not a number or not in `0..=65535`; the message names the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The text is not a decimal integer.
    #[error("port {0:?} is not a number")]
    NotANumber(String),
    /// The number is negative or above 65535.
    #[error("port {0} is outside 0..=65535")]
    OutOfRange(String),
}

impl PortError {
    /// The rejection reason a parser reports for this error: a value of the wrong kind
    /// (`"abc"`) is a wrong field type, a number out of range an invalid port.
    pub fn reject_reason(&self) -> RejectReason {
        match self {
            PortError::NotANumber(_) => RejectReason::WrongFieldType,
            PortError::OutOfRange(_) => RejectReason::InvalidPort,
        }
    }
}

/// Parses a port written as a decimal string (`"8080"`, surrounding spaces allowed).
///
/// ```
/// use vigil_sensors::net::{parse_port, PortError};
/// assert_eq!(parse_port(" 8080 "), Ok(8080));
/// assert!(matches!(parse_port("70000"), Err(PortError::OutOfRange(_))));
/// assert!(matches!(parse_port("abc"), Err(PortError::NotANumber(_))));
/// ```
///
/// # Errors
/// [`PortError::NotANumber`] for anything but an optionally signed run of digits,
/// [`PortError::OutOfRange`] for a negative number or one above 65535.
pub fn parse_port(text: &str) -> Result<u16, PortError> {
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(PortError::NotANumber(text.to_string()));
    }
    let significant = digits.iter().skip_while(|&&d| d == b'0').count();
    let value = digits.iter().fold(0u32, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    });
    if (negative && value != 0) || significant > 5 || value > u32::from(u16::MAX) {
        return Err(PortError::OutOfRange(trimmed.to_string()));
    }
    Ok(value as u16)
}

/// Checks that an integer (a JSON number, a CSV cell already read as an integer) is a port.
///
/// ```
/// use vigil_sensors::net::port_from_integer;
/// assert_eq!(port_from_integer(443), Ok(443));
/// assert!(port_from_integer(-1).is_err());
/// assert!(port_from_integer(65_536).is_err());
/// ```
///
/// # Errors
/// [`PortError::OutOfRange`] for a negative value or one above 65535.
pub fn port_from_integer(value: i128) -> Result<u16, PortError> {
    u16::try_from(value).map_err(|_| PortError::OutOfRange(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn expanded_ipv6_equals_compressed() {
        let expanded = parse_ip("ff02:0000:0000:0000:0000:0000:0000:00fb");
        assert_eq!(
            expanded,
            Ok(IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb)))
        );
        let all_zero = parse_ip("0000:0000:0000:0000:0000:0000:0000:0000");
        assert_eq!(all_zero, Ok(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
    }

    #[test]
    fn zone_suffix_is_dropped_but_not_on_ipv4() {
        assert_eq!(
            parse_ip("fe80::1%eth0"),
            Ok(IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)))
        );
        assert!(parse_ip("10.0.0.1%eth0").is_err());
    }

    #[test]
    fn mapped_ipv4_becomes_ipv4() {
        assert_eq!(
            parse_ip("::ffff:10.1.2.3"),
            Ok(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)))
        );
    }

    #[test]
    fn bad_addresses_name_the_text() {
        for text in [
            "",
            "1.2.3",
            "1.2.3.256",
            "fe80::1::2",
            "gggg::1",
            "localhost",
            " 1.2.3.4",
        ] {
            match parse_ip(text) {
                Ok(ip) => panic!("{text:?} parsed as {ip}"),
                Err(e) => assert!(e.to_string().contains(&format!("{text:?}"))),
            }
        }
    }

    #[test]
    fn port_strings() {
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port("65535"), Ok(65535));
        assert_eq!(parse_port("000022"), Ok(22));
        assert_eq!(parse_port("-0"), Ok(0));
        assert_eq!(
            parse_port("65536"),
            Err(PortError::OutOfRange("65536".into()))
        );
        assert_eq!(
            parse_port("99999999999999999999"),
            Err(PortError::OutOfRange("99999999999999999999".into()))
        );
        assert_eq!(parse_port("-5"), Err(PortError::OutOfRange("-5".into())));
        for text in ["", "  ", "abc", "22a", "2 2", "0x16", "22.0", "-"] {
            assert_eq!(parse_port(text), Err(PortError::NotANumber(text.into())));
        }
    }

    #[test]
    fn port_errors_map_to_reasons() {
        assert_eq!(
            PortError::NotANumber("x".into()).reject_reason(),
            RejectReason::WrongFieldType
        );
        assert_eq!(
            PortError::OutOfRange("70000".into()).reject_reason(),
            RejectReason::InvalidPort
        );
    }
}
