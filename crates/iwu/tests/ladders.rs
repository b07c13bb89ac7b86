//! Full ladders per call model and failure case on a virtual clock. Each scenario asserts the
//! messages and fields the standards require; `call_flows_doc` renders docs/call-flows.md from
//! the same scenarios and the cause tables (run with UPDATE_CALL_FLOWS=1 to rewrite it).

mod support;

use std::time::Duration;

use isup::{MessageType, ParameterCode, RawParameter};
use iwu::{Action, Event, Outcome};
use sip::header::Hdr;
use sip::{Method, SipBody};
use support::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// ---------- PSTN origination (IAM → INVITE) ----------

/// IAM → INVITE; 180 → ACM; 200 → ANM; REL from the PSTN → RLC + BYE.
fn pstn_basic() -> Harness {
    let mut h = Harness::new();
    let acts = h.isup(5, iam("30123456", Some(("3098765", 0))));
    let inv = find_request(&acts, Method::Invite).expect("INVITE");
    assert_eq!(inv.uri.to_string(), "sip:+4930123456@192.0.2.20;user=phone");
    let from = inv.headers.from().unwrap();
    assert_eq!(from.uri.to_string(), "sip:+493098765@192.0.2.10;user=phone");
    // Trusted SIP-I peer: PAI, and the IAM encapsulated next to the SDP offer.
    assert_eq!(inv.headers.p_asserted_identity().unwrap().len(), 1);
    assert!(inv.headers.get(Hdr::Privacy).is_none());
    let body = SipBody::parse(&inv.headers, &inv.body).unwrap();
    let sdp = std::str::from_utf8(body.sdp().unwrap()).unwrap();
    // CIC 5 is the 5th circuit of tg1: port 40000 + 2*4.
    assert!(sdp.contains("m=audio 40008 RTP/AVP 8 0 101"), "{sdp}");
    assert!(sdp.contains("c=IN IP4 192.0.2.50"));
    let enc = isup::Message::parse(body.isup().unwrap().data).unwrap();
    assert_eq!(enc.message_type, MessageType::IAM);
    assert!(inv.headers.has_option(Hdr::Supported, "100rel"));

    let acts = h.response(peer_response(&inv, 100));
    assert!(acts.is_empty());
    let acts = h.response(peer_response(&inv, 180));
    let (cic, acm) = find_isup(&acts, MessageType::ACM).expect("ACM");
    assert_eq!(cic, circuit(5));
    assert_eq!(
        acm.get::<isup::BackwardCallIndicators>()
            .unwrap()
            .called_party_status,
        1
    );
    h.now += secs(3);
    let mut ok = peer_response(&inv, 200);
    ok.set_body(Some("application/sdp"), ANSWER.to_vec());
    let acts = h.response(ok.clone());
    assert!(find_isup(&acts, MessageType::ANM).is_some());
    assert!(find_request(&acts, Method::Ack).is_some());
    // A retransmitted 200 is ACKed again, nothing else.
    let acts = h.response(ok);
    assert_eq!(acts.len(), 1);
    assert!(find_request(&acts, Method::Ack).is_some());
    h.now += secs(60);
    let acts = h.isup(5, rel(16));
    assert!(find_isup(&acts, MessageType::RLC).is_some());
    let bye = find_request(&acts, Method::Bye).expect("BYE");
    assert_eq!(bye.headers.q850_cause(), Some(16));
    assert!(acts.contains(&Action::CircuitIdle {
        circuit: circuit(5)
    }));
    let r = &h.records[0];
    assert_eq!((r.outcome, r.cause), (Outcome::Answered, 16));
    assert_eq!(r.answer_time, Some(secs(3)));
    assert_eq!(r.duration, Some(secs(60)));
    assert_eq!(h.engine.active_calls(), 0);
    assert!(h.timers.is_empty());
    h
}

/// Error response → REL with the mapped cause; RLC frees the circuit.
fn pstn_reject(status: u16, cause: u8) -> Harness {
    let mut h = Harness::new();
    let acts = h.isup(7, iam("30123456", Some(("3098765", 0))));
    let inv = find_request(&acts, Method::Invite).unwrap();
    let acts = h.response(peer_response(&inv, status));
    let (_, rel) = find_isup(&acts, MessageType::REL).expect("REL");
    assert_eq!(iwu::msgs::cause_of(&rel).unwrap().0, cause);
    let acts = h.isup(7, isup::Message::new(MessageType::RLC));
    assert!(acts.contains(&Action::CircuitIdle {
        circuit: circuit(7)
    }));
    assert_eq!(h.records[0].outcome, Outcome::Rejected);
    assert_eq!(h.records[0].cause, cause);
    assert_eq!(h.records[0].sip_status, Some(status));
    assert_eq!(h.engine.active_calls(), 0);
    h
}

/// The caller hangs up while the SIP side rings: RLC, CANCEL with Reason, then 487.
fn pstn_abandon() -> Harness {
    let mut h = Harness::new();
    let acts = h.isup(2, iam("30123456", None));
    let inv = find_request(&acts, Method::Invite).unwrap();
    // No CgPN: anonymous From, no PAI.
    assert!(
        inv.headers
            .from()
            .unwrap()
            .uri
            .to_string()
            .contains("anonymous.invalid")
    );
    assert!(inv.headers.p_asserted_identity().unwrap().is_empty());
    h.response(peer_response(&inv, 180));
    let acts = h.isup(2, rel(16));
    assert!(find_isup(&acts, MessageType::RLC).is_some());
    let c = find_request(&acts, Method::Cancel).expect("CANCEL");
    assert_eq!(c.headers.q850_cause(), Some(16));
    assert_eq!(
        c.headers.top_via().unwrap().branch(),
        inv.headers.top_via().unwrap().branch()
    );
    assert_eq!(h.engine.active_calls(), 1);
    h.response(peer_response(&inv, 487));
    assert_eq!(h.engine.active_calls(), 0);
    assert_eq!(h.records[0].outcome, Outcome::Abandoned);
    h
}

/// BYE from the SIP side after answer → 200, REL 16; RLC → circuit idle.
fn pstn_bye() -> Harness {
    let mut h = Harness::new();
    let acts = h.isup(3, iam("30123456", Some(("3098765", 0))));
    let inv = find_request(&acts, Method::Invite).unwrap();
    h.response(peer_response(&inv, 200));
    let bye = in_dialog_uac(&inv, Method::Bye, 1);
    let acts = h.request(bye);
    assert_eq!(responses(&acts), vec![200]);
    let (_, rel) = find_isup(&acts, MessageType::REL).unwrap();
    assert_eq!(iwu::msgs::cause_of(&rel).unwrap().0, 16);
    let acts = h.isup(3, isup::Message::new(MessageType::RLC));
    assert!(acts.contains(&Action::CircuitIdle {
        circuit: circuit(3)
    }));
    assert_eq!(h.records[0].outcome, Outcome::Answered);
    h
}

/// No response at all: transaction timer B → REL cause 102.
fn pstn_timer_b() -> Harness {
    let mut h = Harness::new();
    let acts = h.isup(4, iam("30123456", None));
    let inv = find_request(&acts, Method::Invite).unwrap();
    h.now += secs(32);
    let acts = h.feed(Event::SipTimeout {
        call_id: inv.headers.call_id().unwrap().to_string(),
        method: Method::Invite,
    });
    let (_, rel) = find_isup(&acts, MessageType::REL).unwrap();
    assert_eq!(iwu::msgs::cause_of(&rel).unwrap().0, 102);
    h.isup(4, isup::Message::new(MessageType::RLC));
    assert_eq!(h.records[0].outcome, Outcome::Failed);
    h
}

/// 183 with SDP and 100rel: PRACK, ACM "no indication" with in-band information; the
/// retransmitted 183 is not passed up.
fn pstn_early_media() -> Harness {
    let mut h = Harness::new();
    let acts = h.isup(6, iam("30123456", None));
    let inv = find_request(&acts, Method::Invite).unwrap();
    let mut p = peer_response(&inv, 183);
    p.headers.push(Hdr::Require, "100rel");
    p.headers.push(Hdr::RSeq, "77");
    p.set_body(Some("application/sdp"), ANSWER.to_vec());
    let acts = h.response(p.clone());
    let prack = find_request(&acts, Method::Prack).expect("PRACK");
    assert_eq!(prack.headers.rack().unwrap().unwrap().rseq, 77);
    let (_, acm) = find_isup(&acts, MessageType::ACM).unwrap();
    assert_eq!(
        acm.get::<isup::BackwardCallIndicators>()
            .unwrap()
            .called_party_status,
        0
    );
    assert_eq!(
        acm.get::<isup::OptionalBackwardCallIndicators>()
            .unwrap()
            .in_band_information_indicator,
        1
    );
    assert!(h.response(p).is_empty(), "retransmitted 183 ignored");
    let acts = h.response(peer_response(&inv, 180));
    let (_, cpg) = find_isup(&acts, MessageType::CPG).unwrap();
    assert_eq!(
        cpg.get::<isup::EventInformation>().unwrap().event_indicator,
        1
    );
    let acts = h.response(peer_response(&inv, 200));
    assert!(find_isup(&acts, MessageType::ANM).is_some());
    h.isup(6, rel(16));
    assert_eq!(h.engine.active_calls(), 0);
    h
}

