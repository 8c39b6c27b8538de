//! The controller's end of an executor connection: spawning or connecting,
//! the handshake, one request at a time with a bounded wait, and how the
//! executor ended.
//!
//! Every read and write polls in slices of 100 ms: ordinary requests give
//! up after the request timeout (30 s, `JITLINK_EXECUTOR_TIMEOUT` seconds);
//! requests that run JIT'd code wait as long as the code runs but notice at
//! once (end of file) or within 100 ms (process gone) that the executor
//! died. After that, or after `EXITED`/`FAULT`, every request fails at once.
//!
//! Version 2: while JIT'd code runs, the executor may send `LAZY context`
//! (a lazy trampoline was called). The functions of this module that take
//! a [`SharedExecutor`] ([`run_main`], [`call`], [`shutdown`]) serve it:
//! they release the connection, run the lazy handlers (which link through
//! the session, sending requests of their own), and answer `RESUME`. The
//! methods of a locked [`ExecutorClient`] cannot (the connection is held):
//! they answer `RESUME 0`, so the call returns 0, and say so.

use super::protocol::{self, op, Action, Decoder, Encoder, Hello};
use super::SharedExecutor;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

/// How an executor ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this status (JIT'd code called `exit`, `SHUTDOWN`,
    /// or the process's own exit status).
    Exited(i32),
    /// It died of a signal.
    Signaled {
        /// Signal number.
        signal: i32,
        /// Signal name (`SIGSEGV`).
        name: String,
        /// The faulting address the executor reported (0 if none).
        address: u64,
    },
    /// The connection broke or timed out; the reason.
    Lost(String),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Exited(s) => write!(f, "exited with status {s}"),
            Ended::Signaled { signal, name, address } => {
                write!(f, "killed by signal {signal} ({name})")?;
                if *address != 0 || matches!(*signal, 7 | 11) {
                    write!(f, " at address {address:#x}")?;
                }
                Ok(())
            }
            Ended::Lost(why) => write!(f, "{why}"),
        }
    }
}

impl Ended {
    /// The exit status a shell would report for a process that ended so:
    /// the status, or 128 + the signal number (1 for a lost connection).
    pub fn status(&self) -> i32 {
        match self {
            Ended::Exited(s) => *s,
            Ended::Signaled { signal, .. } => 128 + signal,
            Ended::Lost(_) => 1,
        }
    }
}

/// How a run of JIT'd code ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// The function returned this value (the executor lives on).
    Returned(i32),
    /// The code ended the executor (exit or fatal signal).
    Ended(Ended),
}

/// A decoded reply.
enum Reply {
    Ok(Vec<u8>),
    Ended(Ended),
}

/// What came while waiting for a reply.
enum Msg {
    Reply(Reply),
    /// `LAZY context` (version 2).
    Lazy(u64),
}

/// Serves a `LAZY context` request: `None` when the context is not this
/// handler's, else the address to resume at (an error resumes at 0).
pub type LazyHandler = Arc<dyn Fn(u64) -> Option<Result<u64>> + Send + Sync>;

/// Run (without the connection held) before a request that runs JIT'd
/// code: pushes pending redirection state to the executor.
pub type PreRunHook = Arc<dyn Fn() -> Result<()> + Send + Sync>;

/// Why a read or write stopped.
enum Stop {
    Eof,
    Timeout,
    Io(std::io::Error),
}

/// How long a request may wait.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Wait {
    /// The request timeout.
    Bounded,
    /// As long as the executor lives (JIT'd code runs).
    WhileAlive,
}

/// A connection to an executor process.
pub struct ExecutorClient {
    input: File,
    output: Option<File>,
    child: Option<Child>,
    exit_status: Option<ExitStatus>,
    label: String,
    hello: Hello,
    timeout: Duration,
    round_trips: u64,
    bytes_sent: u64,
    ended: Option<Ended>,
    lazy_handlers: Vec<LazyHandler>,
    pre_run: Vec<PreRunHook>,
    lazy_requests: u64,
}

