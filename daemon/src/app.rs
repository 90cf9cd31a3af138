//! The commands: wiring config, sources and the pipeline together.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use vigil_detectors::rules::RuleSet;
use vigil_features::FeatureExtractor;
use vigil_sensors::{Format, ParseOptions};
use vigil_state::{Store, StoreOptions};
use vigil_tail::TailOptions;

use std::collections::BTreeMap;

use vigil_tail::Position;

use tokio::sync::Notify;

use crate::alert::{EncodeOptions, LineFormat, SeverityThresholds};
use crate::api::{
    ApiServer, ApiSettings, ApiState, GeoIpStatus, HTTP_SOURCE, HttpIngest, SourceHandle,
};
use crate::cli::{DemoArgs, ReplayArgs};
use crate::config::{Config, SourceConfig, SourceKind, StartAt};
use crate::detect::{Detect, DetectSettings};
use crate::input::decode_position;
use crate::input::{DemoProducer, LineProducer, PcapProducer, Producer, RejectionLog};
use crate::metrics::{BuildInfo, Metrics};
use crate::outputs::{OutputEncoding, OutputSpec, OutputTarget, Outputs, WebhookSpec};
use crate::pipeline::{
    AlertStage, CheckpointPolicy, Pacing, Pipeline, SourceSettings, SourceSpec, StageSettings,
};
use crate::plugins::Plugins;
use crate::reload::{Hangup, Reloader};
use crate::stats::Summary;

/// How often `vigil run` applies retention.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// How often rejection log lines are summarised.
const REJECTION_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Loads `path`, or the defaults when there is none, and starts logging at the configured
/// level (`RUST_LOG` overrides it).
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let config = match path {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    init_logging(&config.log.level);
    Ok(config)
}

/// Logs to stderr, with colours only on a terminal. Without `RUST_LOG`, a config reload
/// can change the level.
fn init_logging(level: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let from_env = EnvFilter::try_from_default_env().ok();
    let reloadable = from_env.is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(from_env.unwrap_or_else(|| EnvFilter::new(level)))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter_reloading();
    let handle = builder.reload_handle();
    if builder.try_init().is_ok() && reloadable {
        crate::reload::set_log_level_control(Box::new(move |level| {
            handle
                .reload(EnvFilter::new(level))
                .map_err(|e| e.to_string())
        }));
    }
}

/// What differs between the commands when building the stages.
struct StageOptions {
    /// Labels stand in for feedback unless `feedback.from_labels` says otherwise.
    labels_by_default: bool,
    /// Every event's pool score is written here as NDJSON.
    score_log: Option<PathBuf>,
    /// Checkpoints taken, and the stored one restored (`vigil run`).
    checkpoints: bool,
    /// Prometheus metrics the stages feed.
    metrics: Option<Metrics>,
    /// The detector plugins loaded at start; the usable enabled ones join the pool.
    plugins: Arc<Plugins>,
}

/// Loads the plugin folder once for a command (see [`Plugins::load`]), for rows of the
/// feature schema's width.
fn load_plugins(config: &Config) -> anyhow::Result<Arc<Plugins>> {
    let dim = FeatureExtractor::new(config.feature_config()?)?.dim();
    Ok(Arc::new(Plugins::load(&config.plugins, None, dim)))
}

/// Builds the detector stage, fresh.
fn detect_stage(
    config: &Config,
    extractor: &FeatureExtractor,
    options: &StageOptions,
) -> anyhow::Result<Detect> {
    let rules = RuleSet::new(&config.rule_set_config()?)?;
    let mut pool = config
        .pool
        .enabled
        .then(|| config.pool_config())
        .transpose()?;
    if let Some(pool) = pool.as_mut() {
        options.plugins.attach(pool);
        if pool.models.is_empty() {
            bail!(
                "pool.models names only plugins, and none of them could be loaded (see the warnings above, or `vigil plugins list`)"
            );
        }
    }
    let score_log: Option<Box<dyn std::io::Write + Send>> = match &options.score_log {
        Some(path) => {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the score log {}", path.display()))?;
            end_partial_line(&mut file).with_context(|| {
                format!("cannot read the end of the score log {}", path.display())
            })?;
            Some(Box::new(std::io::BufWriter::new(file)))
        }
        None => None,
    };
    let names: Vec<String> = extractor
        .schema()
        .names()
        .iter()
        .map(|name| name.to_string())
        .collect();
    let mut detect = Detect::new(DetectSettings {
        dim: extractor.dim(),
        feature_names: names.into(),
        pool,
        label_feedback: config.label_feedback(options.labels_by_default)?,
        rules,
        severity: SeverityThresholds::from(&config.severity),
        explain_top_features: config.pool.explain_top_features,
        score_log,
    })?;
    detect.set_rule_views(crate::detect::RuleView::from_config(config));
    Ok(detect)
}

/// The GeoIP databases of `geoip.databases`, or `None` (enrichment off) when none is
/// configured or one is missing or broken: a warning, never a reason not to start.
fn geoip_stage(config: &Config) -> Option<vigil_geoip::GeoIp> {
    match config.geoip.open() {
        Ok(Some(geoip)) => {
            for database in geoip.databases() {
                tracing::info!("GeoIP enrichment from {database}");
            }
            Some(geoip)
        }
        Ok(None) => None,
        Err(error) => {
            tracing::warn!("GeoIP enrichment is off: {error}");
            None
        }
    }
}

/// What the API reports of GeoIP enrichment (`geoip` in the status; the dashboard's map):
/// the databases opened by the stages, or why there are none.
fn geoip_status(config: &Config, geoip: Option<&vigil_geoip::GeoIp>) -> GeoIpStatus {
    match geoip {
        Some(geoip) => GeoIpStatus {
            enabled: true,
            databases: geoip.databases().map(ToString::to_string).collect(),
            reason: None,
        },
        None if config.geoip.databases.is_empty() => GeoIpStatus::default(),
        None => GeoIpStatus {
            enabled: false,
            databases: Vec::new(),
            reason: Some(match config.geoip.open() {
                Err(error) => format!("{error}; enrichment is off"),
                Ok(_) => "the GeoIP databases could not be opened at start; enrichment is off"
                    .to_string(),
            }),
        },
    }
}