/// Restricted presentation: anonymous From + PAI + Privacy: id toward the trusted peer.
#[test]
fn pstn_restricted_calling_number_trusted_and_untrusted() {
    let mut h = Harness::new();
    let acts = h.isup(8, iam("30123456", Some(("3098765", 1))));
    let inv = find_request(&acts, Method::Invite).unwrap();
    assert_eq!(
        inv.headers.from().unwrap().uri.to_string(),
        "sip:anonymous@anonymous.invalid"
    );
    let pai = inv.headers.p_asserted_identity().unwrap();
    assert_eq!(
        pai[0].uri.to_string(),
        "sip:+493098765@192.0.2.10;user=phone"
    );
    assert_eq!(inv.headers.privacy().unwrap(), vec!["id".to_string()]);
    // tg2 routes to the untrusted plain-SIP peer: no PAI, no Privacy, no ISUP, tel URIs.
    let acts = h.isup(33, iam("30123456", Some(("3098765", 1))));
    let inv = find_request(&acts, Method::Invite).unwrap();
    assert_eq!(inv.uri.to_string(), "tel:+4930123456");
    assert!(inv.headers.p_asserted_identity().unwrap().is_empty());
    assert!(inv.headers.get(Hdr::Privacy).is_none());
    assert!(
        !inv.headers
            .get(Hdr::ContentType)
            .unwrap()
            .contains("multipart")
    );
    assert!(
        SipBody::parse(&inv.headers, &inv.body)
            .unwrap()
            .isup()
            .is_none()
    );
    let acts = h.isup(34, iam("30123456", Some(("3098765", 0))));
    let inv = find_request(&acts, Method::Invite).unwrap();
    assert_eq!(
        inv.headers.from().unwrap().uri.to_string(),
        "tel:+493098765"
    );
    assert!(inv.headers.p_asserted_identity().unwrap().is_empty());
}

/// SIP bridging, backward: the far end's own ACM and REL travel encapsulated and reach the
/// PSTN unchanged; the REL cause beats the status table.
#[test]
fn pstn_bridging_backward_messages_are_passed_on() {
    let mut h = Harness::new();
    let acts = h.isup(9, iam("30123456", None));
    let inv = find_request(&acts, Method::Invite).unwrap();
    let far_acm = iwu::msgs::acm(1, false).with(RawParameter {
        code: ParameterCode(0xFD),
        value: vec![1, 2, 3],
    });
    let mut p = peer_response(&inv, 180);
    isup_body(
        &mut p.headers,
        &mut p.body,
        &far_acm.to_bytes().unwrap(),
        "itu-t92+",
        "optional",
    );
    let acts = h.response(p);
    let (_, acm) = find_isup(&acts, MessageType::ACM).unwrap();
    assert_eq!(acm, far_acm);
    let far_rel = iwu::msgs::rel(21, 0);
    let mut p = peer_response(&inv, 486);
    isup_body(
        &mut p.headers,
        &mut p.body,
        &far_rel.to_bytes().unwrap(),
        "itu-t92+",
        "optional",
    );
    let acts = h.response(p);
    let (_, rel) = find_isup(&acts, MessageType::REL).unwrap();
    assert_eq!(rel, far_rel);
}

/// Reason: Q.850 on an error response wins over the table (503 → 41 otherwise).
#[test]
fn pstn_reason_header_wins_over_table() {
    let mut h = Harness::new();
    let acts = h.isup(10, iam("30123456", None));
    let inv = find_request(&acts, Method::Invite).unwrap();
    let mut p = peer_response(&inv, 503);
    p.headers
        .push(Hdr::Reason, "Q.850;cause=34;text=\"No circuit\"");
    let acts = h.response(p);
    let (_, rel) = find_isup(&acts, MessageType::REL).unwrap();
    assert_eq!(iwu::msgs::cause_of(&rel).unwrap().0, 34);
}

/// T11: no progress from SIP within 15 s → ACM "no indication" so the PSTN's T7 stops.
fn pstn_t11() -> Harness {
    let mut h = Harness::new();
    let acts = h.isup(11, iam("30123456", None));
    let inv = find_request(&acts, Method::Invite).unwrap();
    let acts = h.advance(secs(15));
    let (_, acm) = find_isup(&acts, MessageType::ACM).unwrap();
    assert_eq!(
        acm.get::<isup::BackwardCallIndicators>()
            .unwrap()
            .called_party_status,
        0
    );
    // A later 180 becomes CPG alerting.
    let acts = h.response(peer_response(&inv, 180));
    assert!(find_isup(&acts, MessageType::CPG).is_some());
    h.response(peer_response(&inv, 200));
    h
}

/// Continuity check on a previous circuit: the INVITE waits for COT (Q.764 §2.1.8).
fn pstn_cot() -> Harness {
    let mut h = Harness::new();
    let mut m = iam("30123456", None);
    m.get_mut::<isup::NatureOfConnectionIndicators>()
        .unwrap()
        .continuity_check_indicator = 2;
    let acts = h.isup(13, m);
    assert!(find_request(&acts, Method::Invite).is_none());
    let cot = isup::Message::new(MessageType::COT).with(isup::ContinuityIndicators {
        continuity_indicator: 1,
    });
    let acts = h.isup(13, cot);
    let inv = find_request(&acts, Method::Invite).expect("INVITE after COT");
    h.response(peer_response(&inv, 180));
    h.isup(13, rel(16));
    h.response(peer_response(&inv, 487));
    assert_eq!(h.engine.active_calls(), 0);
    h
}

/// Overlap receiving on tg2 (configured `overlap = true` here): SAM digits are collected until
/// ST, then one INVITE (RFC 3578 §2 en-bloc conversion).
fn pstn_overlap() -> Harness {
    let mut cfg = config();
    cfg.trunk_groups[1].overlap = true;
    let mut h = Harness::with_config(cfg);
    let acts = h.isup(33, iam("3012", None));
    assert!(find_request(&acts, Method::Invite).is_none());
    let sam = |d: &str| {
        isup::Message::new(MessageType::SAM).with(isup::SubsequentNumber {
            digits: isup::Digits::from_hex_str(d).unwrap(),
        })
    };
    assert!(find_request(&h.isup(33, sam("34")), Method::Invite).is_none());
    let acts = h.isup(33, sam("56F"));
    let inv = find_request(&acts, Method::Invite).expect("INVITE after ST");
    assert_eq!(inv.uri.to_string(), "tel:+4930123456");
    // Without ST, T10 ends the collection.
    let acts = h.isup(34, iam("30", None));
    assert!(find_request(&acts, Method::Invite).is_none());
    h.isup(34, sam("99"));
    let acts = h.advance(secs(4));
    assert_eq!(
        find_request(&acts, Method::Invite).unwrap().uri.to_string(),
        "tel:+493099"
    );
    h
}

#[test]
fn pstn_cot_missing_t8_releases_and_64k_unrestricted_is_refused() {
    let mut h = Harness::new();
    let mut m = iam("30123456", None);
    m.get_mut::<isup::NatureOfConnectionIndicators>()
        .unwrap()
        .continuity_check_indicator = 1;
    h.isup(14, m);
    let acts = h.advance(secs(10));
    let (_, r) = find_isup(&acts, MessageType::REL).expect("REL on T8");
    assert_eq!(iwu::msgs::cause_of(&r).unwrap().0, 41);
    assert!(find_request(&acts, Method::Invite).is_none());
    h.isup(14, isup::Message::new(MessageType::RLC));
    assert_eq!(h.engine.active_calls(), 0);
    // TMR 2 (64 kbit/s unrestricted): no G.711 bearer → REL 65, no INVITE.
    let mut m = iam("30123456", None);
    m.get_mut::<isup::TransmissionMediumRequirement>()
        .unwrap()
        .value = 2;
    let acts = h.isup(15, m);
    assert_eq!(
        iwu::msgs::cause_of(&find_isup(&acts, MessageType::REL).unwrap().1)
            .unwrap()
            .0,
        65
    );
    assert!(find_request(&acts, Method::Invite).is_none());
}

// ---------- IP origination (INVITE → IAM) ----------

fn plain_invite(id: &str) -> sip::Request {
    invite(
        "192.0.2.30",
        "tel:+4930123456",
        "sip:+493098765@192.0.2.30;user=phone",
        id,
    )
}

