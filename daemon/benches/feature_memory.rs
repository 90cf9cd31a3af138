//! Memory of per-source state, through the real feature actor.
//!
//! Feeds 1,000,000 distinct source IPs through the pipeline (source → feature actor → pool
//! → alerts) with `features.max_tracked_sources = 1000000`: one event each, then ten events
//! each. Prints one JSON object with the peak RSS of the process and exits non-zero when it
//! is 600 MB or more. Run: `cargo bench -p vigil --bench feature_memory`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use vigil::alert::SeverityThresholds;
use vigil::config::Config;
use vigil::detect::{Detect, DetectSettings};
use vigil::input::{Produced, Producer, Tally};
use vigil::pipeline::{AlertStage, Pacing, Pipeline, SourceSettings, SourceSpec, StageSettings};
use vigil::stats::peak_rss_bytes;
use vigil_detectors::rules::RuleSet;
use vigil_features::FeatureExtractor;
use vigil_sensors::{Event, EventKind, Origin, Sensor, Transport};
use vigil_tail::Position;

const SOURCES: u64 = 1_000_000;
const LIMIT_BYTES: u64 = 600 * 1000 * 1000;

/// Phase 1: every source once; phase 2: every source ten more times, round-robin.
struct DistinctSources {
    next: u64,
    total: u64,
    start: DateTime<Utc>,
    sensor_id: Arc<str>,
    origin: Arc<str>,
}

impl Producer for DistinctSources {
    fn produce(&mut self, max: usize, out: &mut Vec<Event>, tally: &mut Tally) -> Produced {
        for _ in 0..max {
            if self.next >= self.total {
                return Produced::Finished;
            }
            let i = self.next;
            self.next += 1;
            let source = i % SOURCES;
            // Public addresses from 11.0.0.0 up, one per source.
            let ip = Ipv4Addr::from(0x0B00_0000u32 + source as u32);
            // 20 µs of event time per event: phase 2 revisits each source every 20 s.
            let time = self.start + TimeDelta::microseconds((i * 20) as i64);
            let kind = if i.is_multiple_of(3) {
                EventKind::LoginFailed
            } else {
                EventKind::Connect
            };
            let origin = Origin {
                source: self.origin.clone(),
                offset: i,
                round: 0,
            };
            let mut event = Event::new(time, Sensor::Cowrie, self.sensor_id.clone(), kind, origin);
            event.src_ip = Some(IpAddr::V4(ip));
            event.src_port = Some(40_000 + (i % 20_000) as u16);
            event.dst_ip = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)));
            event.dst_port = Some([22u16, 23, 80, 443, 445][(i % 5) as usize]);
            event.transport = Some(Transport::Tcp);
            event.bytes_out = Some(200 + i % 1000);
            out.push(event);
            tally.read += 1;
            tally.parsed += 1;
        }
        Produced::More
    }

    fn position(&self) -> Option<Position> {
        None
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let mut config = Config::default();
    config.features.max_tracked_sources = SOURCES as usize;
    let baseline_rss = peak_rss_bytes();
    let extractor = FeatureExtractor::new(config.feature_config().expect("valid features"))
        .expect("valid features");
    let rules = RuleSet::new(&config.rule_set_config().expect("valid rules")).expect("valid rules");
    // The alert stage commits to a store; this bench measures the feature stage's memory, so
    // a temporary one does (distinct sources raise no alerts).
    let state_dir = tempfile::tempdir().expect("temporary state directory");
    let store = vigil_state::Store::open(state_dir.path(), &vigil_state::StoreOptions::default())
        .expect("state store opens");
    // The learned models stay off: this bench measures the feature stage's per-source state,
    // and the pool's memory is bounded by its own windows whatever the number of sources.
    let detect = Detect::new(DetectSettings {
        dim: extractor.dim(),
        feature_names: Vec::new().into(),
        pool: None,
        label_feedback: None,
        rules,
        severity: SeverityThresholds::from(&config.severity),
        explain_top_features: 0,
        score_log: None,
    })
    .expect("the rules-only detector stage starts");
    let stages = StageSettings {
        extractor,
        geoip: None,
        detect,
        store,
        alert_state: AlertStage::new(config.alerts.cooldown_secs),
        mailbox_batches: config.pipeline.mailbox_batches,
        first_seq: 1,
        checkpoints: None,
        metrics: None,
    };
    let producer = DistinctSources {
        next: 0,
        total: SOURCES * 11,
        start: DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
        sensor_id: Arc::from("memory"),
        origin: Arc::from("generated"),
    };
    let settings = SourceSettings {
        name: Arc::from("memory"),
        batch_max_events: config.pipeline.batch_max_events,
        batch_max_wait: Duration::from_millis(config.pipeline.batch_max_millis),
        poll_interval: Duration::from_millis(10),
        pacing: Pacing::MaxSpeed,
        run_for: None,
    };
    let started = Instant::now();
    let summary = actix::System::new().block_on(async move {
        let mut pipeline = Pipeline::start(
            stages,
            vec![SourceSpec {
                settings,
                producer: Box::new(producer),
            }],
        );
        pipeline.drained().await;
        let summary = pipeline.stats.summary(0.0);
        pipeline.shut_down();
        summary
    });
    let peak = summary.peak_rss_bytes;
    let report = serde_json::json!({
        "sources": SOURCES,
        "events": summary.counts.events_parsed,
        "sources_tracked": summary.counts.sources_tracked,
        "sources_evicted": summary.counts.sources_evicted,
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": baseline_rss,
        "bytes_per_tracked_source": (peak.saturating_sub(baseline_rss)) as f64 / summary.counts.sources_tracked.max(1) as f64,
        "limit_bytes": LIMIT_BYTES,
        "events_per_sec": summary.events_per_sec,
        "wall_secs": started.elapsed().as_secs_f64(),
    });
    println!("{report}");
    assert_eq!(
        summary.counts.events_parsed,
        SOURCES * 11,
        "every event went through"
    );
    assert_eq!(
        summary.counts.sources_tracked, SOURCES,
        "every source is tracked"
    );
    if peak >= LIMIT_BYTES {
        eprintln!("peak RSS {peak} bytes is over the {LIMIT_BYTES} byte limit");
        std::process::exit(1);
    }
}
