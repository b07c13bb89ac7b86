//! Helpers shared by the end-to-end tests: locating `../shared` and outside tools, skipping cleanly
//! when they are absent, and running tshark.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `../shared` beside the checkout, or `None` after printing why the caller skips.
pub fn shared_dir() -> Option<PathBuf> {
    let p = repo_root().join("../shared");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIP: {} is absent (outside corpora not available)",
            p.display()
        );
        None
    }
}

/// True if `tool --version` runs; otherwise prints why the caller skips.
pub fn have_tool(tool: &str) -> bool {
    let ok = tool_runs(tool);
    if !ok {
        skip(&format!("`{tool}` is not installed (.ci/run installs it)"));
    }
    ok
}

/// True if `tool --version` runs (nothing printed).
pub fn tool_runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Prints `SKIP: <why>` on the test process's stderr itself, past the test harness's output
/// capture (which hides `eprintln!` of passing tests), so a skipped test shows in every run.
pub fn skip(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIP: {why}");
}

/// Run tshark on a capture with the given extra arguments; panics with its stderr on failure.
pub fn tshark(pcap: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(pcap)
        .args(["-o", "sctp.tsn_analysis:FALSE"])
        .args(args)
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tshark prints UTF-8")
}

/// tshark `-T fields` output as rows of columns (one row per frame).
pub fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec![
        "-Y",
        filter,
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "separator=\t",
    ];
    for f in fields {
        args.push("-e");
        args.push(f);
    }
    tshark(pcap, &args)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Frame numbers tshark reports as malformed, with their expert messages.
