//! Patchable call sites, redirection, lazy compilation and reclaiming old
//! code.
//!
//! After fixup every direct call or jump edge to a tracked symbol is
//! recorded as a call site `{ address, kind, binding }`, indexed by target
//! symbol across every link of the session. [`Redirector::redirect`]
//! rewrites each site in place when the new target is within the branch's
//! range, the site can be written atomically (x86-64: the rel32 is 4-byte
//! aligned or inside one aligned 8-byte word) and the [`MemoryPolicy`]
//! allows writing code; otherwise the site goes through the symbol's stub,
//! whose pointer lives in RW data.
//!
//! One stub serves three uses: PLT-style indirection, lazy compilation
//! (the stub first points at a per-symbol re-entry trampoline) and
//! re-optimisation. A redirectable symbol's stub address is its stable
//! identity: every non-call reference (function pointers, GOT entries,
//! [`crate::Session::lookup`]) resolves to the stub, so function-pointer
//! comparisons stay true across redirects.
//!
//! Superseded code is reclaimed through [`epoch::Epochs`].

pub mod encoding;
pub mod epoch;
pub mod stubs;

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::graph::{Interner, LinkGraph, SectionRole, SymbolId};
use crate::memory::code_write::write_field32;
use crate::memory::{JitArena, MemoryPolicy};
pub use encoding::{ArchCode, SiteForm};
use epoch::{Epochs, ThreadHandle};
use hashbrown::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
pub use stubs::Stub;
use stubs::StubPool;

/// How a session redirects.
#[derive(Copy, Clone, Debug)]
pub struct RedirectOptions {
    /// Whether code may be patched after finalize.
    pub policy: MemoryPolicy,
    /// Record call sites to every named function, not only to redirectable
    /// ones. Opting out keeps the table proportional to the call sites of
    /// redirectable symbols.
    pub track_all_calls: bool,
    /// Size of the JIT arena all links and stubs come from (bytes; at most
    /// 1 GiB so every rel32 reaches).
    pub arena_size: u64,
    /// Target architecture (`None`: the host's).
    pub arch: Option<Arch>,
    /// Simulate target memory at this address (a `--noexec` session for
    /// any target: nothing runs, redirects rewrite working memory).
    pub simulate_at: Option<u64>,
}

impl Default for RedirectOptions {
    fn default() -> Self {
        RedirectOptions {
            policy: MemoryPolicy::DoubleMapped,
            track_all_calls: true,
            arena_size: 1 << 30,
            arch: None,
            simulate_at: None,
        }
    }
}

/// Why a call site goes through the stub rather than straight to its target.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StubReason {
    /// The target is beyond the branch's range.
    OutOfRange,
    /// The site cannot be written atomically (x86-64: its rel32 straddles
    /// two aligned 8-byte words).
    Unaligned,
    /// The memory policy forbids writing code (`StrictWX`).
    Policy,
    /// The call is an instruction pair (RISC-V `AUIPC+JALR`), which cannot
    /// be rewritten atomically.
    InstructionPair,
    /// PPC64 ELFv2: a new body may use another TOC, which only the
    /// TOC-saving stub can set up.
    Toc,
}

/// Where a call site currently branches.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Straight to the symbol's current body.
    Direct,
    /// Through the symbol's stub.
    Stub(StubReason),
}

/// A recorded call site.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CallSite {
    /// Target address of the branch's displacement field (x86-64: the rel32).
    pub addr: u64,
    /// The branch instruction.
    pub kind: SiteForm,
    /// Direct or through the stub.
    pub binding: Binding,
    /// The link whose code contains the site.
    pub link: u32,
}

/// What one [`Redirector::redirect`] call did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RedirectReport {
    /// Call sites of the symbols.
    pub sites: usize,
    /// Sites rewritten in place to the new target.
    pub patched: usize,
    /// Sites that go through the stub (whose pointer was updated).
    pub stubbed: usize,
    /// ... of which because the target is out of range.
    pub out_of_range: usize,
    /// ... of which because the site cannot be written atomically.
    pub unaligned: usize,
    /// ... of which because the memory policy forbids writing code.
    pub policy: usize,
    /// ... of which because the site is an instruction pair or needs the
    /// TOC-saving stub (RISC-V `AUIPC+JALR`, PPC64 `bl`).
    pub by_design: usize,
    /// Stubs whose pointer now holds the new target.
    pub stubs_updated: usize,
}

impl std::ops::AddAssign for RedirectReport {
    fn add_assign(&mut self, o: Self) {
        self.sites += o.sites;
        self.patched += o.patched;
        self.stubbed += o.stubbed;
        self.out_of_range += o.out_of_range;
        self.unaligned += o.unaligned;
        self.policy += o.policy;
        self.by_design += o.by_design;
        self.stubs_updated += o.stubs_updated;
    }
}

