//! The executor protocol's codec: op codes, payload encoding and decoding
//! (`docs/executor-protocol.md`, version 2, which keeps version 1 as a
//! subset). Every integer is little-endian; a frame is `u32 length`,
//! `u8 op`, payload.

/// The protocol version the controller speaks (it falls back to
/// [`MIN_VERSION`] with an executor that refuses it).
pub const VERSION: u32 = 2;

/// The oldest version the controller still speaks.
pub const MIN_VERSION: u32 = 1;

/// The bootstrap symbol of a version-2 executor's lazy resolver,
/// `u64 resolve(u64 context)`: it sends `LAZY context` and serves requests
/// until `RESUME address`, then returns the address.
pub const LAZY_RESOLVER: &str = "__jitlink_lazy_resolve";

/// Largest frame either side accepts (bytes after the length field).
pub const MAX_FRAME: u32 = 1 << 30;

/// Request op codes (controller to executor).
pub mod op {
    /// Handshake: `u32 version`.
    pub const HELLO: u8 = 0x01;
    /// `u64 size, u64 align, u32 flags` → `u64 address`.
    pub const RESERVE: u8 = 0x02;
    /// `u64 address`.
    pub const RELEASE: u8 = 0x03;
    /// `(u64 address, bytes)*`.
    pub const WRITE: u8 = 0x04;
    /// `u64 address, u64 length` → `bytes`.
    pub const READ: u8 = 0x05;
    /// `u64 reservation, segments, actions`.
    pub const FINALIZE: u8 = 0x06;
    /// `str* libraries, str* names` → `u64* addresses`.
    pub const LOOKUP: u8 = 0x07;
    /// `u64 address, str* argv` → `i32 status`.
    pub const RUN_MAIN: u8 = 0x08;
    /// `u64 address, u64* args` → `u64 result`.
    pub const CALL: u8 = 0x09;
    /// `i32 status` → `EXITED`.
    pub const SHUTDOWN: u8 = 0x0a;
    /// Version 2: `u64 address`, the answer to a `LAZY` (no reply).
    pub const RESUME: u8 = 0x0b;
    /// Version 2: `u64 address, u64 size` of a reservation: release what
    /// the `FINALIZE`s inside it registered, reset its pages.
    pub const DEALLOCATE: u8 = 0x0c;
    /// Reply: success, with the request's result.
    pub const OK: u8 = 0x80;
    /// Reply: `str message`; the request had no effect.
    pub const ERROR: u8 = 0x81;
    /// Reply: `i32 status`; the executor is exiting.
    pub const EXITED: u8 = 0x82;
    /// Reply: `i32 signal, u64 address, str name`; the executor dies of it.
    pub const FAULT: u8 = 0x83;
    /// Version 2, from the executor while JIT'd code runs: `u64 context`
    /// of a lazy trampoline; the controller sends requests, then `RESUME`.
    pub const LAZY: u8 = 0x84;

    /// The name of a request op, for messages.
    pub fn name(op: u8) -> &'static str {
        match op {
            HELLO => "HELLO",
            RESERVE => "RESERVE",
            RELEASE => "RELEASE",
            WRITE => "WRITE",
            READ => "READ",
            FINALIZE => "FINALIZE",
            LOOKUP => "LOOKUP",
            RUN_MAIN => "RUN_MAIN",
            CALL => "CALL",
            SHUTDOWN => "SHUTDOWN",
            RESUME => "RESUME",
            DEALLOCATE => "DEALLOCATE",
            _ => "unknown request",
        }
    }
}

/// `RESERVE` flag: every address below 2 GiB.
pub const RESERVE_LOW_2GIB: u32 = 1;

/// `FINALIZE` segment protection bits.
pub mod prot {
    /// Readable.
    pub const READ: u8 = 1;
    /// Writable.
    pub const WRITE: u8 = 2;
    /// Executable.
    pub const EXEC: u8 = 4;
}

/// A `FINALIZE` runtime action.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `__register_frame(address)`; deregistered at `RELEASE`.
    RegisterEhFrame(u64),
    /// Call `void address(void)` now (an initialiser).
    CallInit(u64),
    /// Call `void address(void)` when the executor exits (a finaliser).
    AtExit(u64),
    /// `__cxa_finalize(address)` at `RELEASE` (the link's `__dso_handle`).
    CxaFinalizeAtRelease(u64),
}

impl Action {
    /// `(kind, address)` as encoded.
    pub fn encode(self) -> (u8, u64) {
        match self {
            Action::RegisterEhFrame(a) => (1, a),
            Action::CallInit(a) => (2, a),
            Action::AtExit(a) => (3, a),
            Action::CxaFinalizeAtRelease(a) => (4, a),
        }
    }

    /// True for actions that run JIT'd code at once.
    pub fn runs_code(self) -> bool {
        matches!(self, Action::CallInit(_) | Action::RegisterEhFrame(_))
    }
}