/// INVITE → IAM; ACM → 180; ANM → 200 with SDP answer; BYE → REL; RLC → circuit idle.
fn ip_basic() -> Harness {
    let mut h = Harness::new();
    let inv = plain_invite("ip-basic");
    let acts = h.request(inv.clone());
    let (cic, iam) = find_isup(&acts, MessageType::IAM).expect("IAM");
    assert_eq!(cic, circuit(33));
    let cdpn = iam.get::<isup::CalledPartyNumber>().unwrap();
    assert_eq!(
        (cdpn.nature_of_address, cdpn.digits.to_string()),
        (3, "30123456".to_string())
    );
    let cgpn = iam.get::<isup::CallingPartyNumber>().unwrap();
    // Untrusted peer: the From number is "user provided, not verified".
    assert_eq!((cgpn.screening, cgpn.presentation), (Some(0), Some(0)));
    assert_eq!(
        iam.get::<isup::ForwardCallIndicators>()
            .unwrap()
            .interworking_indicator,
        1
    );
    assert_eq!(
        iam.get::<isup::TransmissionMediumRequirement>()
            .unwrap()
            .value,
        3
    );
    let acts = h.isup(33, iwu::msgs::acm(1, false));
    let ringing = find_response(&acts, 180).expect("180");
    assert!(ringing.headers.to().unwrap().tag().is_some());
    assert!(ringing.body.is_empty());
    h.now += secs(5);
    let acts = h.isup(33, iwu::msgs::anm());
    let ok = find_response(&acts, 200).expect("200");
    let sdp = std::str::from_utf8(&ok.body).unwrap();
    // Answer: the offer's common codecs in its order, our CIC's port (tg2 first CIC → 41000).
    assert!(sdp.contains("m=audio 41000 RTP/AVP 8 0 101"), "{sdp}");
    h.request(in_dialog(&inv, &ok, Method::Ack, 1));
    h.now += secs(30);
    let acts = h.request(in_dialog(&inv, &ok, Method::Bye, 2));
    assert_eq!(responses(&acts), vec![200]);
    let (_, rel) = find_isup(&acts, MessageType::REL).unwrap();
    assert_eq!(iwu::msgs::cause_of(&rel).unwrap().0, 16);
    let acts = h.isup(33, isup::Message::new(MessageType::RLC));
    assert!(acts.contains(&Action::CircuitIdle {
        circuit: circuit(33)
    }));
    let r = &h.records[0];
    assert_eq!(
        (r.outcome, r.answer_time, r.duration),
        (Outcome::Answered, Some(secs(5)), Some(secs(30)))
    );
    assert_eq!(h.pool.free_count("tg2"), 2);
    assert!(h.timers.is_empty());
    h
}

/// REL before answer → final response per table with Reason; RLC sent by us.
fn ip_reject(cause: u8, status: u16) -> Harness {
    let mut h = Harness::new();
    let acts = h.request(plain_invite("ip-reject"));
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    let acts = h.isup(cic, rel(cause));
    assert!(find_isup(&acts, MessageType::RLC).is_some());
    let r = find_response(&acts, status).expect("final response");
    assert_eq!(r.headers.q850_cause(), Some(u16::from(cause)));
    assert!(acts.contains(&Action::CircuitIdle { circuit: cic }));
    assert_eq!(h.records[0].outcome, Outcome::Rejected);
    assert_eq!(h.engine.active_calls(), 0);
    h
}

/// ACM but no answer: T9 → REL 19 and 480 (Reason cause 19).
fn ip_no_answer() -> Harness {
    let mut h = Harness::new();
    let acts = h.request(plain_invite("ip-t9"));
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    h.isup(cic, iwu::msgs::acm(1, false));
    let acts = h.advance(secs(90));
    let (_, rel) = find_isup(&acts, MessageType::REL).unwrap();
    assert_eq!(iwu::msgs::cause_of(&rel).unwrap().0, 19);
    let r = find_response(&acts, 480).unwrap();
    assert_eq!(r.headers.q850_cause(), Some(19));
    h.isup(cic, isup::Message::new(MessageType::RLC));
    assert_eq!(h.records[0].outcome, Outcome::Rejected);
    h
}

/// No ACM: T7 → REL 102 and 504.
fn ip_t7() -> Harness {
    let mut h = Harness::new();
    let acts = h.request(plain_invite("ip-t7"));
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    let acts = h.advance(secs(20));
    let (_, rel) = find_isup(&acts, MessageType::REL).unwrap();
    assert_eq!(iwu::msgs::cause_of(&rel).unwrap().0, 102);
    assert!(find_response(&acts, 504).is_some());
    h.isup(cic, isup::Message::new(MessageType::RLC));
    assert_eq!(h.records[0].outcome, Outcome::Failed);
    h
}

/// CANCEL before answer → 200 (CANCEL), 487 (INVITE), REL 16 (rfc3398).
fn ip_cancel() -> Harness {
    let mut h = Harness::new();
    let inv = plain_invite("ip-cancel");
    let acts = h.request(inv.clone());
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    h.isup(cic, iwu::msgs::acm(1, false));
    let acts = h.request(cancel(&inv));
    assert_eq!(responses(&acts), vec![200, 487]);
    let (_, rel) = find_isup(&acts, MessageType::REL).unwrap();
    assert_eq!(iwu::msgs::cause_of(&rel).unwrap().0, 16);
    h.isup(cic, isup::Message::new(MessageType::RLC));
    assert_eq!(h.records[0].outcome, Outcome::Abandoned);
    assert_eq!(h.engine.active_calls(), 0);
    h
}

#[test]
fn ip_cancel_q1912_profile_uses_cause_31() {
    let mut h = Harness::new();
    let inv = invite(
        "192.0.2.40",
        "sip:+4930123456@192.0.2.10;user=phone",
        "sip:x@192.0.2.40",
        "q-cancel",
    );
    let acts = h.request(inv.clone());
    assert!(find_isup(&acts, MessageType::IAM).is_some());
    let acts = h.request(cancel(&inv));
    let (_, rel) = find_isup(&acts, MessageType::REL).unwrap();
    assert_eq!(iwu::msgs::cause_of(&rel).unwrap().0, 31);
    // q1912: REL 20 → 480; a Reason on CANCEL wins.
    let inv = invite(
        "192.0.2.40",
        "sip:+4930123456@192.0.2.10;user=phone",
        "sip:x@192.0.2.40",
        "q-cancel2",
    );
    h.request(inv.clone());
    let mut c = cancel(&inv);
    c.headers.push(Hdr::Reason, "Q.850;cause=17");
    let acts = h.request(c);
    let (_, rel) = find_isup(&acts, MessageType::REL).unwrap();
    assert_eq!(iwu::msgs::cause_of(&rel).unwrap().0, 17);
}

/// REL after answer → BYE with Reason.
fn ip_rel_after_answer() -> Harness {
    let mut h = Harness::new();
    let inv = plain_invite("ip-relans");
    let acts = h.request(inv.clone());
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    h.isup(cic, iwu::msgs::acm(1, false));
    let acts = h.isup(cic, iwu::msgs::anm());
    let ok = find_response(&acts, 200).unwrap();
    h.request(in_dialog(&inv, &ok, Method::Ack, 1));
    let acts = h.isup(cic, rel(16));
    let bye = find_request(&acts, Method::Bye).expect("BYE");
    assert_eq!(bye.headers.q850_cause(), Some(16));
    assert_eq!(bye.headers.to().unwrap().tag(), Some("caller"));
    assert!(acts.contains(&Action::CircuitIdle { circuit: cic }));
    assert_eq!(h.engine.active_calls(), 0);
    h
}

/// No circuit in the trunk group → 503 with Reason cause 34.
fn ip_no_circuit() -> Harness {
    let mut h = Harness::new();
    h.request(plain_invite("a"));
    h.request(plain_invite("b"));
    h.ladder.clear();
    let acts = h.request(plain_invite("c"));
    let r = find_response(&acts, 503).expect("503");
    assert_eq!(r.headers.q850_cause(), Some(34));
    assert!(find_isup(&acts, MessageType::IAM).is_none());
    h
}

/// No common codec → 488 with Warning 305, before any circuit is seized.
fn ip_no_codec() -> Harness {
    let mut h = Harness::new();
    let mut inv = plain_invite("g729");
    inv.set_body(
        Some("application/sdp"),
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 18\r\n".to_vec(),
    );
    let acts = h.request(inv);
    let r = find_response(&acts, 488).expect("488");
    assert_eq!(r.headers.warning().unwrap()[0].code, 305);
    assert_eq!(h.pool.free_count("tg2"), 2);
    h
}

fn sipi_invite(id: &str) -> sip::Request {
    invite(
        "192.0.2.20",
        "sip:+4930123456@192.0.2.10;user=phone",
        "sip:+493098765@192.0.2.20;user=phone",
        id,
    )
}

fn with_isup(mut r: sip::Request, msg: &[u8], version: &str, handling: &str) -> sip::Request {
    let (ct, body, disp) = sip::body::build_sip_i(
        Some(OFFER),
        msg,
        version,
        None,
        if handling == "required" {
            sip::header::Handling::Required
        } else {
            sip::header::Handling::Optional
        },
    );
    assert!(disp.is_none());
    r.set_body(Some(&ct), body);
    r
}

