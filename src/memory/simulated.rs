//! Simulated target memory for `--noexec` links: working bytes in this
//! process, target addresses from a slab address that need not exist here
//! (so an AArch64 link on x86-64 gets reproducible addresses).

use super::{contiguous_layout, AllocRequest, Allocation, MemoryManager, Segment};
use crate::error::{Error, Result};
use crate::graph::Prot;

/// Bump-allocates target addresses from `base`; nothing is executable.
pub struct SimulatedMemoryManager {
    next: u64,
    end: u64,
    page: u64,
}

impl SimulatedMemoryManager {
    /// Target addresses start at `base` (page aligned up); at most `size`
    /// bytes are handed out (`None`: unbounded).
    pub fn new(base: u64, size: Option<u64>, page: u64) -> Self {
        let page = page.max(1).next_power_of_two();
        let start = super::align_up(base, page);
        SimulatedMemoryManager { next: start, end: size.map_or(u64::MAX, |s| start.saturating_add(s)), page }
    }
}

impl MemoryManager for SimulatedMemoryManager {
    fn allocate(&mut self, req: &AllocRequest) -> Result<Box<dyn Allocation>> {
        let (offsets, total) = contiguous_layout(req, self.page);
        let max_align = req.segments.iter().map(|s| s.align).max().unwrap_or(1).max(self.page);
        let base = super::align_up(self.next, max_align);
        if base.checked_add(total).is_none_or(|e| e > self.end) {
            return Err(Error::Memory { detail: format!("slab exhausted: link needs {total} bytes") });
        }
        self.next = base + total;
        let segs = std::array::from_fn(|i| (base + offsets[i], vec![0u8; req.segments[i].size as usize]));
        Ok(Box::new(SimulatedAllocation { segs }))
    }

    fn page_size(&self) -> u64 {
        self.page
    }
}

struct SimulatedAllocation {
    segs: [(u64, Vec<u8>); 3],
}

impl Allocation for SimulatedAllocation {
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
        Ok(())
    }
    fn executable_here(&self) -> bool {
        false
    }
}
