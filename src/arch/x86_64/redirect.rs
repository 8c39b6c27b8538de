//! x86-64 encodings for redirection: patchable call sites, redirectable
//! stubs and lazy re-entry trampolines.
//!
//! A call site is the rel32 of `call rel32` (e8) or `jmp rel32` (e9); its
//! displacement is relative to the end of the field (`target - (P + 4)`),
//! range ±2 GiB. A stub is `jmp *slot(%rip)` with its 8-byte slot in RW
//! data; a trampoline loads its context pointer into `%r11` (a scratch
//! register the SysV ABI leaves free at calls) and jumps to the shared
//! re-entry routine.

/// The instruction a call site belongs to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SiteKind {
    /// `call rel32` (e8).
    Call,
    /// `jmp rel32` (e9), a tail call.
    Jump,
}

/// The patchable form at `offset` (the rel32 field) of `code`, if any.
pub fn site_kind(code: &[u8], offset: usize) -> Option<SiteKind> {
    if offset == 0 || code.len() < offset + 4 {
        return None;
    }
    match code[offset - 1] {
        0xe8 => Some(SiteKind::Call),
        0xe9 => Some(SiteKind::Jump),
        _ => None,
    }
}

/// The rel32 bytes that make the branch whose field is at `field_addr`
/// reach `target`, or `None` when `target` is out of range.
pub fn encode_rel32(field_addr: u64, target: u64) -> Option<[u8; 4]> {
    let disp = target as i128 - (field_addr as i128 + 4);
    i32::try_from(disp).ok().map(i32::to_le_bytes)
}

/// The target of the branch whose rel32 field at `field_addr` holds `bytes`.
pub fn decode_rel32(field_addr: u64, bytes: [u8; 4]) -> u64 {
    (field_addr as i64 + 4 + i64::from(i32::from_le_bytes(bytes))) as u64
}

/// Bytes per stub-pool entry: a stub (8 bytes) and a trampoline (24 bytes).
pub const ENTRY_SIZE: usize = 32;
/// Offset of the trampoline within an entry.
pub const TRAMPOLINE_OFFSET: usize = 8;

/// Encodes one stub-pool entry at `entry_addr`: the stub `jmp *slot(%rip)`
/// and the trampoline `mov ctx(%rip), %r11; jmp *reentry(%rip)`.
///
/// Returns `None` when a slot is beyond ±2 GiB of the code (pool pages are
/// allocated next to each other, so this does not happen in practice).
pub fn encode_entry(entry_addr: u64, slot: u64, ctx_slot: u64, reentry_slot: u64) -> Option<[u8; ENTRY_SIZE]> {
    let mut e = [0xccu8; ENTRY_SIZE];
    // Stub: ff 25 rel32 — jmp *slot(%rip).
    e[0] = 0xff;
    e[1] = 0x25;
    e[2..6].copy_from_slice(&encode_rel32(entry_addr + 2, slot)?);
    // Trampoline: 4c 8b 1d rel32 — mov ctx(%rip), %r11.
    let t = entry_addr + TRAMPOLINE_OFFSET as u64;
    e[8] = 0x4c;
    e[9] = 0x8b;
    e[10] = 0x1d;
    e[11..15].copy_from_slice(&encode_rel32(t + 3, ctx_slot)?);
    // ff 25 rel32 — jmp *reentry(%rip).
    e[15] = 0xff;
    e[16] = 0x25;
    e[17..21].copy_from_slice(&encode_rel32(t + 9, reentry_slot)?);
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel32_range_limits() {
        let p = 0x7f00_1000_0000u64;
        // Largest forward target: P + 4 + i32::MAX.
        let max = p + 4 + i32::MAX as u64;
        assert_eq!(encode_rel32(p, max), Some(i32::MAX.to_le_bytes()));
        assert_eq!(decode_rel32(p, encode_rel32(p, max).unwrap()), max);
        assert_eq!(encode_rel32(p, max + 1), None, "just beyond: the stub must be chosen");
        let min = p + 4 - (1u64 << 31);
        assert_eq!(encode_rel32(p, min), Some(i32::MIN.to_le_bytes()));
        assert_eq!(decode_rel32(p, encode_rel32(p, min).unwrap()), min);
        assert_eq!(encode_rel32(p, min - 1), None);
    }

    #[test]
    fn site_forms() {
        let code = [0x90, 0xe8, 0, 0, 0, 0, 0xe9, 0, 0, 0, 0, 0x48, 0x8b, 0x05, 0, 0, 0, 0];
        assert_eq!(site_kind(&code, 2), Some(SiteKind::Call));
        assert_eq!(site_kind(&code, 7), Some(SiteKind::Jump));
        assert_eq!(site_kind(&code, 14), None);
        assert_eq!(site_kind(&code, 16), None, "field past the end");
    }

    #[test]
    fn entry_encoding_decodes_back() {
        let entry = 0x7000_0000u64;
        let (slot, ctx, reentry) = (0x7000_1000u64, 0x7000_1008u64, 0x7000_1ff8u64);
        let e = encode_entry(entry, slot, ctx, reentry).unwrap();
        assert_eq!(&e[..2], &[0xff, 0x25]);
        assert_eq!(decode_rel32(entry + 2, e[2..6].try_into().unwrap()), slot);
        assert_eq!(&e[8..11], &[0x4c, 0x8b, 0x1d]);
        assert_eq!(decode_rel32(entry + 11, e[11..15].try_into().unwrap()), ctx);
        assert_eq!(&e[15..17], &[0xff, 0x25]);
        assert_eq!(decode_rel32(entry + 17, e[17..21].try_into().unwrap()), reentry);
    }
}
