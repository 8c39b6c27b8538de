//! The tiered driver: lazy tier-0 partitions with counters, background
//! tier-1 recompilation, redirection and retirement through jitlink.

use crate::compile::{self, Level};
use crate::error::{Error, Result};
use crate::program::{FnInfo, Program, Tier0Probes, COUNTERS, EDGES, HOOK};
use inkwell::context::Context;
use jitlink::memory::MemoryPolicy;
use jitlink::redirect::{RedirectOptions, RedirectReport};
use jitlink::session::{LinkId, LinkOptions, Session, SessionOptions};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Default entry-count threshold (see README.md, "Thresholds").
pub const DEFAULT_THRESHOLD: u64 = 100;
/// Delay (ms) of tier-1 work after the last tier-0 compilation when the
/// compile threads share cores with the program (see
/// [`Options::default_tier_up_delay_ms`]).
pub const DEFAULT_TIER_UP_DELAY_MS: u64 = 50;
/// Default back-edge threshold, as a multiple of the entry threshold: loop
/// iterations at tier 0 that trigger a recompilation of the function that
/// runs them (see README.md, "Thresholds").
pub const BACKEDGE_FACTOR: u64 = 160;
/// A callee larger than this (instructions of -O0 IR) is never copied for inlining.
pub const MAX_INLINEE_SIZE: u32 = 600;
/// At most this many instructions of callees are copied into one tier-1 partition.
pub const INLINE_BUDGET: u32 = 6000;
/// Callee depth followed when copying bodies for inlining.
pub const INLINE_DEPTH: u32 = 3;
/// Constant globals up to this size are copied `available_externally` into
/// tier-1 partitions (so loads from them fold).
pub const CONST_COPY_LIMIT: u64 = 4096;

/// Fixed cost of a tier-1 compilation in instruction equivalents (module
/// and pipeline setup, linking), for the queue order.
pub const COMPILE_OVERHEAD: f64 = 200.0;

/// Initial estimate of tier-1 compile CPU time per instruction equivalent
/// (ns; measured ~20-35 µs at -O2 on this project's programs), until
/// compilations have been measured.
pub const COMPILE_NS_PER_INST: f64 = 30_000.0;
/// Tier-1 compilations estimated to take longer (ms) wait in the queue at
/// least as long as the estimate (see `Shared::pick`).
pub const LONG_COMPILE_MS: f64 = 100.0;

/// Tier-0 prefetching goes before tier-1 work while the program thread has
/// compiled a tier-0 batch within this many ms.
pub const PREFETCH_FIRST_MS: u64 = 20;

/// A callee of a function being compiled at tier 0 joins its batch when it
/// is at most this big (instructions) and not compiled yet.
pub const BATCH_CALLEE_SIZE: u32 = 200;
/// Instructions of callees one tier-0 batch may add.
pub const BATCH_BUDGET: u32 = 2000;
fn batch_limits() -> (u32, u32) {
    let get = |k: &str, d: u32| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    (get("REOPT_BATCH_CALLEE", BATCH_CALLEE_SIZE), get("REOPT_BATCH_BUDGET", BATCH_BUDGET))
}

/// How a run is driven.
#[derive(Clone, Debug)]
pub struct Options {
    /// Entry count at which a function is queued for tier 1.
    pub threshold: u64,
    /// Loop back edges at which a function is queued for tier 1 (rounded
    /// up to a power of two); 0: `threshold` × [`BACKEDGE_FACTOR`].
    pub backedge_threshold: u64,
    /// Tier-0 level (O0 or O1).
    pub tier0: Level,
    /// Tier-1 level (O2 or O3).
    pub tier1: Level,
    /// Background compile threads.
    pub compile_threads: usize,
    /// Compile the whole program up front at this level instead of tiering.
    pub eager: Option<Level>,
    /// Compile warm callees of a function that tiers up ahead of their threshold.
    pub speculate: bool,
    /// Print per-tier-up statistics on stderr at exit.
    pub stats: bool,
    /// Copy hot callees' bodies into tier-1 partitions for inlining.
    pub inline_callees: bool,
    /// No tier-1 compilation starts until this long after the last tier-0
    /// compilation, as .NET's call-counting delay (100 ms there); `None`:
    /// [`Options::default_tier_up_delay_ms`].
    pub tier_up_delay_ms: Option<u64>,
    /// Recompile on the thread that crossed the threshold, before it goes
    /// on (testing: every function runs its tier-1 version from its next
    /// call on). Off: the calling thread never waits.
    pub sync_tier_up: bool,
    /// Compile threads with no tier-1 work compile tier-0 batches of the
    /// static callees of code that was just compiled, ahead of their first
    /// call (see README.md, "Tier-0 prefetch").
    pub prefetch: bool,
    /// `-l` libraries (through the dynamic loader).
    pub libs: Vec<String>,
    /// `-L` directories.
    pub lib_dirs: Vec<PathBuf>,
}

