//! Outside oracle: tshark must decode the pcap writer's frames as M3UA/ISUP and SIP, without
//! malformed packets. Skips (with a message) when tshark is not installed.

use std::net::SocketAddrV4;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use m3ua::M3UA_PORT;
use m3ua::pcap::PcapWriter;
use m3ua::wire::{AspUp, Data, Message, ProtocolData, ServiceIndicator};

/// CIC 1 (LSB first) + IAM, hand-written (ITU-T Q.763).
const IAM: &[u8] = &[
    0x01, 0x00, 0x01, 0x00, 0x20, 0x01, 0x0a, 0x00, 0x02, 0x09, 0x07, 0x04, 0x90, 0x94, 0x15, 0x32,
    0x54, 0x76, 0x0a, 0x08, 0x84, 0x13, 0x47, 0x59, 0x11, 0x21, 0x32, 0x03, 0x00,
];

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("run tshark");
    assert!(out.status.success(), "tshark {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8 from tshark")
}

#[test]
fn tshark_decodes_m3ua_isup_and_udp() {
    if !tshark_available() {
        eprintln!(
            "SKIP tshark_decodes_m3ua_isup_and_udp: tshark not installed (apt-get install tshark)"
        );
        return;
    }
    let asp: SocketAddrV4 = "192.0.2.1:2905".parse().unwrap();
    let sgp = SocketAddrV4::new("192.0.2.2".parse().unwrap(), M3UA_PORT);
    let t0 = UNIX_EPOCH + Duration::from_micros(1_767_225_600_123_456);

    let aspup = Message::AspUp(AspUp {
        asp_identifier: Some(7),
        info_string: Some(Bytes::from_static(b"mgc")),
    });
    let data = Message::Data(Data {
        network_appearance: None,
        routing_context: Some(1),
        protocol_data: ProtocolData {
            opc: 257,
            dpc: 514,
            si: ServiceIndicator::ISUP,
            ni: 2,
            mp: 0,
            sls: 1,
            user_data: Bytes::from_static(IAM),
        },
        correlation_id: None,
    });
    let sip = b"OPTIONS sip:gw@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
From: <sip:a@192.0.2.1>;tag=1\r\nTo: <sip:gw@192.0.2.2>\r\nCall-ID: 1@192.0.2.1\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    let path = std::env::temp_dir().join(format!("m3ua-pcap-test-{}.pcap", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let mut w = PcapWriter::new(std::io::BufWriter::new(file)).unwrap();
    w.write_sctp_m3ua(t0, asp, sgp, 0, &aspup.to_vec()).unwrap();
    w.write_sctp_m3ua(t0 + Duration::from_millis(1), asp, sgp, 1, &data.to_vec())
        .unwrap();
    w.write_udp(
        t0 + Duration::from_millis(2),
        "192.0.2.1:5060".parse().unwrap(),
        "192.0.2.2:5060".parse().unwrap(),
        sip,
    )
    .unwrap();
    w.flush().unwrap();
    drop(w);
    let p = path.to_str().unwrap();

    let fields = tshark(&[
        "-r",
        p,
        "-o",
        "sctp.tsn_analysis:FALSE",
        "-T",
        "fields",
        "-e",
        "m3ua.message_class",
        "-e",
        "m3ua.message_type",
        "-e",
        "isup.message_type",
        "-e",
        "isup.cic",
    ]);
    let rows: Vec<&str> = fields.lines().collect();
    assert_eq!(
        rows,
        ["3\t1\t\t", "1\t1\t1\t1", "\t\t\t"],
        "tshark fields: {fields}"
    );

    let more = tshark(&[
        "-r",
        p,
        "-o",
        "sctp.checksum:CRC-32C",
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-T",
        "fields",
        "-e",
        "frame.protocols",
        "-e",
        "sctp.checksum.status",
        "-e",
        "ip.checksum.status",
        "-e",
        "udp.checksum.status",
        "-e",
        "m3ua.protocol_data_opc",
        "-e",
        "m3ua.protocol_data_dpc",
        "-e",
        "sctp.data_sid",
        "-e",
        "sctp.data_payload_proto_id",
        "-e",
        "sip.Method",
        "-e",
        "frame.time_epoch",
    ]);
    let rows: Vec<Vec<&str>> = more.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3, "{more}");
    assert_eq!(rows[0][0], "eth:ethertype:ip:sctp:m3ua");
    assert_eq!(rows[1][0], "eth:ethertype:ip:sctp:m3ua:isup");
    assert_eq!(rows[2][0], "eth:ethertype:ip:udp:sip");
    for r in &rows[..2] {
        // Checksum status 1 = good; the SCTP stream and PPID as written.
        assert_eq!((r[1], r[2]), ("1", "1"), "{more}");
        assert_eq!(r[7], "3", "{more}");
    }
    assert_eq!((rows[0][6], rows[1][6]), ("0x0000", "0x0001"), "{more}");
    assert_eq!((rows[1][4], rows[1][5]), ("257", "514"), "{more}");
    assert_eq!(
        (rows[2][2], rows[2][3], rows[2][8]),
        ("1", "1", "OPTIONS"),
        "{more}"
    );
    assert!(rows[0][9].starts_with("1767225600.123456"), "{more}");

    let malformed = tshark(&[
        "-r",
        p,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= warning",
    ]);
    assert!(malformed.trim().is_empty(), "malformed frames: {malformed}");
    std::fs::remove_file(&path).ok();
}
