//! The JIT arena: one reservation near the host's libc from which every
//! link, stub and trampoline of a session is carved, so any call site can
//! reach any stub or function with a rel32 (all lie within the arena's
//! size, at most 1 GiB).
//!
//! Two memory policies ([`MemoryPolicy`]):
//! - `DoubleMapped`: the arena is a memfd mapped twice, the *target view*
//!   (R, RX or RW per range; never W+X) and a *working alias* (RW) that
//!   only the linker and the patcher ([`super::code_write`]) write through.
//!   No mapping is ever writable and executable.
//! - `StrictWX`: one anonymous mapping; a range is RW while the linker
//!   writes it, then R/RX; no writable view of code exists after finalize.
//!
//! Freed ranges go back to a first-fit free list; their pages are returned
//! to the kernel (hole punched / `MADV_DONTNEED`) and made inaccessible.
//!
//! A *remote* arena ([`JitArena::remote`]) has its target addresses in
//! another process (an out-of-process executor, `crate::oop`): working
//! memory is here, and what the linker, the stub pool and the patcher
//! change is recorded (protections set, ranges written) and pushed to the
//! other process by [`JitArena::flush`] through a [`RemoteSink`].

use super::in_process::map_near_libc_with;
use super::{align_up, contiguous_layout, AllocRequest, Allocation, MemoryManager, Segment};
use crate::error::{Error, Result};
use crate::graph::Prot;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// How code memory may be written after finalize.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MemoryPolicy {
    /// Code pages have a RW alias used only by the patcher.
    DoubleMapped,
    /// No writable view of code exists after finalize.
    StrictWX,
}

/// Where a remote arena's target memory lives (an executor process):
/// [`JitArena::flush`] sends it what changed.
pub trait RemoteSink: Send + Sync {
    /// Gives page-aligned ranges `(target address, bytes, PROT_* flags)`
    /// their content and protection in the target, in one round trip.
    ///
    /// # Errors
    /// When the target refuses or is gone.
    fn finalize_pages(&self, pages: &[(u64, &[u8], libc::c_int)]) -> Result<()>;
    /// Copies `(target address, bytes)` ranges into the target, in one
    /// round trip. A 4-byte range at a 4-aligned address (a patched branch)
    /// and an 8-byte range at an 8-aligned address (a stub slot, or the
    /// aligned word around a patched x86-64 rel32) must each be one atomic
    /// store there, made visible to instruction fetch when in code.
    ///
    /// # Errors
    /// When the target refuses or is gone.
    fn write(&self, ranges: &[(u64, &[u8])]) -> Result<()>;
    /// `[addr, addr + len)` is no longer used: its pages may be reset.
    fn release(&self, addr: u64, len: u64);
}

/// What changed in a remote arena since the last flush.
#[derive(Default)]
struct Pending {
    /// Protections set: offset → (length, PROT_* flags).
    protect: BTreeMap<usize, (usize, libc::c_int)>,
    /// Ranges written: (offset, length).
    dirty: Vec<(usize, usize)>,
}

struct Remote {
    sink: Arc<dyn RemoteSink>,
    pending: Mutex<Pending>,
}

fn os_err(what: &str) -> Error {
    Error::Memory { detail: format!("{what}: {}", std::io::Error::last_os_error()) }
}

/// A session's JIT memory reservation.
pub struct JitArena {
    policy: MemoryPolicy,
    x_base: usize,
    w_base: usize,
    len: usize,
    page: usize,
    fd: libc::c_int,
    free: Mutex<BTreeMap<usize, usize>>,
    /// Target addresses are simulated (a `--noexec` link for any target):
    /// only the working view is mapped; protections are not applied.
    simulated: bool,
    /// Target addresses are another process's ([`JitArena::remote`]).
    remote: Option<Remote>,
}

// SAFETY: the arena's addresses are plain integers; all mutation of the
// free list is behind a Mutex, and page contents are accessed through
// allocations that own their ranges exclusively.
unsafe impl Send for JitArena {}
// SAFETY: as above.
unsafe impl Sync for JitArena {}

