//! Suppressions and the allowlist: alerts the alert stage drops, counting them instead.
//!
//! The allowlist (`[alerts] allowlist`, CIDRs from the config) names sources Vigil never
//! alerts on. Suppressions are an analyst's: a source CIDR, optionally one detector, until an
//! optional time (compared with the event's time, like everything else on the data path),
//! and a reason. They live in the state store (`Store::put_suppression`), are loaded at
//! start, and are changed through the API; the alert stage reads them once per batch.
//!
//! Detectors still score and learn these events: the decision to drop happens in the alert
//! stage, after the detector stage decided. Dropped findings are counted by reason
//! (`allowlist`, or the suppression's reason) and by suppression.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vigil_state::Store;

/// The reason under which allowlisted findings are counted.
pub const ALLOWLIST_REASON: &str = "allowlist";

/// Most suppressions held at once.
pub const MAX_SUPPRESSIONS: usize = 10_000;

/// Longest `reason` accepted, in bytes.
pub const MAX_REASON_BYTES: usize = 512;

/// Longest `detector` accepted, in bytes.
pub const MAX_DETECTOR_BYTES: usize = 64;

/// A value that is not a CIDR (`192.0.2.0/24`, `2001:db8::/32`, or a bare address).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a CIDR: {reason}")]
pub struct CidrError {
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A network: an address and a prefix length. A bare address is a network of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network address (host bits cleared).
    network: IpAddr,
    /// Leading bits that must match.
    prefix: u8,
}

