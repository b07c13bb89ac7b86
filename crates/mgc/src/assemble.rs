//! From the TOML configuration to the sans-IO gateway: the interworking engine's and the circuit
//! manager's configurations are views of the same `[[trunk_groups]]`.

use crate::circuits::{CircuitManager, CircuitsConfig, TrunkGroupConfig};
use crate::config::Config;
use crate::gateway::Gateway;
use crate::metrics::Metrics;

pub fn iwu_config(cfg: &Config) -> iwu::IwuConfig {
    iwu::IwuConfig {
        local: iwu::LocalSip {
            host: cfg.sip.listen.ip().to_string(),
            port: cfg.sip.listen.port(),
            transport: "UDP".into(),
        },
        // Q.764 §2.9.6: the RSC after T5 repeats on T17, the maintenance timer.
        timers: iwu::IsupTimers {
            // Checked by `CircuitsConfig::validate` (a positive, finite number of seconds).
            t17: std::time::Duration::try_from_secs_f64(cfg.maintenance_timers.t17)
                .unwrap_or(cfg.call_timers.t17),
            ..cfg.call_timers
        },
        trunk_groups: cfg
            .trunk_groups
            .iter()
            .map(|t| iwu::TrunkGroupConfig {
                name: t.name.clone(),
                dpc: t.dpc,
                cics: t.cics.0.iter().map(|&(a, b)| [a, b]).collect(),
                sip_peer: t.sip_peer.clone(),
                country_code: t.country_code.clone(),
                area_code: t.area_code.clone(),
                international: t.international,
                echo_control: t.echo_control,
                append_st: t.append_st,
                overlap: t.overlap,
                t11_acm: t.t11_acm,
                media: t.media.clone(),
            })
            .collect(),
        peers: cfg.peers.clone(),
    }
}

pub fn circuits_config(cfg: &Config) -> CircuitsConfig {
    CircuitsConfig {
        own_point_code: cfg.ss7.point_code,
        send_ucic: cfg.ss7.send_ucic,
        timers: cfg.maintenance_timers.clone(),
        trunk_groups: cfg
            .trunk_groups
            .iter()
            .map(|t| TrunkGroupConfig {
                name: t.name.clone(),
                dpc: t.dpc,
                cics: t.cics.clone(),
                direction: t.direction,
                selection: t.selection,
            })
            .collect(),
    }
}

/// The gateway for `cfg`, its identifiers seeded from the clock (RFC 3261 §8.1.1.4 needs
/// uniqueness across restarts).
pub fn gateway(cfg: &Config) -> anyhow::Result<Gateway> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ u64::from(std::process::id()).rotate_left(32);
    gateway_seeded(cfg, seed)
}

pub fn gateway_seeded(cfg: &Config, seed: u64) -> anyhow::Result<Gateway> {
    let mut engine = iwu::Engine::new(iwu_config(cfg), seed)?;
    engine.set_admission_limit(cfg.overload.max_calls, cfg.overload.retry_after_s);
    engine.set_body_limits(cfg.sip.body_limits());
    let circuits = CircuitManager::new(&circuits_config(cfg))?;
    Ok(Gateway::new(engine, circuits, cfg.sip.timers()))
}

/// Metrics from one call record.
pub fn record_call(m: &Metrics, r: &iwu::CallRecord) {
    let model = model_label(r.model, r.bridged);
    m.calls
        .with_label_values(&[model, outcome_label(r.outcome)])
        .inc();
    // The Q.850 cause value is a small closed set (0–127), so it is a low-cardinality label.
    m.call_releases
        .with_label_values(&[&r.cause.to_string(), r.released_by.as_str()])
        .inc();
    if let Some(t) = r.setup_time {
        m.call_setup_seconds
            .with_label_values(&[model])
            .observe(t.as_secs_f64());
    }
    if let Some(t) = r.answer_time {
        m.call_answer_seconds
            .with_label_values(&[model])
            .observe(t.as_secs_f64());
    }
}

/// The `model` label values.
pub const MODELS: [&str; 3] = ["pstn_origination", "ip_origination", "bridging"];

/// The `outcome` label values.
pub const OUTCOMES: [&str; 4] = ["answered", "rejected", "abandoned", "failed"];