impl JitArena {
    /// Reserves `size` bytes (rounded to pages) near libc.
    ///
    /// # Errors
    /// [`Error::Memory`] when the reservation or the memfd cannot be made.
    pub fn new(policy: MemoryPolicy, size: u64) -> Result<Arc<JitArena>> {
        let page = super::host_page_size() as usize;
        let len = align_up(size.clamp(1 << 20, 1 << 30), page as u64) as usize;
        let (x_base, w_base, fd) = match policy {
            MemoryPolicy::DoubleMapped => {
                // SAFETY: memfd_create with a NUL-terminated name.
                let fd = unsafe { libc::memfd_create(c"jitlink-code".as_ptr(), libc::MFD_CLOEXEC) };
                if fd < 0 {
                    return Err(os_err("memfd_create"));
                }
                // SAFETY: fd is our memfd; a sparse size costs nothing.
                if unsafe { libc::ftruncate(fd, len as libc::off_t) } != 0 {
                    // SAFETY: closing our own fd.
                    unsafe { libc::close(fd) };
                    return Err(os_err("ftruncate of the code memfd"));
                }
                let x = map_near_libc_with(len, libc::PROT_NONE, libc::MAP_SHARED | libc::MAP_NORESERVE, fd)?;
                // SAFETY: a fresh shared mapping of our memfd; checked below.
                let w = unsafe {
                    libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0)
                };
                if w == libc::MAP_FAILED {
                    return Err(os_err("mmap of the working alias"));
                }
                (x, w as usize, fd)
            }
            MemoryPolicy::StrictWX => {
                let x = map_near_libc_with(
                    len,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                )?;
                (x, x, -1)
            }
        };
        let mut free = BTreeMap::new();
        free.insert(0, len);
        Ok(Arc::new(JitArena {
            policy,
            x_base,
            w_base,
            len,
            page,
            fd,
            free: Mutex::new(free),
            simulated: false,
            remote: None,
        }))
    }

    /// An arena whose target addresses start at `base` without existing in
    /// this process (for `--noexec` links of any target): working memory
    /// is a private mapping here; the patcher writes through it as through
    /// a double-mapped alias.
    ///
    /// # Errors
    /// [`Error::Memory`] when the working mapping cannot be made.
    pub fn simulated(base: u64, size: u64) -> Result<Arc<JitArena>> {
        let page = super::host_page_size() as usize;
        Self::working_only(base, size, page, None)
    }

    /// An arena whose target memory is `[base, base + size)` of another
    /// process (an executor's reservation, pages of `page` bytes): working
    /// memory is a private mapping here, as for a simulated arena, and
    /// every protection set and every range the stub pool or the patcher
    /// writes is recorded until [`JitArena::flush`] sends it to `sink`.
    ///
    /// # Errors
    /// [`Error::Memory`] when the working mapping cannot be made or `base`
    /// is not page aligned.
    pub fn remote(base: u64, size: u64, page: u64, sink: Arc<dyn RemoteSink>) -> Result<Arc<JitArena>> {
        let page = page.max(super::host_page_size()) as usize;
        if base % page as u64 != 0 {
            return Err(Error::Memory { detail: format!("remote arena base {base:#x} is not page aligned") });
        }
        Self::working_only(base, size, page, Some(Remote { sink, pending: Mutex::new(Pending::default()) }))
    }

    fn working_only(base: u64, size: u64, page: usize, remote: Option<Remote>) -> Result<Arc<JitArena>> {
        let len = align_up(size.clamp(1 << 20, 1 << 30), page as u64) as usize;
        // SAFETY: a fresh anonymous mapping; checked below.
        let w = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if w == libc::MAP_FAILED {
            return Err(os_err("mmap of a simulated arena"));
        }
        let mut free = BTreeMap::new();
        free.insert(0, len);
        Ok(Arc::new(JitArena {
            policy: MemoryPolicy::DoubleMapped,
            x_base: align_up(base, page as u64) as usize,
            w_base: w as usize,
            len,
            page,
            fd: -1,
            free: Mutex::new(free),
            simulated: true,
            remote,
        }))
    }

    /// True for an arena whose target memory is another process's
    /// ([`JitArena::remote`]).
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// Bytes of target address space the arena spans.
    pub fn size(&self) -> u64 {
        self.len as u64
    }

    /// Records that `[off, off + len)` of working memory was written (a
    /// remote arena sends it at the next [`JitArena::flush`]; otherwise
    /// nothing to do).
    pub(crate) fn touched(&self, off: usize, len: usize) {
        if let Some(r) = &self.remote {
            r.pending.lock().unwrap_or_else(|e| e.into_inner()).dirty.push((off, len));
        }
    }

    /// Sends a remote arena's recorded changes to its target: the pages
    /// given a protection since the last flush (content and protection, in
    /// one round trip), then every other range written (one round trip).
    /// Nothing to do for other arenas, or when nothing changed.
    ///
    /// # Errors
    /// When the target refuses or is gone (the changes stay recorded).
    pub fn flush(&self) -> Result<()> {
        let Some(r) = &self.remote else { return Ok(()) };
        let mut p = r.pending.lock().unwrap_or_else(|e| e.into_inner());
        if p.protect.is_empty() && p.dirty.is_empty() {
            return Ok(());
        }
        let bytes = |off: usize, len: usize| -> Vec<u8> {
            let mut v = vec![0u8; len];
            // SAFETY: [off, off + len) lies in the working mapping (offsets
            // of ranges reserved from this arena); the copy is a snapshot.
            unsafe { std::ptr::copy_nonoverlapping(self.working_ptr(off), v.as_mut_ptr(), len) };
            v
        };
        if !p.protect.is_empty() {
            let owned: Vec<(u64, Vec<u8>, libc::c_int)> = p
                .protect
                .iter()
                .map(|(&off, &(len, prot))| (self.base() + off as u64, bytes(off, len), prot))
                .collect();
            let pages: Vec<(u64, &[u8], libc::c_int)> = owned.iter().map(|(a, b, p)| (*a, b.as_slice(), *p)).collect();
            r.sink.finalize_pages(&pages)?;
        }
        let covered = |off: usize, len: usize| {
            p.protect.range(..=off).next_back().is_some_and(|(&o, &(l, _))| off >= o && off + len <= o + l)
        };
        let mut dirty: Vec<(usize, usize)> = p.dirty.iter().copied().filter(|&(o, l)| !covered(o, l)).collect();
        dirty.sort_unstable();
        dirty.dedup();
        if !dirty.is_empty() {
            let owned: Vec<(u64, Vec<u8>)> =
                dirty.iter().map(|&(o, l)| (self.base() + o as u64, bytes(o, l))).collect();
            let ranges: Vec<(u64, &[u8])> = owned.iter().map(|(a, b)| (*a, b.as_slice())).collect();
            if let Err(e) = r.sink.write(&ranges) {
                // The pages are there now; the writes are still to send.
                p.protect.clear();
                return Err(e);
            }
        }
        p.protect.clear();
        p.dirty.clear();
        Ok(())
    }

    /// True when target addresses are real addresses of this process.
    pub fn executable(&self) -> bool {
        !self.simulated
    }

    /// The policy.
    pub fn policy(&self) -> MemoryPolicy {
        self.policy
    }

    /// Page size in bytes.
    pub fn page(&self) -> usize {
        self.page
    }

    /// First target address of the arena.
    pub fn base(&self) -> u64 {
        self.x_base as u64
    }

    /// True if `addr` lies in the arena's target view.
    pub fn contains(&self, addr: u64) -> bool {
        (addr as usize) >= self.x_base && (addr as usize) < self.x_base + self.len
    }

    /// Reserves `len` bytes (page-rounded) aligned to `align`; returns the
    /// offset. Before use the range must be opened with [`JitArena::open`].
    ///
    /// # Errors
    /// [`Error::Memory`] when the arena is full.
    pub fn reserve(&self, len: usize, align: usize) -> Result<usize> {
        let len = align_up(len.max(1) as u64, self.page as u64) as usize;
        let align = align.max(self.page);
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let found = free.iter().find_map(|(&off, &flen)| {
            let start = align_up((self.x_base + off) as u64, align as u64) as usize - self.x_base;
            (start + len <= off + flen).then_some((off, flen, start))
        });
        let Some((off, flen, start)) = found else {
            return Err(Error::Memory { detail: format!("JIT arena of {} bytes is full (asked {len})", self.len) });
        };
        free.remove(&off);
        if start > off {
            free.insert(off, start - off);
        }
        if off + flen > start + len {
            free.insert(start + len, off + flen - start - len);
        }
        Ok(start)
    }

    /// Makes a reserved range writable for the linker: the working alias
    /// is always RW under `DoubleMapped`; under `StrictWX` the target view
    /// becomes RW.
    ///
    /// # Errors
    /// [`Error::Memory`] if mprotect fails.
    pub fn open(&self, off: usize, len: usize) -> Result<()> {
        if self.policy == MemoryPolicy::StrictWX {
            self.protect(off, len, libc::PROT_READ | libc::PROT_WRITE)?;
        }
        Ok(())
    }

    /// Sets the target view's protection of a page-aligned range.
    ///
    /// # Errors
    /// [`Error::Memory`] if mprotect fails.
    pub fn protect(&self, off: usize, len: usize, prot: libc::c_int) -> Result<()> {
        let len = align_up(len as u64, self.page as u64) as usize;
        if let Some(r) = &self.remote {
            r.pending.lock().unwrap_or_else(|e| e.into_inner()).protect.insert(off, (len, prot));
            return Ok(());
        }
        if self.simulated {
            return Ok(());
        }
        debug_assert!(off + len <= self.len);
        // SAFETY: [x_base+off, +len) lies within the arena's reservation,
        // page aligned; changing protections of our own mapping.
        if unsafe { libc::mprotect((self.x_base + off) as *mut libc::c_void, len, prot) } != 0 {
            return Err(os_err("mprotect in the JIT arena"));
        }
        Ok(())
    }

    /// Returns a range to the arena: its pages go back to the kernel and
    /// become inaccessible.
    pub fn release(&self, off: usize, len: usize) {
        let len = align_up(len as u64, self.page as u64) as usize;
        if let Some(r) = &self.remote {
            let mut p = r.pending.lock().unwrap_or_else(|e| e.into_inner());
            let sent: Vec<usize> = p.protect.range(off..off + len).map(|(&o, _)| o).collect();
            for o in sent {
                p.protect.remove(&o);
            }
            p.dirty.retain(|&(o, l)| o + l <= off || o >= off + len);
            drop(p);
            r.sink.release(self.base() + off as u64, len as u64);
        }
        // SAFETY: the range is ours (from `reserve`) and no longer used.
        unsafe {
            if self.simulated {
                libc::madvise((self.w_base + off) as *mut libc::c_void, len, libc::MADV_DONTNEED);
            } else {
                libc::mprotect((self.x_base + off) as *mut libc::c_void, len, libc::PROT_NONE);
            }
            match self.policy {
                _ if self.simulated => {}
                MemoryPolicy::DoubleMapped => {
                    libc::fallocate(
                        self.fd,
                        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                        off as libc::off_t,
                        len as libc::off_t,
                    );
                }
                MemoryPolicy::StrictWX => {
                    libc::madvise((self.x_base + off) as *mut libc::c_void, len, libc::MADV_DONTNEED);
                }
            }
        }
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let (mut start, mut size) = (off, len);
        if let Some((&poff, &plen)) = free.range(..off).next_back() {
            if poff + plen == off {
                free.remove(&poff);
                start = poff;
                size += plen;
            }
        }
        if let Some(&nlen) = free.get(&(off + len)) {
            free.remove(&(off + len));
            size += nlen;
        }
        free.insert(start, size);
    }

    /// Working (writable) pointer for a target address inside a range the
    /// caller owns and has opened, for the linker's writes.
    pub(crate) fn working_ptr(&self, off: usize) -> *mut u8 {
        (self.w_base + off) as *mut u8
    }

    /// The patcher's writable alias of `len` bytes of code at target
    /// address `addr`, if the policy has one (`DoubleMapped`).
    pub(crate) fn code_alias(&self, addr: u64, len: usize) -> Option<*mut u8> {
        if self.policy != MemoryPolicy::DoubleMapped || !self.contains(addr) || !self.contains(addr + len as u64 - 1) {
            return None;
        }
        Some((self.w_base + (addr as usize - self.x_base)) as *mut u8)
    }

    /// Bytes of the arena currently handed out.
    pub fn in_use(&self) -> usize {
        let free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        self.len - free.values().sum::<usize>()
    }
}

