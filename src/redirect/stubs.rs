//! The stub pool: per-symbol stubs (`jmp *slot` and the like) and lazy
//! re-entry trampolines, prewritten a page at a time so that code is never
//! written after it becomes executable; only the RW slots change.
//!
//! Each chunk is one code page of entries ([`ArchCode::entry_size`] bytes:
//! a stub, then a trampoline) and one data page of 16-byte slot pairs
//! (`slot`, `ctx`), whose last word holds the re-entry routine's address.
//! For targets other than the x86-64 host, the pool also holds the
//! re-entry routine's encoding (one code page) and its resolver slot.

use super::encoding::ArchCode;
use crate::error::{Error, Result};
use crate::memory::JitArena;
use std::sync::Arc;

/// One stub (and its trampoline) handed out by the pool.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Stub {
    /// Address of the stub: the symbol's stable identity.
    pub addr: u64,
    /// Address of the lazy re-entry trampoline of this entry.
    pub trampoline: u64,
    /// Address of the 8-byte RW slot the stub jumps through.
    pub slot: u64,
    /// Address of the 8-byte RW slot holding the trampoline's context.
    pub ctx_slot: u64,
}

struct Chunk {
    off: usize,
    code: u64,
    data: u64,
    used: usize,
}

/// Stubs and trampolines carved from the session's JIT arena.
pub struct StubPool {
    arena: Arc<JitArena>,
    code: ArchCode,
    chunks: Vec<Chunk>,
    reentry: u64,
    routine: Option<(usize, u64)>,
}

impl StubPool {
    /// A pool for `code`'s architecture whose trampolines jump to
    /// `reentry` (the host's compiled re-entry routine), or, when `None`,
    /// to an encoded routine the pool places itself.
    ///
    /// # Errors
    /// [`Error::Memory`] when the routine's page cannot be reserved.
    pub fn new(arena: Arc<JitArena>, code: ArchCode, reentry: Option<u64>) -> Result<Self> {
        let mut pool = StubPool { arena, code, chunks: Vec::new(), reentry: reentry.unwrap_or(0), routine: None };
        if reentry.is_none() {
            pool.place_routine()?;
        }
        Ok(pool)
    }

    fn place_routine(&mut self) -> Result<()> {
        let page = self.arena.page();
        let off = self.arena.reserve(2 * page, page)?;
        self.arena.open(off, 2 * page)?;
        let addr = self.arena.base() + off as u64;
        let resolver_slot = addr + page as u64;
        let bytes = self
            .code
            .encode_reentry(addr, resolver_slot)
            .ok_or_else(|| Error::Memory { detail: "re-entry routine does not encode at its address".into() })?;
        self.write(off, &bytes);
        self.arena.protect(off, page, libc::PROT_READ | libc::PROT_EXEC)?;
        self.arena.protect(off + page, page, libc::PROT_READ | libc::PROT_WRITE)?;
        self.reentry = addr;
        self.routine = Some((off, resolver_slot));
        Ok(())
    }

    fn write(&self, off: usize, bytes: &[u8]) {
        let w = self.arena.working_ptr(off);
        // SAFETY: callers pass a range they reserved and opened for this
        // pool alone, still writable in the working view.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), w, bytes.len()) };
        self.arena.touched(off, bytes.len());
    }

    fn per_chunk(&self) -> usize {
        self.arena.page() / self.code.entry_size()
    }

    fn new_chunk(&mut self) -> Result<()> {
        let page = self.arena.page();
        let off = self.arena.reserve(2 * page, page)?;
        self.arena.open(off, 2 * page)?;
        let code = self.arena.base() + off as u64;
        let data = code + page as u64;
        let reentry_slot = data + page as u64 - 8;
        let size = self.code.entry_size();
        for i in 0..self.per_chunk() {
            let entry = code + (i * size) as u64;
            let slot = data + (16 * i) as u64;
            let e = self
                .code
                .encode_entry(entry, slot, slot + 8, reentry_slot)
                .ok_or_else(|| Error::Memory { detail: "stub pool slots out of range of their code".into() })?;
            self.write(off + i * size, &e);
        }
        self.arena.protect(off, page, libc::PROT_READ | libc::PROT_EXEC)?;
        self.arena.protect(off + page, page, libc::PROT_READ | libc::PROT_WRITE)?;
        self.chunks.push(Chunk { off, code, data, used: 0 });
        self.set_slot(reentry_slot, self.reentry);
        Ok(())
    }

