//! HTTP ingest: `POST /api/v1/events` parses an NDJSON body with the `vigil-sensors` parsers
//! and hands the events to the pipeline through a source named `http`.
//!
//! The handler and the source share a bounded queue ([`HttpIngest`] on the API's side,
//! [`HttpProducer`] on the source's). A request's events enter the queue whole or not at all:
//! when it is full the request gets 503 with `Retry-After`, and the client sends it again.
//! The handler answers once the source has taken the events into the pipeline; if the source
//! stops first (shutdown), the request gets 503 too. Nothing is dropped silently.
//!
//! The `http` source lives as long as the configured sources: once all of them have
//! finished (files read to the end without `follow`), it takes what is queued and finishes
//! too, so the pipeline drains as it did without it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use tokio::sync::oneshot;
use vigil_sensors::{Event, Format, ParseOptions, Record, RecordParser, parser_for};
use vigil_tail::Position;

use super::request::read_body;
use super::{ApiError, ApiState};
use crate::input::{Produced, Producer, Tally};
use crate::pipeline::SourceControl;

/// The name of the source that HTTP ingest feeds.
pub const HTTP_SOURCE: &str = "http";

/// Seconds a client is told to wait (`Retry-After`) when the queue is full.
const RETRY_AFTER_SECS: u32 = 1;

/// Rejections listed one by one in a response (the rest are counted).
const MAX_REJECTIONS_LISTED: usize = 20;

/// One request's records on their way to the `http` source.
struct HttpBatch {
    events: Vec<Event>,
    tally: Tally,
    /// Answered when the source has taken the events; dropped unanswered when it stopped.
    taken: oneshot::Sender<()>,
}

/// The API's side of HTTP ingest: parsers, the queue to the `http` source, and the running
/// byte offset that gives every ingested record its own origin (and so its alerts their own
/// ids).
pub struct HttpIngest {
    queue: SyncSender<HttpBatch>,
    options: ParseOptions,
    /// Names every record's origin: `http@<start time>`, so that records ingested after a
    /// restart do not take the origins (and alert ids) of earlier ones.
    input: Arc<str>,
    /// Bytes ingested so far: the origin offset of the next body's first line.
    offset: AtomicU64,
    /// One parser per explicit format, kept across requests (Cowrie sessions, CSV headers).
    parsers: Mutex<HashMap<Format, Box<dyn RecordParser>>>,
    /// The other sources; once they have all finished, so does `http`.
    others: Arc<OnceLock<Vec<Arc<SourceControl>>>>,
}

impl std::fmt::Debug for HttpIngest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpIngest")
            .field("input", &self.input)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl HttpIngest {
    /// The queue between the API and the `http` source, holding at most `capacity`
    /// requests; `options` is how the parsers fill in what records do not say, and `input`
    /// names the records' origin.
    pub fn channel(
        capacity: usize,
        options: ParseOptions,
        input: &str,
    ) -> (Arc<HttpIngest>, HttpProducer) {
        let (queue, rx) = sync_channel(capacity.max(1));
        let others = Arc::new(OnceLock::new());
        let ingest = HttpIngest {
            queue,
            options,
            input: Arc::from(input),
            offset: AtomicU64::new(0),
            parsers: Mutex::new(HashMap::new()),
            others: others.clone(),
        };
        let producer = HttpProducer {
            rx,
            others,
            taken: 0,
            input: Arc::from(input),
        };
        (Arc::new(ingest), producer)
    }

    /// The configured sources: once every one of them has finished, the `http` source takes
    /// what is queued and finishes too. Until this is called it never finishes on its own.
    pub fn follow_sources(&self, others: Vec<Arc<SourceControl>>) {
        let _ = self.others.set(others);
    }

    /// Parses `body` (lines) as `format`: the events, the tally and the rejections listed.
    fn parse(&self, body: &[u8], format: Format) -> (Vec<Event>, Tally, Vec<LineRejection>) {
        let base = self
            .offset
            .fetch_add(body.len() as u64 + 1, Ordering::Relaxed);
        let mut records = Vec::new();
        let mut lines = Vec::new();
        let mut feed = |parser: &mut dyn RecordParser| {
            let mut start = 0usize;
            for (number, line) in body.split(|b| *b == b'\n').enumerate() {
                let offset = base + start as u64;
                start += line.len() + 1;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                lines.push((offset, number + 1));
                parser.feed(line, offset, true, &mut records);
            }
        };
        if format == Format::Auto {
            let mut parser = parser_for(Format::Auto, self.options.clone());
            parser.begin_input(self.input.clone());
            feed(parser.as_mut());
            parser.finish_input(&mut records);
        } else {
            let mut parsers = self
                .parsers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let parser = parsers.entry(format).or_insert_with(|| {
                let mut parser = parser_for(format, self.options.clone());
                parser.begin_input(self.input.clone());
                parser
            });
            feed(parser.as_mut());
        }
        let line_of = |offset: u64| {
            lines
                .iter()
                .find(|(o, _)| *o == offset)
                .map_or(0, |(_, line)| *line)
        };
        let mut events = Vec::new();
        let mut tally = Tally::default();
        let mut listed = Vec::new();
        for record in records {
            tally.read += 1;
            match record {
                Record::Event(event) => {
                    tally.parsed += 1;
                    events.push(*event);
                }
                Record::Skipped { reason, .. } => {
                    *tally.skipped.entry(reason).or_default() += 1;
                }
                Record::Rejected(rejection) => {
                    let reason = rejection.reason.as_str();
                    *tally.rejected.entry(reason).or_default() += 1;
                    if listed.len() < MAX_REJECTIONS_LISTED {
                        listed.push(LineRejection {
                            line: line_of(rejection.offset),
                            reason,
                            detail: rejection.detail,
                        });
                    }
                }
            }
        }
        (events, tally, listed)
    }
}