impl Drop for JitArena {
    fn drop(&mut self) {
        // SAFETY: unmapping our own views and closing our memfd; the
        // arena is dropped only when no allocation (which holds an Arc)
        // remains.
        unsafe {
            if !self.simulated {
                libc::munmap(self.x_base as *mut libc::c_void, self.len);
            }
            if self.w_base != self.x_base {
                libc::munmap(self.w_base as *mut libc::c_void, self.len);
            }
            if self.fd >= 0 {
                libc::close(self.fd);
            }
        }
    }
}

/// A [`MemoryManager`] that carves every link out of one [`JitArena`].
pub struct ArenaMemoryManager {
    arena: Arc<JitArena>,
}

impl ArenaMemoryManager {
    /// Links get memory from `arena`.
    pub fn new(arena: Arc<JitArena>) -> Self {
        ArenaMemoryManager { arena }
    }
}

impl MemoryManager for ArenaMemoryManager {
    fn allocate(&mut self, req: &AllocRequest) -> Result<Box<dyn Allocation>> {
        if req.low_2gib && self.arena.executable() {
            return Err(Error::Memory {
                detail: "non-PIC code (32-bit absolute references to its own symbols) needs memory below 2 GiB, \
                         which the JIT arena near libc cannot give; compile with -fPIC or -fPIE"
                    .into(),
            });
        }
        let page = self.arena.page as u64;
        let (offsets, total) = contiguous_layout(req, page);
        let max_align = req.segments.iter().map(|s| s.align).max().unwrap_or(1).max(page) as usize;
        let off = self.arena.reserve(total.max(page) as usize, max_align)?;
        let len = total.max(page) as usize;
        if let Err(e) = self.arena.open(off, len) {
            self.arena.release(off, len);
            return Err(e);
        }
        let mut segs = [(0usize, 0usize); 3];
        for p in Prot::ALL {
            segs[p.index()] = (off + offsets[p.index()] as usize, req.segments[p.index()].size as usize);
        }
        Ok(Box::new(ArenaAllocation { arena: self.arena.clone(), off, len, segs, finalized: false }))
    }