impl Options {
    /// The back-edge counter mask: the hook is told at multiples of mask + 1.
    pub fn backedge_mask(&self) -> u64 {
        let t = if self.backedge_threshold == 0 {
            self.threshold.max(1).saturating_mul(BACKEDGE_FACTOR)
        } else {
            self.backedge_threshold
        };
        t.clamp(1, 1 << 62).next_power_of_two() - 1
    }
}

impl Options {
    /// The tier-up delay when none is given: 0 when the machine has a core
    /// for each compile thread besides the program's (tier-1 work then
    /// competes with nothing, and waiting only keeps hot code at tier 0),
    /// else [`DEFAULT_TIER_UP_DELAY_MS`] (startup's tier-0 compilation
    /// goes first).
    pub fn default_tier_up_delay_ms(&self) -> u64 {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        if cores > self.compile_threads.max(1) {
            0
        } else {
            DEFAULT_TIER_UP_DELAY_MS
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threshold: DEFAULT_THRESHOLD,
            backedge_threshold: 0,
            tier0: Level::O0,
            tier1: Level::O2,
            compile_threads: 1,
            eager: None,
            speculate: false,
            stats: false,
            inline_callees: true,
            sync_tier_up: false,
            prefetch: true,
            tier_up_delay_ms: None,
            libs: Vec::new(),
            lib_dirs: Vec::new(),
        }
    }
}

/// Why a function tiered up.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Its entry counter crossed the threshold.
    Calls,
    /// Its loop back-edge counter crossed the back-edge threshold.
    Loop,
    /// A caller tiered up and it was warm (`--speculate`).
    Speculative,
}

/// One tier-up, for `--stats`.
#[derive(Clone, Debug)]
pub struct TierUp {
    /// The function.
    pub name: String,
    /// Why.
    pub reason: Reason,
    /// Its counter (entries, or back edges for `Loop`) when it was queued.
    pub count: u64,
    /// Entries when its compilation started.
    pub count_at_start: u64,
    /// Time in the queue.
    pub queued: Duration,
    /// Extraction + optimisation + code generation.
    pub compile: Duration,
    /// Linking (and redirecting).
    pub link: Duration,
    /// Callee bodies made available for inlining.
    pub inlinees: usize,
    /// Instructions (unoptimised IR) of the function and of the callee
    /// bodies it got.
    pub size: (u32, u32),
    /// What linking the new version did to the callers.
    pub report: RedirectReport,
}

/// Per function its tier-0 link; per tier-0 link (by number) how many of
/// its functions still run there.
type Tier0Links = (Vec<Option<LinkId>>, HashMap<u32, usize>);

#[derive(Default)]
struct Queue {
    jobs: Vec<(u32, Reason, u64, Instant)>,
    /// Tier-0 prefetch candidates, most promising first (callees of the
    /// batches the program thread compiled most recently).
    prefetch: std::collections::VecDeque<u32>,
    stop: bool,
    busy: usize,
}

/// State shared by the program thread(s), the hook and the compile threads.
pub struct Shared {
    opts: Options,
    program: Mutex<Program>,
    info: Vec<FnInfo>,
    session: Arc<Mutex<Session>>,
    counters: AtomicU64,
    edges: AtomicU64,
    /// Per function: 0 tier 0, 1 queued or compiled at tier 1.
    state: Vec<AtomicU8>,
    /// Per function its tier-0 link; per tier-0 link its functions still at tier 0.
    tier0_link: Mutex<Tier0Links>,
    tier0_batches: AtomicUsize,
    /// Tier-0 batches (and their functions) compiled ahead by the compile threads.
    prefetched: [AtomicUsize; 2],
    /// CPU ns of prefetching.
    prefetch_ns: AtomicU64,
    /// CPU time (ns) of tier-0, tier-1 and eager compilation (with linking).
    cpu: [AtomicU64; 3],
    retired: AtomicUsize,
    queue: Mutex<Queue>,
    cv: Condvar,
    events: Mutex<Vec<TierUp>>,
    failures: Mutex<Vec<String>>,
    tier0_count: AtomicUsize,
    tier0_nanos: AtomicU64,
    /// Tier-0 time by phase: extract, load + instrument, codegen, link.
    tier0_phase: [AtomicU64; 4],
    tier1_nanos: AtomicU64,
    /// Tier-1 compile CPU ns and instruction equivalents compiled (the
    /// compile-time estimate's rate).
    tier1_rate: [AtomicU64; 2],
    eager_nanos: AtomicU64,
    load_nanos: AtomicU64,
    stopping: AtomicBool,
    started: Instant,
    /// When (ns after `started`) the last tier-0 compilation finished.
    last_tier0: AtomicU64,
    main_index: Option<u32>,
}

/// CPU time of the calling thread (ns): compile costs without the time
/// the thread waited for a core.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The hook tier-0 code calls (once per function and reason crossing):
/// queues the function and returns at once.
extern "C" fn reopt_hot(ctx: u64, index: u32, reason: u32) {
    // SAFETY: ctx is the address of the run's Shared, which lives (leaked
    // Arc) as long as the process; tier-0 code only passes that value.
    let sh = unsafe { &*(ctx as *const Shared) };
    let reason = if reason == 0 { Reason::Calls } else { Reason::Loop };
    sh.enqueue(index, reason);
}