/// ISUP part with handling=required and an unknown version → 415 with Accept.
fn ip_415() -> Harness {
    let mut h = Harness::new();
    let iam = iam("30123456", None).to_bytes().unwrap();
    let acts = h.request(with_isup(sipi_invite("v415"), &iam, "nxv3", "required"));
    let r = find_response(&acts, 415).expect("415");
    assert!(
        r.headers
            .get(Hdr::Accept)
            .unwrap()
            .contains("application/sdp")
    );
    assert!(find_isup(&acts, MessageType::IAM).is_none());
    h
}

#[test]
fn ip_isup_body_optional_unsupported_or_malformed_is_ignored() {
    let mut h = Harness::new();
    let iam = iam("30123456", None).to_bytes().unwrap();
    let acts = h.request(with_isup(sipi_invite("vopt"), &iam, "nxv3", "optional"));
    assert!(find_isup(&acts, MessageType::IAM).is_some());
    let acts = h.request(with_isup(
        sipi_invite("bad-opt"),
        &[0x01, 0x00],
        "itu-t92+",
        "optional",
    ));
    let (_, iam) = find_isup(&acts, MessageType::IAM).expect("IAM from headers");
    assert_eq!(
        iam.get::<isup::CalledPartyNumber>()
            .unwrap()
            .digits
            .to_string(),
        "30123456"
    );
    let acts = h.request(with_isup(
        sipi_invite("bad-req"),
        &[0x01, 0x00],
        "itu-t92+",
        "required",
    ));
    assert_eq!(responses(&acts), vec![400]);
    // A plain-SIP peer never accepts ISUP: required → 415.
    let mut inv = plain_invite("plain-isup");
    let (ct, body, _) = sip::body::build_sip_i(
        Some(OFFER),
        &[0x01],
        "itu-t92+",
        None,
        sip::header::Handling::Required,
    );
    inv.set_body(Some(&ct), body);
    assert_eq!(responses(&h.request(inv)), vec![415]);
}

/// SIP bridging: the IAM toward the PSTN is the encapsulated one with the unknown parameter
/// byte-exact, the called number from the Request-URI, no continuity check.
fn ip_bridging() -> Harness {
    let mut h = Harness::new();
    let mut orig = iam("3011111", Some(("3098765", 0)));
    orig.get_mut::<isup::NatureOfConnectionIndicators>()
        .unwrap()
        .continuity_check_indicator = 2;
    orig = orig.with(RawParameter {
        code: ParameterCode(0xFE),
        value: vec![0xAB, 0xCD, 0xEF],
    });
    orig = orig.with(isup::HopCounter { hop_counter: 10 });
    let acts = h.request(with_isup(
        sipi_invite("bridge"),
        &orig.to_bytes().unwrap(),
        "itu-t92+",
        "optional",
    ));
    let (_, iam) = find_isup(&acts, MessageType::IAM).unwrap();
    assert_eq!(
        iam.get::<isup::CalledPartyNumber>()
            .unwrap()
            .digits
            .to_string(),
        "30123456"
    );
    assert_eq!(
        iam.find(ParameterCode(0xFE)),
        Some(&isup::Parameter::Raw(RawParameter {
            code: ParameterCode(0xFE),
            value: vec![0xAB, 0xCD, 0xEF]
        }))
    );
    // Calling number unchanged (same as PAI-less From): the encapsulated parameter stays.
    assert_eq!(
        iam.get::<isup::CallingPartyNumber>(),
        orig.get::<isup::CallingPartyNumber>()
    );
    assert_eq!(
        iam.get::<isup::NatureOfConnectionIndicators>()
            .unwrap()
            .continuity_check_indicator,
        0
    );
    assert_eq!(iam.get::<isup::HopCounter>().unwrap().hop_counter, 9);
    assert_eq!(
        iam.get::<isup::ForwardCallIndicators>(),
        orig.get::<isup::ForwardCallIndicators>()
    );
    // Backward: ACM → 180 with the ACM encapsulated.
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    let acts = h.isup(cic, iwu::msgs::acm(1, false));
    let r = find_response(&acts, 180).unwrap();
    let b = SipBody::parse(&r.headers, &r.body).unwrap();
    assert_eq!(
        isup::Message::parse(b.isup().unwrap().data).unwrap(),
        iwu::msgs::acm(1, false)
    );
    let acts = h.isup(cic, rel(17));
    let r = find_response(&acts, 486).unwrap();
    let b = SipBody::parse(&r.headers, &r.body).unwrap();
    assert_eq!(
        isup::Message::parse(b.isup().unwrap().data).unwrap(),
        rel(17)
    );
    h
}

/// No RLC for our REL: T1 re-sends REL, T5 resets the circuit (RSC, alert, T17).
fn ip_release_timers() -> Harness {
    let mut h = Harness::new();
    let inv = plain_invite("t1t5");
    let acts = h.request(inv.clone());
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    h.request(cancel(&inv));
    let acts = h.advance(secs(15));
    assert!(
        find_isup(&acts, MessageType::REL).is_some(),
        "T1 re-sends REL"
    );
    let acts = h.advance(secs(285));
    assert!(find_isup(&acts, MessageType::RSC).is_some(), "T5 → RSC");
    assert_eq!(h.alerts, vec![cic]);
    assert!(!h.idle.contains(&cic), "out of service until RLC");
    let acts = h.isup(cic, isup::Message::new(MessageType::RLC));
    assert!(acts.contains(&Action::CircuitIdle { circuit: cic }));
    assert!(h.timers.is_empty());
    h
}

/// Dual seizure lost: the call re-sends its IAM on another circuit.
fn ip_reattempt() -> Harness {
    let mut h = Harness::new();
    let acts = h.request(plain_invite("glare"));
    let (cic, iam1) = find_isup(&acts, MessageType::IAM).unwrap();
    let acts = h.feed(Event::Reattempt { circuit: cic });
    let (cic2, iam2) = find_isup(&acts, MessageType::IAM).unwrap();
    assert_ne!(cic, cic2);
    assert_eq!(iam1, iam2);
    // The incoming IAM on the old circuit is a new PSTN-originated call.
    let acts = h.isup(cic, iam("30123456", None));
    assert!(find_request(&acts, Method::Invite).is_some());
    assert_eq!(h.engine.active_calls(), 2);
    h
}

/// Q.764 §2.8.2.1 c): blocked after our IAM: REL on the old circuit, IAM on a new one, nothing
/// toward SIP; RLC frees the old circuit without a call record.
#[test]
fn ip_repeat_attempt_after_blocking() {
    let mut h = Harness::new();
    let acts = h.request(plain_invite("blocked"));
    let (cic, iam1) = find_isup(&acts, MessageType::IAM).unwrap();
    let acts = h.feed(Event::RepeatAttempt {
        circuit: cic,
        cause: 41,
    });
    let (rel_cic, rel) = find_isup(&acts, MessageType::REL).unwrap();
    assert_eq!((rel_cic, iwu::msgs::cause_of(&rel).unwrap().0), (cic, 41));
    let (cic2, iam2) = find_isup(&acts, MessageType::IAM).unwrap();
    assert_ne!(cic, cic2);
    assert_eq!(iam1, iam2);
    assert!(!acts.iter().any(|a| matches!(a, Action::SendResponse(_))));
    let acts = h.isup(cic, isup::Message::new(MessageType::RLC));
    assert!(acts.contains(&Action::CircuitIdle { circuit: cic }));
    assert!(h.records.is_empty());
    assert_eq!(h.engine.active_calls(), 1);
}

/// Maintenance reset of an answered call's circuit: BYE (Reason 41), no REL, no CircuitIdle.
fn ip_circuit_reset() -> Harness {
    let mut h = Harness::new();
    let inv = plain_invite("reset");
    let acts = h.request(inv);
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    h.isup(cic, iwu::msgs::anm());
    let acts = h.feed(Event::CircuitReset { circuit: cic });
    assert_eq!(
        find_request(&acts, Method::Bye)
            .unwrap()
            .headers
            .q850_cause(),
        Some(41)
    );
    assert!(find_isup(&acts, MessageType::REL).is_none());
    assert!(!acts.iter().any(|a| matches!(a, Action::CircuitIdle { .. })));
    assert_eq!(h.engine.active_calls(), 0);
    h
}

/// Mid-call ISUP both ways in INFO (SIP-I peer).
fn ip_mid_call_info() -> Harness {
    let mut h = Harness::new();
    let inv = sipi_invite("midcall");
    let acts = h.request(inv.clone());
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    let acts = h.isup(cic, iwu::msgs::anm());
    let ok = find_response(&acts, 200).unwrap();
    let sus =
        isup::Message::new(MessageType::SUS).with(isup::SuspendResumeIndicators { indicator: 1 });
    let acts = h.isup(cic, sus.clone());
    let info = find_request(&acts, Method::Info).expect("INFO");
    let b = SipBody::parse(&info.headers, &info.body).unwrap();
    assert_eq!(isup::Message::parse(b.isup().unwrap().data).unwrap(), sus);
    let res =
        isup::Message::new(MessageType::RES).with(isup::SuspendResumeIndicators { indicator: 1 });
    let mut i = in_dialog(&inv, &ok, Method::Info, 2);
    isup_body(
        &mut i.headers,
        &mut i.body,
        &res.to_bytes().unwrap(),
        "itu-t92+",
        "required",
    );
    let acts = h.request(i);
    assert_eq!(responses(&acts), vec![200]);
    assert_eq!(find_isup(&acts, MessageType::RES).unwrap().1, res);
    h
}