/// Totals over a session, for `--stats`.
#[derive(Copy, Clone, Debug, Default)]
pub struct Stats {
    /// Stubs created.
    pub stubs: usize,
    /// Call sites recorded.
    pub sites: usize,
    /// Sites bound straight to their target at link time.
    pub linked_direct: usize,
    /// Sites bound to a stub at link time, by reason (in [`StubReason`] order).
    pub linked_stub: [usize; 5],
    /// Every redirect's report, summed.
    pub redirects: RedirectReport,
    /// Lazy symbols materialized.
    pub materialized: usize,
}

/// Produces a lazy symbol's body on its first call: links whatever it
/// needs and returns the body's address.
pub type Materializer = Box<dyn FnOnce() -> Result<u64> + Send>;

/// Told when a materializer fails: the symbol and the error. The call that
/// triggered it then returns 0 (through a function that returns 0).
pub type ErrorCallback = Box<dyn Fn(&str, &Error) + Send + Sync>;

enum LazyState {
    /// Not called yet: the first call runs the materializer.
    Pending(Materializer),
    /// Claimed by a materializer that links its body with others
    /// ([`Redirector::claim_lazy`]): callers wait; its own materializer is
    /// kept for [`Redirector::release_claimed`].
    Claimed(Materializer),
    /// Its materializer is running: callers wait.
    Running,
    /// Materialized (or failed: the failure function's address).
    Done(u64),
}

/// A lazy symbol's context, reached from its trampoline.
pub(crate) struct LazyEntry {
    name: Box<str>,
    redirector: Weak<Redirector>,
    state: Mutex<LazyState>,
    cv: Condvar,
}

struct RSym {
    name: Box<str>,
    stub: Option<Stub>,
    /// The body calls should reach now (0 if not yet defined).
    current: u64,
    sites: Vec<CallSite>,
    lazy: Option<Arc<LazyEntry>>,
}

struct State {
    pool: StubPool,
    by_name: HashMap<Box<str>, usize>,
    /// Names whose call sites are never recorded (helpers every function
    /// calls, such as a profiling hook).
    untracked: hashbrown::HashSet<Box<str>>,
    /// For each link, the symbols that have call sites in it.
    by_link: HashMap<u32, Vec<usize>>,
    syms: Vec<RSym>,
    stats: Stats,
}

/// The session's redirection machinery. Shared (`Arc`) with lazy
/// trampolines and with threads that call [`Redirector::redirect`].
pub struct Redirector {
    arena: Arc<JitArena>,
    code: ArchCode,
    opts: RedirectOptions,
    state: Mutex<State>,
    epochs: Arc<Epochs>,
    on_error: Mutex<Option<ErrorCallback>>,
}

/// Sites and definitions found while binding a link, committed once its
/// fixups succeeded.
pub struct PendingLink {
    sites: Vec<(usize, CallSite)>,
    defined: Vec<(usize, u64)>,
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
core::arch::global_asm!(
    ".globl jitlink_x86_64_lazy_reentry",
    ".hidden jitlink_x86_64_lazy_reentry",
    ".type jitlink_x86_64_lazy_reentry,@function",
    "jitlink_x86_64_lazy_reentry:",
    // Entered by jump from a trampoline with r11 = the LazyEntry and the
    // stack as at the lazy function's entry (rsp = 8 mod 16).
    "push rbp",
    "mov rbp, rsp",
    "push rax",
    "push rdi",
    "push rsi",
    "push rdx",
    "push rcx",
    "push r8",
    "push r9",
    "sub rsp, 136",
    "movdqu [rsp], xmm0",
    "movdqu [rsp + 16], xmm1",
    "movdqu [rsp + 32], xmm2",
    "movdqu [rsp + 48], xmm3",
    "movdqu [rsp + 64], xmm4",
    "movdqu [rsp + 80], xmm5",
    "movdqu [rsp + 96], xmm6",
    "movdqu [rsp + 112], xmm7",
    "mov rdi, r11",
    "call {resolve}",
    "mov r11, rax",
    "movdqu xmm0, [rsp]",
    "movdqu xmm1, [rsp + 16]",
    "movdqu xmm2, [rsp + 32]",
    "movdqu xmm3, [rsp + 48]",
    "movdqu xmm4, [rsp + 64]",
    "movdqu xmm5, [rsp + 80]",
    "movdqu xmm6, [rsp + 96]",
    "movdqu xmm7, [rsp + 112]",
    "add rsp, 136",
    "pop r9",
    "pop r8",
    "pop rcx",
    "pop rdx",
    "pop rsi",
    "pop rdi",
    "pop rax",
    "pop rbp",
    "jmp r11",
    ".size jitlink_x86_64_lazy_reentry, . - jitlink_x86_64_lazy_reentry",
    resolve = sym lazy_resolve,
);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
extern "C" {
    fn jitlink_x86_64_lazy_reentry();
}

fn reentry_address() -> u64 {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        jitlink_x86_64_lazy_reentry as *const () as u64
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        lazy_failed as *const () as u64
    }
}