    fn page_size(&self) -> u64 {
        self.arena.page as u64
    }
}

struct ArenaAllocation {
    arena: Arc<JitArena>,
    off: usize,
    len: usize,
    segs: [(usize, usize); 3],
    finalized: bool,
}

impl Allocation for ArenaAllocation {
    fn segment(&self, prot: Prot) -> Segment {
        let (off, size) = self.segs[prot.index()];
        Segment { target: (self.arena.x_base + off) as u64, size: size as u64 }
    }

    fn working(&self, prot: Prot) -> &[u8] {
        let (off, size) = self.segs[prot.index()];
        if self.finalized && self.arena.policy == MemoryPolicy::StrictWX {
            // Read through the target view (code is R+X, data R or RW).
            // SAFETY: the range is ours and readable after finalize.
            return unsafe { std::slice::from_raw_parts((self.arena.x_base + off) as *const u8, size) };
        }
        // SAFETY: the working view of our range is mapped readable while
        // self lives (alias under DoubleMapped, RW target under StrictWX
        // until finalize).
        unsafe { std::slice::from_raw_parts(self.arena.working_ptr(off), size) }
    }

    fn working_mut(&mut self, prot: Prot) -> &mut [u8] {
        let (off, size) = self.segs[prot.index()];
        assert!(
            !(self.finalized && self.arena.policy == MemoryPolicy::StrictWX),
            "working memory written after finalize under StrictWX"
        );
        // SAFETY: as in `working`, and &mut self excludes other views
        // through this allocation; the range is writable (alias or RW).
        unsafe { std::slice::from_raw_parts_mut(self.arena.working_ptr(off), size) }
    }

