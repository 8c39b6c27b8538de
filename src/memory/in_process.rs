//! In-process link memory: one anonymous mapping per link (or one slab for
//! all links), placed within ±2 GiB of the host's libc so that PC-relative
//! references to libc data (GCC's PIE code reads `stdout` with a plain
//! R_X86_64_PC32) reach.

use super::{align_up, contiguous_layout, AllocRequest, Allocation, MemoryManager, Segment};
use crate::error::{Error, Result};
use crate::graph::Prot;
use std::sync::{Arc, Mutex};

/// Maps link memory in this process, RW while the linker writes it, then
/// R / RX (never W+X) at finalize.
pub struct InProcessMemoryManager {
    page: u64,
    slab: Option<Arc<Slab>>,
}

struct Slab {
    base: usize,
    len: usize,
    next: Mutex<usize>,
}

impl Drop for Slab {
    fn drop(&mut self) {
        // SAFETY: base/len describe a mapping this slab created and owns;
        // every allocation holds an Arc to the slab, so none is live.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.len);
        }
    }
}

/// An address near the host's libc data (its `stdout`), used as the
/// placement anchor.
fn libc_anchor() -> usize {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name is sound.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"stdout".as_ptr()) };
    if p.is_null() {
        libc::malloc as *const () as usize
    } else {
        p as usize
    }
}

/// Maps `len` bytes with `prot`, preferring an address within ±2 GiB of
/// libc, without ever replacing an existing mapping.
fn map_near_libc(len: usize, prot: libc::c_int) -> Result<usize> {
    map_near_libc_with(len, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1)
}

/// As [`map_near_libc`] with explicit mmap flags and file descriptor
/// (`MAP_SHARED` of a memfd for double-mapped arenas).
pub(crate) fn map_near_libc_with(len: usize, prot: libc::c_int, flags: libc::c_int, fd: libc::c_int) -> Result<usize> {
    let anchor = libc_anchor();
    let page = super::host_page_size() as usize;
    let step = 32usize << 20;
    let limit = 1usize << 31;
    let mut tries: Vec<usize> = Vec::with_capacity(96);
    for k in 1..48usize {
        let below = anchor.saturating_sub(k * step + len) & !(page - 1);
        if below > 0 && anchor - below < limit - (64 << 20) {
            tries.push(below);
        }
        let above = (anchor + k * step) & !(page - 1);
        if above + len - anchor < limit - (64 << 20) {
            tries.push(above);
        }
    }
    for hint in tries {
        // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping;
        // the result is checked before use.
        let p = unsafe { libc::mmap(hint as *mut libc::c_void, len, prot, flags | libc::MAP_FIXED_NOREPLACE, fd, 0) };
        if p == libc::MAP_FAILED {
            continue;
        }
        if p as usize == hint {
            return Ok(hint);
        }
        // Old kernels treat the flag as a hint: keep looking.
        // SAFETY: p/len is the mapping just created.
        unsafe { libc::munmap(p, len) };
    }
    // SAFETY: a plain anonymous mapping; checked below.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, 0) };
    if p == libc::MAP_FAILED {
        return Err(Error::Memory {
            detail: format!("mmap of {len} bytes failed: {}", std::io::Error::last_os_error()),
        });
    }
    Ok(p as usize)
}

/// Maps `len` RW bytes below 2 GiB (`MAP_32BIT`), for non-PIC code.
fn map_low(len: usize) -> Result<usize> {
    // SAFETY: a fresh anonymous mapping; the result is checked.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(Error::Memory {
            detail: format!("mmap of {len} bytes below 2 GiB failed: {}", std::io::Error::last_os_error()),
        });
    }
    Ok(p as usize)
}

impl InProcessMemoryManager {
    /// One mapping per link.
    pub fn new() -> Self {
        InProcessMemoryManager { page: super::host_page_size(), slab: None }
    }

    /// All links carved from one slab of `size` bytes reserved up front
    /// (llvm-jitlink's `-slab-allocate`), with segments rounded to `page`.
    ///
    /// # Errors
    /// [`Error::Memory`] if the slab cannot be mapped.
    pub fn with_slab(size: u64, page: Option<u64>) -> Result<Self> {
        let page = page.unwrap_or_else(super::host_page_size).max(super::host_page_size());
        let len = align_up(size.max(page), page) as usize;
        let base = map_near_libc(len, libc::PROT_NONE)?;
        Ok(InProcessMemoryManager { page, slab: Some(Arc::new(Slab { base, len, next: Mutex::new(0) })) })
    }
}

