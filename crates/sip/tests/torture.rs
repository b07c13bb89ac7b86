//! RFC 4475 torture messages (../shared/corpora/resiprocate-rfc4475) and the
//! real SIP-T BYE from ../shared/corpora/nmusco-sipstack.

use sip::{Message, ParseError, SipBody};
use std::path::PathBuf;

fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if p.is_dir() {
        Some(p)
    } else {
        println!(
            "SKIP: {} not found; corpus tests need the shared/ directory beside the repository",
            p.display()
        );
        None
    }
}

/// The specific error each invalid message must produce.
fn expected_error(file: &str) -> Option<fn(&ParseError) -> bool> {
    use ParseError::*;
    Some(match file {
        "badinv01.dat" => |e| matches!(e, Header { name: "Via", .. }),
        "clerr.dat" => |e| matches!(e, BodyTruncated { declared: 9999, .. }),
        "ncl.dat" => |e| {
            matches!(
                e,
                Header {
                    name: "Content-Length",
                    ..
                }
            )
        },
        "scalar02.dat" | "scalarlg.dat" => |e| matches!(e, Header { name: "CSeq", .. }),
        "quotbal.dat" | "badaspec.dat" => |e| matches!(e, Header { name: "To", .. }),
        "ltgtruri.dat" | "escruri.dat" => |e| matches!(e, RequestUri(_)),
        "lwsruri.dat" | "lwsstart.dat" | "trws.dat" => |e| matches!(e, StartLine(_)),
        "baddate.dat" => |e| matches!(e, Header { name: "Date", .. }),
        "regbadct.dat" => |e| {
            matches!(
                e,
                Header {
                    name: "Contact",
                    ..
                }
            )
        },
        "baddn.dat" => |e| matches!(e, Header { name: "From", .. }),
        "badvers.dat" => |e| matches!(e, Version),
        "mismatch01.dat" | "mismatch02.dat" => |e| matches!(e, CSeqMismatch),
        "bigcode.dat" => |e| matches!(e, StatusCode),
        "multi01.dat" => |e| matches!(e, Duplicate("CSeq")),
        "mcl01.dat" => |e| matches!(e, Duplicate("Content-Length")),
        _ => return None,
    })
}

#[test]
fn rfc4475_verdicts() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("corpora/resiprocate-rfc4475");
    let index = std::fs::read_to_string(dir.join("INDEX.tsv")).expect("INDEX.tsv");
    let (mut valid, mut invalid) = (0, 0);
    for line in index
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, verdict) = (cols[0], cols[3]);
        let raw = std::fs::read(dir.join(file)).expect(file);
        let res = Message::parse(&raw);
        let must_fail = verdict.starts_with("invalid");
        if must_fail {
            let err = res
                .err()
                .unwrap_or_else(|| panic!("{file}: parsed but RFC 4475 says {verdict}"));
            let check =
                expected_error(file).unwrap_or_else(|| panic!("{file}: no expected error listed"));
            assert!(check(&err), "{file}: wrong error {err:?}");
            assert!(err.status() >= 400);
            println!("{file}: rejected ({}): {err}", err.status());
            invalid += 1;
            continue;
        }
        let m = res.unwrap_or_else(|e| panic!("{file}: {verdict} but failed: {e}"));
        // re-serialize, re-parse: an equivalent message
        let again = Message::parse(&m.to_bytes())
            .unwrap_or_else(|e| panic!("{file}: re-parse failed: {e}"));
        // serialization always writes an exact Content-Length (added if absent)
        let strip = |m: &Message| {
            let mut m = m.clone();
            m.headers_mut().remove(sip::Hdr::ContentLength);
            m
        };
        assert_eq!(strip(&again), strip(&m), "{file}: round trip differs");
        assert_eq!(
            again.headers().content_length().unwrap(),
            Some(m.body().len())
        );
        if file == "insuf.dat" {
            assert!(
                m.check_mandatory().is_err(),
                "insuf.dat lacks From/To/Call-ID/Max-Forwards"
            );
        } else {
            m.check_mandatory()
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        valid += 1;
    }
    assert_eq!((valid, invalid), (28, 21));
}