/// The `http` source's producer: takes what the API queued.
pub struct HttpProducer {
    rx: Receiver<HttpBatch>,
    others: Arc<OnceLock<Vec<Arc<SourceControl>>>>,
    /// Records taken so far (the source's position).
    taken: u64,
    input: Arc<str>,
}

impl Producer for HttpProducer {
    fn produce(&mut self, max: usize, out: &mut Vec<Event>, tally: &mut Tally) -> Produced {
        let target = out.len() + max.max(1);
        let mut took = false;
        while out.len() < target {
            match self.rx.try_recv() {
                Ok(batch) => {
                    took = true;
                    self.taken += batch.tally.read;
                    out.extend(batch.events);
                    tally.read += batch.tally.read;
                    tally.parsed += batch.tally.parsed;
                    for (reason, n) in batch.tally.rejected {
                        *tally.rejected.entry(reason).or_default() += n;
                    }
                    for (reason, n) in batch.tally.skipped {
                        *tally.skipped.entry(reason).or_default() += n;
                    }
                    // The events are in the source's hands now; the request is answered.
                    let _ = batch.taken.send(());
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Produced::Finished,
            }
        }
        if took {
            return Produced::More;
        }
        let others_done = self
            .others
            .get()
            .is_some_and(|others| others.iter().all(|control| control.finished()));
        if others_done {
            Produced::Finished
        } else {
            Produced::Idle
        }
    }

    fn position(&self) -> Option<Position> {
        // Records ingested over HTTP cannot be read again after a restart; the position
        // only lets checkpoints cover this source.
        Some(Position {
            path: self.input.clone(),
            identity: None,
            offset: self.taken,
        })
    }
}

/// A rejected line in the answer.
#[derive(Serialize)]
struct LineRejection {
    /// Line number in the body, from 1.
    line: usize,
    reason: &'static str,
    detail: String,
}

#[derive(Serialize)]
struct IngestAnswer {
    source: &'static str,
    format: &'static str,
    /// Lines that became events.
    accepted: u64,
    /// Lines rejected (each counted under its reason, as for files).
    rejected: u64,
    /// Well-formed records that are not events (Suricata `stats`...).
    skipped: u64,
    rejections: Vec<LineRejection>,
}

fn busy(detail: String) -> HttpResponse {
    let mut response = actix_web::ResponseError::error_response(&ApiError::Unavailable(detail));
    if let Ok(value) = RETRY_AFTER_SECS.to_string().parse() {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// `POST /api/v1/events?format=...`: NDJSON records into the pipeline.
pub(super) async fn events(
    state: web::Data<ApiState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut format = Format::Auto;
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("the query string does not parse: {e}")))?
        .into_inner();
    let mut seen = false;
    for (name, value) in pairs {
        if name != "format" {
            return Err(ApiError::BadRequest(format!(
                "unknown parameter `{name}`; this route takes format"
            )));
        }
        if seen {
            return Err(ApiError::parameter("format", "given more than once"));
        }
        seen = true;
        format = value
            .parse()
            .map_err(|e| ApiError::parameter("format", e))?;
    }
    let Some(ingest) = state.ingest.clone() else {
        return Err(ApiError::Unavailable(
            "this command takes no events over HTTP (only vigil run and vigil demo do)".to_string(),
        ));
    };
    if !state.is_ready() {
        return Ok(busy(
            "the pipeline is starting or shutting down; nothing of this request was taken"
                .to_string(),
        ));
    }
    let body = read_body(&req, payload, state.settings.max_body_bytes).await?;
    let parsing = ingest.clone();
    let (events, tally, rejections) = web::block(move || parsing.parse(&body, format))
        .await
        .map_err(|e| ApiError::Internal(format!("parsing the body failed: {e}")))?;
    let answer = IngestAnswer {
        source: HTTP_SOURCE,
        format: format.as_str(),
        accepted: tally.parsed,
        rejected: tally.rejected.values().sum(),
        skipped: tally.skipped.values().sum(),
        rejections,
    };
    let (taken, was_taken) = oneshot::channel();
    let batch = HttpBatch {
        events,
        tally,
        taken,
    };
    match ingest.queue.try_send(batch) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            return Ok(busy(
                "the pipeline is full (the http source's queue); nothing of this request was taken, send it again".to_string(),
            ));
        }
        Err(TrySendError::Disconnected(_)) => {
            return Ok(busy(
                "the http source has stopped; nothing of this request was taken".to_string(),
            ));
        }
    }
    if was_taken.await.is_err() {
        return Ok(busy(
            "the http source stopped before taking this request; nothing of it was processed"
                .to_string(),
        ));
    }
    let body = serde_json::to_vec(&answer)
        .map_err(|e| ApiError::Internal(format!("cannot serialise the answer: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cowrie(ip: &str, second: u32) -> String {
        format!(
            r#"{{"eventid":"cowrie.login.failed","username":"root","password":"x","timestamp":"2026-03-01T00:00:{second:02}.000000Z","src_ip":"{ip}","src_port":4000,"dst_ip":"10.0.0.5","dst_port":22,"session":"s1","sensor":"hp"}}"#
        )
    }

    #[test]
    fn bodies_parse_into_counted_records_with_distinct_origins() {
        let (ingest, mut producer) = HttpIngest::channel(2, ParseOptions::new("http"), "http@test");
        let body = format!(
            "{}\nnot json\n\n{}\n",
            cowrie("1.2.3.4", 1),
            cowrie("1.2.3.4", 2)
        );
        let (events, tally, rejections) = ingest.parse(body.as_bytes(), Format::Cowrie);
        assert_eq!((events.len(), tally.read, tally.parsed), (2, 3, 2));
        assert_eq!(tally.rejected.values().sum::<u64>(), 1);
        assert_eq!(rejections.len(), 1);
        assert_eq!(rejections[0].line, 2);
        let (again, _, _) = ingest.parse(body.as_bytes(), Format::Auto);
        assert_eq!(again.len(), 2);
        assert_ne!(
            events[0].origin, again[0].origin,
            "every body has its own offsets"
        );
        assert_eq!(&*events[0].origin.source, "http@test");

        // The queue holds two requests; a third is refused, never dropped.
        let mut answers = Vec::new();
        for _ in 0..3 {
            let (taken, answer) = oneshot::channel();
            let sent = ingest.queue.try_send(HttpBatch {
                events: events.clone(),
                tally: Tally {
                    read: 3,
                    parsed: 2,
                    ..Tally::default()
                },
                taken,
            });
            answers.push((sent.is_ok(), answer));
        }
        assert_eq!(
            answers.iter().map(|(ok, _)| *ok).collect::<Vec<_>>(),
            [true, true, false]
        );
        let mut out = Vec::new();
        let mut tally = Tally::default();
        assert_eq!(producer.produce(1, &mut out, &mut tally), Produced::More);
        assert_eq!((out.len(), tally.read), (2, 3));
        assert_eq!(producer.produce(100, &mut out, &mut tally), Produced::More);
        assert_eq!((out.len(), tally.read, tally.parsed), (4, 6, 4));
        assert_eq!(producer.produce(100, &mut out, &mut tally), Produced::Idle);
        assert_eq!(producer.position().map(|p| p.offset), Some(6));
        for (ok, mut answer) in answers {
            assert_eq!(answer.try_recv().is_ok(), ok);
        }
        // Once the other sources have finished, so does `http`.
        let other = Arc::new(SourceControl::default());
        ingest.follow_sources(vec![other.clone()]);
        assert_eq!(producer.produce(100, &mut out, &mut tally), Produced::Idle);
        drop(ingest);
        assert_eq!(
            producer.produce(100, &mut out, &mut tally),
            Produced::Finished
        );
    }
}
