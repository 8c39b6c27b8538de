//! `jitlink-executor`: the process that runs code the `jitlink` controller
//! links out of process (protocol version 2, and 1 on request,
//! `docs/executor-protocol.md`; the portable C twin is
//! `executor-c/executor.c`).
//!
//! Usage: `jitlink-executor` (protocol on standard input and output) or
//! `jitlink-executor --listen HOST:PORT|unix:PATH` (one connection).
//!
//! The executor owns the memory JIT'd code runs in: it reserves it, copies
//! the linked bytes in at finalize, applies protections, registers
//! `.eh_frame`, runs initialisers and the entry point, and reports how the
//! code ended (return value, `exit` status, or fatal signal). Version 2:
//! a reservation may be finalized piecewise (a JIT arena) and deallocated
//! by ranges, and lazy trampolines call [`lazy_resolve`], which asks the
//! controller for the body (`LAZY`) and serves its requests until
//! `RESUME`.
//!
//! Reentrancy: requests may arrive while JIT'd code runs (inside the lazy
//! resolver), so the executor's state is behind a lock that is never held
//! while JIT'd code runs.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// The protocol version this executor speaks (and every older one).
const VERSION: u32 = 2;
/// Largest frame accepted.
const MAX_FRAME: u32 = 1 << 30;

/// Request and reply codes (see the protocol document).
mod op {
    pub const HELLO: u8 = 0x01;
    pub const RESERVE: u8 = 0x02;
    pub const RELEASE: u8 = 0x03;
    pub const WRITE: u8 = 0x04;
    pub const READ: u8 = 0x05;
    pub const FINALIZE: u8 = 0x06;
    pub const LOOKUP: u8 = 0x07;
    pub const RUN_MAIN: u8 = 0x08;
    pub const CALL: u8 = 0x09;
    pub const SHUTDOWN: u8 = 0x0a;
    pub const RESUME: u8 = 0x0b;
    pub const DEALLOCATE: u8 = 0x0c;
    pub const OK: u8 = 0x80;
    pub const ERROR: u8 = 0x81;
    pub const EXITED: u8 = 0x82;
    pub const FAULT: u8 = 0x83;
    pub const LAZY: u8 = 0x84;
}

/// FINALIZE action kinds.
mod act {
    pub const REGISTER_EH_FRAME: u8 = 1;
    pub const CALL_INIT: u8 = 2;
    pub const AT_EXIT: u8 = 3;
    pub const CXA_FINALIZE_AT_RELEASE: u8 = 4;
}

#[cfg(target_arch = "x86_64")]
const TRIPLE: &str = "x86_64-unknown-linux-gnu";
#[cfg(target_arch = "aarch64")]
const TRIPLE: &str = "aarch64-unknown-linux-gnu";
#[cfg(target_arch = "riscv64")]
const TRIPLE: &str = "riscv64-unknown-linux-gnu";
#[cfg(all(target_arch = "powerpc64", target_endian = "little"))]
const TRIPLE: &str = "powerpc64le-unknown-linux-gnu";
#[cfg(all(target_arch = "powerpc64", target_endian = "big"))]
const TRIPLE: &str = "powerpc64-unknown-linux-gnu";
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64", target_arch = "powerpc64")))]
const TRIPLE: &str = "unknown-unknown-linux-gnu";

/// The Debian multiarch directory name of this target's libraries.
const MULTIARCH: &str = if cfg!(target_arch = "x86_64") {
    "x86_64-linux-gnu"
} else if cfg!(target_arch = "aarch64") {
    "aarch64-linux-gnu"
} else if cfg!(target_arch = "riscv64") {
    "riscv64-linux-gnu"
} else {
    "powerpc64le-linux-gnu"
};

/// Where replies go (read by the signal and exit handlers).
static PROTO_OUT: AtomicI32 = AtomicI32::new(-1);
/// Where requests come from (read by the lazy resolver too).
static PROTO_IN: AtomicI32 = AtomicI32::new(-1);

/// Exit-time finalisers: `(reservation sequence, finalize group, functions)`
/// of every live group. Never locked while JIT'd code runs, so `exit` from
/// JIT'd code can take it.
static AT_EXIT: Mutex<Vec<(u64, u64, Vec<u64>)>> = Mutex::new(Vec::new());

/// The executor's state; never locked while JIT'd code runs.
static STATE: Mutex<Executor> =
    Mutex::new(Executor { hello: false, page: 4096, resvs: Vec::new(), libs: Vec::new(), next_seq: 1 });

fn state() -> MutexGuard<'static, Executor> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

extern "C" {
    static environ: *const *const c_char;
    fn at_quick_exit(f: extern "C" fn()) -> c_int;
}

#[cfg(target_env = "gnu")]
extern "C" {
    fn on_exit(f: extern "C" fn(c_int, *mut c_void), arg: *mut c_void) -> c_int;
}

// ------------------------------------------------------------------ I/O

fn write_all(fd: c_int, mut b: &[u8]) -> bool {
    while !b.is_empty() {
        // SAFETY: b is a live slice; write reads at most b.len() bytes.
        let w = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
        if w < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        b = &b[w as usize..];
    }
    true
}

fn read_all(fd: c_int, b: &mut [u8]) -> bool {
    let mut at = 0;
    while at < b.len() {
        // SAFETY: the destination is the unfilled tail of b.
        let r = unsafe { libc::read(fd, b[at..].as_mut_ptr().cast(), b.len() - at) };
        if r < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        if r == 0 {
            return false;
        }
        at += r as usize;
    }
    true
}

/// A reply payload under construction.
#[derive(Default)]
struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn str(&mut self, s: &[u8]) -> &mut Self {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s);
        self
    }
    fn bytes(&mut self, s: &[u8]) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s);
        self
    }
}