/// The `model` label: SIP bridging (RFC 3372 §3, PSTN-IP-PSTN) is an IP-originated call whose
/// INVITE carried an encapsulated IAM, i.e. a call from the PSTN that crossed a SIP network and
/// re-enters the PSTN here. A PSTN-originated call sent to a SIP-I/SIP-T peer stays
/// `pstn_origination`: this gateway cannot know whether the far side terminates it in the PSTN
/// (RFC 3372 §3 classifies by where the call ends, which the ingress does not see).
pub fn model_label(m: iwu::CallModel, bridged: bool) -> &'static str {
    match (m, bridged) {
        (iwu::CallModel::IpOrigination, true) => MODELS[2],
        (iwu::CallModel::PstnOrigination, _) => MODELS[0],
        (iwu::CallModel::IpOrigination, false) => MODELS[1],
    }
}

pub fn outcome_label(o: iwu::Outcome) -> &'static str {
    match o {
        iwu::Outcome::Answered => OUTCOMES[0],
        iwu::Outcome::Rejected => OUTCOMES[1],
        iwu::Outcome::Abandoned => OUTCOMES[2],
        iwu::Outcome::Failed => OUTCOMES[3],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{Input, Output};
    use std::time::Duration;

    fn invite(call_id: &str) -> sip::Request {
        let raw = format!(
            "INVITE sip:4930123456@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK{call_id}\r\n\
             From: <sip:sipp@127.0.0.1:5080>;tag=a{call_id}\r\n\
             To: <sip:4930123456@127.0.0.1:5060>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:sipp@127.0.0.1:5080>\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        match sip::Message::parse(raw.as_bytes()).expect("valid INVITE") {
            sip::Message::Request(r) => r,
            _ => unreachable!(),
        }
    }

    /// A gateway whose ASP is active and whose start-up GRS the exchange (pc 2) has answered
    /// with GRA: every circuit idle. The GRS starts T22/T23.
    fn ready() -> Gateway {
        ready_with(&Config::embedded_default())
    }

    fn ready_with(cfg: &Config) -> Gateway {
        let mut gw = gateway_seeded(cfg, 7).unwrap();
        let out = gw.handle(Duration::ZERO, Input::TransportUp);
        // GRS was sent with T22/T23 running.
        let names: Vec<_> = out
            .iter()
            .filter_map(|o| match o {
                Output::StartTimer { id, .. } => gw.isup_timer_name(*id),
                _ => None,
            })
            .collect();
        assert!(
            names.contains(&"T22") && names.contains(&"T23"),
            "{names:?}"
        );
        answer_grs(&mut gw, &out);
        assert_all_idle(&gw);
        gw
    }

    /// Each exchange answers its GRS with a GRA for the same range, all circuits idle.
    fn answer_grs(gw: &mut Gateway, out: &[Output]) {
        for o in out {
            if let Output::Isup {
                dpc,
                message_type: isup::MessageType::GRS,
                user_data,
                ..
            } = o
            {
                let (first, grs) = isup::Variant::ITU.parse_with_cic(user_data).unwrap();
                let range = grs.get::<isup::RangeAndStatus>().unwrap().range;
                let gra = isup::Message::new(isup::MessageType::GRA).with(
                    isup::RangeAndStatus::with_status(&vec![false; range as usize + 1]),
                );
                exchange_at(gw, *dpc, first, &gra);
            }
        }
    }

    /// The exchange of the default trunk group (point code 2) sends `msg` on `cic`.
    fn exchange_sends(gw: &mut Gateway, cic: u16, msg: &isup::Message) -> Vec<Output> {
        exchange_at(gw, 2, cic, msg)
    }

    /// The exchange with point code `opc` sends `msg` on `cic`.
    fn exchange_at(gw: &mut Gateway, opc: u32, cic: u16, msg: &isup::Message) -> Vec<Output> {
        let mut user_data = Vec::new();
        isup::Variant::ITU
            .emit_with_cic(cic, msg, &mut user_data)
            .unwrap();
        gw.handle(Duration::from_millis(5), Input::Isup { opc, user_data })
    }

    fn assert_all_idle(gw: &Gateway) {
        for (group, state, n) in gw.circuits().counts_by_state() {
            assert!(
                n == 0 || state.as_str() == "idle",
                "{group}: {n} circuits {}",
                state.as_str()
            );
        }
    }

    /// The CICs of the ISUP messages of type `t` in `out`.
    fn isup_sent(out: &[Output], t: isup::MessageType) -> Vec<u16> {
        out.iter()
            .filter_map(|o| match o {
                Output::Isup {
                    message_type,
                    user_data,
                    ..
                } if *message_type == t => {
                    Some(u16::from_le_bytes([user_data[0], user_data[1]]) & 0x0FFF)
                }
                _ => None,
            })
            .collect()
    }

    fn sip_invite(gw: &mut Gateway, call_id: &str) -> u16 {
        let out = gw.handle(
            Duration::from_millis(10),
            Input::SipRequest {
                peer: "softswitch".into(),
                request: invite(call_id),
            },
        );
        isup_sent(&out, isup::MessageType::IAM)[0]
    }

    /// Issue 7 item 4: the M3UA association is lost with an answered call and one in setup.
    /// Both are cleared toward SIP with Reason cause 38 and nothing goes toward ISUP; the GRS
    /// when the ASP is active again frees their circuits, and a new call gets a circuit.
    #[test]
    fn transport_down_clears_calls_toward_sip_and_grs_frees_their_circuits() {
        let mut gw = ready();
        let answered = sip_invite(&mut gw, "up1");
        exchange_sends(&mut gw, answered, &iwu::msgs::anm());
        sip_invite(&mut gw, "up2");
        assert_eq!(gw.active_calls(), 2);
        let out = gw.handle(Duration::from_secs(1), Input::TransportDown);
        assert!(
            !out.iter().any(|o| matches!(o, Output::Isup { .. })),
            "{out:#?}"
        );
        let bye = out
            .iter()
            .find_map(|o| match o {
                Output::SipRequest { request, .. } if request.method == sip::Method::Bye => {
                    Some(request)
                }
                _ => None,
            })
            .expect("BYE for the answered call");
        assert_eq!(bye.headers.q850_cause(), Some(38));
        let refusal = out
            .iter()
            .find_map(|o| match o {
                Output::SipResponse(r) if r.status >= 300 => Some(r),
                _ => None,
            })
            .expect("final response for the call in setup");
        assert_eq!(refusal.headers.q850_cause(), Some(38));
        assert_eq!(gw.active_calls(), 0);
        // While down: no circuit for a new call.
        let out = gw.handle(
            Duration::from_secs(2),
            Input::SipRequest {
                peer: "softswitch".into(),
                request: invite("down"),
            },
        );
        assert!(isup_sent(&out, isup::MessageType::IAM).is_empty());
        // Up again: GRS covers both circuits; after GRA all idle and usable.
        let out = gw.handle(Duration::from_secs(3), Input::TransportUp);
        assert!(!isup_sent(&out, isup::MessageType::GRS).is_empty());
        answer_grs(&mut gw, &out);
        assert_all_idle(&gw);
        sip_invite(&mut gw, "after");
        assert_eq!(gw.active_calls(), 1);
    }

    /// The first `t` the gateway sends: its CIC and the message.
    fn isup_first(out: &[Output], t: isup::MessageType) -> Option<(u16, isup::Message)> {
        out.iter().find_map(|o| match o {
            Output::Isup {
                message_type,
                user_data,
                ..
            } if *message_type == t => isup::Variant::ITU.parse_with_cic(user_data).ok(),
            _ => None,
        })
    }

    /// One call admitted: its CIC and the IAM that set it up.
    fn admit(gw: &mut Gateway, call_id: &str) -> (u16, isup::Message) {
        let out = gw.handle(
            Duration::from_millis(10),
            Input::SipRequest {
                peer: "softswitch".into(),
                request: invite(call_id),
            },
        );
        isup_first(&out, isup::MessageType::IAM).expect("the call is admitted")
    }

    /// Issue 7 item 3, what refusing new calls means: a new INVITE gets 503 with
    /// `Retry-After: retry_after` and Reason cause 42 and no IAM; the same IAM from the exchange
    /// on another circuit gets REL 42 with the automatic congestion level `level` (Q.764 §2.11)
    /// and no INVITE; the call `admitted` goes on (ANM → 200).
    fn assert_new_calls_refused(
        gw: &mut Gateway,
        (admitted, iam): &(u16, isup::Message),
        retry_after: Option<&str>,
        level: u8,
    ) {
        let out = gw.handle(
            Duration::from_millis(20),
            Input::SipRequest {
                peer: "softswitch".into(),
                request: invite("over"),
            },
        );
        assert!(isup_sent(&out, isup::MessageType::IAM).is_empty());
        let r = out
            .iter()
            .find_map(|o| match o {
                Output::SipResponse(r) => Some(r),
                _ => None,
            })
            .expect("a response to the INVITE");
        assert_eq!(r.status, 503);
        let got = r.headers.get(sip::header::Hdr::RetryAfter);
        assert!(got.is_some(), "no Retry-After");
        if let Some(want) = retry_after {
            assert_eq!(got, Some(want));
        }
        assert_eq!(r.headers.q850_cause(), Some(42));
        let cic = if *admitted == 10 { 11 } else { 10 };
        let out = exchange_sends(gw, cic, iam);
        assert!(!out.iter().any(|o| matches!(o, Output::SipRequest { .. })));
        let rel = isup_first(&out, isup::MessageType::REL).expect("REL for the IAM");
        assert_eq!(rel.0, cic);
        assert_eq!(iwu::msgs::cause_of(&rel.1).map(|c| c.0), Some(42));
        assert_eq!(
            rel.1
                .get::<isup::AutomaticCongestionLevel>()
                .map(|a| a.level),
            Some(level)
        );
        exchange_sends(gw, cic, &iwu::msgs::rlc());
        let out = exchange_sends(gw, *admitted, &iwu::msgs::anm());
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::SipResponse(r) if r.status == 200)),
            "{out:#?}"
        );
    }

    /// Issue 7 item 3: with `max_calls = 1` and one call up, new calls are refused (503 with
    /// Retry-After and Reason cause 42; REL 42 with congestion level 1); the admitted call goes
    /// on.
    #[test]
    fn admission_limit_refuses_new_calls_with_503_and_rel_42() {
        let mut cfg = Config::embedded_default();
        cfg.overload.max_calls = Some(1);
        cfg.overload.retry_after_s = 7;
        let mut gw = ready_with(&cfg);
        let admitted = admit(&mut gw, "admitted");
        assert_new_calls_refused(&mut gw, &admitted, Some("7"), 1);
        assert_eq!(gw.active_calls(), 1);
    }

    /// Issue 7 item 3, load shedding: while the runtime reports its input congested
    /// (`[overload] max_backlog`), new calls are refused with congestion level 2, with no call
    /// limit configured; the call set up before goes on, and once the congestion ends new
    /// calls are admitted again.
    #[test]
    fn congested_input_refuses_new_calls_only() {
        let mut gw = ready();
        let admitted = admit(&mut gw, "before");
        gw.set_congested(true);
        assert_new_calls_refused(&mut gw, &admitted, None, 2);
        gw.set_congested(false);
        admit(&mut gw, "after");
        assert_eq!(gw.active_calls(), 2);
    }

    /// Q.764 §2.9.5.1: on an idle circuit, REL gets RLC, RLC is discarded and other call
    /// messages get RSC; a CIC in no trunk group gets UCIC (§2.12).
    #[test]
    fn unreasonable_messages_on_idle_and_unknown_circuits() {
        let mut gw = ready();
        let out = exchange_sends(&mut gw, 5, &iwu::msgs::anm());
        assert_eq!(isup_sent(&out, isup::MessageType::RSC), vec![5]);
        // The exchange answers the RSC with RLC: idle again.
        exchange_sends(&mut gw, 5, &isup::Message::new(isup::MessageType::RLC));
        assert_all_idle(&gw);
        let out = exchange_sends(&mut gw, 6, &iwu::msgs::rel(16, 1));
        assert_eq!(isup_sent(&out, isup::MessageType::RLC), vec![6]);
        let out = exchange_sends(&mut gw, 7, &isup::Message::new(isup::MessageType::RLC));
        assert!(
            !out.iter().any(|o| matches!(o, Output::Isup { .. })),
            "{out:#?}"
        );
        // Messages with a meaning outside a call are no reason to reset (CFN, CCR).
        let mut cfn = iwu::msgs::rel(97, 1);
        cfn.message_type = isup::MessageType::CFN;
        for m in [cfn, isup::Message::new(isup::MessageType::CCR)] {
            let out = exchange_sends(&mut gw, 8, &m);
            assert!(isup_sent(&out, isup::MessageType::RSC).is_empty(), "{m:?}");
        }
        let out = exchange_sends(&mut gw, 3000, &iwu::msgs::anm());
        assert_eq!(isup_sent(&out, isup::MessageType::UCIC), vec![3000]);
        assert_all_idle(&gw);
    }

    /// Q.763 §1.2: a second trunk group toward DPC 3 with the same CICs 1-31. IAMs from both
    /// exchanges on CIC 2 and an INVITE (to DPC 2) are up at once; each output goes to its own
    /// exchange, the calls are found by circuit, and a REL from DPC 3 frees only 3/2.
    #[test]
    fn same_cics_toward_two_exchanges() {
        use crate::circuits::{CircuitId, CircuitState};
        let text = crate::config::DEFAULT_TOML.replace(
            "[call_timers]",
            "[[trunk_groups]]\nname = \"pstn-b\"\ndpc = 3\ncics = \"1-31\"\n\
             sip_peer = \"softswitch\"\ncountry_code = \"49\"\n[trunk_groups.media]\n\
             address = \"127.0.0.1\"\nrtp_port_min = 30000\nrtp_port_max = 30998\n\n\
             [call_timers]",
        );
        let mut gw = ready_with(&Config::parse(&text, "two exchanges").unwrap());
        let iam = |called: &str| {
            let cdpn =
                iwu::number::called_party(3, iwu::number::text_to_signals(called).unwrap(), false);
            iwu::msgs::iam(false, false, cdpn, None)
        };
        let mut call_ids = Vec::new();
        for dpc in [2, 3] {
            let out = exchange_at(&mut gw, dpc, 2, &iam(&format!("30{dpc}")));
            let inv = out
                .iter()
                .find_map(|o| match o {
                    Output::SipRequest { request, .. } => Some(request.clone()),
                    _ => None,
                })
                .expect("INVITE");
            call_ids.push(inv.headers.call_id().unwrap().to_string());
            let call = gw.call_by_circuit(CircuitId { dpc, cic: 2 }).unwrap();
            assert_eq!(call.call_id, call_ids[call_ids.len() - 1]);
        }
        assert_ne!(call_ids[0], call_ids[1]);
        let out = gw.handle(
            Duration::from_millis(10),
            Input::SipRequest {
                peer: "softswitch".into(),
                request: invite("ip"),
            },
        );
        let iam_out = out
            .iter()
            .find_map(|o| match o {
                Output::Isup {
                    dpc,
                    message_type: isup::MessageType::IAM,
                    ..
                } => Some(*dpc),
                _ => None,
            })
            .expect("IAM");
        assert_eq!(iam_out, 2, "INVITEs from the softswitch go to pstn");
        assert_eq!(gw.active_calls(), 3);
        let state = |gw: &Gateway, dpc, cic| {
            gw.circuits()
                .state(CircuitId { dpc, cic })
                .map(|s| s.state)
                .unwrap()
        };
        assert_eq!(state(&gw, 2, 2), CircuitState::BusyIncoming);
        assert_eq!(state(&gw, 3, 2), CircuitState::BusyIncoming);
        // Exchange 3 clears its call: RLC to DPC 3, the call toward DPC 2 on CIC 2 stays.
        let out = exchange_at(&mut gw, 3, 2, &iwu::msgs::rel(16, 1));
        let rlc: Vec<u32> = out
            .iter()
            .filter_map(|o| match o {
                Output::Isup {
                    dpc,
                    message_type: isup::MessageType::RLC,
                    ..
                } => Some(*dpc),
                _ => None,
            })
            .collect();
        assert_eq!(rlc, vec![3]);
        assert_eq!(state(&gw, 3, 2), CircuitState::Idle);
        assert_eq!(state(&gw, 2, 2), CircuitState::BusyIncoming);
        assert_eq!(
            gw.call_by_circuit(CircuitId { dpc: 2, cic: 2 })
                .map(|c| c.call_id),
            Some(call_ids[0].clone())
        );
        assert!(gw.call_by_circuit(CircuitId { dpc: 3, cic: 2 }).is_none());
    }

    /// The runtime names ISUP timers for `isup_timer_expiries_total` and finds the call of an
    /// input and of a timer for the log span.
    #[test]
    fn gateway_names_timers_and_finds_calls() {
        let mut gw = ready();
        let out = gw.handle(
            Duration::from_millis(1),
            Input::SipRequest {
                peer: "softswitch".into(),
                request: invite("c1"),
            },
        );
        let cic = out
            .iter()
            .find_map(|o| match o {
                Output::Isup {
                    message_type: isup::MessageType::IAM,
                    user_data,
                    ..
                } => Some(u16::from_le_bytes([user_data[0], user_data[1]]) & 0x0FFF),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no IAM: {out:#?}"));
        let t7 = out
            .iter()
            .find_map(|o| match o {
                Output::StartTimer { id, .. } if gw.isup_timer_name(*id) == Some("T7") => Some(*id),
                _ => None,
            })
            .expect("T7 started with the IAM");
        let call = gw.call_by_call_id("c1").expect("call by Call-ID");
        assert_eq!(
            gw.call_by_circuit(crate::circuits::CircuitId { dpc: 2, cic }),
            Some(call.clone())
        );
        assert_eq!(gw.timer_call(t7), Some(call.clone()));
        assert_eq!(model_label(call.model, call.bridged), "ip_origination");
        assert_eq!(gw.calls().count(), 1);
        // T7 fires: the call is released toward both sides (cause 102), the timer is gone.
        let out = gw.handle(Duration::from_secs(20), Input::Timer(t7));
        assert!(gw.isup_timer_name(t7).is_none());
        assert!(out.iter().any(|o| matches!(
            o,
            Output::Isup {
                message_type: isup::MessageType::REL,
                ..
            }
        )));
    }

    #[test]
    fn call_records_feed_models_outcomes_and_release_sides() {
        let m = Metrics::new();
        let record = |model, bridged, outcome, cause, side| iwu::CallRecord {
            call: 1,
            model,
            circuit: Some(crate::circuits::CircuitId { dpc: 2, cic: 1 }),
            call_id: "x".into(),
            outcome,
            cause,
            sip_status: None,
            setup_time: Some(Duration::from_millis(3)),
            answer_time: None,
            duration: None,
            bridged,
            released_by: side,
        };
        use iwu::{CallModel::*, Outcome::*, ReleaseSide};
        record_call(
            &m,
            &record(IpOrigination, true, Answered, 16, ReleaseSide::Sip),
        );
        record_call(
            &m,
            &record(PstnOrigination, false, Rejected, 17, ReleaseSide::Sip),
        );
        record_call(
            &m,
            &record(IpOrigination, false, Failed, 102, ReleaseSide::Gateway),
        );
        let text = m.render();
        for needle in [
            "calls_total{model=\"bridging\",outcome=\"answered\"} 1",
            "calls_total{model=\"pstn_origination\",outcome=\"rejected\"} 1",
            "calls_total{model=\"ip_origination\",outcome=\"failed\"} 1",
            "call_releases_total{cause=\"102\",side=\"gateway\"} 1",
            "call_releases_total{cause=\"17\",side=\"sip\"} 1",
            "call_setup_seconds_count{model=\"bridging\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle}:\n{text}");
        }
    }

    /// An INVITE whose body is a multipart of `parts` text parts.
    fn invite_with_parts(call_id: &str, parts: usize) -> sip::Request {
        let mut r = invite(call_id);
        let p: Vec<_> = (0..parts)
            .map(|i| sip::multipart::OwnedPart::new("text/plain", vec![b'a' + i as u8]))
            .collect();
        let (b, body) = sip::multipart::build(&p);
        r.set_body(Some(&format!("multipart/mixed;boundary={b}")), body);
        r
    }

    /// Issue 7: `[sip] max_body_parts` (default 16, here also 2): at the limit the INVITE
    /// becomes a call; one part more gets 413 with the limit in a Warning (RFC 3261 §21.4.11)
    /// and nothing goes toward ISUP.
    #[test]
    fn a_body_beyond_max_body_parts_gets_413_and_no_iam() {
        for limit in [16, 2] {
            let mut cfg = Config::embedded_default();
            cfg.sip.max_body_parts = limit;
            let mut gw = ready_with(&cfg);
            let out = gw.handle(
                Duration::from_millis(10),
                Input::SipRequest {
                    peer: "softswitch".into(),
                    request: invite_with_parts("at", limit),
                },
            );
            assert_eq!(isup_sent(&out, isup::MessageType::IAM).len(), 1, "{out:#?}");
            let out = gw.handle(
                Duration::from_millis(20),
                Input::SipRequest {
                    peer: "softswitch".into(),
                    request: invite_with_parts("over", limit + 1),
                },
            );
            assert!(
                !out.iter().any(|o| matches!(o, Output::Isup { .. })),
                "{out:#?}"
            );
            let r = out
                .iter()
                .find_map(|o| match o {
                    Output::SipResponse(r) => Some(r),
                    _ => None,
                })
                .expect("a response to the INVITE over the limit");
            assert_eq!(r.status, 413);
            assert_eq!(
                r.headers.warning().unwrap()[0].text,
                format!("multipart body has more than {limit} parts")
            );
            assert_eq!(gw.active_calls(), 1);
        }
    }

    /// Issue 7: ISUP beyond the codec's bound on optional parameters (64) is discarded like any
    /// message that cannot be decoded (Q.764 §2.9.5.1): reported, no call, nothing sent. At the
    /// bound the IAM is a call offered to SIP.
    #[test]
    fn isup_beyond_the_parameter_bound_is_discarded() {
        // The IAM the gateway sends for an INVITE, padded to the bound with unrecognised
        // parameters (each discarded with CFN when received, Q.764 §2.9.5.3.2).
        let mut iam = {
            let mut gw = ready();
            let out = gw.handle(
                Duration::from_millis(1),
                Input::SipRequest {
                    peer: "softswitch".into(),
                    request: invite("iam"),
                },
            );
            out.into_iter()
                .find_map(|o| match o {
                    Output::Isup { user_data, .. } => isup::Message::parse_with_cic(&user_data)
                        .ok()
                        .filter(|(_, m)| m.message_type == isup::MessageType::IAM),
                    _ => None,
                })
                .expect("an IAM")
                .1
        };
        for i in iam.parameters.len() - 5..isup::view::MAX_OPTIONAL_PARAMETERS {
            iam.parameters
                .push(isup::Parameter::raw(isup::ParameterCode(0xFE), &[i as u8]));
        }
        let mut at = Vec::new();
        isup::Variant::ITU.emit_with_cic(7, &iam, &mut at).unwrap();
        // One more, before the end-of-optional-parameters octet that ends the message.
        let mut over = at.clone();
        over.pop();
        over.extend_from_slice(&[0xFE, 0x01, 0xFF, 0x00]);
        let mut gw = ready();
        let out = gw.handle(
            Duration::from_millis(5),
            Input::Isup {
                opc: 2,
                user_data: over,
            },
        );
        match &out[..] {
            [Output::IsupDiscarded { opc: 2, reason }] => {
                assert_eq!(reason, "IAM: more than 64 optional parameters")
            }
            _ => panic!("{out:#?}"),
        }
        assert_eq!(gw.active_calls(), 0);
        assert_all_idle(&gw);
        let out = gw.handle(
            Duration::from_millis(6),
            Input::Isup {
                opc: 2,
                user_data: at,
            },
        );
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::SipRequest { request, .. }
                if request.method == sip::Method::Invite)),
            "{out:#?}"
        );
        assert!(
            !out.iter()
                .any(|o| matches!(o, Output::IsupDiscarded { .. }))
        );
    }
}
