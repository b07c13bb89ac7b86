//! Kernel SCTP (Linux, one-to-one style sockets, RFC 6458) for M3UA: PPID 3, management on
//! stream 0, DATA on the stream the state machine chose. Built with the `sctp` cargo feature.
//!
//! Only `libc` is used (no libsctp): `socket(AF_INET[6], SOCK_STREAM, IPPROTO_SCTP)`, `sendmsg`
//! with an `SCTP_SNDRCV` control message and `recvmsg` with `SCTP_RCVINFO`.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::M3UA_PPID;

const SOL_SCTP: libc::c_int = 132;
const SCTP_INITMSG: libc::c_int = 2;
const SCTP_NODELAY: libc::c_int = 3;
const SCTP_RECVRCVINFO: libc::c_int = 32;
/// cmsg types (enum sctp_cmsg_type).
const SCTP_SNDRCV: libc::c_int = 1;
const SCTP_RCVINFO: libc::c_int = 3;
const MSG_NOTIFICATION: libc::c_int = 0x8000;

#[repr(C)]
struct SctpInitMsg {
    num_ostreams: u16,
    max_instreams: u16,
    max_attempts: u16,
    max_init_timeo: u16,
}

#[repr(C)]
struct SctpSndRcvInfo {
    stream: u16,
    ssn: u16,
    flags: u16,
    ppid: u32,
    context: u32,
    timetolive: u32,
    tsn: u32,
    cumtsn: u32,
    assoc_id: i32,
}

#[repr(C)]
struct SctpRcvInfo {
    sid: u16,
    ssn: u16,
    flags: u16,
    ppid: u32,
    tsn: u32,
    cumtsn: u32,
    context: u32,
    assoc_id: i32,
}

