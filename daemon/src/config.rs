//! The configuration file (`vigil.toml`): serde structs, defaults and validation.
//!
//! Every struct denies unknown fields, so a misspelt key stops start-up with its name.
//! [`Config::validate`] checks values that parse but make no sense, naming the field, and
//! runs before any port is bound or file opened. The documented default is
//! `config/vigil.toml`; [`Config::default`] is the same configuration in code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigil_demo::DemoConfig;
use vigil_detectors::rules::{
    BruteForceConfig, ConnectionRateConfig, PortScanConfig, RulesConfig as RuleSetConfig,
    TrafficSpikeConfig,
};
use vigil_features::FeatureConfig;
use vigil_sensors::Format;

/// A configuration that could not be read or makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema (unknown key, wrong type).
    #[error("config file {path}: {message}")]
    Parse {
        /// The path given.
        path: PathBuf,
        /// The parser's message, which names the key and line.
        message: String,
    },
    /// A value parses but is not acceptable.
    #[error("config field `{field}`: {message}")]
    Invalid {
        /// Dotted path of the offending field (`sources.cowrie.path`).
        field: String,
        /// What is wrong, naming the value.
        message: String,
    },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct Config {
    /// Batching, backpressure, event-time and shutdown settings.
    pub pipeline: PipelineConfig,
    /// Windowed per-source feature settings.
    pub features: FeaturesConfig,
    /// Behaviour rule thresholds.
    pub rules: RulesConfig,
    /// Severity thresholds for calibrated scores and rule strengths.
    pub severity: SeverityConfig,
    /// Configured inputs, by name. The name is the default `sensor_id`.
    pub sources: BTreeMap<String, SourceConfig>,
    /// Where alerts go.
    pub outputs: OutputsConfig,
    /// The state database (alerts, output cursors).
    pub state: StateConfig,
    /// Alert aggregation.
    pub alerts: AlertsConfig,
    /// The detector pool: its models, the baseline's lifecycle and drift handling.
    pub pool: PoolSection,
    /// Feedback that drives the pool's error streams.
    pub feedback: FeedbackSection,
    /// The synthetic traffic `vigil demo` runs.
    pub demo: DemoSection,
    /// Logging.
    pub log: LogConfig,
    /// The admin HTTP API.
    pub api: ApiConfig,
    /// GeoIP enrichment of source addresses.
    pub geoip: GeoIpSection,
    /// Detector plugins: where they are and which ones run in the pool.
    pub plugins: PluginsSection,
    /// How packet captures are cut into flows (`vigil replay --format pcap`, sources of
    /// `type = "pcap"`).
    pub flows: FlowsConfig,
}

/// Flow tracking of packet captures (`[flows]`); see `docs/flows.md`.
///
/// ```toml
/// [flows]
/// flow_idle_secs = 60
/// flow_active_secs = 300
/// max_flows = 262144
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowsConfig {
    /// A flow without a packet for this long (packet time) is emitted. Above 0, at most 4e9.
    pub flow_idle_secs: f64,
    /// A flow this old is emitted when its next packet comes. Above 0, at most 4e9.
    pub flow_active_secs: f64,
    /// Flows tracked at once; beyond it the least recently active one is emitted. From 1
    /// to 2^30.
    pub max_flows: usize,
}

impl Default for FlowsConfig {
    fn default() -> FlowsConfig {
        let d = vigil_packets::FlowConfig::default();
        FlowsConfig {
            flow_idle_secs: d.flow_idle_secs,
            flow_active_secs: d.flow_active_secs,
            max_flows: d.max_flows,
        }
    }
}

impl FlowsConfig {
    /// The flow tracker's settings, checked; the error names the field (`flows.max_flows`).
    pub fn flow_config(&self) -> Result<vigil_packets::FlowConfig, ConfigError> {
        let config = vigil_packets::FlowConfig {
            flow_idle_secs: self.flow_idle_secs,
            flow_active_secs: self.flow_active_secs,
            max_flows: self.max_flows,
        };
        config.validate().map_err(|e| {
            invalid(
                format!("flows.{}", e.field),
                format!("{}, got {}", e.problem, e.value),
            )
        })?;
        Ok(config)
    }
}

/// Detector plugins (`[plugins]`): the folder Vigil loads them from at start, and which
/// of them run in the pool, each with its own configuration. See `docs/plugins.md`.
///
/// ```toml
/// [plugins]
/// dir = "/var/lib/vigil/plugins"
/// max_failures = 10
///
/// [plugins.enabled.loda]
/// warm_up_events = 256
/// config = { seed = 7, projections = 100 }
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsSection {
    /// The folder whose libraries (`.so`, `.dylib`, `.dll`) are loaded at start. Unset: no
    /// plugins.
    pub dir: Option<PathBuf>,
    /// Failures (errors, panics, NaN or infinite scores) after which a plugin's model is
    /// disabled and leaves the pool. At least 1.
    pub max_failures: u64,
    /// The plugins that run in the pool, by the plugin's name (as the library says it;
    /// its models are `plugin:<name>`). A plugin named here joins `pool.models` (at the
    /// end, unless `pool.models` names it).
    pub enabled: BTreeMap<String, PluginEntry>,
}

impl Default for PluginsSection {
    fn default() -> PluginsSection {
        PluginsSection {
            dir: None,
            max_failures: 10,
            enabled: BTreeMap::new(),
        }
    }
}

/// One enabled plugin (`[plugins.enabled.NAME]`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginEntry {
    /// The plugin's own configuration, passed to it as JSON (an empty table: `{}`). The
    /// plugin checks it when its model is made; what it refuses is reported by name.
    pub config: toml::Table,
    /// Events its model learns before its scores enter its calibrator's reference (for a
    /// plugin that scores 0 until it has seen a window, such as LODA's 256). Default 0.
    pub warm_up_events: u64,
    /// Failures after which its model is disabled; unset: `plugins.max_failures`.
    pub max_failures: Option<u64>,
}

impl PluginEntry {
    /// The plugin's configuration as JSON.
    pub fn config_json(&self) -> String {
        serde_json::to_string(&self.config).unwrap_or_else(|_| "{}".to_string())
    }
}

impl PluginsSection {
    /// Checks the section, naming the first bad field; `models` is `pool.models`.
    fn validate(&self, models: &[vigil_pool::ModelKind]) -> Result<(), ConfigError> {
        if self.max_failures == 0 {
            return Err(invalid("plugins.max_failures", "must be at least 1, got 0"));
        }
        if !self.enabled.is_empty() && self.dir.is_none() {
            return Err(invalid(
                "plugins.dir",
                "must name the plugin folder when plugins are enabled",
            ));
        }
        if self.enabled.len() > vigil_pool::MAX_PLUGINS {
            return Err(invalid(
                "plugins.enabled",
                format!(
                    "must enable at most {} plugins, got {}",
                    vigil_pool::MAX_PLUGINS,
                    self.enabled.len()
                ),
            ));
        }
        for (name, entry) in &self.enabled {
            if vigil_pool::PluginId::intern(name).is_err() {
                return Err(invalid(
                    format!("plugins.enabled.{name}"),
                    format!("{name:?} is not a plugin name (ASCII letters, digits, '-' and '_')"),
                ));
            }
            if entry.max_failures == Some(0) {
                return Err(invalid(
                    format!("plugins.enabled.{name}.max_failures"),
                    "must be at least 1, got 0",
                ));
            }
        }
        for kind in models {
            if let Some(id) = kind.plugin()
                && !self.enabled.contains_key(id.name())
            {
                return Err(invalid(
                    "pool.models",
                    format!(
                        "names {kind}, which is not enabled: add a [plugins.enabled.{}] table",
                        id.name()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The kinds of the enabled plugins, in name order.
    pub fn enabled_kinds(&self) -> Vec<vigil_pool::ModelKind> {
        self.enabled
            .keys()
            .filter_map(|name| vigil_pool::PluginId::intern(name).ok())
            .map(vigil_pool::ModelKind::Plugin)
            .collect()
    }

    /// The failures after which plugin `name`'s model is disabled.
    pub fn max_failures_of(&self, name: &str) -> u64 {
        self.enabled
            .get(name)
            .and_then(|e| e.max_failures)
            .unwrap_or(self.max_failures)
    }
}

/// Batching, backpressure, event-time and shutdown settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Most events in one message between actors.
    pub batch_max_events: usize,
    /// A source sends a partial batch once its oldest event has waited this long, in milliseconds.
    pub batch_max_millis: u64,
    /// Mailbox capacity of each pipeline actor, in batches. Senders wait when it is full.
    pub mailbox_batches: usize,
    /// How long shutdown may take to drain the pipeline before Vigil exits anyway, in seconds.
    pub shutdown_grace_secs: u64,
    /// Event-time spacing of rows of datasets that have no timestamp, in microseconds.
    pub row_interval_micros: u64,
    /// Event time of row 0 of datasets that have no timestamp (RFC 3339).
    pub dataset_start: String,
    /// During `replay --speed`, the longest single wait between two events, in seconds.
    pub max_replay_gap_secs: f64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_max_events: 1024,
            batch_max_millis: 5,
            mailbox_batches: 8,
            shutdown_grace_secs: 10,
            row_interval_micros: 1000,
            dataset_start: "1970-01-01T00:00:00Z".to_string(),
            max_replay_gap_secs: 5.0,
        }
    }
}

/// Windowed per-source feature settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    /// Window for the per-source event count (and the traffic-spike rule), in seconds.
    pub event_window_secs: u32,
    /// Window for failed logins per source (and the brute-force rule), in seconds.
    pub login_window_secs: u32,
    /// Window for distinct destination ports and IPs per source (and the port-scan rule), in seconds.
    pub port_window_secs: u32,
    /// Window for the mean bytes per source, in seconds.
    pub bytes_window_secs: u32,
    /// Most sources with window state; the least recently seen is evicted beyond it.
    pub max_tracked_sources: usize,
    /// IPv6 sources are grouped by this prefix length.
    pub ipv6_source_prefix: u8,
    /// Events older than the newest seen minus this are late (still scored, counted), in seconds.
    pub allowed_lateness_secs: u32,
    /// Destination ports counted as "common" in the per-event features.
    pub common_ports: Vec<u16>,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        FeaturesConfig {
            event_window_secs: 30,
            login_window_secs: 30,
            port_window_secs: 60,
            bytes_window_secs: 300,
            max_tracked_sources: 1_000_000,
            ipv6_source_prefix: 64,
            allowed_lateness_secs: 300,
            common_ports: vec![
                20, 21, 22, 23, 25, 53, 80, 110, 123, 143, 443, 445, 465, 587, 993, 995, 3306,
                3389, 5432, 8080,
            ],
        }
    }
}

/// Behaviour rule thresholds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct RulesConfig {
    /// Failed logins from one source within `features.login_window_secs`.
    pub brute_force: BruteForceRule,
    /// Distinct destination ports from one source within `features.port_window_secs`.
    pub port_scan: PortScanRule,
    /// Events from one source within `features.event_window_secs` against its moving baseline.
    pub traffic_spike: TrafficSpikeRule,
    /// Short connection attempts from one source to authentication ports within its own
    /// window (flows: captures and flow logs, where login outcomes are hidden).
    pub connection_rate: ConnectionRateRule,
}

