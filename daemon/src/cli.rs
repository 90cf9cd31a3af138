//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `vigil --version`: the version and whether this build can capture live.
#[cfg(feature = "live-capture")]
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (live capture: yes)");
/// `vigil --version`: the version and whether this build can capture live.
#[cfg(not(feature = "live-capture"))]
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (live capture: no; build with --features live-capture)"
);

/// Real-time anomaly detection for honeypot and network security telemetry.
#[derive(Debug, Parser)]
#[command(name = "vigil", version = VERSION, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run as a service: read the configured sources until SIGINT or SIGTERM.
    Run {
        /// Config file (see config/vigil.toml).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run the embedded synthetic demo traffic through the whole pipeline.
    Demo(DemoArgs),
    /// Run the whole pipeline over files and print one JSON summary on stdout.
    Replay(ReplayArgs),
    /// Measure one detector on a labelled file (progressive score-then-learn) and print one JSON object.
    Eval(EvalArgs),
    /// Validate a config file and name the first bad field.
    CheckConfig {
        /// Config file to check.
        file: PathBuf,
    },
    /// Detector plugins.
    Plugins {
        /// What to do with them.
        #[command(subcommand)]
        command: PluginsCommand,
    },
}

/// `vigil plugins ...`.
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Load every library of the plugin folder and show each one loaded or refused, with
    /// the reason (enabled plugins are also made from their configuration, to check it).
    List(PluginsListArgs),
}

/// `vigil plugins list`.
#[derive(Debug, Args)]
pub struct PluginsListArgs {
    /// The plugin folder (default: `plugins.dir` from the config).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Config file: `plugins.dir`, the enabled plugins and their configurations.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Output: a table, or one JSON object (`{"dir": ..., "plugins": [...]}`).
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
}

/// How `vigil plugins list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// One line per library (and one for each reason).
    Table,
    /// One JSON object, as `GET /api/v1/plugins` answers.
    Json,
}

/// `vigil demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the generator (default: `demo.seed` from config).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this many wall-clock seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Generate this many seconds of event time, then drain and stop (default: endless).
    #[arg(long)]
    pub event_secs: Option<f64>,
    /// Event time runs this many times faster than the wall clock (default: `demo.time_acceleration`).
    #[arg(long)]
    pub acceleration: Option<f64>,
    /// Config file for thresholds and demo settings.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
}

/// `vigil replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Input format of every file.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// As fast as the pipeline goes (the default).
    #[arg(long, conflicts_with_all = ["speed", "rate"])]
    pub max_speed: bool,
    /// Replay at this multiple of the real event-time pace (gaps capped at `pipeline.max_replay_gap_secs`).
    #[arg(long, conflicts_with = "rate")]
    pub speed: Option<f64>,
    /// Replay at this many events per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Replay the input this many times, shifting event times forward by the input's span each round.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Config file for thresholds and pipeline settings.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Write alerts to this file as NDJSON (default: stderr).
    #[arg(long)]
    pub alerts_out: Option<PathBuf>,
    /// Keep the state database (alerts, output cursors) in this directory; without it the
    /// replay uses a temporary one, removed at exit.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// At the end, write every Prometheus metric (text format, as `GET /metrics` serves
    /// it) to this file.
    #[arg(long)]
    pub metrics_out: Option<PathBuf>,
    /// Append every event's pool score (sequence number, origin, score, champion, label) to
    /// this file as NDJSON.
    #[arg(long)]
    pub score_log: Option<PathBuf>,
    /// The sensor_id carried by every event.
    #[arg(long, default_value = "replay")]
    pub sensor_id: String,
    /// Label column of a generic CSV (`--format csv`; default `label`).
    #[arg(long)]
    pub label_column: Option<String>,
    /// Time zone for timestamps without an offset.
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
    /// Serve the admin API (status, alerts, metrics...) on this IP:PORT while replaying
    /// (port 0 picks a free port; the bound address is printed on stderr).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// With --listen: keep serving after the replay finished, until SIGINT, SIGTERM or
    /// `POST /api/v1/shutdown`.
    #[arg(long, requires = "listen")]
    pub hold: bool,
    /// Files to replay, in this order (`-` for stdin; `.gz` files are decompressed).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `vigil eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Input format.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Label column of a generic CSV (default `label`).
    #[arg(long)]
    pub label_column: Option<String>,
    /// Categorical columns of flow datasets: dropped or one-hot encoded.
    #[arg(long, value_enum, default_value = "onehot")]
    pub categorical: crate::eval::Categorical,
    /// The detector to measure.
    #[arg(long, value_enum, default_value = "hst")]
    pub detector: crate::eval::EvalDetector,
    /// The batch OCSVM fits on the first this many rows labelled normal.
    #[arg(long, default_value_t = 5000)]
    pub train_rows: usize,
    /// Shuffle the rows once with this seed (file order without it).
    #[arg(long)]
    pub shuffle: Option<u64>,
    /// Run the detector this many times, with model seeds 0..N-1.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Read at most this many rows.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Config file (feature windows and rule thresholds for `--detector rules`).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The labelled file.
    pub file: PathBuf,
}
