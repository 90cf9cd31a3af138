//! GeoIP enrichment: the country, location and autonomous system of an address, from
//! MaxMind-format (`.mmdb`) databases.
//!
//! [`GeoIp::open`] reads one or more databases into memory and tells each one's [`Layout`]
//! from its records (and, for City versus Country, its metadata):
//!
//! | layout | databases | fields it gives |
//! |---|---|---|
//! | [`Layout::City`] | GeoIP2 / GeoLite2 City, GeoIP2 Enterprise | country (ISO code, English name), latitude, longitude |
//! | [`Layout::Country`] | GeoIP2 / GeoLite2 Country | country (ISO code, English name) |
//! | [`Layout::Asn`] | GeoLite2 ASN (and any database with `autonomous_system_number`) | AS number, AS organisation |
//! | [`Layout::CountryCode`] | the `country_code` records of the ip-location-db files | country ISO code (and `latitude`/`longitude` where the file has them) |
//!
//! [`GeoIp::lookup`] asks every database in the order given and merges what they say into one
//! [`Geo`]; for each field, the first database that knows it wins. Addresses that are not
//! global unicast (private, loopback, link-local, documentation, multicast...; see
//! [`is_global`]) are not looked up at all.
//!
//! # Cost
//! A lookup walks each database's search tree (at most 32 or 128 steps) and then finds the
//! record in a per-database cache keyed by the record's offset, so a record is decoded once and
//! its names are shared ([`Arc<str>`]) by every later answer: after warm-up a lookup allocates
//! nothing. The caches are bounded ([`MAX_CACHED_RECORDS`] per database). The criterion bench
//! `lookup` measures it: about 95 ns per address on the ip-location-db country file and 60 ns
//! on MaxMind's City and ASN test databases together (one core, release build), 16 ns for a
//! private address.
//!
//! # Errors
//! A missing file, a file that is not a MaxMind DB, a database whose records fail to decode
//! (a broken double, a bad pointer...) or that holds none of the fields above is a
//! [`GeoIpError`] naming the file and the reason, at [`GeoIp::open`]: it walks every network
//! of each database and decodes each distinct record once (12 ms for the 3 MB ip-location-db
//! country file), so a broken record is found at start, not on some later event.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use vigil_geoip::GeoIp;
//!
//! let mut geoip = GeoIp::open(&[PathBuf::from("GeoLite2-City.mmdb"), PathBuf::from("GeoLite2-ASN.mmdb")])?;
//! let geo = geoip.lookup("81.2.69.142".parse().unwrap())?;
//! if let Some(country) = geo.country_iso {
//!     println!("{} {:?} AS{:?}", country, geo.country_name, geo.asn);
//! }
//! # Ok::<(), vigil_geoip::GeoIpError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use maxminddb::{Reader, WithinOptions};
use serde::Deserialize;

/// Most decoded records kept per database; the cache starts over when it is full.
pub const MAX_CACHED_RECORDS: usize = 1 << 16;

/// Most distinct names (countries, AS organisations) shared between records; the table
/// starts over when it is full.
const MAX_NAMES: usize = 1 << 16;

/// What went wrong with a GeoIP database; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    /// [`GeoIp::open`] was given no database.
    #[error("no GeoIP database given")]
    NoDatabases,
    /// The file cannot be read (missing, unreadable).
    #[error("GeoIP database {}: cannot read it: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid MaxMind DB, or its records do not decode.
    #[error("GeoIP database {} is broken: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the reader found.
        reason: String,
    },
    /// The database is valid but holds none of the fields Vigil reads.
    #[error(
        "GeoIP database {} ({database_type:?}) has no country, location or AS fields in its records",
        path.display()
    )]
    UnknownLayout {
        /// The file.
        path: PathBuf,
        /// The `database_type` of its metadata.
        database_type: String,
    },
    /// Looking an address up failed (a record that does not decode).
    #[error("GeoIP database {}: lookup of {ip} failed: {reason}", path.display())]
    Lookup {
        /// The file.
        path: PathBuf,
        /// The address.
        ip: IpAddr,
        /// What the reader found.
        reason: String,
    },
}

/// The record layout of a database, told from its records when it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// GeoIP2 / GeoLite2 City (or Enterprise): `country`, `location`, ...
    City,
    /// GeoIP2 / GeoLite2 Country: `country`, `registered_country`, no location.
    Country,
    /// GeoLite2 ASN: `autonomous_system_number`, `autonomous_system_organization`.
    Asn,
    /// Flat `country_code` records (the ip-location-db files), maybe with `latitude` and
    /// `longitude`.
    CountryCode,
}