impl Shared {
    fn since_start_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    fn last_tier0_ns(&self) -> u64 {
        self.last_tier0.load(Ordering::Relaxed)
    }

    fn counter(&self, index: u32, slot: u64) -> u64 {
        let base = self.counters.load(Ordering::Acquire);
        if base == 0 {
            return 0;
        }
        // SAFETY: base is the data link's counter array of 8 i64 per
        // function, mapped for the whole run; index < number of functions.
        let a = unsafe { &*((base + (u64::from(index) * 8 + slot) * 8) as *const AtomicU64) };
        a.load(Ordering::Relaxed)
    }

    fn edge(&self, e: u32) -> u64 {
        let base = self.edges.load(Ordering::Acquire);
        if base == 0 {
            return 0;
        }
        // SAFETY: base is the data link's edge array, one i64 per static edge.
        let a = unsafe { &*((base + u64::from(e) * 8) as *const AtomicU64) };
        a.load(Ordering::Relaxed)
    }

    fn enqueue(&self, index: u32, reason: Reason) -> bool {
        let Some(st) = self.state.get(index as usize) else { return false };
        // main is entered once: a new version of it would never run.
        if reason == Reason::Loop && self.main_index == Some(index) {
            return false;
        }
        if st.swap(1, Ordering::AcqRel) != 0 || self.stopping.load(Ordering::Relaxed) {
            return false;
        }
        let count = self.counter(index, if reason == Reason::Loop { 1 } else { 0 });
        if self.opts.sync_tier_up {
            if let Err(e) = self.tier_up(index, reason, count, Instant::now()) {
                lock(&self.failures).push(format!("{}: {e}", self.info[index as usize].name));
            }
            return true;
        }
        lock(&self.queue).jobs.push((index, reason, count, Instant::now()));
        self.cv.notify_one();
        true
    }

    /// Compile-thread loop: takes the hottest queued function (its entry
    /// plus back-edge counts now), recompiles it, until stopped.
    fn compile_loop(self: Arc<Self>) {
        // The first optimisation and code generation on a thread pay for
        // setting LLVM up (~30-50 ms): do it while the program starts.
        let levels = if self.opts.prefetch { vec![self.opts.tier0, self.opts.tier1] } else { vec![self.opts.tier1] };
        for level in levels {
            if let Err(e) = compile::warm_up(level) {
                lock(&self.failures).push(format!("warm-up: {e}"));
            }
        }
        let delay =
            Duration::from_millis(self.opts.tier_up_delay_ms.unwrap_or_else(|| self.opts.default_tier_up_delay_ms()));
        loop {
            let job = {
                let mut q = lock(&self.queue);
                loop {
                    if q.stop {
                        return;
                    }
                    let mut wait = Duration::from_secs(3600);
                    // While the program thread is compiling tier 0 (starting
                    // up, or entering new code), batches ahead of it
                    // unblock it soonest: they go before tier-1 work.
                    let busy_t0 =
                        self.since_start_ns().saturating_sub(self.last_tier0_ns()) < PREFETCH_FIRST_MS * 1_000_000;
                    let prefetch_first = busy_t0 && !q.prefetch.is_empty();
                    if !prefetch_first && !q.jobs.is_empty() {
                        // Like .NET's call-counting delay: no tier-1 work while
                        // the program is still compiling tier-0 code (starting
                        // up), so the two do not compete for the cores.
                        let quiet = Duration::from_nanos(self.since_start_ns().saturating_sub(self.last_tier0_ns()));
                        if quiet >= delay {
                            match self.pick(&q.jobs) {
                                Ok(k) => {
                                    q.busy += 1;
                                    break q.jobs.swap_remove(k);
                                }
                                Err(w) => wait = w,
                            }
                        } else {
                            wait = delay - quiet;
                        }
                    }
                    // Meanwhile: tier 0 ahead of the program thread.
                    if let Some(f) = q.prefetch.pop_front() {
                        drop(q);
                        self.prefetch_tier0(f);
                        q = lock(&self.queue);
                        continue;
                    }
                    q = self.cv.wait_timeout(q, wait).unwrap_or_else(|e| e.into_inner()).0;
                }
            };
            let (index, reason, count, queued_at) = job;
            if let Err(e) = self.tier_up(index, reason, count, queued_at) {
                lock(&self.failures).push(format!("{}: {e}", self.info[index as usize].name));
            }
            let mut q = lock(&self.queue);
            q.busy -= 1;
            drop(q);
            self.cv.notify_all();
        }
    }