/// Sends one message; a controller that went away ends the executor.
fn send(opcode: u8, payload: &[u8]) {
    let mut m = Vec::with_capacity(5 + payload.len());
    m.extend_from_slice(&(payload.len() as u32 + 1).to_le_bytes());
    m.push(opcode);
    m.extend_from_slice(payload);
    if !write_all(PROTO_OUT.load(Ordering::Relaxed), &m) {
        // SAFETY: _exit ends the process at once; nothing to clean up.
        unsafe { libc::_exit(0) };
    }
}

/// The result of a request: an `OK` payload or an `ERROR` message.
type Reply = Result<Out, String>;

/// A request payload being decoded.
struct Rd<'a> {
    p: &'a [u8],
}

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.p.len() < n {
            return Err("malformed request (payload too short)".into());
        }
        let (a, b) = self.p.split_at(n);
        self.p = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn str(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u64()?;
        self.take(usize::try_from(n).map_err(|_| "malformed request (length)".to_string())?)
    }
    fn count(&mut self) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n > self.p.len() {
            return Err("malformed request (count)".into());
        }
        Ok(n)
    }
}

// ------------------------------------------------------- signals, exit

fn signal_name(sig: c_int) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGABRT => "SIGABRT",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGSYS => "SIGSYS",
        _ => "signal",
    }
}

/// Reports a fatal signal to the controller, then dies of it. Only
/// async-signal-safe calls: no allocation, `write`, `signal`, `raise`.
extern "C" fn on_fault(sig: c_int, info: *mut libc::siginfo_t, _uc: *mut c_void) {
    let name = signal_name(sig).as_bytes();
    let mut addr = 0u64;
    if !info.is_null() && matches!(sig, libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers,
        // and these signals carry si_addr.
        addr = unsafe { (*info).si_addr() } as u64;
    }
    let mut m = [0u8; 64];
    let n = 1 + 4 + 8 + 4 + name.len();
    m[..4].copy_from_slice(&(n as u32).to_le_bytes());
    m[4] = op::FAULT;
    m[5..9].copy_from_slice(&sig.to_le_bytes());
    m[9..17].copy_from_slice(&addr.to_le_bytes());
    m[17..21].copy_from_slice(&(name.len() as u32).to_le_bytes());
    m[21..21 + name.len()].copy_from_slice(name);
    let fd = PROTO_OUT.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe; m is a live stack buffer.
        unsafe { libc::write(fd, m.as_ptr().cast(), 4 + n) };
    }
    // SAFETY: restoring the default action and re-raising is how a handler
    // lets the signal end the process; both are async-signal-safe.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

fn install_fault_handlers() {
    static mut ALT_STACK: [u8; 1 << 16] = [0; 1 << 16];
    // SAFETY: the alternate stack is a static buffer used only by signal
    // handlers of this thread; sigaction gets a fully initialised struct.
    unsafe {
        let ss = libc::stack_t { ss_sp: std::ptr::addr_of_mut!(ALT_STACK).cast(), ss_flags: 0, ss_size: 1 << 16 };
        libc::sigaltstack(&ss, std::ptr::null_mut());
        for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT, libc::SIGTRAP, libc::SIGSYS]
        {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_fault as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESETHAND;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        // Like a native program (Rust ignores SIGPIPE by default).
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Reports the exit status (glibc's `on_exit` tells it).
#[cfg(target_env = "gnu")]
extern "C" fn report_exit(status: c_int, _arg: *mut c_void) {
    let mut m = [0u8; 9];
    m[..4].copy_from_slice(&5u32.to_le_bytes());
    m[4] = op::EXITED;
    m[5..].copy_from_slice(&status.to_le_bytes());
    let fd = PROTO_OUT.load(Ordering::Relaxed);
    if fd >= 0 {
        write_all(fd, &m);
    }
}

/// Runs every live link's exit-time finalisers, latest link first
/// (reservations latest first, and the finalizes of each latest first).
extern "C" fn run_at_exit() {
    let mut lists = std::mem::take(&mut *AT_EXIT.lock().unwrap_or_else(|e| e.into_inner()));
    lists.sort_by_key(|&(r, g, _)| (r, g));
    for (_, _, fns) in lists.into_iter().rev() {
        for f in fns {
            // SAFETY: AT_EXIT holds finaliser addresses the controller gave
            // in FINALIZE for code that is still mapped (RELEASE drops them).
            let func: extern "C" fn() = unsafe { std::mem::transmute::<usize, extern "C" fn()>(f as usize) };
            func();
        }
    }
}

// --------------------------------------------------------------- memory

/// One RESERVE.
struct Resv {
    base: usize,
    len: usize,
    /// Order of creation (exit-time finalisers run latest first).
    seq: u64,
    /// Its live FINALIZEs, in order (version 1: at most one).
    groups: Vec<Group>,
}

/// What one FINALIZE made of part of a reservation.
struct Group {
    id: u64,
    /// (address, size, PROT_* flags) of each segment.
    segs: Vec<(usize, usize, c_int)>,
    /// Release actions (kind, address), run in reverse at RELEASE or
    /// DEALLOCATE.
    release: Vec<(u8, u64)>,
}

/// Copies `data` to `addr`: one atomic store for 4 bytes at a 4-aligned
/// address (a patched branch) or 8 at an 8-aligned one (a stub slot), so
/// a thread running the code sees the old or the new value, never a mix.
fn store(addr: usize, data: &[u8]) {
    use std::sync::atomic::{AtomicU32, AtomicU64};
    match data.len() {
        // SAFETY: addr is 4-aligned, mapped writable (the caller checked
        // the range and made it writable).
        4 if addr % 4 == 0 => unsafe { AtomicU32::from_ptr(addr as *mut u32) }
            .store(u32::from_ne_bytes(data.try_into().expect("4 bytes")), Ordering::Release),
        // SAFETY: as above, 8-aligned.
        8 if addr % 8 == 0 => unsafe { AtomicU64::from_ptr(addr as *mut u64) }
            .store(u64::from_ne_bytes(data.try_into().expect("8 bytes")), Ordering::Release),
        // SAFETY: the caller checked the range lies in a reservation and
        // made it writable.
        _ => unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), addr as *mut u8, data.len()) },
    }
}

