//! Statistics: `GET /api/v1/stats/summary`, `/stats/timeseries` and `/stats/top`.
//!
//! Summary and time series come from the alert stage's per-minute [`Activity`] (event time;
//! the last seven days); top lists scan the stored alerts of the window. Windows and
//! buckets are durations in whole minutes (`5m`, `1h`, `24h`, `1h30m`, `7d`). Unless
//! `until` is given, a window ends at the end of the minute of the latest event decided:
//! Vigil's clock is event time, so a replay of old logs has statistics too.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::request::{json, query_pairs};
use super::{ApiError, ApiState};
use crate::activity::{Activity, MINUTE_SECS, RETAINED_MINUTES, Span, Tally};

/// The longest window or bucket, in seconds (the seven days the activity keeps).
pub(super) const MAX_DURATION_SECS: i64 = RETAINED_MINUTES * MINUTE_SECS;

/// The most buckets one time series holds.
pub(super) const MAX_POINTS: i64 = 10_080;

/// Most stored alerts one top list examines; beyond, the answer says `truncated`.
const TOP_SCAN_BUDGET: usize = 200_000;

/// Alerts read from the store per step of a top-list scan.
const TOP_SCAN_STEP: usize = 1024;

/// A duration in whole minutes, from one minute to seven days: numbers with units `s`, `m`,
/// `h`, `d`, one after the other (`90m`, `1h30m`, `24h`). Returns seconds.
pub(super) fn parse_duration(name: &str, value: &str) -> Result<i64, ApiError> {
    let bad = |why: &str| {
        ApiError::parameter(
            name,
            format!(
                "{value:?} {why}; give a duration in whole minutes, 1m to 7d, like 5m, 1h or 24h"
            ),
        )
    };
    if value.is_empty() {
        return Err(bad("is empty"));
    }
    let mut total: i64 = 0;
    let mut rest = value;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return Err(bad("is not a duration"));
        }
        let number: i64 = rest[..digits]
            .parse()
            .map_err(|_| bad("is not a duration"))?;
        let unit = rest[digits..]
            .chars()
            .next()
            .ok_or_else(|| bad("has a number without a unit"))?;
        let scale = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return Err(bad("has a unit other than s, m, h or d")),
        };
        total = total.saturating_add(number.saturating_mul(scale));
        rest = &rest[digits + 1..];
    }
    if total <= 0 {
        return Err(bad("is zero"));
    }
    if total % MINUTE_SECS != 0 {
        return Err(bad("is not a whole number of minutes"));
    }
    if total > MAX_DURATION_SECS {
        return Err(bad("is longer than 7d"));
    }
    Ok(total)
}

fn parse_time(name: &str, value: &str) -> Result<i64, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp())
        .map_err(|e| ApiError::parameter(name, format!("{value:?} is not an RFC 3339 time: {e}")))
}