/// Ends a line a crash left unfinished at the end of an append-only log, so the lines
/// appended now stay whole.
fn end_partial_line(file: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

/// Builds the stages, restoring the stored checkpoint when asked; fails (naming the
/// field) before anything starts. Returns the stages and the checkpoint's source positions.
fn stage_settings(
    config: &Config,
    store: Store,
    options: &StageOptions,
) -> anyhow::Result<(StageSettings, BTreeMap<String, Position>)> {
    let fresh_extractor = || -> anyhow::Result<FeatureExtractor> {
        Ok(FeatureExtractor::new(config.feature_config()?)?)
    };
    let mut extractor = fresh_extractor()?;
    let mut detect = detect_stage(config, &extractor, options)?;
    let mut alert_state = AlertStage::new(config.alerts.cooldown_secs);
    let mut first_seq = 1;
    let mut positions = BTreeMap::new();
    if options.checkpoints
        && let Some(stored) = store
            .read_checkpoint()
            .with_context(|| format!("cannot read the checkpoint in {}", store.path().display()))?
    {
        let checkpoint = stored.checkpoint;
        let restored = (|| -> Result<(AlertStage, BTreeMap<String, Position>), String> {
            extractor
                .restore(&checkpoint.features)
                .map_err(|e| format!("feature windows: {e}"))?;
            detect
                .restore(&checkpoint.pool)
                .map_err(|e| e.to_string())?;
            let alerts = AlertStage::restore(&checkpoint.cooldowns)
                .map_err(|e| format!("alert stage: {e}"))?;
            let mut positions = BTreeMap::new();
            for (name, bytes) in &checkpoint.sources {
                positions.insert(
                    name.clone(),
                    decode_position(bytes).map_err(|e| format!("source {name}: {e}"))?,
                );
            }
            Ok((alerts, positions))
        })();
        match restored {
            Ok((mut alerts, restored_positions)) => {
                let rewritten = alerts.rewrite_open_alerts(&store);
                alert_state = alerts;
                positions = restored_positions;
                first_seq = checkpoint.sequence + 1;
                tracing::info!(
                    sequence = checkpoint.sequence,
                    sources = positions.len(),
                    open_alerts = rewritten,
                    "resuming from the checkpoint"
                );
            }
            Err(reason) => {
                tracing::warn!(
                    "the checkpoint cannot be used ({reason}); starting with fresh state from the configured start positions (alerts derived again are not stored twice)"
                );
                store
                    .clear_checkpoint()
                    .context("cannot clear the unusable checkpoint")?;
                extractor = fresh_extractor()?;
                detect = detect_stage(config, &extractor, options)?;
            }
        }
    }
    let filter = crate::suppress::AlertFilter::load(config.alerts.parsed_allowlist()?, &store)
        .with_context(|| format!("cannot read the suppressions in {}", store.path().display()))?;
    let alert_state = alert_state.with_filter(Arc::new(filter));
    let settings = StageSettings {
        extractor,
        geoip: geoip_stage(config),
        detect,
        store,
        alert_state,
        mailbox_batches: config.pipeline.mailbox_batches,
        first_seq,
        checkpoints: options.checkpoints.then(|| CheckpointPolicy {
            every: Duration::from_secs(config.state.checkpoint_secs),
        }),
        metrics: options.metrics.clone(),
    };
    Ok((settings, positions))
}

/// The state store: in `dir`, or in a temporary directory removed when the returned guard
/// drops (replay and demo without a state directory take the same path as `vigil run`).
struct StateHandle {
    store: Store,
    _temporary: Option<tempfile::TempDir>,
}

fn open_state(config: &Config, dir: Option<&Path>) -> anyhow::Result<StateHandle> {
    let options = StoreOptions {
        flush_every_ms: Some(config.state.flush_every_millis),
        score_reader: Some(crate::alert::stored_score),
        ..StoreOptions::default()
    };
    let (path, temporary) = match dir {
        Some(dir) => (dir.to_path_buf(), None),
        None => {
            let temporary = tempfile::Builder::new()
                .prefix("vigil-state-")
                .tempdir()
                .context("cannot create a temporary state directory")?;
            (temporary.path().to_path_buf(), Some(temporary))
        }
    };
    let store = Store::open(&path, &options)
        .with_context(|| format!("cannot open the state database in {}", path.display()))?;
    if let Some((version, indexed)) = store.upgraded_from() {
        tracing::info!(
            from = version,
            alerts = indexed,
            "upgraded the state database: alerts indexed by score"
        );
    }
    Ok(StateHandle {
        store,
        _temporary: temporary,
    })
}

fn encode_options(config: &Config) -> EncodeOptions {
    EncodeOptions {
        redact_credentials: config.outputs.redact_credentials,
        ..EncodeOptions::default()
    }
}

/// The `[outputs.ecs]` and `[outputs.cef]` files of the configuration.
fn siem_outputs(config: &Config, truncate: bool) -> Vec<OutputSpec> {
    let mut specs = Vec::new();
    for (name, format, output) in [
        ("ecs", LineFormat::Ecs, &config.outputs.ecs),
        ("cef", LineFormat::Cef, &config.outputs.cef),
    ] {
        if let Some(output) = output {
            specs.push(OutputSpec {
                name: name.to_string(),
                encoding: OutputEncoding::Line(format),
                target: OutputTarget::File {
                    path: output.path.clone(),
                    max_bytes: Some(output.max_bytes),
                    keep_files: output.keep_files,
                    truncate,
                },
                options: encode_options(config),
            });
        }
    }
    specs
}

/// The `[outputs.webhook]` of the configuration, if any.
fn webhook_output(config: &Config) -> Option<OutputSpec> {
    let webhook = config.outputs.webhook.as_ref()?;
    Some(OutputSpec {
        name: "webhook".to_string(),
        encoding: OutputEncoding::Webhook,
        target: OutputTarget::Webhook(WebhookSpec {
            url: webhook.url.clone(),
            timeout: Duration::from_millis(webhook.timeout_millis),
            max_retries: webhook.max_retries,
            backoff_initial: Duration::from_millis(webhook.backoff_initial_millis),
            backoff_max: Duration::from_millis(webhook.backoff_max_millis),
            min_severity: webhook.min_severity,
            drift_events: webhook.drift_events,
            headers: webhook
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        }),
        options: encode_options(config),
    })
}

fn flat_json_file(config: &Config, name: &str, path: PathBuf, truncate: bool) -> OutputSpec {
    OutputSpec {
        name: name.to_string(),
        encoding: OutputEncoding::Line(LineFormat::Json),
        target: OutputTarget::File {
            path,
            max_bytes: None,
            keep_files: 0,
            truncate,
        },
        options: encode_options(config),
    }
}

/// Lets the outputs catch up (bounded by `grace`) and writes the store to disk.
fn finish_outputs(outputs: Outputs, store: &Store, grace: Duration) -> anyhow::Result<()> {
    outputs.finish(grace);
    store
        .flush()
        .with_context(|| format!("cannot write the state database {}", store.path().display()))
}

fn parse_options(
    config: &Config,
    sensor_id: &str,
    timezone: chrono_tz::Tz,
    label_column: Option<String>,
) -> anyhow::Result<ParseOptions> {
    Ok(ParseOptions {
        sensor_id: Arc::from(sensor_id),
        naive_timezone: timezone,
        dataset_start: config.dataset_start()?,
        row_interval_micros: config.pipeline.row_interval_micros,
        label_column,
    })
}

fn source_settings(config: &Config, name: &str, pacing: Pacing, poll: Duration) -> SourceSettings {
    SourceSettings {
        name: Arc::from(name),
        batch_max_events: config.pipeline.batch_max_events,
        batch_max_wait: Duration::from_millis(config.pipeline.batch_max_millis),
        poll_interval: poll,
        pacing,
        run_for: None,
    }
}

/// A source that reads as fast as the pipeline takes it, looking again after `poll` when
/// it has nothing.
fn max_speed_source(
    config: &Config,
    name: &str,
    poll: Duration,
    producer: Box<dyn Producer>,
) -> SourceSpec {
    SourceSpec {
        settings: source_settings(config, name, Pacing::MaxSpeed, poll),
        producer,
    }
}

fn rejection_log(config: &Config, name: &str) -> RejectionLog {
    RejectionLog::new(
        Arc::from(name),
        config.log.max_rejections_logged_per_interval,
        REJECTION_LOG_INTERVAL,
    )
}

/// From now on, turns the first SIGINT or SIGTERM into `stop`, the shutdown path the API's
/// `POST /api/v1/shutdown` takes too. Call it first thing inside the actix system: a signal
/// that arrives before the handlers are installed kills the process without a drain.
pub fn watch_signals(stop: Arc<Notify>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                actix_rt::spawn(async move {
                    let name = tokio::select! {
                        _ = term.recv() => "SIGTERM",
                        _ = int.recv() => "SIGINT",
                    };
                    tracing::info!("{name} received");
                    stop.notify_one();
                });
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!("cannot watch SIGINT and SIGTERM: {error}");
            }
        }
    }
    #[cfg(not(unix))]
    {
        actix_rt::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.notify_one();
            }
        });
    }
}