fn flush_icache(start: usize, len: usize) {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    {
        let _ = (start, len);
        std::sync::atomic::fence(Ordering::SeqCst);
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
    {
        extern "C" {
            fn __clear_cache(a: *mut c_char, b: *mut c_char);
        }
        // SAFETY: [start, start+len) is mapped memory of a reservation.
        unsafe { __clear_cache(start as *mut c_char, (start + len) as *mut c_char) };
    }
}

fn sym(name: &CStr) -> usize {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) as usize }
}

/// A runtime entry point, opening libgcc_s for the frame registration API.
fn runtime_fn(name: &CStr) -> usize {
    let p = sym(name);
    if p != 0 || !name.to_bytes().ends_with(b"register_frame") {
        return p;
    }
    // SAFETY: dlopen/dlsym with NUL-terminated names; the handle is kept.
    unsafe {
        let h = libc::dlopen(c"libgcc_s.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
        if h.is_null() {
            0
        } else {
            libc::dlsym(h, name.as_ptr()) as usize
        }
    }
}

/// Maps `len` RW bytes at exactly `hint`.
fn map_at(hint: usize, len: usize) -> bool {
    // SAFETY: MAP_FIXED_NOREPLACE never replaces a mapping; a mapping
    // elsewhere is undone.
    unsafe {
        let p = libc::mmap(
            hint as *mut c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE | libc::MAP_NORESERVE,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return false;
        }
        if p as usize != hint {
            libc::munmap(p, len);
            return false;
        }
    }
    true
}

/// Maps `len` RW bytes anywhere (with `extra` flags), aligned to `align`.
fn map_anywhere(len: usize, align: usize, extra: c_int) -> Option<usize> {
    let total = len + align;
    // SAFETY: a fresh anonymous mapping, trimmed to the aligned range.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            total,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | extra,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return None;
        }
        let p = p as usize;
        let a = (p + align - 1) & !(align - 1);
        if a > p {
            libc::munmap(p as *mut c_void, a - p);
        }
        if p + total > a + len {
            libc::munmap((a + len) as *mut c_void, p + total - a - len);
        }
        Some(a)
    }
}

/// Reserves `len` bytes: below 2 GiB, or within ±2 GiB of the C library.
fn reserve_memory(len: usize, align: usize, low: bool) -> Option<usize> {
    let step = 32usize << 20;
    let limit = 1usize << 31;
    if low {
        let mut at = 0x1000_0000usize;
        while at + len < limit {
            let a = (at + align - 1) & !(align - 1);
            if a + len < limit && map_at(a, len) {
                return Some(a);
            }
            at += step;
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(a) = map_anywhere(len, align, libc::MAP_32BIT).filter(|&a| a + len <= limit) {
            return Some(a);
        }
        return None;
    }
    let anchor = match sym(c"stdout") {
        0 => libc::malloc as *const () as usize,
        p => p,
    };
    for k in 1..48usize {
        if anchor > k * step + len {
            let below = (anchor - k * step - len) & !(align - 1);
            if below > 0 && anchor - below < limit - (64 << 20) && map_at(below, len) {
                return Some(below);
            }
        }
        let above = (anchor + k * step + align - 1) & !(align - 1);
        if above + len - anchor < limit - (64 << 20) && map_at(above, len) {
            return Some(above);
        }
    }
    map_anywhere(len, align, 0)
}

// ------------------------------------------------------------- executor

/// A request's name.
fn op_name(opcode: u8) -> Option<&'static str> {
    const NAMES: [&str; 12] = [
        "HELLO",
        "RESERVE",
        "RELEASE",
        "WRITE",
        "READ",
        "FINALIZE",
        "LOOKUP",
        "RUN_MAIN",
        "CALL",
        "SHUTDOWN",
        "RESUME",
        "DEALLOCATE",
    ];
    NAMES.get(usize::from(opcode).checked_sub(1)?).copied()
}

/// Runs release actions (already in the order to run), with no lock held:
/// `__cxa_finalize` runs JIT'd destructors.
fn run_release_actions(actions: &[(u8, u64)]) {
    for &(kind, addr) in actions {
        let f = match kind {
            act::REGISTER_EH_FRAME => runtime_fn(c"__deregister_frame"),
            _ => sym(c"__cxa_finalize"),
        };
        if f != 0 {
            // SAFETY: __deregister_frame(const void *) on a run a FINALIZE
            // registered / __cxa_finalize(void *) on a link's __dso_handle,
            // while its memory is still mapped.
            let func: extern "C" fn(u64) = unsafe { std::mem::transmute::<usize, extern "C" fn(u64)>(f) };
            func(addr);
        }
    }
}

/// Runs FINALIZE actions in order, with no lock held (initialisers are
/// JIT'd code and may call lazy functions, which come back here).
fn run_finalize_actions(resv_seq: u64, group: u64, actions: &[(u8, u64)]) {
    for &(kind, addr) in actions {
        match kind {
            act::REGISTER_EH_FRAME => {
                let f = runtime_fn(c"__register_frame");
                // SAFETY: __register_frame(const void *) on the start of a
                // zero-terminated .eh_frame run in finalized memory (the
                // controller vouches for it; checked present at parse).
                let func: extern "C" fn(u64) = unsafe { std::mem::transmute::<usize, extern "C" fn(u64)>(f) };
                func(addr);
            }
            act::CALL_INIT => {
                // SAFETY: an initialiser (void(void)) of the link just
                // finalized; running it is what the controller asked.
                let func: extern "C" fn() = unsafe { std::mem::transmute::<usize, extern "C" fn()>(addr as usize) };
                func();
            }
            act::AT_EXIT => {
                let mut l = AT_EXIT.lock().unwrap_or_else(|e| e.into_inner());
                match l.iter_mut().find(|(_, g, _)| *g == group) {
                    Some((_, _, fns)) => fns.push(addr),
                    None => l.push((resv_seq, group, vec![addr])),
                }
            }
            _ => {} // CXA_FINALIZE_AT_RELEASE: recorded at parse
        }
    }
}