    /// A fresh stub whose slot holds `target`.
    ///
    /// # Errors
    /// [`Error::Memory`] when the arena is full.
    pub fn alloc(&mut self, target: u64) -> Result<Stub> {
        let n = self.per_chunk();
        if self.chunks.last().is_none_or(|c| c.used == n) {
            self.new_chunk()?;
        }
        let size = self.code.entry_size();
        let c = self.chunks.last_mut().expect("a chunk");
        let i = c.used;
        c.used += 1;
        let addr = c.code + (i * size) as u64;
        let slot = c.data + (16 * i) as u64;
        let stub = Stub { addr, trampoline: addr + self.code.trampoline_offset() as u64, slot, ctx_slot: slot + 8 };
        self.set_slot(stub.slot, target);
        Ok(stub)
    }

    /// Stores `value` into a stub, context or routine slot (RW data of the
    /// pool), in the target's byte order.
    pub fn set_slot(&self, slot: u64, value: u64) {
        let off = (slot - self.arena.base()) as usize;
        let v = if self.code.arch.little_endian() { value } else { value.swap_bytes() };
        // SAFETY: slots are 8-aligned words of the pool's data pages,
        // writable in the working view for the pool's life.
        unsafe { crate::memory::code_write::write_slot(self.arena.working_ptr(off).cast::<u64>(), v) }
        self.arena.touched(off, 8);
    }

    /// Points the encoded re-entry routine's resolver slot at `resolver`
    /// (a function `u64 resolve(u64 context)` of the target process);
    /// false when the pool uses a compiled host routine instead.
    pub fn set_resolver(&self, resolver: u64) -> bool {
        match self.routine {
            Some((_, slot)) => {
                self.set_slot(slot, resolver);
                true
            }
            None => false,
        }
    }

    /// Reads a slot.
    pub fn get_slot(&self, slot: u64) -> u64 {
        let off = (slot - self.arena.base()) as usize;
        // SAFETY: as in set_slot; an atomic load of an aligned mapped word.
        let v = unsafe { std::sync::atomic::AtomicU64::from_ptr(self.arena.working_ptr(off).cast::<u64>()) }
            .load(std::sync::atomic::Ordering::Acquire);
        if self.code.arch.little_endian() {
            v
        } else {
            v.swap_bytes()
        }
    }

    /// The shared re-entry routine's address.
    pub fn reentry(&self) -> u64 {
        self.reentry
    }

    /// The pool's memory as `(target address, bytes)` ranges, for the dump.
    pub fn memory(&self) -> Vec<(u64, Vec<u8>)> {
        let page = self.arena.page();
        let mut v = Vec::new();
        let mut push = |off: usize| {
            // SAFETY: [off, off + 2 pages) is the pool's own reserved range.
            let bytes = unsafe { std::slice::from_raw_parts(self.arena.working_ptr(off), 2 * page) }.to_vec();
            v.push((self.arena.base() + off as u64, bytes));
        };
        if let Some((off, _)) = self.routine {
            push(off);
        }
        for c in &self.chunks {
            push(c.off);
        }
        v
    }

    /// Bytes of arena the pool holds.
    pub fn bytes(&self) -> usize {
        (self.chunks.len() + usize::from(self.routine.is_some())) * 2 * self.arena.page()
    }
}

impl Drop for StubPool {
    fn drop(&mut self) {
        let page = self.arena.page();
        for c in &self.chunks {
            self.arena.release(c.off, 2 * page);
        }
        if let Some((off, _)) = self.routine {
            self.arena.release(off, 2 * page);
        }
    }
}