/// Runs a pipeline until its sources finish, a signal arrives or `stop` is notified (`POST
/// /api/v1/shutdown`); then stops intake and waits up to the grace period for the pipeline
/// to drain. Returns the summary and whether it was stopped before its sources finished.
async fn run_pipeline(
    mut pipeline: Pipeline,
    grace: Duration,
    process_start: Instant,
    ready: Instant,
    stop: Arc<Notify>,
) -> (Summary, bool) {
    let drained = pipeline.drained();
    tokio::pin!(drained);
    let requested = tokio::select! {
        _ = &mut drained => false,
        _ = stop.notified() => true,
    };
    if requested {
        tracing::info!(
            "shutting down: intake stopped, draining the pipeline (grace {} s)",
            grace.as_secs()
        );
        pipeline.stop_intake();
        if tokio::time::timeout(grace, &mut drained).await.is_err() {
            tracing::warn!(
                "pipeline did not drain within {} s; exiting anyway",
                grace.as_secs()
            );
        }
    }
    let summary = pipeline
        .stats
        .summary((ready - process_start).as_secs_f64());
    pipeline.shut_down();
    (summary, requested)
}

/// The process's Prometheus metrics (the one place they are created).
fn new_metrics() -> Metrics {
    Metrics::new(&BuildInfo::current())
}

