//! `vigil-geoip` against the shared MaxMind-format databases (`../shared/data/mmdb`, read in
//! place): MaxMind's test databases, checked record by record against the source JSON they
//! were built from where the folder has it, the deliberately broken ones, and the
//! ip-location-db country file.

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use serde_json::Value;
use vigil_geoip::{CountryCode, Geo, GeoIp, GeoIpError, Layout, is_global};

const TEST_DATA: &str = "data/mmdb/maxmind-test-data";
const IP_LOCATION_DB: &str = "data/mmdb/ip-location-db/geo-whois-asn-country-ipv4.mmdb";

fn test_db(name: &str) -> Option<PathBuf> {
    vigil_tests::shared_file(&format!("{TEST_DATA}/{name}"))
}

fn open(paths: &[PathBuf]) -> GeoIp {
    GeoIp::open(paths).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn country(code: &str) -> Option<CountryCode> {
    Some(CountryCode::parse(code).unwrap())
}

#[test]
fn geoip2_city_test_known_addresses() {
    let (Some(city), Some(asn)) = (
        test_db("GeoIP2-City-Test.mmdb"),
        test_db("GeoLite2-ASN-Test.mmdb"),
    ) else {
        return;
    };
    let mut geoip = open(&[city, asn]);
    let layouts: Vec<Layout> = geoip.databases().map(|d| d.layout).collect();
    assert_eq!(layouts, [Layout::City, Layout::Asn]);
    assert_eq!(
        geoip.databases().next().unwrap().database_type,
        "GeoIP2-City"
    );

    // Values from MaxMind-DB source-data/GeoIP2-City-Test.json.
    let london = geoip.lookup(ip("81.2.69.142")).unwrap();
    assert_eq!(london.country_iso, country("GB"));
    assert_eq!(london.country_name.as_deref(), Some("United Kingdom"));
    assert_eq!(
        (london.latitude, london.longitude),
        (Some(51.5142), Some(-0.0931))
    );
    let tokyo = geoip.lookup(ip("2001:218::1")).unwrap();
    assert_eq!(tokyo.country_iso, country("JP"));
    assert_eq!(tokyo.country_name.as_deref(), Some("Japan"));
    assert_eq!(
        (tokyo.latitude, tokyo.longitude),
        (Some(35.68536), Some(139.75309))
    );
    let milton = geoip.lookup(ip("216.160.83.56")).unwrap();
    assert_eq!(milton.country_iso, country("US"));
    assert_eq!(
        (milton.latitude, milton.longitude),
        (Some(47.2513), Some(-122.3149))
    );
    // City and ASN merged: the AS comes from the second database
    // (GeoLite2-ASN-Test.json: 216.160.83.56/29 is AS209, no organisation).
    assert_eq!(milton.asn, Some(209));
    assert_eq!(milton.as_org, None);
    // Only the ASN database knows this one (1.128.0.0/11, Telstra).
    let telstra = geoip.lookup(ip("1.128.0.1")).unwrap();
    assert_eq!(telstra.country_iso, None);
    assert_eq!(telstra.asn, Some(1221));
    assert_eq!(telstra.as_org.as_deref(), Some("Telstra Pty Ltd"));
    // An IPv4-mapped IPv6 address is its IPv4 address.
    assert_eq!(geoip.lookup(ip("::ffff:81.2.69.142")).unwrap(), london);
    // Private and special addresses are not looked up.
    for private in ["10.0.0.1", "192.168.1.1", "127.0.0.1", "fd12::1", "::1"] {
        assert!(geoip.lookup(ip(private)).unwrap().is_empty(), "{private}");
    }
    // Not in any database.
    assert!(geoip.lookup(ip("8.8.8.8")).unwrap().is_empty());
    // Looked up again (from the cache): the same answer, the names shared.
    let again = geoip.lookup(ip("81.2.69.143")).unwrap();
    assert_eq!(again, london);
    assert!(std::sync::Arc::ptr_eq(
        again.country_name.as_ref().unwrap(),
        london.country_name.as_ref().unwrap()
    ));
}

#[test]
fn geoip2_country_test_known_addresses() {
    let Some(path) = test_db("GeoIP2-Country-Test.mmdb") else {
        return;
    };
    let mut geoip = open(&[path]);
    assert_eq!(geoip.databases().next().unwrap().layout, Layout::Country);
    let gb = geoip.lookup(ip("81.2.69.142")).unwrap();
    assert_eq!(gb.country_iso, country("GB"));
    assert_eq!(gb.country_name.as_deref(), Some("United Kingdom"));
    assert_eq!((gb.latitude, gb.longitude), (None, None));
    let jp = geoip.lookup(ip("2001:218::1")).unwrap();
    assert_eq!(jp.country_iso, country("JP"));
    assert_eq!(jp.asn, None);
}

/// A JSON network `"a.b.c.d/n"` or `"x::y/n"` as an IPv6 range (IPv4 under `::/96`).
fn network(text: &str) -> (u128, u32) {
    let (addr, len) = text.split_once('/').unwrap();
    let len: u32 = len.parse().unwrap();
    match addr.parse::<IpAddr>().unwrap() {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 96 + len),
        IpAddr::V6(v6) => (u128::from(v6), len),
    }
}