/// 100rel toward the IP side: reliable 180, the next 18x waits for PRACK.
fn ip_100rel() -> Harness {
    let mut h = Harness::new();
    let mut inv = plain_invite("rel");
    inv.headers.push(Hdr::Supported, "100rel");
    let acts = h.request(inv.clone());
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    let acts = h.isup(cic, iwu::msgs::acm(1, false));
    let r180 = find_response(&acts, 180).unwrap();
    assert!(r180.headers.has_option(Hdr::Require, "100rel"));
    let rseq = r180.headers.rseq().unwrap().unwrap();
    let acts = h.isup(cic, iwu::msgs::cpg(3, true));
    assert!(responses(&acts).is_empty(), "183 waits for PRACK");
    // Retransmission of the 180 on T1.
    let acts = h.advance(Duration::from_millis(500));
    assert_eq!(responses(&acts), vec![180]);
    let mut prack = in_dialog(&inv, &r180, Method::Prack, 2);
    prack.headers.push(Hdr::RAck, &format!("{rseq} 1 INVITE"));
    let acts = h.request(prack);
    assert_eq!(responses(&acts), vec![200, 183]);
    h
}

// ---------- misc ----------

#[test]
fn rel_on_idle_circuit_gets_rlc_and_stray_messages_are_dropped() {
    let mut h = Harness::new();
    let acts = h.isup(20, rel(16));
    assert_eq!(find_isup(&acts, MessageType::RLC).unwrap().0, circuit(20));
    assert!(h.isup(20, isup::Message::new(MessageType::RLC)).is_empty());
    assert!(h.isup(20, iwu::msgs::anm()).is_empty());
    // IAM on a CIC no trunk group has: nothing (the runtime answers UCIC).
    assert!(h.isup(999, iam("30123456", None)).is_empty());
}

#[test]
fn out_of_dialog_requests() {
    let mut h = Harness::new();
    let mut o = plain_invite("opt");
    o.method = Method::Options;
    o.headers.set(Hdr::CSeq, "1 OPTIONS");
    assert_eq!(responses(&h.request(o.clone())), vec![200]);
    // Methods the gateway does not take outside a dialog → 405.
    o.method = Method::Message;
    o.headers.set(Hdr::CSeq, "1 MESSAGE");
    assert_eq!(responses(&h.request(o.clone())), vec![405]);
    // A BYE (or PRACK, UPDATE, INFO) of no dialog → 481, with or without a To tag
    // (RFC 3261 §15.1.2, §12.2.2).
    for (method, name) in [
        (Method::Bye, "BYE"),
        (Method::Prack, "PRACK"),
        (Method::Update, "UPDATE"),
        (Method::Info, "INFO"),
    ] {
        o.method = method;
        o.headers.set(Hdr::CSeq, &format!("1 {name}"));
        assert_eq!(responses(&h.request(o.clone())), vec![481], "{name}");
    }
    o.method = Method::Bye;
    o.headers.set(Hdr::CSeq, "1 BYE");
    o.headers.set(Hdr::To, "<tel:+4930123456>;tag=nope");
    assert_eq!(responses(&h.request(o)), vec![481]);
    // Unknown peer → 403.
    let inv = invite(
        "203.0.113.9",
        "tel:+4930123456",
        "sip:a@203.0.113.9",
        "stranger",
    );
    assert_eq!(responses(&h.request(inv)), vec![403]);
    // Request-URI without a number → 404 with Reason cause 1.
    let inv = invite(
        "192.0.2.30",
        "sip:alice@192.0.2.10",
        "sip:a@192.0.2.30",
        "alice",
    );
    let acts = h.request(inv);
    assert_eq!(
        find_response(&acts, 404).unwrap().headers.q850_cause(),
        Some(1)
    );
}

#[test]
fn admin_release_answered_call() {
    let mut h = Harness::new();
    let acts = h.isup(12, iam("30123456", None));
    let inv = find_request(&acts, Method::Invite).unwrap();
    h.response(peer_response(&inv, 200));
    let acts = h.feed(Event::ReleaseCall {
        circuit: circuit(12),
        cause: 31,
    });
    assert_eq!(
        iwu::msgs::cause_of(&find_isup(&acts, MessageType::REL).unwrap().1)
            .unwrap()
            .0,
        31
    );
    assert_eq!(
        find_request(&acts, Method::Bye)
            .unwrap()
            .headers
            .q850_cause(),
        Some(31)
    );
    h.isup(12, isup::Message::new(MessageType::RLC));
    assert_eq!(h.engine.active_calls(), 0);
}

#[test]
fn deterministic_ids_for_a_seed() {
    let a = pstn_basic().ladder_text();
    let b = pstn_basic().ladder_text();
    assert_eq!(a, b);
    let mut h1 = Harness::new();
    let mut h2 = Harness::new();
    let i1 = find_request(&h1.isup(1, iam("301", None)), Method::Invite).unwrap();
    let i2 = find_request(&h2.isup(1, iam("301", None)), Method::Invite).unwrap();
    assert_eq!(i1.to_bytes(), i2.to_bytes());
}

// ---------- the scenarios as tests and as documentation ----------

type Scenario = (&'static str, &'static str, fn() -> Harness);

fn scenarios() -> Vec<Scenario> {
    vec![
        (
            "PSTN origination: answered call, released from the PSTN",
            "pstn_basic",
            pstn_basic,
        ),
        (
            "PSTN origination: 183 early media with 100rel, then answer",
            "pstn_early_media",
            pstn_early_media,
        ),
        (
            "PSTN origination: user busy (486 → cause 17)",
            "pstn_busy",
            || pstn_reject(486, 17),
        ),
        (
            "PSTN origination: unallocated number (404 → cause 1)",
            "pstn_unallocated",
            || pstn_reject(404, 1),
        ),
        (
            "PSTN origination: caller abandons before answer (REL → CANCEL)",
            "pstn_abandon",
            pstn_abandon,
        ),
        (
            "PSTN origination: BYE from SIP after answer",
            "pstn_bye",
            pstn_bye,
        ),
        (
            "PSTN origination: SIP timer B (→ cause 102)",
            "pstn_timer_b",
            pstn_timer_b,
        ),
        (
            "PSTN origination: T11 sends ACM before the SIP side progresses",
            "pstn_t11",
            pstn_t11,
        ),
        (
            "PSTN origination: continuity check on a previous circuit (COT before INVITE)",
            "pstn_cot",
            pstn_cot,
        ),
        (
            "PSTN origination: overlap receiving, SAM digits collected before one INVITE",
            "pstn_overlap",
            pstn_overlap,
        ),
        (
            "IP origination: answered call, BYE from SIP",
            "ip_basic",
            ip_basic,
        ),
        (
            "IP origination: user busy (cause 17 → 486)",
            "ip_busy",
            || ip_reject(17, 486),
        ),
        (
            "IP origination: unallocated number (cause 1 → 404)",
            "ip_unallocated",
            || ip_reject(1, 404),
        ),
        (
            "IP origination: no answer, T9 (cause 19 → 480)",
            "ip_no_answer",
            ip_no_answer,
        ),
        (
            "IP origination: no ACM, T7 (cause 102 → 504)",
            "ip_t7",
            ip_t7,
        ),
        (
            "IP origination: CANCEL before answer",
            "ip_cancel",
            ip_cancel,
        ),
        (
            "IP origination: REL after answer → BYE",
            "ip_rel_after_answer",
            ip_rel_after_answer,
        ),
        (
            "IP origination: no circuit (cause 34 → 503)",
            "ip_no_circuit",
            ip_no_circuit,
        ),
        (
            "IP origination: no common codec (488)",
            "ip_no_codec",
            ip_no_codec,
        ),
        (
            "IP origination: required ISUP body with an unsupported version (415)",
            "ip_415",
            ip_415,
        ),
        (
            "SIP bridging: encapsulated IAM passed on, headers win",
            "ip_bridging",
            ip_bridging,
        ),
        (
            "IP origination: 100rel, reliable 18x wait for PRACK",
            "ip_100rel",
            ip_100rel,
        ),
        (
            "Mid-call: SUS/RES in INFO (SIP-I)",
            "ip_mid_call_info",
            ip_mid_call_info,
        ),
        (
            "Release without RLC: T1 re-sends REL, T5 resets the circuit",
            "ip_release_timers",
            ip_release_timers,
        ),
        (
            "Dual seizure: the outgoing call re-attempts on another circuit",
            "ip_reattempt",
            ip_reattempt,
        ),
        (
            "Maintenance reset of a circuit with an answered call",
            "ip_circuit_reset",
            ip_circuit_reset,
        ),
    ]
}

