//! A pcap writer shared by the gateway: M3UA as SCTP DATA chunks and UDP datagrams (SIP) in one
//! file, as Ethernet II / IPv4 frames that Wireshark decodes without configuration.
//!
//! File format: classic pcap, microsecond timestamps, linktype 1 (Ethernet). SCTP frames carry a
//! correct CRC32c (RFC 4960 §6.8, Appendix B), one DATA chunk with flags B|E, PPID 3, a TSN that
//! increments per direction and a stream sequence number per direction and stream. IPv4 and UDP
//! checksums are filled in. MAC addresses are derived from the IPv4 addresses (locally
//! administered `02:00:a.b.c.d`).

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::M3UA_PPID;

/// pcap magic for microsecond timestamps.
const MAGIC_USEC: u32 = 0xa1b2_c3d4;
/// pcap linktype for Ethernet.
const LINKTYPE_ETHERNET: u32 = 1;
const SNAPLEN: u32 = 262_144;
const IPV4_LEN: usize = 20;
const UDP_LEN: usize = 8;
const SCTP_COMMON_LEN: usize = 12;
const SCTP_DATA_LEN: usize = 16;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;

/// Per-direction SCTP counters.
#[derive(Default)]
struct Flow {
    next_tsn: u32,
    ssn: HashMap<u16, u16>,
}

/// Writes pcap records to any `Write`.
pub struct PcapWriter<W: Write> {
    out: W,
    ip_id: u16,
    flows: HashMap<(SocketAddrV4, SocketAddrV4), Flow>,
    frame: Vec<u8>,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the pcap global header.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&MAGIC_USEC.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        h.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        h.extend_from_slice(&SNAPLEN.to_le_bytes());
        h.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            ip_id: 0,
            flows: HashMap::new(),
            frame: Vec::with_capacity(2048),
        })
    }

    /// Writes one M3UA message as an SCTP packet with a single DATA chunk (PPID 3).
    /// `stream` is the SCTP stream the message went on (0 for management, ≥ 1 for DATA).
    pub fn write_sctp_m3ua(
        &mut self,
        ts: SystemTime,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        stream: u16,
        m3ua: &[u8],
    ) -> io::Result<()> {
        self.write_sctp_data(ts, src, dst, stream, M3UA_PPID, m3ua)
    }

    /// Writes one SCTP packet with a single DATA chunk carrying `payload` under `ppid`.
    pub fn write_sctp_data(
        &mut self,
        ts: SystemTime,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        stream: u16,
        ppid: u32,
        payload: &[u8],
    ) -> io::Result<()> {
        let chunk_len = SCTP_DATA_LEN + payload.len();
        let sctp_len = SCTP_COMMON_LEN + chunk_len.next_multiple_of(4);
        check_ip_len(sctp_len)?;
        let flow = self.flows.entry((src, dst)).or_insert_with(|| Flow {
            next_tsn: 1,
            ssn: HashMap::new(),
        });
        let tsn = flow.next_tsn;
        flow.next_tsn = flow.next_tsn.wrapping_add(1);
        let ssn_slot = flow.ssn.entry(stream).or_insert(0);
        let ssn = *ssn_slot;
        *ssn_slot = ssn_slot.wrapping_add(1);

        let mut f = std::mem::take(&mut self.frame);
        f.clear();
        self.put_eth_ipv4(&mut f, src, dst, IPPROTO_SCTP, sctp_len);
        let sctp_start = f.len();
        // RFC 4960 §3.1 common header; the verification tag is the receiver's, so derive it from dst.
        f.extend_from_slice(&src.port().to_be_bytes());
        f.extend_from_slice(&dst.port().to_be_bytes());
        f.extend_from_slice(&verification_tag(dst).to_be_bytes());
        f.extend_from_slice(&[0; 4]); // checksum, filled below
        // RFC 4960 §3.3.1 DATA chunk: flags B|E (unfragmented), ordered.
        f.extend_from_slice(&[0, 0x03]);
        f.extend_from_slice(&(chunk_len as u16).to_be_bytes());
        f.extend_from_slice(&tsn.to_be_bytes());
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(&ssn.to_be_bytes());
        f.extend_from_slice(&ppid.to_be_bytes());
        f.extend_from_slice(payload);
        f.resize(sctp_start + sctp_len, 0);
        // RFC 4960 Appendix B: CRC32c over the packet with the checksum field zeroed.
        let crc = crc32c(&f[sctp_start..]);
        f[sctp_start + 8..sctp_start + 12].copy_from_slice(&crc.to_le_bytes());
        let r = self.write_record(ts, &f);
        self.frame = f;
        r
    }

    /// Writes one UDP datagram (e.g. a SIP message).
    pub fn write_udp(
        &mut self,
        ts: SystemTime,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
    ) -> io::Result<()> {
        let udp_len = UDP_LEN + payload.len();
        check_ip_len(udp_len)?;
        let mut f = std::mem::take(&mut self.frame);
        f.clear();
        self.put_eth_ipv4(&mut f, src, dst, IPPROTO_UDP, udp_len);
        let udp_start = f.len();
        f.extend_from_slice(&src.port().to_be_bytes());
        f.extend_from_slice(&dst.port().to_be_bytes());
        f.extend_from_slice(&(udp_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        // RFC 768: checksum over the pseudo-header and the datagram; 0 is sent as 0xffff.
        let mut sum = Checksum::default();
        sum.add(&src.ip().octets());
        sum.add(&dst.ip().octets());
        sum.add(&[0, IPPROTO_UDP]);
        sum.add(&(udp_len as u16).to_be_bytes());
        sum.add(&f[udp_start..]);
        let c = match sum.finish() {
            0 => 0xffff,
            c => c,
        };
        f[udp_start + 6..udp_start + 8].copy_from_slice(&c.to_be_bytes());
        let r = self.write_record(ts, &f);
        self.frame = f;
        r
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer (e.g. to see how much was written).
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn put_eth_ipv4(
        &mut self,
        f: &mut Vec<u8>,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        proto: u8,
        l4_len: usize,
    ) {
        f.extend_from_slice(&mac(*dst.ip()));
        f.extend_from_slice(&mac(*src.ip()));
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        let ip_start = f.len();
        let total = (IPV4_LEN + l4_len) as u16;
        self.ip_id = self.ip_id.wrapping_add(1);
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&self.ip_id.to_be_bytes());
        f.extend_from_slice(&0x4000u16.to_be_bytes()); // DF
        f.extend_from_slice(&[64, proto, 0, 0]);
        f.extend_from_slice(&src.ip().octets());
        f.extend_from_slice(&dst.ip().octets());
        let mut sum = Checksum::default();
        sum.add(&f[ip_start..]);
        let c = sum.finish();
        f[ip_start + 10..ip_start + 12].copy_from_slice(&c.to_be_bytes());
    }

    fn write_record(&mut self, ts: SystemTime, frame: &[u8]) -> io::Result<()> {
        let d = ts.duration_since(UNIX_EPOCH).unwrap_or_default();
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&(d.as_secs() as u32).to_le_bytes());
        h[4..8].copy_from_slice(&d.subsec_micros().to_le_bytes());
        h[8..12].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(frame)
    }
}