fn contains((base, len): (u128, u32), addr: u128) -> bool {
    len == 0 || (base ^ addr) >> (128 - len) == 0
}

/// The address to look up for an IPv6-range value: IPv4 for the `::/96` subtree.
fn address(value: u128) -> IpAddr {
    if value >> 32 == 0 {
        IpAddr::V4((value as u32).into())
    } else {
        IpAddr::V6(Ipv6Addr::from(value))
    }
}

/// Looks up the first and last address of every network of a MaxMind source JSON file and
/// checks the answer against the most specific network holding it; returns how many
/// addresses were checked.
fn check_against_source(
    geoip: &mut GeoIp,
    json: &PathBuf,
    expected: impl Fn(&Value) -> Geo,
) -> usize {
    let text = std::fs::read_to_string(json).unwrap();
    let entries: Vec<Value> = serde_json::from_str(&text).unwrap();
    let networks: Vec<((u128, u32), &Value)> = entries
        .iter()
        .flat_map(|entry| entry.as_object().unwrap().iter())
        .map(|(net, record)| (network(net), record))
        .collect();
    let mut checked = 0;
    for &((base, len), _) in &networks {
        let last = if len == 128 {
            base
        } else {
            base | (u128::MAX >> len)
        };
        for value in [base, last] {
            let addr = address(value);
            let most_specific = networks
                .iter()
                .filter(|(net, _)| contains(*net, value))
                .max_by_key(|((_, len), _)| *len)
                .map(|(_, record)| *record)
                .unwrap();
            let want = if is_global(addr) {
                expected(most_specific)
            } else {
                Geo::default()
            };
            let got = geoip.lookup(addr).unwrap();
            assert_eq!(got, want, "{addr} in {}", json.display());
            checked += 1;
        }
    }
    checked
}

fn str_field(value: &Value, path: &[&str]) -> Option<String> {
    let mut v = value;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str().map(str::to_string)
}

/// What a GeoIP2 / GeoLite2 City or Country record should give.
fn expected_geoip2(record: &Value) -> Geo {
    let country = if record
        .get("country")
        .and_then(|c| c.get("iso_code"))
        .is_some()
    {
        record.get("country")
    } else {
        record.get("registered_country")
    };
    let location = record.get("location");
    let lat = location
        .and_then(|l| l.get("latitude"))
        .and_then(Value::as_f64);
    let lon = location
        .and_then(|l| l.get("longitude"))
        .and_then(Value::as_f64);
    let (latitude, longitude) = match (lat, lon) {
        (Some(lat), Some(lon)) => (Some(lat), Some(lon)),
        _ => (None, None),
    };
    Geo {
        country_iso: country
            .and_then(|c| str_field(c, &["iso_code"]))
            .and_then(|code| CountryCode::parse(&code)),
        country_name: country
            .and_then(|c| str_field(c, &["names", "en"]))
            .map(Into::into),
        latitude,
        longitude,
        asn: None,
        as_org: None,
    }
}

