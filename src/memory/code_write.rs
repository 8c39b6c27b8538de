//! Every write to finalized code memory goes through this module.
//!
//! Code is written only through the arena's RW alias (`DoubleMapped`), and
//! only with single atomic stores, so a thread executing the instruction
//! sees either the old or the new bytes, never a mix: a naturally aligned
//! 4-byte store, a compare-and-swap of the aligned 8-byte word that
//! contains the field, or (x86-64, `LOCK CMPXCHG16B`) of the aligned
//! 16-byte block that contains it. Afterwards the instruction cache is made
//! coherent ([`flush_icache`]).

use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// Why a field cannot be written atomically.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NotAtomic {
    /// The 4 bytes straddle two aligned 16-byte blocks (or two 8-byte
    /// words on a CPU without `CMPXCHG16B`).
    Straddles,
}

fn has_cas16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("cmpxchg16b")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// How a 4-byte field at `addr` can be written atomically, if at all: 4
/// (aligned store), 8 (CAS of the aligned word) or 16 (CAS of the aligned
/// 16-byte block, x86-64 `CMPXCHG16B`).
pub fn atomic_width(addr: u64) -> Result<u8, NotAtomic> {
    if addr % 4 == 0 {
        Ok(4)
    } else if addr % 8 <= 4 {
        Ok(8)
    } else if addr % 16 <= 12 && has_cas16() {
        Ok(16)
    } else {
        Err(NotAtomic::Straddles)
    }
}

/// `LOCK CMPXCHG16B` on the 16-byte block at `ptr`: if it holds `old`,
/// store `new`. Returns the value found (== `old` on success).
///
/// # Safety
/// `ptr` must be 16-byte aligned, mapped writable, and owned by the caller.
#[cfg(target_arch = "x86_64")]
unsafe fn cas16(ptr: *mut u8, old: u128, new: u128) -> u128 {
    let (mut lo, mut hi) = (old as u64, (old >> 64) as u64);
    // SAFETY: the caller guarantees an aligned, writable block. RBX is
    // reserved by the compiler, so the new low half is swapped into it
    // around the instruction and restored.
    unsafe {
        std::arch::asm!(
            "xchg {tmp}, rbx",
            "lock cmpxchg16b xmmword ptr [{p}]",
            "mov rbx, {tmp}",
            p = in(reg) ptr,
            tmp = inout(reg) new as u64 => _,
            inout("rax") lo,
            inout("rdx") hi,
            in("rcx") (new >> 64) as u64,
            options(nostack),
        );
    }
    u128::from(lo) | (u128::from(hi) << 64)
}

/// Atomically replaces the 4 bytes at `alias` (the RW alias of code at
/// target address `addr`) with `new`.
///
/// # Safety
/// `alias` must be the writable alias of `addr`, with the aligned 8-byte
/// word around it mapped and owned by the caller's JIT memory, and the
/// 4 bytes must be an instruction field that may change (a rel32).
///
/// # Errors
/// [`NotAtomic`] when the field straddles two 8-byte words (nothing is written).
pub unsafe fn write_field32(alias: *mut u8, addr: u64, new: [u8; 4]) -> Result<(), NotAtomic> {
    match atomic_width(addr)? {
        4 => {
            // SAFETY: the caller guarantees alias is writable; addr (and so
            // alias, which has the same page offset) is 4-byte aligned.
            let a = unsafe { AtomicU32::from_ptr(alias.cast::<u32>()) };
            a.store(u32::from_ne_bytes(new), Ordering::Release);
        }
        #[cfg(target_arch = "x86_64")]
        16 => {
            let shift = (addr % 16) as usize;
            let block = alias.wrapping_sub(shift);
            // A CAS that fails returns the current contents: read them so.
            // SAFETY: the 16-byte block containing the field is mapped
            // writable and aligned like addr's (caller's guarantee).
            let mut cur = unsafe { cas16(block, 0, 0) };
            loop {
                let mut bytes = cur.to_ne_bytes();
                bytes[shift..shift + 4].copy_from_slice(&new);
                let want = u128::from_ne_bytes(bytes);
                // SAFETY: as above.
                let seen = unsafe { cas16(block, cur, want) };
                if seen == cur {
                    break;
                }
                cur = seen;
            }
        }
        _ => {
            let shift = (addr % 8) as usize;
            // SAFETY: the aligned 8-byte word containing the field is mapped
            // (caller's guarantee) and 8-aligned like addr's word.
            let word = unsafe { AtomicU64::from_ptr(alias.sub(shift).cast::<u64>()) };
            let mut old = word.load(Ordering::Acquire);
            loop {
                let mut bytes = old.to_ne_bytes();
                bytes[shift..shift + 4].copy_from_slice(&new);
                match word.compare_exchange_weak(old, u64::from_ne_bytes(bytes), Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => break,
                    Err(cur) => old = cur,
                }
            }
        }
    }
    flush_icache(addr, 4);
    Ok(())
}

/// Atomically stores a pointer-sized value (a stub's target) into RW data.
///
/// # Safety
/// `slot` must be an 8-byte aligned, writable slot owned by the caller.
pub unsafe fn write_slot(slot: *mut u64, value: u64) {
    // SAFETY: caller guarantees an aligned, writable, owned slot.
    unsafe { AtomicU64::from_ptr(slot) }.store(value, Ordering::Release);
}

/// Makes modified code visible to instruction fetch on every core.
/// x86-64 keeps instruction fetch coherent with stores; only ordering is
/// needed (the rule for x86-64). Other architectures' sequences
/// live with their encodings in `crate::arch`.
pub fn flush_icache(_addr: u64, _len: usize) {
    fence(Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(atomic_width(0x1000), Ok(4));
        assert_eq!(atomic_width(0x1001), Ok(8));
        assert_eq!(atomic_width(0x1003), Ok(8));
        assert_eq!(atomic_width(0x1004), Ok(4));
        assert_eq!(atomic_width(0x1005), Ok(16));
        assert_eq!(atomic_width(0x100c), Ok(4));
        assert_eq!(atomic_width(0x100d), Err(NotAtomic::Straddles));
        assert_eq!(atomic_width(0x100f), Err(NotAtomic::Straddles));
    }

    #[test]
    fn cas_write_inside_word() {
        #[repr(align(16))]
        struct Block([u8; 32]);
        let mut buf = Block([0xaa; 32]);
        let base = buf.0.as_mut_ptr();
        for off in [1usize, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 21] {
            let p = base.wrapping_add(off);
            // SAFETY: p..p+4 lies inside buf, whose words are 8-aligned.
            unsafe { write_field32(p, p as u64, [1, 2, 3, 4]).unwrap() };
            // SAFETY: reading back inside buf.
            assert_eq!(unsafe { std::slice::from_raw_parts(p, 4) }, &[1, 2, 3, 4]);
        }
        assert_eq!(buf.0[0], 0xaa, "bytes around the fields are untouched");
        assert_eq!(buf.0[31], 0xaa);
        let p = base.wrapping_add(13);
        // SAFETY: nothing is written for a straddling field.
        assert_eq!(unsafe { write_field32(p, p as u64, [9; 4]) }, Err(NotAtomic::Straddles));
    }
}