impl Layout {
    /// Lower-case name: `city`, `country`, `asn`, `country_code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::City => "city",
            Layout::Country => "country",
            Layout::Asn => "asn",
            Layout::CountryCode => "country_code",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is known of an opened database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its record layout.
    pub layout: Layout,
    /// `database_type` of its metadata (`GeoIP2-City`, `GeoLite2-ASN`, `country`...).
    pub database_type: String,
    /// 4 for an IPv4-only tree, 6 for an IPv6 tree (which holds IPv4 too).
    pub ip_version: u16,
    /// When it was built, in seconds since the Unix epoch.
    pub build_epoch: u64,
}

impl fmt::Display for DatabaseInfo {
    /// `GeoLite2-ASN.mmdb (GeoLite2-ASN, asn, IPv6)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {}, IPv{})",
            self.path.display(),
            self.database_type,
            self.layout,
            self.ip_version
        )
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case (`GB`, `JP`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Two ASCII letters, in either case; anything else is `None`.
    ///
    /// ```
    /// use vigil_geoip::CountryCode;
    /// assert_eq!(CountryCode::parse("gb").unwrap().as_str(), "GB");
    /// assert!(CountryCode::parse("GBR").is_none());
    /// assert!(CountryCode::parse("1A").is_none());
    /// ```
    pub fn parse(code: &str) -> Option<CountryCode> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => Some(CountryCode([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
            ])),
            _ => None,
        }
    }

    /// The two letters.
    pub fn as_str(&self) -> &str {
        // Built from two ASCII letters only.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

/// What the databases say about one address. Every field is `None` when no database knows it.
///
/// Cloning is cheap: the names are shared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Geo {
    /// Country ISO code (the `country`, else the `registered_country`, of the record).
    pub country_iso: Option<CountryCode>,
    /// Country name in English.
    pub country_name: Option<Arc<str>>,
    /// Latitude in degrees (WGS 84); set together with `longitude`.
    pub latitude: Option<f64>,
    /// Longitude in degrees (WGS 84); set together with `latitude`.
    pub longitude: Option<f64>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    pub as_org: Option<Arc<str>>,
}

impl Geo {
    /// Whether no field is known.
    pub fn is_empty(&self) -> bool {
        self.country_iso.is_none()
            && self.country_name.is_none()
            && self.latitude.is_none()
            && self.longitude.is_none()
            && self.asn.is_none()
            && self.as_org.is_none()
    }

    /// Fills the fields still unknown from `other`; latitude and longitude go together.
    fn merge(&mut self, other: &Geo) {
        if self.country_iso.is_none() {
            self.country_iso = other.country_iso;
            if self.country_name.is_none() {
                self.country_name.clone_from(&other.country_name);
            }
        }
        if self.latitude.is_none() && self.longitude.is_none() {
            self.latitude = other.latitude;
            self.longitude = other.longitude;
        }
        if self.asn.is_none() {
            self.asn = other.asn;
            if self.as_org.is_none() {
                self.as_org.clone_from(&other.as_org);
            }
        }
    }
}

/// Whether `ip` is worth looking up: global unicast, not private (RFC 1918, unique local),
/// shared (100.64.0.0/10), loopback, link-local, unspecified, documentation, benchmarking,
/// multicast, broadcast or reserved. An IPv4-mapped IPv6 address is judged as its IPv4
/// address.
///
/// ```
/// use vigil_geoip::is_global;
/// assert!(is_global("81.2.69.142".parse().unwrap()));
/// assert!(!is_global("192.168.1.10".parse().unwrap()));
/// assert!(!is_global("::ffff:10.0.0.1".parse().unwrap()));
/// assert!(!is_global("fd00::1".parse().unwrap()));
/// assert!(is_global("2001:218::1".parse().unwrap()));
/// ```
pub fn is_global(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(addr: Ipv4Addr) -> bool {
    let [a, b, c, _] = addr.octets();
    let special = a == 0
        || a == 10
        || a == 127
        || a >= 224
        || (a == 100 && (b & 0xC0) == 64)
        || (a == 169 && b == 254)
        || (a == 172 && (b & 0xF0) == 16)
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b & 0xFE) == 18)
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113);
    !special
}