/// Builds a payload.
#[derive(Default, Debug, Clone)]
pub struct Encoder(pub Vec<u8>);

impl Encoder {
    /// An empty payload.
    pub fn new() -> Self {
        Encoder(Vec::new())
    }
    /// Appends a `u8`.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends an `i32`.
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Appends a `str` (`u32` length, bytes).
    pub fn str(&mut self, s: &[u8]) -> &mut Self {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s);
        self
    }
    /// Appends `bytes` (`u64` length, bytes).
    pub fn bytes(&mut self, s: &[u8]) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s);
        self
    }
}

/// Reads a payload; every getter fails with a message on a short payload.
#[derive(Debug)]
pub struct Decoder<'a> {
    rest: &'a [u8],
}

impl<'a> Decoder<'a> {
    /// Starts reading `p`.
    pub fn new(p: &'a [u8]) -> Self {
        Decoder { rest: p }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!("reply too short ({} bytes left, {n} needed)", self.rest.len()));
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }
    /// A `u8`.
    ///
    /// # Errors
    /// When the payload is too short.
    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    /// A `u32`.
    ///
    /// # Errors
    /// When the payload is too short.
    pub fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default()))
    }
    /// An `i32`.
    ///
    /// # Errors
    /// When the payload is too short.
    pub fn i32(&mut self) -> Result<i32, String> {
        Ok(self.u32()? as i32)
    }
    /// A `u64`.
    ///
    /// # Errors
    /// When the payload is too short.
    pub fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap_or_default()))
    }
    /// A `str` (lossily decoded).
    ///
    /// # Errors
    /// When the payload is too short.
    pub fn str(&mut self) -> Result<String, String> {
        let n = self.u32()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    /// `bytes`.
    ///
    /// # Errors
    /// When the payload is too short.
    pub fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u64()?;
        self.take(usize::try_from(n).map_err(|_| "length overflows".to_string())?)
    }
    /// A count of following items, bounded by the bytes left.
    ///
    /// # Errors
    /// When the payload is too short or the count impossible.
    pub fn count(&mut self) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n > self.rest.len() {
            return Err(format!("count {n} exceeds the {} bytes left", self.rest.len()));
        }
        Ok(n)
    }
}

/// What the executor said in its handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Protocol version.
    pub version: u32,
    /// Target triple the executor runs (`aarch64-unknown-linux-gnu`, ...).
    pub triple: String,
    /// Page size in bytes.
    pub page_size: u64,
    /// Pointer size in bytes.
    pub pointer_size: u8,
    /// True for big-endian targets.
    pub big_endian: bool,
    /// The executor's process id (in its own namespace).
    pub pid: u32,
    /// Bootstrap symbols (runtime entry points) by name.
    pub symbols: Vec<(String, u64)>,
}

impl Hello {
    /// Decodes a `HELLO` reply.
    ///
    /// # Errors
    /// A message when the payload is malformed.
    pub fn decode(p: &[u8]) -> Result<Hello, String> {
        let mut d = Decoder::new(p);
        let version = d.u32()?;
        let triple = d.str()?;
        let page_size = d.u64()?;
        let pointer_size = d.u8()?;
        let big_endian = d.u8()? != 0;
        let pid = d.u32()?;
        let n = d.count()?;
        let mut symbols = Vec::with_capacity(n);
        for _ in 0..n {
            let name = d.str()?;
            symbols.push((name, d.u64()?));
        }
        if !page_size.is_power_of_two() {
            return Err(format!("page size {page_size} is not a power of two"));
        }
        Ok(Hello { version, triple, page_size, pointer_size, big_endian, pid, symbols })
    }

    /// A bootstrap symbol's address.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.iter().find(|(n, _)| n == name).map(|&(_, a)| a)
    }
}

/// A frame: the length prefix, op and payload, ready to send.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(5 + payload.len());
    m.extend_from_slice(&(payload.len() as u32 + 1).to_le_bytes());
    m.push(opcode);
    m.extend_from_slice(payload);
    m
}

/// The name of a signal number (Linux numbering), for messages.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        31 => "SIGSYS",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_round_trip() {
        let mut e = Encoder::new();
        e.u32(1).str(b"aarch64-unknown-linux-gnu").u64(4096).u8(8).u8(0).u32(42);
        e.u32(1).str(b"malloc").u64(0x1234);
        let h = Hello::decode(&e.0).unwrap();
        assert_eq!(h.triple, "aarch64-unknown-linux-gnu");
        assert_eq!(h.symbol("malloc"), Some(0x1234));
        assert!(Hello::decode(&e.0[..10]).is_err());
    }

    #[test]
    fn frames_are_length_prefixed() {
        assert_eq!(frame(op::HELLO, &[1, 0, 0, 0]), vec![5, 0, 0, 0, 1, 1, 0, 0, 0]);
    }
}
