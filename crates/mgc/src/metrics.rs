//! Prometheus metrics (text exposition format 0.0.4 on `/metrics`). Labels are low-cardinality
//! by construction: message names, methods, status classes, cause values, models, trunk-group
//! names and states; never numbers, CICs or call ids.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

/// Every metric the gateway exports, registered in its own registry.
pub struct Metrics {
    pub registry: Registry,
    pub isup_messages: IntCounterVec,
    pub sip_requests: IntCounterVec,
    pub sip_responses: IntCounterVec,
    pub calls: IntCounterVec,
    pub call_releases: IntCounterVec,
    pub calls_active: IntGaugeVec,
    pub circuits: IntGaugeVec,
    pub call_setup_seconds: HistogramVec,
    pub call_answer_seconds: HistogramVec,
    pub isup_timer_expiries: IntCounterVec,
    pub glare: IntCounter,
    pub m3ua_asp_state: IntGauge,
    pub m3ua_messages: IntCounterVec,
    pub sip_transactions_active: IntGauge,
    /// 1 while new calls are refused because the input queues back up ([overload] max_backlog).
    pub overload_congested: IntGauge,
    /// Episodes of that congestion.
    pub overload_congestion_episodes: IntCounter,
    pub build_info: IntGaugeVec,
    pub sip_parse_errors: IntCounter,
    pub isup_decode_errors: IntCounter,
}