#[test]
fn geolite2_city_and_country_match_their_source_json() {
    for (mmdb, json, layout) in [
        (
            "GeoLite2-City-Test.mmdb",
            "GeoLite2-City-Test.json",
            Layout::City,
        ),
        (
            "GeoLite2-Country-Test.mmdb",
            "GeoLite2-Country-Test.json",
            Layout::Country,
        ),
    ] {
        let (Some(mmdb), Some(json)) = (test_db(mmdb), test_db(json)) else {
            return;
        };
        let mut geoip = open(&[mmdb]);
        assert_eq!(geoip.databases().next().unwrap().layout, layout);
        let checked = check_against_source(&mut geoip, &json, expected_geoip2);
        assert!(checked > 100, "{checked} addresses checked");
    }
}

#[test]
fn geolite2_asn_matches_its_source_json() {
    let (Some(mmdb), Some(json)) = (
        test_db("GeoLite2-ASN-Test.mmdb"),
        test_db("GeoLite2-ASN-Test.json"),
    ) else {
        return;
    };
    let mut geoip = open(&[mmdb]);
    assert_eq!(geoip.databases().next().unwrap().layout, Layout::Asn);
    let checked = check_against_source(&mut geoip, &json, |record| Geo {
        asn: record
            .get("autonomous_system_number")
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap()),
        as_org: str_field(record, &["autonomous_system_organization"]).map(Into::into),
        ..Geo::default()
    });
    assert!(checked > 1000, "{checked} addresses checked");
}

#[test]
fn ip_location_db_well_known_addresses() {
    let Some(path) = vigil_tests::shared_file(IP_LOCATION_DB) else {
        return;
    };
    let mut geoip = open(&[path]);
    let info = geoip.databases().next().unwrap().clone();
    assert_eq!(info.layout, Layout::CountryCode);
    assert_eq!(info.ip_version, 4);
    for (addr, code) in [
        ("8.8.8.8", "US"),      // Google Public DNS
        ("1.1.1.1", "AU"),      // APNIC research prefix (Cloudflare DNS)
        ("193.0.0.1", "NL"),    // RIPE NCC, Amsterdam
        ("202.12.27.33", "JP"), // M root server, WIDE
        ("200.160.0.8", "BR"),  // NIC.br
        ("139.130.4.5", "AU"),  // Telstra
        ("81.2.69.142", "GB"),
    ] {
        let geo = geoip.lookup(ip(addr)).unwrap();
        assert_eq!(geo.country_iso, country(code), "{addr}");
        // The file has country codes only.
        assert_eq!(
            (geo.country_name, geo.latitude, geo.asn),
            (None, None, None),
            "{addr}"
        );
    }
    // An IPv4-only database answers nothing for IPv6, without an error.
    assert!(geoip.lookup(ip("2001:218::1")).unwrap().is_empty());
}

#[test]
fn broken_databases_are_errors_naming_the_file() {
    for name in [
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
    ] {
        let Some(path) = test_db(name) else {
            return;
        };
        let error = GeoIp::open(&[path]).unwrap_err();
        assert!(
            matches!(error, GeoIpError::Invalid { .. }),
            "{name}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.contains(name), "{message}");
        assert!(message.contains("broken"), "{message}");
    }
    // The double of a record's location is what is broken there: the message says which.
    if let Some(path) = test_db("GeoIP2-City-Test-Broken-Double-Format.mmdb") {
        let message = GeoIp::open(&[path]).unwrap_err().to_string();
        assert!(message.contains("double"), "{message}");
    }
    // Not a MaxMind DB at all.
    if let Some(path) = test_db("GeoLite2-ASN-Test.json") {
        let message = GeoIp::open(&[path]).unwrap_err().to_string();
        assert!(message.contains("GeoLite2-ASN-Test.json"), "{message}");
    }
}

#[test]
fn a_missing_database_is_an_error_naming_the_file() {
    let Some(good) = test_db("GeoIP2-Country-Test.mmdb") else {
        return;
    };
    let missing = good.with_file_name("No-Such-Database.mmdb");
    // One bad database among good ones fails the whole set.
    let error = GeoIp::open(&[good, missing]).unwrap_err();
    assert!(matches!(error, GeoIpError::Read { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("No-Such-Database.mmdb"), "{message}");
    assert!(message.contains("cannot read"), "{message}");
    assert!(matches!(
        GeoIp::open(&[]).unwrap_err(),
        GeoIpError::NoDatabases
    ));
}