    fn finalize(&mut self) -> Result<()> {
        for (prot, flags) in [
            (Prot::ReadExec, libc::PROT_READ | libc::PROT_EXEC),
            (Prot::Read, libc::PROT_READ),
            (Prot::ReadWrite, libc::PROT_READ | libc::PROT_WRITE),
        ] {
            let (off, size) = self.segs[prot.index()];
            if size > 0 {
                self.arena.protect(off, size, flags)?;
            }
        }
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        self.finalized = true;
        Ok(())
    }

    fn executable_here(&self) -> bool {
        self.arena.executable()
    }
}

impl Drop for ArenaAllocation {
    fn drop(&mut self) {
        self.arena.release(self.off, self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_release_coalesce() {
        for policy in [MemoryPolicy::DoubleMapped, MemoryPolicy::StrictWX] {
            let a = JitArena::new(policy, 1 << 20).unwrap();
            let p = a.page();
            let x = a.reserve(3 * p, p).unwrap();
            let y = a.reserve(p, p).unwrap();
            let z = a.reserve(2 * p, 4 * p).unwrap();
            assert_eq!((a.x_base + z) % (4 * p), 0);
            assert!(a.in_use() >= 6 * p);
            a.release(y, p);
            a.release(x, 3 * p);
            let w = a.reserve(4 * p, p).unwrap();
            assert_eq!(w, x, "freed neighbours coalesce");
            a.release(w, 4 * p);
            a.release(z, 2 * p);
            assert_eq!(a.in_use(), 0);
        }
    }

    /// Records what a remote arena sends.
    #[derive(Default)]
    struct Recorder {
        log: Mutex<Vec<String>>,
    }

    impl RemoteSink for Recorder {
        fn finalize_pages(&self, pages: &[(u64, &[u8], libc::c_int)]) -> Result<()> {
            let mut l = self.log.lock().unwrap();
            for &(a, b, p) in pages {
                l.push(format!("page {a:#x} {} {p} {:#x}", b.len(), b[0]));
            }
            Ok(())
        }
        fn write(&self, ranges: &[(u64, &[u8])]) -> Result<()> {
            let mut l = self.log.lock().unwrap();
            for &(a, b) in ranges {
                l.push(format!("write {a:#x} {:?}", b));
            }
            Ok(())
        }
        fn release(&self, addr: u64, len: u64) {
            self.log.lock().unwrap().push(format!("release {addr:#x} {len}"));
        }
    }

    #[test]
    fn remote_arena_sends_pages_then_writes_once() {
        let rec = Arc::new(Recorder::default());
        let a = JitArena::remote(0x7000_0000, 1 << 20, 4096, rec.clone()).unwrap();
        assert!(a.is_remote() && !a.executable());
        let off = a.reserve(2 * 4096, 4096).unwrap();
        // SAFETY: our reserved range of the working mapping.
        unsafe { *a.working_ptr(off) = 0xaa };
        a.touched(off, 1); // inside a page sent whole: not written again
        a.protect(off, 4096, libc::PROT_READ | libc::PROT_EXEC).unwrap();
        a.flush().unwrap();
        assert_eq!(*rec.log.lock().unwrap(), vec![format!("page {:#x} 4096 5 0xaa", 0x7000_0000 + off)]);
        rec.log.lock().unwrap().clear();
        a.flush().unwrap();
        assert!(rec.log.lock().unwrap().is_empty(), "nothing new");
        // SAFETY: as above.
        unsafe { *a.working_ptr(off + 8) = 7 };
        a.touched(off + 8, 4);
        a.touched(off + 8, 4);
        a.flush().unwrap();
        assert_eq!(*rec.log.lock().unwrap(), vec![format!("write {:#x} [7, 0, 0, 0]", 0x7000_0000 + off + 8)]);
        rec.log.lock().unwrap().clear();
        a.release(off, 2 * 4096);
        assert_eq!(*rec.log.lock().unwrap(), vec![format!("release {:#x} 8192", 0x7000_0000 + off)]);
    }

    #[test]
    fn double_mapped_alias_writes_show_in_target_view() {
        let a = JitArena::new(MemoryPolicy::DoubleMapped, 1 << 20).unwrap();
        let off = a.reserve(4096, 4096).unwrap();
        a.protect(off, 4096, libc::PROT_READ | libc::PROT_EXEC).unwrap();
        let addr = a.base() + off as u64;
        let alias = a.code_alias(addr, 4).unwrap();
        // SAFETY: alias points at 4 bytes of our reserved range in the RW view.
        unsafe { alias.cast::<u32>().write_volatile(0xdead_beef) };
        // SAFETY: the target view is readable (R+X).
        assert_eq!(unsafe { (addr as *const u32).read_volatile() }, 0xdead_beef);
        assert!(JitArena::new(MemoryPolicy::StrictWX, 1 << 20).unwrap().code_alias(addr, 4).is_none());
    }
}