/// Where a failed lazy symbol's callers land: returns 0.
extern "C" fn lazy_failed() -> u64 {
    0
}

/// Called by the re-entry routine with the lazy symbol's context; returns
/// the address to jump to. Never unwinds.
extern "C" fn lazy_resolve(entry: *const LazyEntry) -> u64 {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the trampoline's context slot holds a pointer to a
        // LazyEntry kept alive by the Redirector's table, which lives as
        // long as the code that can call the trampoline.
        let entry = unsafe { &*entry };
        entry.resolve()
    }));
    match r {
        Ok(a) => a,
        Err(_) => {
            eprintln!("jitlink: internal error: panic while materializing a lazy symbol");
            std::process::abort();
        }
    }
}

impl LazyEntry {
    fn resolve(&self) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match std::mem::replace(&mut *st, LazyState::Running) {
                LazyState::Done(a) => {
                    *st = LazyState::Done(a);
                    return a;
                }
                LazyState::Running => {
                    st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                LazyState::Claimed(m) => {
                    *st = LazyState::Claimed(m);
                    st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                LazyState::Pending(m) => {
                    drop(st);
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(m))
                        .unwrap_or_else(|_| Err(Error::Usage("materializer panicked".into())));
                    let addr = match (result, self.redirector.upgrade()) {
                        (Ok(a), Some(r)) => {
                            r.finish_lazy(&self.name, a);
                            a
                        }
                        (Ok(a), None) => a,
                        (Err(e), r) => {
                            match r.as_ref().map(|r| r.on_error.lock().unwrap_or_else(|e| e.into_inner())) {
                                Some(cb) if cb.is_some() => (cb.as_ref().expect("some"))(&self.name, &e),
                                _ => eprintln!("jitlink: lazy materialization of {} failed: {e}", self.name),
                            }
                            // Out of process, 0 asks the executor for its own
                            // function that returns 0.
                            match r {
                                Some(r) if r.arena.is_remote() => 0,
                                _ => lazy_failed as *const () as u64,
                            }
                        }
                    };
                    let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    *st = LazyState::Done(addr);
                    self.cv.notify_all();
                    return addr;
                }
            }
        }
    }
}

impl Redirector {
    /// A redirector with its own JIT arena.
    ///
    /// # Errors
    /// [`Error::Memory`] when the arena cannot be reserved.
    pub fn new(opts: RedirectOptions) -> Result<Arc<Redirector>> {
        let arch = opts.arch.or_else(Arch::host).ok_or_else(|| Error::Usage("no target architecture".into()))?;
        let arena = match opts.simulate_at {
            Some(base) => JitArena::simulated(base, opts.arena_size)?,
            None => JitArena::new(opts.policy, opts.arena_size)?,
        };
        Self::build(opts, arch, arena)
    }

    /// A redirector over an arena the caller made, typically a remote one
    /// ([`JitArena::remote`], whose target memory is an executor's; see
    /// `crate::oop::remote_redirect_session`). `resolver` is the target
    /// process's lazy resolver, `u64 resolve(u64 context)`, which the
    /// encoded re-entry routine calls with a trampoline's context (the
    /// value [`Redirector::resolve_context`] takes).
    ///
    /// # Errors
    /// [`Error::Usage`] without a target architecture; [`Error::Memory`]
    /// when the re-entry routine cannot be placed.
    pub fn with_arena(opts: RedirectOptions, arena: Arc<JitArena>, resolver: Option<u64>) -> Result<Arc<Redirector>> {
        let arch = opts.arch.or_else(Arch::host).ok_or_else(|| Error::Usage("no target architecture".into()))?;
        let r = Self::build(opts, arch, arena)?;
        if let Some(a) = resolver {
            r.lock().pool.set_resolver(a);
        }
        Ok(r)
    }

    fn build(opts: RedirectOptions, arch: Arch, arena: Arc<JitArena>) -> Result<Arc<Redirector>> {
        let code = ArchCode { arch };
        let host_routine =
            (arena.executable() && arch == Arch::X86_64 && cfg!(target_arch = "x86_64")).then(reentry_address);
        let pool = StubPool::new(arena.clone(), code, host_routine)?;
        Ok(Arc::new(Redirector {
            arena,
            code,
            opts,
            state: Mutex::new(State {
                pool,
                by_name: HashMap::new(),
                untracked: Default::default(),
                by_link: HashMap::new(),
                syms: Vec::new(),
                stats: Stats::default(),
            }),
            epochs: Arc::new(Epochs::default()),
            on_error: Mutex::new(None),
        }))
    }