/// Requests that run JIT'd code, dispatched with no lock held; the others
/// take the state lock for their whole (code-free) work.
fn dispatch(opcode: u8, r: &mut Rd<'_>) -> Reply {
    // Testing aid: JITLINK_EXECUTOR_STALL=NAME never answers that request.
    if let Ok(stall) = std::env::var("JITLINK_EXECUTOR_STALL") {
        if op_name(opcode) == Some(stall.as_str()) {
            eprintln!("jitlink-executor: stalling at {stall} (pid {})", std::process::id());
            loop {
                // SAFETY: pause has no preconditions.
                unsafe { libc::pause() };
            }
        }
    }
    if !state().hello && opcode != op::HELLO {
        return Err(format!("expected HELLO first, got request {opcode:#04x}"));
    }
    match opcode {
        op::HELLO => state().hello(r),
        op::RESERVE => state().reserve(r),
        op::RELEASE => {
            let (base, len, actions) = state().release(r)?;
            run_release_actions(&actions);
            // SAFETY: base/len was a mapping this executor created for the
            // reservation, which is gone from the table.
            unsafe { libc::munmap(base as *mut c_void, len) };
            Ok(Out::default())
        }
        op::DEALLOCATE => {
            let (addr, len, actions) = state().deallocate(r)?;
            run_release_actions(&actions);
            // Fresh zeroed read-write pages, as after RESERVE.
            // SAFETY: [addr, addr+len) is page aligned inside a live
            // reservation whose FINALIZEs there were just released.
            let p = unsafe {
                libc::mmap(
                    addr as *mut c_void,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(format!("DEALLOCATE: mmap failed: {}", std::io::Error::last_os_error()));
            }
            Ok(Out::default())
        }
        op::WRITE => state().write(r),
        op::READ => state().read(r),
        op::FINALIZE => {
            let (seq, group, actions) = state().finalize(r)?;
            run_finalize_actions(seq, group, &actions);
            Ok(Out::default())
        }
        op::LOOKUP => state().lookup(r),
        op::RUN_MAIN => run_main(r),
        op::CALL => call(r),
        op::SHUTDOWN => {
            let status = r.u32()? as c_int;
            // SAFETY: exit runs the exit handlers (finalisers, EXITED
            // report) and ends the process.
            unsafe { libc::exit(status) }
        }
        op::RESUME => Err("RESUME without a pending LAZY".into()),
        _ => Err(format!("unknown request {opcode:#04x}")),
    }
}

/// Reads and serves requests; with `until_resume`, returns the address of
/// the first `RESUME`. Ends the process when the controller goes away.
fn serve(until_resume: bool) -> u64 {
    let pin = PROTO_IN.load(Ordering::Relaxed);
    loop {
        let mut h = [0u8; 4];
        if !read_all(pin, &mut h) {
            // SAFETY: the controller went away: end without running anything.
            unsafe { libc::_exit(0) };
        }
        let len = u32::from_le_bytes(h);
        if len == 0 || len > MAX_FRAME {
            let mut o = Out::default();
            o.str(format!("bad frame length {len}: closing").as_bytes());
            send(op::ERROR, &o.0);
            // SAFETY: the stream cannot be resynchronised; end the process.
            unsafe { libc::_exit(2) };
        }
        let mut body = vec![0u8; len as usize];
        if !read_all(pin, &mut body) {
            // SAFETY: as above.
            unsafe { libc::_exit(0) };
        }
        let mut r = Rd { p: &body[1..] };
        if body[0] == op::RESUME && until_resume {
            match r.u64() {
                Ok(a) => return a,
                Err(msg) => {
                    let mut o = Out::default();
                    o.str(format!("RESUME: {msg}").as_bytes());
                    send(op::ERROR, &o.0);
                    continue;
                }
            }
        }
        match dispatch(body[0], &mut r) {
            Ok(o) => send(op::OK, &o.0),
            Err(msg) => {
                let mut o = Out::default();
                o.str(msg.as_bytes());
                send(op::ERROR, &o.0);
            }
        }
    }
}

/// One thread at a time talks to the controller from inside JIT'd code;
/// the same thread may re-enter (an initialiser run while serving calls
/// another lazy function).
static RESOLVER: Mutex<Option<(std::thread::ThreadId, usize)>> = Mutex::new(None);
static RESOLVER_FREE: Condvar = Condvar::new();

struct ResolverTurn;

impl ResolverTurn {
    fn take() -> ResolverTurn {
        let me = std::thread::current().id();
        let mut g = RESOLVER.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match *g {
                None => {
                    *g = Some((me, 1));
                    return ResolverTurn;
                }
                Some((t, ref mut depth)) if t == me => {
                    *depth += 1;
                    return ResolverTurn;
                }
                Some(_) => g = RESOLVER_FREE.wait(g).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }
}

impl Drop for ResolverTurn {
    fn drop(&mut self) {
        let mut g = RESOLVER.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, depth)) = g.as_mut() {
            *depth -= 1;
            if *depth == 0 {
                *g = None;
                RESOLVER_FREE.notify_one();
            }
        }
    }
}

/// Where a lazy call whose materialization failed continues: returns 0.
extern "C" fn lazy_failed() -> u64 {
    0
}