/// The connection-rate rule (`[rules.connection_rate]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionRateRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Destination ports that count (1 to 1024 of them).
    pub ports: Vec<u16>,
    /// Length of the rule's event-time window, in seconds (1 to 86400).
    pub window_secs: u32,
    /// Alert when a source reaches this many short connection attempts within the window.
    pub min_connections: u32,
    /// A connection counts when it lasted at most this many seconds.
    pub max_duration_secs: f64,
}

impl Default for ConnectionRateRule {
    fn default() -> Self {
        let d = ConnectionRateConfig::default();
        ConnectionRateRule {
            enabled: true,
            ports: d.ports,
            window_secs: d.window_secs,
            min_connections: d.min_connections,
            max_duration_secs: d.max_duration_secs,
        }
    }
}

/// The brute-force rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BruteForceRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Alert when a source reaches this many failed logins within the login window.
    pub min_failed_logins: u32,
}

impl Default for BruteForceRule {
    fn default() -> Self {
        BruteForceRule {
            enabled: true,
            min_failed_logins: 20,
        }
    }
}

/// The port-scan rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortScanRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Alert when a source reaches this many distinct destination ports within the port window.
    pub min_distinct_ports: u32,
}

impl Default for PortScanRule {
    fn default() -> Self {
        PortScanRule {
            enabled: true,
            min_distinct_ports: 25,
        }
    }
}

/// The traffic-spike rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrafficSpikeRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// A spike needs at least this many events from the source within the event window.
    pub min_events: u32,
    /// ... and at least this multiple of the source's moving baseline of events per window.
    pub factor: f64,
}

impl Default for TrafficSpikeRule {
    fn default() -> Self {
        TrafficSpikeRule {
            enabled: true,
            min_events: 200,
            factor: 5.0,
        }
    }
}

/// Severity thresholds on the calibrated score or rule strength, in [0, 1].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityConfig {
    /// RED at or above this.
    pub red: f64,
    /// ORANGE at or above this (and below `red`); GREEN below.
    pub orange: f64,
}

impl Default for SeverityConfig {
    fn default() -> Self {
        SeverityConfig {
            red: 0.99,
            orange: 0.95,
        }
    }
}

/// What kind of input a source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// One file, read once or followed across rotation.
    File,
    /// Every file matching a glob pattern, in name order.
    Glob,
    /// Standard input, read once.
    Stdin,
    /// Packets cut into flows (see `[flows]`): a capture file (classic pcap or pcapng) at
    /// `path`, read once, or live capture from an `interface` (a build with the
    /// `live-capture` feature).
    Pcap,
}

/// Where a followed file source starts when there is no saved position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// From the first byte.
    Beginning,
    /// From the current end of the file (only new lines).
    End,
}

/// One configured input.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `file`, `glob` or `stdin`.
    #[serde(rename = "type")]
    pub kind: SourceKind,
    /// The file path, or the glob pattern for `glob`. Not used by `stdin`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Input format: `auto` or one of the format names.
    #[serde(default = "default_format")]
    pub format: String,
    /// Keep reading as the file grows, surviving rotation (`tail -F`).
    #[serde(default = "default_true")]
    pub follow: bool,
    /// Where to start without a saved position.
    #[serde(default = "default_start_at")]
    pub start_at: StartAt,
    /// Name of this sensor instance carried by every event (default: the source's name).
    #[serde(default)]
    pub sensor_id: Option<String>,
    /// IANA time zone for timestamps without an offset (`UTC`, `Europe/Berlin`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Label column of a generic CSV (`format = "csv"`; default `label`).
    #[serde(default)]
    pub label_column: Option<String>,
    /// Lines longer than this are rejected as `line_too_long`, in bytes.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// How often a followed file is checked for new data and rotation, in milliseconds. A
    /// live capture waits at most 10 ms when no packet is waiting, so that a burst does not
    /// fill the kernel's buffer while it sleeps.
    #[serde(default = "default_poll_millis")]
    pub poll_millis: u64,
    /// Network interface to capture from (`type = "pcap"`, instead of `path`; `any` for
    /// all of them). Needs a build with the `live-capture` feature and the CAP_NET_RAW
    /// capability.
    #[serde(default)]
    pub interface: Option<String>,
    /// BPF filter for live capture, in tcpdump's syntax (`tcp or udp`); default: every packet.
    #[serde(default)]
    pub filter: Option<String>,
    /// Live capture in promiscuous mode, to see traffic not addressed to this host (a
    /// mirror or tap port); default true. Not asked of `any`, which has no such mode.
    #[serde(default)]
    pub promiscuous: Option<bool>,
    /// Bytes kept of each live packet, 128 to 262144; default 512. Flows need only the
    /// headers: byte counts come from the lengths the IP header declares.
    #[serde(default)]
    pub snaplen_bytes: Option<u32>,
    /// The kernel's buffer for live capture, in bytes, 65536 to 1073741824; default 16777216
    /// (16 MiB). Packets that arrive while it is full are lost and counted as skipped
    /// `capture_dropped`.
    #[serde(default)]
    pub buffer_bytes: Option<u32>,
    /// After a rename-and-create rotation, how long the old file is drained, in milliseconds.
    #[serde(default = "default_rotate_wait_millis")]
    pub rotate_wait_millis: u64,
}

fn default_format() -> String {
    "auto".to_string()
}
fn default_true() -> bool {
    true
}
fn default_start_at() -> StartAt {
    StartAt::Beginning
}
fn default_timezone() -> String {
    "UTC".to_string()
}
fn default_max_line_bytes() -> usize {
    1 << 20
}
fn default_poll_millis() -> u64 {
    250
}
fn default_rotate_wait_millis() -> u64 {
    5000
}

impl SourceConfig {
    /// A read-once file source, as `vigil replay` builds for each file.
    pub fn replay_file(path: PathBuf, format: &str) -> SourceConfig {
        SourceConfig {
            kind: SourceKind::File,
            path: Some(path),
            format: format.to_string(),
            follow: false,
            start_at: StartAt::Beginning,
            sensor_id: None,
            timezone: default_timezone(),
            label_column: None,
            max_line_bytes: default_max_line_bytes(),
            poll_millis: default_poll_millis(),
            rotate_wait_millis: default_rotate_wait_millis(),
            interface: None,
            filter: None,
            promiscuous: None,
            snaplen_bytes: None,
            buffer_bytes: None,
        }
    }

