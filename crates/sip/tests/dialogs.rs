//! Dialogs and UA core (RFC 3261 §12-13, §9; RFC 3262).

use sip::dialog::{
    Dialog, DialogError, DialogId, DialogState, LocalEndpoint, ReliableProvisional, Retransmit2xx,
    UaAction, UacInvite, cancel_for, new_invite, requires_100rel,
};
use sip::header::{Hdr, NameAddr};
use sip::transaction::TimerConfig;
use sip::{Host, Message, Method, Response, Uri};
use std::time::Duration;

fn local() -> LocalEndpoint {
    LocalEndpoint {
        transport: "UDP".into(),
        host: Host::parse("127.0.0.1").unwrap(),
        port: 5060,
    }
}

fn invite() -> sip::Request {
    let from = NameAddr::new(Uri::parse("sip:alice@127.0.0.1").unwrap()).with_display("Alice");
    let to = NameAddr::new(Uri::parse("sip:bob@127.0.0.1").unwrap());
    new_invite(
        from,
        to,
        Uri::parse("sip:bob@127.0.0.1:5070").unwrap(),
        &local(),
        1,
    )
}

fn answer(inv: &sip::Request, status: u16, tag: &str, contact: &str) -> Response {
    let mut r = Response::for_request(inv, status, Some(tag));
    r.headers.push(Hdr::Contact, contact);
    r
}

#[test]
fn invite_builder_is_well_formed() {
    let inv = invite();
    let m = Message::parse(&inv.to_bytes()).unwrap();
    m.check_mandatory().unwrap();
    let h = m.headers();
    assert!(h.top_via().unwrap().has_magic_cookie());
    assert_eq!(h.top_via().unwrap().rport(), Some(None));
    assert!(h.from().unwrap().tag().is_some());
    assert!(h.to().unwrap().tag().is_none());
    assert_eq!(h.cseq().unwrap().method, Method::Invite);
}

