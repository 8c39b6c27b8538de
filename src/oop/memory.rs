//! Link memory in an executor: target addresses reserved there (one
//! `RESERVE` per link), working bytes here, copied over with the
//! protections and runtime actions in one `FINALIZE`.

use super::client::ExecutorClient;
use super::protocol::{self, Action};
use super::SharedExecutor;
use crate::error::{Error, Result};
use crate::graph::{Interner, LinkGraph, Prot, SectionRole};
use crate::memory::{contiguous_layout, AllocRequest, Allocation, MemoryManager, Segment};
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

impl RemoteAllocation {
    /// Reads the pointer words of `[addr, addr+size)` from working memory.
    fn words(&self, addr: u64, size: u64, big_endian: bool) -> Vec<u64> {
        for (t, w) in &self.segs {
            if addr >= *t && addr + size <= t + w.len() as u64 {
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

    fn actions(&self) -> Vec<Action> {
        let rt = self.runtime.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default();
        let mut actions = Vec::new();
        if let Some(eh) = rt.eh_frame {
            actions.push(Action::RegisterEhFrame(eh));
        }
        if let Some(d) = rt.dso_handle {
            actions.push(Action::CxaFinalizeAtRelease(d));
        }
        if self.options.run_initializers {
            // One entry per section, its blocks' words in order.
            let mut sections: Vec<(usize, SectionRole, Vec<u64>)> = Vec::new();
            for &(si, role, a, s) in &rt.arrays {
                let w = self.words(a, s, rt.big_endian);
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
            let bits = match p {
                Prot::ReadExec => protocol::prot::READ | protocol::prot::EXEC,
                Prot::Read => protocol::prot::READ,
                Prot::ReadWrite => protocol::prot::READ | protocol::prot::WRITE,
            };
            // The executor zero-fills past the content: send no trailing zeros.
            let content = &w[..w.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1)];
            segments.push((t, w.len() as u64, bits, content));
        }
        lock(&self.exec).finalize(self.base, &segments, &actions)?;
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