/// `vigil replay`.
pub fn replay(args: ReplayArgs, process_start: Instant) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref())?;
    // Packet captures are read by vigil-packets, not by a line parser: `--format pcap`, or
    // `auto` when every file starts with a pcap or pcapng magic number.
    let pcap = match args.format.as_str() {
        "pcap" => true,
        "auto" => {
            let files: Vec<&PathBuf> = args.files.iter().filter(|f| f.as_os_str() != "-").collect();
            let captures: Vec<bool> = files
                .iter()
                .map(|f| crate::input::file_is_capture(f))
                .collect();
            if let (Some(pos), true) = (
                captures.iter().position(|c| c != &captures[0]),
                !captures.is_empty(),
            ) {
                let (capture, other) = if captures[0] {
                    (files[0], files[pos])
                } else {
                    (files[pos], files[0])
                };
                bail!(
                    "--format auto: {} is a packet capture but {} is not; replay them separately or give --format",
                    capture.display(),
                    other.display()
                );
            }
            captures.first().copied().unwrap_or(false)
        }
        _ => false,
    };
    let format: Format = if pcap {
        Format::Auto
    } else {
        args.format.parse().map_err(|e| anyhow!("--format: {e}"))?
    };
    let flow_config = config.flows.flow_config()?;
    let timezone: chrono_tz::Tz = args
        .timezone
        .parse()
        .map_err(|_| anyhow!("--timezone: unknown time zone {:?}", args.timezone))?;
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let pacing = match (args.speed, args.rate) {
        (Some(factor), _) if !(factor.is_finite() && factor > 0.0) => {
            bail!("--speed must be a positive number, got {factor}")
        }
        (_, Some(rate)) if !(rate.is_finite() && rate > 0.0) => {
            bail!("--rate must be a positive number, got {rate}")
        }
        (Some(factor), _) => Pacing::Speed {
            factor,
            max_gap: Duration::from_secs_f64(config.pipeline.max_replay_gap_secs),
        },
        (_, Some(rate)) => Pacing::Rate(rate),
        _ => Pacing::MaxSpeed,
    };
    let mut inputs = Vec::new();
    for file in &args.files {
        let text = file.to_string_lossy().into_owned();
        if text != "-" && !file.is_file() {
            bail!(
                "input file {} does not exist or is not a file",
                file.display()
            );
        }
        inputs.push(text);
    }
    // The port is taken before anything else starts, so a taken port stops the replay.
    let mut api = args
        .listen
        .map(|addr| bind_api_at(&config, addr))
        .transpose()?;
    let state = open_state(&config, args.state_dir.as_deref())?;
    // Over a fresh store the files start empty, as a replay's output always did; over a
    // kept one they continue from their acknowledged length.
    let truncate = args.state_dir.is_none();
    let mut specs = siem_outputs(&config, truncate);
    specs.push(match &args.alerts_out {
        Some(path) => flat_json_file(&config, "alerts_out", path.clone(), truncate),
        None => OutputSpec {
            name: "stderr".to_string(),
            encoding: OutputEncoding::Line(LineFormat::Json),
            target: OutputTarget::Stderr,
            options: encode_options(&config),
        },
    });
    specs.extend(webhook_output(&config));
    let metrics = (args.metrics_out.is_some() || api.is_some()).then(new_metrics);
    let plugins = load_plugins(&config)?;
    let (stages, _) = stage_settings(
        &config,
        state.store.clone(),
        &StageOptions {
            labels_by_default: false,
            score_log: args.score_log.clone(),
            checkpoints: false,
            metrics: metrics.clone(),
            plugins: plugins.clone(),
        },
    )?;
    if let Some(api) = api.as_mut() {
        api.geoip = geoip_status(&config, stages.geoip.as_ref());
    }
    let parser = vigil_sensors::parser_for(
        format,
        parse_options(
            &config,
            &args.sensor_id,
            timezone,
            args.label_column.clone(),
        )?,
    );
    let tail = TailOptions {
        follow: false,
        ..TailOptions::default()
    };
    let producer: Box<dyn Producer> = if pcap {
        Box::new(PcapProducer::new(
            Arc::from("replay"),
            inputs,
            &args.sensor_id,
            flow_config,
            args.repeat,
        )?)
    } else {
        Box::new(LineProducer::new(
            Arc::from("replay"),
            inputs,
            tail,
            parser,
            args.repeat,
            rejection_log(&config, "replay"),
        ))
    };
    let settings = source_settings(&config, "replay", pacing, Duration::from_millis(50));
    let grace = Duration::from_secs(config.pipeline.shutdown_grace_secs);
    let outputs = Outputs::open(&state.store, specs)?;
    let api_store = state.store.clone();
    let api_metrics = metrics.clone();
    let stop = Arc::new(Notify::new());
    let pipeline_stop = stop.clone();
    let replay_config = config.clone();
    let replay_config_path = args.config.clone();
    let system = actix::System::new();
    let (summary, interrupted, server) = system.block_on(async move {
        watch_signals(pipeline_stop.clone());
        let pipeline = Pipeline::start(stages, vec![SourceSpec { settings, producer }]);
        let ready = Instant::now();
        let server = match api {
            Some(api) => {
                let reloader =
                    Reloader::new(replay_config_path, replay_config, pipeline.live_stages());
                let server = start_api(
                    api.with_reloader(Arc::new(reloader)).with_plugins(&plugins),
                    &pipeline,
                    &api_store,
                    &pipeline_stop,
                    process_start,
                    api_metrics.as_ref(),
                    None,
                )
                .context("the admin API could not start")?;
                eprintln!(
                    "vigil replay: admin API on {url} (status: {url}/api/v1/status)",
                    url = server.url()
                );
                Some(server)
            }
            None => None,
        };
        let (summary, interrupted) =
            run_pipeline(pipeline, grace, process_start, ready, pipeline_stop).await;
        Ok::<_, anyhow::Error>((summary, interrupted, server))
    })?;
    // A replay's outputs deliver once the pipeline has drained, so they carry every alert in
    // its final form (aggregated repeats included) whatever the speed and batching: the
    // files are byte-identical across replays. Every committed alert reaches them before the
    // summary; only an interrupted replay is bounded by the grace period.
    let outputs = outputs.start()?;
    let wait = if interrupted { grace } else { Duration::MAX };
    finish_outputs(outputs, &state.store, wait)?;
    if let (Some(path), Some(metrics)) = (&args.metrics_out, &metrics) {
        std::fs::write(path, metrics.render())
            .with_context(|| format!("cannot write the metrics to {}", path.display()))?;
    }
    println!("{}", serde_json::to_string(&summary)?);
    if let Some(server) = server {
        system.block_on(async move {
            if args.hold && !interrupted {
                eprintln!(
                    "vigil replay: finished; still serving on {} until SIGINT, SIGTERM or POST /api/v1/shutdown",
                    server.url()
                );
                // Signals reach `stop` through the watcher installed at the start.
                stop.notified().await;
            }
            server.stop().await;
        });
    }
    Ok(())
}

