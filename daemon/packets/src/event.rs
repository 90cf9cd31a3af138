//! Flows to the normalised [`Event`] of `vigil-sensors`.

use std::sync::Arc;

use chrono::DateTime;
use vigil_sensors::flows::CATEGORICAL_SEPARATOR;
use vigil_sensors::intern::Interner;
use vigil_sensors::{Event, EventKind, Origin, Sensor, Transport};

use crate::decode::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use crate::features::FEATURE_NAMES;
use crate::flow::FlowRecord;

/// Turns the flows of one source into [`EventKind::Flow`] events, the way the flow-dataset
/// parsers of `vigil-sensors` turn CSV rows into them:
///
/// | event field | from |
/// |---|---|
/// | `event_time` | the flow's last packet |
/// | `sensor`, `sensor_id` | [`Sensor::Pcap`], the id given |
/// | `raw_kind` | `proto|service|state` (UNSW-NB15's three categoricals, joined as in `vigil_sensors::flows`) |
/// | `src_ip`, `src_port`, `dst_ip`, `dst_port` | initiator and responder (no ports for ICMP and other protocols) |
/// | `transport` | TCP, UDP, ICMP (v4 and v6), otherwise other |
/// | `app_proto` | the service, unless `-` |
/// | `duration_secs`, `bytes_out`/`bytes_in`, `packets_out`/`packets_in` | `dur`, `sbytes`/`dbytes`, `spkts`/`dpkts` |
/// | `tcp_flags` | flags seen either way (TCP only) |
/// | `numeric` | [`crate::Features::values`], named by [`Self::numeric_columns`] |
/// | `origin` | the source name, the offset of the flow's first packet record, the round |
#[derive(Debug)]
pub struct FlowEvents {
    sensor_id: Arc<str>,
    source: Arc<str>,
    round: u32,
    columns: Vec<Arc<str>>,
    kinds: Interner,
    services: Interner,
    joined: String,
}

impl FlowEvents {
    /// Events for sensor instance `sensor_id` from the capture named `source`.
    pub fn new(sensor_id: impl Into<Arc<str>>, source: impl Into<Arc<str>>) -> FlowEvents {
        FlowEvents {
            sensor_id: sensor_id.into(),
            source: source.into(),
            round: 0,
            columns: numeric_columns(),
            kinds: Interner::default(),
            services: Interner::default(),
            joined: String::new(),
        }
    }

    /// Sets the replay round written into each origin.
    pub fn set_round(&mut self, round: u32) {
        self.round = round;
    }

    /// Starts a new capture: its name goes into the origins from now on.
    pub fn set_source(&mut self, source: impl Into<Arc<str>>) {
        self.source = source.into();
    }

    /// Names of [`Event::numeric`], in order (what `RecordParser::numeric_columns` gives for
    /// a flow dataset).
    pub fn numeric_columns(&self) -> &[Arc<str>] {
        &self.columns
    }

    /// The event of one flow.
    pub fn event(&mut self, flow: &FlowRecord) -> Event {
        let f = &flow.features;
        let origin = Origin {
            source: self.source.clone(),
            offset: flow.first_offset,
            round: self.round,
        };
        let mut e = Event::new(
            DateTime::from_timestamp_nanos(flow.end_nanos),
            Sensor::Pcap,
            self.sensor_id.clone(),
            EventKind::Flow,
            origin,
        );
        self.joined.clear();
        for (i, part) in [f.proto, f.service, f.state].iter().enumerate() {
            if i > 0 {
                self.joined.push(CATEGORICAL_SEPARATOR);
            }
            self.joined.push_str(part);
        }
        e.raw_kind = Some(self.kinds.get(&self.joined));
        let ports = matches!(flow.proto, PROTO_TCP | PROTO_UDP);
        e.src_ip = Some(flow.src);
        e.dst_ip = Some(flow.dst);
        if ports {
            e.src_port = Some(flow.src_port);
            e.dst_port = Some(flow.dst_port);
        }
        e.transport = Some(match flow.proto {
            PROTO_TCP => Transport::Tcp,
            PROTO_UDP => Transport::Udp,
            PROTO_ICMP | PROTO_ICMPV6 => Transport::Icmp,
            _ => Transport::Other,
        });
        if f.service != "-" {
            e.app_proto = Some(self.services.get(f.service));
        }
        e.duration_secs = Some(f.dur);
        e.bytes_out = Some(f.sbytes);
        e.bytes_in = Some(f.dbytes);
        e.packets_out = Some(f.spkts);
        e.packets_in = Some(f.dpkts);
        if flow.proto == PROTO_TCP {
            e.tcp_flags = Some(flow.tcp_flags);
        }
        e.numeric = f.values().to_vec();
        e
    }
}

/// [`FEATURE_NAMES`] as shared strings.
pub fn numeric_columns() -> Vec<Arc<str>> {
    FEATURE_NAMES.iter().map(|n| Arc::from(*n)).collect()
}