impl Cidr {
    /// The network `addr/prefix`, host bits cleared.
    ///
    /// # Errors
    /// A prefix longer than the address (32 for IPv4, 128 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Cidr, CidrError> {
        let bits = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > bits {
            return Err(CidrError {
                value: format!("{addr}/{prefix}"),
                reason: "the prefix length is longer than the address",
            });
        }
        let network = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(prefix))),
        };
        Ok(Cidr { network, prefix })
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in the network. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`)
    /// is taken as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(value: &str) -> Result<Cidr, CidrError> {
        let error = |reason| CidrError {
            value: value.to_string(),
            reason,
        };
        let (addr, prefix) = match value.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (value, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| error("the part before `/` is not an IP address"))?;
        let bits = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix {
            None => bits,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .map_err(|_| error("the prefix length is not a number"))?,
            Some(_) => return Err(error("the prefix length is not a number")),
        };
        if prefix > bits {
            return Err(error(if bits == 32 {
                "an IPv4 prefix length is at most 32"
            } else {
                "an IPv6 prefix length is at most 128"
            }));
        }
        Cidr::new(addr, prefix)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Cidr, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An analyst's suppression: alerts from `src_cidr` (by `detector`, when given) raised for
/// events before `until` (when given) are dropped and counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suppression {
    /// Its id (the store's name for it).
    pub id: String,
    /// The sources it covers.
    pub src_cidr: Cidr,
    /// The only detector or rule it covers; `None`: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    /// It covers events before this time; `None`: for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Why; dropped alerts are counted under it.
    pub reason: String,
    /// When it was created (wall time).
    pub created_at: DateTime<Utc>,
}

impl Suppression {
    /// Whether it drops an alert of `detector` for an event from `src_ip` at `event_time`.
    pub fn matches(&self, src_ip: IpAddr, detector: &str, event_time: DateTime<Utc>) -> bool {
        self.src_cidr.contains(src_ip)
            && self.detector.as_deref().is_none_or(|d| d == detector)
            && self.until.is_none_or(|until| event_time < until)
    }
}

/// Why the alert stage dropped a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Its source is on the allowlist.
    Allowlisted,
    /// A suppression (its index in the screen) covers it.
    Suppressed(usize),
}

/// Counts of dropped findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DropCounts {
    /// By reason: `allowlist`, or a suppression's reason.
    pub by_reason: BTreeMap<String, u64>,
    /// By suppression id.
    pub by_suppression: BTreeMap<String, u64>,
}

/// What the alert stage drops: the allowlist, the suppressions, and the counts.
///
/// Shared between the alert stage (reads once per batch) and the API (changes).
#[derive(Debug, Default)]
pub struct AlertFilter {
    /// Replaced whole by a config reload, between two batches.
    allowlist: RwLock<Arc<[Cidr]>>,
    suppressions: RwLock<Vec<Suppression>>,
    counts: Mutex<DropCounts>,
}

impl AlertFilter {
    /// A filter with `allowlist` and no suppressions.
    pub fn new(allowlist: Vec<Cidr>) -> AlertFilter {
        AlertFilter {
            allowlist: RwLock::new(allowlist.into()),
            ..AlertFilter::default()
        }
    }

    /// A filter with `allowlist` and the suppressions stored in `store`. A stored
    /// suppression that does not read back is logged and left out.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn load(
        allowlist: Vec<Cidr>,
        store: &Store,
    ) -> Result<AlertFilter, vigil_state::StateError> {
        let filter = AlertFilter::new(allowlist);
        let mut held = Vec::new();
        for (name, bytes) in store.suppressions()? {
            match serde_json::from_slice::<Suppression>(&bytes) {
                Ok(suppression) if suppression.id == name => held.push(suppression),
                Ok(suppression) => tracing::warn!(
                    "stored suppression {name:?} carries id {:?}; left out",
                    suppression.id
                ),
                Err(error) => {
                    tracing::warn!(
                        "stored suppression {name:?} does not read back ({error}); left out"
                    )
                }
            }
        }
        held.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        if !held.is_empty() {
            tracing::info!(suppressions = held.len(), "suppressions loaded");
        }
        *filter.write() = held;
        Ok(filter)
    }

    /// The allowlist.
    pub fn allowlist(&self) -> Arc<[Cidr]> {
        self.allowlist
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the allowlist (a config reload); screens taken from now on use it.
    pub fn set_allowlist(&self, allowlist: Vec<Cidr>) {
        *self
            .allowlist
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = allowlist.into();
    }

    /// Every suppression, in creation order.
    pub fn suppressions(&self) -> Vec<Suppression> {
        self.read().clone()
    }

    /// Adds or replaces (by id) a suppression. Returns `false`, adding nothing, when
    /// [`MAX_SUPPRESSIONS`] are held already.
    pub fn insert(&self, suppression: Suppression) -> bool {
        let mut held = self.write();
        if let Some(slot) = held.iter_mut().find(|s| s.id == suppression.id) {
            *slot = suppression;
            return true;
        }
        if held.len() >= MAX_SUPPRESSIONS {
            return false;
        }
        held.push(suppression);
        true
    }

    /// Removes suppression `id`; returns it, if it was held.
    pub fn remove(&self, id: &str) -> Option<Suppression> {
        let mut held = self.write();
        let index = held.iter().position(|s| s.id == id)?;
        Some(held.remove(index))
    }

    /// How many suppressions are held.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no suppression is held.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// What was dropped so far.
    pub fn counts(&self) -> DropCounts {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A view for one batch: the suppressions as they stand, and local counts added to the
    /// totals when it drops.
    pub fn screen(&self) -> Screen<'_> {
        Screen {
            filter: self,
            allowlist: self.allowlist(),
            suppressions: self.read(),
            allowlisted: 0,
            suppressed: Vec::new(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Vec<Suppression>> {
        self.suppressions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Suppression>> {
        self.suppressions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The filter as one batch sees it (see [`AlertFilter::screen`]).
pub struct Screen<'a> {
    filter: &'a AlertFilter,
    allowlist: Arc<[Cidr]>,
    suppressions: RwLockReadGuard<'a, Vec<Suppression>>,
    allowlisted: u64,
    /// Drops per suppression index.
    suppressed: Vec<u64>,
}

impl Screen<'_> {
    /// Whether an alert of `detector` for an event from `src_ip` at `event_time` is dropped,
    /// and why; a drop is counted. Alerts without a source address are never dropped.
    pub fn check(
        &mut self,
        src_ip: Option<IpAddr>,
        detector: &str,
        event_time: DateTime<Utc>,
    ) -> Option<Dropped> {
        let ip = src_ip?;
        if self.allowlist.iter().any(|cidr| cidr.contains(ip)) {
            self.allowlisted += 1;
            return Some(Dropped::Allowlisted);
        }
        let index = self
            .suppressions
            .iter()
            .position(|s| s.matches(ip, detector, event_time))?;
        if self.suppressed.len() <= index {
            self.suppressed.resize(index + 1, 0);
        }
        self.suppressed[index] += 1;
        Some(Dropped::Suppressed(index))
    }

    /// Whether nothing could be dropped (no allowlist, no suppression).
    pub fn is_empty(&self) -> bool {
        self.allowlist.is_empty() && self.suppressions.is_empty()
    }
}

impl Drop for Screen<'_> {
    fn drop(&mut self) {
        if self.allowlisted == 0 && self.suppressed.iter().all(|n| *n == 0) {
            return;
        }
        let mut counts = self
            .filter
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.allowlisted > 0 {
            *counts
                .by_reason
                .entry(ALLOWLIST_REASON.to_string())
                .or_default() += self.allowlisted;
        }
        for (index, n) in self.suppressed.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let suppression = &self.suppressions[index];
            *counts
                .by_reason
                .entry(suppression.reason.clone())
                .or_default() += n;
            *counts
                .by_suppression
                .entry(suppression.id.clone())
                .or_default() += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a time")
            .with_timezone(&Utc)
    }

    fn suppression(
        id: &str,
        cidr: &str,
        detector: Option<&str>,
        until: Option<&str>,
    ) -> Suppression {
        Suppression {
            id: id.to_string(),
            src_cidr: cidr.parse().expect("a CIDR"),
            detector: detector.map(str::to_string),
            until: until.map(time),
            reason: format!("reason {id}"),
            created_at: time("2026-01-01T00:00:00Z"),
        }
    }

    #[test]
    fn cidrs_parse_clear_host_bits_and_match() {
        let net: Cidr = "192.0.2.77/24".parse().expect("parses");
        assert_eq!(net.to_string(), "192.0.2.0/24");
        assert!(net.contains(ip("192.0.2.1")));
        assert!(net.contains(ip("::ffff:192.0.2.200")));
        assert!(!net.contains(ip("192.0.3.1")));
        assert!(!net.contains(ip("2001:db8::1")));
        let host: Cidr = "203.0.113.7".parse().expect("parses");
        assert_eq!(host.prefix(), 32);
        assert!(host.contains(ip("203.0.113.7")));
        assert!(!host.contains(ip("203.0.113.8")));
        let all: Cidr = "0.0.0.0/0".parse().expect("parses");
        assert!(all.contains(ip("198.51.100.1")));
        let v6: Cidr = "2001:db8::1/32".parse().expect("parses");
        assert_eq!(v6.to_string(), "2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let all6: Cidr = "::/0".parse().expect("parses");
        assert!(all6.contains(ip("2001:db9::1")));
    }

    #[test]
    fn bad_cidrs_are_refused_naming_the_value() {
        for bad in [
            "",
            "192.0.2.0/33",
            "2001:db8::/129",
            "192.0.2.0/",
            "192.0.2.0/-1",
            "192.0.2.0/+8",
            "192.0.2/24",
            "example.com/24",
            "192.0.2.0/24/8",
        ] {
            let error = bad.parse::<Cidr>().expect_err(bad);
            assert_eq!(error.value, bad);
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn cidrs_round_trip_through_json() {
        let net: Cidr = "10.1.0.0/16".parse().expect("parses");
        let text = serde_json::to_string(&net).expect("serialises");
        assert_eq!(text, "\"10.1.0.0/16\"");
        assert_eq!(serde_json::from_str::<Cidr>(&text).expect("reads"), net);
        assert!(serde_json::from_str::<Cidr>("\"10.1.0.0/40\"").is_err());
    }

    #[test]
    fn suppressions_match_source_detector_and_event_time() {
        let s = suppression(
            "a",
            "192.0.2.0/24",
            Some("brute_force"),
            Some("2026-03-01T12:00:00Z"),
        );
        let before = time("2026-03-01T11:59:59Z");
        assert!(s.matches(ip("192.0.2.9"), "brute_force", before));
        assert!(!s.matches(ip("192.0.2.9"), "port_scan", before));
        assert!(!s.matches(ip("198.51.100.9"), "brute_force", before));
        assert!(!s.matches(ip("192.0.2.9"), "brute_force", time("2026-03-01T12:00:00Z")));
        let any = suppression("b", "192.0.2.9", None, None);
        assert!(any.matches(ip("192.0.2.9"), "pool", time("2099-01-01T00:00:00Z")));
    }

    #[test]
    fn the_screen_drops_and_counts_by_reason_and_suppression() {
        let filter = AlertFilter::new(vec!["10.0.0.0/8".parse().expect("CIDR")]);
        assert!(filter.insert(suppression("a", "192.0.2.0/24", None, None)));
        assert!(filter.insert(suppression("b", "198.51.100.0/24", Some("port_scan"), None)));
        let t = time("2026-03-01T00:00:00Z");
        {
            let mut screen = filter.screen();
            assert_eq!(
                screen.check(Some(ip("10.2.3.4")), "pool", t),
                Some(Dropped::Allowlisted)
            );
            assert_eq!(
                screen.check(Some(ip("192.0.2.5")), "pool", t),
                Some(Dropped::Suppressed(0))
            );
            assert_eq!(
                screen.check(Some(ip("192.0.2.6")), "brute_force", t),
                Some(Dropped::Suppressed(0))
            );
            assert_eq!(screen.check(Some(ip("198.51.100.1")), "pool", t), None);
            assert_eq!(
                screen.check(Some(ip("198.51.100.1")), "port_scan", t),
                Some(Dropped::Suppressed(1))
            );
            assert_eq!(screen.check(None, "pool", t), None);
            assert_eq!(screen.check(Some(ip("203.0.113.1")), "pool", t), None);
        }
        let counts = filter.counts();
        assert_eq!(counts.by_reason.get(ALLOWLIST_REASON), Some(&1));
        assert_eq!(counts.by_reason.get("reason a"), Some(&2));
        assert_eq!(counts.by_reason.get("reason b"), Some(&1));
        assert_eq!(counts.by_suppression.get("a"), Some(&2));
        assert_eq!(counts.by_suppression.get("b"), Some(&1));
        assert_eq!(filter.remove("a").map(|s| s.id), Some("a".to_string()));
        assert!(filter.remove("a").is_none());
        let mut screen = filter.screen();
        assert_eq!(screen.check(Some(ip("192.0.2.5")), "pool", t), None);
    }

    #[test]
    fn insert_replaces_by_id_and_stops_at_the_cap() {
        let filter = AlertFilter::default();
        for i in 0..MAX_SUPPRESSIONS {
            assert!(filter.insert(suppression(&format!("s{i}"), "192.0.2.1", None, None)));
        }
        assert!(!filter.insert(suppression("one-more", "192.0.2.1", None, None)));
        assert!(filter.insert(suppression("s7", "192.0.2.2", None, None)));
        assert_eq!(filter.len(), MAX_SUPPRESSIONS);
        assert_eq!(
            filter.suppressions()[7].src_cidr,
            "192.0.2.2".parse::<Cidr>().expect("CIDR")
        );
    }

    #[test]
    fn stored_suppressions_load_and_bad_ones_are_left_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), &vigil_state::StoreOptions::default()).expect("store");
        let good = suppression("good", "192.0.2.0/24", None, None);
        store
            .put_suppression("good", &serde_json::to_vec(&good).expect("json"))
            .expect("stored");
        store.put_suppression("bad", b"{not json").expect("stored");
        let misnamed = suppression("other", "192.0.2.0/24", None, None);
        store
            .put_suppression("misnamed", &serde_json::to_vec(&misnamed).expect("json"))
            .expect("stored");
        // Loaded in creation order, whatever their ids.
        let mut earlier = suppression("zzz", "198.51.100.0/24", None, None);
        earlier.created_at = time("2025-12-31T00:00:00Z");
        store
            .put_suppression("zzz", &serde_json::to_vec(&earlier).expect("json"))
            .expect("stored");
        let filter = AlertFilter::load(Vec::new(), &store).expect("loads");
        assert_eq!(filter.suppressions(), vec![earlier, good]);
    }
}