fn set_nonblocking(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor this process owns.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits up to `ms` for `events` on `fd`; true when ready (or hung up).
fn poll_fd(fd: RawFd, events: libc::c_short, ms: i32) -> bool {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    n > 0
}

/// Duplicates `fd` close-on-exec at 10 or above, or opens /dev/null.
fn dup_or_null(fd: RawFd, write: bool) -> Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor, owned below.
    let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if d >= 0 {
        // SAFETY: d is a fresh descriptor nobody else owns.
        return Ok(unsafe { OwnedFd::from_raw_fd(d) });
    }
    let f = std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .open("/dev/null")
        .map_err(|e| Error::Io { path: "/dev/null".into(), source: e })?;
    let d = f.as_raw_fd();
    // SAFETY: as above; the File's own descriptor is closed when it drops.
    let dup = unsafe { libc::fcntl(d, libc::F_DUPFD_CLOEXEC, 10) };
    if dup < 0 {
        return Err(Error::Io { path: "/dev/null".into(), source: std::io::Error::last_os_error() });
    }
    // SAFETY: dup is a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Splits a command line into words: blanks separate, `'...'` is literal,
/// `"..."` allows `\"` and `\\`, and `\` quotes the next character.
pub fn split_command(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\'' => {
                have = true;
                for c in it.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                have = true;
                while let Some(c) = it.next() {
                    match c {
                        '"' => break,
                        '\\' if matches!(it.peek(), Some('"' | '\\')) => cur.push(it.next().unwrap_or('\\')),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                have = true;
                if let Some(n) = it.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() => {
                if have {
                    words.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                have = true;
                cur.push(c);
            }
        }
    }
    if have {
        words.push(cur);
    }
    words
}

/// The host executor's command: `JITLINK_EXECUTOR` (a command line), else
/// `jitlink-executor` next to the running program (or one directory up,
/// for test binaries in `target/*/deps`).
///
/// # Errors
/// [`Error::Usage`] when neither is found.
pub fn host_executor_command() -> Result<Vec<String>> {
    if let Ok(v) = std::env::var("JITLINK_EXECUTOR") {
        let words = split_command(&v);
        if !words.is_empty() {
            return Ok(words);
        }
    }
    let exe = std::env::current_exe().ok();
    let dir = exe.as_deref().and_then(|e| e.parent()).map(PathBuf::from);
    for d in dir.iter().flat_map(|d| [Some(d.clone()), d.parent().map(PathBuf::from)]).flatten() {
        let p = d.join("jitlink-executor");
        if p.is_file() {
            return Ok(vec![p.display().to_string()]);
        }
    }
    Err(Error::Usage(format!(
        "cannot find jitlink-executor next to {} (build it with `cargo build -p jitlink-executor`) and \
         JITLINK_EXECUTOR is not set",
        exe.map_or_else(|| "this program".into(), |e| e.display().to_string())
    )))
}

fn request_timeout() -> Duration {
    std::env::var("JITLINK_EXECUTOR_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(30), Duration::from_secs_f64)
}

impl ExecutorClient {
    /// Spawns `argv` as the executor (e.g. `["qemu-aarch64", "-L",
    /// "/usr/aarch64-linux-gnu", "./jitlink-executor"]`), with this
    /// process's standard input and output as the program's, and shakes
    /// hands.
    ///
    /// # Errors
    /// When it cannot be started, or dies or answers wrongly before the
    /// handshake is done.
    pub fn spawn(argv: &[String]) -> Result<ExecutorClient> {
        let Some((prog, args)) = argv.split_first() else {
            return Err(Error::Usage("empty executor command".into()));
        };
        let label = format!("executor `{}`", argv.join(" "));
        let fd_in = dup_or_null(0, false)?;
        let fd_out = dup_or_null(1, true)?;
        let (raw_in, raw_out) = (fd_in.as_raw_fd(), fd_out.as_raw_fd());
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env("JITLINK_EXECUTOR_STDIO", "3,4");
        // SAFETY: the closure runs in the child between fork and exec and
        // only calls dup2, which is async-signal-safe; raw_in/raw_out are
        // open (close-on-exec, at 10 or above) descriptors of the parent.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(raw_in, 3) < 0 || libc::dup2(raw_out, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| Error::Io { path: label.clone(), source: e })?;
        drop((fd_in, fd_out));
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(Error::Usage(format!("{label}: no pipes")));
        };
        let output = File::from(OwnedFd::from(stdin));
        let input = File::from(OwnedFd::from(stdout));
        Self::start(input, output, Some(child), label)
    }

    /// Spawns the host executor (see [`host_executor_command`]).
    ///
    /// # Errors
    /// As [`ExecutorClient::spawn`] and [`host_executor_command`].
    pub fn spawn_host() -> Result<ExecutorClient> {
        Self::spawn(&host_executor_command()?)
    }

    /// Connects to `jitlink-executor --listen ADDR`: `unix:PATH` (or a path
    /// with a `/`) for a Unix socket, else `HOST:PORT` over TCP.
    ///
    /// # Errors
    /// When the connection fails (within 5 s) or the handshake does.
    pub fn connect(addr: &str) -> Result<ExecutorClient> {
        let label = format!("executor at {addr}");
        let io = |e| Error::Io { path: label.clone(), source: e };
        let path = addr.strip_prefix("unix:").or(addr.contains('/').then_some(addr));
        let fd: OwnedFd = if let Some(p) = path {
            std::os::unix::net::UnixStream::connect(p).map_err(io)?.into()
        } else {
            use std::net::ToSocketAddrs;
            let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
            let mut stream = None;
            for a in addr.to_socket_addrs().map_err(io)? {
                match std::net::TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
                    Ok(s) => {
                        stream = Some(s);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            let s = stream.ok_or_else(|| io(last))?;
            let _ = s.set_nodelay(true);
            s.into()
        };
        let output = File::from(fd.try_clone().map_err(io)?);
        Self::start(File::from(fd), output, None, label)
    }

    fn start(input: File, output: File, child: Option<Child>, label: String) -> Result<ExecutorClient> {
        let io = |e| Error::Io { path: label.clone(), source: e };
        set_nonblocking(input.as_raw_fd()).map_err(io)?;
        set_nonblocking(output.as_raw_fd()).map_err(io)?;
        let placeholder = Hello {
            version: 0,
            triple: String::new(),
            page_size: 4096,
            pointer_size: 8,
            big_endian: false,
            pid: 0,
            symbols: Vec::new(),
        };
        let mut c = ExecutorClient {
            input,
            output: Some(output),
            child,
            exit_status: None,
            label,
            hello: placeholder,
            timeout: request_timeout(),
            round_trips: 0,
            bytes_sent: 0,
            ended: None,
            lazy_handlers: Vec::new(),
            pre_run: Vec::new(),
            lazy_requests: 0,
        };
        let mut version = protocol::VERSION;
        let p = loop {
            let mut e = Encoder::new();
            e.u32(version);
            match c.transact(op::HELLO, &e.0, Wait::Bounded) {
                Ok(Reply::Ok(p)) => break p,
                Ok(Reply::Ended(how)) => return Err(c.err(format!("{how} before the handshake"))),
                // A version-1 executor refuses version 2: speak 1.
                Err(_) if c.ended.is_none() && version > protocol::MIN_VERSION => version -= 1,
                Err(e) => return Err(e),
            }
        };
        let hello = Hello::decode(&p).map_err(|m| c.err(format!("bad HELLO reply: {m}")))?;
        if hello.version != version {
            return Err(c.err(format!(
                "answered HELLO {version} with protocol version {}; this jitlink speaks {}..={}",
                hello.version,
                protocol::MIN_VERSION,
                protocol::VERSION
            )));
        }
        if hello.pid != 0 && c.child.is_some() {
            c.label = format!("{} (pid {})", c.label, hello.pid);
        }
        c.hello = hello;
        Ok(c)
    }

    /// What the executor said in the handshake.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// How the executor is named in messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Requests answered so far (the handshake included).
    pub fn round_trips(&self) -> u64 {
        self.round_trips
    }

    /// Request bytes sent so far.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    /// How the executor ended, once it has.
    pub fn ended(&self) -> Option<&Ended> {
        self.ended.as_ref()
    }

    /// `LAZY` requests served so far (version 2).
    pub fn lazy_requests(&self) -> u64 {
        self.lazy_requests
    }

    /// Adds a handler for `LAZY` requests (version 2); handlers are asked
    /// in order until one knows the context.
    pub fn add_lazy_handler(&mut self, h: LazyHandler) {
        self.lazy_handlers.push(h);
    }

    /// Adds a hook run before [`run_main`], [`call`] and [`shutdown`].
    pub fn add_pre_run_hook(&mut self, h: PreRunHook) {
        self.pre_run.push(h);
    }

    /// The process id of a spawned executor (as seen from here).
    pub fn child_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn err(&self, msg: String) -> Error {
        Error::Io { path: self.label.clone(), source: std::io::Error::other(msg) }
    }

    /// The spawned executor's exit status, if it has exited (reaped once).
    fn child_exited(&mut self) -> Option<ExitStatus> {
        if self.exit_status.is_none() {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(s)) = c.try_wait() {
                    self.exit_status = Some(s);
                }
            }
        }
        self.exit_status
    }

    fn status_to_ended(s: ExitStatus) -> Ended {
        match (s.code(), s.signal()) {
            (Some(c), _) => Ended::Exited(c),
            (None, Some(sig)) => Ended::Signaled { signal: sig, name: protocol::signal_name(sig).into(), address: 0 },
            _ => Ended::Lost(format!("ended: {s:?}")),
        }
    }

    /// After the stream ended: how the process ended (waits up to 5 s).
    fn death(&mut self) -> Ended {
        if self.child.is_none() {
            return Ended::Lost("the connection closed".into());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(s) = self.child_exited() {
                return Self::status_to_ended(s);
            }
            if Instant::now() >= deadline {
                self.kill();
                return Ended::Lost("its output closed but it kept running (killed)".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Kills and reaps a spawned executor.
    fn kill(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if self.exit_status.is_none() {
                let _ = c.kill();
                if let Ok(s) = c.wait() {
                    self.exit_status = Some(s);
                }
            }
        }
    }

    /// Waits (at most 5 s) for the executor to be gone after `EXITED` or
    /// `FAULT`, so that its output is complete; returns the process's own
    /// account when it has one.
    fn wait_gone(&mut self) -> Option<Ended> {
        let deadline = Instant::now() + Duration::from_secs(5);
        // The stream ends when the process does (unless a child of its
        // own inherited it): wait for that, then for the process.
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match self.input.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if !poll_fd(self.input.as_raw_fd(), libc::POLLIN, 20) && self.child_exited().is_some() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if self.child.is_some() {
            while Instant::now() < deadline {
                if let Some(s) = self.child_exited() {
                    return Some(Self::status_to_ended(s));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            self.kill();
        }
        None
    }

    fn check_alive(&mut self, deadline: Option<Instant>) -> std::result::Result<(), Stop> {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Stop::Timeout);
        }
        if self.child_exited().is_some() {
            return Err(Stop::Eof);
        }
        Ok(())
    }

    fn write_all(&mut self, mut buf: &[u8], deadline: Option<Instant>) -> std::result::Result<(), Stop> {
        while !buf.is_empty() {
            let Some(out) = self.output.as_mut() else { return Err(Stop::Eof) };
            match out.write(buf) {
                Ok(0) => return Err(Stop::Eof),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let fd = out.as_raw_fd();
                    if !poll_fd(fd, libc::POLLOUT, 100) {
                        self.check_alive(deadline)?;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Err(Stop::Eof),
                Err(e) => return Err(Stop::Io(e)),
            }
        }
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> std::result::Result<(), Stop> {
        let mut at = 0;
        while at < buf.len() {
            match self.input.read(&mut buf[at..]) {
                Ok(0) => return Err(Stop::Eof),
                Ok(n) => at += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if !poll_fd(self.input.as_raw_fd(), libc::POLLIN, 100) {
                        self.check_alive(deadline)?;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Stop::Io(e)),
            }
        }
        Ok(())
    }

    /// Marks the connection dead after a failed read or write.
    fn stopped(&mut self, name: &str, stop: Stop) -> Error {
        let how = match stop {
            Stop::Eof => self.death(),
            Stop::Timeout => {
                self.kill();
                Ended::Lost(format!("no reply to {name} within {:.1} s (killed)", self.timeout.as_secs_f64()))
            }
            Stop::Io(e) => {
                self.kill();
                Ended::Lost(format!("{e}"))
            }
        };
        let msg = match &how {
            Ended::Lost(why) => format!("{name} failed: {why}"),
            how => format!("died during {name}: {how}"),
        };
        self.ended = Some(how);
        self.err(msg)
    }

    /// Sends one frame (a request, or `RESUME`).
    fn send_frame(&mut self, opcode: u8, payload: &[u8], wait: Wait) -> Result<()> {
        let name = op::name(opcode);
        if let Some(how) = &self.ended {
            return Err(self.err(format!("cannot send {name}: the executor is gone ({how})")));
        }
        let deadline = match wait {
            Wait::Bounded => Some(Instant::now() + self.timeout),
            Wait::WhileAlive => None,
        };
        let msg = protocol::frame(opcode, payload);
        self.bytes_sent += msg.len() as u64;
        match self.write_all(&msg, deadline.map(|d| d.max(Instant::now() + self.timeout))) {
            Ok(()) => Ok(()),
            Err(stop) => Err(self.stopped(name, stop)),
        }
    }

    /// Reads the next message while waiting for the reply to `opcode`.
    fn read_message(&mut self, opcode: u8, wait: Wait) -> Result<Msg> {
        let name = op::name(opcode);
        if let Some(how) = &self.ended {
            return Err(self.err(format!("no reply to {name}: the executor is gone ({how})")));
        }
        let deadline = match wait {
            Wait::Bounded => Some(Instant::now() + self.timeout),
            Wait::WhileAlive => None,
        };
        let mut head = [0u8; 5];
        if let Err(stop) = self.read_exact(&mut head, deadline) {
            return Err(self.stopped(name, stop));
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        if len == 0 || len > protocol::MAX_FRAME {
            self.ended = Some(Ended::Lost(format!("bad reply frame length {len}")));
            self.kill();
            return Err(self.err(format!("{name}: bad reply frame length {len}: not a jitlink executor?")));
        }
        let mut body = vec![0u8; len as usize - 1];
        if let Err(stop) = self.read_exact(&mut body, Some(Instant::now() + self.timeout)) {
            return Err(self.stopped(name, stop));
        }
        let mut d = Decoder::new(&body);
        match head[4] {
            op::LAZY if wait == Wait::WhileAlive => match d.u64() {
                Ok(ctx) => {
                    self.lazy_requests += 1;
                    Ok(Msg::Lazy(ctx))
                }
                Err(m) => {
                    self.ended = Some(Ended::Lost(format!("bad LAZY request: {m}")));
                    self.kill();
                    Err(self.err(format!("{name}: bad LAZY request: {m}")))
                }
            },
            op::OK => {
                self.round_trips += 1;
                Ok(Msg::Reply(Reply::Ok(body)))
            }
            op::ERROR => {
                self.round_trips += 1;
                let m = d.str().unwrap_or_else(|_| "(no message)".into());
                Err(self.err(format!("{name} failed: {m}")))
            }
            op::EXITED => {
                self.round_trips += 1;
                let status = d.i32().unwrap_or(-1);
                let how = self.wait_gone().filter(|h| matches!(h, Ended::Exited(_))).unwrap_or(Ended::Exited(status));
                self.ended = Some(how.clone());
                Ok(Msg::Reply(Reply::Ended(how)))
            }
            op::FAULT => {
                self.round_trips += 1;
                let signal = d.i32().unwrap_or(0);
                let address = d.u64().unwrap_or(0);
                let name = d.str().unwrap_or_else(|_| protocol::signal_name(signal).into());
                self.wait_gone();
                let how = Ended::Signaled { signal, name, address };
                self.ended = Some(how.clone());
                Ok(Msg::Reply(Reply::Ended(how)))
            }
            other => {
                self.ended = Some(Ended::Lost(format!("unexpected reply {other:#04x}")));
                self.kill();
                Err(self.err(format!("{name}: unexpected reply {other:#04x}: not a jitlink executor?")))
            }
        }
    }

    /// `RESUME address`: the answer to a `LAZY` (no reply).
    fn resume(&mut self, address: u64) -> Result<()> {
        let mut e = Encoder::new();
        e.u64(address);
        self.send_frame(op::RESUME, &e.0, Wait::Bounded)
    }

    /// Sends one request and reads its reply. `ERROR` is an `Err` that
    /// leaves the connection usable; a broken connection is an `Err` that
    /// ends it; `EXITED`/`FAULT` are `Reply::Ended`. A `LAZY` cannot be
    /// served here (the caller holds the connection): it is answered
    /// `RESUME 0`, which makes the lazy call return 0.
    fn transact(&mut self, opcode: u8, payload: &[u8], wait: Wait) -> Result<Reply> {
        self.send_frame(opcode, payload, wait)?;
        loop {
            match self.read_message(opcode, wait)? {
                Msg::Reply(r) => return Ok(r),
                Msg::Lazy(ctx) => {
                    eprintln!(
                        "jitlink: {}: a lazy function (context {ctx:#x}) was called during {} through a locked \
                         ExecutorClient, which cannot link it: it returns 0 (use jitlink::oop::client::run_main, \
                         call or shutdown)",
                        self.label,
                        op::name(opcode)
                    );
                    self.resume(0)?;
                }
            }
        }
    }

    /// A request that must answer `OK`.
    fn expect_ok(&mut self, opcode: u8, payload: &[u8], wait: Wait) -> Result<Vec<u8>> {
        match self.transact(opcode, payload, wait)? {
            Reply::Ok(p) => Ok(p),
            Reply::Ended(how) => {
                Err(self.err(format!("JIT'd code ended the executor during {}: {how}", op::name(opcode))))
            }
        }
    }

    fn decode<T>(&self, what: &str, r: std::result::Result<T, String>) -> Result<T> {
        r.map_err(|m| self.err(format!("bad {what} reply: {m}")))
    }

    /// `RESERVE`: fresh read-write memory in the executor.
    ///
    /// # Errors
    /// When the executor refuses or is gone.
    pub fn reserve(&mut self, size: u64, align: u64, flags: u32) -> Result<u64> {
        let mut e = Encoder::new();
        e.u64(size).u64(align).u32(flags);
        let p = self.expect_ok(op::RESERVE, &e.0, Wait::Bounded)?;
        self.decode("RESERVE", Decoder::new(&p).u64())
    }

    /// `RELEASE`: runs the reservation's release actions and unmaps it.
    ///
    /// # Errors
    /// When the executor refuses or is gone.
    pub fn release(&mut self, base: u64) -> Result<()> {
        let mut e = Encoder::new();
        e.u64(base);
        self.expect_ok(op::RELEASE, &e.0, Wait::WhileAlive).map(drop)
    }

    /// `WRITE`: copies each `(address, bytes)` into reserved memory, in one
    /// round trip.
    ///
    /// # Errors
    /// When a range is not reserved, or the executor is gone.
    pub fn write(&mut self, ranges: &[(u64, &[u8])]) -> Result<()> {
        let mut e = Encoder::new();
        e.u32(ranges.len() as u32);
        for &(a, b) in ranges {
            e.u64(a).bytes(b);
        }
        self.expect_ok(op::WRITE, &e.0, Wait::Bounded).map(drop)
    }

    /// `READ`: bytes of reserved memory.
    ///
    /// # Errors
    /// When the range is not reserved, or the executor is gone.
    pub fn read(&mut self, addr: u64, len: u64) -> Result<Vec<u8>> {
        let mut e = Encoder::new();
        e.u64(addr).u64(len);
        let p = self.expect_ok(op::READ, &e.0, Wait::Bounded)?;
        self.decode("READ", Decoder::new(&p).bytes().map(<[u8]>::to_vec))
    }

    /// `FINALIZE`: segments `(address, size, prot bits, content)` of the
    /// reservation at `base`, then `actions`, in one round trip.
    ///
    /// # Errors
    /// When the executor refuses, or JIT'd code run by an action ends it.
    pub fn finalize(&mut self, base: u64, segments: &[(u64, u64, u8, &[u8])], actions: &[Action]) -> Result<()> {
        let (payload, wait) = finalize_payload(base, segments, actions);
        self.expect_ok(op::FINALIZE, &payload, wait).map(drop)
    }

    /// `DEALLOCATE` (version 2): runs the release actions of the
    /// `FINALIZE`s inside `[address, address + size)` of a reservation
    /// (latest first) and resets its pages to fresh zeroed read-write
    /// memory.
    ///
    /// # Errors
    /// When the executor speaks version 1, refuses, or is gone.
    pub fn deallocate(&mut self, address: u64, size: u64) -> Result<()> {
        self.need_v2("DEALLOCATE")?;
        let mut e = Encoder::new();
        e.u64(address).u64(size);
        self.expect_ok(op::DEALLOCATE, &e.0, Wait::WhileAlive).map(drop)
    }

    fn need_v2(&self, what: &str) -> Result<()> {
        if self.hello.version < 2 {
            return Err(self.err(format!("{what} needs protocol version 2; this executor speaks version 1")));
        }
        Ok(())
    }

    /// `LOOKUP`: opens `libraries` (paths or `-l` names) in the executor,
    /// then looks each name up there; `None` for names not found.
    ///
    /// # Errors
    /// When a library cannot be opened, or the executor is gone.
    pub fn lookup(&mut self, libraries: &[String], names: &[&[u8]]) -> Result<Vec<Option<u64>>> {
        let mut e = Encoder::new();
        e.u32(libraries.len() as u32);
        for l in libraries {
            e.str(l.as_bytes());
        }
        e.u32(names.len() as u32);
        for n in names {
            e.str(n);
        }
        let p = self.expect_ok(op::LOOKUP, &e.0, Wait::Bounded)?;
        let mut d = Decoder::new(&p);
        let n = self.decode("LOOKUP", d.count())?;
        if n != names.len() {
            return Err(self.err(format!("LOOKUP answered {n} addresses for {} names", names.len())));
        }
        (0..n).map(|_| self.decode("LOOKUP", d.u64()).map(|a| (a != 0).then_some(a))).collect()
    }

    /// `RUN_MAIN`: calls `main(argc, argv, envp)` at `addr` in the executor.
    ///
    /// # Errors
    /// When the executor refuses, or the connection breaks.
    pub fn run_main(&mut self, addr: u64, argv: &[String]) -> Result<RunOutcome> {
        match self.transact(op::RUN_MAIN, &run_main_payload(addr, argv), Wait::WhileAlive)? {
            Reply::Ok(p) => Ok(RunOutcome::Returned(self.decode("RUN_MAIN", Decoder::new(&p).i32())?)),
            Reply::Ended(how) => Ok(RunOutcome::Ended(how)),
        }
    }

    /// `CALL`: calls `u64 f(u64, ...)` at `addr` with up to 6 integer or
    /// pointer arguments.
    ///
    /// # Errors
    /// When the executor refuses or the connection breaks; when the code
    /// ends the executor (see [`ExecutorClient::ended`]).
    pub fn call(&mut self, addr: u64, args: &[u64]) -> Result<u64> {
        let p = self.expect_ok(op::CALL, &call_payload(addr, args), Wait::WhileAlive)?;
        self.decode("CALL", Decoder::new(&p).u64())
    }

    /// `SHUTDOWN`: the executor runs finalisers and `atexit` handlers and
    /// exits with `status`; returns how it ended.
    ///
    /// # Errors
    /// When the executor was already gone or the connection broke before
    /// it said how it ended.
    pub fn shutdown(&mut self, status: i32) -> Result<Ended> {
        let mut e = Encoder::new();
        e.i32(status);
        match self.transact(op::SHUTDOWN, &e.0, Wait::WhileAlive) {
            Ok(Reply::Ended(how)) => Ok(how),
            Ok(Reply::Ok(_)) => Err(self.err("SHUTDOWN answered OK".into())),
            Err(e) => match &self.ended {
                // No EXITED report (a C library without on_exit): the
                // process's own status says it.
                Some(how @ (Ended::Exited(_) | Ended::Signaled { .. })) => Ok(how.clone()),
                _ => Err(e),
            },
        }
    }
}

impl Drop for ExecutorClient {
    fn drop(&mut self) {
        // Closing the request stream makes an idle executor exit at once.
        drop(self.output.take());
        if self.child.is_some() && self.exit_status.is_none() {
            let deadline = Instant::now() + Duration::from_secs(1);
            while Instant::now() < deadline && self.child_exited().is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.kill();
        }
    }
}

fn run_main_payload(addr: u64, argv: &[String]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.u64(addr).u32(argv.len() as u32);
    for a in argv {
        e.str(a.as_bytes());
    }
    e.0
}

fn call_payload(addr: u64, args: &[u64]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.u64(addr).u32(args.len() as u32);
    for &a in args {
        e.u64(a);
    }
    e.0
}

fn finalize_payload(base: u64, segments: &[(u64, u64, u8, &[u8])], actions: &[Action]) -> (Vec<u8>, Wait) {
    let mut e = Encoder::new();
    e.u64(base).u32(segments.len() as u32);
    for &(a, s, p, c) in segments {
        e.u64(a).u64(s).u8(p).bytes(c);
    }
    e.u32(actions.len() as u32);
    for a in actions {
        let (k, addr) = a.encode();
        e.u8(k).u64(addr).u64(0);
    }
    let wait = if actions.iter().any(|a| a.runs_code()) { Wait::WhileAlive } else { Wait::Bounded };
    (e.0, wait)
}

fn lock(exec: &SharedExecutor) -> MutexGuard<'_, ExecutorClient> {
    exec.lock().unwrap_or_else(|p| p.into_inner())
}

/// One request that may run JIT'd code, serving `LAZY` requests while it
/// waits: the connection is released while the lazy handlers run (they
/// send requests of their own), then `RESUME` is sent.
fn serving(exec: &SharedExecutor, opcode: u8, payload: &[u8], wait: Wait) -> Result<Reply> {
    let handlers = {
        let mut e = lock(exec);
        e.send_frame(opcode, payload, wait)?;
        e.lazy_handlers.clone()
    };
    loop {
        let msg = lock(exec).read_message(opcode, wait)?;
        match msg {
            Msg::Reply(r) => return Ok(r),
            Msg::Lazy(ctx) => {
                let answer =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handlers.iter().find_map(|h| h(ctx))));
                let address = match answer {
                    Ok(Some(Ok(a))) => a,
                    Ok(Some(Err(e))) => {
                        eprintln!("jitlink: lazy call (context {ctx:#x}): {e}");
                        0
                    }
                    Ok(None) => {
                        eprintln!("jitlink: lazy call with unknown context {ctx:#x}: it returns 0");
                        0
                    }
                    Err(_) => {
                        eprintln!("jitlink: internal error: panic while serving a lazy call");
                        0
                    }
                };
                lock(exec).resume(address)?;
            }
        }
    }
}

fn pre_run(exec: &SharedExecutor) -> Result<()> {
    let hooks = lock(exec).pre_run.clone();
    hooks.iter().try_for_each(|h| h())
}

fn expect_ok_serving(exec: &SharedExecutor, opcode: u8, payload: &[u8], wait: Wait) -> Result<Vec<u8>> {
    match serving(exec, opcode, payload, wait)? {
        Reply::Ok(p) => Ok(p),
        Reply::Ended(how) => {
            Err(lock(exec).err(format!("JIT'd code ended the executor during {}: {how}", op::name(opcode))))
        }
    }
}

/// [`ExecutorClient::run_main`], serving `LAZY` requests (version 2) and
/// running the pre-run hooks first.
///
/// # Errors
/// As [`ExecutorClient::run_main`], and a failing pre-run hook.
pub fn run_main(exec: &SharedExecutor, addr: u64, argv: &[String]) -> Result<RunOutcome> {
    pre_run(exec)?;
    match serving(exec, op::RUN_MAIN, &run_main_payload(addr, argv), Wait::WhileAlive)? {
        Reply::Ok(p) => {
            let e = lock(exec);
            Ok(RunOutcome::Returned(e.decode("RUN_MAIN", Decoder::new(&p).i32())?))
        }
        Reply::Ended(how) => Ok(RunOutcome::Ended(how)),
    }
}

/// [`ExecutorClient::call`], serving `LAZY` requests (version 2) and
/// running the pre-run hooks first.
///
/// # Errors
/// As [`ExecutorClient::call`], and a failing pre-run hook.
pub fn call(exec: &SharedExecutor, addr: u64, args: &[u64]) -> Result<u64> {
    pre_run(exec)?;
    let p = expect_ok_serving(exec, op::CALL, &call_payload(addr, args), Wait::WhileAlive)?;
    let e = lock(exec);
    e.decode("CALL", Decoder::new(&p).u64())
}

/// [`ExecutorClient::shutdown`], serving `LAZY` requests (finalisers and
/// `atexit` handlers may call lazy functions) and running the pre-run
/// hooks first.
///
/// # Errors
/// As [`ExecutorClient::shutdown`].
pub fn shutdown(exec: &SharedExecutor, status: i32) -> Result<Ended> {
    pre_run(exec)?;
    let mut e = Encoder::new();
    e.i32(status);
    match serving(exec, op::SHUTDOWN, &e.0, Wait::WhileAlive) {
        Ok(Reply::Ended(how)) => Ok(how),
        Ok(Reply::Ok(_)) => Err(lock(exec).err("SHUTDOWN answered OK".into())),
        Err(err) => match lock(exec).ended.clone() {
            Some(how @ (Ended::Exited(_) | Ended::Signaled { .. })) => Ok(how),
            _ => Err(err),
        },
    }
}

/// [`ExecutorClient::finalize`], serving `LAZY` requests while
/// initialisers run.
///
/// # Errors
/// As [`ExecutorClient::finalize`].
pub fn finalize(
    exec: &SharedExecutor,
    base: u64,
    segments: &[(u64, u64, u8, &[u8])],
    actions: &[Action],
) -> Result<()> {
    let (payload, wait) = finalize_payload(base, segments, actions);
    expect_ok_serving(exec, op::FINALIZE, &payload, wait).map(drop)
}

/// [`ExecutorClient::deallocate`], serving `LAZY` requests while release
/// actions (`__cxa_finalize`) run.
///
/// # Errors
/// As [`ExecutorClient::deallocate`].
pub fn deallocate(exec: &SharedExecutor, address: u64, size: u64) -> Result<()> {
    lock(exec).need_v2("DEALLOCATE")?;
    let mut e = Encoder::new();
    e.u64(address).u64(size);
    expect_ok_serving(exec, op::DEALLOCATE, &e.0, Wait::WhileAlive).map(drop)
}

#[cfg(test)]
mod tests {
    use super::split_command;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split_command(r#"qemu-aarch64 -L /usr/aarch64-linux-gnu './a b' "c \"d\"" e\ f"#),
            vec!["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "./a b", "c \"d\"", "e f"]
        );
        assert!(split_command("   ").is_empty());
    }
}