/// The lazy resolver (bootstrap symbol `__jitlink_lazy_resolve`), called
/// by the re-entry routine with a trampoline's context: sends `LAZY
/// context`, serves the controller's requests (the link of the body, the
/// redirection of its callers) until `RESUME address`, and returns the
/// address to continue at. `errno` is preserved.
extern "C" fn lazy_resolve(context: u64) -> u64 {
    let r = std::panic::catch_unwind(|| {
        let _turn = ResolverTurn::take();
        // SAFETY: __errno_location returns this thread's errno.
        let saved = unsafe { *libc::__errno_location() };
        let mut o = Out::default();
        o.u64(context);
        send(op::LAZY, &o.0);
        let addr = serve(true);
        // SAFETY: as above.
        unsafe { *libc::__errno_location() = saved };
        addr
    });
    match r {
        Ok(0) => lazy_failed as *const () as u64,
        Ok(a) => a,
        Err(_) => {
            eprintln!("jitlink-executor: internal error in the lazy resolver");
            std::process::abort();
        }
    }
}

/// FINALIZE actions or release actions, `(kind, address)`, in the order
/// to run.
type Actions = Vec<(u8, u64)>;

/// A range taken out of the table (`address`, `length`) and the release
/// actions to run before its pages go.
type Freed = (usize, usize, Actions);

/// Everything the executor keeps between requests.
struct Executor {
    hello: bool,
    page: usize,
    resvs: Vec<Resv>,
    libs: Vec<(Vec<u8>, usize)>,
    /// Next reservation sequence / finalize group number.
    next_seq: u64,
}

impl Executor {
    fn round_page(&self, n: usize) -> usize {
        (n + self.page - 1) & !(self.page - 1)
    }

    fn containing(&self, addr: u64, len: u64) -> Option<usize> {
        self.resvs.iter().position(|r| {
            let (b, l) = (r.base as u64, r.len as u64);
            addr >= b && len <= l && addr - b <= l - len
        })
    }

    fn hello(&mut self, r: &mut Rd<'_>) -> Reply {
        let v = r.u32()?;
        // Testing aid: JITLINK_EXECUTOR_MAX_VERSION=1 behaves as a version-1 executor.
        let max = std::env::var("JITLINK_EXECUTOR_MAX_VERSION")
            .ok()
            .and_then(|m| m.trim().parse::<u32>().ok())
            .map_or(VERSION, |m| m.clamp(1, VERSION));
        if !(1..=max).contains(&v) {
            return Err(format!("protocol version {v} is not supported (this executor speaks versions 1 to {max})"));
        }
        self.hello = true;
        let mut o = Out::default();
        o.u32(v).str(TRIPLE.as_bytes()).u64(self.page as u64).u8(std::mem::size_of::<usize>() as u8);
        o.u8(cfg!(target_endian = "big") as u8).u32(std::process::id());
        let names: [&CStr; 10] = [
            c"__register_frame",
            c"__deregister_frame",
            c"__cxa_atexit",
            c"__cxa_finalize",
            c"atexit",
            c"exit",
            c"dlopen",
            c"dlsym",
            c"malloc",
            c"free",
        ];
        let mut found: Vec<(&CStr, usize)> = names
            .iter()
            .map(|&n| (n, if n == c"atexit" { libc::atexit as *const () as usize } else { runtime_fn(n) }))
            .filter(|&(_, a)| a != 0)
            .collect();
        found.push((c"__jitlink_lazy_resolve", lazy_resolve as *const () as usize));
        o.u32(found.len() as u32);
        for (n, a) in found {
            o.str(n.to_bytes()).u64(a as u64);
        }
        Ok(o)
    }

    fn reserve(&mut self, r: &mut Rd<'_>) -> Reply {
        let (size, align, flags) = (r.u64()?, r.u64()?, r.u32()?);
        if !align.is_power_of_two() || align > 1 << 30 {
            return Err(format!("RESERVE: alignment {align} is not a power of two up to 1 GiB"));
        }
        if size == 0 || size > 1 << 40 {
            return Err(format!("RESERVE: bad size {size}"));
        }
        let align = (align as usize).max(self.page);
        let len = self.round_page(size as usize);
        let low = flags & 1 != 0;
        let base = reserve_memory(len, align, low).ok_or_else(|| {
            format!(
                "RESERVE: cannot map {len} bytes{}: {}",
                if low { " below 2 GiB" } else { "" },
                std::io::Error::last_os_error()
            )
        })?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.resvs.push(Resv { base, len, seq, groups: Vec::new() });
        let mut o = Out::default();
        o.u64(base as u64);
        Ok(o)
    }

    /// RELEASE: takes the reservation out of the table; returns its range
    /// and release actions (every group's, latest first) to run.
    fn release(&mut self, r: &mut Rd<'_>) -> Result<Freed, String> {
        let base = r.u64()?;
        let i = self
            .resvs
            .iter()
            .position(|v| v.base as u64 == base)
            .ok_or_else(|| format!("RELEASE: no reservation at {base:#x}"))?;
        let v = self.resvs.remove(i);
        AT_EXIT.lock().unwrap_or_else(|e| e.into_inner()).retain(|&(s, _, _)| s != v.seq);
        let actions = v.groups.iter().rev().flat_map(|g| g.release.iter().rev().copied()).collect();
        Ok((v.base, v.len, actions))
    }

    /// DEALLOCATE: takes the groups inside the range out of the table;
    /// returns the page-rounded range and their release actions.
    fn deallocate(&mut self, r: &mut Rd<'_>) -> Result<Freed, String> {
        let (addr, size) = (r.u64()?, r.u64()?);
        let ri = self
            .containing(addr, size)
            .ok_or_else(|| format!("DEALLOCATE: [{addr:#x}, +{size}) is not in memory this executor reserved"))?;
        if addr % self.page as u64 != 0 {
            return Err(format!("DEALLOCATE: {addr:#x} is not page aligned"));
        }
        let (lo, hi) = (addr as usize, addr as usize + self.round_page(size as usize));
        let v = &mut self.resvs[ri];
        if hi > v.base + v.len {
            return Err(format!("DEALLOCATE: [{addr:#x}, +{size}) runs past its reservation"));
        }
        let inside = |g: &Group| g.segs.iter().all(|&(a, s, _)| a >= lo && a + s <= hi);
        let touches = |g: &Group| g.segs.iter().any(|&(a, s, _)| a < hi && a + s > lo);
        if let Some(g) = v.groups.iter().find(|g| touches(g) && !inside(g)) {
            return Err(format!(
                "DEALLOCATE: [{addr:#x}, +{size}) cuts through the segments of an earlier FINALIZE (at {:#x})",
                g.segs.first().map_or(0, |s| s.0)
            ));
        }
        let (gone, kept): (Vec<Group>, Vec<Group>) = v.groups.drain(..).partition(|g| touches(g));
        v.groups = kept;
        let ids: Vec<u64> = gone.iter().map(|g| g.id).collect();
        AT_EXIT.lock().unwrap_or_else(|e| e.into_inner()).retain(|(_, g, _)| !ids.contains(g));
        let actions = gone.iter().rev().flat_map(|g| g.release.iter().rev().copied()).collect();
        Ok((lo, hi - lo, actions))
    }