macro_rules! ladder_tests {
    ($($test:ident => $f:expr,)*) => {
        $( #[test] fn $test() { let h = ($f)(); assert!(!h.ladder.is_empty()); } )*
    };
}

ladder_tests! {
    ladder_pstn_basic => pstn_basic,
    ladder_pstn_early_media => pstn_early_media,
    ladder_pstn_busy => || pstn_reject(486, 17),
    ladder_pstn_unallocated => || pstn_reject(404, 1),
    ladder_pstn_decline => || pstn_reject(603, 21),
    ladder_pstn_timeout_408 => || pstn_reject(480, 18),
    ladder_pstn_abandon => pstn_abandon,
    ladder_pstn_bye => pstn_bye,
    ladder_pstn_timer_b => pstn_timer_b,
    ladder_pstn_t11 => pstn_t11,
    ladder_pstn_cot => pstn_cot,
    ladder_pstn_overlap => pstn_overlap,
    ladder_ip_basic => ip_basic,
    ladder_ip_busy => || ip_reject(17, 486),
    ladder_ip_unallocated => || ip_reject(1, 404),
    ladder_ip_no_answer => ip_no_answer,
    ladder_ip_t7 => ip_t7,
    ladder_ip_cancel => ip_cancel,
    ladder_ip_rel_after_answer => ip_rel_after_answer,
    ladder_ip_no_circuit => ip_no_circuit,
    ladder_ip_no_codec => ip_no_codec,
    ladder_ip_415 => ip_415,
    ladder_ip_bridging => ip_bridging,
    ladder_ip_100rel => ip_100rel,
    ladder_ip_mid_call_info => ip_mid_call_info,
    ladder_ip_release_timers => ip_release_timers,
    ladder_ip_reattempt => ip_reattempt,
    ladder_ip_circuit_reset => ip_circuit_reset,
}

/// M3UA association lost (`SignallingLost`): every call is cleared toward SIP with Q.850
/// cause 38 — BYE for the answered call, a final response for the one in setup — and nothing
/// is sent toward ISUP (no REL, no CircuitIdle: the GRS on recovery frees the circuits).
#[test]
fn signalling_lost_clears_every_call_toward_sip_with_cause_38() {
    let mut h = Harness::new();
    let answered = plain_invite("lost-answered");
    let acts = h.request(answered);
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    h.isup(cic, iwu::msgs::anm());
    let acts = h.request(plain_invite("lost-setup"));
    let (cic2, _) = find_isup(&acts, MessageType::IAM).unwrap();
    h.isup(cic2, iwu::msgs::acm(1, false));
    assert_eq!(h.engine.active_calls(), 2);
    let acts = h.feed(Event::SignallingLost);
    let bye = find_request(&acts, Method::Bye).expect("BYE for the answered call");
    assert_eq!(bye.headers.q850_cause(), Some(38));
    let final_response = acts
        .iter()
        .find_map(|a| match a {
            Action::SendResponse(r) if r.status >= 300 => Some(r),
            _ => None,
        })
        .expect("a final response for the call in setup");
    assert_eq!(final_response.headers.q850_cause(), Some(38));
    assert!(find_isup(&acts, MessageType::REL).is_none());
    assert!(!acts.iter().any(|a| matches!(a, Action::CircuitIdle { .. })));
    assert!(!h.engine.circuit_in_use(cic) && !h.engine.circuit_in_use(cic2));
    assert_eq!(h.engine.active_calls(), 0);
    assert!(h.timers.is_empty(), "no call timer survives");
}

#[test]
fn ip_bye_in_early_dialog_terminates_the_invite() {
    let mut h = Harness::new();
    let inv = plain_invite("early-bye");
    let acts = h.request(inv.clone());
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    let acts = h.isup(cic, iwu::msgs::acm(1, false));
    let r180 = find_response(&acts, 180).unwrap();
    let acts = h.request(in_dialog(&inv, &r180, Method::Bye, 2));
    assert_eq!(responses(&acts), vec![200, 487]);
    assert!(find_isup(&acts, MessageType::REL).is_some());
    h.isup(cic, isup::Message::new(MessageType::RLC));
    assert_eq!(h.engine.active_calls(), 0);
}

#[test]
fn pstn_unverified_number_is_not_asserted_and_generic_number_goes_to_from() {
    let mut h = Harness::new();
    // Screening 0 (user provided, not verified): From only, no PAI (Q.1912.5).
    let mut m = iam("30123456", None);
    m = m.with(iwu::number::calling_party(3, digits("3098765"), 0, 0));
    let inv = find_request(&h.isup(16, m), Method::Invite).unwrap();
    assert_eq!(
        inv.headers.from().unwrap().uri.to_string(),
        "sip:+493098765@192.0.2.10;user=phone"
    );
    assert!(inv.headers.from().unwrap().display.is_none());
    assert!(inv.headers.p_asserted_identity().unwrap().is_empty());
    // Generic number qualifier 6 (additional calling party) → From; CgPN → PAI.
    let mut g = isup::GenericNumber::new(3, 1, digits("301111"));
    g.number_qualifier_indicator = Some(6);
    g.presentation = Some(0);
    g.screening = Some(0);
    g.number_incomplete_indicator = Some(0);
    let m = iam("30123456", Some(("3098765", 0))).with(g);
    let inv = find_request(&h.isup(17, m), Method::Invite).unwrap();
    assert_eq!(
        inv.headers.from().unwrap().uri.to_string(),
        "sip:+49301111@192.0.2.10;user=phone"
    );
    assert_eq!(
        inv.headers.p_asserted_identity().unwrap()[0]
            .uri
            .to_string(),
        "sip:+493098765@192.0.2.10;user=phone"
    );
}

#[test]
fn pstn_cancel_carries_rel_for_sip_i() {
    let mut h = Harness::new();
    let inv = find_request(&h.isup(18, iam("30123456", None)), Method::Invite).unwrap();
    h.response(peer_response(&inv, 183));
    let acts = h.isup(18, rel(31));
    let c = find_request(&acts, Method::Cancel).unwrap();
    let b = SipBody::parse(&c.headers, &c.body).unwrap();
    assert_eq!(
        isup::Message::parse(b.isup().unwrap().data).unwrap(),
        rel(31)
    );
    assert_eq!(c.headers.q850_cause(), Some(31));
}

#[test]
fn ip_trusted_pai_with_different_from_adds_generic_number() {
    let mut h = Harness::new();
    let mut inv = sipi_invite("gn");
    inv.headers.push(
        Hdr::PAssertedIdentity,
        "<sip:+493055555@192.0.2.20;user=phone>",
    );
    let acts = h.request(inv);
    let (_, iam) = find_isup(&acts, MessageType::IAM).unwrap();
    assert_eq!(
        iam.get::<isup::CallingPartyNumber>()
            .unwrap()
            .digits
            .to_string(),
        "3055555"
    );
    let g = iam.get::<isup::GenericNumber>().unwrap();
    assert_eq!(
        (g.number_qualifier_indicator, g.digits.to_string()),
        (Some(6), "3098765".to_string())
    );
    assert!(iam.to_bytes().is_ok());
}

#[test]
fn diversion_both_ways_and_inr_answered_locally() {
    let mut h = Harness::new();
    // SIP → ISUP: Diversion → redirecting number, original called number, redirection info.
    let mut inv = plain_invite("div");
    inv.headers.push(
        sip::HeaderName::from_name("Diversion"),
        "<tel:+493011>;reason=no-answer;counter=1, <tel:+493022>;reason=user-busy;counter=1",
    );
    let acts = h.request(inv);
    let (cic, out) = find_isup(&acts, MessageType::IAM).unwrap();
    assert_eq!(
        out.get::<isup::RedirectingNumber>()
            .unwrap()
            .digits
            .to_string(),
        "3011"
    );
    assert_eq!(
        out.get::<isup::OriginalCalledNumber>()
            .unwrap()
            .digits
            .to_string(),
        "3022"
    );
    let ri = out.get::<isup::RedirectionInformation>().unwrap();
    assert_eq!(
        (
            ri.redirecting_reason,
            ri.original_redirection_reason,
            ri.redirection_counter
        ),
        (2, 1, 2)
    );
    assert!(out.to_bytes().is_ok());
    // INR from the PSTN toward a plain SIP peer: answered with INF from our IAM.
    let inr = isup::Message::new(MessageType::INR).with(isup::InformationRequestIndicators {
        calling_party_address_request_indicator: 1,
        calling_partys_category_request_indicator: 1,
        ..Default::default()
    });
    let acts = h.isup(cic, inr);
    let (_, inf) = find_isup(&acts, MessageType::INF).unwrap();
    let ind = inf.get::<isup::InformationIndicators>().unwrap();
    assert_eq!(ind.calling_party_address_response_indicator, 3);
    assert_eq!(
        inf.get::<isup::CallingPartyNumber>()
            .unwrap()
            .digits
            .to_string(),
        "3098765"
    );
    assert!(inf.to_bytes().is_ok());
    // ISUP → SIP: redirecting number → Diversion.
    let mut rn = isup::RedirectingNumber::new(3, 1, digits("3033"));
    rn.presentation = Some(0);
    let m = iam("30123456", None)
        .with(rn)
        .with(isup::RedirectionInformation {
            redirecting_indicator: 3,
            original_redirection_reason: 0,
            redirection_counter: 1,
            redirecting_reason: 3,
        });
    let inv = find_request(&h.isup(19, m), Method::Invite).unwrap();
    let d: Vec<&str> = inv.headers.get_named("Diversion").collect();
    assert_eq!(
        d,
        vec!["<sip:+493033@192.0.2.10;user=phone>;reason=unconditional;counter=1;privacy=off"]
    );
}

#[test]
fn peer_lookup_by_source_address() {
    let h = Harness::new();
    assert_eq!(h.engine.peer_by_address("192.0.2.30", 5060), Some("plain"));
    assert_eq!(h.engine.peer_by_address("192.0.2.30", 5080), Some("plain"));
    assert_eq!(h.engine.peer_by_address("203.0.113.1", 5060), None);
}

#[test]
fn ip_no_ack_for_200_clears_the_call() {
    let mut h = Harness::new();
    let inv = plain_invite("no-ack");
    let acts = h.request(inv.clone());
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    h.isup(cic, iwu::msgs::anm());
    let acts = h.feed(Event::SipTimeout {
        call_id: "no-ack".into(),
        method: Method::Ack,
    });
    assert_eq!(
        find_request(&acts, Method::Bye)
            .unwrap()
            .headers
            .q850_cause(),
        Some(102)
    );
    assert_eq!(
        iwu::msgs::cause_of(&find_isup(&acts, MessageType::REL).unwrap().1)
            .unwrap()
            .0,
        102
    );
}

#[test]
fn ip_rejections_get_call_records() {
    let mut h = Harness::new();
    h.request(plain_invite("a"));
    h.request(plain_invite("b"));
    h.request(plain_invite("c"));
    let r = h.records.last().unwrap();
    assert_eq!(
        (r.outcome, r.cause, r.sip_status),
        (Outcome::Failed, 34, Some(503))
    );
}

#[test]
fn ip_trusted_peer_pai_and_privacy_become_the_calling_number() {
    let mut h = Harness::new();
    let mut inv = sipi_invite("pai");
    inv.headers.set(
        Hdr::From,
        "\"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=x",
    );
    inv.headers.push(
        Hdr::PAssertedIdentity,
        "<sip:+493055555@192.0.2.20;user=phone>",
    );
    inv.headers.push(Hdr::Privacy, "id");
    let acts = h.request(inv);
    let (_, iam) = find_isup(&acts, MessageType::IAM).unwrap();
    let cg = iam.get::<isup::CallingPartyNumber>().unwrap();
    assert_eq!(cg.digits.to_string(), "3055555");
    assert_eq!(
        (cg.nature_of_address, cg.presentation, cg.screening),
        (3, Some(1), Some(3))
    );
    // The same PAI from an untrusted peer is ignored: anonymous From → "not available".
    let mut inv = plain_invite("pai-untrusted");
    inv.headers
        .set(Hdr::From, "<sip:anonymous@anonymous.invalid>;tag=x");
    inv.headers.push(
        Hdr::PAssertedIdentity,
        "<sip:+493055555@192.0.2.30;user=phone>",
    );
    let acts = h.request(inv);
    let (_, iam) = find_isup(&acts, MessageType::IAM).unwrap();
    let cg = iam.get::<isup::CallingPartyNumber>().unwrap();
    assert_eq!(cg.presentation, Some(2));
    assert!(cg.digits.is_empty());
}

fn render_doc() -> String {
    let mut s = String::new();
    s.push_str(
        "# Call flows of the interworking unit (`crates/iwu`)\n\n\
         Generated by `cargo test -p iwu --test ladders call_flows_doc` with `UPDATE_CALL_FLOWS=1`\n\
         from the scenarios in `crates/iwu/tests/ladders.rs` (each one asserts the messages shown)\n\
         and from the cause tables in `crates/iwu/src/cause.rs`. Do not edit by hand: the test\n\
         fails when this file and the code disagree.\n\n\
         Columns: the PSTN (ISUP on a CIC), the gateway (MGC), the SIP peer. `[SDP+IAM]` is a\n\
         multipart body (RFC 3204); `(Reason N)` is `Reason: Q.850;cause=N`; `rel` marks a reliable\n\
         provisional response (RFC 3262). 100 Trying is sent by the transaction layer and not shown.\n\
         Test peers: `sipi` (SIP-I, trusted), `plain` (SIP, untrusted, tel URIs), `q` (SIP, q1912 causes).\n\n",
    );
    s.push_str("## Cause mapping tables\n\n");
    s.push_str(&iwu::cause::render_tables());
    s.push_str("\n## Ladders\n");
    for (title, name, f) in scenarios() {
        let h = f();
        s.push_str(&format!(
            "\n### {title}\n\n`{name}`\n\n```text\n{}```\n",
            h.ladder_text()
        ));
    }
    s
}

#[test]
fn call_flows_doc() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/call-flows.md");
    let doc = render_doc();
    if std::env::var_os("UPDATE_CALL_FLOWS").is_some() {
        std::fs::write(&path, &doc).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/call-flows.md is out of date: run UPDATE_CALL_FLOWS=1 cargo test -p iwu --test ladders call_flows_doc"
    );
}