fn is_global_v6(addr: Ipv6Addr) -> bool {
    let s = addr.segments();
    let special = addr.is_unspecified()
        || addr.is_loopback()
        || addr.is_multicast()
        || (s[0] & 0xFE00) == 0xFC00 // unique local fc00::/7
        || (s[0] & 0xFFC0) == 0xFE80 // link-local fe80::/10
        || (s[0] == 0x2001 && s[1] == 0x0DB8) // documentation 2001:db8::/32
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard 100::/64
        || s[0] == 0; // ::/16: unspecified, loopback, IPv4-compatible, mapped (handled before)
    !special
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// One or more opened databases and their caches.
pub struct GeoIp {
    databases: Vec<Database>,
    names: Names,
}

impl fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoIp")
            .field(
                "databases",
                &self.databases.iter().map(|d| &d.info).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl GeoIp {
    /// Reads every database in `paths` into memory, decodes each of its records once and tells
    /// its [`Layout`]. Lookups ask them in this order.
    ///
    /// # Errors
    /// The first database that is missing, unreadable, broken or of no known layout, as a
    /// [`GeoIpError`] naming the file; [`GeoIpError::NoDatabases`] when `paths` is empty.
    pub fn open(paths: &[PathBuf]) -> Result<GeoIp, GeoIpError> {
        if paths.is_empty() {
            return Err(GeoIpError::NoDatabases);
        }
        let databases = paths
            .iter()
            .map(|path| Database::open(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GeoIp {
            databases,
            names: Names::default(),
        })
    }

    /// The opened databases, in lookup order.
    pub fn databases(&self) -> impl ExactSizeIterator<Item = &DatabaseInfo> {
        self.databases.iter().map(|d| &d.info)
    }

    /// What the databases know of `ip`: an empty [`Geo`] when `ip` is not global (see
    /// [`is_global`]) or no database holds it.
    ///
    /// # Errors
    /// [`GeoIpError::Lookup`] when a record does not decode (which the scan at open rules
    /// out for the fields read here).
    pub fn lookup(&mut self, ip: IpAddr) -> Result<Geo, GeoIpError> {
        let ip = canonical(ip);
        let mut geo = Geo::default();
        if !is_global(ip) {
            return Ok(geo);
        }
        let GeoIp { databases, names } = self;
        for database in databases.iter_mut() {
            database.fill(ip, &mut geo, names)?;
        }
        Ok(geo)
    }
}

/// A hasher for record offsets (already well spread): one multiply.
#[derive(Default)]
struct OffsetHasher(u64);

impl Hasher for OffsetHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type OffsetMap<V> = HashMap<usize, V, BuildHasherDefault<OffsetHasher>>;

/// Names shared between records.
#[derive(Default)]
struct Names(HashMap<Box<str>, Arc<str>>);

impl Names {
    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(name) {
            return shared.clone();
        }
        if self.0.len() >= MAX_NAMES {
            self.0.clear();
        }
        let shared: Arc<str> = Arc::from(name);
        self.0.insert(Box::from(name), shared.clone());
        shared
    }
}

struct Database {
    info: DatabaseInfo,
    reader: Reader<Vec<u8>>,
    /// Decoded records by data-section offset.
    cache: OffsetMap<Geo>,
}

/// The fields Vigil reads, whatever the layout; everything else in a record is skipped.
#[derive(Debug, Default, Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    country: Option<Country<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<Country<'a>>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    city: Option<serde::de::IgnoredAny>,
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
struct Country<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
    #[serde(borrow, default)]
    names: Option<EnglishName<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct EnglishName<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
struct Location {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

impl Record<'_> {
    fn to_geo(&self, names: &mut Names) -> Geo {
        let country = self
            .country
            .as_ref()
            .filter(|c| c.iso_code.is_some())
            .or(self.registered_country.as_ref());
        let (mut country_iso, mut country_name) = (None, None);
        if let Some(country) = country {
            country_iso = country.iso_code.and_then(CountryCode::parse);
            country_name = country
                .names
                .as_ref()
                .and_then(|n| n.en)
                .map(|name| names.get(name));
        }
        if country_iso.is_none() {
            country_iso = self.country_code.and_then(CountryCode::parse);
        }
        let (latitude, longitude) = match (&self.location, self.latitude, self.longitude) {
            (
                Some(Location {
                    latitude: Some(lat),
                    longitude: Some(lon),
                }),
                _,
                _,
            ) => (Some(*lat), Some(*lon)),
            (_, Some(lat), Some(lon)) => (Some(lat), Some(lon)),
            _ => (None, None),
        };
        let valid = |lat: f64, lon: f64| {
            lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0
        };
        let (latitude, longitude) = match (latitude, longitude) {
            (Some(lat), Some(lon)) if valid(lat, lon) => (Some(lat), Some(lon)),
            _ => (None, None),
        };
        Geo {
            country_iso,
            country_name,
            latitude,
            longitude,
            asn: self.autonomous_system_number,
            as_org: self
                .autonomous_system_organization
                .map(|name| names.get(name)),
        }
    }
}

impl Database {
    fn open(path: &Path) -> Result<Database, GeoIpError> {
        let bytes = std::fs::read(path).map_err(|source| GeoIpError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |reason: String| GeoIpError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let reader = Reader::from_source(bytes).map_err(|e| invalid(e.to_string()))?;
        let metadata = reader.metadata();
        let layout =
            scan_records(&reader)
                .map_err(invalid)?
                .ok_or_else(|| GeoIpError::UnknownLayout {
                    path: path.to_path_buf(),
                    database_type: metadata.database_type.clone(),
                })?;
        let info = DatabaseInfo {
            path: path.to_path_buf(),
            layout,
            database_type: metadata.database_type.clone(),
            ip_version: metadata.ip_version,
            build_epoch: metadata.build_epoch,
        };
        Ok(Database {
            info,
            reader,
            cache: OffsetMap::default(),
        })
    }

    fn fill(&mut self, ip: IpAddr, geo: &mut Geo, names: &mut Names) -> Result<(), GeoIpError> {
        if ip.is_ipv6() && self.info.ip_version == 4 {
            return Ok(());
        }
        let lookup_error = |reason: String| GeoIpError::Lookup {
            path: self.info.path.clone(),
            ip,
            reason,
        };
        let result = self
            .reader
            .lookup(ip)
            .map_err(|e| lookup_error(e.to_string()))?;
        let Some(offset) = result.offset() else {
            return Ok(());
        };
        if let Some(part) = self.cache.get(&offset) {
            geo.merge(part);
            return Ok(());
        }
        let record: Record<'_> = result
            .decode()
            .map_err(|e| lookup_error(e.to_string()))?
            .unwrap_or_default();
        let part = record.to_geo(names);
        geo.merge(&part);
        if self.cache.len() >= MAX_CACHED_RECORDS {
            self.cache.clear();
        }
        self.cache.insert(offset, part);
        Ok(())
    }
}

/// Reads every record of the database once (by offset), so that a record that does not decode
/// is found now rather than on some later event, and tells the layout from what the records
/// hold (`None`: nothing Vigil reads). `Err` names what does not decode.
fn scan_records(reader: &Reader<Vec<u8>>) -> Result<Option<Layout>, String> {
    let (mut asn, mut geoip2, mut location, mut country_code) = (false, false, false, false);
    let mut seen: OffsetMap<()> = OffsetMap::default();
    let networks = reader
        .networks(WithinOptions::default())
        .map_err(|e| e.to_string())?;
    for item in networks {
        let result = item.map_err(|e| e.to_string())?;
        let Some(offset) = result.offset() else {
            continue;
        };
        if seen.insert(offset, ()).is_some() {
            continue;
        }
        let network = result
            .network()
            .map_or_else(|_| "?".to_string(), |n| n.to_string());
        let Some(record) = result
            .decode::<Record<'_>>()
            .map_err(|e| format!("the record of {network}: {e}"))?
        else {
            continue;
        };
        asn |= record.autonomous_system_number.is_some();
        geoip2 |= record.country.is_some() || record.registered_country.is_some();
        location |= record.location.is_some() || record.city.is_some();
        country_code |= record.country_code.is_some();
    }
    let database_type = reader.metadata().database_type.to_ascii_lowercase();
    Ok(if asn {
        Some(Layout::Asn)
    } else if geoip2 || location {
        if location || database_type.contains("city") || database_type.contains("enterprise") {
            Some(Layout::City)
        } else {
            Some(Layout::Country)
        }
    } else if country_code {
        Some(Layout::CountryCode)
    } else {
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_the_first_answer_per_field() {
        let mut geo = Geo {
            country_iso: CountryCode::parse("GB"),
            ..Geo::default()
        };
        geo.merge(&Geo {
            country_iso: CountryCode::parse("US"),
            country_name: Some(Arc::from("United States")),
            latitude: Some(1.0),
            longitude: Some(2.0),
            asn: Some(7),
            as_org: Some(Arc::from("Seven")),
        });
        assert_eq!(geo.country_iso, CountryCode::parse("GB"));
        // The name of another country is not taken.
        assert_eq!(geo.country_name, None);
        assert_eq!((geo.latitude, geo.longitude), (Some(1.0), Some(2.0)));
        assert_eq!(geo.asn, Some(7));
        assert_eq!(geo.as_org.as_deref(), Some("Seven"));
    }

    #[test]
    fn special_addresses_are_not_global() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "198.18.0.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:192.168.0.1",
        ] {
            assert!(!is_global(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "172.32.0.1",
            "8.8.8.8",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_global(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn names_are_shared() {
        let mut names = Names::default();
        let a = names.get("Germany");
        let b = names.get("Germany");
        assert!(Arc::ptr_eq(&a, &b));
    }
}