    /// The protection of the finalized segment holding `addr` (read-write
    /// outside every segment).
    fn prot_at(&self, ri: usize, addr: usize) -> c_int {
        self.resvs[ri]
            .groups
            .iter()
            .flat_map(|g| g.segs.iter())
            .find(|&&(a, s, _)| addr >= a && addr - a < self.round_page(s))
            .map_or(libc::PROT_READ | libc::PROT_WRITE, |&(_, _, p)| p)
    }

    fn write(&mut self, r: &mut Rd<'_>) -> Reply {
        let n = r.count()?;
        let mut ranges = Vec::with_capacity(n);
        for _ in 0..n {
            let addr = r.u64()?;
            let data = r.bytes()?;
            let ri = self.containing(addr, data.len() as u64).ok_or_else(|| {
                format!("WRITE: [{addr:#x}, +{}) is not in memory this executor reserved", data.len())
            })?;
            ranges.push((ri, addr as usize, data));
        }
        for (ri, addr, data) in ranges {
            if data.is_empty() {
                continue;
            }
            let prot = self.prot_at(ri, addr) | self.prot_at(ri, addr + data.len() - 1);
            let lo = addr & !(self.page - 1);
            let hi = self.round_page(addr + data.len());
            let locked = prot & libc::PROT_WRITE == 0;
            // SAFETY: [lo, hi) lies in a reservation (checked above) whose
            // pages this executor maps; the copy stays inside it.
            unsafe {
                if locked && libc::mprotect(lo as *mut c_void, hi - lo, libc::PROT_READ | libc::PROT_WRITE) != 0 {
                    return Err(format!("WRITE: mprotect failed: {}", std::io::Error::last_os_error()));
                }
                store(addr, data);
                if locked {
                    libc::mprotect(lo as *mut c_void, hi - lo, prot & !libc::PROT_WRITE);
                }
            }
            if locked && prot & libc::PROT_EXEC != 0 {
                flush_icache(addr, data.len());
            }
        }
        Ok(Out::default())
    }