    /// Sends what changed in a remote arena (new stub pages, slots, patched
    /// call sites) to its target process; nothing for other arenas. Remote
    /// sessions flush at every link, redirect and lazy materialization, and
    /// before running code (see `crate::oop`).
    ///
    /// # Errors
    /// When the target refuses or is gone.
    pub fn flush(&self) -> Result<()> {
        let _st = self.lock();
        self.arena.flush()
    }

    /// Materializes the lazy symbol whose trampoline context is `context`
    /// (what the target's resolver received, for an out-of-process lazy
    /// call) and returns the address to continue at: its body, or 0 when
    /// materialization failed (reported as for an in-process call). The
    /// context is checked against this redirector's lazy symbols, never
    /// dereferenced as given.
    ///
    /// `None` when no lazy symbol of this redirector has that context.
    pub fn resolve_context(&self, context: u64) -> Option<u64> {
        let entry = {
            let st = self.lock();
            st.syms.iter().filter_map(|s| s.lazy.as_ref()).find(|l| Arc::as_ptr(l) as u64 == context).cloned()
        }?;
        Some(entry.resolve())
    }

    /// The arena links must be allocated from (so every site reaches every stub).
    pub fn arena(&self) -> &Arc<JitArena> {
        &self.arena
    }

    /// The options.
    pub fn options(&self) -> RedirectOptions {
        self.opts
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sym_index(st: &mut State, name: &str) -> usize {
        if let Some(&i) = st.by_name.get(name) {
            return i;
        }
        st.syms.push(RSym { name: name.into(), stub: None, current: 0, sites: Vec::new(), lazy: None });
        st.by_name.insert(name.into(), st.syms.len() - 1);
        st.syms.len() - 1
    }

    fn ensure_stub(st: &mut State, i: usize) -> Result<Stub> {
        if let Some(s) = st.syms[i].stub {
            return Ok(s);
        }
        let target = st.syms[i].current;
        let s = st.pool.alloc(target)?;
        st.syms[i].stub = Some(s);
        st.stats.stubs += 1;
        Ok(s)
    }

    /// Makes `name` redirectable: it gets a stub, which becomes its
    /// identity. Call before linking the code that calls it so those call
    /// sites are tracked and, where they cannot be patched, bound to the stub.
    ///
    /// # Errors
    /// [`Error::Memory`] when no stub can be allocated.
    pub fn make_redirectable(&self, name: &str) -> Result<u64> {
        let mut st = self.lock();
        let i = Self::sym_index(&mut st, name);
        Ok(Self::ensure_stub(&mut st, i)?.addr)
    }

    /// Defines `name` lazily: its stub first points at a per-symbol
    /// re-entry trampoline; the first call runs `materializer` exactly once
    /// (concurrent first callers wait), redirects the stub and every call
    /// site to the address it returns, and continues there with the
    /// caller's arguments intact. Returns the stub address (the identity).
    ///
    /// # Errors
    /// [`Error::Memory`] when no stub can be allocated; [`Error::Usage`]
    /// if `name` is already defined.
    pub fn define_lazy(self: &Arc<Self>, name: &str, materializer: Materializer) -> Result<u64> {
        let mut st = self.lock();
        let i = Self::sym_index(&mut st, name);
        if st.syms[i].lazy.is_some() || (st.syms[i].current != 0) {
            return Err(Error::Usage(format!("{name} is already defined")));
        }
        let stub = Self::ensure_stub(&mut st, i)?;
        let entry = Arc::new(LazyEntry {
            name: name.into(),
            redirector: Arc::downgrade(self),
            state: Mutex::new(LazyState::Pending(materializer)),
            cv: Condvar::new(),
        });
        st.pool.set_slot(stub.ctx_slot, Arc::as_ptr(&entry) as u64);
        st.pool.set_slot(stub.slot, stub.trampoline);
        st.syms[i].current = stub.trampoline;
        st.syms[i].lazy = Some(entry);
        Ok(stub.addr)
    }

    /// Sets the callback told about materializer errors.
    pub fn set_error_callback(&self, cb: ErrorCallback) {
        *self.on_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(cb);
    }

    /// The stable identity (stub address) of a redirectable symbol.
    pub fn identity(&self, name: &str) -> Option<u64> {
        let st = self.lock();
        st.by_name.get(name).and_then(|&i| st.syms[i].stub).map(|s| s.addr)
    }

    /// Where calls to `name` go now.
    pub fn current(&self, name: &str) -> Option<u64> {
        let st = self.lock();
        st.by_name.get(name).map(|&i| st.syms[i].current)
    }

    /// The recorded call sites of `name`.
    pub fn call_sites(&self, name: &str) -> Vec<CallSite> {
        let st = self.lock();
        st.by_name.get(name).map(|&i| st.syms[i].sites.clone()).unwrap_or_default()
    }

    /// Totals for `--stats`.
    pub fn stats(&self) -> Stats {
        self.lock().stats
    }

    /// Bytes of arena held by stubs and trampolines.
    pub fn stub_bytes(&self) -> usize {
        self.lock().pool.bytes()
    }

    /// Registers the calling thread as one that runs JIT code (see [`epoch`]).
    pub fn register_thread(&self) -> ThreadHandle {
        self.epochs.register_thread()
    }

    /// The epoch state (for retiring old code).
    pub fn epochs(&self) -> &Arc<Epochs> {
        &self.epochs
    }

    /// Redirects every call to each of `names` to `new_address` (target
    /// address of the new body): call sites are rewritten in place where
    /// allowed, the others go through the symbol's stub, whose pointer is
    /// updated first. Safe while other threads run through the sites.
    ///
    /// # Errors
    /// [`Error::Usage`] for a name the session never saw;
    /// [`Error::Memory`] when a needed stub cannot be allocated.
    pub fn redirect(&self, names: &[&str], new_address: u64) -> Result<RedirectReport> {
        let mut st = self.lock();
        let mut report = RedirectReport::default();
        for name in names {
            let Some(&i) = st.by_name.get(*name) else {
                return Err(Error::Usage(format!("redirect: {name} has no call sites or stub in this session")));
            };
            report += self.redirect_locked(&mut st, i, new_address)?;
        }
        st.stats.redirects += report;
        // A remote arena's patches and slots travel in one batch.
        self.arena.flush()?;
        Ok(report)
    }

    fn redirect_locked(&self, st: &mut State, i: usize, new: u64) -> Result<RedirectReport> {
        let mut rep = RedirectReport::default();
        if let Some(stub) = st.syms[i].stub {
            st.pool.set_slot(stub.slot, new);
            rep.stubs_updated += 1;
        }
        st.syms[i].current = new;
        let nsites = st.syms[i].sites.len();
        rep.sites = nsites;
        for k in 0..nsites {
            let site = st.syms[i].sites[k];
            if let Binding::Stub(reason) = site.binding {
                if reason != StubReason::OutOfRange {
                    rep.stubbed += 1;
                    match reason {
                        StubReason::Unaligned => rep.unaligned += 1,
                        StubReason::Policy => rep.policy += 1,
                        _ => rep.by_design += 1,
                    }
                    continue;
                }
            }
            let current = self.read_site(site.addr)?;
            let binding = match self.code.retarget(site.kind, current, site.addr, new) {
                Some(bytes) => {
                    self.patch(site.addr, bytes)?;
                    rep.patched += 1;
                    Binding::Direct
                }
                None => {
                    let stub = Self::ensure_stub(st, i)?;
                    st.pool.set_slot(stub.slot, new);
                    if site.binding != Binding::Stub(StubReason::OutOfRange) {
                        let bytes = self.code.retarget(site.kind, current, site.addr, stub.addr).ok_or_else(|| {
                            Error::Memory {
                                detail: format!("stub {:#x} out of range of call site {:#x}", stub.addr, site.addr),
                            }
                        })?;
                        self.patch(site.addr, bytes)?;
                    }
                    rep.stubbed += 1;
                    rep.out_of_range += 1;
                    Binding::Stub(StubReason::OutOfRange)
                }
            };
            st.syms[i].sites[k].binding = binding;
        }
        Ok(rep)
    }

    fn read_site(&self, addr: u64) -> Result<[u8; 4]> {
        let alias = self.arena.code_alias(addr, 4).ok_or_else(|| Error::Memory {
            detail: format!("call site {addr:#x}: no readable working view of code (policy {:?})", self.opts.policy),
        })?;
        // SAFETY: alias is the working view of 4 bytes of a recorded call
        // site in a live link.
        Ok(unsafe { std::ptr::read_unaligned(alias.cast::<[u8; 4]>()) })
    }

    fn patch(&self, addr: u64, bytes: [u8; 4]) -> Result<()> {
        let alias = self.arena.code_alias(addr, 4).ok_or_else(|| Error::Memory {
            detail: format!("call site {addr:#x}: no writable alias of code (policy {:?})", self.opts.policy),
        })?;
        // SAFETY: alias is the arena's RW view of the 4 bytes at addr, a
        // rel32 of a call site recorded at link time in a live link (sites
        // of removed links are forgotten), and its 8-byte word is mapped.
        unsafe { write_field32(alias, addr, bytes) }
            .map_err(|_| Error::Memory { detail: format!("call site {addr:#x} cannot be written atomically") })?;
        // A remote target gets the store it can make atomically: the field
        // itself when 4-aligned, else the aligned word or block around it.
        let width = if self.code.arch == Arch::X86_64 {
            crate::memory::code_write::atomic_width(addr).map_or(4, u64::from)
        } else {
            4
        };
        let start = if width == 4 { addr } else { addr & !(width - 1) };
        self.arena.touched((start - self.arena.base()) as usize, width as usize);
        Ok(())
    }

    fn finish_lazy(&self, name: &str, addr: u64) {
        let mut st = self.lock();
        if let Some(&i) = st.by_name.get(name) {
            st.stats.materialized += 1;
            if let Ok(rep) = self.redirect_locked(&mut st, i, addr) {
                st.stats.redirects += rep;
            }
        }
        // Out of process: the callers' new branches reach the executor
        // before it continues at `addr`.
        if let Err(e) = self.arena.flush() {
            eprintln!("jitlink: lazy materialization of {name}: {e}");
        }
    }

    /// Binds a link's branch and address edges to tracked symbols (called
    /// by the session after resolution, before fixup): call edges go
    /// straight to the symbol's current body when the site can be patched
    /// later, else to its stub; non-call references to a redirectable
    /// symbol go to its stub (the identity).
    ///
    /// # Errors
    /// [`Error::Memory`] when a stub cannot be allocated.
    pub fn bind_link(&self, g: &mut LinkGraph<'_>, names: &Interner, arch: Arch, link: u32) -> Result<PendingLink> {
        let mut st = self.lock();
        let mut pending = PendingLink { sites: Vec::new(), defined: Vec::new() };
        // Tracked graph symbols: name → redirect index.
        let mut tracked: HashMap<SymbolId, usize> = HashMap::new();
        for (&n, &s) in g.globals.iter() {
            let sym = &g.symbols[s.index()];
            let known = std::str::from_utf8(names.bytes(n)).ok().and_then(|k| st.by_name.get(k).copied());
            if std::str::from_utf8(names.bytes(n)).is_ok_and(|k| st.untracked.contains(k)) {
                continue;
            }
            let idx = match known {
                Some(i) => i,
                None if self.opts.track_all_calls && sym.callable && g.is_defined_here(s) => {
                    Self::sym_index(&mut st, &names.str(n))
                }
                None => continue,
            };
            tracked.insert(s, idx);
            if g.is_defined_here(s) && sym.block.is_some_and(|b| g.blocks[b.index()].live) {
                pending.defined.push((idx, g.symbol_addr(s)));
            }
        }
        if tracked.is_empty() {
            return Ok(pending);
        }
        let mut abs_cache: HashMap<u64, SymbolId> = HashMap::new();
        let mut abs = |g: &mut LinkGraph<'_>, addr: u64, file| {
            *abs_cache.entry(addr).or_insert_with(|| {
                let s = g.add_absolute(file, addr);
                g.symbols[s.index()].callable = true;
                s
            })
        };
        let x86 = arch == Arch::X86_64;
        let code = self.code;
        for bi in 0..g.blocks.len() {
            if !g.blocks[bi].live || g.blocks[bi].edges.is_empty() {
                continue;
            }
            let role = g.sections[g.blocks[bi].section.index()].role;
            let file = g.sections[g.blocks[bi].section.index()].file;
            let in_stub_block = role == SectionRole::Stubs;
            for ei in 0..g.blocks[bi].edges.len() {
                let e = g.blocks[bi].edges[ei];
                let fin = g.final_target(e.target);
                let Some(&ri) = tracked.get(&fin) else { continue };
                let blk = &g.blocks[bi];
                let is_branch_kind = arch.is_branch(e.kind) || (x86 && e.kind == crate::arch::x86_64::edges::DELTA32);
                let form = if is_branch_kind && !in_stub_block {
                    blk.bytes().and_then(|b| code.site_form(b, e.offset as usize))
                } else {
                    None
                };
                let insn: [u8; 4] = blk
                    .bytes()
                    .and_then(|b| b.get(e.offset as usize..e.offset as usize + 4))
                    .and_then(|b| b.try_into().ok())
                    .unwrap_or([0; 4]);
                let stub = st.syms[ri].stub;
                if let Some(kind) = form {
                    let addr = blk.addr + u64::from(e.offset);
                    let body = if g.is_defined_here(fin) { g.symbol_addr(fin) } else { st.syms[ri].current };
                    if body == 0 {
                        // Not defined anywhere yet (a redirectable name
                        // declared ahead): leave the edge as resolved.
                        continue;
                    }
                    let binding = match stub {
                        None => Binding::Direct,
                        Some(_) if self.opts.policy == MemoryPolicy::StrictWX => Binding::Stub(StubReason::Policy),
                        Some(_) => match code.unpatchable(kind, addr) {
                            Some(reason) => Binding::Stub(reason),
                            None if code.retarget(kind, insn, addr, body).is_none() => {
                                Binding::Stub(StubReason::OutOfRange)
                            }
                            None => Binding::Direct,
                        },
                    };
                    let Some(new_kind) = code.branch_kind(kind, binding == Binding::Direct) else {
                        // This backend cannot bind such a site (e.g. a PPC64
                        // tail call): it keeps its own stub, untracked.
                        continue;
                    };
                    let dest = match (binding, stub) {
                        (Binding::Stub(_), Some(s)) => s.addr,
                        _ => body,
                    };
                    let t = abs(g, dest, file);
                    let edge = &mut g.blocks[bi].edges[ei];
                    edge.target = t;
                    edge.kind = new_kind;
                    pending.sites.push((ri, CallSite { addr, kind, binding, link }));
                } else if let (Some(s), true) = (stub, e.target == fin) {
                    let t = abs(g, s.addr, file);
                    g.blocks[bi].edges[ei].target = t;
                }
            }
        }
        Ok(pending)
    }