/// `vigil demo`.
pub fn demo(args: DemoArgs, process_start: Instant) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref())?;
    let d = &config.demo;
    let acceleration = args.acceleration.unwrap_or(d.time_acceleration);
    if !(acceleration.is_finite() && acceleration > 0.0) {
        bail!("--acceleration must be a positive number, got {acceleration}");
    }
    if let Some(duration) = args.duration
        && !(duration.is_finite() && duration > 0.0)
    {
        bail!("--duration must be a positive number of seconds, got {duration}");
    }
    let mut demo_config = config.demo_config(args.seed)?;
    if let Some(secs) = args.event_secs {
        if !(secs.is_finite() && secs > 0.0) {
            bail!("--event-secs must be a positive number of seconds, got {secs}");
        }
        demo_config.duration_secs = Some(secs);
    }
    let generator = vigil_demo::DemoGenerator::new(demo_config)?;
    // The demo runs without its API when the port is taken (another demo, say).
    let mut api = match bind_api(&config) {
        Ok(api) => api,
        Err(error) => {
            eprintln!("vigil demo: no admin API: {error:#}");
            None
        }
    };
    // Without a configured token, a sign-in token for this run only.
    let mut sign_in_token = "api.token of the config".to_string();
    if let Some(api) = api.as_mut()
        && api.settings.token.is_none()
    {
        let token = crate::api::random_token(24).context("cannot generate a sign-in token")?;
        sign_in_token.clone_from(&token);
        api.settings.token = Some(token);
    }
    let state = open_state(&config, None)?;
    let outputs = Outputs::start(
        &state.store,
        vec![OutputSpec {
            name: "console".to_string(),
            encoding: OutputEncoding::Human,
            target: OutputTarget::Stdout,
            options: encode_options(&config),
        }],
    )?;
    // What the API serves at `GET /metrics`.
    let demo_metrics = new_metrics();
    let plugins = load_plugins(&config)?;
    let (stages, _) = stage_settings(
        &config,
        state.store.clone(),
        &StageOptions {
            labels_by_default: true,
            score_log: config.outputs.scores_ndjson.clone(),
            checkpoints: false,
            metrics: Some(demo_metrics.clone()),
            plugins: plugins.clone(),
        },
    )?;
    if let Some(api) = api.as_mut() {
        api.geoip = geoip_status(&config, stages.geoip.as_ref());
    }
    let mut settings = source_settings(
        &config,
        "demo",
        Pacing::Speed {
            factor: acceleration,
            max_gap: Duration::from_secs(5),
        },
        Duration::from_millis(50),
    );
    settings.run_for = args.duration.map(Duration::from_secs_f64);
    let mut sources = vec![SourceSpec {
        settings,
        producer: Box::new(DemoProducer::new(generator)),
    }];
    let ingest = match &api {
        Some(_) => {
            let (ingest, spec) = http_source(&config)?;
            sources.push(spec);
            Some(ingest)
        }
        None => None,
    };
    let grace = Duration::from_secs(config.pipeline.shutdown_grace_secs);
    eprintln!(
        "vigil demo: seed {}, event time {}x the wall clock; alerts below, a summary line every 2 s on stderr. Ctrl-C stops.",
        args.seed.unwrap_or(d.seed),
        acceleration
    );
    let api_store = state.store.clone();
    let api_metrics = Some(demo_metrics);
    let demo_running_config = config.clone();
    let demo_config_path = args.config.clone();
    let summary = actix::System::new().block_on(async move {
        let stop = Arc::new(Notify::new());
        watch_signals(stop.clone());
        let pipeline = Pipeline::start(stages, sources);
        follow_sources(ingest.as_ref(), &pipeline);
        let ready = Instant::now();
        let reloader = Arc::new(Reloader::new(
            demo_config_path,
            demo_running_config,
            pipeline.live_stages(),
        ));
        let server = match api.map(|api| start_api(api.with_reloader(reloader).with_plugins(&plugins), &pipeline, &api_store, &stop, process_start, api_metrics.as_ref(), ingest)) {
            Some(Ok(server)) => {
                eprintln!(
                    "vigil demo: admin API on {url}/api/v1/status (alerts: {url}/api/v1/alerts)",
                    url = server.url()
                );
                eprintln!(
                    "vigil demo: dashboard {url}/  sign-in token: {sign_in_token}",
                    url = server.url()
                );
                Some(server)
            }
            Some(Err(error)) => {
                eprintln!("vigil demo: no admin API: {error}");
                None
            }
            None => None,
        };
        let stats = pipeline.stats.clone();
        let ticker = actix_rt::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            let mut last = 0u64;
            loop {
                tick.tick().await;
                let c = stats.lock();
                let rate = (c.events_decided - last) / 2;
                last = c.events_decided;
                eprintln!(
                    "events {} ({rate}/s) | alerts red {} orange {} | sources {} | late {} | rejected {}",
                    c.events_decided,
                    c.counts.alerts.red,
                    c.counts.alerts.orange,
                    c.counts.sources_tracked,
                    c.counts.events_late,
                    c.counts.events_rejected.values().sum::<u64>()
                );
            }
        });
        let summary = run_pipeline(pipeline, grace, process_start, ready, stop).await.0;
        ticker.abort();
        if let Some(server) = server {
            server.stop().await;
        }
        summary
    });
    finish_outputs(outputs, &state.store, grace)?;
    eprintln!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

/// The longest a live capture waits when no packet is waiting, in milliseconds.
#[cfg(feature = "live-capture")]
const LIVE_POLL_MILLIS_MAX: u64 = 10;

