//! The feature extractor: per-event columns plus per-source window columns.

use std::net::IpAddr;

use vigil_detectors::{EventView, SourceId, SourceWindow};
use vigil_sensors::{
    Direction, Event, EventKind, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, Transport,
};

use crate::config::{FeatureConfig, FeatureConfigError};
use crate::net::{AppProto, is_private};
use crate::schema::{Column, FeatureSchema};
use crate::snapshot::{FeatureSnapshotError, Reader, Writer, check_config, write_config};
use crate::source::{Counts, NewEntry, SourceState, WindowParams, flag};
use crate::table::SourceTable;

/// Weight of each completed non-empty per-source window (capped like the source's own
/// baseline) in the global per-source baseline that seeds new sources.
pub const GLOBAL_BASELINE_ALPHA: f64 = 0.01;

/// The global per-source baseline before any source has completed a window: one event per
/// event window.
pub const INITIAL_GLOBAL_BASELINE: f64 = 1.0;

const MICROS_PER_SEC: i64 = 1_000_000;
/// Counts below this take `ln(1 + n)` from a table (the same values `f64::ln_1p` gives).
const LN1P_TABLE: usize = 4096;
const SECS_PER_DAY: i64 = 86_400;

/// A feature-extraction failure caused by the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeatureError {
    /// The output slice does not have one slot per schema column.
    #[error("feature output has {got} slots, the schema has {expected} columns")]
    DimensionMismatch {
        /// Columns in the schema.
        expected: usize,
        /// Slots in the slice passed in.
        got: usize,
    },
}

/// What [`FeatureExtractor::extract`] learned about one event besides its feature vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extracted {
    /// The event as the behaviour rules see it.
    pub view: EventView,
    /// The source's window facts for the rules.
    pub window: SourceWindow,
    /// The event was late (also in `window.late`).
    pub late: bool,
}

/// Turns events into feature vectors, keeping bounded per-source windows in event time.
///
/// See the crate documentation for the window semantics, late and out-of-order events, the
/// moving baseline and the memory layout.
///
/// ```
/// use std::sync::Arc;
/// use vigil_features::{Column, FeatureConfig, FeatureExtractor};
/// use vigil_sensors::{Event, EventKind, Origin, Sensor};
///
/// let mut fx = FeatureExtractor::new(FeatureConfig::default())?;
/// let mut row = vec![0.0; fx.dim()];
/// let origin = Origin { source: Arc::from("cowrie.json"), offset: 0, round: 0 };
/// let mut last = None;
/// for second in 0..3 {
///     let time = chrono::DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap_or_default();
///     let mut event = Event::new(time, Sensor::Cowrie, Arc::from("hp1"), EventKind::LoginFailed, origin.clone());
///     event.src_ip = Some("203.0.113.7".parse()?);
///     event.dst_port = Some(22);
///     last = Some(fx.extract(&event, &mut row)?);
/// }
/// let window = last.map(|x| x.window).unwrap_or_default();
/// assert_eq!((window.events, window.failed_logins, window.distinct_dst_ports), (3, 3, 1));
/// assert_eq!(row[Column::SrcFailedLoginsLog1p.index()], 3f64.ln_1p());
/// assert_eq!(fx.tracked_sources(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FeatureExtractor {
    config: FeatureConfig,
    schema: FeatureSchema,
    params: WindowParams,
    table: SourceTable,
    common_ports: Box<[u64; 1024]>,
    dst_hasher: ahash::RandomState,
    lateness_micros: i64,
    event_window_micros: i64,
    utc_offset_secs: i64,
    newest_micros: Option<i64>,
    global_baseline: f64,
    late_events: u64,
    truncated_entries: u64,
    ln1p_counts: Box<[f64]>,
    /// `(second of day, sin, cos)` of the last event: most events share their second.
    day_angle: (i64, f64, f64),
}

