//! Link memory in an executor: target addresses reserved there (one
//! `RESERVE` per link), working bytes here, copied over with the
//! protections and runtime actions in one `FINALIZE`.
//!
//! With redirection (protocol version 2), every link is carved out of one
//! JIT arena reserved in the executor ([`RemoteArenaMemoryManager`]), as
//! the in-process arena keeps every call site within reach of every stub;
//! the stub pool's pages, its slots and patched call sites reach the
//! executor through [`ArenaSink`] when the arena is flushed.

use super::client::{self, ExecutorClient};
use super::protocol::{self, Action};
use super::SharedExecutor;
use crate::error::{Error, Result};
use crate::graph::{Interner, LinkGraph, Prot, SectionRole};
use crate::memory::arena::RemoteSink;
use crate::memory::{contiguous_layout, AllocRequest, Allocation, JitArena, MemoryManager, Segment};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the runtime pass learned about the link being finalized: where
/// its `.eh_frame` run, `__dso_handle` and init/fini arrays are.
#[derive(Clone, Debug, Default)]
pub struct LinkRuntime {
    /// Start of the `.eh_frame` run to register (targets whose runs are
    /// terminated and registrable).
    pub eh_frame: Option<u64>,
    /// The link's own `__dso_handle`.
    pub dso_handle: Option<u64>,
    /// Every live init/fini array block, in section order:
    /// `(section index, role, address, size)`.
    pub arrays: Vec<(usize, SectionRole, u64, u64)>,
    /// The target's byte order, for reading pointer arrays.
    pub big_endian: bool,
}

impl LinkRuntime {
    /// Collects what finalize needs from a graph after fixups.
    pub fn from_graph(g: &LinkGraph<'_>, names: &Interner, register_eh_frame: bool) -> LinkRuntime {
        let mut arrays = Vec::new();
        for (i, s) in g.sections.iter().enumerate() {
            if !matches!(
                s.role,
                SectionRole::PreinitArray
                    | SectionRole::InitArray(_)
                    | SectionRole::Ctors(_)
                    | SectionRole::FiniArray(_)
                    | SectionRole::Dtors(_)
            ) {
                continue;
            }
            for &b in &s.blocks {
                let blk = &g.blocks[b.index()];
                if blk.live && blk.size > 0 {
                    arrays.push((i, s.role, blk.addr, blk.size));
                }
            }
        }
        let dso_handle = names
            .get(b"__dso_handle")
            .and_then(|n| g.globals.get(&n))
            .filter(|&&s| g.is_defined_here(s))
            .map(|&s| g.symbol_addr(s));
        LinkRuntime {
            eh_frame: if register_eh_frame { crate::link::eh_frame::start_address(g) } else { None },
            dso_handle,
            arrays,
            big_endian: !g.little_endian,
        }
    }
}

/// Orders init/fini pointers as GNU ld's default script does (the same
/// rules as the in-process session): `.preinit_array`, then by priority
/// `.init_array` in order and `.ctors` in reverse; finalisers are
/// `.fini_array` and `.dtors` by priority, all run in reverse.
pub fn order_init_fini(sections: &[(SectionRole, Vec<u64>)]) -> (Vec<u64>, Vec<u64>) {
    let mut preinit = Vec::new();
    let mut init: Vec<(u16, u8, usize)> = Vec::new();
    let mut fini: Vec<(u16, u8, usize)> = Vec::new();
    for (i, (role, words)) in sections.iter().enumerate() {
        match *role {
            SectionRole::PreinitArray => preinit.extend(words.iter().copied()),
            SectionRole::InitArray(p) => init.push((p, 0, i)),
            SectionRole::Ctors(p) => init.push((if p == 65535 { p } else { 65535 - p }, 1, i)),
            SectionRole::FiniArray(p) => fini.push((p, 0, i)),
            SectionRole::Dtors(p) => fini.push((if p == 65535 { p } else { 65535 - p }, 1, i)),
            _ => {}
        }
    }
    init.sort_by_key(|&(p, k, i)| (p, k, i));
    fini.sort_by_key(|&(p, k, i)| (p, k, i));
    let mut run_init = preinit;
    let mut ctors: Vec<u64> = Vec::new();
    let mut last = None;
    for &(p, k, i) in &init {
        if last != Some(p) {
            run_init.extend(ctors.drain(..).rev());
            last = Some(p);
        }
        if k == 0 {
            run_init.extend(sections[i].1.iter().copied());
        } else {
            ctors.extend(sections[i].1.iter().copied());
        }
    }
    run_init.extend(ctors.drain(..).rev());
    let mut array: Vec<u64> = Vec::new();
    for &(_, k, i) in &fini {
        if k == 0 {
            array.extend(sections[i].1.iter().copied());
        } else {
            array.extend(sections[i].1.iter().rev().copied());
        }
    }
    array.reverse();
    (run_init, array)
}