fn rfc3339(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn round_up(secs: i64, step: i64) -> i64 {
    secs.div_euclid(step) * step + if secs.rem_euclid(step) == 0 { 0 } else { step }
}

fn round_down(secs: i64, step: i64) -> i64 {
    secs.div_euclid(step) * step
}

/// The statistics every route here needs, or 503 when this process keeps none.
fn activity(state: &ApiState) -> Result<&Arc<Activity>, ApiError> {
    state.activity.as_ref().ok_or_else(|| {
        ApiError::Unavailable("statistics are kept only while a pipeline runs".to_string())
    })
}

/// Where a window ends: `until` (rounded up to the minute), else the end of the latest
/// event's minute, else the wall clock's.
fn window_end(activity: &Activity, until: Option<i64>) -> i64 {
    let end = until
        .or_else(|| activity.clock_end())
        .unwrap_or_else(|| Utc::now().timestamp());
    round_up(end, MINUTE_SECS)
}

/// The `window` and `until` of a summary or top list.
struct Window {
    text: String,
    secs: i64,
    until: Option<i64>,
}

impl Window {
    fn take(&mut self, name: &str, value: String) -> Result<bool, ApiError> {
        match name {
            "window" => {
                self.secs = parse_duration(name, &value)?;
                self.text = value;
            }
            "until" => self.until = Some(parse_time(name, &value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl Default for Window {
    fn default() -> Window {
        Window {
            text: "1h".to_string(),
            secs: 3_600,
            until: None,
        }
    }
}

/// A figure and its change from the previous window.
#[derive(Serialize)]
struct Compared {
    value: u64,
    previous: u64,
    delta: i64,
}

impl Compared {
    fn of(value: u64, previous: u64) -> Compared {
        Compared {
            value,
            previous,
            delta: i64::try_from(value).unwrap_or(i64::MAX)
                - i64::try_from(previous).unwrap_or(i64::MAX),
        }
    }
}

#[derive(Serialize)]
struct ComparedSources {
    value: u64,
    previous: u64,
    delta: i64,
    /// Whether either figure is a sketch's estimate (about 3 % standard error).
    estimated: bool,
}

#[derive(Serialize)]
struct ComparedScore {
    value: Option<f64>,
    previous: Option<f64>,
    delta: Option<f64>,
}

#[derive(Serialize)]
struct SpanView {
    since: String,
    until: String,
}

#[derive(Serialize)]
struct Summary {
    window: String,
    window_secs: i64,
    since: String,
    until: String,
    previous: SpanView,
    events: Compared,
    anomalies: Compared,
    distinct_sources: ComparedSources,
    mean_score: ComparedScore,
    /// Alerts dropped since start, by reason (`allowlist` or a suppression's reason).
    alerts_suppressed: std::collections::BTreeMap<String, u64>,
    /// Events the statistics did not count (older than the seven days kept, or a day ahead
    /// of the wall clock).
    events_not_counted: u64,
}

/// `GET /api/v1/stats/summary?window=1h[&until=]`.
pub(super) async fn summary(
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let activity = activity(&state)?;
    let mut window = Window::default();
    for (name, value) in query_pairs(&req, &["window", "until"])? {
        window.take(name, value)?;
    }
    let until = window_end(activity, window.until);
    let since = until - window.secs;
    let current = activity.sum(Span { since, until });
    let before = activity.sum(Span {
        since: since - window.secs,
        until: since,
    });
    let (sources, sources_estimated) = current.sources.count();
    let (previous_sources, previous_estimated) = before.sources.count();
    let (score, previous_score) = (current.mean_score(), before.mean_score());
    let suppressed = state
        .filter
        .as_ref()
        .map(|filter| filter.counts().by_reason)
        .unwrap_or_default();
    Ok(json(&Summary {
        window: window.text,
        window_secs: window.secs,
        since: rfc3339(since),
        until: rfc3339(until),
        previous: SpanView {
            since: rfc3339(since - window.secs),
            until: rfc3339(since),
        },
        events: Compared::of(current.events, before.events),
        anomalies: Compared::of(current.anomalies, before.anomalies),
        distinct_sources: ComparedSources {
            value: sources,
            previous: previous_sources,
            delta: i64::try_from(sources).unwrap_or(i64::MAX)
                - i64::try_from(previous_sources).unwrap_or(i64::MAX),
            estimated: sources_estimated || previous_estimated,
        },
        mean_score: ComparedScore {
            value: score,
            previous: previous_score,
            delta: score.zip(previous_score).map(|(a, b)| a - b),
        },
        alerts_suppressed: suppressed,
        events_not_counted: activity.ignored(),
    }))
}

#[derive(Serialize)]
struct Point {
    start: String,
    events: u64,
    anomalies: u64,
    mean_score: Option<f64>,
    distinct_sources: u64,
}

#[derive(Serialize)]
struct Series {
    bucket: String,
    bucket_secs: i64,
    since: String,
    until: String,
    /// Whether any bucket's `distinct_sources` is a sketch's estimate.
    distinct_sources_estimated: bool,
    points: Vec<Point>,
}

/// `GET /api/v1/stats/timeseries?bucket=5m[&since=&until=]`.
pub(super) async fn timeseries(
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let activity = activity(&state)?;
    let (mut bucket_text, mut bucket) = ("5m".to_string(), 300);
    let (mut since, mut until) = (None, None);
    for (name, value) in query_pairs(&req, &["bucket", "since", "until"])? {
        match name {
            "bucket" => {
                bucket = parse_duration(name, &value)?;
                bucket_text = value;
            }
            "since" => since = Some(parse_time(name, &value)?),
            "until" => until = Some(parse_time(name, &value)?),
            _ => {}
        }
    }
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        return Err(ApiError::parameter("until", "must be after `since`"));
    }
    let end = round_up(window_end(activity, until), bucket);
    let start = match since {
        Some(since) => round_down(since, bucket),
        None => round_down(end - 86_400.max(bucket), bucket),
    };
    let points = (end - start) / bucket;
    if points > MAX_POINTS {
        return Err(ApiError::parameter(
            "bucket",
            format!(
                "{bucket_text:?} makes {points} buckets from {} to {}; at most {MAX_POINTS}: take a larger bucket or a shorter span",
                rfc3339(start),
                rfc3339(end)
            ),
        ));
    }
    let series = activity.series(
        Span {
            since: start,
            until: end,
        },
        bucket,
    );
    let mut estimated = false;
    let points = series
        .into_iter()
        .map(|(start, tally): (i64, Tally)| {
            let (sources, is_estimate) = tally.sources.count();
            estimated |= is_estimate;
            Point {
                start: rfc3339(start),
                events: tally.events,
                anomalies: tally.anomalies,
                mean_score: tally.mean_score(),
                distinct_sources: sources,
            }
        })
        .collect();
    Ok(json(&Series {
        bucket: bucket_text,
        bucket_secs: bucket,
        since: rfc3339(start),
        until: rfc3339(end),
        distinct_sources_estimated: estimated,
        points,
    }))
}

/// What a top list ranks alerts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TopBy {
    SrcIp,
    DstPort,
    Transport,
    AppProto,
    Country,
}

impl TopBy {
    fn parse(value: &str) -> Result<TopBy, ApiError> {
        Ok(match value {
            "src_ip" => TopBy::SrcIp,
            "dst_port" => TopBy::DstPort,
            "transport" => TopBy::Transport,
            "app_proto" => TopBy::AppProto,
            "country" => TopBy::Country,
            _ => {
                return Err(ApiError::parameter(
                    "by",
                    format!(
                        "must be src_ip, dst_port, transport, app_proto or country, got {value:?}"
                    ),
                ));
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            TopBy::SrcIp => "src_ip",
            TopBy::DstPort => "dst_port",
            TopBy::Transport => "transport",
            TopBy::AppProto => "app_proto",
            TopBy::Country => "country",
        }
    }
}

/// The fields of a stored alert a top list reads.
#[derive(Deserialize)]
struct TopFields<'a> {
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    src_ip: Option<IpAddr>,
    #[serde(default)]
    dst_port: Option<u16>,
    #[serde(default, borrow)]
    transport: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    app_proto: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    src_geo: Option<GeoFields<'a>>,
}

#[derive(Deserialize)]
struct GeoFields<'a> {
    #[serde(default, borrow)]
    country_iso_code: Option<Cow<'a, str>>,
}

/// The ranked value of one stored alert, `None` when it has none.
fn top_value(by: TopBy, fields: &TopFields<'_>) -> Option<serde_json::Value> {
    use serde_json::Value;
    match by {
        TopBy::SrcIp => fields.src_ip.map(|ip| Value::String(ip.to_string())),
        TopBy::DstPort => fields.dst_port.map(Value::from),
        TopBy::Transport => fields.transport.as_deref().map(Value::from),
        TopBy::AppProto => fields.app_proto.as_deref().map(Value::from),
        TopBy::Country => fields
            .src_geo
            .as_ref()
            .and_then(|geo| geo.country_iso_code.as_deref())
            .map(Value::from),
    }
}

#[derive(Serialize, Debug, PartialEq)]
struct TopEntry {
    value: serde_json::Value,
    alerts: u64,
    events: u64,
}

#[derive(Serialize)]
struct TopList {
    by: &'static str,
    window: String,
    since: String,
    until: String,
    top: Vec<TopEntry>,
    /// Alerts with a value that did not make the list.
    other_alerts: u64,
    /// Alerts without this field (no GeoIP country, no port...).
    unknown_alerts: u64,
    alerts_scanned: u64,
    /// Whether the scan stopped at its budget before the start of the window.
    truncated: bool,
}

/// Ranks the alerts stored with event times in `[since, until)` (seconds).
fn rank(
    store: &vigil_state::Store,
    by: TopBy,
    since: i64,
    until: i64,
    limit: usize,
) -> Result<(Vec<TopEntry>, u64, u64, u64, bool), vigil_state::StateError> {
    let mut counts: HashMap<String, (serde_json::Value, u64, u64)> = HashMap::new();
    let (mut scanned, mut unknown) = (0u64, 0u64);
    let mut cursor = None;
    let mut truncated = false;
    loop {
        let page = store.alerts_range(
            Some(since.saturating_mul(1_000_000)),
            Some(until.saturating_mul(1_000_000)),
            TOP_SCAN_STEP,
            cursor,
        )?;
        for alert in &page.alerts {
            scanned += 1;
            let value = serde_json::from_slice::<TopFields<'_>>(&alert.bytes)
                .ok()
                .and_then(|fields| top_value(by, &fields).map(|v| (v, fields.count.unwrap_or(1))));
            match value {
                Some((value, events)) => {
                    let key = value.to_string();
                    let entry = counts.entry(key).or_insert((value, 0, 0));
                    entry.1 += 1;
                    entry.2 += events;
                }
                None => unknown += 1,
            }
        }
        match page.next_cursor {
            Some(next) if (scanned as usize) < TOP_SCAN_BUDGET => cursor = Some(next),
            Some(_) => {
                truncated = true;
                break;
            }
            None => break,
        }
    }
    let mut entries: Vec<(String, TopEntry)> = counts
        .into_iter()
        .map(|(key, (value, alerts, events))| {
            (
                key,
                TopEntry {
                    value,
                    alerts,
                    events,
                },
            )
        })
        .collect();
    entries.sort_by(|(ka, a), (kb, b)| {
        b.alerts
            .cmp(&a.alerts)
            .then(b.events.cmp(&a.events))
            .then_with(|| ka.cmp(kb))
    });
    let other: u64 = entries.iter().skip(limit).map(|(_, e)| e.alerts).sum();
    entries.truncate(limit);
    Ok((
        entries.into_iter().map(|(_, e)| e).collect(),
        other,
        unknown,
        scanned,
        truncated,
    ))
}

/// `GET /api/v1/stats/top?by=...&limit=N[&window=&until=]`.
pub(super) async fn top(
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let activity = activity(&state)?;
    let max_page = state.settings.max_page;
    let mut window = Window::default();
    let mut by = None;
    let mut limit = max_page.min(10);
    for (name, value) in query_pairs(&req, &["by", "limit", "window", "until"])? {
        match name {
            "by" => by = Some(TopBy::parse(&value)?),
            "limit" => {
                limit = match value.parse::<usize>() {
                    Ok(limit) if (1..=max_page).contains(&limit) => limit,
                    _ => {
                        return Err(ApiError::parameter(
                            "limit",
                            format!("must be a whole number from 1 to {max_page}, got {value:?}"),
                        ));
                    }
                }
            }
            _ => {
                window.take(name, value)?;
            }
        }
    }
    let by = by.ok_or_else(|| {
        ApiError::parameter(
            "by",
            "required: src_ip, dst_port, transport, app_proto or country",
        )
    })?;
    let until = window_end(activity, window.until);
    let since = until - window.secs;
    let store = state.store.clone();
    let (top, other_alerts, unknown_alerts, alerts_scanned, truncated) =
        web::block(move || rank(&store, by, since, until, limit))
            .await
            .map_err(|e| ApiError::store("ranking alerts", e))?
            .map_err(|e| ApiError::store("ranking alerts", e))?;
    Ok(json(&TopList {
        by: by.as_str(),
        window: window.text,
        since: rfc3339(since),
        until: rfc3339(until),
        top,
        other_alerts,
        unknown_alerts,
        alerts_scanned,
        truncated,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_whole_minutes_up_to_seven_days() {
        for (text, secs) in [
            ("1m", 60),
            ("5m", 300),
            ("90s", -1),
            ("120s", 120),
            ("1h", 3_600),
            ("1h30m", 5_400),
            ("24h", 86_400),
            ("7d", 604_800),
        ] {
            match parse_duration("window", text) {
                Ok(got) => assert_eq!(got, secs, "{text}"),
                Err(error) => {
                    assert_eq!(secs, -1, "{text}: {error}");
                    assert!(error.to_string().contains("parameter `window`"), "{error}");
                }
            }
        }
        for bad in [
            "",
            "0m",
            "5",
            "m",
            "5x",
            "1.5h",
            "-5m",
            "8d",
            "169h",
            "5m ",
            "99999999999m",
        ] {
            let error = parse_duration("bucket", bad).expect_err(bad);
            let text = error.to_string();
            assert!(text.contains("parameter `bucket`"), "{text}");
            assert!(text.contains(&format!("{bad:?}")), "{text}");
        }
    }

    #[test]
    fn rounding_aligns_to_steps_on_both_sides_of_the_epoch() {
        assert_eq!(round_up(61, 60), 120);
        assert_eq!(round_up(120, 60), 120);
        assert_eq!(round_down(119, 60), 60);
        assert_eq!(round_down(-1, 60), -60);
        assert_eq!(round_up(-61, 60), -60);
    }

    fn stored(store: &vigil_state::Store, id: u64, secs: i64, body: serde_json::Value) {
        let id: vigil_state::AlertId = format!("{id:016x}").parse().expect("id");
        store
            .commit(&vigil_state::Commit {
                new_alerts: &[vigil_state::NewAlert {
                    id,
                    event_time_micros: secs * 1_000_000,
                    src_ip: None,
                    score: 0.9,
                    bytes: serde_json::to_vec(&body).expect("json"),
                }],
                ..vigil_state::Commit::default()
            })
            .expect("committed");
    }

    #[test]
    fn top_lists_rank_stored_alerts_of_the_window() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = vigil_state::Store::open(dir.path(), &vigil_state::StoreOptions::default())
            .expect("store");
        let t0 = 1_772_323_200;
        let alert = |ip: &str, port: u16, count: u64, country: Option<&str>| {
            let mut body = serde_json::json!({
                "src_ip": ip, "dst_port": port, "transport": "tcp", "count": count,
            });
            if let Some(country) = country {
                body["src_geo"] = serde_json::json!({"country_iso_code": country});
            }
            body
        };
        stored(&store, 1, t0 + 10, alert("192.0.2.1", 22, 5, Some("NL")));
        stored(&store, 2, t0 + 20, alert("192.0.2.1", 22, 1, Some("NL")));
        stored(&store, 3, t0 + 30, alert("192.0.2.2", 23, 9, None));
        stored(&store, 4, t0 + 40, alert("192.0.2.3", 80, 1, Some("DE")));
        // Outside the window.
        stored(&store, 5, t0 + 4_000, alert("192.0.2.9", 22, 1, None));
        stored(&store, 6, t0 - 1, alert("192.0.2.9", 22, 1, None));

        let (top, other, unknown, scanned, truncated) =
            rank(&store, TopBy::SrcIp, t0, t0 + 3_600, 2).expect("ranks");
        assert_eq!(
            top,
            vec![
                TopEntry {
                    value: "192.0.2.1".into(),
                    alerts: 2,
                    events: 6
                },
                TopEntry {
                    value: "192.0.2.2".into(),
                    alerts: 1,
                    events: 9
                },
            ]
        );
        assert_eq!((other, unknown, scanned, truncated), (1, 0, 4, false));

        let (top, _, _, _, _) = rank(&store, TopBy::DstPort, t0, t0 + 3_600, 10).expect("ranks");
        assert_eq!(top[0].value, serde_json::json!(22));
        assert_eq!(top.len(), 3);
        let (top, other, unknown, _, _) =
            rank(&store, TopBy::Country, t0, t0 + 3_600, 10).expect("ranks");
        assert_eq!(top[0].value, serde_json::json!("NL"));
        assert_eq!(top[1].value, serde_json::json!("DE"));
        assert_eq!((other, unknown), (0, 1));
        let (top, _, unknown, _, _) =
            rank(&store, TopBy::AppProto, t0, t0 + 3_600, 10).expect("ranks");
        assert!(top.is_empty());
        assert_eq!(unknown, 4);
    }
}
