//! Per-event and windowed per-source features.
//!
//! [`FeatureExtractor::extract`] turns one [`vigil_sensors::Event`] into a feature vector in
//! [`FeatureSchema`] order and returns the rule view of the event with its source's window
//! facts ([`Extracted`]), which the behaviour rules of `vigil-detectors` consume.
//!
//! # Sources
//! A source is an IPv4 address or an IPv6 address masked to `ipv6_source_prefix` bits
//! (default /64), see [`vigil_detectors::SourceId`]. Events without a source address
//! (UNSW-NB15 and NSL-KDD rows) get their per-event columns and 0 in every window column.
//!
//! # Windows, in event time
//! Only event times drive the windows: no wall clock is read anywhere, so a replay at any
//! speed gives identical features. Each source has a clock, the newest event time it has
//! counted. Its windows are `(clock - length, clock]`, one per length: the event window
//! (events), the login window (failed and successful logins), the port window (distinct
//! destination ports and addresses, destination port entropy) and the bytes window (mean
//! bytes, commands per session). An event exactly `length` older than the clock has left.
//!
//! # Late and out-of-order events
//! An event older than the newest event seen (over all sources) minus `allowed_lateness_secs`
//! is *late*: it is scored with its source's windows as they stand, is not added to them, does
//! not create a source, and is counted in [`FeatureExtractor::late_events`].
//!
//! An event that is not late but older than its source's clock (out of order) does not move
//! the clock back. It is inserted at its place in time, so it enters exactly the windows that
//! still cover its time and leaves each at the moment it would have had it arrived in order;
//! its features are the source's windows at the clock. Windows therefore never depend on the
//! order events arrive in, as long as they are within the lateness.
//!
//! # Moving baseline (for the traffic-spike rule)
//! Each source counts its events per tumbling event window (event time divided by the window
//! length; an out-of-order event counts in the window of its source's clock). When its clock
//! enters a new tumbling window the completed count `n` updates the source's baseline
//! `b <- alpha * min(n, cap(b)) + (1 - alpha) * b` (`baseline_alpha`, default 0.2), and each
//! skipped empty window multiplies it by `1 - alpha`. A new source starts from the global
//! per-source baseline: an exponentially weighted average (weight [`GLOBAL_BASELINE_ALPHA`]) of
//! every completed non-empty per-source window, capped the same way, starting at
//! [`INITIAL_GLOBAL_BASELINE`]. The baseline reported with an event is the one as of the start of
//! the current tumbling window, so a burst never raises its own bar within its window. The
//! baseline is kept in single precision (it is a rate estimate; four bytes per source matter more).
//!
//! ## Spikes are not learnt at full size
//! Like the score calibration, whose reference scores exclude alerted events, a source's baseline
//! must not simply absorb the windows in which it was spiking: otherwise a spike that spans a
//! window boundary multiplies its source's baseline, the spike threshold jumps above the count
//! still in the sliding window, the rule re-arms and fires a second time for the same burst.
//! So a completed window counts at most `cap(b) = max(spike_threshold(b), ceil(2 * max(b, 1)))`,
//! where `spike_threshold` is [`TrafficSpikeConfig::threshold`] of
//! [`FeatureConfig::baseline_spike_level`] (set it to the traffic-spike rule's configuration) and
//! `b` the baseline the window was measured against: the count at which the rule calls the
//! window a spike. Windows below it are folded in unchanged.
//!
//! A lasting change of level is still absorbed, at a bounded pace: a capped window raises the
//! baseline by at least the factor `r = 1 + alpha * (max(factor, 2) - 1)` (1.8 with the defaults,
//! never less than `1 + alpha`), so a source that settles at `L` events per window stops
//! exceeding the spike threshold within about `log(L / (factor * b)) / log(r) + 1` windows (two
//! to three windows for a tenfold change with the defaults), after which its baseline converges to
//! `L` like any moving average and the rule's episode ends.
//!
//! [`TrafficSpikeConfig::threshold`]: vigil_detectors::TrafficSpikeConfig::threshold
//!
//! # Bounded memory
//! At most `max_tracked_sources` sources have state. A hash index (keyed by the 16-byte source
//! key) maps to `u32` slots in a slab of fixed-size records threaded on an intrusive
//! least-recently-seen list (in arrival order; late events count as a sighting). Adding a source
//! to a full table evicts the least recently seen one, counted in
//! [`FeatureExtractor::evicted_sources`]. A record holds window aggregates, the inline start of
//! its distinct-port and distinct-address multisets (spilling to a small map only beyond four
//! distinct values) and a time-ordered ring of 16-byte entries (time as a 32-bit microsecond
//! offset) for its counted events within the longest window. Per source, the ring holds at most
//! `max_entries_per_source` entries (the oldest leaves early beyond it, counted in
//! [`FeatureExtractor::truncated_entries`]) and each multiset at most
//! `max_distinct_per_source` values. Destination addresses are counted by a 32-bit id: IPv4
//! exactly, IPv6 through a keyed hash.
//!
//! # Determinism
//! No randomness and no clock: hashes use fixed keys ([`FeatureConfig::hash_seed`]), and no
//! result depends on hash order.
//!
//! # Snapshots
//! [`FeatureExtractor::snapshot`] writes the whole state (every source's windows and baseline,
//! the least-recently-seen order, the counters, the newest event time, the global baseline) in
//! a versioned, checksummed little-endian encoding that names the configuration it was taken
//! under; [`FeatureExtractor::restore`] reads it back into an extractor of the same
//! configuration, which then gives bit-identical rows and [`Extracted`] values for the events
//! that follow, as if it had never stopped. Anything else is refused with a
//! [`FeatureSnapshotError`] that names the difference.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod extractor;
mod net;
mod schema;
mod snapshot;
mod source;
mod table;

pub use config::{DEFAULT_COMMON_PORTS, FeatureConfig, FeatureConfigError, MAX_WINDOW_SECS};
pub use extractor::{
    Extracted, FeatureError, FeatureExtractor, GLOBAL_BASELINE_ALPHA, INITIAL_GLOBAL_BASELINE,
};
pub use net::{AppProto, is_private};
pub use schema::{Column, FeatureSchema};
pub use snapshot::{FeatureSnapshotError, SNAPSHOT_FORMAT_VERSION};