fn check_ip_len(l4_len: usize) -> io::Result<()> {
    if IPV4_LEN + l4_len > usize::from(u16::MAX) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "payload does not fit one IPv4 packet",
        ));
    }
    Ok(())
}

fn mac(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

fn verification_tag(dst: SocketAddrV4) -> u32 {
    let o = dst.ip().octets();
    (u32::from_be_bytes(o) ^ (u32::from(dst.port()) << 16)) | 1
}

/// Internet checksum (RFC 1071).
#[derive(Default)]
struct Checksum {
    sum: u32,
    odd: Option<u8>,
}

impl Checksum {
    fn add(&mut self, mut data: &[u8]) {
        if let Some(hi) = self.odd.take() {
            if let Some((&lo, rest)) = data.split_first() {
                self.sum += u32::from(u16::from_be_bytes([hi, lo]));
                data = rest;
            } else {
                self.odd = Some(hi);
                return;
            }
        }
        let mut chunks = data.chunks_exact(2);
        for c in &mut chunks {
            self.sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
            self.sum = (self.sum & 0xffff) + (self.sum >> 16);
        }
        if let [last] = chunks.remainder() {
            self.odd = Some(*last);
        }
    }

    fn finish(mut self) -> u16 {
        if let Some(hi) = self.odd.take() {
            self.sum += u32::from(u16::from_be_bytes([hi, 0]));
        }
        while self.sum > 0xffff {
            self.sum = (self.sum & 0xffff) + (self.sum >> 16);
        }
        !(self.sum as u16)
    }
}

/// CRC32c (Castagnoli, reflected polynomial 0x82F63B78) lookup table.
const CRC32C_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC32c as SCTP uses it (RFC 4960 Appendix B).
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC32C_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn internet_checksum_rfc1071_example() {
        // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (complement 220d).
        let mut c = Checksum::default();
        c.add(&[0x00, 0x01, 0xf2]);
        c.add(&[0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
        assert_eq!(c.finish(), !0xddf2);
    }
}