#[test]
fn rfc4475_details() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("corpora/resiprocate-rfc4475");
    let read = |f: &str| Message::parse(&std::fs::read(dir.join(f)).unwrap()).unwrap();

    let m = read("wsinv.dat");
    let h = m.headers();
    assert_eq!(h.via().unwrap().len(), 3);
    assert_eq!(h.cseq().unwrap().seq, 9);
    assert_eq!(h.max_forwards().unwrap(), Some(68));
    assert_eq!(h.to().unwrap().tag(), Some("1918181833n"));
    assert_eq!(h.from().unwrap().tag(), Some("98asjd8"));
    assert_eq!(
        h.get_named("NewFangledHeader").next(),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(
        h.get_named("UnknownHeaderWithUnusualValue").next(),
        Some(";;,,;;,;")
    );
    let c = h.contact().unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(m.body().len(), 150);

    let m = read("dblreq.dat");
    assert_eq!(m.headers().content_length().unwrap(), Some(0));
    assert!(m.body().is_empty());

    let m = read("escnull.dat");
    assert_eq!(m.headers().contact().unwrap().len(), 2);

    let m = read("esc02.dat");
    let Message::Request(r) = &m else { panic!() };
    assert_eq!(r.method.as_str(), "RE%47IST%45R");
    // C%6Fntact is an unknown header, not Contact
    assert_eq!(m.headers().contact().unwrap().len(), 2);

    let m = read("mpart01.dat");
    let body = SipBody::parse(m.headers(), m.body()).unwrap();
    assert_eq!(body.parts.len(), 2);
    assert_eq!(body.parts[0].data, b"Hello");

    let m = read("inv2543.dat");
    assert!(!m.headers().top_via().unwrap().has_magic_cookie());
    assert!(!m.body().is_empty());

    let Message::Response(r) = read("noreason.dat") else {
        panic!()
    };
    assert_eq!((r.status, r.reason.as_str()), (100, ""));
    let Message::Response(r) = read("unreason.dat") else {
        panic!()
    };
    assert!(r.reason.starts_with("= 2**3 * 5**2"));

    let m = read("intmeth.dat");
    let to = m.headers().to().unwrap();
    assert!(to.display_name().unwrap().contains('\0'));

    // semantic checks left to the application layer still parse
    assert!(
        matches!(read("unkscm.dat"), Message::Request(r) if matches!(r.uri, sip::Uri::Other(_)))
    );
    assert_eq!(
        read("zeromf.dat").headers().max_forwards().unwrap(),
        Some(0)
    );
}

#[test]
fn sipt_bye_with_isup_rel() {
    let Some(shared) = shared() else { return };
    let raw = std::fs::read(shared.join("corpora/nmusco-sipstack/bye_rel_sipt.sip")).unwrap();
    let m = Message::parse(&raw).unwrap();
    let Message::Request(r) = &m else { panic!() };
    assert_eq!(r.method, sip::Method::Bye);
    assert!(r.uri.as_sip().unwrap().is_phone());
    assert_eq!(m.headers().q850_cause(), Some(31));
    let b = SipBody::parse(m.headers(), m.body()).unwrap();
    let isup = b.isup().unwrap();
    assert_eq!(isup.data, [0x0c, 0x02, 0x00, 0x02, 0x83, 0x9f]);
    assert_eq!(isup.version.as_deref(), Some("itu-t92+"));
    assert_eq!(isup.base.as_deref(), Some("itu-t92+"));
    assert_eq!(isup.handling, sip::header::Handling::Optional);
    assert_eq!(Message::parse(&m.to_bytes()).unwrap(), m);
}