    /// The parsed format (validated by [`Config::validate`]).
    pub fn parsed_format(&self) -> Result<Format, ConfigError> {
        self.format
            .parse::<Format>()
            .map_err(|e| invalid("format", e.to_string()))
    }

    /// The parsed time zone (validated by [`Config::validate`]).
    pub fn parsed_timezone(&self) -> Result<chrono_tz::Tz, ConfigError> {
        self.timezone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| invalid("timezone", format!("unknown time zone {:?}", self.timezone)))
    }

    fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let field = |f: &str| format!("sources.{name}.{f}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(invalid(
                format!("sources.{name}"),
                "source names may hold only letters, digits, '-', '_' and '.'",
            ));
        }
        self.validate_live_capture(&field)?;
        match (self.kind, &self.path) {
            (SourceKind::File | SourceKind::Glob, None) => {
                return Err(invalid(field("path"), "required for type file and glob"));
            }
            (SourceKind::Pcap, None) if self.interface.is_none() => {
                return Err(invalid(
                    field("path"),
                    "type pcap needs a capture file as `path` or an `interface` to capture from",
                ));
            }
            (SourceKind::Stdin, Some(_)) => {
                return Err(invalid(field("path"), "not used by type stdin; remove it"));
            }
            _ => {}
        }
        if self.kind == SourceKind::Pcap {
            if !matches!(self.format.as_str(), "auto" | "pcap") {
                return Err(invalid(
                    field("format"),
                    format!(
                        "a pcap source reads captures (format \"pcap\" or \"auto\"), got {:?}",
                        self.format
                    ),
                ));
            }
        } else {
            self.parsed_format()
                .map_err(|e| relabel(e, &field("format")))?;
        }
        self.parsed_timezone()
            .map_err(|e| relabel(e, &field("timezone")))?;
        if self.max_line_bytes < 64 {
            return Err(invalid(
                field("max_line_bytes"),
                format!("must be at least 64, got {}", self.max_line_bytes),
            ));
        }
        if self.poll_millis == 0 {
            return Err(invalid(field("poll_millis"), "must be at least 1"));
        }
        if let Some(id) = &self.sensor_id
            && id.trim().is_empty()
        {
            return Err(invalid(field("sensor_id"), "must not be empty"));
        }
        Ok(())
    }
}

impl SourceConfig {
    /// The live-capture options: only with `type = "pcap"` and an `interface`, never with
    /// a `path`, in range, the filter compiling, and only in a build that can capture.
    fn validate_live_capture(&self, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        let Some(interface) = &self.interface else {
            let given = [
                ("filter", self.filter.is_some()),
                ("promiscuous", self.promiscuous.is_some()),
                ("snaplen_bytes", self.snaplen_bytes.is_some()),
                ("buffer_bytes", self.buffer_bytes.is_some()),
            ];
            if let Some((name, _)) = given.iter().find(|(_, given)| *given) {
                return Err(invalid(
                    field(name),
                    "only for live capture (type pcap with an `interface`)",
                ));
            }
            return Ok(());
        };
        if self.kind != SourceKind::Pcap {
            return Err(invalid(
                field("interface"),
                "only for type pcap (live capture)",
            ));
        }
        if self.path.is_some() {
            return Err(invalid(
                field("interface"),
                "a pcap source reads a capture file (`path`) or an `interface`, not both",
            ));
        }
        if interface.trim().is_empty() {
            return Err(invalid(field("interface"), "must not be empty"));
        }
        if let Some(snaplen) = self.snaplen_bytes
            && !(128..=262_144).contains(&snaplen)
        {
            return Err(invalid(
                field("snaplen_bytes"),
                format!(
                    "must be 128 to 262144 (a tagged IPv6 TCP header needs over 80), got {snaplen}"
                ),
            ));
        }
        if let Some(buffer) = self.buffer_bytes
            && !(65_536..=1 << 30).contains(&buffer)
        {
            return Err(invalid(
                field("buffer_bytes"),
                format!("must be 65536 to 1073741824, got {buffer}"),
            ));
        }
        if !cfg!(feature = "live-capture") {
            return Err(invalid(
                field("interface"),
                format!(
                    "this vigil was built without live capture, so it cannot capture on {interface:?}; \
                     build it with `cargo build --release --features live-capture` (needs libpcap, \
                     Debian package libpcap-dev), or give a capture file as `path`"
                ),
            ));
        }
        #[cfg(feature = "live-capture")]
        if let Some(filter) = &self.filter {
            vigil_capture::check_filter(interface, filter)
                .map_err(|error| invalid(field("filter"), error.to_string()))?;
        }
        Ok(())
    }

    /// How to open the live capture of this source, when it has an `interface`.
    #[cfg(feature = "live-capture")]
    pub fn live_options(&self) -> Option<vigil_capture::LiveOptions> {
        let interface = self.interface.as_ref()?;
        let mut options = vigil_capture::LiveOptions::new(interface.clone());
        options.filter.clone_from(&self.filter);
        options.promiscuous = self.promiscuous.unwrap_or(true);
        options.snaplen_bytes = self.snaplen_bytes.unwrap_or(DEFAULT_SNAPLEN_BYTES);
        options.buffer_bytes = self.buffer_bytes.unwrap_or(DEFAULT_CAPTURE_BUFFER_BYTES);
        Some(options)
    }
}

/// Bytes kept of each live packet when `snaplen_bytes` is not set: every header of a
/// tagged IPv6 TCP packet with options, and then some.
pub const DEFAULT_SNAPLEN_BYTES: u32 = 512;

/// The kernel's live-capture buffer when `buffer_bytes` is not set (16 MiB).
pub const DEFAULT_CAPTURE_BUFFER_BYTES: u32 = 16 << 20;

fn relabel(e: ConfigError, field: &str) -> ConfigError {
    match e {
        ConfigError::Invalid { message, .. } => invalid(field, message),
        other => other,
    }
}

/// Where alerts go. Every output follows the store's outbox with its own cursor.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputsConfig {
    /// Append every alert as one flat JSON line to this file (besides the store).
    pub alerts_ndjson: Option<PathBuf>,
    /// Leave honeypot passwords out of every output (they stay in the store).
    pub redact_credentials: bool,
    /// Elastic Common Schema NDJSON output.
    pub ecs: Option<FileOutputConfig>,
    /// ArcSight CEF output.
    pub cef: Option<FileOutputConfig>,
    /// Append every event's pool score (sequence number, origin, calibrated score,
    /// champion, label) as one JSON line to this file: an audit trail of what the pool
    /// saw. Large: one line per event.
    pub scores_ndjson: Option<PathBuf>,
    /// Slack-compatible webhook for RED alerts and drift events.
    pub webhook: Option<WebhookOutputConfig>,
}

impl Default for OutputsConfig {
    fn default() -> OutputsConfig {
        OutputsConfig {
            alerts_ndjson: None,
            redact_credentials: true,
            ecs: None,
            cef: None,
            scores_ndjson: None,
            webhook: None,
        }
    }
}

/// The webhook output: one JSON POST per RED alert (or per alert at `min_severity` and
/// above) and per drift event of the detector pool, in the Slack-compatible body of
/// `vigil_alert::encode_webhook_alert`. 2xx is delivered; 429, 5xx, connection errors and
/// timeouts are retried with exponential backoff (honouring `Retry-After`); other 4xx are
/// logged and skipped.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookOutputConfig {
    /// The URL POSTed to: `http://` or `https://` (required).
    pub url: String,
    /// Most time one POST may take, connecting, TLS and reading the answer included, in
    /// milliseconds.
    pub timeout_millis: u64,
    /// Failed tries of one item whose waits double from `backoff_initial_millis`; after them
    /// the output keeps trying every `backoff_max_millis` (nothing is dropped). At shutdown
    /// it stops after this many and delivers the item after the next start.
    pub max_retries: u32,
    /// Wait after the first failed try, in milliseconds.
    pub backoff_initial_millis: u64,
    /// Longest wait between two tries, in milliseconds.
    pub backoff_max_millis: u64,
    /// Alerts below this severity are not sent: `red` (default) or `orange`.
    pub min_severity: vigil_alert::Severity,
    /// Also send the detector pool's drift events.
    pub drift_events: bool,
    /// Extra request headers, such as `Authorization`.
    pub headers: BTreeMap<String, String>,
}

impl Default for WebhookOutputConfig {
    fn default() -> WebhookOutputConfig {
        WebhookOutputConfig {
            url: String::new(),
            timeout_millis: 10_000,
            max_retries: 8,
            backoff_initial_millis: 500,
            backoff_max_millis: 60_000,
            min_severity: vigil_alert::Severity::Red,
            drift_events: true,
            headers: BTreeMap::new(),
        }
    }
}