pub fn tshark_malformed(pcap: &Path) -> Vec<String> {
    tshark(
        pcap,
        &[
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 6291456",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// A scratch directory under the target dir, unique per test name.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mgc-e2e-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A workspace binary (`mgc`, `ss7sim`) from the same target directory and profile as the
/// running test. `cargo test -p e2e` does not build other packages' binaries, so the first call
/// per binary and test process runs `cargo build --bin NAME` (a no-op when it is up to date):
/// a test never runs a binary older than the sources.
pub fn workspace_bin(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let bin = dir.join(name);
    // Held while building: parallel tests wait for one build instead of racing cargo.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "--bin", name])
            .current_dir(repo_root());
        if dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "cargo build --bin {name} failed");
        built.push(name.to_string());
    }
    bin
}

/// A child process killed (and reaped) when dropped, so a failing test leaves nothing behind.
/// Its stdout and stderr go to files in `dir`, printed by [`Proc::dump`] to explain failures.
pub struct Proc {
    pub child: std::process::Child,
    pub name: String,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, dir: &Path) -> Proc {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let child = cmd
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            child,
            name: name.into(),
            stdout,
            stderr,
        }
    }

    /// Wait for exit, at most `limit`; kills it and returns `None` on timeout.
    pub fn wait_timeout(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let end = std::time::Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if std::time::Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Both outputs, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "--- {} stdout ---\n{}\n--- {} stderr ---\n{}",
            self.name,
            self.stdout_text(),
            self.name,
            self.stderr_text()
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A loopback port free for both TCP and UDP right now.
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = tcp.local_addr().expect("local addr").port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Poll until `addr` accepts TCP connections, at most `limit`.
pub fn wait_tcp(addr: std::net::SocketAddr, limit: std::time::Duration) -> bool {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200))
            .is_ok()
        {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// A live tshark capture on loopback (`tshark -i lo`) into a pcapng, known to be recording when
/// [`LiveCapture::start`] returns and to hold everything sent before [`LiveCapture::stop`].
///
/// tshark reports "Capturing on 'Loopback: lo'" before the kernel delivers packets to it: a
/// datagram sent right after that line is often missing from the file (measured: 3 of 4
/// runs), so that line is no sign of readiness. Instead the capture filter also matches a probe
/// socket of our own, and datagrams from it to itself (a unique token each) are sent until one
/// of them is in the file — a packet captured and written, the only proof that the capture
/// sees traffic. Stopping does the same with a last probe, then SIGINT, so nothing sent before
/// `stop` is cut off. The probes stay in the file: UDP from and to the probe port (`probe_port`),
/// payload `mgc-e2e-capture-probe …`, which tshark shows as plain data.
pub struct LiveCapture {
    proc: Proc,
    file: PathBuf,
    probe: std::net::UdpSocket,
    sent: u32,
}

impl LiveCapture {
    /// How long the capture may take to start (or to write a probe) under load.
    const READY: std::time::Duration = std::time::Duration::from_secs(30);

    /// Capture what `filter` (a BPF capture filter, e.g. `udp port 5060`) matches into
    /// `<dir>/<name>.pcapng`. `None`, after a SKIP line, when tshark is absent, cannot capture
    /// on `lo`, or has not written a probe within 30 s.
    pub fn start(dir: &Path, name: &str, filter: &str) -> Option<LiveCapture> {
        if !have_tool("tshark") {
            return None;
        }
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a probe socket");
        let port = probe.local_addr().expect("probe address").port();
        let file = dir.join(format!("{name}.pcapng"));
        let proc = Proc::spawn(
            name,
            Command::new("tshark")
                .args(["-i", "lo", "-f", &format!("({filter}) or udp port {port}")])
                .arg("-w")
                .arg(&file)
                .args(["-a", "duration:300"]),
            dir,
        );
        let mut c = LiveCapture {
            proc,
            file,
            probe,
            sent: 0,
        };
        match c.sync() {
            Ok(()) => Some(c),
            Err(why) => {
                skip(&format!(
                    "tshark capture on lo not usable: {why}\n{}",
                    c.proc.dump()
                ));
                None
            }
        }
    }

    /// The port of the probe datagrams in the capture.
    pub fn probe_port(&self) -> u16 {
        self.probe.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Send probes (every 50 ms, each numbered) until one sent by this call is in the file.
    fn sync(&mut self) -> Result<(), String> {
        let end = std::time::Instant::now() + Self::READY;
        let me = self.probe.local_addr().map_err(|e| e.to_string())?;
        let prefix = format!("mgc-e2e-capture-probe {} ", std::process::id());
        let first = self.sent + 1;
        while std::time::Instant::now() < end {
            if let Ok(Some(s)) = self.proc.child.try_wait() {
                return Err(format!("tshark exited ({s})"));
            }
            self.sent += 1;
            let _ = self
                .probe
                .send_to(format!("{prefix}{}.", self.sent).as_bytes(), me);
            std::thread::sleep(std::time::Duration::from_millis(50));
            let written = std::fs::read(&self.file).unwrap_or_default();
            let numbers = written
                .windows(prefix.len())
                .enumerate()
                .filter(|(_, w)| *w == prefix.as_bytes())
                .filter_map(|(i, _)| {
                    let rest = &written[i + prefix.len()..];
                    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                    std::str::from_utf8(&rest[..digits])
                        .ok()?
                        .parse::<u32>()
                        .ok()
                });
            if numbers.into_iter().any(|n| n >= first) {
                return Ok(());
            }
        }
        Err(format!("no probe written within {:?}", Self::READY))
    }

    /// Wait until everything sent so far is in the file (a last probe has been written after
    /// it), stop tshark with SIGINT (by PID) and return the file.
    pub fn stop(mut self) -> PathBuf {
        if let Err(why) = self.sync() {
            panic!("tshark capture stalled: {why}\n{}", self.proc.dump());
        }
        let _ = Command::new("kill")
            .args(["-INT", &self.proc.child.id().to_string()])
            .status();
        if self
            .proc
            .wait_timeout(std::time::Duration::from_secs(10))
            .is_none()
        {
            panic!("tshark did not stop\n{}", self.proc.dump());
        }
        self.file.clone()
    }
}