    /// Records a bound link's call sites and definitions after its fixups
    /// succeeded: defined redirectable symbols' stubs point at their new
    /// bodies, and lazy symbols defined by the link are done.
    /// Returns what redirecting earlier callers to this link's definitions
    /// did (new versions of redirectable symbols, lazy bodies).
    pub fn commit_link(&self, pending: PendingLink) -> RedirectReport {
        let mut st = self.lock();
        let mut report = RedirectReport::default();
        for (i, site) in pending.sites {
            match site.binding {
                Binding::Direct => st.stats.linked_direct += 1,
                Binding::Stub(r) => st.stats.linked_stub[r as usize] += 1,
            }
            st.stats.sites += 1;
            let link = site.link;
            if st.syms[i].sites.last().is_none_or(|c| c.link != link) {
                st.by_link.entry(link).or_default().push(i);
            }
            st.syms[i].sites.push(site);
        }
        for (i, body) in pending.defined {
            let body = self.entry_point(body);
            if let Some(lazy) = st.syms[i].lazy.clone() {
                // Defined by a link: lazy callers go straight to the body,
                // and callers waiting on a claim (see claim_lazy) wake up.
                let mut ls = lazy.state.lock().unwrap_or_else(|e| e.into_inner());
                if matches!(*ls, LazyState::Pending(_) | LazyState::Claimed(_) | LazyState::Running) {
                    *ls = LazyState::Done(body);
                    lazy.cv.notify_all();
                }
            }
            if st.syms[i].current == 0 {
                // First definition: its sites were bound to this body.
                st.syms[i].current = body;
                if let Some(stub) = st.syms[i].stub {
                    st.pool.set_slot(stub.slot, body);
                }
            } else if st.syms[i].current != body {
                // A new definition (a lazy body, a new version): callers follow.
                if let Ok(rep) = self.redirect_locked(&mut st, i, body) {
                    st.stats.redirects += rep;
                    report += rep;
                }
            }
        }
        report
    }

