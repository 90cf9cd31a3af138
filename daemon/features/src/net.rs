//! Address classification and the application-protocol vocabulary.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// True for addresses that are not routed on the public Internet from the monitored network's
/// point of view: RFC 1918 (10/8, 172.16/12, 192.168/16), IPv4 loopback (127/8) and link-local
/// (169.254/16); IPv6 unique local (fc00::/7), link-local (fe80::/10) and loopback (::1).
/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
///
/// ```
/// use vigil_features::is_private;
/// assert!(is_private("172.31.255.255".parse().unwrap()));
/// assert!(!is_private("172.32.0.1".parse().unwrap()));
/// assert!(is_private("fd12:3456::1".parse().unwrap()));
/// assert!(!is_private("2001:db8::1".parse().unwrap()));
/// ```
pub fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    ip.is_private() || ip.is_loopback() || ip.is_link_local()
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    unique_local || link_local || ip.is_loopback()
}

/// The application protocols the feature vector one-hot encodes. Names a sensor reports are
/// folded onto this vocabulary by [`AppProto::classify`]; anything else is [`AppProto::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppProto {
    /// SSH.
    Ssh,
    /// Telnet.
    Telnet,
    /// Plain HTTP.
    Http,
    /// HTTPS, TLS and QUIC.
    Tls,
    /// DNS and mDNS.
    Dns,
    /// SMB / CIFS, NetBIOS session.
    Smb,
    /// FTP and TFTP.
    Ftp,
    /// Microsoft SQL Server.
    Mssql,
    /// MySQL / MariaDB.
    Mysql,
    /// SMTP and submission.
    Smtp,
    /// Any other named protocol.
    Other,
}

impl AppProto {
    /// Folds a sensor's protocol name (case-insensitive; Dionaea's `smbd`, `httpd`, `mssqld`...,
    /// Suricata's `tls`, `quic`, `mdns`...) onto the vocabulary.
    ///
    /// ```
    /// use vigil_features::AppProto;
    /// assert_eq!(AppProto::classify("smbd"), AppProto::Smb);
    /// assert_eq!(AppProto::classify("HTTPS"), AppProto::Tls);
    /// assert_eq!(AppProto::classify("mongod"), AppProto::Other);
    /// ```
    pub fn classify(name: &str) -> AppProto {
        let name = name.trim();
        let mut lower = [0u8; 16];
        let bytes = name.as_bytes();
        if bytes.len() > lower.len() {
            return AppProto::Other;
        }
        for (dst, src) in lower.iter_mut().zip(bytes) {
            *dst = src.to_ascii_lowercase();
        }
        match &lower[..bytes.len()] {
            b"ssh" | b"sshd" | b"ssh2" => AppProto::Ssh,
            b"telnet" | b"telnetd" => AppProto::Telnet,
            b"http" | b"httpd" | b"http2" | b"http-alt" => AppProto::Http,
            b"https" | b"tls" | b"ssl" | b"quic" | b"httpsd" => AppProto::Tls,
            b"dns" | b"mdns" | b"domain" => AppProto::Dns,
            b"smb" | b"smbd" | b"smb2" | b"cifs" | b"microsoft-ds" | b"netbios-ssn" => {
                AppProto::Smb
            }
            b"ftp" | b"ftpd" | b"ftp-data" | b"tftp" | b"tftpd" => AppProto::Ftp,
            b"mssql" | b"mssqld" | b"ms-sql" | b"tds" => AppProto::Mssql,
            b"mysql" | b"mysqld" | b"mariadb" => AppProto::Mysql,
            b"smtp" | b"smtpd" | b"submission" | b"smtps" => AppProto::Smtp,
            _ => AppProto::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(s: &str) -> bool {
        is_private(s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::BROADCAST)))
    }

    #[test]
    fn rfc1918_boundaries() {
        for p in [
            "10.0.0.0",
            "10.255.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.168.0.1",
            "192.168.255.255",
            "127.0.0.1",
            "169.254.1.1",
            "::ffff:10.1.2.3",
        ] {
            assert!(private(p), "{p} should be private");
        }
        for p in [
            "9.255.255.255",
            "11.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "100.64.0.1",
            "203.0.113.7",
            "8.8.8.8",
            "::ffff:8.8.8.8",
        ] {
            assert!(!private(p), "{p} should be public");
        }
    }

    #[test]
    fn ipv6_ula_link_local_loopback() {
        for p in ["fc00::1", "fdff:ffff::1", "fe80::1", "febf::1", "::1"] {
            assert!(private(p), "{p} should be private");
        }
        for p in [
            "fbff::1",
            "fec0::1",
            "2001:db8::1",
            "2a01:4f8::1",
            "::",
            "::2",
        ] {
            assert!(!private(p), "{p} should be public");
        }
    }

    #[test]
    fn protocol_vocabulary() {
        let cases = [
            ("ssh", AppProto::Ssh),
            ("Telnet", AppProto::Telnet),
            ("httpd", AppProto::Http),
            ("tls", AppProto::Tls),
            ("quic", AppProto::Tls),
            ("mdns", AppProto::Dns),
            ("smbd", AppProto::Smb),
            ("ftpd", AppProto::Ftp),
            ("mssqld", AppProto::Mssql),
            ("mysqld", AppProto::Mysql),
            ("smtp", AppProto::Smtp),
            ("", AppProto::Other),
            ("a-very-long-protocol-name", AppProto::Other),
        ];
        for (name, want) in cases {
            assert_eq!(AppProto::classify(name), want, "{name}");
        }
    }
}