/// Latency buckets for setup (request to first backward message) and answer, in seconds.
const SETUP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
const ANSWER_BUCKETS: &[f64] = &[
    0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    r.register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    r.register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric definition");
    r.register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric definition");
    r.register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

fn histogram_vec(r: &Registry, name: &str, help: &str, buckets: &[f64]) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        &["model"],
    )
    .expect("valid metric definition");
    r.register(Box::new(h.clone()))
        .expect("metric registered once");
    h
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let r = Registry::new();
        let glare = counter(
            &r,
            "glare_total",
            "Dual seizures detected (Q.764 §2.9.1.4).",
        );
        let m3ua_asp_state = gauge(
            &r,
            "m3ua_asp_state",
            "M3UA ASP state: 0 down, 1 inactive, 2 active (RFC 4666 §4.3.1).",
        );
        let sip_transactions_active = gauge(
            &r,
            "sip_transactions_active",
            "SIP transactions in the transaction layer.",
        );
        let overload_congested = gauge(
            &r,
            "overload_congested",
            "1 while new calls are refused because messages wait beyond [overload] max_backlog.",
        );
        let overload_congestion_episodes = counter(
            &r,
            "overload_congestion_episodes_total",
            "Times the input queues backed up beyond [overload] max_backlog.",
        );
        let sip_parse_errors = counter(
            &r,
            "sip_malformed_messages_total",
            "SIP messages refused as malformed (answered 400/413/513/505 when possible).",
        );
        let isup_decode_errors = counter(
            &r,
            "isup_malformed_messages_total",
            "ISUP messages that failed to decode (Q.764 §2.9.5 compatibility handling).",
        );
        let m = Metrics {
            isup_messages: counter_vec(
                &r,
                "isup_messages_total",
                "ISUP messages sent (out) and received (in), by Q.763 message type.",
                &["direction", "message_type"],
            ),
            sip_requests: counter_vec(
                &r,
                "sip_requests_total",
                "SIP requests sent (out) and received (in), by method.",
                &["direction", "method"],
            ),
            sip_responses: counter_vec(
                &r,
                "sip_responses_total",
                "SIP responses sent (out) and received (in), by status class and method.",
                &["direction", "status_class", "method"],
            ),
            calls: counter_vec(
                &r,
                "calls_total",
                "Calls ended, by call model and outcome.",
                &["model", "outcome"],
            ),
            call_releases: counter_vec(
                &r,
                "call_releases_total",
                "Call releases by Q.850 cause value and the side that released.",
                &["cause", "side"],
            ),
            calls_active: gauge_vec(
                &r,
                "calls_active",
                "Calls in progress, by call model.",
                &["model"],
            ),
            circuits: gauge_vec(
                &r,
                "circuits",
                "Circuits by trunk group and state.",
                &["trunk_group", "state"],
            ),
            call_setup_seconds: histogram_vec(
                &r,
                "call_setup_seconds",
                "Call setup time: initial request to the first backward message.",
                SETUP_BUCKETS,
            ),
            call_answer_seconds: histogram_vec(
                &r,
                "call_answer_seconds",
                "Time from the initial request to answer.",
                ANSWER_BUCKETS,
            ),
            isup_timer_expiries: counter_vec(
                &r,
                "isup_timer_expiries_total",
                "ISUP timer expiries (Q.764 Annex A), by timer.",
                &["timer"],
            ),
            build_info: gauge_vec(
                &r,
                "build_info",
                "Build information (always 1).",
                &["version"],
            ),
            glare,
            m3ua_asp_state,
            m3ua_messages: counter_vec(
                &r,
                "m3ua_messages_total",
                "M3UA messages by class and type (RFC 4666 §3.1.2), both directions.",
                &["class", "type"],
            ),
            sip_transactions_active,
            overload_congested,
            overload_congestion_episodes,
            sip_parse_errors,
            isup_decode_errors,
            registry: r,
        };
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        // Every model/outcome series, and every ISUP timer the gateway runs, exists from the
        // start, so rate() and absent-series alerts see a 0 rather than nothing.
        for timer in ISUP_TIMERS {
            m.isup_timer_expiries.with_label_values(&[timer]);
        }
        for model in crate::assemble::MODELS {
            m.calls_active.with_label_values(&[model]).set(0);
            for outcome in crate::assemble::OUTCOMES {
                m.calls.with_label_values(&[model, outcome]);
            }
        }
        Arc::new(m)
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let enc = TextEncoder::new();
        // Encoding our own registry into memory cannot fail.
        let _ = enc.encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    pub fn isup(&self, direction: Direction, message_type: &str) {
        self.isup_messages
            .with_label_values(&[direction.label(), message_type])
            .inc();
    }

    pub fn sip_request(&self, direction: Direction, method: &str) {
        self.sip_requests
            .with_label_values(&[direction.label(), method_label(method)])
            .inc();
    }

    pub fn sip_response(&self, direction: Direction, status: u16, method: &str) {
        let class = match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            5 => "5xx",
            _ => "6xx",
        };
        self.sip_responses
            .with_label_values(&[direction.label(), class, method_label(method)])
            .inc();
    }

    /// Count a message the SIP transport sends, if it is a response, from its octets: the
    /// status code of the status line (RFC 3261 §7.2) and the method of CSeq (§20.16). Called
    /// from the transport tap, where every response passes — the transaction layer's own
    /// (100 Trying, retransmissions, §17.2.1) as well as the gateway's and stateless refusals.
    pub fn sip_response_sent(&self, bytes: &[u8]) {
        let Some((status, method)) = response_summary(bytes) else {
            return;
        };
        self.sip_response(Direction::Out, status, method);
    }

    /// Count one M3UA message (either direction) by class and type (RFC 4666 §3.1.2), from
    /// its common header: version, reserved, class, type.
    pub fn m3ua_message(&self, m3ua: &[u8]) {
        let (Some(&class), Some(&msg_type)) = (m3ua.get(2), m3ua.get(3)) else {
            return;
        };
        let class_label = match class {
            0 => "mgmt",
            1 => "transfer",
            2 => "ssnm",
            3 => "aspsm",
            4 => "asptm",
            9 => "rkm",
            _ => "unknown",
        };
        let type_label = m3ua::tables::message_spec(class, msg_type).map_or("unknown", |s| s.abbr);
        self.m3ua_messages
            .with_label_values(&[class_label, type_label])
            .inc();
    }

    pub fn setup_seconds(&self, model: &str) -> Histogram {
        self.call_setup_seconds.with_label_values(&[model])
    }
}

/// The ISUP timers the gateway runs (Q.764 Annex A): the call timers of `[call_timers]` and the
/// maintenance timers of `[maintenance_timers]` — every name `Gateway::isup_timer_name` gives.
pub const ISUP_TIMERS: [&str; 22] = [
    "T1", "T2", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12", "T13", "T14", "T15", "T16",
    "T17", "T18", "T19", "T20", "T21", "T22", "T23", "T28",
];

/// A method as a label: the RFC 3261/3262/3265/3311/3428/3515/3903 methods by name, extension
/// methods (any token a peer sends, §7.1) as `other`, so labels stay few whatever arrives.
fn method_label(method: &str) -> &str {
    match sip::Method::parse(method) {
        Some(sip::Method::Extension(_)) | None => "other",
        Some(_) => method,
    }
}