/// Call records say which side's input ended the call and whether the call was SIP bridging
/// (an INVITE with an encapsulated IAM, RFC 3372 §3); `Engine::calls` lists calls in progress.
#[test]
fn call_records_carry_release_side_and_bridging() {
    use iwu::ReleaseSide::{Gateway, Isup, Sip};
    let cases: Vec<(&str, Harness, iwu::ReleaseSide, bool)> = vec![
        ("pstn_basic (REL from the PSTN)", pstn_basic(), Isup, false),
        (
            "pstn_reject (486 from SIP)",
            pstn_reject(486, 17),
            Sip,
            false,
        ),
        (
            "pstn_abandon (REL before answer)",
            pstn_abandon(),
            Isup,
            false,
        ),
        ("pstn_bye (BYE from SIP)", pstn_bye(), Sip, false),
        ("pstn_timer_b (SIP timeout)", pstn_timer_b(), Gateway, false),
        ("ip_basic (BYE from SIP)", ip_basic(), Sip, false),
        (
            "ip_reject (REL from the PSTN)",
            ip_reject(17, 486),
            Isup,
            false,
        ),
        ("ip_no_answer (T9)", ip_no_answer(), Gateway, false),
        ("ip_t7 (T7)", ip_t7(), Gateway, false),
        ("ip_bridging (REL 17)", ip_bridging(), Isup, true),
    ];
    for (name, h, side, bridged) in cases {
        let r = h
            .records
            .first()
            .unwrap_or_else(|| panic!("{name}: no record"));
        assert_eq!(r.released_by, side, "{name}");
        assert_eq!(r.bridged, bridged, "{name}");
    }
    // While a bridged call is up, the engine reports it by CIC and Call-ID.
    let mut h = Harness::new();
    let iam = iam("3011111", Some(("3098765", 0)));
    let acts = h.request(with_isup(
        sipi_invite("bridge-live"),
        &iam.to_bytes().unwrap(),
        "itu-t92+",
        "optional",
    ));
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    let s = h.engine.call_by_circuit(cic).expect("call by CIC");
    assert_eq!(s, h.engine.call_by_call_id("bridge-live").unwrap());
    assert_eq!(
        (s.model, s.bridged, s.circuit),
        (iwu::CallModel::IpOrigination, true, Some(cic))
    );
    assert_eq!(h.engine.calls().count(), 1);
}

// ---------- circuits toward two exchanges ----------

