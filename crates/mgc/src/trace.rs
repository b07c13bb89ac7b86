//! Signalling trace: every SIP message (UDP/IPv4; TCP messages as UDP frames with the real
//! ports) and every M3UA message (SCTP DATA, PPID 3) in one pcap file, with wall-clock
//! timestamps, so Wireshark shows both legs of every call together. Frames come from
//! `m3ua::pcap::PcapWriter`; the SIP and M3UA transports call [`PcapTrace::sip`] and
//! [`PcapTrace::m3ua`] from their taps.
//!
//! Rotation by size: when the file reaches `max_file_bytes`, it is closed and renamed
//! `NAME.1.pcap` (older ones shift to `.2`, `.3`, …, at most `max_files` kept) and a new `NAME.pcap`
//! starts with its own header, so every file opens on its own.

use m3ua::pcap::PcapWriter;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// A file writer that counts what went through it (for rotation).
struct Counting {
    out: BufWriter<File>,
    written: u64,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Where and how much to trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceOptions {
    pub path: PathBuf,
    /// Rotate when the file reaches this size; 0: never.
    pub max_file_bytes: u64,
    /// Rotated files kept besides the current one.
    pub max_files: usize,
}

struct State {
    opts: TraceOptions,
    writer: Option<PcapWriter<Counting>>,
    /// Frames not written (IPv6 addresses, I/O errors).
    skipped: u64,
}

/// The trace file, shared by the transport taps (a short lock per message).
pub struct PcapTrace {
    state: Mutex<State>,
}

impl PcapTrace {
    /// Create (truncate) the file and write the pcap header.
    pub fn create(opts: TraceOptions) -> io::Result<PcapTrace> {
        let writer = open(&opts.path)?;
        Ok(PcapTrace {
            state: Mutex::new(State {
                opts,
                writer: Some(writer),
                skipped: 0,
            }),
        })
    }

    /// One SIP message from the SIP transport's tap.
    pub fn sip(&self, t: &sip::transport::Tapped<'_>) {
        let (src, dst) = match t.direction {
            sip::transport::TapDirection::Sent => (t.local, t.peer),
            sip::transport::TapDirection::Received | sip::transport::TapDirection::Refused => {
                (t.peer, t.local)
            }
        };
        self.write(
            |w, ts, src, dst| w.write_udp(ts, src, dst, t.bytes),
            src,
            dst,
        );
    }

    /// One M3UA message from the M3UA transport's tap.
    pub fn m3ua(&self, t: &m3ua::transport::Tapped<'_>) {
        let (src, dst) = match t.direction {
            m3ua::transport::TapDirection::Sent => (t.local, t.peer),
            m3ua::transport::TapDirection::Received => (t.peer, t.local),
        };
        let stream = t.stream;
        self.write(
            |w, ts, src, dst| w.write_sctp_m3ua(ts, src, dst, stream, t.bytes),
            src,
            dst,
        );
    }

    fn write(
        &self,
        f: impl FnOnce(
            &mut PcapWriter<Counting>,
            SystemTime,
            SocketAddrV4,
            SocketAddrV4,
        ) -> io::Result<()>,
        src: SocketAddr,
        dst: SocketAddr,
    ) {
        let ts = SystemTime::now();
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let (Some(src), Some(dst)) = (v4(src), v4(dst)) else {
            st.skipped += 1;
            return;
        };
        let Some(w) = st.writer.as_mut() else {
            st.skipped += 1;
            return;
        };
        if f(w, ts, src, dst).is_err() {
            st.skipped += 1;
            return;
        }
        let max = st.opts.max_file_bytes;
        if max > 0 && st.writer.as_ref().is_some_and(|w| written(w) >= max) {
            st.rotate();
        }
    }

    /// Push buffered frames to the file (the runtime calls this every second and at exit).
    pub fn flush(&self) {
        if let Ok(mut st) = self.state.lock()
            && let Some(w) = st.writer.as_mut()
        {
            let _ = w.flush();
        }
    }