    /// Marks `name` as untracked: call sites to it are not recorded by
    /// later links (a helper every function calls, e.g. a counter hook),
    /// so the table stays proportional to the calls that may be redirected.
    pub fn set_untracked(&self, name: &str) {
        self.lock().untracked.insert(name.into());
    }

    /// Claims lazy symbols for a materializer that is about to link their
    /// bodies itself (e.g. a batch of functions): each still-pending
    /// symbol's own materializer is set aside (not run), and callers that
    /// reach its trampoline meanwhile wait until a link defines it,
    /// [`Redirector::release_claimed`] gives it back or
    /// [`Redirector::fail_claimed`] gives up. Returns, per name, whether it
    /// was claimed (false: unknown, not lazy, claimed, running or done).
    pub fn claim_lazy(&self, names: &[&str]) -> Vec<bool> {
        self.step_lazy(names, |s| match s {
            LazyState::Pending(m) => (LazyState::Claimed(m), true),
            other => (other, false),
        })
    }

    /// Gives claimed lazy symbols that no link defined back: pending again
    /// with their own materializers, which the next (or a waiting) caller
    /// runs. For a materializer that claimed more than it could link (a
    /// speculative compilation that was abandoned).
    pub fn release_claimed(&self, names: &[&str]) {
        self.step_lazy(names, |s| match s {
            LazyState::Claimed(m) => (LazyState::Pending(m), true),
            other => (other, false),
        });
    }