/// tg1 (DPC 2) and tg3 (DPC 3) both have CICs 1-31 (Q.763 §1.2: a CIC is unique only within
/// its signalling relation). INVITEs from peer "sipi3" go to tg3, IAMs on tg3 to "sipi3".
fn two_exchanges() -> Harness {
    let cfg = format!(
        "{CONFIG}
[[trunk_groups]]
name = \"tg3\"
dpc = 3
cics = [[1, 31]]
sip_peer = \"sipi3\"
country_code = \"49\"
media = {{ address = \"192.0.2.51\", rtp_port_min = 40000, rtp_port_max = 40100 }}

[[peers]]
name = \"sipi3\"
host = \"192.0.2.21\"
trunk_group = \"tg3\"
profile = \"sip-i\"
trusted = true
"
    );
    let mut h = Harness::with_config(toml::from_str(&cfg).expect("two-exchange config"));
    h.pool
        .add("tg3", (1..=31).map(|cic| iwu::CircuitId { dpc: 3, cic }));
    h
}

/// Calls in both directions on the same CIC number toward two exchanges at once: every
/// message of each call stays on its own circuit, and the release of one leaves the other.
#[test]
fn same_cic_toward_two_exchanges() {
    let mut h = two_exchanges();
    let (a2, a3) = (circuit(5), iwu::CircuitId { dpc: 3, cic: 5 });
    // PSTN origination on 2/5 and on 3/5: two calls, to the peer of each group.
    let acts = h.isup(a2, iam("30123456", Some(("3098765", 0))));
    let inv2 = find_request(&acts, Method::Invite).expect("INVITE from 2/5");
    assert_eq!(
        inv2.uri.to_string(),
        "sip:+4930123456@192.0.2.20;user=phone"
    );
    let acts = h.isup(a3, iam("30654321", Some(("3098765", 0))));
    let inv3 = find_request(&acts, Method::Invite).expect("INVITE from 3/5");
    assert_eq!(
        inv3.uri.to_string(),
        "sip:+4930654321@192.0.2.21;user=phone"
    );
    // The SDP origins differ although both media addresses serve CIC 5 (RFC 4566 §5.2).
    let origin = |r: &sip::Request| {
        let b = SipBody::parse(&r.headers, &r.body).unwrap();
        let sdp = std::str::from_utf8(b.sdp().unwrap()).unwrap().to_string();
        sdp.lines()
            .find(|l| l.starts_with("o="))
            .unwrap()
            .to_string()
    };
    assert_ne!(origin(&inv2), origin(&inv3));
    // IP origination toward each exchange: both get CIC 1 of their group.
    let acts = h.request(sipi_invite("to-dpc2"));
    let (b2, _) = find_isup(&acts, MessageType::IAM).expect("IAM toward DPC 2");
    let mut to3 = sipi_invite("to-dpc3");
    to3.headers.set(
        Hdr::Via,
        "SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bK-to-dpc3",
    );
    let acts = h.request(to3);
    let (b3, _) = find_isup(&acts, MessageType::IAM).expect("IAM toward DPC 3");
    assert_eq!((b2, b3), (circuit(1), iwu::CircuitId { dpc: 3, cic: 1 }));
    assert_eq!(h.engine.active_calls(), 4);
    for (c, call_id) in [(b2, "to-dpc2"), (b3, "to-dpc3")] {
        assert_eq!(h.engine.call_by_circuit(c).unwrap().call_id, call_id, "{c}");
    }

    // Backward messages reach the call of their circuit only.
    let acts = h.isup(b3, iwu::msgs::acm(1, false));
    let ringing = find_response(&acts, 180).expect("180 for the call toward DPC 3");
    assert_eq!(ringing.headers.call_id().unwrap(), "to-dpc3");
    let acts = h.isup(b2, iwu::msgs::anm());
    let ok = find_response(&acts, 200).expect("200 for the call toward DPC 2");
    assert_eq!(ok.headers.call_id().unwrap(), "to-dpc2");
    let acts = h.response(peer_response(&inv3, 180));
    assert_eq!(find_isup(&acts, MessageType::ACM).unwrap().0, a3);
    let mut answer = peer_response(&inv2, 200);
    answer.set_body(Some("application/sdp"), ANSWER.to_vec());
    let acts = h.response(answer);
    // Answered without alerting: CON (Q.764 §2.1.4.3).
    assert_eq!(find_isup(&acts, MessageType::CON).unwrap().0, a2);

    // Exchange 2 releases 2/5 and 2/1: exchange 3's calls on CICs 5 and 1 go on.
    for (c, inv) in [(a2, Some(&inv2)), (b2, None)] {
        let acts = h.isup(c, rel(16));
        assert_eq!(find_isup(&acts, MessageType::RLC).unwrap().0, c);
        assert!(acts.contains(&Action::CircuitIdle { circuit: c }));
        let bye = find_request(&acts, Method::Bye).expect("BYE");
        if let Some(inv) = inv {
            assert_eq!(
                bye.headers.call_id().unwrap(),
                inv.headers.call_id().unwrap()
            );
        } else {
            assert_eq!(bye.headers.call_id().unwrap(), "to-dpc2");
        }
    }
    assert_eq!(h.engine.active_calls(), 2);
    assert!(!h.engine.circuit_in_use(a2) && !h.engine.circuit_in_use(b2));
    assert!(h.engine.circuit_in_use(a3) && h.engine.circuit_in_use(b3));
    let records: Vec<_> = h.records.iter().map(|r| r.circuit).collect();
    assert_eq!(records, vec![Some(a2), Some(b2)]);
    // And exchange 3 releases its own: the call still ringing on 3/5 is cancelled.
    for c in [a3, b3] {
        let acts = h.isup(c, rel(16));
        assert_eq!(find_isup(&acts, MessageType::RLC).unwrap().0, c);
        assert!(acts.contains(&Action::CircuitIdle { circuit: c }));
    }
    h.response(peer_response(&inv3, 487));
    assert_eq!(h.engine.active_calls(), 0);
    assert_eq!(h.records.len(), 4);
}

// ---------- Mid-call information in INFO (SIP-I) ----------

/// The mid-call messages other than SUS/RES that Q.1912.5 §6.7 / RFC 3372 §5.3 carry in INFO
/// toward an encapsulating peer: INR, INF, FAC, USR.
fn mid_call_messages() -> Vec<isup::Message> {
    vec![
        isup::Message::new(MessageType::INR).with(isup::InformationRequestIndicators {
            calling_party_address_request_indicator: 1,
            calling_partys_category_request_indicator: 1,
            ..Default::default()
        }),
        isup::Message::new(MessageType::INF).with(isup::InformationIndicators {
            calling_party_address_response_indicator: 1,
            ..Default::default()
        }),
        isup::Message::new(MessageType::FAC),
        isup::Message::new(MessageType::USR).with(isup::UserToUserInformation {
            data: vec![0x04, 0x31, 0x32].into(),
        }),
    ]
}

/// The ISUP part of a SIP request.
fn isup_of(req: &sip::Request) -> isup::Message {
    let b = SipBody::parse(&req.headers, &req.body).expect("body");
    isup::Message::parse(b.isup().expect("an ISUP part").data).expect("ISUP")
}

/// IP origination, answered, SIP-I peer: each message from the PSTN goes out in an INFO with
/// the message as its ISUP body (INR too: the encapsulating peer answers it, Q.764 §2.1.6 is
/// the gateway's only toward plain SIP); each INFO with an ISUP body from the peer gets 200 and
/// its message is sent on the circuit as received.
#[test]
fn ip_mid_call_inr_inf_fac_usr_in_info() {
    let mut h = Harness::new();
    let inv = sipi_invite("midcall-info");
    let acts = h.request(inv.clone());
    let (cic, _) = find_isup(&acts, MessageType::IAM).unwrap();
    let acts = h.isup(cic, iwu::msgs::anm());
    let ok = find_response(&acts, 200).unwrap();
    for (i, m) in mid_call_messages().into_iter().enumerate() {
        let acts = h.isup(cic, m.clone());
        let info =
            find_request(&acts, Method::Info).unwrap_or_else(|| panic!("{}: INFO", m.message_type));
        assert_eq!(isup_of(&info), m);
        assert!(
            find_isup(&acts, MessageType::INF).is_none(),
            "no INF of our own"
        );
        h.response(peer_response(&info, 200));

        let mut req = in_dialog(&inv, &ok, Method::Info, 2 + i as u32);
        isup_body(
            &mut req.headers,
            &mut req.body,
            &m.to_bytes().unwrap(),
            "itu-t92+",
            "required",
        );
        let acts = h.request(req);
        assert_eq!(responses(&acts), vec![200], "{}", m.message_type);
        assert_eq!(find_isup(&acts, m.message_type), Some((cic, m)));
    }
    assert_eq!(h.engine.active_calls(), 1);
}

/// PSTN origination, answered, toward the SIP-I peer: the same both ways.
#[test]
fn pstn_mid_call_inr_inf_fac_usr_in_info() {
    let mut h = Harness::new();
    let acts = h.isup(3, iam("30123456", Some(("3098765", 0))));
    let inv = find_request(&acts, Method::Invite).unwrap();
    assert!(
        SipBody::parse(&inv.headers, &inv.body)
            .unwrap()
            .isup()
            .is_some(),
        "SIP-I peer"
    );
    h.response(peer_response(&inv, 200));
    for (i, m) in mid_call_messages().into_iter().enumerate() {
        let acts = h.isup(3, m.clone());
        let info =
            find_request(&acts, Method::Info).unwrap_or_else(|| panic!("{}: INFO", m.message_type));
        assert_eq!(isup_of(&info), m);
        h.response(peer_response(&info, 200));

        let mut req = in_dialog_uac(&inv, Method::Info, 1 + i as u32);
        isup_body(
            &mut req.headers,
            &mut req.body,
            &m.to_bytes().unwrap(),
            "itu-t92+",
            "required",
        );
        let acts = h.request(req);
        assert_eq!(responses(&acts), vec![200], "{}", m.message_type);
        assert_eq!(find_isup(&acts, m.message_type), Some((circuit(3), m)));
    }
    assert_eq!(h.engine.active_calls(), 1);
}