    /// The queued job to compile next: of those eligible, the one with the
    /// highest [`Shared::priority`]. A job whose estimated compile time is
    /// over [`LONG_COMPILE_MS`] is eligible only once it has waited that
    /// long (ski rental: with the run's length unknown, do not buy before
    /// having rented for the price; a half-second compile of an
    /// interpreter loop would otherwise hold up every small hot function
    /// queued after it, and be wasted on a short run). `Err`: none is
    /// eligible yet, ask again after that long.
    fn pick(&self, jobs: &[(u32, Reason, u64, Instant)]) -> std::result::Result<usize, Duration> {
        let now = Instant::now();
        let mut best: Option<(usize, f64)> = None;
        let mut wait = Duration::from_secs(3600);
        let ms_per_inst = self.compile_ms_per_inst();
        for (k, &(index, _, _, at)) in jobs.iter().enumerate() {
            let cost = self.cost(index);
            let est = cost * ms_per_inst;
            let waited = now.saturating_duration_since(at);
            let due = if est > LONG_COMPILE_MS { Duration::from_secs_f64(est / 1e3) } else { Duration::ZERO };
            if waited < due {
                wait = wait.min(due - waited);
                continue;
            }
            let p = self.priority(index, cost);
            if best.is_none_or(|(_, b)| p > b) {
                best = Some((k, p));
            }
        }
        best.map(|(k, _)| k).ok_or(wait)
    }

    /// Estimated compile cost of `index` at tier 1 in instruction
    /// equivalents: `size + callee bodies it gets (bounded) + COMPILE_OVERHEAD`.
    fn cost(&self, index: u32) -> f64 {
        let fi = &self.info[index as usize];
        let callees: u32 = if self.opts.inline_callees {
            fi.callees
                .iter()
                .filter(|&&(c, e)| self.edge(e) > 0 && self.info[c as usize].size <= MAX_INLINEE_SIZE)
                .map(|&(c, _)| self.info[c as usize].size)
                .sum::<u32>()
                .min(INLINE_BUDGET)
        } else {
            0
        };
        f64::from(fi.size) + f64::from(callees) + COMPILE_OVERHEAD
    }

    /// Tier-1 compile CPU time (ms) per instruction equivalent of
    /// [`Shared::cost`], as measured on the compilations so far (initially
    /// [`COMPILE_NS_PER_INST`]): estimated compile time = cost × this.
    fn compile_ms_per_inst(&self) -> f64 {
        let (ns, insts) = (self.tier1_rate[0].load(Ordering::Relaxed), self.tier1_rate[1].load(Ordering::Relaxed));
        (if insts == 0 { COMPILE_NS_PER_INST } else { ns as f64 / insts as f64 }) / 1e6
    }

    /// Queue order of a function waiting for tier 1: its estimated tier-0
    /// running time, `(entries + loop iterations / 16) × size` (a loop's
    /// new version only runs at the next entry), over its estimated compile
    /// cost ([`Shared::cost`]). Small hot functions go before a huge one that is barely hotter (a
    /// big interpreter loop takes ~0.5 s to compile at -O2, during which
    /// dozens of small hot functions would wait at tier 0).
    fn priority(&self, index: u32, cost: f64) -> f64 {
        let runs = self.counter(index, 0).saturating_add(self.counter(index, 1) / 16);
        runs as f64 * f64::from(self.info[index as usize].size) / cost
    }