    /// Gives up claimed lazy symbols whose link failed: their waiting and
    /// future callers get the failure path (the call returns 0).
    pub fn fail_claimed(&self, names: &[&str]) {
        self.step_lazy(names, |s| match s {
            LazyState::Claimed(_) => (LazyState::Done(lazy_failed as *const () as u64), true),
            other => (other, false),
        });
    }

    /// Moves the lazy state of each of `names` by `step` (new state, and
    /// whether it changed) and wakes the callers waiting on a changed one;
    /// returns per name whether it changed (false for a name that is not a
    /// lazy symbol).
    fn step_lazy(&self, names: &[&str], step: impl Fn(LazyState) -> (LazyState, bool)) -> Vec<bool> {
        let st = self.lock();
        names
            .iter()
            .map(|n| {
                let Some(lazy) = st.by_name.get(*n).and_then(|&i| st.syms[i].lazy.as_ref()) else { return false };
                let mut ls = lazy.state.lock().unwrap_or_else(|e| e.into_inner());
                let (next, changed) = step(std::mem::replace(&mut *ls, LazyState::Running));
                *ls = next;
                if changed {
                    lazy.cv.notify_all();
                }
                changed
            })
            .collect()
    }

    /// Forgets the call sites inside a link (when it is removed).
    pub fn forget_link(&self, link: u32) {
        let mut st = self.lock();
        for i in st.by_link.remove(&link).unwrap_or_default() {
            st.syms[i].sites.retain(|c| c.link != link);
        }
    }