impl std::fmt::Debug for WebhookOutputConfig {
    /// Leaves out the URL's path and query and the header values, which often hold secrets
    /// (a Slack webhook URL is one).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookOutputConfig")
            .field("url", &redacted_url(&self.url))
            .field("timeout_millis", &self.timeout_millis)
            .field("max_retries", &self.max_retries)
            .field("backoff_initial_millis", &self.backoff_initial_millis)
            .field("backoff_max_millis", &self.backoff_max_millis)
            .field("min_severity", &self.min_severity)
            .field("drift_events", &self.drift_events)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `url` with its path and query replaced by `…` (`https://hooks.slack.com/…`), for logs: a
/// webhook URL is often a secret.
///
/// ```
/// use vigil::config::redacted_url;
/// assert_eq!(redacted_url("https://hooks.slack.com/services/T0/B0/XYZ"), "https://hooks.slack.com/…");
/// assert_eq!(redacted_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
/// ```
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "…".to_string();
    };
    // Credentials in the authority (`user:pass@host`) are dropped too.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if end == rest.len() || rest[end..] == *"/" {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}/…")
    }
}

impl WebhookOutputConfig {
    /// Checks the values, naming the field (`outputs.webhook.url`...).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let field = |name: &str| format!("outputs.webhook.{name}");
        if self.url.is_empty() {
            return Err(invalid(field("url"), "required"));
        }
        let uri: ureq::http::Uri = self.url.parse().map_err(|e| {
            invalid(
                field("url"),
                format!("{:?} is not a URL: {e}", redacted_url(&self.url)),
            )
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(invalid(
                field("url"),
                format!(
                    "must start with http:// or https://, got {:?}",
                    redacted_url(&self.url)
                ),
            ));
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid(
                field("url"),
                format!("{:?} has no host", redacted_url(&self.url)),
            ));
        }
        if !(1..=600_000).contains(&self.timeout_millis) {
            return Err(invalid(
                field("timeout_millis"),
                format!("must be between 1 and 600000, got {}", self.timeout_millis),
            ));
        }
        if self.max_retries > 1000 {
            return Err(invalid(
                field("max_retries"),
                format!("must be at most 1000, got {}", self.max_retries),
            ));
        }
        if !(1..=3_600_000).contains(&self.backoff_initial_millis) {
            return Err(invalid(
                field("backoff_initial_millis"),
                format!(
                    "must be between 1 and 3600000, got {}",
                    self.backoff_initial_millis
                ),
            ));
        }
        if !(self.backoff_initial_millis..=3_600_000).contains(&self.backoff_max_millis) {
            return Err(invalid(
                field("backoff_max_millis"),
                format!(
                    "must be between backoff_initial_millis ({}) and 3600000, got {}",
                    self.backoff_initial_millis, self.backoff_max_millis
                ),
            ));
        }
        if self.min_severity == vigil_alert::Severity::Green {
            return Err(invalid(
                field("min_severity"),
                "must be \"red\" or \"orange\" (GREEN is not alerted), got \"green\"",
            ));
        }
        for (name, value) in &self.headers {
            let header = field(&format!("headers.{name}"));
            let parsed: Result<ureq::http::HeaderName, _> = name.parse();
            let Ok(parsed) = parsed else {
                return Err(invalid(header, format!("{name:?} is not a header name")));
            };
            if [
                ureq::http::header::CONTENT_LENGTH,
                ureq::http::header::TRANSFER_ENCODING,
                ureq::http::header::HOST,
            ]
            .contains(&parsed)
            {
                return Err(invalid(
                    header,
                    format!("{name} is set by the HTTP client; remove it"),
                ));
            }
            if ureq::http::HeaderValue::from_str(value).is_err() {
                // The value may be a secret: say what is wrong, not what it is.
                return Err(invalid(
                    header,
                    "the value holds a line break or another control character",
                ));
            }
        }
        Ok(())
    }
}

/// A file output with size-based rotation: `path` is renamed to `path.1`, `path.1` to
/// `path.2` and so on up to `keep_files`, when the next line would take it past `max_bytes`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileOutputConfig {
    /// The file written to.
    pub path: PathBuf,
    /// Rotate before the file grows past this many bytes.
    #[serde(default = "default_output_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept (`path.1` ... `path.N`); 0 cuts the file back to empty instead.
    #[serde(default = "default_output_keep_files")]
    pub keep_files: u32,
}

fn default_output_max_bytes() -> u64 {
    100 * 1024 * 1024
}

fn default_output_keep_files() -> u32 {
    5
}

/// The state database.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// Directory of the database (`vigil run`).
    pub dir: PathBuf,
    /// How often buffered writes reach disk, in milliseconds: a crash loses at most this
    /// much of the newest alerts, which a restart derives again.
    pub flush_every_millis: u64,
    /// Keep at most this many alerts (0: no limit).
    pub retention_max_alerts: u64,
    /// Remove alerts older than this many days of event time (0: no limit).
    pub retention_max_age_days: u64,
    /// `vigil run` writes a checkpoint (source offsets, feature windows, pool, cooldowns)
    /// this often, in seconds of wall time, and at shutdown; a restart resumes from it.
    pub checkpoint_secs: u64,
}

impl Default for StateConfig {
    fn default() -> StateConfig {
        StateConfig {
            dir: PathBuf::from("/var/lib/vigil"),
            flush_every_millis: 500,
            retention_max_alerts: 1_000_000,
            retention_max_age_days: 90,
            checkpoint_secs: 30,
        }
    }
}

/// Alert aggregation.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Repeats from one source and detector within this many seconds of event time are
    /// counted into the open alert (0: no aggregation).
    pub cooldown_secs: u64,
    /// Sources never alerted on, as CIDRs (`192.0.2.0/24`, `2001:db8::/32`) or addresses;
    /// their findings are counted under `allowlist` instead.
    pub allowlist: Vec<String>,
}

impl Default for AlertsConfig {
    fn default() -> AlertsConfig {
        AlertsConfig {
            cooldown_secs: 300,
            allowlist: Vec::new(),
        }
    }
}

impl AlertsConfig {
    /// The allowlist, parsed.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `alerts.allowlist[i]` and the value.
    pub fn parsed_allowlist(&self) -> Result<Vec<crate::suppress::Cidr>, ConfigError> {
        self.allowlist
            .iter()
            .enumerate()
            .map(|(i, text)| {
                text.parse()
                    .map_err(|e| invalid(format!("alerts.allowlist[{i}]"), format!("{e}")))
            })
            .collect()
    }
}

/// The detector pool (`[pool]`): which models run, how the baseline is trained and how
/// drift is handled. See `docs/pool.md`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolSection {
    /// Whether the learned models run at all; without them only the behaviour rules alert.
    pub enabled: bool,
    /// The models, each at most once: `ocsvm` (the batch baseline), `hst`, `online-ocsvm`,
    /// and `plugin:<name>` for a plugin enabled in `[plugins.enabled]` (enabled plugins not
    /// named here join at the end). The first online one stands in until the baseline is
    /// fitted.
    pub models: Vec<vigil_pool::ModelKind>,
    /// Events that count as normal the baseline's first fit is trained on.
    pub baseline_train_events: usize,
    /// A background fit takes effect this many events after it started; intake waits if it
    /// is late, so live runs and replays score alike.
    pub swap_after_events: u64,
    /// Retired models kept for recurring drift.
    pub max_retired_models: usize,
    /// Which events' scores enter the calibrators' reference: `not_alerted` (only events
    /// not alerted on) or `within_reference` (also alerted events that score within the
    /// reference; keeps the alert rate from creeping up over long runs without feedback).
    pub reference: ReferenceSection,
    /// Seed of everything random in the pool.
    pub seed: u64,
    /// Smallest per-feature spread the baseline OCSVM's scaler divides by, in the features'
    /// units (most are log1p counts, flags and sines in [-1, 1]): a feature that barely
    /// moved in the training window (the time of day over a few minutes) would otherwise
    /// make every later event look infinitely far from all of it.
    pub ocsvm_min_scale: f64,
    /// Features named in an alert's explanation, most deviant first.
    pub explain_top_features: usize,
}

/// Which events' scores enter the calibrators' reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceSection {
    /// Only events that were not alerted on.
    NotAlerted,
    /// Also alerted events that score within the reference.
    WithinReference,
}

impl Default for PoolSection {
    fn default() -> PoolSection {
        let d = vigil_pool::PoolConfig::default();
        PoolSection {
            enabled: true,
            models: d.models,
            baseline_train_events: d.baseline_train_events,
            swap_after_events: d.swap_after_events,
            max_retired_models: d.max_retired_models,
            reference: ReferenceSection::WithinReference,
            seed: d.seed,
            ocsvm_min_scale: 0.1,
            explain_top_features: 3,
        }
    }
}