    /// Frames not written so far (IPv6 endpoints, write errors).
    pub fn skipped(&self) -> u64 {
        self.state.lock().map(|s| s.skipped).unwrap_or(0)
    }
}

fn written(w: &PcapWriter<Counting>) -> u64 {
    w.get_ref().written
}

impl State {
    fn rotate(&mut self) {
        if let Some(mut w) = self.writer.take() {
            let _ = w.flush();
        }
        let path = &self.opts.path;
        if self.opts.max_files == 0 {
            let _ = std::fs::remove_file(path);
        } else {
            let _ = std::fs::remove_file(rotated(path, self.opts.max_files));
            for i in (1..self.opts.max_files).rev() {
                let _ = std::fs::rename(rotated(path, i), rotated(path, i + 1));
            }
            let _ = std::fs::rename(path, rotated(path, 1));
        }
        match open(path) {
            Ok(w) => self.writer = Some(w),
            Err(e) => tracing::error!(path = %path.display(), %e, "pcap trace stopped"),
        }
    }
}

fn open(path: &Path) -> io::Result<PcapWriter<Counting>> {
    let file = File::create(path)?;
    PcapWriter::new(Counting {
        out: BufWriter::with_capacity(64 * 1024, file),
        written: 0,
    })
}

/// `trace.pcap` → `trace.N.pcap` (`trace` → `trace.N`).
pub fn rotated(path: &Path, n: usize) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    let name = match (stem, path.extension()) {
        (Some(stem), Some(ext)) => format!("{stem}.{n}.{}", ext.to_string_lossy()),
        (Some(stem), None) => format!("{stem}.{n}"),
        _ => format!("trace.{n}.pcap"),
    };
    path.with_file_name(name)
}

/// The IPv4 view of an address (IPv4-mapped IPv6 included); other IPv6 is not traced.
fn v4(a: SocketAddr) -> Option<SocketAddrV4> {
    let ip = match a.ip() {
        IpAddr::V4(ip) => ip,
        IpAddr::V6(ip) => ip.to_ipv4_mapped()?,
    };
    Some(SocketAddrV4::new(
        if ip.is_unspecified() {
            Ipv4Addr::LOCALHOST
        } else {
            ip
        },
        a.port(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names() {
        assert_eq!(
            rotated(Path::new("/tmp/x/sig.pcap"), 2),
            PathBuf::from("/tmp/x/sig.2.pcap")
        );
        assert_eq!(rotated(Path::new("sig"), 1), PathBuf::from("sig.1"));
    }

    #[test]
    fn rotates_by_size_and_keeps_max_files() {
        let dir = std::env::temp_dir().join(format!("mgc-trace-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sig.pcap");
        let t = PcapTrace::create(TraceOptions {
            path: path.clone(),
            max_file_bytes: 2000,
            max_files: 2,
        })
        .unwrap();
        let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let peer: SocketAddr = "127.0.0.1:5080".parse().unwrap();
        let msg = vec![b'x'; 400];
        for _ in 0..40 {
            t.sip(&sip::transport::Tapped {
                direction: sip::transport::TapDirection::Sent,
                proto: sip::transport::Proto::Udp,
                local,
                peer,
                bytes: &msg,
            });
        }
        t.flush();
        assert!(path.exists());
        assert!(rotated(&path, 1).exists());
        assert!(rotated(&path, 2).exists());
        assert!(!rotated(&path, 3).exists());
        for p in [path.clone(), rotated(&path, 1)] {
            let len = std::fs::metadata(&p).unwrap().len();
            // Closed at the first frame that crossed 2000 bytes.
            assert!(len < 2000 + 500, "{}: {len}", p.display());
        }
        let six = "[::1]:5060".parse::<SocketAddr>().unwrap();
        t.sip(&sip::transport::Tapped {
            direction: sip::transport::TapDirection::Received,
            proto: sip::transport::Proto::Udp,
            local: six,
            peer: six,
            bytes: &msg,
        });
        assert_eq!(t.skipped(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