/// A live-capture source: the capture is opened here, so a missing right to capture or an
/// unknown interface stops start-up naming it.
#[cfg(feature = "live-capture")]
fn live_source_spec(
    config: &Config,
    name: &str,
    source: &SourceConfig,
    sensor_id: &str,
) -> anyhow::Result<SourceSpec> {
    let options = source
        .live_options()
        .ok_or_else(|| anyhow!("config field `sources.{name}.interface`: required"))?;
    let producer = crate::live::LiveProducer::open(
        Arc::from(name),
        options,
        sensor_id,
        config.flows.flow_config()?,
    )
    .map_err(|error| match error {
        // A filter the interface's link type refuses (config validation compiles it for
        // Ethernet) is still the config's fault.
        crate::live::LiveSourceError::Capture(bad @ vigil_capture::LiveError::BadFilter { .. }) => {
            anyhow!("config field `sources.{name}.filter`: {bad}")
        }
        other => anyhow::Error::new(other).context(format!("source {name:?} cannot start")),
    })?;
    Ok(max_speed_source(
        config,
        name,
        Duration::from_millis(source.poll_millis.min(LIVE_POLL_MILLIS_MAX)),
        Box::new(producer),
    ))
}

/// Without the `live-capture` feature, configuration validation has refused `interface`.
#[cfg(not(feature = "live-capture"))]
fn live_source_spec(
    _config: &Config,
    name: &str,
    _source: &SourceConfig,
    _sensor_id: &str,
) -> anyhow::Result<SourceSpec> {
    bail!("config field `sources.{name}.interface`: this vigil was built without live capture")
}

fn source_spec(
    config: &Config,
    name: &str,
    source: &SourceConfig,
    resume: Option<&Position>,
) -> anyhow::Result<SourceSpec> {
    let sensor_id = source.sensor_id.clone().unwrap_or_else(|| name.to_string());
    if source.kind == SourceKind::Pcap {
        if source.interface.is_some() {
            return live_source_spec(config, name, source, &sensor_id);
        }
        let path = source
            .path
            .as_ref()
            .ok_or_else(|| anyhow!("config field `sources.{name}.path`: required"))?;
        let mut producer = PcapProducer::new(
            Arc::from(name),
            vec![path.to_string_lossy().into_owned()],
            &sensor_id,
            config.flows.flow_config()?,
            1,
        )?;
        if let Some(position) = resume {
            producer.resume(position.clone());
        }
        return Ok(max_speed_source(
            config,
            name,
            Duration::from_millis(source.poll_millis),
            Box::new(producer),
        ));
    }
    let format = source.parsed_format()?;
    let timezone = source.parsed_timezone()?;
    let parser = vigil_sensors::parser_for(
        format,
        parse_options(config, &sensor_id, timezone, source.label_column.clone())?,
    );
    let spec = match source.kind {
        SourceKind::Stdin => "-".to_string(),
        SourceKind::File | SourceKind::Glob | SourceKind::Pcap => source
            .path
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .ok_or_else(|| anyhow!("config field `sources.{name}.path`: required"))?,
    };
    let start_offset = match (source.start_at, source.kind) {
        (StartAt::End, SourceKind::File) => std::fs::metadata(&spec).map(|m| m.len()).unwrap_or(0),
        _ => 0,
    };
    // A checkpoint's position wins over `start_at`: the source resumes where it stopped.
    let (start_offset, start_path, start_identity) = match resume {
        Some(position) if source.kind != SourceKind::Stdin => (
            position.offset,
            Some(PathBuf::from(&*position.path)),
            position.identity,
        ),
        _ => (start_offset, None, None),
    };
    let tail = TailOptions {
        follow: source.follow && source.kind != SourceKind::Stdin,
        start_offset,
        start_path,
        start_identity,
        max_line_bytes: source.max_line_bytes,
        rotate_wait: Duration::from_millis(source.rotate_wait_millis),
        ..TailOptions::default()
    };
    let producer = LineProducer::new(
        Arc::from(name),
        vec![spec],
        tail,
        parser,
        1,
        rejection_log(config, name),
    );
    Ok(max_speed_source(
        config,
        name,
        Duration::from_millis(source.poll_millis),
        Box::new(producer),
    ))
}

/// The admin API's listener and settings, bound before anything else starts; `None` when
/// `api.enabled` is off.
struct ApiListener {
    listener: std::net::TcpListener,
    settings: ApiSettings,
    /// `[api.tls]`, read and checked.
    tls: Option<rustls::ServerConfig>,
    /// Serves `POST /api/v1/config/reload`.
    reloader: Option<Arc<Reloader>>,
    /// How long a dashboard sign-in lasts (`api.session_ttl_secs`).
    session_ttl: Duration,
    /// What the status says of GeoIP enrichment (set once the stages are built).
    geoip: GeoIpStatus,
    /// Serves `GET /api/v1/plugins`.
    plugins: Option<Arc<Plugins>>,
}

impl ApiListener {
    /// The same, reloading the configuration with `reloader`.
    fn with_reloader(mut self, reloader: Arc<Reloader>) -> ApiListener {
        self.reloader = Some(reloader);
        self
    }

    /// The same, serving the plugin report.
    fn with_plugins(mut self, plugins: &Arc<Plugins>) -> ApiListener {
        self.plugins = Some(plugins.clone());
        self
    }
}

fn bind_api(config: &Config) -> anyhow::Result<Option<ApiListener>> {
    if !config.api.enabled {
        return Ok(None);
    }
    bind_api_at(config, config.api.listen_addr()?).map(Some)
}