/// Feedback (`[feedback]`): ground-truth labels of the data standing in for an analyst.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedbackSection {
    /// Reveal each labelled event's label to the pool after it is scored. Unset: on in
    /// `vigil demo`, off in `vigil run` and `vigil replay`.
    pub from_labels: Option<bool>,
    /// Share of the labelled events whose label is revealed, in (0, 1].
    pub fraction: f64,
    /// Events scored between an event and the reveal of its label.
    pub delay_events: u64,
}

impl Default for FeedbackSection {
    fn default() -> FeedbackSection {
        FeedbackSection {
            from_labels: None,
            fraction: 1.0,
            delay_events: 0,
        }
    }
}

/// The synthetic traffic `vigil demo` runs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoSection {
    /// Seed of the generator; the same seed gives the same traffic.
    pub seed: u64,
    /// Number of normal hosts.
    pub normal_hosts: usize,
    /// Mean event-time rate of normal traffic over a day, in events per second.
    pub mean_events_per_sec: f64,
    /// Event time runs this many times faster than the wall clock.
    pub time_acceleration: f64,
    /// Event-time seconds after start when the lasting change of normal behaviour begins.
    pub drift_after_secs: f64,
    /// Mean event-time gap between the starts of two attack episodes, in seconds.
    pub attack_mean_gap_secs: f64,
    /// The first attack episode starts within this many event-time seconds of `start`.
    pub first_attack_within_secs: f64,
    /// Event-time seconds over which the new service grows to its full share.
    pub drift_ramp_secs: f64,
    /// Share of the new service in normal traffic once ramped up (0 turns drift off).
    pub drift_share: f64,
    /// Event time of the first generated event (RFC 3339).
    pub start: String,
    /// The `sensor_id` of generated events.
    pub sensor_id: String,
}

impl Default for DemoSection {
    fn default() -> Self {
        DemoSection {
            seed: 7,
            normal_hosts: 300,
            mean_events_per_sec: 50.0,
            time_acceleration: 60.0,
            drift_after_secs: 6.0 * 3600.0,
            attack_mean_gap_secs: 900.0,
            first_attack_within_secs: 600.0,
            drift_ramp_secs: 900.0,
            drift_share: 0.3,
            start: "2026-01-05T00:00:00Z".to_string(),
            sensor_id: "demo".to_string(),
        }
    }
}

/// GeoIP enrichment: the country, location and autonomous system of each event's source
/// address, from MaxMind-format databases (see `docs/geoip.md`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoIpSection {
    /// `.mmdb` files (GeoIP2/GeoLite2 City or Country, ASN, ip-location-db country files),
    /// asked in this order; for each field the first that knows it wins. Empty: enrichment off.
    pub databases: Vec<PathBuf>,
}

impl GeoIpSection {
    /// Opens the configured databases: `Ok(None)` when none is configured.
    ///
    /// # Errors
    /// The first database that is missing, unreadable or broken, naming the file. Callers
    /// turn enrichment off with a warning; it never stops Vigil.
    pub fn open(&self) -> Result<Option<vigil_geoip::GeoIp>, vigil_geoip::GeoIpError> {
        if self.databases.is_empty() {
            return Ok(None);
        }
        vigil_geoip::GeoIp::open(&self.databases).map(Some)
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Default level (`error`, `warn`, `info`, `debug`, `trace`); `RUST_LOG` overrides it.
    pub level: String,
    /// Most log lines per rejection reason and source in each 10 s interval before they are summarised.
    pub max_rejections_logged_per_interval: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_string(),
            max_rejections_logged_per_interval: 5,
        }
    }
}

/// The admin HTTP API (`[api]`).
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Whether `vigil run` and `vigil demo` serve the API.
    pub enabled: bool,
    /// Socket address to listen on (`127.0.0.1:8787`; port 0 picks a free port, logged).
    pub listen: String,
    /// The bearer token of mutating calls (and of reads with `read_requires_token`).
    pub token: Option<String>,
    /// A file whose content (trimmed) is the token; excludes `token`.
    pub token_file: Option<PathBuf>,
    /// Whether reads need the token too.
    pub read_requires_token: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most items a page may hold (`limit`).
    pub max_page: usize,
    /// How long a dashboard sign-in lasts, in seconds.
    pub session_ttl_secs: u64,
    /// Serve HTTPS with this certificate and key (`[api.tls]`); absent: plain HTTP.
    pub tls: Option<ApiTlsConfig>,
}

/// The admin API's TLS (`[api.tls]`): PEM files, read and checked at start (see
/// [`crate::tls`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiTlsConfig {
    /// The certificate chain, PEM: the server's certificate first, then intermediates.
    pub cert_file: PathBuf,
    /// The certificate's private key, PEM: PKCS#8, RSA (PKCS#1) or EC (SEC1).
    pub key_file: PathBuf,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("read_requires_token", &self.read_requires_token)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_page", &self.max_page)
            .field("tls", &self.tls)
            .field("session_ttl_secs", &self.session_ttl_secs)
            .finish()
    }
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            enabled: true,
            listen: "127.0.0.1:8787".to_string(),
            token: None,
            token_file: None,
            read_requires_token: false,
            max_body_bytes: 65_536,
            max_page: 1000,
            tls: None,
            session_ttl_secs: 43_200,
        }
    }
}

impl ApiConfig {
    /// The listen address.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `api.listen` when it is not `IP:PORT`.
    pub fn listen_addr(&self) -> Result<std::net::SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            invalid(
                "api.listen",
                format!(
                    "{:?} is not a socket address (IP:PORT, for example 127.0.0.1:8787)",
                    self.listen
                ),
            )
        })
    }

    /// The token: `token`, or the trimmed content of `token_file` (read here), or `None`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `api.token_file` when the file cannot be read or is
    /// empty.
    pub fn load_token(&self) -> Result<Option<String>, ConfigError> {
        if let Some(token) = &self.token {
            return Ok(Some(token.clone()));
        }
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            invalid(
                "api.token_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let token = text.trim();
        check_token("api.token_file", token)?;
        Ok(Some(token.to_string()))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if self.token.is_some() && self.token_file.is_some() {
            return Err(invalid(
                "api.token_file",
                "set either api.token or api.token_file, not both",
            ));
        }
        if let Some(token) = &self.token {
            check_token("api.token", token)?;
        }
        if let Some(path) = &self.token_file
            && path.as_os_str().is_empty()
        {
            return Err(invalid("api.token_file", "must not be empty"));
        }
        if self.read_requires_token && self.token.is_none() && self.token_file.is_none() {
            return Err(invalid(
                "api.read_requires_token",
                "needs api.token or api.token_file",
            ));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(invalid(
                "api.max_body_bytes",
                format!(
                    "must be between 1024 and 67108864, got {}",
                    self.max_body_bytes
                ),
            ));
        }
        if !(1..=100_000).contains(&self.max_page) {
            return Err(invalid(
                "api.max_page",
                format!("must be between 1 and 100000, got {}", self.max_page),
            ));
        }
        if let Some(tls) = &self.tls {
            for (field, path) in [("cert_file", &tls.cert_file), ("key_file", &tls.key_file)] {
                if path.as_os_str().is_empty() {
                    return Err(invalid(
                        format!("api.tls.{field}"),
                        "required in [api.tls] (both cert_file and key_file)",
                    ));
                }
            }
        }
        if !(1..=2_592_000).contains(&self.session_ttl_secs) {
            return Err(invalid(
                "api.session_ttl_secs",
                format!(
                    "must be between 1 and 2592000 (30 days), got {}",
                    self.session_ttl_secs
                ),
            ));
        }
        Ok(())
    }
}

/// A token must be usable in an `Authorization: Bearer` header: visible ASCII, at least 16
/// characters. The message never repeats the token.
fn check_token(field: &str, token: &str) -> Result<(), ConfigError> {
    if token.len() < 16 {
        return Err(invalid(
            field,
            format!("must be at least 16 characters, got {}", token.len()),
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            field,
            "must be printable ASCII without spaces (it is sent in an Authorization header)",
        ));
    }
    Ok(())
}