impl Default for InProcessMemoryManager {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryManager for InProcessMemoryManager {
    fn allocate(&mut self, req: &AllocRequest) -> Result<Box<dyn Allocation>> {
        let (offsets, total) = contiguous_layout(req, self.page);
        let total = total.max(self.page) as usize;
        let (base, owned) = match &self.slab {
            None if req.low_2gib => (map_low(total)?, true),
            None => (map_near_libc(total, libc::PROT_READ | libc::PROT_WRITE)?, true),
            Some(slab) => {
                if req.low_2gib && slab.base + slab.len > 1 << 31 {
                    return Err(Error::Memory {
                        detail: "the link has 32-bit absolute references to its own symbols (non-PIC code) and \
                                 needs memory below 2 GiB, but the slab lies above"
                            .into(),
                    });
                }
                let mut next = slab.next.lock().unwrap_or_else(|e| e.into_inner());
                let max_align = req.segments.iter().map(|s| s.align).max().unwrap_or(1).max(self.page) as usize;
                let start = (slab.base + *next).next_multiple_of(max_align) - slab.base;
                if start + total > slab.len {
                    return Err(Error::Memory {
                        detail: format!(
                            "slab exhausted: link needs {total} bytes, {} of {} left",
                            slab.len.saturating_sub(start),
                            slab.len
                        ),
                    });
                }
                *next = start + total;
                let base = slab.base + start;
                // SAFETY: [base, base+total) lies inside the slab mapping
                // and belongs to no other allocation.
                let rc =
                    unsafe { libc::mprotect(base as *mut libc::c_void, total, libc::PROT_READ | libc::PROT_WRITE) };
                if rc != 0 {
                    return Err(Error::Memory {
                        detail: format!("mprotect RW failed: {}", std::io::Error::last_os_error()),
                    });
                }
                (base, false)
            }
        };
        let mut segs = [(0usize, 0usize); 3];
        for p in Prot::ALL {
            segs[p.index()] = (offsets[p.index()] as usize, req.segments[p.index()].size as usize);
        }
        Ok(Box::new(InProcessAllocation { base, len: total, segs, owned, _slab: self.slab.clone(), page: self.page }))
    }

    fn page_size(&self) -> u64 {
        self.page
    }
}

/// One link's memory in this process.
struct InProcessAllocation {
    base: usize,
    len: usize,
    segs: [(usize, usize); 3],
    owned: bool,
    _slab: Option<Arc<Slab>>,
    page: u64,
}

// SAFETY: the allocation exclusively owns its address range; the raw
// address is plain data, and access goes through &self/&mut self.
unsafe impl Send for InProcessAllocation {}

impl Allocation for InProcessAllocation {
    fn segment(&self, prot: Prot) -> Segment {
        let (off, size) = self.segs[prot.index()];
        Segment { target: (self.base + off) as u64, size: size as u64 }
    }

    fn working(&self, prot: Prot) -> &[u8] {
        let (off, size) = self.segs[prot.index()];
        // SAFETY: [base+off, base+off+size) is inside the mapping this
        // allocation owns, which stays mapped (and readable) while self lives.
        unsafe { std::slice::from_raw_parts((self.base + off) as *const u8, size) }
    }

    fn working_mut(&mut self, prot: Prot) -> &mut [u8] {
        let (off, size) = self.segs[prot.index()];
        // SAFETY: as in `working`; the range is mapped RW until finalize,
        // and &mut self guarantees no other view exists.
        unsafe { std::slice::from_raw_parts_mut((self.base + off) as *mut u8, size) }
    }

    fn finalize(&mut self) -> Result<()> {
        for (prot, flags) in [(Prot::ReadExec, libc::PROT_READ | libc::PROT_EXEC), (Prot::Read, libc::PROT_READ)] {
            let (off, size) = self.segs[prot.index()];
            if size == 0 {
                continue;
            }
            let len = align_up(size as u64, self.page) as usize;
            // SAFETY: the range is page aligned and inside our mapping.
            let rc = unsafe { libc::mprotect((self.base + off) as *mut libc::c_void, len, flags) };
            if rc != 0 {
                return Err(Error::Memory {
                    detail: format!(
                        "mprotect of {len} bytes at {:#x} failed: {}",
                        self.base + off,
                        std::io::Error::last_os_error()
                    ),
                });
            }
            if prot == Prot::ReadExec {
                flush_icache(self.base + off, len);
            }
        }
        Ok(())
    }

    fn executable_here(&self) -> bool {
        true
    }
}

impl Drop for InProcessAllocation {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: base/len is the mapping this allocation created.
            unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
        } else {
            // SAFETY: our part of the slab goes back to PROT_NONE.
            unsafe { libc::mprotect(self.base as *mut libc::c_void, self.len, libc::PROT_NONE) };
        }
    }
}

/// Makes newly written code visible to instruction fetch. x86-64 keeps
/// instruction and data caches coherent, so only ordering is needed.
fn flush_icache(_start: usize, _len: usize) {
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
}
