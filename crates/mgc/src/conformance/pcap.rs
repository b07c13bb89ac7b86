//! A real ISUP call from a capture, replayed as a PSTN-origination fixture. The trace shows both
//! exchanges; the gateway plays the called one. Messages from the calling exchange are fed in
//! byte for byte; each message of the called exchange becomes the SIP stimulus that makes the
//! gateway send it (ACM ← 180/183, CPG ← 180/183, ANM ← 200, REL ← BYE with its cause) and an
//! expectation on what the gateway sends.
//!
//! The capture reader knows pcap (not pcapng) with Ethernet, Linux cooked (v1/v2) or raw IP
//! framing, IPv4, SCTP DATA chunks, and M2PA (PPID 5) or M3UA (PPID 3) carrying ISUP (SI 5).

use super::{CaseResult, Fixture, Step, Verdict};
use isup::{Message, MessageType, RoutingLabel, Variant};
use std::path::Path;
use std::time::Duration;

/// Where the kancom corpus trace lives under `../shared`.
pub const KANCOM: &str = "corpora/kancom-xdr_tester/isup.pcap";

/// One ISUP message of a capture.
#[derive(Debug, Clone)]
pub struct IsupFrame {
    /// Since the first packet of the capture.
    pub time: Duration,
    pub opc: u32,
    pub dpc: u32,
    pub cic: u16,
    /// The message from its type octet on.
    pub octets: Vec<u8>,
}