/// The admin API's listener on `addr` (`vigil replay --listen`), with the `[api]` settings.
fn bind_api_at(config: &Config, addr: std::net::SocketAddr) -> anyhow::Result<ApiListener> {
    let token = config.api.load_token()?;
    let tls = config
        .api
        .tls
        .as_ref()
        .map(crate::tls::server_config)
        .transpose()?;
    let listener = crate::api::bind(addr)?;
    Ok(ApiListener {
        listener,
        settings: ApiSettings {
            token,
            read_requires_token: config.api.read_requires_token,
            max_body_bytes: config.api.max_body_bytes,
            max_page: config.api.max_page,
            redact_credentials: config.outputs.redact_credentials,
            tls: tls.is_some(),
        },
        tls,
        reloader: None,
        session_ttl: Duration::from_secs(config.api.session_ttl_secs),
        geoip: GeoIpStatus::default(),
        plugins: None,
    })
}

/// The `http` source that `POST /api/v1/events` feeds (only beside the API): its queue
/// holds `pipeline.mailbox_batches` requests.
fn http_source(config: &Config) -> anyhow::Result<(Arc<HttpIngest>, SourceSpec)> {
    if config.sources.contains_key(HTTP_SOURCE) {
        bail!(
            "config table `sources.{HTTP_SOURCE}`: the name is taken by the admin API's ingest source (POST /api/v1/events); rename the source"
        );
    }
    // Records ingested after a restart get other origins, so their alerts other ids.
    let input = crate::input::session_origin(HTTP_SOURCE);
    let options = parse_options(config, HTTP_SOURCE, chrono_tz::UTC, None)?;
    let (ingest, producer) = HttpIngest::channel(config.pipeline.mailbox_batches, options, &input);
    let spec = max_speed_source(
        config,
        HTTP_SOURCE,
        Duration::from_millis(20),
        Box::new(producer),
    );
    Ok((ingest, spec))
}

/// Lets the `http` source finish once every other source has.
fn follow_sources(ingest: Option<&Arc<HttpIngest>>, pipeline: &Pipeline) {
    if let Some(ingest) = ingest {
        ingest.follow_sources(
            pipeline
                .sources()
                .into_iter()
                .filter(|(name, _)| &**name != HTTP_SOURCE)
                .map(|(_, control)| control)
                .collect(),
        );
    }
}

/// Starts the admin API over a started pipeline (inside its actix system) and marks it
/// ready. Returns the server, or the error when it cannot serve.
fn start_api(
    api: ApiListener,
    pipeline: &Pipeline,
    store: &Store,
    stop: &Arc<Notify>,
    process_start: Instant,
    metrics: Option<&Metrics>,
    ingest: Option<Arc<HttpIngest>>,
) -> std::io::Result<ApiServer> {
    let mailbox_batches = pipeline.mailbox_batches();
    let sources = pipeline
        .sources()
        .into_iter()
        .map(|(name, control)| SourceHandle { name, control })
        .collect();
    let secure_cookies = api.tls.is_some();
    let state = ApiState::new(
        api.settings,
        store.clone(),
        pipeline.stats.clone(),
        sources,
        stop.clone(),
        match metrics {
            Some(metrics) => {
                let metrics = metrics.clone();
                Arc::new(move || metrics.render())
            }
            None => crate::api::basic_metrics(pipeline.stats.clone(), store.clone()),
        },
        process_start,
    )
    .with_session_ttl(api.session_ttl)
    .with_secure_cookies(secure_cookies)
    .with_geoip(api.geoip)
    .with_alert_editor(pipeline.alert_editor())
    .with_detector_stage(pipeline.detector_stage())
    .with_statistics(pipeline.activity(), pipeline.alert_filter());
    let state = match api.plugins {
        Some(plugins) => state.with_plugins(plugins),
        None => state,
    };
    let state = match ingest {
        Some(ingest) => state.with_ingest(ingest),
        None => state,
    };
    let state = match api.reloader {
        Some(reloader) => state.with_reloader(reloader),
        None => state,
    };
    let state = match metrics {
        Some(metrics) => {
            let observed = metrics.clone();
            let queues = metrics.clone();
            state
                .with_observer(Arc::new(move |route, status, seconds| {
                    observed.observe_api(route, status, seconds)
                }))
                .with_queue_depths(Arc::new(move || queues.queue_depths()), mailbox_batches)
        }
        None => state,
    };
    let server = ApiServer::start(api.listener, Arc::new(state), api.tls)?;
    server.state().set_ready(true);
    tracing::info!("admin API on {}", server.url());
    tracing::info!("dashboard on {}/", server.url());
    Ok(server)
}