    fn read(&mut self, r: &mut Rd<'_>) -> Reply {
        let (addr, len) = (r.u64()?, r.u64()?);
        self.containing(addr, len)
            .ok_or_else(|| format!("READ: [{addr:#x}, +{len}) is not in memory this executor reserved"))?;
        // SAFETY: the range lies inside a live reservation, which is
        // mapped and readable (every segment protection includes read).
        let data = unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len as usize) };
        let mut o = Out::default();
        o.bytes(data);
        Ok(o)
    }

    /// FINALIZE: checks everything, copies the segments in and protects
    /// them, records the group; returns the reservation's sequence, the
    /// group and the actions to run (with no lock held).
    fn finalize(&mut self, r: &mut Rd<'_>) -> Result<(u64, u64, Actions), String> {
        let base = r.u64()?;
        let ri = self
            .resvs
            .iter()
            .position(|v| v.base as u64 == base)
            .ok_or_else(|| format!("FINALIZE: no reservation at {base:#x}"))?;
        let (vbase, vlen) = (self.resvs[ri].base as u64, self.resvs[ri].len as u64);
        let nseg = r.count()?;
        let mut segs = Vec::with_capacity(nseg);
        for _ in 0..nseg {
            let (addr, size, prot, content) = (r.u64()?, r.u64()?, r.u8()?, r.bytes()?);
            if size > vlen
                || addr < vbase
                || addr - vbase > vlen - size
                || addr % self.page as u64 != 0
                || content.len() as u64 > size
            {
                return Err(format!(
                    "FINALIZE: segment [{addr:#x}, +{size}) with {} bytes of content does not fit reservation \
                     [{vbase:#x}, +{vlen}) on page boundaries",
                    content.len()
                ));
            }
            if prot & 6 == 6 || prot & !7 != 0 {
                return Err(format!("FINALIZE: protection {prot} is not allowed (never write and execute)"));
            }
            let (lo, hi) = (addr as usize, addr as usize + self.round_page(size as usize));
            let hits = |a: usize, s: usize| s > 0 && size > 0 && a < hi && a + self.round_page(s) > lo;
            let earlier = self.resvs[ri].groups.iter().flat_map(|g| g.segs.iter()).any(|&(a, s, _)| hits(a, s))
                || segs.iter().any(|&(a, s, _, _)| hits(a, s));
            if earlier {
                return Err(format!(
                    "FINALIZE: segment [{addr:#x}, +{size}) overlaps a segment already finalized (deallocate it first)"
                ));
            }
            let p = if prot & 1 != 0 { libc::PROT_READ } else { 0 }
                | if prot & 2 != 0 { libc::PROT_WRITE } else { 0 }
                | if prot & 4 != 0 { libc::PROT_EXEC } else { 0 };
            segs.push((addr as usize, size as usize, p, content));
        }
        let nact = r.count()?;
        let mut actions = Vec::with_capacity(nact);
        for _ in 0..nact {
            let (kind, addr, _arg) = (r.u8()?, r.u64()?, r.u64()?);
            if !(1..=4).contains(&kind) {
                return Err(format!("FINALIZE: unknown action kind {kind}"));
            }
            if kind == act::REGISTER_EH_FRAME && runtime_fn(c"__register_frame") == 0 {
                return Err("FINALIZE: this executor has no __register_frame (libgcc_s) to register .eh_frame".into());
            }
            actions.push((kind, addr));
        }
        for &(addr, size, _, content) in &segs {
            // SAFETY: the segment lies inside the reservation (checked) on
            // pages no live FINALIZE holds: read-write since RESERVE or
            // DEALLOCATE.
            unsafe {
                std::ptr::copy_nonoverlapping(content.as_ptr(), addr as *mut u8, content.len());
                std::ptr::write_bytes((addr + content.len()) as *mut u8, 0, size - content.len());
            }
        }
        for &(addr, size, prot, _) in &segs {
            if size == 0 {
                continue;
            }
            let len = self.round_page(size);
            // SAFETY: page-aligned range inside the reservation.
            if unsafe { libc::mprotect(addr as *mut c_void, len, prot) } != 0 {
                return Err(format!(
                    "FINALIZE: mprotect of [{addr:#x}, +{len}) failed: {}",
                    std::io::Error::last_os_error()
                ));
            }
            if prot & libc::PROT_EXEC != 0 {
                flush_icache(addr, size);
            }
        }
        let id = self.next_seq;
        self.next_seq += 1;
        // Release actions are recorded now, in order; the others run after
        // the state lock is released.
        let release = actions
            .iter()
            .copied()
            .filter(|&(k, _)| k == act::REGISTER_EH_FRAME || k == act::CXA_FINALIZE_AT_RELEASE)
            .collect();
        let v = &mut self.resvs[ri];
        v.groups.push(Group { id, segs: segs.iter().map(|&(a, s, p, _)| (a, s, p)).collect(), release });
        Ok((v.seq, id, actions))
    }

    fn lookup(&mut self, r: &mut Rd<'_>) -> Reply {
        let nl = r.count()?;
        for _ in 0..nl {
            let name = r.str()?;
            if self.libs.iter().any(|(n, _)| n == name) {
                continue;
            }
            let h = open_library(name)?;
            self.libs.push((name.to_vec(), h));
        }
        let nn = r.count()?;
        let mut o = Out::default();
        o.u32(nn as u32);
        for _ in 0..nn {
            let name = r.str()?;
            let Ok(c) = CString::new(name) else {
                o.u64(0);
                continue;
            };
            let mut p = 0usize;
            for &(_, h) in &self.libs {
                // SAFETY: h is a live dlopen handle; c is NUL-terminated.
                p = unsafe { libc::dlsym(h as *mut c_void, c.as_ptr()) } as usize;
                if p != 0 {
                    break;
                }
            }
            if p == 0 {
                p = sym(&c);
            }
            if p == 0 {
                // Functions of libc_nonshared.a: the executor's own copies.
                p = match name {
                    b"atexit" => libc::atexit as *const () as usize,
                    b"at_quick_exit" => at_quick_exit as *const () as usize,
                    b"pthread_atfork" => libc::pthread_atfork as *const () as usize,
                    _ => 0,
                };
            }
            o.u64(p as u64);
        }
        Ok(o)
    }
}

fn dl_open(name: &[u8]) -> usize {
    let Ok(c) = CString::new(name) else { return 0 };
    // SAFETY: dlopen with a NUL-terminated name; handles are never closed.
    unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) as usize }
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated thread-local string.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown error".into()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

/// Opens a library by path (with a `/`) or by `-l` name.
fn open_library(name: &[u8]) -> Result<usize, String> {
    let shown = String::from_utf8_lossy(name).into_owned();
    if name.contains(&b'/') {
        return match dl_open(name) {
            0 => Err(format!("LOOKUP: cannot open {shown}: {}", dl_error())),
            h => Ok(h),
        };
    }
    let known: &[(&[u8], &[u8])] = &[
        (b"m", b"libm.so.6"),
        (b"c", b"libc.so.6"),
        (b"dl", b"libdl.so.2"),
        (b"pthread", b"libpthread.so.0"),
        (b"rt", b"librt.so.1"),
        (b"stdc++", b"libstdc++.so.6"),
        (b"gcc_s", b"libgcc_s.so.1"),
        (b"util", b"libutil.so.1"),
    ];
    if let Some(&(_, so)) = known.iter().find(|(n, _)| *n == name) {
        if let h @ 1.. = dl_open(so) {
            return Ok(h);
        }
    }
    if let h @ 1.. = dl_open(format!("lib{shown}.so").as_bytes()) {
        return Ok(h);
    }
    let err = dl_error();
    let prefix = format!("lib{shown}.so.");
    let mut dirs: Vec<String> = std::env::var("LD_LIBRARY_PATH")
        .map(|p| p.split(':').filter(|d| !d.is_empty()).map(String::from).collect())
        .unwrap_or_default();
    for d in
        ["/lib64", "/usr/lib64", &format!("/lib/{MULTIARCH}"), &format!("/usr/lib/{MULTIARCH}"), "/lib", "/usr/lib"]
    {
        dirs.push(d.to_string());
    }
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        let mut found: Vec<String> = rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|f| f.strip_prefix(&prefix).is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())))
            .collect();
        found.sort();
        for f in found {
            if let h @ 1.. = dl_open(format!("{d}/{f}").as_bytes()) {
                return Ok(h);
            }
        }
    }
    Err(format!("LOOKUP: cannot open library -l{shown}: {err}"))
}

