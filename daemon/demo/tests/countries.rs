//! Attackers come from many countries: every attacker block maps, /24 by /24, to its country in
//! the shared ip-location-db database, and a generated stream's attackers resolve to at least
//! ten distinct countries there.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use common::generator;
use vigil_demo::{ATTACKER_V4_BLOCKS, CLASS_BRUTE_FORCE, CLASS_PORT_SCAN, DemoConfig};
use vigil_geoip::{CountryCode, GeoIp};

const IP_LOCATION_DB: &str = "data/mmdb/ip-location-db/geo-whois-asn-country-ipv4.mmdb";

fn database() -> Option<GeoIp> {
    let path = vigil_tests::shared_file(IP_LOCATION_DB)?;
    Some(GeoIp::open(&[path]).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn every_attacker_block_is_in_its_country() {
    let Some(mut geoip) = database() else {
        return;
    };
    let countries: BTreeSet<&str> = ATTACKER_V4_BLOCKS.iter().map(|(_, c)| *c).collect();
    assert!(countries.len() >= 10, "{countries:?}");
    for ([a, b], country) in ATTACKER_V4_BLOCKS {
        for c in 0..=255u8 {
            for d in [1, 254] {
                let ip = IpAddr::V4(Ipv4Addr::new(a, b, c, d));
                let geo = geoip.lookup(ip).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(geo.country_iso, CountryCode::parse(country), "{ip}");
            }
        }
    }
}

#[test]
fn a_days_attackers_come_from_at_least_ten_countries() {
    let Some(mut geoip) = database() else {
        return;
    };
    let config = DemoConfig {
        seed: 7,
        normal_hosts: 30,
        mean_events_per_sec: 1.0,
        duration_secs: Some(12.0 * 3600.0),
        attack_mean_gap_secs: 60.0,
        ..DemoConfig::default()
    };
    let mut attackers = BTreeSet::new();
    for event in generator(config.clone()) {
        let Some(label) = &event.label else { continue };
        if [CLASS_BRUTE_FORCE, CLASS_PORT_SCAN].contains(&&*label.class)
            && let Some(ip @ IpAddr::V4(v4)) = event.src_ip
        {
            let [a, b, ..] = v4.octets();
            assert!(
                ATTACKER_V4_BLOCKS.iter().any(|(block, _)| *block == [a, b]),
                "attacker {ip} outside the blocks"
            );
            attackers.insert(ip);
        }
    }
    let mut by_country: BTreeMap<String, usize> = BTreeMap::new();
    for ip in &attackers {
        let geo = geoip.lookup(*ip).unwrap_or_else(|e| panic!("{e}"));
        let country = geo.country_iso.map(|c| c.to_string()).unwrap_or_default();
        *by_country.entry(country).or_default() += 1;
    }
    assert!(
        by_country.len() >= 10 && !by_country.contains_key(""),
        "{} attackers: {by_country:?}",
        attackers.len()
    );
    // The same config gives the same attackers.
    let again: BTreeSet<IpAddr> = generator(config)
        .filter(|e| {
            e.label
                .as_ref()
                .is_some_and(|l| [CLASS_BRUTE_FORCE, CLASS_PORT_SCAN].contains(&&*l.class))
        })
        .filter_map(|e| e.src_ip.filter(IpAddr::is_ipv4))
        .collect();
    assert_eq!(again, attackers);
}