/// Shared between the runtime pass and the allocation being finalized.
pub type RuntimeSlot = Arc<Mutex<Option<LinkRuntime>>>;

/// Options of a [`RemoteMemoryManager`].
#[derive(Copy, Clone, Debug)]
pub struct RemoteOptions {
    /// Run the link's initialisers in `FINALIZE` and register its
    /// finalisers to run when the executor exits.
    pub run_initializers: bool,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions { run_initializers: true }
    }
}

/// A [`MemoryManager`] whose memory lives in an executor.
pub struct RemoteMemoryManager {
    exec: SharedExecutor,
    page: u64,
    runtime: RuntimeSlot,
    options: RemoteOptions,
}

fn lock(e: &SharedExecutor) -> MutexGuard<'_, ExecutorClient> {
    e.lock().unwrap_or_else(|p| p.into_inner())
}

impl RemoteMemoryManager {
    /// Memory in `exec`'s process; `runtime` is filled by the runtime pass
    /// ([`super::remote_session`]) before each finalize.
    pub fn new(exec: SharedExecutor, runtime: RuntimeSlot, options: RemoteOptions) -> Self {
        let page = lock(&exec).hello().page_size.max(1);
        RemoteMemoryManager { exec, page, runtime, options }
    }
}

impl MemoryManager for RemoteMemoryManager {
    fn allocate(&mut self, req: &AllocRequest) -> Result<Box<dyn Allocation>> {
        let (offsets, total) = contiguous_layout(req, self.page);
        let total = total.max(self.page);
        let align = req.segments.iter().map(|s| s.align).max().unwrap_or(1).max(self.page);
        let flags = if req.low_2gib { protocol::RESERVE_LOW_2GIB } else { 0 };
        let base = lock(&self.exec)
            .reserve(total, align, flags)
            .map_err(|e| Error::Memory { detail: format!("reserving {total} bytes in the executor: {e}") })?;
        let segs = std::array::from_fn(|i| (base + offsets[i], vec![0u8; req.segments[i].size as usize]));
        Ok(Box::new(RemoteAllocation {
            exec: self.exec.clone(),
            base,
            segs,
            finalized: false,
            runtime: self.runtime.clone(),
            options: self.options,
        }))
    }

    fn page_size(&self) -> u64 {
        self.page
    }
}

/// One link's memory in an executor.
struct RemoteAllocation {
    exec: SharedExecutor,
    base: u64,
    segs: [(u64, Vec<u8>); 3],
    finalized: bool,
    runtime: RuntimeSlot,
    options: RemoteOptions,
}

/// The pointer words of `[addr, addr+size)` found in one of `segs`
/// (`(target address, working bytes)`), null and -1 entries left out.
fn array_words(segs: &[(u64, &[u8])], addr: u64, size: u64, big_endian: bool) -> Vec<u64> {
    for &(t, w) in segs {
        if addr >= t && addr + size <= t + w.len() as u64 {
            let off = (addr - t) as usize;
            return w[off..off + size as usize]
                .chunks_exact(8)
                .map(|c| {
                    let b: [u8; 8] = c.try_into().unwrap_or_default();
                    if big_endian {
                        u64::from_be_bytes(b)
                    } else {
                        u64::from_le_bytes(b)
                    }
                })
                .filter(|&v| v != 0 && v != u64::MAX)
                .collect();
        }
    }
    Vec::new()
}

/// The runtime actions of the link being finalized (what the runtime pass
/// left in `runtime`), its init/fini arrays read from `segs`.
fn link_actions(runtime: &RuntimeSlot, options: RemoteOptions, segs: &[(u64, &[u8])]) -> Vec<Action> {
    let rt = runtime.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default();
    let mut actions = Vec::new();
    if let Some(eh) = rt.eh_frame {
        actions.push(Action::RegisterEhFrame(eh));
    }
    if let Some(d) = rt.dso_handle {
        actions.push(Action::CxaFinalizeAtRelease(d));
    }
    if options.run_initializers {
        // One entry per section, its blocks' words in order.
        let mut sections: Vec<(usize, SectionRole, Vec<u64>)> = Vec::new();
        for &(si, role, a, s) in &rt.arrays {
            let w = array_words(segs, a, s, rt.big_endian);
            match sections.last_mut() {
                Some((i, _, v)) if *i == si => v.extend(w),
                _ => sections.push((si, role, w)),
            }
        }
        let sections: Vec<(SectionRole, Vec<u64>)> = sections.into_iter().map(|(_, r, w)| (r, w)).collect();
        let (init, fini) = order_init_fini(&sections);
        actions.extend(fini.into_iter().map(Action::AtExit));
        actions.extend(init.into_iter().map(Action::CallInit));
    }
    actions
}