/// Every ISUP message in a pcap file, in capture order.
pub fn read_isup(data: &[u8]) -> Result<Vec<IsupFrame>, String> {
    let header = data.get(..24).ok_or("pcap: shorter than its header")?;
    let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let (le, nanos) = match magic {
        0xA1B2_C3D4 => (true, false),
        0xA1B2_3C4D => (true, true),
        0xD4C3_B2A1 => (false, false),
        0x4D3C_B2A1 => (false, true),
        _ => return Err("not a pcap file (pcapng is not read)".into()),
    };
    let u32_at = |b: &[u8], i: usize| {
        let a = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = u32_at(header, 20);
    let mut out = Vec::new();
    let mut first: Option<Duration> = None;
    let mut off = 24;
    while off + 16 <= data.len() {
        let rec = &data[off..off + 16];
        let (sec, frac, incl) = (u32_at(rec, 0), u32_at(rec, 4), u32_at(rec, 8) as usize);
        let ts = Duration::from_secs(sec.into())
            + if nanos {
                Duration::from_nanos(frac.into())
            } else {
                Duration::from_micros(frac.into())
            };
        let frame = data
            .get(off + 16..off + 16 + incl)
            .ok_or("pcap: truncated record")?;
        off += 16 + incl;
        let t0 = *first.get_or_insert(ts);
        let Some(ip) = ip_payload(linktype, frame) else {
            continue;
        };
        for (ppid, payload) in sctp_data(ip) {
            if let Some((opc, dpc, user_data)) = isup_user_data(ppid, payload)
                && user_data.len() >= 3
            {
                out.push(IsupFrame {
                    time: ts.saturating_sub(t0),
                    opc,
                    dpc,
                    cic: u16::from_le_bytes([user_data[0], user_data[1]]) & 0x0FFF,
                    octets: user_data[2..].to_vec(),
                });
            }
        }
    }
    Ok(out)
}

/// The IPv4 packet of a frame carrying SCTP.
fn ip_payload(linktype: u32, frame: &[u8]) -> Option<&[u8]> {
    let ip = match linktype {
        1 => {
            let mut et = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
            let mut at = 14;
            while et == 0x8100 {
                et = u16::from_be_bytes([*frame.get(at + 2)?, *frame.get(at + 3)?]);
                at += 4;
            }
            (et == 0x0800).then_some(frame.get(at..)?)?
        }
        113 => frame.get(16..)?,
        276 => frame.get(20..)?,
        101 | 228 => frame,
        _ => return None,
    };
    let ihl = usize::from(ip.first()? & 0x0F) * 4;
    if ip.first()? >> 4 != 4 || *ip.get(9)? != 132 {
        return None;
    }
    ip.get(ihl..)
}

/// (PPID, payload) of every DATA chunk of an SCTP packet.
fn sctp_data(sctp: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    let mut at = 12;
    while at + 4 <= sctp.len() {
        let kind = sctp[at];
        let len = usize::from(u16::from_be_bytes([sctp[at + 2], sctp[at + 3]]));
        if len < 4 || at + len > sctp.len() {
            break;
        }
        if kind == 0 && len >= 16 {
            let c = &sctp[at..at + len];
            let ppid = u32::from_be_bytes([c[12], c[13], c[14], c[15]]);
            out.push((ppid, &c[16..]));
        }
        at += len.div_ceil(4) * 4;
    }
    out
}

/// (OPC, DPC, ISUP user data from the CIC) of an M2PA or M3UA payload with SI 5.
fn isup_user_data(ppid: u32, p: &[u8]) -> Option<(u32, u32, Vec<u8>)> {
    match ppid {
        // RFC 4165 §2.3.2: common header (8), BSN (4), FSN (4), then priority and the MTP3 MSU.
        5 if p.get(2..4)? == [11, 1] => {
            let msu = p.get(17..)?;
            let (sio, rest) = msu.split_first()?;
            if sio & 0x0F != 5 {
                return None;
            }
            let (label, user) = RoutingLabel::parse(rest).ok()?;
            Some((label.opc.into(), label.dpc.into(), user.to_vec()))
        }
        3 => match m3ua::Message::parse(p).ok()? {
            m3ua::Message::Data(d) if d.protocol_data.si == 5 => Some((
                d.protocol_data.opc,
                d.protocol_data.dpc,
                d.protocol_data.user_data.to_vec(),
            )),
            _ => None,
        },
        _ => None,
    }
}

/// The fixture replaying a PSTN-originated call: the first IAM's sender is the calling exchange.
pub fn fixture_from_trace(name: &str, frames: &[IsupFrame]) -> Result<Fixture, String> {
    let iam = frames
        .iter()
        .find(|f| f.octets.first() == Some(&MessageType::IAM.0))
        .ok_or("no IAM in the trace")?;
    let (caller, gw, cic) = (iam.opc, iam.dpc, iam.cic);
    let config =
        format!("[ss7]\npoint_code = {gw}\n[[trunk_groups]]\ndpc = {caller}\ncics = \"{cic}\"\n");
    let mut steps = Vec::new();
    let mut now = iam.time;
    let mut answered = false;
    for f in frames.iter().filter(|f| f.cic == cic && f.time >= iam.time) {
        let m = Variant::ITU
            .parse(&f.octets)
            .map_err(|e| format!("frame at {:?}: {e}", f.time))?;
        let t = m.message_type;
        let abbr = t.abbreviation().unwrap_or("unknown").to_string();
        if f.time > now {
            steps.push(Step {
                wait: Some((f.time - now).as_secs_f64()),
                ..Default::default()
            });
            now = f.time;
        }
        if f.opc == caller {
            steps.push(Step {
                isup_in: Some(abbr.clone()),
                cic: Some(cic),
                hex: Some(hex::encode(&f.octets)),
                ..Default::default()
            });
            if t == MessageType::IAM {
                let called = m
                    .get::<isup::CalledPartyNumber>()
                    .map(|n| n.digits.to_string().trim_end_matches('F').to_string())
                    .unwrap_or_default();
                steps.push(Step {
                    expect_sip: Some(super::SipWhat::Method("INVITE".into())),
                    uri: Some(called),
                    isup_body: Some(super::BodyExpect::Type("IAM".into())),
                    sdp: Some(true),
                    ..Default::default()
                });
            } else if t == MessageType::REL {
                // The caller clears: the gateway answers RLC (the trace's next message) and
                // clears the SIP side.
                steps.push(Step {
                    expect_sip: Some(super::SipWhat::Method(
                        if answered { "BYE" } else { "CANCEL" }.into(),
                    )),
                    ..Default::default()
                });
                steps.push(Step {
                    sip_reply: Some(200),
                    to: Some(if answered { "BYE" } else { "CANCEL" }.into()),
                    ..Default::default()
                });
                if !answered {
                    steps.push(Step {
                        sip_reply: Some(487),
                        ..Default::default()
                    });
                    steps.push(Step {
                        expect_sip: Some(super::SipWhat::Method("ACK".into())),
                        ..Default::default()
                    });
                }
            }
            continue;
        }
        // The called exchange's message: what the gateway must send, and its SIP cause.
        let mut fields = serde_json::Map::new();
        match t {
            MessageType::ACM | MessageType::CPG => {
                let free = if t == MessageType::ACM {
                    let s = m
                        .get::<isup::BackwardCallIndicators>()
                        .map_or(0, |b| b.called_party_status);
                    fields.insert(
                        "backward_call_indicators.called_party_status".into(),
                        s.into(),
                    );
                    s == 1
                } else {
                    let e = m
                        .get::<isup::EventInformation>()
                        .map_or(0, |e| e.event_indicator);
                    fields.insert("event_information.event_indicator".into(), e.into());
                    e == 1
                };
                steps.push(Step {
                    sip_reply: Some(if free { 180 } else { 183 }),
                    ..Default::default()
                });
            }
            MessageType::ANM | MessageType::CON => {
                answered = true;
                steps.push(Step {
                    sip_reply: Some(200),
                    sdp: Some(true),
                    ..Default::default()
                });
                steps.push(Step {
                    expect_sip: Some(super::SipWhat::Method("ACK".into())),
                    ..Default::default()
                });
            }
            MessageType::REL => {
                let cause = m
                    .get::<isup::CauseIndicators>()
                    .map_or(16, |c| c.cause_value);
                fields.insert("cause_indicators.cause_value".into(), cause.into());
                steps.push(Step {
                    sip_in: Some(format!(
                        "{} {} SIP/2.0\nVia: SIP/2.0/UDP {{peer}};branch=z9hG4bK-trace-1\n\
                         Max-Forwards: 70\nFrom: {{INVITE.to}};tag={{peer_tag}}\nTo: {{INVITE.from}}\n\
                         Call-ID: {{INVITE.call_id}}\nCSeq: 2 {}\nReason: Q.850;cause={cause}\n",
                        if answered { "BYE" } else { "CANCEL" },
                        "{INVITE.contact_uri}",
                        if answered { "BYE" } else { "CANCEL" },
                    )),
                    ..Default::default()
                });
                steps.push(Step {
                    expect_sip: Some(super::SipWhat::Status(200)),
                    ..Default::default()
                });
            }
            MessageType::RLC => {}
            _ => return Err(format!("{abbr} from the called exchange is not replayed")),
        }
        steps.push(Step {
            expect_isup: Some(abbr),
            cic: Some(cic),
            fields,
            ..Default::default()
        });
    }
    steps.push(Step {
        expect_circuit: Some("idle".into()),
        cic: Some(cic),
        ..Default::default()
    });
    Ok(Fixture {
        name: name.to_string(),
        reference: "real call (ITU ISUP over M2PA): PSTN origination".into(),
        description: String::new(),
        known_failure: None,
        config: toml::from_str(&config).map_err(|e| e.to_string())?,
        startup: super::Startup::Reset,
        end_state: super::EndState::Idle,
        opc: Some(caller),
        peer: None,
        steps,
    })
}

/// The kancom trace as a case: skipped when `shared` does not hold it.
pub fn kancom_case(shared: &Path) -> CaseResult {
    let path = shared.join(KANCOM);
    let file = "kancom-xdr_tester/isup.pcap".to_string();
    let skipped = |detail: String| CaseResult {
        file: file.clone(),
        name: "real call from the kancom corpus".into(),
        verdict: Verdict::Skipped,
        detail,
        steps: 0,
        checks: 0,
    };
    let Ok(data) = std::fs::read(&path) else {
        return skipped(format!("{} absent", path.display()));
    };
    let fx = read_isup(&data)
        .and_then(|frames| fixture_from_trace("real call from the kancom corpus (M2PA)", &frames));
    match fx {
        Ok(fx) => super::evaluate(&file, &fx),
        Err(e) => CaseResult {
            verdict: Verdict::Fail,
            detail: format!("cannot turn the trace into a fixture: {e}"),
            ..skipped(String::new())
        },
    }
}

/// The message type of a frame, for listings.
pub fn frame_label(f: &IsupFrame) -> String {
    Message::parse(&f.octets)
        .map(|m| m.message_type.to_string())
        .unwrap_or_else(|e| format!("undecodable ({e})"))
}