fn run_main(r: &mut Rd<'_>) -> Reply {
    let addr = r.u64()?;
    let argc = r.count()?;
    let mut args = Vec::with_capacity(argc);
    for _ in 0..argc {
        let a = r.str()?;
        args.push(CString::new(a).map_err(|_| "RUN_MAIN: argument contains NUL".to_string())?);
    }
    if addr == 0 {
        return Err("RUN_MAIN: entry point at address 0".into());
    }
    // The strings stay alive for the rest of the process: the program may
    // keep argv pointers past main (atexit handlers).
    let args: &'static [CString] = Vec::leak(args);
    let mut argv: Vec<*const c_char> = args.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    let argv: &'static [*const c_char] = Vec::leak(argv);
    type Main = extern "C" fn(c_int, *const *const c_char, *const *const c_char) -> c_int;
    // SAFETY: the controller names `main` of a finalized link; environ is
    // the C library's environment pointer.
    let status = unsafe {
        let main: Main = std::mem::transmute::<usize, Main>(addr as usize);
        main(argc as c_int, argv.as_ptr(), environ)
    };
    let mut o = Out::default();
    o.u32(status as u32);
    Ok(o)
}

fn call(r: &mut Rd<'_>) -> Reply {
    let addr = r.u64()? as usize;
    let n = r.u32()? as usize;
    if n > 6 {
        return Err(format!("CALL: {n} arguments (at most 6)"));
    }
    let mut a = [0u64; 6];
    for v in a.iter_mut().take(n) {
        *v = r.u64()?;
    }
    if addr == 0 {
        return Err("CALL: function at address 0".into());
    }
    // SAFETY: the controller names a function of a finalized link taking
    // `n` integer or pointer arguments and returning an integer.
    let v = unsafe {
        use std::mem::transmute as t;
        match n {
            0 => t::<usize, extern "C" fn() -> u64>(addr)(),
            1 => t::<usize, extern "C" fn(u64) -> u64>(addr)(a[0]),
            2 => t::<usize, extern "C" fn(u64, u64) -> u64>(addr)(a[0], a[1]),
            3 => t::<usize, extern "C" fn(u64, u64, u64) -> u64>(addr)(a[0], a[1], a[2]),
            4 => t::<usize, extern "C" fn(u64, u64, u64, u64) -> u64>(addr)(a[0], a[1], a[2], a[3]),
            5 => t::<usize, extern "C" fn(u64, u64, u64, u64, u64) -> u64>(addr)(a[0], a[1], a[2], a[3], a[4]),
            _ => {
                t::<usize, extern "C" fn(u64, u64, u64, u64, u64, u64) -> u64>(addr)(a[0], a[1], a[2], a[3], a[4], a[5])
            }
        }
    };
    let mut o = Out::default();
    o.u64(v);
    Ok(o)
}

// ---------------------------------------------------------------- setup

/// Accepts one connection on `addr` (`HOST:PORT`, `unix:PATH` or a path).
fn listen_once(addr: &str) -> Result<c_int, String> {
    use std::os::fd::IntoRawFd;
    let path = addr.strip_prefix("unix:").or(addr.contains('/').then_some(addr));
    if let Some(path) = path {
        let _ = std::fs::remove_file(path);
        let l = std::os::unix::net::UnixListener::bind(path).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let (s, _) = l.accept().map_err(|e| format!("accept failed: {e}"))?;
        let _ = std::fs::remove_file(path);
        return Ok(s.into_raw_fd());
    }
    let l = std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    if let Ok(a) = l.local_addr() {
        eprintln!("jitlink-executor: listening on {a}");
    }
    let (s, _) = l.accept().map_err(|e| format!("accept failed: {e}"))?;
    let _ = s.set_nodelay(true);
    Ok(s.into_raw_fd())
}

/// Moves the protocol off standard input/output and gives the program its
/// own (`JITLINK_EXECUTOR_STDIO=IN,OUT`, else /dev/null and stderr).
fn setup_pipes() -> (c_int, c_int) {
    // SAFETY: plain descriptor operations on this process's own fds.
    unsafe {
        let pin = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 10);
        let pout = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 10);
        if pin < 0 || pout < 0 {
            eprintln!("jitlink-executor: cannot duplicate the protocol descriptors");
            libc::_exit(70);
        }
        let fds = std::env::var("JITLINK_EXECUTOR_STDIO").ok().and_then(|s| {
            let (a, b) = s.split_once(',')?;
            Some((a.trim().parse::<c_int>().ok()?, b.trim().parse::<c_int>().ok()?))
        });
        match fds {
            Some((i, o)) if i >= 0 && o >= 0 => {
                libc::dup2(i, 0);
                libc::dup2(o, 1);
                if i > 2 {
                    libc::close(i);
                }
                if o > 2 && o != i {
                    libc::close(o);
                }
            }
            _ => {
                let n = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
                if n >= 0 {
                    libc::dup2(n, 0);
                    if n > 2 {
                        libc::close(n);
                    }
                }
                libc::dup2(2, 1);
            }
        }
        std::env::remove_var("JITLINK_EXECUTOR_STDIO");
        (pin, pout)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (pin, pout) = match args.as_slice() {
        [_] => setup_pipes(),
        [_, flag, addr] if flag == "--listen" => match listen_once(addr) {
            Ok(fd) => {
                // SAFETY: fd is the accepted connection, owned here.
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
                (fd, fd)
            }
            Err(e) => {
                eprintln!("jitlink-executor: {e}");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("usage: jitlink-executor [--listen HOST:PORT | --listen unix:PATH]");
            std::process::exit(2);
        }
    };
    PROTO_OUT.store(pout, Ordering::Relaxed);
    PROTO_IN.store(pin, Ordering::Relaxed);
    install_fault_handlers();
    // SAFETY: registering plain extern "C" handlers: the EXITED report
    // first (runs last), then the finaliser runner.
    unsafe {
        #[cfg(target_env = "gnu")]
        on_exit(report_exit, std::ptr::null_mut());
        libc::atexit(run_at_exit);
    }
    // SAFETY: sysconf has no preconditions.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        p if p > 0 => p as usize,
        _ => 4096,
    };
    state().page = page;
    serve(false);
}