/// Streams requested in each direction (stream 0 plus DATA streams).
pub const STREAMS: u16 = 17;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` points to a live `T` of the given size for the duration of the call.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (v as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// A new non-blocking SCTP one-to-one socket with M3UA's options set.
fn new_socket(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::IPPROTO_SCTP,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "kernel SCTP unavailable (load the sctp module: modprobe sctp)",
            ));
        }
        return Err(e);
    }
    // SAFETY: fd is a freshly created, owned descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    configure(fd.as_raw_fd())?;
    Ok(fd)
}

fn register(fd: OwnedFd, interest: Interest) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the OwnedFd is moved into the AsyncFd, so it stays open and unchanged for the
    // AsyncFd's whole lifetime.
    Ok(unsafe { AsyncFd::register_with_interest(fd, interest) }?)
}

fn configure(fd: RawFd) -> io::Result<()> {
    let init = SctpInitMsg {
        num_ostreams: STREAMS,
        max_instreams: STREAMS,
        max_attempts: 0,
        max_init_timeo: 0,
    };
    setsockopt(fd, SOL_SCTP, SCTP_INITMSG, &init)?;
    setsockopt(fd, SOL_SCTP, SCTP_NODELAY, &(1 as libc::c_int))?;
    setsockopt(fd, SOL_SCTP, SCTP_RECVRCVINFO, &(1 as libc::c_int))
}

/// One SCTP association (one-to-one socket).
#[derive(Clone)]
pub struct SctpAssociation {
    fd: Arc<AsyncFd<OwnedFd>>,
}

impl SctpAssociation {
    /// Connects to `remote`, optionally bound to `local` first.
    pub async fn connect(remote: SocketAddr, local: Option<SocketAddr>) -> io::Result<Self> {
        let fd = new_socket(&remote)?;
        if let Some(l) = local {
            let (ss, len) = sockaddr(&l);
            // SAFETY: ss/len describe a valid sockaddr.
            cvt(unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&ss as *const libc::sockaddr_storage).cast(),
                    len,
                )
            })?;
        }
        let (ss, len) = sockaddr(&remote);
        // SAFETY: as above.
        let r = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&ss as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
        }
        let afd = register(fd, Interest::READABLE | Interest::WRITABLE)?;
        if r < 0 {
            let mut g = afd.writable().await?;
            g.clear_ready();
            let mut err: libc::c_int = 0;
            let mut l = size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: err/l are valid out-pointers of the right size.
            cvt(unsafe {
                libc::getsockopt(
                    afd.get_ref().as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut err as *mut libc::c_int).cast(),
                    &mut l,
                )
            })?;
            if err != 0 {
                return Err(io::Error::from_raw_os_error(err));
            }
        }
        Ok(SctpAssociation { fd: Arc::new(afd) })
    }

    /// Sends one M3UA message on `stream` with PPID 3.
    pub async fn send(&self, stream: u16, msg: &[u8]) -> io::Result<()> {
        loop {
            let mut g = self.fd.writable().await?;
            match g.try_io(|fd| send_raw(fd.get_ref().as_raw_fd(), stream, msg)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one whole message and its stream; `None` at end of association.
    pub async fn recv(&self, max_len: usize) -> io::Result<Option<(u16, Bytes)>> {
        let mut msg = BytesMut::new();
        loop {
            let mut g = self.fd.readable().await?;
            let mut buf = vec![0u8; max_len.max(64)];
            match g.try_io(|fd| recv_raw(fd.get_ref().as_raw_fd(), &mut buf)) {
                Err(_would_block) => continue,
                Ok(Err(e)) => return Err(e),
                Ok(Ok(RecvResult::Eof)) => return Ok(None),
                Ok(Ok(RecvResult::Notification)) => continue,
                Ok(Ok(RecvResult::Data { len, stream, eor })) => {
                    msg.extend_from_slice(&buf[..len]);
                    if msg.len() > max_len {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "SCTP message exceeds the M3UA size limit",
                        ));
                    }
                    if eor {
                        return Ok(Some((stream, msg.freeze())));
                    }
                }
            }
        }
    }
}

enum RecvResult {
    Eof,
    Notification,
    Data { len: usize, stream: u16, eor: bool },
}

const fn cmsg_space(len: usize) -> usize {
    // CMSG_SPACE for Linux: aligned header + aligned data.
    let align = size_of::<usize>();
    let hdr = (size_of::<libc::cmsghdr>() + align - 1) & !(align - 1);
    hdr + ((len + align - 1) & !(align - 1))
}

fn send_raw(fd: RawFd, stream: u16, msg: &[u8]) -> io::Result<()> {
    let info = SctpSndRcvInfo {
        stream,
        ssn: 0,
        flags: 0,
        // The API passes the PPID through opaquely: network byte order.
        ppid: M3UA_PPID.to_be(),
        context: 0,
        timetolive: 0,
        tsn: 0,
        cumtsn: 0,
        assoc_id: 0,
    };
    let mut cbuf = [0u64; cmsg_space(size_of::<SctpSndRcvInfo>()) / 8 + 1];
    let mut iov = libc::iovec {
        iov_base: msg.as_ptr() as *mut libc::c_void,
        iov_len: msg.len(),
    };
    // SAFETY: msghdr is plain data; the pointers set below outlive the sendmsg call, and the
    // control buffer is large enough and 8-aligned for one cmsghdr carrying SctpSndRcvInfo.
    unsafe {
        let mut mh: libc::msghdr = zeroed();
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        mh.msg_control = cbuf.as_mut_ptr().cast();
        mh.msg_controllen = cmsg_space(size_of::<SctpSndRcvInfo>()) as _;
        let c = libc::CMSG_FIRSTHDR(&mh);
        (*c).cmsg_level = libc::IPPROTO_SCTP;
        (*c).cmsg_type = SCTP_SNDRCV;
        (*c).cmsg_len = libc::CMSG_LEN(size_of::<SctpSndRcvInfo>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<SctpSndRcvInfo>(), info);
        let n = libc::sendmsg(fd, &mh, libc::MSG_NOSIGNAL);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != msg.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short SCTP send"));
        }
    }
    Ok(())
}

fn recv_raw(fd: RawFd, buf: &mut [u8]) -> io::Result<RecvResult> {
    let mut cbuf = [0u64; cmsg_space(size_of::<SctpRcvInfo>()) / 8 + 1];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: as in send_raw; cmsg pointers come from the kernel-filled control buffer and are
    // only read within its bounds via CMSG_FIRSTHDR / CMSG_NXTHDR.
    unsafe {
        let mut mh: libc::msghdr = zeroed();
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        mh.msg_control = cbuf.as_mut_ptr().cast();
        mh.msg_controllen = std::mem::size_of_val(&cbuf) as _;
        let n = libc::recvmsg(fd, &mut mh, 0);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(RecvResult::Eof);
        }
        if mh.msg_flags & MSG_NOTIFICATION != 0 {
            return Ok(RecvResult::Notification);
        }
        let mut stream = 0;
        let mut c = libc::CMSG_FIRSTHDR(&mh);
        while !c.is_null() {
            if (*c).cmsg_level == libc::IPPROTO_SCTP && (*c).cmsg_type == SCTP_RCVINFO {
                let info = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<SctpRcvInfo>());
                stream = info.sid;
            }
            c = libc::CMSG_NXTHDR(&mh, c);
        }
        Ok(RecvResult::Data {
            len: n as usize,
            stream,
            eor: mh.msg_flags & libc::MSG_EOR != 0,
        })
    }
}

/// A listening SCTP socket.
pub struct SctpListener {
    fd: AsyncFd<OwnedFd>,
}

impl SctpListener {
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let fd = new_socket(&addr)?;
        let one: libc::c_int = 1;
        setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, &one)?;
        let (ss, len) = sockaddr(&addr);
        // SAFETY: ss/len describe a valid sockaddr.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&ss as *const libc::sockaddr_storage).cast(),
                len,
            )
        })?;
        // SAFETY: plain listen(2) on an owned descriptor.
        cvt(unsafe { libc::listen(fd.as_raw_fd(), 128) })?;
        Ok(SctpListener {
            fd: register(fd, Interest::READABLE)?,
        })
    }

    /// The bound address (to learn an ephemeral port).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        // SAFETY: sockaddr_storage is plain data; getsockname fills at most `len` octets.
        let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: valid out-pointers.
        cvt(unsafe {
            libc::getsockname(
                self.fd.get_ref().as_raw_fd(),
                (&mut ss as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        })?;
        match ss.ss_family as libc::c_int {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in.
                let sin = unsafe { &*(&ss as *const _ as *const libc::sockaddr_in) };
                Ok(SocketAddr::from((
                    u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the kernel wrote a sockaddr_in6.
                let sin6 = unsafe { &*(&ss as *const _ as *const libc::sockaddr_in6) };
                Ok(SocketAddr::from((
                    sin6.sin6_addr.s6_addr,
                    u16::from_be(sin6.sin6_port),
                )))
            }
            _ => Err(io::Error::other("unknown address family")),
        }
    }

    pub async fn accept(&self) -> io::Result<SctpAssociation> {
        loop {
            let mut g = self.fd.readable().await?;
            let r = g.try_io(|fd| {
                // SAFETY: accept4 with null address pointers; the result is checked.
                let n = unsafe {
                    libc::accept4(
                        fd.get_ref().as_raw_fd(),
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    // SAFETY: n is a new descriptor we own.
                    Ok(unsafe { OwnedFd::from_raw_fd(n) })
                }
            });
            match r {
                Ok(Ok(fd)) => {
                    configure(fd.as_raw_fd())?;
                    let afd = register(fd, Interest::READABLE | Interest::WRITABLE)?;
                    return Ok(SctpAssociation { fd: Arc::new(afd) });
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}