fn parse_time(field: &str, value: &str) -> Result<chrono::DateTime<chrono::Utc>, ConfigError> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| invalid(field, format!("{value:?} is not an RFC 3339 time: {e}")))
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config = Config::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Parses and validates config text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Event time of row 0 of datasets without timestamps.
    pub fn dataset_start(&self) -> Result<chrono::DateTime<chrono::Utc>, ConfigError> {
        parse_time("pipeline.dataset_start", &self.pipeline.dataset_start)
    }

    /// The feature extractor's settings, checked; the error names the field.
    pub fn feature_config(&self) -> Result<FeatureConfig, ConfigError> {
        let f = &self.features;
        let config = FeatureConfig {
            event_window_secs: f.event_window_secs,
            login_window_secs: f.login_window_secs,
            port_window_secs: f.port_window_secs,
            bytes_window_secs: f.bytes_window_secs,
            max_tracked_sources: f.max_tracked_sources,
            ipv6_source_prefix: f.ipv6_source_prefix,
            allowed_lateness_secs: f.allowed_lateness_secs,
            common_ports: f.common_ports.clone(),
            // The moving baseline must not learn from the spikes the rule reports.
            baseline_spike_level: TrafficSpikeConfig {
                min_events: self.rules.traffic_spike.min_events,
                factor: self.rules.traffic_spike.factor,
            },
            ..FeatureConfig::default()
        };
        config.validate().map_err(|e| {
            invalid(
                format!("features.{}", e.field),
                format!("{}, got {}", e.requirement, e.value),
            )
        })?;
        Ok(config)
    }

    /// The behaviour rules' settings, checked; the error names the field.
    pub fn rule_set_config(&self) -> Result<RuleSetConfig, ConfigError> {
        let r = &self.rules;
        let config = RuleSetConfig {
            brute_force: r.brute_force.enabled.then_some(BruteForceConfig {
                min_failed_logins: r.brute_force.min_failed_logins,
            }),
            port_scan: r.port_scan.enabled.then_some(PortScanConfig {
                min_distinct_ports: r.port_scan.min_distinct_ports,
            }),
            traffic_spike: r.traffic_spike.enabled.then_some(TrafficSpikeConfig {
                min_events: r.traffic_spike.min_events,
                factor: r.traffic_spike.factor,
            }),
            connection_rate: r.connection_rate.enabled.then(|| ConnectionRateConfig {
                ports: r.connection_rate.ports.clone(),
                window_secs: r.connection_rate.window_secs,
                min_connections: r.connection_rate.min_connections,
                max_duration_secs: r.connection_rate.max_duration_secs,
            }),
        };
        config.validate().map_err(|e| {
            invalid(
                format!("rules.{}", e.field),
                format!("{}, got {}", e.requirement, e.value),
            )
        })?;
        Ok(config)
    }

    /// The demo generator's settings, checked; `seed` overrides `demo.seed`.
    pub fn demo_config(&self, seed: Option<u64>) -> Result<DemoConfig, ConfigError> {
        let d = &self.demo;
        let config = DemoConfig {
            seed: seed.unwrap_or(d.seed),
            sensor_id: d.sensor_id.clone(),
            start: self.demo_start()?,
            duration_secs: None,
            normal_hosts: d.normal_hosts,
            mean_events_per_sec: d.mean_events_per_sec,
            attack_mean_gap_secs: d.attack_mean_gap_secs,
            first_attack_within_secs: d.first_attack_within_secs,
            drift_after_secs: d.drift_after_secs,
            drift_ramp_secs: d.drift_ramp_secs,
            drift_share: d.drift_share,
            ..DemoConfig::default()
        };
        config.validate().map_err(|e| {
            invalid(
                format!("demo.{}", e.field),
                format!("{} ({})", e.value, e.reason),
            )
        })?;
        if !(d.time_acceleration.is_finite() && d.time_acceleration > 0.0) {
            return Err(invalid(
                "demo.time_acceleration",
                format!("must be a positive number, got {}", d.time_acceleration),
            ));
        }
        Ok(config)
    }

    /// The pool's settings, checked; the error names the field. `alert_threshold` is
    /// `severity.orange`, so a model's verdict is what the alert decision would be.
    ///
    /// Its `models` hold the enabled plugins' kinds (those `pool.models` names, where it
    /// names them, the others at the end) but no plugin specs: the daemon adds those once
    /// it has loaded the libraries (`crate::plugins::attach`), dropping the plugins it
    /// could not load. Checked here without the plugin kinds.
    pub fn pool_config(&self) -> Result<vigil_pool::PoolConfig, ConfigError> {
        let p = &self.pool;
        self.plugins.validate(&p.models)?;
        let mut models = p.models.clone();
        for kind in self.plugins.enabled_kinds() {
            if !models.contains(&kind) {
                models.push(kind);
            }
        }
        let mut builtin: Vec<vigil_pool::ModelKind> = models
            .iter()
            .copied()
            .filter(|k| k.plugin().is_none())
            .collect();
        if builtin.is_empty() && !models.is_empty() {
            // Only plugins: check the rest of the configuration with a stand-in.
            builtin.push(vigil_pool::ModelKind::Hst);
        }
        let mut config = vigil_pool::PoolConfig {
            models: builtin,
            alert_threshold: self.severity.orange,
            baseline_train_events: p.baseline_train_events,
            swap_after_events: p.swap_after_events,
            max_retired_models: p.max_retired_models,
            reference: match p.reference {
                ReferenceSection::NotAlerted => vigil_pool::ReferencePolicy::NotAlerted,
                ReferenceSection::WithinReference => vigil_pool::ReferencePolicy::WithinReference,
            },
            seed: p.seed,
            ocsvm: vigil_detectors::ocsvm::batch::BatchOcsvmConfig {
                min_scale: p.ocsvm_min_scale,
                ..vigil_pool::PoolConfig::default().ocsvm
            },
            ..vigil_pool::PoolConfig::default()
        };
        config.validate().map_err(|e| match e {
            vigil_pool::PoolError::InvalidConfig {
                field,
                requirement,
                value,
            } => invalid(
                format!("pool.{field}"),
                format!("{requirement}, got {value}"),
            ),
            other => invalid("pool", other.to_string()),
        })?;
        if models.len() > vigil_pool::MAX_MODELS {
            return Err(invalid(
                "pool.models",
                format!("must name at most {} models", vigil_pool::MAX_MODELS),
            ));
        }
        config.models = models;
        if p.models.is_empty() {
            return Err(invalid("pool.models", "name at least one model"));
        }
        if p.explain_top_features > 16 {
            return Err(invalid(
                "pool.explain_top_features",
                format!("must be at most 16, got {}", p.explain_top_features),
            ));
        }
        Ok(config)
    }

    /// Label feedback settings, if labels stand in for an analyst; `default_on` is the
    /// command's default when `feedback.from_labels` is unset.
    pub fn label_feedback(
        &self,
        default_on: bool,
    ) -> Result<Option<vigil_pool::LabelFeedbackConfig>, ConfigError> {
        let f = &self.feedback;
        if !(f.fraction > 0.0 && f.fraction <= 1.0) {
            return Err(invalid(
                "feedback.fraction",
                format!("must be in (0, 1], got {}", f.fraction),
            ));
        }
        Ok(f.from_labels
            .unwrap_or(default_on)
            .then_some(vigil_pool::LabelFeedbackConfig {
                fraction: f.fraction,
                delay_events: f.delay_events,
                seed: self.pool.seed,
            }))
    }

    /// Event time of the first demo event.
    pub fn demo_start(&self) -> Result<chrono::DateTime<chrono::Utc>, ConfigError> {
        parse_time("demo.start", &self.demo.start)
    }

    /// Checks every value, naming the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.flows.flow_config()?;
        let p = &self.pipeline;
        if !(1..=1_000_000).contains(&p.batch_max_events) {
            return Err(invalid(
                "pipeline.batch_max_events",
                format!("must be between 1 and 1000000, got {}", p.batch_max_events),
            ));
        }
        if p.batch_max_millis == 0 || p.batch_max_millis > 60_000 {
            return Err(invalid(
                "pipeline.batch_max_millis",
                format!("must be between 1 and 60000, got {}", p.batch_max_millis),
            ));
        }
        if !(1..=1024).contains(&p.mailbox_batches) {
            return Err(invalid(
                "pipeline.mailbox_batches",
                format!("must be between 1 and 1024, got {}", p.mailbox_batches),
            ));
        }
        if p.shutdown_grace_secs == 0 {
            return Err(invalid(
                "pipeline.shutdown_grace_secs",
                "must be at least 1",
            ));
        }
        if p.row_interval_micros == 0 {
            return Err(invalid(
                "pipeline.row_interval_micros",
                "must be at least 1",
            ));
        }
        if !(p.max_replay_gap_secs.is_finite() && p.max_replay_gap_secs >= 0.0) {
            return Err(invalid(
                "pipeline.max_replay_gap_secs",
                format!(
                    "must be a non-negative number, got {}",
                    p.max_replay_gap_secs
                ),
            ));
        }
        self.dataset_start()?;

        // Rules first: the feature step's spike baseline reuses the traffic-spike thresholds,
        // and a bad value there should be named as the rule's field.
        self.rule_set_config()?;
        self.feature_config()?;
        self.pool_config()?;
        self.label_feedback(false)?;
        if self.state.checkpoint_secs == 0 {
            return Err(invalid("state.checkpoint_secs", "must be at least 1"));
        }

        let s = &self.severity;
        if !(s.orange > 0.0 && s.orange < 1.0) {
            return Err(invalid(
                "severity.orange",
                format!("must be between 0 and 1, got {}", s.orange),
            ));
        }
        if !(s.red > s.orange && s.red <= 1.0) {
            return Err(invalid(
                "severity.red",
                format!(
                    "must be above severity.orange ({}) and at most 1, got {}",
                    s.orange, s.red
                ),
            ));
        }

        for (name, source) in &self.sources {
            source.validate(name)?;
        }

        self.demo_config(None)?;

        let st = &self.state;
        if st.dir.as_os_str().is_empty() {
            return Err(invalid("state.dir", "must not be empty"));
        }
        if !(1..=60_000).contains(&st.flush_every_millis) {
            return Err(invalid(
                "state.flush_every_millis",
                format!("must be between 1 and 60000, got {}", st.flush_every_millis),
            ));
        }
        if self.alerts.cooldown_secs > 30 * 86_400 {
            return Err(invalid(
                "alerts.cooldown_secs",
                format!(
                    "must be at most 2592000 (30 days), got {}",
                    self.alerts.cooldown_secs
                ),
            ));
        }
        self.alerts.parsed_allowlist()?;
        for (name, output) in [("ecs", &self.outputs.ecs), ("cef", &self.outputs.cef)] {
            let Some(output) = output else { continue };
            if output.path.as_os_str().is_empty() {
                return Err(invalid(format!("outputs.{name}.path"), "must not be empty"));
            }
            if output.max_bytes < 4096 {
                return Err(invalid(
                    format!("outputs.{name}.max_bytes"),
                    format!("must be at least 4096, got {}", output.max_bytes),
                ));
            }
            if output.keep_files > 1000 {
                return Err(invalid(
                    format!("outputs.{name}.keep_files"),
                    format!("must be at most 1000, got {}", output.keep_files),
                ));
            }
        }

        if let Some(webhook) = &self.outputs.webhook {
            webhook.validate()?;
        }

        self.api.validate()?;

        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return Err(invalid(
                "log.level",
                format!(
                    "must be one of error, warn, info, debug, trace, got {:?}",
                    self.log.level
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_config_parses_and_matches_code_defaults() {
        let text = include_str!("../../config/vigil.toml");
        let config = Config::from_toml(text).expect("config/vigil.toml must be valid");
        let code = Config::default();
        assert_eq!(
            config.pipeline.batch_max_events,
            code.pipeline.batch_max_events
        );
        assert_eq!(
            config.features.max_tracked_sources,
            code.features.max_tracked_sources
        );
        assert_eq!(
            config.rules.brute_force.min_failed_logins,
            code.rules.brute_force.min_failed_logins
        );
        assert_eq!(config.severity.red, code.severity.red);
        assert_eq!(config.flows, code.flows);
        assert_eq!(config.pool_config().ok(), code.pool_config().ok());
        assert_eq!(
            config.pool.explain_top_features,
            code.pool.explain_top_features
        );
        assert_eq!(
            config.label_feedback(true).ok(),
            code.label_feedback(true).ok()
        );
        assert_eq!(config.state.checkpoint_secs, code.state.checkpoint_secs);
        assert_eq!(config.demo.seed, code.demo.seed);
        assert_eq!(config.state.dir, code.state.dir);
        assert_eq!(
            config.state.flush_every_millis,
            code.state.flush_every_millis
        );
        assert_eq!(
            config.state.retention_max_alerts,
            code.state.retention_max_alerts
        );
        assert_eq!(
            config.state.retention_max_age_days,
            code.state.retention_max_age_days
        );
        assert_eq!(config.alerts.cooldown_secs, code.alerts.cooldown_secs);
        assert_eq!(config.alerts.allowlist, code.alerts.allowlist);
        assert_eq!(
            config.outputs.redact_credentials,
            code.outputs.redact_credentials
        );
        assert_eq!(config.api.enabled, code.api.enabled);
        assert_eq!(config.api.listen, code.api.listen);
        assert_eq!(config.api.token, code.api.token);
        assert_eq!(config.api.token_file, code.api.token_file);
        assert_eq!(config.api.read_requires_token, code.api.read_requires_token);
        assert_eq!(config.api.max_body_bytes, code.api.max_body_bytes);
        assert_eq!(config.api.max_page, code.api.max_page);
        assert_eq!(config.api.session_ttl_secs, code.api.session_ttl_secs);
        assert_eq!(config.geoip.databases, code.geoip.databases);
    }

    #[test]
    fn the_alert_allowlist_takes_cidrs_and_names_a_bad_one() {
        let config = Config::from_toml("[alerts]\nallowlist = [\"10.0.0.0/8\", \"2001:db8::1\"]\n")
            .expect("valid");
        let allowlist = config.alerts.parsed_allowlist().expect("parses");
        assert_eq!(allowlist.len(), 2);
        assert!(allowlist[0].contains("10.9.8.7".parse().expect("address")));
        let err = Config::from_toml("[alerts]\nallowlist = [\"10.0.0.0/8\", \"10.0.0.0/99\"]\n")
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("alerts.allowlist[1]"), "{text}");
        assert!(text.contains("10.0.0.0/99"), "{text}");
    }

    #[test]
    fn bad_api_values_name_the_field() {
        let cases = [
            ("listen = \"localhost\"", "api.listen"),
            ("listen = \"127.0.0.1\"", "api.listen"),
            (
                "token = \"0123456789abcdef\"\ntoken_file = \"/x\"",
                "api.token_file",
            ),
            ("token = \"short\"", "api.token"),
            ("token = \"0123456789 abcdef\"", "api.token"),
            ("read_requires_token = true", "api.read_requires_token"),
            ("max_body_bytes = 10", "api.max_body_bytes"),
            ("max_page = 0", "api.max_page"),
            ("session_ttl_secs = 0", "api.session_ttl_secs"),
        ];
        for (table, field) in cases {
            let err = Config::from_toml(&format!("[api]\n{table}\n")).unwrap_err();
            assert!(err.to_string().contains(field), "{table}: {err}");
        }
        let err = Config::from_toml("[api]\ntoken = \"secret-secret-secret x\"\n").unwrap_err();
        assert!(!err.to_string().contains("secret-secret"), "{err}");
        let err = Config::from_toml("[api]\nport = 1\n").unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn api_token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("token");
        std::fs::write(&path, "0123456789abcdef-token\n").expect("write");
        let config = Config::from_toml(&format!(
            "[api]\ntoken_file = \"{}\"\nread_requires_token = true\n",
            path.display()
        ))
        .expect("valid");
        assert_eq!(
            config.api.load_token().expect("readable").as_deref(),
            Some("0123456789abcdef-token")
        );
        std::fs::write(&path, "  \n").expect("write");
        let err = config.api.load_token().unwrap_err();
        assert!(err.to_string().contains("api.token_file"), "{err}");
        let missing = ApiConfig {
            token_file: Some(dir.path().join("absent")),
            ..ApiConfig::default()
        };
        let err = missing.load_token().unwrap_err();
        assert!(err.to_string().contains("api.token_file"), "{err}");
    }

    #[test]
    fn geoip_databases_parse_and_open_lazily() {
        let config = Config::from_toml(
            "[geoip]\ndatabases = [\"/nonexistent/GeoLite2-City.mmdb\", \"asn.mmdb\"]\n",
        )
        .expect("a missing database is not a config error");
        assert_eq!(config.geoip.databases.len(), 2);
        let error = config.geoip.open().unwrap_err().to_string();
        assert!(error.contains("/nonexistent/GeoLite2-City.mmdb"), "{error}");
        assert!(Config::default().geoip.open().unwrap().is_none());
        let err = Config::from_toml("[geoip]\ndatabase = []\n").unwrap_err();
        assert!(err.to_string().contains("database"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml("[pipeline]\nbatch_max_event = 5\n").unwrap_err();
        assert!(err.to_string().contains("batch_max_event"), "{err}");
    }

    #[test]
    fn bad_value_names_the_field() {
        let err = Config::from_toml("[severity]\nred = 0.5\norange = 0.9\n").unwrap_err();
        assert!(err.to_string().contains("severity.red"), "{err}");
        let err = Config::from_toml("[sources.hp]\ntype = \"file\"\n").unwrap_err();
        assert!(err.to_string().contains("sources.hp.path"), "{err}");
        let err = Config::from_toml(
            "[sources.hp]\ntype = \"file\"\npath = \"x\"\ntimezone = \"Mars/Base\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("sources.hp.timezone"), "{err}");
        let err =
            Config::from_toml("[sources.hp]\ntype = \"file\"\npath = \"x\"\nformat = \"syslog\"\n")
                .unwrap_err();
        assert!(err.to_string().contains("sources.hp.format"), "{err}");
        let err = Config::from_toml("[outputs.cef]\npath = \"x\"\nmax_bytes = 10\n").unwrap_err();
        assert!(err.to_string().contains("outputs.cef.max_bytes"), "{err}");
        let err = Config::from_toml("[state]\nflush_every_millis = 0\n").unwrap_err();
        assert!(
            err.to_string().contains("state.flush_every_millis"),
            "{err}"
        );
        let err = Config::from_toml("[outputs.ecs]\nmax_bytes = 100000\n").unwrap_err();
        assert!(err.to_string().contains("path"), "{err}");
    }

    #[test]
    fn webhook_table_parses_with_defaults() {
        let config = Config::from_toml(
            "[outputs.webhook]\nurl = \"https://hooks.slack.com/services/T0/B0/XYZ\"\n[outputs.webhook.headers]\nAuthorization = \"Bearer abc\"\n",
        )
        .expect("valid");
        let webhook = config.outputs.webhook.expect("webhook");
        let defaults = WebhookOutputConfig::default();
        assert_eq!(webhook.timeout_millis, defaults.timeout_millis);
        assert_eq!(webhook.max_retries, 8);
        assert_eq!(webhook.backoff_initial_millis, 500);
        assert_eq!(webhook.backoff_max_millis, 60_000);
        assert_eq!(webhook.min_severity, vigil_alert::Severity::Red);
        assert!(webhook.drift_events);
        assert_eq!(webhook.headers["Authorization"], "Bearer abc");
        let debug = format!("{webhook:?}");
        assert!(!debug.contains("XYZ") && !debug.contains("abc"), "{debug}");
        let orange = Config::from_toml(
            "[outputs.webhook]\nurl = \"http://127.0.0.1:8080/hook\"\nmin_severity = \"orange\"\ndrift_events = false\n",
        )
        .expect("valid");
        let orange = orange.outputs.webhook.expect("webhook");
        assert_eq!(orange.min_severity, vigil_alert::Severity::Orange);
        assert!(!orange.drift_events);
    }

    #[test]
    fn bad_webhook_values_name_the_field() {
        let cases = [
            ("timeout_millis = 5", "outputs.webhook.url"),
            ("url = \"ftp://example.com/x\"", "outputs.webhook.url"),
            ("url = \"hooks.slack.com/services\"", "outputs.webhook.url"),
            ("url = \"http://\"", "outputs.webhook.url"),
            (
                "url = \"http://h\"\ntimeout_millis = 0",
                "outputs.webhook.timeout_millis",
            ),
            (
                "url = \"http://h\"\nmax_retries = 5000",
                "outputs.webhook.max_retries",
            ),
            (
                "url = \"http://h\"\nbackoff_initial_millis = 0",
                "outputs.webhook.backoff_initial_millis",
            ),
            (
                "url = \"http://h\"\nbackoff_initial_millis = 900\nbackoff_max_millis = 800",
                "outputs.webhook.backoff_max_millis",
            ),
            (
                "url = \"http://h\"\nmin_severity = \"green\"",
                "outputs.webhook.min_severity",
            ),
            (
                "url = \"http://h\"\nheaders = { \"Bad Name\" = \"x\" }",
                "outputs.webhook.headers.Bad Name",
            ),
            (
                "url = \"http://h\"\nheaders = { Authorization = \"a\\nb\" }",
                "outputs.webhook.headers.Authorization",
            ),
            (
                "url = \"http://h\"\nheaders = { Content-Length = \"3\" }",
                "outputs.webhook.headers.Content-Length",
            ),
        ];
        for (table, field) in cases {
            let err = Config::from_toml(&format!("[outputs.webhook]\n{table}\n")).unwrap_err();
            assert!(err.to_string().contains(field), "{table}: {err}");
        }
        // Secrets in the URL stay out of the message.
        let err =
            Config::from_toml("[outputs.webhook]\nurl = \"ftp://h/secret-token\"\n").unwrap_err();
        assert!(!err.to_string().contains("secret-token"), "{err}");
        let err =
            Config::from_toml("[outputs.webhook]\nurl = \"http://h\"\nretries = 3\n").unwrap_err();
        assert!(err.to_string().contains("retries"), "{err}");
        let err =
            Config::from_toml("[outputs.webhook]\nurl = \"http://h\"\nmin_severity = \"purple\"\n")
                .unwrap_err();
        assert!(err.to_string().contains("purple"), "{err}");
    }

    #[test]
    fn flows_section_is_checked_naming_the_field() {
        let config = Config::from_toml("[flows]\nflow_idle_secs = 5\nmax_flows = 10\n").unwrap();
        let flows = config.flows.flow_config().unwrap();
        assert_eq!(flows.flow_idle_secs, 5.0);
        assert_eq!(flows.max_flows, 10);
        assert_eq!(flows.flow_active_secs, 300.0);
        for (table, field) in [
            ("flow_idle_secs = 0", "flows.flow_idle_secs"),
            ("flow_active_secs = -1", "flows.flow_active_secs"),
            ("max_flows = 0", "flows.max_flows"),
        ] {
            let err = Config::from_toml(&format!("[flows]\n{table}\n")).unwrap_err();
            assert!(err.to_string().contains(field), "{table}: {err}");
        }
        let err = Config::from_toml("[flows]\nidle_secs = 3\n").unwrap_err();
        assert!(err.to_string().contains("idle_secs"), "{err}");
    }

    #[test]
    fn pcap_sources_need_a_path_or_an_interface_but_not_both() {
        let ok = Config::from_toml("[sources.cap]\ntype = \"pcap\"\npath = \"x.pcap\"\n").unwrap();
        assert_eq!(ok.sources["cap"].kind, SourceKind::Pcap);
        let err = Config::from_toml("[sources.cap]\ntype = \"pcap\"\n").unwrap_err();
        assert!(err.to_string().contains("sources.cap.path"), "{err}");
        let err = Config::from_toml(
            "[sources.cap]\ntype = \"pcap\"\npath = \"x.pcap\"\ninterface = \"eth0\"\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("sources.cap.interface"), "{text}");
        assert!(text.contains("not both"), "{text}");
        let err = Config::from_toml(
            "[sources.cap]\ntype = \"pcap\"\npath = \"x.pcap\"\nformat = \"cowrie\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("sources.cap.format"), "{err}");
    }

    #[test]
    fn live_capture_options_are_checked_naming_the_field() {
        let live = "[sources.cap]\ntype = \"pcap\"\ninterface = \"lo\"\n";
        let cases = [
            (
                "[sources.f]\ntype = \"file\"\npath = \"x\"\nfilter = \"tcp\"\n",
                "sources.f.filter",
            ),
            (
                "[sources.f]\ntype = \"pcap\"\npath = \"x\"\npromiscuous = false\n",
                "sources.f.promiscuous",
            ),
            (
                "[sources.f]\ntype = \"file\"\npath = \"x\"\ninterface = \"lo\"\n",
                "sources.f.interface",
            ),
            (
                "[sources.cap]\ntype = \"pcap\"\ninterface = \" \"\n",
                "sources.cap.interface",
            ),
        ];
        for (text, field) in cases {
            let err = Config::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(field), "{text}: {err}");
        }
        for (extra, field, value) in [
            (
                "snaplen_bytes = 10\n",
                "sources.cap.snaplen_bytes",
                "got 10",
            ),
            (
                "buffer_bytes = 1024\n",
                "sources.cap.buffer_bytes",
                "got 1024",
            ),
        ] {
            let err = Config::from_toml(&format!("{live}{extra}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field) && err.contains(value), "{extra}: {err}");
        }
        let result = Config::from_toml(&format!("{live}filter = \"tcp port 22\"\n"));
        #[cfg(feature = "live-capture")]
        {
            let options = result.unwrap().sources["cap"].live_options().unwrap();
            assert_eq!(options.filter.as_deref(), Some("tcp port 22"));
            assert!(options.promiscuous);
            assert_eq!(options.snaplen_bytes, DEFAULT_SNAPLEN_BYTES);
            let err = Config::from_toml(&format!("{live}filter = \"tcp port\"\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("sources.cap.filter") && err.contains("\"tcp port\""),
                "{err}"
            );
        }
        #[cfg(not(feature = "live-capture"))]
        {
            let err = result.unwrap_err().to_string();
            assert!(err.contains("sources.cap.interface"), "{err}");
            assert!(err.contains("--features live-capture"), "{err}");
        }
    }
}
