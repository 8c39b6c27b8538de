//! Link memory: where blocks are written (working memory, in this process)
//! and where they will run (target addresses).
//!
//! A link asks once for all its memory, one segment per protection
//! ([`AllocRequest`]); the manager answers with an [`Allocation`] that gives
//! each segment a target address and writable working bytes, and later
//! applies the final protections in [`Allocation::finalize`]. No page is
//! ever writable and executable at once. Dropping an allocation releases
//! its memory.

pub mod arena;
pub mod code_write;
mod in_process;
mod simulated;

pub use arena::{ArenaMemoryManager, JitArena, MemoryPolicy};
pub use in_process::InProcessMemoryManager;
pub use simulated::SimulatedMemoryManager;

use crate::error::Result;
use crate::graph::Prot;

/// Size and alignment a link needs for one protection.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SegmentRequest {
    /// Bytes.
    pub size: u64,
    /// Alignment in bytes (a power of two; the manager rounds to pages).
    pub align: u64,
}

/// Everything one link needs, indexed by [`Prot::index`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct AllocRequest {
    /// One request per protection.
    pub segments: [SegmentRequest; 3],
    /// Every target address must be below 2 GiB: the link has 32-bit
    /// absolute references to its own symbols (non-PIC code,
    /// R_X86_64_32/32S). Otherwise memory goes near the host's libc.
    pub low_2gib: bool,
}

/// A segment of an allocation as placed: target address and size.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Address in the target address space where the segment runs.
    pub target: u64,
    /// Bytes (as requested).
    pub size: u64,
}

/// The memory of one link.
pub trait Allocation: Send {
    /// Where the segment for `prot` is placed.
    fn segment(&self, prot: Prot) -> Segment;
    /// The working bytes of a segment (what the linker wrote so far).
    fn working(&self, prot: Prot) -> &[u8];
    /// Mutable working bytes of a segment; valid until [`Allocation::finalize`].
    fn working_mut(&mut self, prot: Prot) -> &mut [u8];
    /// Applies the final protections (R, RX, RW) and flushes the
    /// instruction cache.
    ///
    /// # Errors
    /// [`crate::Error::Memory`] when the OS refuses.
    fn finalize(&mut self) -> Result<()>;
    /// True when target addresses are real addresses in this process, so
    /// code may be run.
    fn executable_here(&self) -> bool;
}

/// Hands out link memory.
pub trait MemoryManager: Send {
    /// Reserves memory for one link.
    ///
    /// # Errors
    /// [`crate::Error::Memory`] when memory cannot be mapped or a slab is
    /// exhausted.
    fn allocate(&mut self, request: &AllocRequest) -> Result<Box<dyn Allocation>>;
    /// Page size the manager rounds segments to, in bytes.
    fn page_size(&self) -> u64;
}

/// The host's page size in bytes.
pub fn host_page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Rounds `x` up to a multiple of `align` (a power of two).
#[inline]
pub fn align_up(x: u64, align: u64) -> u64 {
    (x + align - 1) & !(align - 1)
}

/// Offsets of each segment from the start of one contiguous range in which
/// segments are laid out RX, R, RW, each page aligned; returns the offsets
/// and the total length.
pub fn contiguous_layout(req: &AllocRequest, page: u64) -> ([u64; 3], u64) {
    let mut offsets = [0u64; 3];
    let mut at = 0u64;
    for p in Prot::ALL {
        let seg = req.segments[p.index()];
        let align = seg.align.max(page);
        at = align_up(at, align);
        offsets[p.index()] = at;
        at += align_up(seg.size, page);
    }
    (offsets, at)
}