/// `FINALIZE` protection bits of a segment.
fn prot_bits(p: Prot) -> u8 {
    match p {
        Prot::ReadExec => protocol::prot::READ | protocol::prot::EXEC,
        Prot::Read => protocol::prot::READ,
        Prot::ReadWrite => protocol::prot::READ | protocol::prot::WRITE,
    }
}

/// Content without its trailing zeros (the executor zero-fills).
fn trimmed(w: &[u8]) -> &[u8] {
    &w[..w.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1)]
}

impl RemoteAllocation {
    fn actions(&self) -> Vec<Action> {
        let segs: Vec<(u64, &[u8])> = self.segs.iter().map(|(t, w)| (*t, w.as_slice())).collect();
        link_actions(&self.runtime, self.options, &segs)
    }
}

impl Allocation for RemoteAllocation {
    fn segment(&self, prot: Prot) -> Segment {
        let (t, ref v) = self.segs[prot.index()];
        Segment { target: t, size: v.len() as u64 }
    }

    fn working(&self, prot: Prot) -> &[u8] {
        &self.segs[prot.index()].1
    }

    fn working_mut(&mut self, prot: Prot) -> &mut [u8] {
        &mut self.segs[prot.index()].1
    }

    fn finalize(&mut self) -> Result<()> {
        let actions = self.actions();
        let mut segments: Vec<(u64, u64, u8, &[u8])> = Vec::new();
        for p in Prot::ALL {
            let (t, ref w) = self.segs[p.index()];
            if w.is_empty() {
                continue;
            }
            // The executor zero-fills past the content: send no trailing zeros.
            segments.push((t, w.len() as u64, prot_bits(p), trimmed(w)));
        }
        client::finalize(&self.exec, self.base, &segments, &actions)?;
        self.finalized = true;
        Ok(())
    }

    fn executable_here(&self) -> bool {
        false
    }
}

impl Drop for RemoteAllocation {
    fn drop(&mut self) {
        let mut e = lock(&self.exec);
        if e.ended().is_none() {
            // Nothing to report to from a destructor: a failure leaves the
            // memory to the executor, which unmaps it when it exits.
            let _ = e.release(self.base);
        }
    }
}

/// The executor end of a remote JIT arena ([`JitArena::remote`]): one
/// reservation in the executor, pages finalized and ranges written over
/// the connection; released when the arena goes.
pub struct ArenaSink {
    exec: SharedExecutor,
    base: u64,
}

impl ArenaSink {
    /// The sink of the arena reserved at `base` in `exec`.
    pub fn new(exec: SharedExecutor, base: u64) -> Self {
        ArenaSink { exec, base }
    }
}

impl RemoteSink for ArenaSink {
    fn finalize_pages(&self, pages: &[(u64, &[u8], libc::c_int)]) -> Result<()> {
        let segments: Vec<(u64, u64, u8, &[u8])> = pages
            .iter()
            .map(|&(a, b, p)| {
                let bits = if p & libc::PROT_READ != 0 { protocol::prot::READ } else { 0 }
                    | if p & libc::PROT_WRITE != 0 { protocol::prot::WRITE } else { 0 }
                    | if p & libc::PROT_EXEC != 0 { protocol::prot::EXEC } else { 0 };
                (a, b.len() as u64, bits, trimmed(b))
            })
            .collect();
        lock(&self.exec).finalize(self.base, &segments, &[])
    }

    fn write(&self, ranges: &[(u64, &[u8])]) -> Result<()> {
        lock(&self.exec).write(ranges)
    }

    fn release(&self, addr: u64, len: u64) {
        if lock(&self.exec).ended().is_none() {
            // Nothing to report to from a destructor: a failure leaves the
            // pages to the executor, which unmaps them when it exits.
            let _ = client::deallocate(&self.exec, addr, len);
        }
    }
}

impl Drop for ArenaSink {
    fn drop(&mut self) {
        let mut e = lock(&self.exec);
        if e.ended().is_none() {
            let _ = e.release(self.base);
        }
    }
}

/// A [`MemoryManager`] carving every link out of a remote JIT arena (the
/// arena of a redirecting out-of-process session): `FINALIZE` of the
/// link's segments with its runtime actions, after the arena's pending
/// stub pages and slots; `DEALLOCATE` when the link goes.
pub struct RemoteArenaMemoryManager {
    exec: SharedExecutor,
    arena: Arc<JitArena>,
    runtime: RuntimeSlot,
    options: RemoteOptions,
}