    /// Callees whose bodies a tier-1 partition of `index` gets: those the
    /// edge profile shows called (from it, or from a callee already taken,
    /// up to INLINE_DEPTH), hottest edge first, within size bounds.
    fn inlinees(&self, index: u32) -> Vec<u32> {
        if !self.opts.inline_callees {
            return Vec::new();
        }
        let mut taken: Vec<u32> = Vec::new();
        let mut budget = INLINE_BUDGET;
        let mut frontier = vec![index];
        for _ in 0..INLINE_DEPTH {
            let mut cand: Vec<(u64, u32)> = Vec::new();
            for &f in &frontier {
                for &(c, e) in &self.info[f as usize].callees {
                    let n = self.edge(e);
                    let ci = &self.info[c as usize];
                    if n > 0 && c != index && !taken.contains(&c) && ci.size <= MAX_INLINEE_SIZE && !ci.blockaddress {
                        cand.push((n, c));
                    }
                }
            }
            cand.sort_unstable_by(|a, b| b.cmp(a));
            let mut next = Vec::new();
            for (_, c) in cand {
                let size = self.info[c as usize].size;
                if taken.contains(&c) || size > budget {
                    continue;
                }
                budget -= size;
                taken.push(c);
                next.push(c);
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        taken
    }

    fn tier_up(&self, index: u32, reason: Reason, count: u64, queued_at: Instant) -> Result<()> {
        let name = self.info[index as usize].name.clone();
        let start = Instant::now();
        let cpu = thread_cpu_ns();
        let count_at_start = self.counter(index, 0);
        let avail = self.inlinees(index);
        let bitcode = lock(&self.program).extract(&[index], &avail, CONST_COPY_LIMIT);
        let obj = {
            let ctx = Context::create();
            let m = compile::load(&ctx, &bitcode, &name)?;
            compile::maybe_verify(&m, &name)?;
            compile::optimize(&m, self.opts.tier1)?;
            compile::emit(&m, self.opts.tier1)?
        };
        let compiled = Instant::now();
        let size = (self.info[index as usize].size, avail.iter().map(|&c| self.info[c as usize].size).sum::<u32>());
        self.tier1_rate[0].fetch_add(thread_cpu_ns() - cpu, Ordering::Relaxed);
        self.tier1_rate[1]
            .fetch_add(u64::from(size.0) + u64::from(size.1) + COMPILE_OVERHEAD as u64, Ordering::Relaxed);
        let report = {
            let mut s = lock(&self.session);
            // As for prefetches: nothing links once `finish` has begun.
            if self.stopping.load(Ordering::Acquire) {
                return Ok(());
            }
            s.add_object_bytes(&format!("{name}.tier1"), obj)?;
            let id = s.link(&LinkOptions::default())?;
            let report = s.link_report(id).unwrap_or_default();
            // The tier-0 link goes once every function in it has moved on.
            let old = {
                let mut links = lock(&self.tier0_link);
                let old = links.0[index as usize].take();
                old.filter(|id| {
                    let n = links.1.get_mut(&id.0).expect("counted");
                    *n -= 1;
                    *n == 0
                })
            };
            if let Some(old) = old {
                s.retire(old)?;
                self.retired.fetch_add(1, Ordering::Relaxed);
            }
            report
        };
        let linked = Instant::now();
        self.tier1_nanos.fetch_add((linked - start).as_nanos() as u64, Ordering::Relaxed);
        self.cpu[1].fetch_add(thread_cpu_ns() - cpu, Ordering::Relaxed);
        lock(&self.events).push(TierUp {
            name,
            reason,
            count,
            count_at_start,
            queued: start - queued_at,
            compile: compiled - start,
            link: linked - compiled,
            inlinees: avail.len(),
            size,
            report,
        });
        if self.opts.speculate && reason != Reason::Speculative {
            // Warm callees (called from here, materialized, at least an
            // eighth of the way to their threshold) go next.
            let warm = (self.opts.threshold / 8).max(1);
            for &(c, e) in &self.info[index as usize].callees {
                if self.edge(e) > 0 && self.counter(c, 0) >= warm {
                    self.enqueue(c, Reason::Speculative);
                }
            }
        }
        Ok(())
    }

    /// Tier 0 of `index` (jitlink runs this on its first call): picks a
    /// batch (the function and small callees not compiled yet, claimed from
    /// their lazy stubs), extracts, instruments, compiles and links it;
    /// returns the function's body.
    fn materialize(&self, index: u32) -> Result<u64> {
        let start = Instant::now();
        let cpu = thread_cpu_ns();
        let name = &self.info[index as usize].name;
        let batch = self.claim_batch(index);
        if std::env::var_os("REOPT_TRACE").is_some() {
            eprintln!("jitlink-reopt: tier0 {}", self.names(&batch).join(" "));
        }
        if self.opts.prefetch {
            // Their callees are likely to run soon: first in line for the
            // compile threads (which start on them while this compiles).
            self.queue_prefetch(&batch, true);
        }
        // With prefetching, in a context of its own too: the program lock
        // is then held only while extracting, never during code generation.
        let result = self.compile_tier0(&batch, start, self.opts.prefetch, false);
        self.cpu[0].fetch_add(thread_cpu_ns() - cpu, Ordering::Relaxed);
        self.last_tier0.store(self.since_start_ns(), Ordering::Relaxed);
        let s = lock(&self.session);
        if let Err(e) = result {
            // The callees go back to their own materializers (which report
            // their own errors if they are called).
            let _ = s.release_claimed(&self.names(&batch[1..]));
            return Err(e);
        }
        s.redirector().and_then(|r| r.current(name)).ok_or_else(|| Error::Llvm(format!("{name}: no body")))
    }

    /// Puts the static callees of `batch` not compiled at tier 0 on the
    /// prefetch list, in call-graph order: at its front (`first`) or back.
    fn queue_prefetch(&self, batch: &[u32], first: bool) {
        let callees: Vec<u32> = {
            let links = lock(&self.tier0_link);
            batch
                .iter()
                .flat_map(|&f| self.info[f as usize].callees.iter().map(|&(c, _)| c))
                .filter(|&c| links.0[c as usize].is_none() && !batch.contains(&c))
                .collect()
        };
        let mut q = lock(&self.queue);
        if first {
            callees.iter().rev().for_each(|&c| q.prefetch.push_front(c));
        } else {
            q.prefetch.extend(callees);
        }
        drop(q);
        self.cv.notify_all();
    }

    fn names(&self, fns: &[u32]) -> Vec<&str> {
        fns.iter().map(|&i| self.info[i as usize].name.as_str()).collect()
    }

    /// A tier-0 batch for `index` (already claimed by the caller, or
    /// running its materializer): it and, breadth first, its small callees
    /// within the batch budget that could be claimed from their lazy stubs
    /// (`Session::claim_lazy`: not compiled, not claimed by another batch;
    /// their callers wait for this batch's link).
    fn claim_batch(&self, index: u32) -> Vec<u32> {
        let (max_callee, mut budget) = batch_limits();
        let mut batch = vec![index];
        let mut k = 0;
        while k < batch.len() {
            let mut cand: Vec<u32> = Vec::new();
            for &(c, _) in &self.info[batch[k] as usize].callees {
                let size = self.info[c as usize].size;
                if size <= max_callee && size <= budget && !batch.contains(&c) && !cand.contains(&c) {
                    budget -= size;
                    cand.push(c);
                }
            }
            if !cand.is_empty() {
                let claimed = lock(&self.session).claim_lazy(&self.names(&cand)).unwrap_or_default();
                for (i, c) in cand.into_iter().enumerate() {
                    if claimed.get(i).copied().unwrap_or(false) {
                        batch.push(c);
                    } else {
                        budget += self.info[c as usize].size;
                    }
                }
            }
            k += 1;
        }
        batch
    }

    /// Compile thread: tier 0 of `index` and its batch ahead of their first
    /// call (nothing if it is compiled, claimed or running meanwhile). The
    /// batch is extracted as bitcode and compiled in a context of this
    /// thread's own, so the program thread can go on compiling; a failure
    /// gives the functions back to their own materializers (which report).
    fn prefetch_tier0(&self, index: u32) {
        let start = Instant::now();
        let cpu = thread_cpu_ns();
        let name = self.info[index as usize].name.as_str();
        if !lock(&self.session).claim_lazy(&[name]).is_ok_and(|c| c == [true]) {
            return;
        }
        let batch = self.claim_batch(index);
        match self.compile_tier0(&batch, start, true, true) {
            Ok(_) => {
                self.prefetched[0].fetch_add(1, Ordering::Relaxed);
                self.prefetched[1].fetch_add(batch.len(), Ordering::Relaxed);
                // Their callees next, after what the program thread asked for.
                self.queue_prefetch(&batch, false);
            }
            Err(_) => {
                let _ = lock(&self.session).release_claimed(&self.names(&batch));
            }
        }
        let spent = thread_cpu_ns() - cpu;
        self.cpu[0].fetch_add(spent, Ordering::Relaxed);
        self.prefetch_ns.fetch_add(spent, Ordering::Relaxed);
    }

    /// Extracts, instruments, compiles and links a tier-0 batch: in the
    /// program's context (`own_context` false: the program lock is held
    /// throughout) or, as bitcode, in a fresh context (the lock is held
    /// only while extracting). `ahead` (a prefetch): nothing is linked once
    /// the run is stopping.
    fn compile_tier0(&self, batch: &[u32], start: Instant, own_context: bool, ahead: bool) -> Result<LinkId> {
        let probes = Tier0Probes {
            ctx: self as *const Shared as u64,
            threshold: self.opts.threshold,
            backedge_mask: self.opts.backedge_mask(),
        };
        let name = &self.info[batch[0] as usize].name;
        let build = |m: &inkwell::module::Module<'_>, extracted: Instant| -> Result<Vec<u8>> {
            crate::program::instrument(m, batch, &self.info, &probes)?;
            compile::maybe_verify(m, name)?;
            compile::optimize(m, self.opts.tier0)?;
            let t = Instant::now();
            self.tier0_phase[1].fetch_add((t - extracted).as_nanos() as u64, Ordering::Relaxed);
            let o = compile::emit(m, self.opts.tier0)?;
            self.tier0_phase[2].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
            Ok(o)
        };
        let obj = if own_context {
            let bitcode = lock(&self.program).extract(batch, &[], 0);
            let extracted = Instant::now();
            self.tier0_phase[0].fetch_add((extracted - start).as_nanos() as u64, Ordering::Relaxed);
            let ctx = Context::create();
            let m = compile::load(&ctx, &bitcode, name)?;
            build(&m, extracted)?
        } else {
            lock(&self.program).with_partition(batch, &[], 0, |m| {
                let extracted = Instant::now();
                self.tier0_phase[0].fetch_add((extracted - start).as_nanos() as u64, Ordering::Relaxed);
                build(m, extracted)
            })?
        };
        let linking = Instant::now();
        let id = {
            let mut s = lock(&self.session);
            // Checked under the session lock, which `finish` takes after
            // setting the flag: no prefetch links after that.
            if ahead && self.stopping.load(Ordering::Acquire) {
                return Err(Error::Usage("stopping".into()));
            }
            s.add_object_bytes(&format!("{name}.tier0"), obj)?;
            s.link(&LinkOptions::default())?
        };
        {
            let mut links = lock(&self.tier0_link);
            for &i in batch {
                links.0[i as usize] = Some(id);
            }
            links.1.insert(id.0, batch.len());
        }
        self.tier0_phase[3].fetch_add(linking.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.tier0_count.fetch_add(batch.len(), Ordering::Relaxed);
        self.tier0_batches.fetch_add(1, Ordering::Relaxed);
        self.tier0_nanos.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(id)
    }

    /// Stops the compile threads (a compilation in progress is abandoned:
    /// nothing is queued or linked any more) and runs the finalisers of
    /// `data_link`, without holding the session lock.
    pub fn finish(&self, data_link: LinkId) {
        if self.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        lock(&self.queue).stop = true;
        self.cv.notify_all();
        let fini = lock(&self.session).linked(data_link).map(|l| l.fini.clone()).unwrap_or_default();
        for f in fini {
            // SAFETY: finaliser addresses of a link made for this process.
            let func: extern "C" fn() = unsafe { std::mem::transmute::<usize, extern "C" fn()>(f as usize) };
            func();
        }
    }

    /// Prints `--stats` on stderr.
    pub fn print_stats(&self) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let events = lock(&self.events);
        for t in events.iter() {
            eprintln!(
                "jitlink-reopt: tier-up {} reason={} count={} count_at_start={} queued={:.1}ms compile={:.1}ms \
                 link={:.1}ms inlinees={} size={}+{} sites={} patched={} stubbed={} (out_of_range={} unaligned={} policy={})",
                t.name,
                match t.reason {
                    Reason::Calls => "calls",
                    Reason::Loop => "loop",
                    Reason::Speculative => "speculative",
                },
                t.count,
                t.count_at_start,
                ms(t.queued),
                ms(t.compile),
                ms(t.link),
                t.inlinees,
                t.size.0,
                t.size.1,
                t.report.sites,
                t.report.patched,
                t.report.stubbed,
                t.report.out_of_range,
                t.report.unaligned,
                t.report.policy
            );
        }
        for f in lock(&self.failures).iter() {
            eprintln!("jitlink-reopt: tier-up failed: {f}");
        }
        let total = events.iter().fold(RedirectReport::default(), |mut a, t| {
            a += t.report;
            a
        });
        let pending = lock(&self.queue).jobs.len();
        let ns = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e6;
        eprintln!(
            "jitlink-reopt: summary: functions={} load={:.1}ms eager_compile={:.1}ms eager_cpu={:.1}ms tier0={} \
             tier0_batches={} tier0_prefetched={}/{} prefetch_cpu={:.1}ms tier0_compile={:.1}ms tier0_cpu={:.1}ms tier1={} tier1_compile={:.1}ms \
             tier1_cpu={:.1}ms patched={} stubbed={} retired={} queued_at_exit={}",
            self.info.len(),
            ns(&self.load_nanos),
            ns(&self.eager_nanos),
            ns(&self.cpu[2]),
            self.tier0_count.load(Ordering::Relaxed),
            self.tier0_batches.load(Ordering::Relaxed),
            self.prefetched[0].load(Ordering::Relaxed),
            self.prefetched[1].load(Ordering::Relaxed),
            ns(&self.prefetch_ns),
            ns(&self.tier0_nanos),
            ns(&self.cpu[0]),
            events.len(),
            ns(&self.tier1_nanos),
            ns(&self.cpu[1]),
            total.patched,
            total.stubbed,
            self.retired.load(Ordering::Relaxed),
            pending
        );
        eprintln!(
            "jitlink-reopt: tier0 phases: extract={:.1}ms load+instrument={:.1}ms codegen={:.1}ms link={:.1}ms",
            ns(&self.tier0_phase[0]),
            ns(&self.tier0_phase[1]),
            ns(&self.tier0_phase[2]),
            ns(&self.tier0_phase[3])
        );
        if let Some(r) = lock(&self.session).redirector() {
            let s = r.stats();
            eprintln!(
                "jitlink-reopt: session: stubs={} call_sites={} linked_direct={} redirects: sites={} patched={} \
                 stubbed={} materialized={}",
                s.stubs,
                s.sites,
                s.linked_direct,
                s.redirects.sites,
                s.redirects.patched,
                s.redirects.stubbed,
                s.materialized
            );
        }
    }
}

/// A program loaded and linked, ready to run.
pub struct Prepared {
    shared: Arc<Shared>,
    main: u64,
    init: Vec<u64>,
    data_link: LinkId,
}

/// Loads `files`, sets up the session (lazy tier-0 definitions, or the
/// eager whole-program object) and starts the compile threads.
///
/// # Errors
/// Any load, compile or link error.
pub fn prepare(files: &[PathBuf], opts: &Options) -> Result<Prepared> {
    let t0 = Instant::now();
    let paths: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
    let program = Program::load(&paths)?;
    let load = t0.elapsed();
    let info = program.info.clone();
    let mut session = Session::with_redirection(
        RedirectOptions {
            policy: MemoryPolicy::DoubleMapped,
            track_all_calls: true,
            arena_size: 1 << 30,
            ..RedirectOptions::default()
        },
        SessionOptions::default(),
    )?;
    for d in &opts.lib_dirs {
        session.add_search_dir(d);
    }
    for l in &opts.libs {
        session.add_library(l)?;
    }
    if !opts.libs.iter().any(|l| l == "c") {
        session.add_library("c")?;
    }
    let n = info.len();
    let main_index = info.iter().position(|f| f.name == "main").map(|i| i as u32);
    let shared = Arc::new(Shared {
        opts: opts.clone(),
        program: Mutex::new(program),
        info,
        session: Arc::new(Mutex::new(session)),
        counters: AtomicU64::new(0),
        edges: AtomicU64::new(0),
        state: (0..n).map(|_| AtomicU8::new(0)).collect(),
        tier0_link: Mutex::new((vec![None; n], HashMap::new())),
        tier0_batches: AtomicUsize::new(0),
        prefetched: Default::default(),
        prefetch_ns: AtomicU64::new(0),
        cpu: Default::default(),
        retired: AtomicUsize::new(0),
        queue: Mutex::new(Queue::default()),
        cv: Condvar::new(),
        events: Mutex::new(Vec::new()),
        failures: Mutex::new(Vec::new()),
        tier0_count: AtomicUsize::new(0),
        tier0_nanos: AtomicU64::new(0),
        tier0_phase: Default::default(),
        tier1_nanos: AtomicU64::new(0),
        tier1_rate: Default::default(),
        eager_nanos: AtomicU64::new(0),
        load_nanos: AtomicU64::new(load.as_nanos() as u64),
        stopping: AtomicBool::new(false),
        started: Instant::now(),
        last_tier0: AtomicU64::new(0),
        main_index,
    });
    let data_link = if let Some(level) = opts.eager {
        let start = Instant::now();
        let cpu = thread_cpu_ns();
        let obj = lock(&shared.program).whole_object(level)?;
        let mut s = lock(&shared.session);
        s.add_object_bytes("program", obj)?;
        let id = s.link(&LinkOptions::default())?;
        shared.eager_nanos.store(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        shared.cpu[2].store(thread_cpu_ns() - cpu, Ordering::Relaxed);
        id
    } else {
        let obj = lock(&shared.program).data_object(&Tier0Probes {
            ctx: Arc::as_ptr(&shared) as u64,
            threshold: opts.threshold,
            backedge_mask: 0,
        })?;
        let mut s = lock(&shared.session);
        s.define_absolute(HOOK, reopt_hot as *const () as u64)?;
        if let Some(r) = s.redirector() {
            r.set_error_callback(Box::new(|name, e| {
                eprintln!("jitlink-reopt: compiling {name} failed: {e}");
                // SAFETY: ends the process; the program cannot go on
                // without the function.
                unsafe { libc::_exit(70) };
            }));
        }
        for (i, f) in shared.info.iter().enumerate() {
            let weak = Arc::downgrade(&shared);
            s.define_lazy(
                &f.name,
                Box::new(move || {
                    let sh = weak.upgrade().ok_or_else(|| jitlink::Error::Usage("driver gone".into()))?;
                    sh.materialize(i as u32).map_err(jitlink::Error::from)
                }),
            )?;
        }
        s.add_object_bytes("data", obj)?;
        let id = s.link(&LinkOptions::default())?;
        let addr = |name: &str| s.lookup(name).ok_or_else(|| Error::Llvm(format!("{name} missing")));
        shared.counters.store(addr(COUNTERS)?, Ordering::Release);
        shared.edges.store(addr(EDGES)?, Ordering::Release);
        id
    };
    let (main, init) = {
        let s = lock(&shared.session);
        let main = s.lookup("main").ok_or_else(|| Error::Usage("the program defines no main".into()))?;
        (main, s.linked(data_link).map(|l| l.init.clone()).unwrap_or_default())
    };
    // Tier-0 code holds the address of `shared` for the hook: it must
    // outlive every thread that may run that code, i.e. the process.
    std::mem::forget(shared.clone());
    if opts.eager.is_none() {
        for _ in 0..opts.compile_threads.max(1) {
            let sh = shared.clone();
            std::thread::Builder::new()
                .name("reopt-compile".into())
                .spawn(move || sh.compile_loop())
                .map_err(|e| Error::Usage(format!("cannot start a compile thread: {e}")))?;
        }
    }
    Ok(Prepared { shared, main, init, data_link })
}

impl Prepared {
    /// The shared state (for statistics).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The link holding the program's data (or, eager, everything).
    pub fn data_link(&self) -> LinkId {
        self.data_link
    }

    /// Runs the initialisers and `main(argv)` on this thread (registered
    /// with the session's epochs, so retired tier-0 code it may still be
    /// running is kept until main returns); returns main's status.
    pub fn run_main(&self, argv: &[String]) -> i32 {
        let handle = lock(&self.shared.session).redirector().map(|r| r.register_thread());
        for &f in &self.init {
            // SAFETY: initialiser addresses of the data link, made for this process.
            let func: extern "C" fn() = unsafe { std::mem::transmute::<usize, extern "C" fn()>(f as usize) };
            func();
        }
        // SAFETY: main is the program's main (its stub or body) in this process.
        let status = unsafe { jitlink::session::call_main(self.main, argv) };
        if let Some(h) = handle {
            h.quiescent();
        }
        status
    }

    /// Stops the compile threads and runs the data link's finalisers (see [`Shared::finish`]).
    pub fn finish(&self) {
        self.shared.finish(self.data_link);
    }
}