/// Status code and CSeq method of a serialized response; `None` for a request. A response
/// without a readable CSeq (an error reply to garbage) has method `other`.
fn response_summary(bytes: &[u8]) -> Option<(u16, &str)> {
    let code = bytes.strip_prefix(b"SIP/2.0 ")?.get(..3)?;
    let status = std::str::from_utf8(code).ok()?.parse::<u16>().ok()?;
    // Header lines up to the empty one that ends them (§7).
    let method = bytes
        .split(|&b| b == b'\n')
        .skip(1)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .find_map(|line| {
            let (name, value) = std::str::from_utf8(line).ok()?.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("CSeq")
                .then(|| value.split_whitespace().nth(1))?
        })
        .unwrap_or("other");
    Some((status, method))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn label(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// Serve `/metrics` on `addr` until the runtime stops; 404 elsewhere.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let metrics = metrics.clone();
                    async move {
                        let (status, body) = if req.uri().path() == "/metrics" {
                            (StatusCode::OK, metrics.render())
                        } else {
                            (StatusCode::NOT_FOUND, String::new())
                        };
                        let mut resp = Response::new(Full::new(Bytes::from(body)));
                        *resp.status_mut() = status;
                        resp.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static(
                                "text/plain; version=0.0.4; charset=utf-8",
                            ),
                        );
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_documented_families() {
        let m = Metrics::new();
        m.isup(Direction::In, "IAM");
        m.sip_request(Direction::Out, "INVITE");
        m.sip_response(Direction::In, 486, "INVITE");
        m.calls
            .with_label_values(&["ip_origination", "rejected"])
            .inc();
        m.setup_seconds("ip_origination").observe(0.004);
        // RFC 4666 §3.1: version 1, reserved, class, type, length.
        m.m3ua_message(&[1, 0, 3, 1, 0, 0, 0, 8]);
        m.m3ua_message(&[1, 0, 1, 1, 0, 0, 0, 8]);
        m.m3ua_message(&[1]);
        let text = m.render();
        for needle in [
            "isup_messages_total{direction=\"in\",message_type=\"IAM\"} 1",
            "sip_requests_total{direction=\"out\",method=\"INVITE\"} 1",
            "sip_responses_total{direction=\"in\",method=\"INVITE\",status_class=\"4xx\"} 1",
            "calls_total{model=\"ip_origination\",outcome=\"rejected\"} 1",
            "call_setup_seconds_bucket{model=\"ip_origination\",le=\"0.005\"} 1",
            "build_info{version=",
            "glare_total 0",
            "m3ua_asp_state 0",
            "calls_total{model=\"bridging\",outcome=\"failed\"} 0",
            "calls_active{model=\"pstn_origination\"} 0",
            "m3ua_messages_total{class=\"aspsm\",type=\"ASPUP\"} 1",
            "m3ua_messages_total{class=\"transfer\",type=\"DATA\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in:\n{text}");
        }
    }

    #[test]
    fn isup_timer_series_exist_at_zero_from_the_start() {
        let text = Metrics::new().render();
        for timer in ISUP_TIMERS {
            let needle = format!("isup_timer_expiries_total{{timer=\"{timer}\"}} 0");
            assert!(text.contains(&needle), "missing {needle} in:\n{text}");
        }
    }

    #[test]
    fn responses_sent_are_counted_from_their_octets() {
        let m = Metrics::new();
        let trying = "SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                      cseq:  7   INVITE\r\nContent-Length: 0\r\n\r\n";
        m.sip_response_sent(trying.as_bytes());
        m.sip_response_sent(b"SIP/2.0 405 Method Not Allowed\r\nCSeq: 1 FOO\r\n\r\n");
        // An error reply without CSeq, a body that looks like a header, a request: not a method.
        m.sip_response_sent(b"SIP/2.0 400 Bad Request\r\n\r\nCSeq: 1 BYE\r\n");
        m.sip_response_sent(b"INVITE sip:a@b SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n");
        m.sip_response_sent(b"SIP/2.0 2");
        m.sip_request(Direction::In, "FOO");
        let text = m.render();
        for needle in [
            "sip_responses_total{direction=\"out\",method=\"INVITE\",status_class=\"1xx\"} 1",
            "sip_responses_total{direction=\"out\",method=\"other\",status_class=\"4xx\"} 2",
            "sip_requests_total{direction=\"in\",method=\"other\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in:\n{text}");
        }
        assert!(!text.contains("FOO") && !text.contains("BYE"), "{text}");
        assert_eq!(text.matches("sip_responses_total{").count(), 2, "{text}");
    }
}
