//! The stub pool: per-symbol stubs (`jmp *slot`) and lazy re-entry
//! trampolines, prewritten a page at a time so that code is never written
//! after it becomes executable; only the RW slots change.

use crate::arch::x86_64::redirect::{encode_entry, ENTRY_SIZE, TRAMPOLINE_OFFSET};
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
    code: u64,
    data: u64,
    used: usize,
}

/// Stubs and trampolines carved from the session's JIT arena.
pub struct StubPool {
    arena: Arc<JitArena>,
    chunks: Vec<(usize, Chunk)>,
    reentry: u64,
}

impl StubPool {
    /// A pool whose trampolines jump to `reentry` (the shared re-entry
    /// routine's address).
    pub fn new(arena: Arc<JitArena>, reentry: u64) -> Self {
        StubPool { arena, chunks: Vec::new(), reentry }
    }

    fn per_chunk(&self) -> usize {
        self.arena.page() / ENTRY_SIZE
    }

    fn new_chunk(&mut self) -> Result<()> {
        let page = self.arena.page();
        let off = self.arena.reserve(2 * page, page)?;
        self.arena.open(off, 2 * page)?;
        let code = self.arena.base() + off as u64;
        let data = code + page as u64;
        let n = self.per_chunk();
        let reentry_slot = data + page as u64 - 8;
        let w = self.arena.working_ptr(off);
        let write = |at: usize, bytes: &[u8]| {
            debug_assert!(at + bytes.len() <= 2 * page);
            // SAFETY: [off, off + 2 pages) was just reserved and opened for
            // this pool alone; its working view is writable until the
            // protect() calls below, and `at + len` stays inside it.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), w.add(at), bytes.len()) };
        };
        for i in 0..n {
            let entry = code + (i * ENTRY_SIZE) as u64;
            let slot = data + (16 * i) as u64;
            let e = encode_entry(entry, slot, slot + 8, reentry_slot)
                .ok_or_else(|| Error::Memory { detail: "stub pool slots out of rel32 range".into() })?;
            write(i * ENTRY_SIZE, &e);
        }
        write(2 * page - 8, &self.reentry.to_le_bytes());
        self.arena.protect(off, page, libc::PROT_READ | libc::PROT_EXEC)?;
        self.arena.protect(off + page, page, libc::PROT_READ | libc::PROT_WRITE)?;
        self.chunks.push((off, Chunk { code, data, used: 0 }));
        Ok(())
    }

    /// A fresh stub whose slot holds `target`.
    ///
    /// # Errors
    /// [`Error::Memory`] when the arena is full.
    pub fn alloc(&mut self, target: u64) -> Result<Stub> {
        let n = self.per_chunk();
        if self.chunks.last().is_none_or(|(_, c)| c.used == n) {
            self.new_chunk()?;
        }
        let (_, c) = self.chunks.last_mut().expect("a chunk");
        let i = c.used;
        c.used += 1;
        let addr = c.code + (i * ENTRY_SIZE) as u64;
        let slot = c.data + (16 * i) as u64;
        let stub = Stub { addr, trampoline: addr + TRAMPOLINE_OFFSET as u64, slot, ctx_slot: slot + 8 };
        set_slot(stub.slot, target);
        Ok(stub)
    }

    /// Bytes of arena the pool holds.
    pub fn bytes(&self) -> usize {
        self.chunks.len() * 2 * self.arena.page()
    }
}

impl Drop for StubPool {
    fn drop(&mut self) {
        for (off, _) in &self.chunks {
            self.arena.release(*off, 2 * self.arena.page());
        }
    }
}

/// Stores `value` into a stub or context slot (RW data of the pool).
pub fn set_slot(slot: u64, value: u64) {
    // SAFETY: slots are 8-aligned words of a pool data page, mapped RW in
    // the target view for the pool's life.
    unsafe { crate::memory::code_write::write_slot(slot as *mut u64, value) }
}

/// Reads a slot.
pub fn get_slot(slot: u64) -> u64 {
    // SAFETY: as in set_slot; an atomic load of an aligned mapped word.
    unsafe { std::sync::atomic::AtomicU64::from_ptr(slot as *mut u64) }.load(std::sync::atomic::Ordering::Acquire)
}