#[test]
fn uac_dialog_route_set_and_in_dialog_requests() {
    let inv = invite();
    let mut ok = answer(&inv, 200, "bobtag", "<sip:bob@192.0.2.9:5080>");
    ok.headers.push(
        Hdr::RecordRoute,
        "<sip:p2.example.com;lr>, <sip:p1.example.com;lr>",
    );
    let mut d = Dialog::uac(&inv, &ok, local().contact(None)).unwrap();
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(d.id, DialogId::for_incoming_response(&ok).unwrap());
    // §12.1.2: route set is Record-Route reversed
    let routes: Vec<String> = d.route_set.iter().map(|r| r.uri.to_string()).collect();
    assert_eq!(
        routes,
        vec!["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    );
    assert_eq!(d.remote_target.to_string(), "sip:bob@192.0.2.9:5080");

    let ack = d.ack(1, &local());
    assert_eq!(ack.headers.cseq().unwrap().to_string(), "1 ACK");
    assert_ne!(
        ack.headers.top_via().unwrap().branch(),
        inv.headers.top_via().unwrap().branch()
    );
    assert_eq!(ack.uri.to_string(), "sip:bob@192.0.2.9:5080");

    let bye = d.new_request(Method::Bye, &local());
    assert_eq!(bye.headers.cseq().unwrap().to_string(), "2 BYE");
    assert_eq!(bye.headers.route().unwrap().len(), 2);
    assert_eq!(bye.headers.to().unwrap().tag(), Some("bobtag"));
    assert_eq!(
        bye.headers.from().unwrap().tag(),
        inv.headers.from().unwrap().tag()
    );
    assert_eq!(
        bye.headers.call_id().unwrap(),
        inv.headers.call_id().unwrap()
    );
    assert_eq!(d.state, DialogState::Terminated);
    let info = d.new_request(Method::Info, &local());
    assert_eq!(info.headers.cseq().unwrap().seq, 3);
}

#[test]
fn strict_route_puts_first_route_in_request_uri() {
    let inv = invite();
    let mut ok = answer(&inv, 200, "t", "<sip:bob@192.0.2.9>");
    ok.headers
        .push(Hdr::RecordRoute, "<sip:strict.example.com>");
    let mut d = Dialog::uac(&inv, &ok, local().contact(None)).unwrap();
    let r = d.new_request(Method::Update, &local());
    assert_eq!(r.uri.to_string(), "sip:strict.example.com");
    let routes = r.headers.route().unwrap();
    assert_eq!(routes.last().unwrap().uri.to_string(), "sip:bob@192.0.2.9");
    assert!(r.headers.contains(Hdr::Contact)); // UPDATE is a target refresh
}

#[test]
fn uas_dialog_cseq_order_and_target_refresh() {
    let mut inv = invite();
    inv.headers
        .push(Hdr::RecordRoute, "<sip:p1.example.com;lr>");
    let mut d = Dialog::uas(&inv, "uastag", local().contact(None)).unwrap();
    assert_eq!(d.route_set[0].uri.to_string(), "sip:p1.example.com;lr"); // §12.1.1: same order
    assert_eq!(d.remote_seq, Some(1));
    let mut reinv = inv.clone();
    reinv.headers.set(Hdr::CSeq, "2 INVITE");
    reinv.headers.set(Hdr::Contact, "<sip:alice@198.51.100.7>");
    d.on_request(&reinv).unwrap();
    assert_eq!(d.remote_target.to_string(), "sip:alice@198.51.100.7");
    // §12.2.2: a lower CSeq is rejected (500)
    let mut old = inv.clone();
    old.method = Method::Info;
    old.headers.set(Hdr::CSeq, "2 INFO");
    assert_eq!(
        d.on_request(&old),
        Err(DialogError::CSeqOutOfOrder { got: 2, last: 2 })
    );
    // ACK reuses the INVITE number
    let mut ack = inv.clone();
    ack.method = Method::Ack;
    ack.headers.set(Hdr::CSeq, "2 ACK");
    d.on_request(&ack).unwrap();
    // requests from the UAS side go From=local (the To of the INVITE)
    let bye = d.new_request(Method::Bye, &local());
    assert_eq!(bye.headers.from().unwrap().tag(), Some("uastag"));
    assert_eq!(
        bye.headers.to().unwrap().tag(),
        inv.headers.from().unwrap().tag()
    );
    assert_eq!(bye.uri.to_string(), "sip:alice@198.51.100.7");
}

#[test]
fn forked_responses_kept_apart() {
    let inv = invite();
    let mut uac = UacInvite::new(inv.clone(), local().contact(None));
    assert!(
        uac.on_response(&Response::for_request(&inv, 100, None))
            .is_none()
    );
    let r1 = answer(&inv, 180, "fork1", "<sip:b1@192.0.2.1>");
    let r2 = answer(&inv, 183, "fork2", "<sip:b2@192.0.2.2>");
    assert_eq!(uac.on_response(&r1).unwrap().state, DialogState::Early);
    assert_eq!(uac.on_response(&r2).unwrap().state, DialogState::Early);
    let ok2 = answer(&inv, 200, "fork2", "<sip:b2@192.0.2.22>");
    let d2 = uac.on_response(&ok2).unwrap();
    assert_eq!(d2.state, DialogState::Confirmed);
    assert_eq!(d2.remote_target.to_string(), "sip:b2@192.0.2.22");
    let ok1 = answer(&inv, 200, "fork1", "<sip:b1@192.0.2.1>");
    uac.on_response(&ok1).unwrap();
    assert_eq!(uac.dialogs.len(), 2);
    assert_ne!(uac.dialogs["fork1"].id, uac.dialogs["fork2"].id);
    // each 2xx is ACKed in its own dialog
    let a1 = uac.dialogs["fork1"].ack(uac.invite_seq(), &local());
    let a2 = uac.dialogs["fork2"].ack(uac.invite_seq(), &local());
    assert_eq!(a1.uri.to_string(), "sip:b1@192.0.2.1");
    assert_eq!(a2.uri.to_string(), "sip:b2@192.0.2.22");
}

#[test]
fn cancel_of_pending_invite() {
    let mut inv = invite();
    inv.headers.push(Hdr::Route, "<sip:p.example.com;lr>");
    let c = cancel_for(&inv);
    assert_eq!(c.method, Method::Cancel);
    assert_eq!(c.uri, inv.uri);
    assert_eq!(c.headers.cseq().unwrap().to_string(), "1 CANCEL");
    assert_eq!(c.headers.get(Hdr::Via), inv.headers.get(Hdr::Via));
    assert_eq!(c.headers.get(Hdr::To), inv.headers.get(Hdr::To));
    assert_eq!(c.headers.route().unwrap().len(), 1);
    // it reaches the INVITE's server transaction
    let layer = {
        let mut l = sip::transaction::TransactionLayer::<u8>::new(TimerConfig::default());
        l.on_request(inv.clone(), 0, false);
        l
    };
    assert!(layer.cancel_target(&c).is_some());
}

#[test]
fn retransmit_2xx_until_ack() {
    let cfg = TimerConfig::default();
    let inv = invite();
    let ok = answer(&inv, 200, "t", "<sip:bob@127.0.0.1>");
    let (mut r, a) = Retransmit2xx::start(ok.clone(), cfg, false);
    assert_eq!(
        a,
        vec![
            UaAction::Send(ok.clone()),
            UaAction::StartTimer(Duration::from_millis(500))
        ]
    );
    let mut intervals = vec![];
    for _ in 0..4 {
        let a = r.on_timer();
        assert_eq!(a[0], UaAction::Send(ok.clone()));
        let UaAction::StartTimer(d) = a[1] else {
            panic!()
        };
        intervals.push(d.as_millis());
    }
    assert_eq!(intervals, vec![1000, 2000, 4000, 4000]); // doubling, capped at T2
    assert_eq!(r.on_ack(), vec![UaAction::StopTimer]);
    assert!(r.on_timer().is_empty());

    // never ACKed: give up after 64*T1 (then the UAS sends BYE, §13.3.1.4)
    let (mut r, _) = Retransmit2xx::start(ok.clone(), cfg, false);
    let mut sends = 0;
    loop {
        let a = r.on_timer();
        if a == vec![UaAction::GiveUp] {
            break;
        }
        sends += 1;
        assert!(sends < 20);
    }
    // retransmissions at 0.5, 1.5, 3.5, 7.5, 11.5 … 31.5 s; give up at 32 s
    assert_eq!(sends, 10);
}

#[test]
fn reliable_provisionals_rfc3262() {
    let cfg = TimerConfig::default();
    let mut inv = invite();
    inv.headers.push(Hdr::Supported, "100rel");
    let mut rp = ReliableProvisional::new(4321, cfg);
    let ring = answer(&inv, 180, "uas", "<sip:bob@127.0.0.1:5070>");
    let a = rp.send(ring.clone()).unwrap();
    let UaAction::Send(sent) = &a[0] else {
        panic!()
    };
    assert!(requires_100rel(sent));
    assert_eq!(sent.headers.rseq().unwrap(), Some(4321));
    // only one outstanding at a time
    assert!(rp.send(ring.clone()).is_none());
    // retransmissions: T1 doubling
    let a = rp.on_timer();
    assert_eq!(a[1], UaAction::StartTimer(Duration::from_secs(1)));

    // UAC side: PRACK with RAck; retransmission is not acknowledged twice
    let mut d = Dialog::uac(&inv, sent, local().contact(None)).unwrap();
    let prack = d.prack_for(sent, &local()).unwrap().unwrap();
    assert_eq!(prack.method, Method::Prack);
    assert_eq!(
        prack.headers.rack().unwrap().unwrap().to_string(),
        "4321 1 INVITE"
    );
    assert_eq!(prack.headers.cseq().unwrap().seq, 2);
    assert_eq!(d.prack_for(sent, &local()).unwrap(), None);

    // a PRACK with the wrong RSeq does not stop retransmission
    let mut bad = prack.clone();
    bad.headers.set(Hdr::RAck, "4320 1 INVITE");
    assert!(!rp.on_prack(&bad).0);
    assert_eq!(rp.on_prack(&prack), (true, vec![UaAction::StopTimer]));
    assert!(rp.can_send());
    // next reliable provisional: RSeq + 1, accepted in order by the UAC
    let a = rp
        .send(answer(&inv, 183, "uas", "<sip:bob@127.0.0.1:5070>"))
        .unwrap();
    let UaAction::Send(next) = &a[0] else {
        panic!()
    };
    assert_eq!(next.headers.rseq().unwrap(), Some(4322));
    assert!(d.prack_for(next, &local()).unwrap().is_some());
    // out of order (gap) is discarded
    let mut gap = next.clone();
    gap.headers.set(Hdr::RSeq, "4330");
    assert_eq!(d.prack_for(&gap, &local()).unwrap(), None);

    // never PRACKed: give up after 64*T1 (the INVITE is then rejected with 5xx)
    let mut rp = ReliableProvisional::new(1, cfg);
    rp.send(ring).unwrap();
    let mut n = 0;
    while rp.on_timer() != vec![UaAction::GiveUp] {
        n += 1;
        assert!(n < 10);
    }
    assert_eq!(n, 6); // at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; give up at 32 s
}

/// A dialog lives as long as its call: the parameter lists it keeps (the tag removed from
/// From/To, `user=phone`, `lr` of each route) hold no spare capacity.
#[test]
fn dialogs_keep_no_spare_parameter_capacity() {
    let inv = invite();
    let mut ok = answer(
        &inv,
        200,
        "bobtag",
        "<sip:+4930123456@192.0.2.9:5080;user=phone>",
    );
    ok.headers.push(
        Hdr::RecordRoute,
        "<sip:p2.example.com;lr>, <sip:p1.example.com;lr>",
    );
    let uac = Dialog::uac(&inv, &ok, local().contact(None)).unwrap();
    let uas = Dialog::uas(&ok_as_request(&ok), "ourtag", local().contact(None)).unwrap();
    for d in [uac, uas] {
        let names = [&d.local_uri, &d.remote_uri, &d.local_contact]
            .into_iter()
            .chain(&d.route_set);
        for n in names {
            assert_eq!(n.params.0.capacity(), n.params.0.len(), "{n}");
            if let Uri::Sip(u) = &n.uri {
                assert_eq!(u.params.0.capacity(), u.params.0.len(), "{n}");
            }
        }
        assert_eq!(d.route_set.capacity(), d.route_set.len());
    }
}

/// The 200's headers as an INVITE from the peer (for a UAS dialog with the same fields).
fn ok_as_request(ok: &Response) -> sip::Request {
    let mut r = sip::Request::new(Method::Invite, Uri::parse("sip:bob@127.0.0.1").unwrap());
    r.headers = ok.headers.clone();
    r
}
