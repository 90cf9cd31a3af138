//! Per-event cost of a GeoIP lookup: the ip-location-db country database (IPv4, 500 k nodes)
//! on random public addresses, MaxMind's City and ASN test databases together, and a private
//! address (skipped before any tree walk). Each iteration looks up one address of a fixed,
//! seeded list of 4096, so the caches see realistic reuse of records, not one hot entry.
//!
//! `cargo bench -p vigil-geoip --bench lookup`; needs `../shared/data/mmdb`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_geoip::{GeoIp, is_global};

fn shared(rel: &str) -> Option<PathBuf> {
    vigil_tests::shared_file(&format!("data/mmdb/{rel}"))
}

/// 4096 global IPv4 addresses from a fixed xorshift sequence.
fn addresses() -> Vec<IpAddr> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(4096);
    while out.len() < 4096 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let ip = IpAddr::V4(Ipv4Addr::from((state >> 16) as u32));
        if is_global(ip) {
            out.push(ip);
        }
    }
    out
}

fn bench(c: &mut Criterion, name: &str, mut geoip: GeoIp, addrs: &[IpAddr]) {
    let mut group = c.benchmark_group("lookup");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function(name, |b| {
        b.iter(|| {
            i = (i + 1) % addrs.len();
            black_box(geoip.lookup(black_box(addrs[i])).expect("lookup"))
        })
    });
    group.finish();
}

fn lookups(c: &mut Criterion) {
    let addrs = addresses();
    if let Some(path) = shared("ip-location-db/geo-whois-asn-country-ipv4.mmdb") {
        let geoip = GeoIp::open(std::slice::from_ref(&path)).expect("opens");
        bench(c, "ip_location_db_country", geoip, &addrs);
        let geoip = GeoIp::open(&[path]).expect("opens");
        let private = [IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))];
        bench(c, "private_skipped", geoip, &private);
    }
    if let (Some(city), Some(asn)) = (
        shared("maxmind-test-data/GeoIP2-City-Test.mmdb"),
        shared("maxmind-test-data/GeoLite2-ASN-Test.mmdb"),
    ) {
        let geoip = GeoIp::open(&[city, asn]).expect("opens");
        bench(c, "maxmind_city_and_asn_test", geoip, &addrs);
    }
    if let Some(path) = shared("ip-location-db/geo-whois-asn-country-ipv4.mmdb") {
        let mut group = c.benchmark_group("open");
        group.sample_size(10);
        group.bench_function("ip_location_db_country", |b| {
            b.iter(|| GeoIp::open(std::slice::from_ref(&path)).expect("opens"))
        });
        group.finish();
    }
}

criterion_group!(benches, lookups);
criterion_main!(benches);