impl FeatureExtractor {
    /// Builds an extractor after validating `config`.
    pub fn new(config: FeatureConfig) -> Result<FeatureExtractor, FeatureConfigError> {
        config.validate()?;
        let params = WindowParams::new(
            [
                config.event_window_secs,
                config.login_window_secs,
                config.port_window_secs,
                config.bytes_window_secs,
            ],
            config.max_entries_per_source,
            config.max_distinct_per_source,
        );
        let mut common_ports = Box::new([0u64; 1024]);
        for &port in &config.common_ports {
            common_ports[usize::from(port >> 6)] |= 1 << (port & 63);
        }
        let seed = config.hash_seed;
        Ok(FeatureExtractor {
            table: SourceTable::new(config.max_tracked_sources, seed),
            dst_hasher: ahash::RandomState::with_seeds(
                seed ^ 0x6473_742d_6964,
                seed.rotate_left(29),
                0x243f_6a88_85a3_08d3,
                0x1319_8a2e_0370_7344,
            ),
            lateness_micros: i64::from(config.allowed_lateness_secs) * MICROS_PER_SEC,
            event_window_micros: i64::from(config.event_window_secs) * MICROS_PER_SEC,
            utc_offset_secs: i64::from(config.utc_offset_minutes) * 60,
            params,
            common_ports,
            schema: FeatureSchema::new(),
            config,
            newest_micros: None,
            global_baseline: INITIAL_GLOBAL_BASELINE,
            late_events: 0,
            truncated_entries: 0,
            ln1p_counts: (0..LN1P_TABLE).map(|n| (n as f64).ln_1p()).collect(),
            day_angle: (0, 0.0, 1.0),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// The schema of the vectors this extractor writes.
    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// Length of a feature vector.
    pub fn dim(&self) -> usize {
        self.schema.dim()
    }

    /// Sources with window state now.
    pub fn tracked_sources(&self) -> usize {
        self.table.len()
    }

    /// Sources evicted (least recently seen first) to stay within `max_tracked_sources`.
    pub fn evicted_sources(&self) -> u64 {
        self.table.evicted()
    }

    /// Late events seen: scored with their source's windows as they were, not added to them.
    pub fn late_events(&self) -> u64 {
        self.late_events
    }

    /// Window entries that left early because their source held `max_entries_per_source`.
    pub fn truncated_entries(&self) -> u64 {
        self.truncated_entries
    }

    /// The newest event time seen (microseconds since the epoch), which lateness is judged from.
    pub fn newest_event_micros(&self) -> Option<i64> {
        self.newest_micros
    }

    /// The global per-source baseline of events per event window that seeds new sources.
    pub fn global_baseline(&self) -> f64 {
        self.global_baseline
    }

    /// The extractor's complete state as bytes, for a checkpoint: restoring them with
    /// [`restore`](Self::restore) into an extractor of the same configuration and feeding both
    /// the same events gives bit-identical feature rows, [`Extracted`] values and counters.
    ///
    /// The snapshot carries every source's windows (entries, cursors, aggregates, multisets,
    /// port entropy accumulator, clock), its moving baseline and tumbling window, the
    /// least-recently-seen order with the slot numbers, the evicted, late and truncated
    /// counters, the newest event time and the global baseline. What follows from the
    /// configuration (lookup tables, hash keys) is rebuilt, as is the memo of the last time of
    /// day's sine and cosine (a pure function of its second).
    ///
    /// Format (version [`SNAPSHOT_FORMAT_VERSION`](crate::SNAPSHOT_FORMAT_VERSION)): the magic
    /// `VGLFEATS`, a `u16` version, the `u64` total length, the configuration identity (every
    /// [`FeatureConfig`] field and the schema's dimension), the state, little-endian, and a
    /// 64-bit FNV-1a checksum of everything before it. Equal states give equal bytes.
    ///
    /// ```
    /// use vigil_features::{FeatureConfig, FeatureExtractor};
    /// let fx = FeatureExtractor::new(FeatureConfig::default())?;
    /// let bytes = fx.snapshot();
    /// let mut resumed = FeatureExtractor::new(FeatureConfig::default())?;
    /// resumed.restore(&bytes)?;
    /// assert_eq!(resumed.snapshot(), bytes);
    ///
    /// let mut other = FeatureExtractor::new(FeatureConfig { port_window_secs: 120, ..FeatureConfig::default() })?;
    /// assert_eq!(
    ///     other.restore(&bytes).unwrap_err().to_string(),
    ///     "feature snapshot was taken with port_window_secs = 60, this extractor has port_window_secs = 120"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = Writer::new();
        write_config(&mut w, &self.config, self.schema.dim());
        match self.newest_micros {
            None => w.u8(0),
            Some(newest) => {
                w.u8(1);
                w.i64(newest);
            }
        }
        w.f64(self.global_baseline);
        w.u64(self.late_events);
        w.u64(self.truncated_entries);
        self.table.write(&mut w);
        w.finish()
    }

    /// Replaces the extractor's state with a [`snapshot`](Self::snapshot).
    ///
    /// # Errors
    /// Bytes that are not a feature snapshot, another format version, a length or checksum
    /// that does not match, a snapshot taken under another configuration (the error names the
    /// first field that differs, with both values), or contents the extractor can never hold.
    /// On error the extractor is left exactly as it was.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), FeatureSnapshotError> {
        let mut r = Reader::open(bytes)?;
        check_config(&mut r, &self.config, self.schema.dim())?;
        let newest_micros = match r.u8("newest event time flag")? {
            0 => None,
            1 => Some(r.i64("newest event time")?),
            other => {
                return Err(FeatureSnapshotError::corrupt(
                    "newest event time flag",
                    other,
                    "it must be 0 or 1",
                ));
            }
        };
        let global_baseline = r.f64("global baseline")?;
        if !(global_baseline.is_finite() && global_baseline >= 0.0) {
            return Err(FeatureSnapshotError::corrupt(
                "global baseline",
                global_baseline,
                "it is a finite, non-negative number",
            ));
        }
        let late_events = r.u64("late event count")?;
        let truncated_entries = r.u64("truncated entry count")?;
        let table = SourceTable::read(
            &mut r,
            self.config.max_tracked_sources,
            self.config.hash_seed,
            &self.params,
        )?;
        r.end()?;
        // Every source clock is the time of an event that was not late, so the newest event
        // time is at least each of them.
        if let Some(clock) = table.newest_clock()
            && newest_micros.is_none_or(|newest| newest < clock)
        {
            return Err(FeatureSnapshotError::corrupt(
                "newest event time",
                format!("{newest_micros:?}"),
                format!("it must be at least every source's clock, up to {clock}"),
            ));
        }
        self.table = table;
        self.newest_micros = newest_micros;
        self.global_baseline = global_baseline;
        self.late_events = late_events;
        self.truncated_entries = truncated_entries;
        Ok(())
    }

    /// The source an address belongs to under this configuration.
    pub fn source_of(&self, ip: IpAddr) -> SourceId {
        SourceId::new(ip, self.config.ipv6_source_prefix)
    }

    /// Writes the feature vector of `event` into `out` (one slot per schema column), updates
    /// its source's windows, and returns the rule view of the event and its source window.
    ///
    /// Errors only when `out` has the wrong length; nothing about the event can make it fail.
    pub fn extract(&mut self, event: &Event, out: &mut [f64]) -> Result<Extracted, FeatureError> {
        if out.len() != self.schema.dim() {
            return Err(FeatureError::DimensionMismatch {
                expected: self.schema.dim(),
                got: out.len(),
            });
        }
        let time = event.event_time.timestamp_micros();
        let late = match self.newest_micros {
            Some(newest) => time < newest.saturating_sub(self.lateness_micros),
            None => false,
        };
        if late {
            self.late_events += 1;
        } else {
            self.newest_micros = Some(self.newest_micros.map_or(time, |n| n.max(time)));
        }

        out.fill(0.0);
        self.write_event_columns(event, time, out);

        let source = event.src_ip.map(|ip| self.source_of(ip));
        let mut window = SourceWindow {
            late,
            event_window_secs: self.config.event_window_secs,
            login_window_secs: self.config.login_window_secs,
            port_window_secs: self.config.port_window_secs,
            ..SourceWindow::default()
        };
        if let Some(source) = source {
            let (counts, counted, port_new) = if late {
                self.observe_late(source)
            } else {
                self.observe(source, event, time)
            };
            window.tracked = true;
            window.counted = counted;
            window.port_new_in_window = port_new;
            window.events = counts.events;
            window.failed_logins = counts.failed_logins;
            window.successful_logins = counts.successful_logins;
            window.distinct_dst_ports = counts.distinct_ports;
            window.distinct_dst_ips = counts.distinct_ips;
            window.baseline_events = counts.baseline;
            self.write_window_columns(&counts, port_new, out);
        }

        let failed_login = event.kind == EventKind::LoginFailed;
        Ok(Extracted {
            view: EventView {
                time_micros: time,
                src_ip: event.src_ip,
                source,
                dst_port: event.dst_port,
                failed_login,
                login: failed_login || event.kind == EventKind::LoginSuccess,
                tcp_syn: event.tcp_flags.is_some_and(|f| f & 0x02 != 0),
                duration_secs: event.duration_secs,
            },
            window,
            late,
        })
    }

    /// A late event: its source's windows as they stand, untouched (but the source counts as
    /// seen for eviction). An unknown source is not created for it.
    fn observe_late(&mut self, source: SourceId) -> (Counts, bool, bool) {
        let counts = self
            .table
            .find(source.key())
            .and_then(|slot| self.table.get_mut(slot))
            .map(|s| s.counts())
            .unwrap_or_default();
        (counts, false, false)
    }

    fn observe(&mut self, source: SourceId, event: &Event, time: i64) -> (Counts, bool, bool) {
        let bucket = self.bucket_of(time);
        let seed = self.global_baseline;
        let key = source.key();
        let slot = self
            .table
            .find_or_insert(key, || SourceState::new(key, seed, bucket));
        let new = NewEntry {
            time,
            kind_flags: kind_flags(event.kind),
            port: event.dst_port,
            dst: event.dst_ip.map(|ip| self.dst_id(ip)),
            bytes: match (event.bytes_out, event.bytes_in) {
                (None, None) => None,
                (o, i) => Some(
                    u32::try_from(o.unwrap_or(0).saturating_add(i.unwrap_or(0)))
                        .unwrap_or(u32::MAX),
                ),
            },
        };
        let event_window = self.event_window_micros;
        let alpha = self.config.baseline_alpha;
        let Some(state) = self.table.get_mut(slot) else {
            return (Counts::default(), false, false);
        };
        state.advance(time, &self.params);
        // The tumbling window follows the source's clock, which out-of-order events never
        // move back.
        let clock_bucket = bucket_index(state.clock(), event_window);
        let roll = state.roll_baseline(clock_bucket, alpha, &self.config.baseline_spike_level);
        let inserted = state.insert(new, &self.params);
        if inserted.counted {
            state.count_in_bucket();
        }
        let counts = state.counts();
        if roll.completed_count > 0 {
            // Capped like the source's own baseline: a burst of spikes must not raise the bar
            // every newcomer starts from.
            self.global_baseline +=
                GLOBAL_BASELINE_ALPHA * (f64::from(roll.folded_count) - self.global_baseline);
        }
        if inserted.truncated {
            self.truncated_entries += 1;
        }
        (counts, inserted.counted, inserted.port_new)
    }

    fn bucket_of(&self, time: i64) -> u32 {
        bucket_index(time, self.event_window_micros)
    }

    /// A 32-bit id per destination address: IPv4 exactly, IPv6 through a keyed hash.
    fn dst_id(&self, ip: IpAddr) -> u32 {
        match ip.to_canonical() {
            IpAddr::V4(v4) => u32::from(v4),
            IpAddr::V6(v6) => self.dst_hasher.hash_one(u128::from(v6)) as u32,
        }
    }

    fn is_common_port(&self, port: u16) -> bool {
        self.common_ports[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }

    /// `ln(1 + n)` for a count.
    fn ln1p(&self, n: u64) -> f64 {
        match usize::try_from(n)
            .ok()
            .and_then(|i| self.ln1p_counts.get(i))
        {
            Some(v) => *v,
            None => (n as f64).ln_1p(),
        }
    }

    /// Sine and cosine of the time of day (a full turn per day).
    fn time_of_day(&mut self, second_of_day: i64) -> (f64, f64) {
        if self.day_angle.0 != second_of_day {
            let angle = std::f64::consts::TAU * second_of_day as f64 / SECS_PER_DAY as f64;
            let (sin, cos) = angle.sin_cos();
            self.day_angle = (second_of_day, sin, cos);
        }
        (self.day_angle.1, self.day_angle.2)
    }

    fn write_event_columns(&mut self, event: &Event, time: i64, out: &mut [f64]) {
        // Calendar, in the site's local time.
        let local_secs = time.div_euclid(MICROS_PER_SEC) + self.utc_offset_secs;
        let second_of_day = local_secs.rem_euclid(SECS_PER_DAY);
        // 1970-01-01 was a Thursday: day 0 is weekday 3 counting from Monday.
        let weekday = (local_secs.div_euclid(SECS_PER_DAY) + 3).rem_euclid(7);
        let (sin, cos) = self.time_of_day(second_of_day);

        let mut set = |c: Column, v: f64| out[c as usize] = v;
        set(Column::HourSin, sin);
        set(Column::HourCos, cos);
        set(Column::Weekday, weekday as f64 / 6.0);
        set(Column::Weekend, flag_value(weekday >= 5));
        let office = (8 * 3600..18 * 3600).contains(&second_of_day);
        set(Column::BusinessHours, flag_value(weekday < 5 && office));

        // Volumes. One missing direction counts as zero; both missing sets the indicator.
        let bytes_out = event.bytes_out.unwrap_or(0);
        let bytes_in = event.bytes_in.unwrap_or(0);
        let bytes_total = bytes_out.saturating_add(bytes_in) as f64;
        set(Column::BytesOutLog1p, self.ln1p(bytes_out));
        set(Column::BytesInLog1p, self.ln1p(bytes_in));
        set(
            Column::BytesMissing,
            flag_value(event.bytes_out.is_none() && event.bytes_in.is_none()),
        );
        let packets_out = event.packets_out.unwrap_or(0);
        let packets_in = event.packets_in.unwrap_or(0);
        let packets_total = packets_out.saturating_add(packets_in) as f64;
        set(Column::PacketsOutLog1p, self.ln1p(packets_out));
        set(Column::PacketsInLog1p, self.ln1p(packets_in));
        set(
            Column::PacketsMissing,
            flag_value(event.packets_out.is_none() && event.packets_in.is_none()),
        );
        let duration = event.duration_secs.filter(|d| d.is_finite() && *d >= 0.0);
        set(Column::DurationMissing, flag_value(duration.is_none()));
        if let Some(d) = duration.filter(|d| *d > 0.0) {
            set(Column::DurationLog1p, d.ln_1p());
            set(Column::BytesPerSecLog1p, (bytes_total / d).ln_1p());
            set(Column::PacketsPerSecLog1p, (packets_total / d).ln_1p());
        }
        if packets_total > 0.0 {
            set(
                Column::BytesPerPacketLog1p,
                (bytes_total / packets_total).ln_1p(),
            );
        }
        set(Column::ByteRatioOut, ratio(bytes_out as f64, bytes_total));
        set(
            Column::PacketRatioOut,
            ratio(packets_out as f64, packets_total),
        );

        match event.tcp_flags {
            Some(bits) => {
                for (column, bit) in [
                    (Column::TcpFin, TCP_FIN),
                    (Column::TcpSyn, TCP_SYN),
                    (Column::TcpRst, TCP_RST),
                    (Column::TcpPsh, TCP_PSH),
                    (Column::TcpAck, TCP_ACK),
                    (Column::TcpUrg, TCP_URG),
                ] {
                    set(column, flag_value(bits & bit != 0));
                }
            }
            None => set(Column::TcpFlagsMissing, 1.0),
        }

        let src_private = event.src_ip.is_some_and(is_private);
        let dst_private = event.dst_ip.is_some_and(is_private);
        set(Column::SrcPrivate, flag_value(src_private));
        set(Column::DstPrivate, flag_value(dst_private));
        set(
            Column::Internal,
            flag_value(
                (src_private && dst_private) || event.direction == Some(Direction::Internal),
            ),
        );

        match event.dst_port {
            Some(port) => {
                set(Column::DstPortCommon, flag_value(self.is_common_port(port)));
                set(Column::DstPortWellKnown, flag_value(port < 1024));
            }
            None => set(Column::DstPortMissing, 1.0),
        }

        if let Some(transport) = event.transport {
            set(
                match transport {
                    Transport::Tcp => Column::TransportTcp,
                    Transport::Udp => Column::TransportUdp,
                    Transport::Icmp => Column::TransportIcmp,
                    Transport::Other => Column::TransportOther,
                },
                1.0,
            );
        }

        if let Some(name) = event.app_proto.as_deref() {
            set(
                match AppProto::classify(name) {
                    AppProto::Ssh => Column::ProtoSsh,
                    AppProto::Telnet => Column::ProtoTelnet,
                    AppProto::Http => Column::ProtoHttp,
                    AppProto::Tls => Column::ProtoTls,
                    AppProto::Dns => Column::ProtoDns,
                    AppProto::Smb => Column::ProtoSmb,
                    AppProto::Ftp => Column::ProtoFtp,
                    AppProto::Mssql => Column::ProtoMssql,
                    AppProto::Mysql => Column::ProtoMysql,
                    AppProto::Smtp => Column::ProtoSmtp,
                    AppProto::Other => Column::ProtoOther,
                },
                1.0,
            );
        }

        set(
            match event.kind {
                EventKind::Connect => Column::KindConnect,
                EventKind::LoginFailed => Column::KindLoginFailed,
                EventKind::LoginSuccess => Column::KindLoginSuccess,
                EventKind::Command => Column::KindCommand,
                EventKind::FileTransfer => Column::KindFileTransfer,
                EventKind::Flow => Column::KindFlow,
                EventKind::IdsAlert => Column::KindIdsAlert,
                EventKind::HttpRequest => Column::KindHttpRequest,
                _ => Column::KindOther,
            },
            1.0,
        );
    }
}

impl FeatureExtractor {
    fn write_window_columns(&self, c: &Counts, port_new: bool, out: &mut [f64]) {
        let mut set = |col: Column, v: f64| out[col as usize] = v;
        set(Column::SrcTracked, 1.0);
        set(Column::SrcEventsLog1p, self.ln1p(u64::from(c.events)));
        set(
            Column::SrcFailedLoginsLog1p,
            self.ln1p(u64::from(c.failed_logins)),
        );
        set(
            Column::SrcDistinctDstPortsLog1p,
            self.ln1p(u64::from(c.distinct_ports)),
        );
        set(
            Column::SrcDistinctDstIpsLog1p,
            self.ln1p(u64::from(c.distinct_ips)),
        );
        if c.bytes_events > 0 {
            set(
                Column::SrcMeanBytesLog1p,
                (c.bytes_sum as f64 / f64::from(c.bytes_events)).ln_1p(),
            );
        }
        let logins = c.failed_logins + c.successful_logins;
        if logins > 0 {
            set(
                Column::SrcLoginSuccessRatio,
                f64::from(c.successful_logins) / f64::from(logins),
            );
        }
        set(Column::SrcDstPortEntropy, c.port_entropy_bits);
        if c.commands > 0 {
            set(
                Column::SrcCommandsPerSessionLog1p,
                (f64::from(c.commands) / f64::from(c.connects.max(1))).ln_1p(),
            );
        }
        if c.events > 0 {
            set(
                Column::SrcEventsOverBaselineLog1p,
                (f64::from(c.events) / c.baseline.max(1.0)).ln_1p(),
            );
        }
        set(Column::SrcDstPortNew, flag_value(port_new));
    }
}

fn kind_flags(kind: EventKind) -> u8 {
    match kind {
        EventKind::LoginFailed => flag::FAILED,
        EventKind::LoginSuccess => flag::SUCCESS,
        EventKind::Command => flag::COMMAND,
        EventKind::Connect => flag::CONNECT,
        _ => 0,
    }
}

/// Tumbling event-window index of `time`; times before the epoch share window 0.
fn bucket_index(time: i64, window_micros: i64) -> u32 {
    u32::try_from(time.div_euclid(window_micros.max(1)).max(0)).unwrap_or(u32::MAX)
}

fn flag_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// `part / total`, or 0.5 (no preferred direction) when nothing was counted.
fn ratio(part: f64, total: f64) -> f64 {
    if total > 0.0 { part / total } else { 0.5 }
}