impl RemoteArenaMemoryManager {
    /// Links from `arena` (remote, reserved in `exec`); `runtime` is filled
    /// by the runtime pass before each finalize.
    pub fn new(exec: SharedExecutor, arena: Arc<JitArena>, runtime: RuntimeSlot, options: RemoteOptions) -> Self {
        RemoteArenaMemoryManager { exec, arena, runtime, options }
    }
}

impl MemoryManager for RemoteArenaMemoryManager {
    fn allocate(&mut self, req: &AllocRequest) -> Result<Box<dyn Allocation>> {
        if req.low_2gib {
            return Err(Error::Memory {
                detail: "non-PIC code (32-bit absolute references to its own symbols) needs memory below 2 GiB, \
                         which the JIT arena near the executor's C library cannot give; compile with -fPIC or -fPIE"
                    .into(),
            });
        }
        let page = self.arena.page() as u64;
        let (offsets, total) = contiguous_layout(req, page);
        let len = total.max(page) as usize;
        let align = req.segments.iter().map(|s| s.align).max().unwrap_or(1).max(page) as usize;
        let off = self.arena.reserve(len, align)?;
        let mut segs = [(0usize, 0usize); 3];
        for p in Prot::ALL {
            segs[p.index()] = (off + offsets[p.index()] as usize, req.segments[p.index()].size as usize);
        }
        Ok(Box::new(RemoteArenaAllocation {
            exec: self.exec.clone(),
            arena: self.arena.clone(),
            off,
            len,
            segs,
            runtime: self.runtime.clone(),
            options: self.options,
        }))
    }

    fn page_size(&self) -> u64 {
        self.arena.page() as u64
    }
}

/// One link in a remote arena.
struct RemoteArenaAllocation {
    exec: SharedExecutor,
    arena: Arc<JitArena>,
    off: usize,
    len: usize,
    segs: [(usize, usize); 3],
    runtime: RuntimeSlot,
    options: RemoteOptions,
}

impl RemoteArenaAllocation {
    fn bytes(&self, prot: Prot) -> &[u8] {
        let (off, size) = self.segs[prot.index()];
        // SAFETY: the working view of our range of the arena, mapped
        // read-write while the arena (which we hold) lives; ranges are
        // handed out exclusively by `JitArena::reserve`.
        unsafe { std::slice::from_raw_parts(self.arena.working_ptr(off), size) }
    }
}

impl Allocation for RemoteArenaAllocation {
    fn segment(&self, prot: Prot) -> Segment {
        let (off, size) = self.segs[prot.index()];
        Segment { target: self.arena.base() + off as u64, size: size as u64 }
    }

    fn working(&self, prot: Prot) -> &[u8] {
        self.bytes(prot)
    }

    fn working_mut(&mut self, prot: Prot) -> &mut [u8] {
        let (off, size) = self.segs[prot.index()];
        // SAFETY: as in `bytes`, and &mut self excludes other views
        // through this allocation.
        unsafe { std::slice::from_raw_parts_mut(self.arena.working_ptr(off), size) }
    }

    fn finalize(&mut self) -> Result<()> {
        // Stub pages and slots the link's code reaches come first.
        self.arena.flush()?;
        let segs: Vec<(u64, &[u8])> =
            Prot::ALL.iter().map(|&p| (self.segment(p).target, self.bytes(p))).filter(|(_, w)| !w.is_empty()).collect();
        let actions = link_actions(&self.runtime, self.options, &segs);
        let segments: Vec<(u64, u64, u8, &[u8])> = Prot::ALL
            .iter()
            .map(|&p| (p, self.segment(p).target, self.bytes(p)))
            .filter(|(_, _, w)| !w.is_empty())
            .map(|(p, t, w)| (t, w.len() as u64, prot_bits(p), trimmed(w)))
            .collect();
        client::finalize(&self.exec, self.arena.base(), &segments, &actions)
    }

    fn executable_here(&self) -> bool {
        false
    }
}

impl Drop for RemoteArenaAllocation {
    fn drop(&mut self) {
        // DEALLOCATE in the executor (through the arena's sink), then the
        // range is free here.
        self.arena.release(self.off, self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_fini_order_matches_gnu_ld() {
        let s = vec![
            (SectionRole::InitArray(65535), vec![1, 2]),
            (SectionRole::InitArray(100), vec![3]),
            (SectionRole::Ctors(65535), vec![4, 5]),
            (SectionRole::PreinitArray, vec![6]),
            (SectionRole::FiniArray(65535), vec![7, 8]),
            (SectionRole::Dtors(65535), vec![9]),
        ];
        let (init, fini) = order_init_fini(&s);
        assert_eq!(init, vec![6, 3, 1, 2, 5, 4]);
        assert_eq!(fini, vec![9, 8, 7]);
    }
}