    /// True if a tracked symbol's current target lies in one of `ranges`
    /// (`[start, end)` target addresses), i.e. code there is still in use.
    pub fn targets_into(&self, ranges: &[(u64, u64)]) -> Option<String> {
        let st = self.lock();
        st.syms
            .iter()
            .find(|s| {
                ranges
                    .iter()
                    .any(|&(a, b)| s.current >= a && s.current < b && (s.stub.is_some() || !s.sites.is_empty()))
            })
            .map(|s| s.name.to_string())
    }

    /// Reads the target a call site branches to now (for tests and checks);
    /// 0 if the site's bytes cannot be read or decoded.
    pub fn site_target(&self, site: &CallSite) -> u64 {
        if site.kind == SiteForm::RvCallPair {
            let pair = self.read_site(site.addr).ok().zip(self.read_site(site.addr + 4).ok());
            return pair
                .and_then(|(a, b)| {
                    let mut bytes = [0u8; 8];
                    bytes[..4].copy_from_slice(&a);
                    bytes[4..].copy_from_slice(&b);
                    self.code.decode_pair(bytes, site.addr)
                })
                .unwrap_or(0);
        }
        self.read_site(site.addr).ok().and_then(|b| self.code.decode(site.kind, b, site.addr)).unwrap_or(0)
    }

    /// A function's address as a stub slot must hold it (the global entry
    /// point; the same address on every target but kept as a hook).
    fn entry_point(&self, body: u64) -> u64 {
        body
    }

    /// The redirection pool for the link dump: its memory ranges, and
    /// `(symbol, address, size, flavour)` for every stub (`redirect`), lazy
    /// trampoline (`lazy-trampoline`) and the re-entry routine (`reentry`).
    pub fn dump_info(&self) -> RedirectDump {
        let st = self.lock();
        let mut stubs = Vec::new();
        for s in &st.syms {
            if let Some(stub) = s.stub {
                stubs.push((s.name.to_string(), stub.addr, self.code.stub_size() as u64, "redirect"));
                if s.lazy.is_some() {
                    stubs.push((
                        s.name.to_string(),
                        stub.trampoline,
                        self.code.trampoline_size() as u64,
                        "lazy-trampoline",
                    ));
                }
            }
        }
        if st.pool.reentry() != 0 && !self.arena.executable() {
            stubs.push((String::new(), st.pool.reentry(), 0, "reentry"));
        }
        RedirectDump { memory: st.pool.memory(), stubs }
    }

    /// The value of a stub or context slot (for tests of simulated pools).
    pub fn slot_value(&self, slot: u64) -> u64 {
        self.lock().pool.get_slot(slot)
    }

    /// The stub (identity, trampoline and slots) of a symbol, if it has one.
    pub fn stub(&self, name: &str) -> Option<Stub> {
        let st = self.lock();
        st.by_name.get(name).and_then(|&i| st.syms[i].stub)
    }

    /// The target architecture's encodings.
    pub fn code(&self) -> ArchCode {
        self.code
    }
}

/// The redirection pool as the link dump shows it.
#[derive(Debug, Default)]
pub struct RedirectDump {
    /// `(target address, bytes)` ranges of the pool.
    pub memory: Vec<(u64, Vec<u8>)>,
    /// `(symbol, address, size, flavour)` of every stub and trampoline.
    pub stubs: Vec<(String, u64, u64, &'static str)>,
}
