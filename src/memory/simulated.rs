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
        if base.checked_add(total).is_none_or(|e| e > ADDRESS_LIMIT) {
            return Err(Error::Memory {
                detail: format!("simulated target memory: {total} bytes at {base:#x} exceed the 48-bit address space"),
            });
        }
        self.next = base + total;
        let mut segs: [(u64, Zeroed); 3] = Default::default();
        for (i, seg) in segs.iter_mut().enumerate() {
            *seg = (base + offsets[i], Zeroed::new(req.segments[i].size)?);
        }
        Ok(Box::new(SimulatedAllocation { segs }))
    }

    fn page_size(&self) -> u64 {
        self.page
    }
}

/// Simulated target addresses stay below this (a 48-bit address space).
const ADDRESS_LIMIT: u64 = 1 << 48;

/// Zeroed working bytes: an anonymous private mapping reserved lazily
/// (`MAP_NORESERVE`), so a huge zero-fill section costs nothing until a
/// fixup writes to it, and a mapping the OS refuses is an error.
#[derive(Default)]
struct Zeroed {
    ptr: usize,
    len: usize,
}

impl Zeroed {
    fn new(len: u64) -> Result<Zeroed> {
        let too_big = || Error::Memory { detail: format!("cannot map {len} bytes of simulated target memory") };
        let len = usize::try_from(len).map_err(|_| too_big())?;
        if len == 0 {
            return Ok(Zeroed::default());
        }
        // SAFETY: a fresh anonymous mapping; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(too_big());
        }
        Ok(Zeroed { ptr: p as usize, len })
    }

    fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: ptr/len is our own readable mapping, alive while self is.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as in `bytes`; &mut self excludes other views.
        unsafe { std::slice::from_raw_parts_mut(self.ptr as *mut u8, self.len) }
    }
}

impl Drop for Zeroed {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: unmapping our own mapping.
            unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
        }
    }
}

struct SimulatedAllocation {
    segs: [(u64, Zeroed); 3],
}

// SAFETY: the mappings are owned exclusively by the allocation.
unsafe impl Send for SimulatedAllocation {}

impl Allocation for SimulatedAllocation {
    fn segment(&self, prot: Prot) -> Segment {
        let (t, ref v) = self.segs[prot.index()];
        Segment { target: t, size: v.len as u64 }
    }
    fn working(&self, prot: Prot) -> &[u8] {
        self.segs[prot.index()].1.bytes()
    }
    fn working_mut(&mut self, prot: Prot) -> &mut [u8] {
        self.segs[prot.index()].1.bytes_mut()
    }
    fn finalize(&mut self) -> Result<()> {
        Ok(())
    }
    fn executable_here(&self) -> bool {
        false
    }
}
