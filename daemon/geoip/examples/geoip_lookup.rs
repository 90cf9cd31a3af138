//! Looks addresses up: `geoip_lookup <db.mmdb>[,<db.mmdb>...] <ip>...`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let paths: Vec<PathBuf> = args
        .next()
        .ok_or("usage: geoip_lookup <db.mmdb>[,<db.mmdb>...] <ip>...")?
        .split(',')
        .map(PathBuf::from)
        .collect();
    let mut geoip = vigil_geoip::GeoIp::open(&paths)?;
    for info in geoip.databases() {
        println!("# {info}");
    }
    for ip in args {
        let geo = geoip.lookup(ip.parse()?)?;
        println!("{ip}\t{geo:?}");
    }
    Ok(())
}