/// `vigil run`.
pub fn run(config_path: &Path, process_start: Instant) -> anyhow::Result<()> {
    let config = load_config(Some(config_path))?;
    if config.sources.is_empty() {
        bail!(
            "config file {} has no [sources.NAME] table: nothing to read",
            config_path.display()
        );
    }
    // The port is taken before anything else starts, so a taken port stops start-up.
    let mut api = bind_api(&config)?;
    let state = open_state(&config, Some(&config.state.dir))?;
    apply_retention(&config, &state.store);
    let mut specs = siem_outputs(&config, false);
    if let Some(path) = &config.outputs.alerts_ndjson {
        specs.push(flat_json_file(
            &config,
            "alerts_ndjson",
            path.clone(),
            false,
        ));
    }
    if specs.is_empty() {
        specs.push(OutputSpec {
            name: "console".to_string(),
            encoding: OutputEncoding::Human,
            target: OutputTarget::Stdout,
            options: encode_options(&config),
        });
    }
    // The webhook carries only RED alerts (by default): without a file output the console
    // still shows every alert.
    specs.extend(webhook_output(&config));
    // What the API serves at `GET /metrics`.
    let metrics = new_metrics();
    let plugins = load_plugins(&config)?;
    let (stages, positions) = stage_settings(
        &config,
        state.store.clone(),
        &StageOptions {
            labels_by_default: false,
            score_log: config.outputs.scores_ndjson.clone(),
            checkpoints: true,
            metrics: Some(metrics.clone()),
            plugins: plugins.clone(),
        },
    )?;
    if let Some(api) = api.as_mut() {
        api.geoip = geoip_status(&config, stages.geoip.as_ref());
    }
    let mut sources = Vec::new();
    for (name, source) in &config.sources {
        sources.push(source_spec(&config, name, source, positions.get(name))?);
    }
    let ingest = match &api {
        Some(_) => {
            let (ingest, spec) = http_source(&config)?;
            sources.push(spec);
            Some(ingest)
        }
        None => None,
    };
    let grace = Duration::from_secs(config.pipeline.shutdown_grace_secs);
    let outputs = Outputs::start(&state.store, specs)?;
    let retention_config = config.clone();
    let retention_store = state.store.clone();
    let api_store = state.store.clone();
    let api_metrics = Some(metrics);
    let reload_config = config.clone();
    let reload_path = config_path.to_path_buf();
    let (summary, api_error) = actix::System::new().block_on(async move {
        let stop = Arc::new(Notify::new());
        watch_signals(stop.clone());
        let hangup = Hangup::catch();
        let pipeline = Pipeline::start(stages, sources);
        follow_sources(ingest.as_ref(), &pipeline);
        let reloader = Arc::new(Reloader::new(
            Some(reload_path),
            reload_config,
            pipeline.live_stages(),
        ));
        hangup.reload_with(reloader.clone());
        let ready = Instant::now();
        let mut api_error = None;
        let server = match api.map(|api| {
            start_api(
                api.with_reloader(reloader).with_plugins(&plugins),
                &pipeline,
                &api_store,
                &stop,
                process_start,
                api_metrics.as_ref(),
                ingest,
            )
        }) {
            Some(Ok(server)) => Some(server),
            Some(Err(error)) => {
                // Stop again at once: `vigil run` does not go on without the API it was asked for.
                api_error = Some(error);
                stop.notify_one();
                None
            }
            None => None,
        };
        tracing::info!(
            sources = config.sources.len(),
            state = %config.state.dir.display(),
            "vigil running; SIGINT, SIGTERM or POST /api/v1/shutdown stops it, SIGHUP reloads the config"
        );
        let retention = actix_rt::spawn(async move {
            let mut tick = tokio::time::interval(RETENTION_INTERVAL);
            tick.tick().await;
            loop {
                tick.tick().await;
                apply_retention(&retention_config, &retention_store);
            }
        });
        let (summary, _) = run_pipeline(pipeline, grace, process_start, ready, stop).await;
        retention.abort();
        if let Some(server) = server {
            server.stop().await;
        }
        (summary, api_error)
    });
    finish_outputs(outputs, &state.store, grace)?;
    if let Some(error) = api_error {
        return Err(anyhow!("the admin API could not start: {error}"));
    }
    tracing::info!(
        events = summary.counts.events_parsed,
        red = summary.counts.alerts.red,
        orange = summary.counts.alerts.orange,
        "vigil stopped"
    );
    Ok(())
}

/// Removes alerts beyond `state.retention_max_alerts` and older than
/// `state.retention_max_age_days` (by the wall clock); logs failures, never stops the run.
fn apply_retention(config: &Config, store: &Store) {
    let st = &config.state;
    let max_alerts = (st.retention_max_alerts > 0).then_some(st.retention_max_alerts);
    let max_age = (st.retention_max_age_days > 0)
        .then(|| Duration::from_secs(st.retention_max_age_days.saturating_mul(86_400)));
    if max_alerts.is_none() && max_age.is_none() {
        return;
    }
    let now = chrono::Utc::now().timestamp_micros();
    match store.apply_retention(max_alerts, max_age, now) {
        Ok(report) => tracing::debug!(?report, "retention applied"),
        Err(error) => tracing::error!("retention failed: {error}"),
    }
}

/// `vigil check-config`.
pub fn check_config(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    crate::reload::check_runnable(&config)?;
    // A bad GeoIP database does not stop Vigil (enrichment is then off), so it is reported,
    // not an error.
    match config.geoip.open() {
        Ok(None) => println!("geoip: off (no database configured)"),
        Ok(Some(geoip)) => {
            for database in geoip.databases() {
                println!("geoip: {database}");
            }
        }
        Err(error) => println!("geoip: warning: {error}; enrichment will be off"),
    }
    println!(
        "{}: valid ({} source{})",
        path.display(),
        config.sources.len(),
        if config.sources.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

/// `vigil plugins list`: loads the plugin folder as `vigil run` would and prints each
/// library loaded or refused, with the reason. Refusals are not an error; a folder that
/// cannot be listed is reported the same way.
pub fn plugins_list(args: &crate::cli::PluginsListArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref())?;
    let dim = FeatureExtractor::new(config.feature_config()?)?.dim();
    if args.dir.is_none() && config.plugins.dir.is_none() {
        bail!("no plugin folder: give --dir, or plugins.dir in the config (--config)");
    }
    let plugins = Plugins::load(&config.plugins, args.dir.as_deref(), dim);
    match args.format {
        crate::cli::ListFormat::Table => {
            if let Some(dir) = &plugins.dir {
                println!("plugin folder: {}", dir.display());
            }
            print!("{}", plugins.table());
        }
        crate::cli::ListFormat::Json => {
            let body = serde_json::json!({
                "dir": plugins.dir.as_ref().map(|d| d.display().to_string()),
                "plugins": plugins.rows,
            });
            println!("{body}");
        }
    }
    Ok(())
}

/// `vigil eval`.
pub fn eval(args: crate::cli::EvalArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref())?;
    let format: Format = args.format.parse().map_err(|e| anyhow!("--format: {e}"))?;
    let options = crate::eval::EvalOptions {
        format,
        label_column: args.label_column,
        categorical: args.categorical,
        detector: args.detector,
        train_rows: args.train_rows,
        shuffle: args.shuffle,
        seeds: args.seeds,
        limit: args.limit,
    };
    let summary = crate::eval::evaluate(&args.file, &config, &options)?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}
