//! PPC64 fixups: pure functions over a byte slice, a location address and a
//! target address (64-bit ELF V2 ABI §3.5 "Relocation Types"; overflow
//! checks and field masks as binutils' `elf64-ppc.c` howto table, which
//! is what the ABI's `*`-marked fields mean in practice).
//!
//! Instruction and data words are in the target's byte order
//! (`big_endian`). A half16 field is the 2 bytes at the relocation offset
//! (the ABI puts it on the immediate halfword: the instruction's address
//! on little endian, + 2 on big endian); branch, word30 and prefixed
//! fields are whole words at the relocation offset.

use super::edges::*;
use crate::arch::{FixupError, FixupInput};
use crate::graph::EdgeKind;

/// `nop` (`ori r0,r0,0`).
pub const NOP: u32 = 0x6000_0000;
/// `ld r2,24(r1)`: restores the caller's TOC pointer after a call through
/// a TOC-saving stub (ELFv2 ABI §2.3.6, TOC save slot at 24(r1)).
pub const LD_R2_24_R1: u32 = 0xe841_0018;

fn range(block: &mut [u8], at: usize, n: usize) -> Result<&mut [u8], FixupError> {
    let end = at.checked_add(n).ok_or(FixupError::OutsideBlock)?;
    block.get_mut(at..end).ok_or(FixupError::OutsideBlock)
}

fn read16(block: &mut [u8], at: usize, be: bool) -> Result<u16, FixupError> {
    let b = range(block, at, 2)?;
    let b = [b[0], b[1]];
    Ok(if be { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
}

fn write16(block: &mut [u8], at: usize, v: u16, be: bool) -> Result<(), FixupError> {
    range(block, at, 2)?.copy_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
    Ok(())
}

/// The word at `at` in the target's byte order.
pub fn read32(block: &[u8], at: usize, be: bool) -> Option<u32> {
    let b: [u8; 4] = block.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if be { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
}

fn read32_mut(block: &mut [u8], at: usize, be: bool) -> Result<u32, FixupError> {
    range(block, at, 4)?;
    read32(block, at, be).ok_or(FixupError::OutsideBlock)
}

fn write32(block: &mut [u8], at: usize, v: u32, be: bool) -> Result<(), FixupError> {
    range(block, at, 4)?.copy_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
    Ok(())
}

fn write64(block: &mut [u8], at: usize, v: u64, be: bool) -> Result<(), FixupError> {
    range(block, at, 8)?.copy_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
    Ok(())
}

fn check(x: i128, lo: i128, hi: i128, what: &'static str) -> Result<(), FixupError> {
    if (lo..hi).contains(&x) {
        Ok(())
    } else {
        Err(FixupError::OutOfRange { value: x, range: what })
    }
}

fn check_signed(x: i128, bits: u32, what: &'static str) -> Result<(), FixupError> {
    check(x, -(1i128 << (bits - 1)), 1i128 << (bits - 1), what)
}

fn aligned(x: i128, mask: i128, what: &'static str) -> Result<(), FixupError> {
    if x & mask == 0 {
        Ok(())
    } else {
        Err(FixupError::OutOfRange { value: x, range: what })
    }
}

/// The 16-bit field value of transform `h` applied to `x` (see the table in
/// [`super::edges`]), after the transform's overflow check. DS forms
/// return the value unmasked; the caller keeps the low bits.
pub fn half16_value(h: Half, x: i128) -> Result<u16, FixupError> {
    const HI_RANGE: &str = "a signed 32-bit value (#hi/#ha of a 16-bit field)";
    let v = match h {
        Half::Signed16 => {
            check_signed(x, 16, "a signed 16-bit field")?;
            x
        }
        Half::Bitfield16 => {
            check(x, -(1 << 15), 1 << 16, "a 16-bit field")?;
            x
        }
        Half::Lo => x,
        Half::Hi => {
            check_signed(x, 32, HI_RANGE)?;
            x >> 16
        }
        Half::Ha => {
            check_signed(x + 0x8000, 32, HI_RANGE)?;
            (x + 0x8000) >> 16
        }
        Half::High => x >> 16,
        Half::Higha => (x + 0x8000) >> 16,
        Half::Higher => x >> 32,
        Half::Highera => (x + 0x8000) >> 32,
        Half::Highest => x >> 48,
        Half::Highesta => (x + 0x8000) >> 48,
        Half::Ds => {
            check_signed(x, 16, "a signed 16-bit DS field")?;
            x
        }
        Half::LoDs => x,
        Half::Higher34 => x >> 34,
        Half::Highera34 => (x + (1 << 33)) >> 34,
        Half::Highest34 => x >> 50,
        Half::Highesta34 => (x + (1 << 33)) >> 50,
    };
    Ok(v as u16)
}

/// The low bits a DS-form field at `offset` must leave clear and keep: 15
/// for the DQ-form `lq` (opcode 56) and `lxv`/`stxv` (opcode 61, low bits
/// 01), else 3 (binutils `ppc64_elf_relocate_section`, "not a multiple of").
fn ds_mask(block: &[u8], offset: usize, be: bool) -> u16 {
    let insn_at = if be { offset.checked_sub(2) } else { Some(offset) };
    match insn_at.and_then(|at| read32(block, at, be)) {
        Some(insn) if insn >> 26 == 56 || (insn >> 26 == 61 && insn & 3 == 1) => 15,
        _ => 3,
    }
}

fn half16(block: &mut [u8], offset: usize, h: Half, x: i128, be: bool) -> Result<(), FixupError> {
    let v = half16_value(h, x)?;
    if matches!(h, Half::Ds | Half::LoDs) {
        let mask = ds_mask(block, offset, be);
        let what = if mask == 3 { "a multiple of 4 (DS-form field)" } else { "a multiple of 16 (DQ-form field)" };
        aligned(x, i128::from(mask), what)?;
        let old = read16(block, offset, be)?;
        return write16(block, offset, (v & !mask) | (old & mask), be);
    }
    write16(block, offset, v, be)
}

/// Writes a branch displacement/target `x` into the LI (`mask`
/// 0x03fffffc, 26 bits) or BD (0xfffc, 16 bits) field of the word at
/// `offset`, after checking it is a multiple of 4 within the field.
fn branch(block: &mut [u8], offset: usize, x: i128, bits: u32, be: bool) -> Result<u32, FixupError> {
    let (what, mask) = if bits == 26 {
        ("a signed 26-bit branch displacement (±32 MiB)", 0x03ff_fffc)
    } else {
        ("a signed 16-bit branch displacement (±32 KiB)", 0xfffc)
    };
    check_signed(x, bits, what)?;
    aligned(x, 3, "a branch target that is a multiple of 4")?;
    let insn = read32_mut(block, offset, be)?;
    let insn = (insn & !mask) | (x as u32 & mask);
    write32(block, offset, insn, be)?;
    Ok(insn)
}

/// Sets the static prediction bits of a `bc` word for BRTAKEN (`taken`)
/// or BRNTAKEN, as binutils does for Power ISA 2.x "at" hints: clear the
/// BO field's `y`/`t` bit (bit 10, 0x0020_0000), set it for taken; then
/// set the `a` bit (0x0040_0000 for branch-on-condition BO = 001at/011at,
/// 0x0100_0000 for branch-on-CTR BO = 1a00t/1a01t); a "branch always"
/// word (BO = 1z1zz) has no hint and is left as it is.
fn predict(insn: u32, taken: bool) -> u32 {
    let mut w = insn & !(1 << 21);
    if taken {
        w |= 1 << 21;
    }
    if w & (0x14 << 21) == 0x04 << 21 {
        w | 0x02 << 21
    } else if w & (0x14 << 21) == 0x10 << 21 {
        w | 0x08 << 21
    } else {
        insn
    }
}

/// Writes a prefixed instruction's 34-bit immediate: bits 16–33 of `v`
/// into the low 18 bits of the prefix word at `offset` (`prefix_mask` of
/// them; 0xfff for the 28-bit forms), bits 0–15 into the low half of the
/// suffix word at `offset + 4` (Power ISA v3.1 §1.6.3, MLS:D-form).
fn prefix34(block: &mut [u8], offset: usize, v: i128, prefix_mask: u32, be: bool) -> Result<(), FixupError> {
    range(block, offset, 8)?;
    let pre = read32_mut(block, offset, be)?;
    let suf = read32_mut(block, offset + 4, be)?;
    let pre = (pre & !prefix_mask) | ((v >> 16) as u32 & prefix_mask);
    let suf = (suf & !0xffff) | (v as u32 & 0xffff);
    write32(block, offset, pre, be)?;
    write32(block, offset + 4, suf, be)
}

/// Applies one fixup of kind `kind` at `offset` within `block` (the block's
/// working bytes); `big_endian` gives the byte order of data and
/// instruction words.
///
/// Values are computed in 128-bit arithmetic, so every overflow is seen.
/// [`BRANCH24_TO_TOC_STUB`] also rewrites the `nop` after the `bl` to
/// `ld r2,24(r1)` ([`LD_R2_24_R1`]); a word that is already that restore is
/// kept.
///
/// # Errors
/// [`FixupError::OutOfRange`] when the value does not fit the field or is
/// misaligned for it (branch targets and DS fields), or when a call
/// through a TOC-saving stub has no `nop` to restore r2 in;
/// [`FixupError::OutsideBlock`] when the field does not lie within `block`;
/// [`FixupError::Unlowered`] for request kinds and unknown kinds.
pub fn apply_fixup(
    kind: EdgeKind,
    block: &mut [u8],
    offset: usize,
    v: &FixupInput,
    big_endian: bool,
) -> Result<(), FixupError> {
    let be = big_endian;
    let s = i128::from(v.s);
    let a = i128::from(v.a);
    let p = i128::from(v.p);
    let toc = i128::from(v.got);
    if let Some((base, h)) = half16_form(kind) {
        let x = match base {
            Base::Abs => s + a,
            Base::Rel => s + a - p,
            Base::Toc => s + a - toc,
        };
        return half16(block, offset, h, x, be);
    }
    match kind {
        KEEP_ALIVE => Ok(()),
        POINTER64 => write64(block, offset, (s + a) as u64, be),
        DELTA64 => write64(block, offset, (s + a - p) as u64, be),
        POINTER32 => {
            let x = s + a;
            check(x, -(1 << 31), 1 << 32, "a 32-bit field")?;
            write32(block, offset, x as u32, be)
        }
        DELTA32 => {
            let x = s + a - p;
            check_signed(x, 32, "a signed 32-bit field")?;
            write32(block, offset, x as u32, be)
        }
        DELTA30 => {
            let x = s + a - p;
            let w = read32_mut(block, offset, be)?;
            write32(block, offset, (w & 3) | (x as u32 & !3), be)
        }
        BRANCH24 => branch(block, offset, s + a - p, 26, be).map(drop),
        ABS_BRANCH24 => branch(block, offset, s + a, 26, be).map(drop),
        BRANCH24_TO_VENEER_BYPASSABLE => {
            if let Some(real) = v.bypass {
                let x = i128::from(real) + a - p;
                if check_signed(x, 26, "").is_ok() && x & 3 == 0 {
                    return branch(block, offset, x, 26, be).map(drop);
                }
            }
            branch(block, offset, s - p, 26, be).map(drop)
        }
        BRANCH24_TO_TOC_STUB => {
            let next = offset.checked_add(4).ok_or(FixupError::OutsideBlock)?;
            let after = read32(block, next, be);
            if after != Some(NOP) && after != Some(LD_R2_24_R1) {
                return Err(FixupError::OutOfRange {
                    value: after.map_or(-1, i128::from),
                    range: "a call through a TOC-saving stub: the word after the bl must be a nop \
                            (to become ld r2,24(r1))",
                });
            }
            branch(block, offset, s - p, 26, be)?;
            write32(block, next, LD_R2_24_R1, be)
        }
        BRANCH14 | ABS_BRANCH14 => {
            let x = if kind == BRANCH14 { s + a - p } else { s + a };
            branch(block, offset, x, 16, be).map(drop)
        }
        BRANCH14_BRTAKEN | BRANCH14_BRNTAKEN | ABS_BRANCH14_BRTAKEN | ABS_BRANCH14_BRNTAKEN => {
            let rel = matches!(kind, BRANCH14_BRTAKEN | BRANCH14_BRNTAKEN);
            let x = if rel { s + a - p } else { s + a };
            let insn = branch(block, offset, x, 16, be)?;
            let taken = matches!(kind, BRANCH14_BRTAKEN | ABS_BRANCH14_BRTAKEN);
            write32(block, offset, predict(insn, taken), be)
        }
        D34 | PCREL34 => {
            let x = if kind == D34 { s + a } else { s + a - p };
            check_signed(x, 34, "a signed 34-bit field")?;
            prefix34(block, offset, x, 0x3ffff, be)
        }
        D34_LO => prefix34(block, offset, s + a, 0x3ffff, be),
        D34_HI30 => prefix34(block, offset, (s + a) >> 34, 0x3ffff, be),
        D34_HA30 => prefix34(block, offset, (s + a + (1 << 33)) >> 34, 0x3ffff, be),
        D28 | PCREL28 => {
            let x = if kind == D28 { s + a } else { s + a - p };
            check_signed(x, 28, "a signed 28-bit field")?;
            prefix34(block, offset, x, 0xfff, be)
        }
        REL16DX_HA => {
            let x = s + a - p;
            let ha = u32::from(half16_value(Half::Ha, x)?);
            let insn = read32_mut(block, offset, be)?;
            let insn = (insn & !0x001f_ffc1) | (ha & 0xffc1) | ((ha & 0x3e) << 15);
            write32(block, offset, insn, be)
        }
        _ => Err(FixupError::Unlowered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(p: u64, s: u64, a: i64) -> FixupInput {
        FixupInput { p, s, a, got: 0, size: 0, bypass: None }
    }

    fn toc_input(s: u64, a: i64, toc: u64) -> FixupInput {
        FixupInput { p: 0, s, a, got: toc, size: 0, bypass: None }
    }

    /// Applies `k` to a zeroed 8-byte buffer (the half16 at 0), both byte
    /// orders, and returns the halfword (which must agree).
    fn half(k: EdgeKind, v: &FixupInput) -> Result<u16, FixupError> {
        let mut le = [0u8; 8];
        let mut be = [0u8; 8];
        let r = apply_fixup(k, &mut le, 0, v, false);
        assert_eq!(r, apply_fixup(k, &mut be, 0, v, true), "{}", kind_name(k));
        r?;
        let x = u16::from_le_bytes([le[0], le[1]]);
        assert_eq!(x, u16::from_be_bytes([be[0], be[1]]));
        assert_eq!(&le[2..], &[0; 6]);
        Ok(x)
    }

    #[test]
    fn half16_transforms() {
        let x: u64 = 0x1234_5678_9abc_def0;
        let cases: &[(EdgeKind, u16)] = &[
            (ADDR16_LO, 0xdef0),
            (ADDR16_HIGH, 0x9abc),
            (ADDR16_HIGHA, 0x9abd),
            (ADDR16_HIGHER, 0x5678),
            (ADDR16_HIGHERA, 0x5678),
            (ADDR16_HIGHEST, 0x1234),
            (ADDR16_HIGHESTA, 0x1234),
            (ADDR16_HIGHER34, ((x >> 34) & 0xffff) as u16),
            (ADDR16_HIGHERA34, (((x + (1 << 33)) >> 34) & 0xffff) as u16),
            (ADDR16_HIGHEST34, (x >> 50) as u16),
            (ADDR16_HIGHESTA34, ((x + (1 << 33)) >> 50) as u16),
        ];
        for &(k, want) in cases {
            assert_eq!(half(k, &input(0, x, 0)).unwrap(), want, "{}", kind_name(k));
        }
        // The carries of the *a forms: 0x8000 in the low half.
        let y: u64 = 0x0000_ffff_ffff_8000;
        assert_eq!(half(ADDR16_HIGHA, &input(0, y, 0)).unwrap(), 0x0000);
        assert_eq!(half(ADDR16_HIGHERA, &input(0, y, 0)).unwrap(), 0x0000);
        assert_eq!(half(ADDR16_HIGHEST, &input(0, y, 0)).unwrap(), 0x0000);
        assert_eq!(half(ADDR16_HIGHESTA, &input(0, y, 0)).unwrap(), 0x0001);
        assert_eq!(half(ADDR16_HIGHER, &input(0, 0x1_ffff_8000, 0)).unwrap(), 0x0001);
        assert_eq!(half(ADDR16_HIGHERA, &input(0, 0x1_ffff_8000, 0)).unwrap(), 0x0002);
        assert_eq!(half(ADDR16_HIGHESTA, &input(0, 0xffff_ffff_ffff_8000, 0)).unwrap(), 0x0000);
        // Relative and TOC-relative bases.
        assert_eq!(half(REL16_LO, &input(0x1000, 0x0ffc, 0)).unwrap(), 0xfffc);
        assert_eq!(half(REL16_HA, &input(0x1000, 0x2_8000 + 0x1000, 0)).unwrap(), 3);
        assert_eq!(half(TOC16_HA, &toc_input(0x1_0000_8000, 0, 0x1_0000_0000)).unwrap(), 1);
        assert_eq!(half(TOC16_LO, &toc_input(0x1_0000_8000, 0, 0x1_0000_0000)).unwrap(), 0x8000);
    }

    #[test]
    fn half16_range_limits() {
        // (kind, value just in range, value just out of range)
        let signed16: &[(EdgeKind, i64, i64)] =
            &[(TOC16, 0x7fff, 0x8000), (TOC16, -0x8000, -0x8001), (REL16, -0x8000, -0x8001)];
        for &(k, ok, bad) in signed16 {
            let base = 0x1000_0000u64;
            assert!(half(k, &FixupInput { p: base, ..toc_input(base, ok, base) }).is_ok(), "{}", kind_name(k));
            assert!(half(k, &FixupInput { p: base, ..toc_input(base, bad, base) }).is_err(), "{}", kind_name(k));
        }
        assert!(half(ADDR16, &input(0, 0xffff, 0)).is_ok());
        assert!(half(ADDR16, &input(0, 0x1_0000, 0)).is_err());
        assert!(half(ADDR16, &input(0, 0, -0x8000)).is_ok());
        assert!(half(ADDR16, &input(0, 0, -0x8001)).is_err());
        // #hi: the value must fit signed 32 bits.
        assert_eq!(half(ADDR16_HI, &input(0, 0x7fff_ffff, 0)).unwrap(), 0x7fff);
        assert!(half(ADDR16_HI, &input(0, 0x8000_0000, 0)).is_err());
        assert_eq!(half(ADDR16_HI, &input(0, 0, -0x8000_0000)).unwrap(), 0x8000);
        assert!(half(ADDR16_HI, &input(0, 0, -0x8000_0001)).is_err());
        // #ha: value + 0x8000 must fit signed 32 bits.
        assert_eq!(half(ADDR16_HA, &input(0, 0x7fff_7fff, 0)).unwrap(), 0x7fff);
        assert!(half(ADDR16_HA, &input(0, 0x7fff_8000, 0)).is_err());
        assert_eq!(half(ADDR16_HA, &input(0, 0, -0x8000_8000)).unwrap(), 0x8000);
        assert!(half(ADDR16_HA, &input(0, 0, -0x8000_8001)).is_err());
        assert!(half(TOC16_HA, &toc_input(0x8000_0000 + 0x7fff_7fff, 0, 0x8000_0000)).is_ok());
        assert!(half(TOC16_HA, &toc_input(0x8000_0000 + 0x7fff_8000, 0, 0x8000_0000)).is_err());
        assert!(half(TOC16_HI, &toc_input(0, 0, 0x8000_0001)).is_err());
        // HIGH/HIGHA never overflow.
        assert_eq!(half(ADDR16_HIGHA, &input(0, 0x7fff_8000, 0)).unwrap(), 0x8000);
        // LO never overflows.
        assert_eq!(half(ADDR16_LO, &input(0, u64::MAX, 0)).unwrap(), 0xffff);
    }

    #[test]
    fn ds_fields_keep_low_bits_and_check_alignment() {
        // ld r3, x(r2): e8 62 00 00 (BE) / 00 00 62 e8 (LE); the field is the
        // instruction's low halfword.
        let ld = 0xe862_0000u32 | 1; // ldu-style low bits kept (xo = 1)
        for be in [false, true] {
            let mut buf = if be { ld.to_be_bytes() } else { ld.to_le_bytes() };
            let at = if be { 2 } else { 0 };
            let v = toc_input(0x1000_7ff8, 0, 0x1000_0000);
            apply_fixup(TOC16_DS, &mut buf, at, &v, be).unwrap();
            let w = if be { u32::from_be_bytes(buf) } else { u32::from_le_bytes(buf) };
            assert_eq!(w, 0xe862_7ff9);
            let bad = toc_input(0x1000_7ffa, 0, 0x1000_0000);
            assert!(matches!(apply_fixup(TOC16_DS, &mut buf, at, &bad, be), Err(FixupError::OutOfRange { .. })));
            let far = toc_input(0x1000_8000, 0, 0x1000_0000);
            assert!(apply_fixup(TOC16_DS, &mut buf, at, &far, be).is_err());
            let lo = toc_input(0x1001_8004, 0, 0x1000_0000);
            apply_fixup(TOC16_LO_DS, &mut buf, at, &lo, be).unwrap();
            let w = if be { u32::from_be_bytes(buf) } else { u32::from_le_bytes(buf) };
            assert_eq!(w, 0xe862_8005);
        }
        // DQ form (lxv, opcode 61, low bits 01): multiple of 16.
        let lxv = 0xf460_0001u32;
        let mut buf = lxv.to_le_bytes();
        assert!(apply_fixup(ADDR16_LO_DS, &mut buf, 0, &input(0, 0x1008, 0), false).is_err());
        apply_fixup(ADDR16_LO_DS, &mut buf, 0, &input(0, 0x1010, 0), false).unwrap();
        assert_eq!(u32::from_le_bytes(buf), 0xf460_1011);
    }

    fn word(k: EdgeKind, insn: u32, v: &FixupInput, be: bool) -> Result<u32, FixupError> {
        let mut buf = [0u8; 8];
        buf[..4].copy_from_slice(&if be { insn.to_be_bytes() } else { insn.to_le_bytes() });
        buf[4..].copy_from_slice(&if be { NOP.to_be_bytes() } else { NOP.to_le_bytes() });
        apply_fixup(k, &mut buf, 0, v, be)?;
        Ok(read32(&buf, 0, be).unwrap())
    }

    #[test]
    fn branch24_limits() {
        const BL: u32 = 0x4800_0001;
        for be in [false, true] {
            let p = 0x1000_0000u64;
            assert_eq!(word(BRANCH24, BL, &input(p, p + 0x01ff_fffc, 0), be).unwrap(), 0x49ff_fffd);
            assert!(word(BRANCH24, BL, &input(p, p + 0x0200_0000, 0), be).is_err());
            assert_eq!(word(BRANCH24, BL, &input(p, p - 0x0200_0000, 0), be).unwrap(), 0x4a00_0001);
            assert!(word(BRANCH24, BL, &input(p, p - 0x0200_0004, 0), be).is_err());
            assert!(word(BRANCH24, BL, &input(p, p + 2, 0), be).is_err());
            assert_eq!(word(BRANCH24, BL, &input(p, p, 8), be).unwrap(), 0x4800_0009);
            // ba: absolute, AA bit kept.
            assert_eq!(word(ABS_BRANCH24, 0x4800_0003, &input(0, 0x01ff_fffc, 0), be).unwrap(), 0x49ff_ffff);
            assert!(word(ABS_BRANCH24, 0x4800_0003, &input(0, 0x0200_0000, 0), be).is_err());
        }
    }

    #[test]
    fn branch14_limits_and_hints() {
        const BEQ: u32 = 0x4182_0000; // bc 12,2 (BO = 01100: branch if CR bit set)
        const BDNZ: u32 = 0x4200_0000; // bc 16,0 (BO = 10000: decrement CTR, branch if != 0)
        const BC_ALWAYS: u32 = 0x4280_0000; // bc 20,0
        for be in [false, true] {
            let p = 0x40000u64;
            assert_eq!(word(BRANCH14, BEQ, &input(p, p + 0x7ffc, 0), be).unwrap(), 0x4182_7ffc);
            assert!(word(BRANCH14, BEQ, &input(p, p + 0x8000, 0), be).is_err());
            assert_eq!(word(BRANCH14, BEQ, &input(p, p - 0x8000, 0), be).unwrap(), 0x4182_8000);
            assert!(word(BRANCH14, BEQ, &input(p, p - 0x8004, 0), be).is_err());
            assert!(word(ABS_BRANCH14, BEQ, &input(0, 0x8000, 0), be).is_err());
            assert_eq!(word(ABS_BRANCH14, BEQ, &input(0, 0x7ffc, 0), be).unwrap(), 0x4182_7ffc);
            // Taken: t (0x0020_0000) and a (0x0040_0000) set for BO 011at.
            assert_eq!(word(BRANCH14_BRTAKEN, BEQ, &input(p, p + 8, 0), be).unwrap(), 0x41e2_0008);
            // Not taken: a set, t clear.
            assert_eq!(word(BRANCH14_BRNTAKEN, BEQ | 1 << 21, &input(p, p + 8, 0), be).unwrap(), 0x41c2_0008);
            // CTR forms: a is 0x0100_0000.
            assert_eq!(word(BRANCH14_BRTAKEN, BDNZ, &input(p, p + 8, 0), be).unwrap(), 0x4320_0008);
            // Branch always: no hint bits change.
            assert_eq!(word(ABS_BRANCH14_BRTAKEN, BC_ALWAYS, &input(0, 8, 0), be).unwrap(), 0x4280_0008);
            assert_eq!(word(ABS_BRANCH14_BRNTAKEN, BC_ALWAYS, &input(0, 8, 0), be).unwrap(), 0x4280_0008);
        }
    }

    #[test]
    fn toc_stub_call_restores_r2() {
        for be in [false, true] {
            let mut buf = [0u8; 8];
            buf[..4].copy_from_slice(&if be { 0x4800_0001u32.to_be_bytes() } else { 0x4800_0001u32.to_le_bytes() });
            buf[4..].copy_from_slice(&if be { NOP.to_be_bytes() } else { NOP.to_le_bytes() });
            let v = FixupInput { p: 0x1000, s: 0x2000, a: 0, got: 0, size: 0, bypass: None };
            apply_fixup(BRANCH24_TO_TOC_STUB, &mut buf, 0, &v, be).unwrap();
            assert_eq!(read32(&buf, 0, be), Some(0x4800_1001));
            assert_eq!(read32(&buf, 4, be), Some(LD_R2_24_R1));
            // Applying again (already restored) is fine.
            apply_fixup(BRANCH24_TO_TOC_STUB, &mut buf, 0, &v, be).unwrap();
            // No nop: refused; no word after the bl: refused.
            buf[4..].copy_from_slice(&[0x7c, 0x08, 0x02, 0xa6]);
            assert!(apply_fixup(BRANCH24_TO_TOC_STUB, &mut buf, 0, &v, be).is_err());
            assert!(apply_fixup(BRANCH24_TO_TOC_STUB, &mut buf[..4], 0, &v, be).is_err());
        }
    }

    #[test]
    fn veneer_bypass() {
        const BL: u32 = 0x4800_0001;
        let near = FixupInput { p: 0x1000, s: 0x0400_0000, a: 8, got: 0, size: 0, bypass: Some(0x3000) };
        assert_eq!(word(BRANCH24_TO_VENEER_BYPASSABLE, BL, &near, false).unwrap(), BL | (0x3000 + 8 - 0x1000));
        let far = FixupInput { s: 0x1_0000, bypass: Some(0x1_0000_0000), ..near };
        assert_eq!(word(BRANCH24_TO_VENEER_BYPASSABLE, BL, &far, true).unwrap(), BL | (0x1_0000 - 0x1000));
        let unreachable = FixupInput { s: 0x0400_0000, bypass: Some(0x1_0000_0000), ..near };
        assert!(word(BRANCH24_TO_VENEER_BYPASSABLE, BL, &unreachable, false).is_err());
    }

    #[test]
    fn data_words() {
        for be in [false, true] {
            let mut buf = [0u8; 8];
            apply_fixup(POINTER64, &mut buf, 0, &input(0, 0x1122_3344_5566_7788, 1), be).unwrap();
            let want = 0x1122_3344_5566_7789u64;
            assert_eq!(buf, if be { want.to_be_bytes() } else { want.to_le_bytes() });
            apply_fixup(DELTA64, &mut buf, 0, &input(0x10, 0x8, 0), be).unwrap();
            assert_eq!(buf, if be { (-8i64).to_be_bytes() } else { (-8i64).to_le_bytes() });
            let mut w = [0u8; 4];
            assert!(apply_fixup(POINTER32, &mut w, 0, &input(0, 0xffff_ffff, 0), be).is_ok());
            assert!(apply_fixup(POINTER32, &mut w, 0, &input(0, 0x1_0000_0000, 0), be).is_err());
            assert!(apply_fixup(POINTER32, &mut w, 0, &input(0, 0, -0x8000_0000), be).is_ok());
            assert!(apply_fixup(POINTER32, &mut w, 0, &input(0, 0, -0x8000_0001), be).is_err());
            assert!(apply_fixup(DELTA32, &mut w, 0, &input(0, 0x7fff_ffff, 0), be).is_ok());
            assert!(apply_fixup(DELTA32, &mut w, 0, &input(0, 0x8000_0000, 0), be).is_err());
            assert!(apply_fixup(DELTA32, &mut w, 0, &input(0x8000_0000, 0, 0), be).is_ok());
            assert!(apply_fixup(DELTA32, &mut w, 0, &input(0x8000_0001, 0, 0), be).is_err());
            let mut w = if be { 3u32.to_be_bytes() } else { 3u32.to_le_bytes() };
            apply_fixup(DELTA30, &mut w, 0, &input(0x100, 0x90, 0), be).unwrap();
            assert_eq!(read32(&w, 0, be), Some(0xffff_ff90 | 3));
        }
    }

    #[test]
    fn prefixed_fields() {
        // paddi r3, 0, x, 1 (pla): prefix 0x06100000, suffix 0x38600000.
        let (pre, suf) = (0x0610_0000u32, 0x3860_0000u32);
        for be in [false, true] {
            let enc = |w: u32| if be { w.to_be_bytes() } else { w.to_le_bytes() };
            let run = |k: EdgeKind, v: &FixupInput| -> Result<(u32, u32), FixupError> {
                let mut buf = [0u8; 8];
                buf[..4].copy_from_slice(&enc(pre));
                buf[4..].copy_from_slice(&enc(suf));
                apply_fixup(k, &mut buf, 0, v, be)?;
                Ok((read32(&buf, 0, be).unwrap(), read32(&buf, 4, be).unwrap()))
            };
            let max = (1i64 << 33) - 1;
            assert_eq!(run(PCREL34, &input(0x1000, 0x1000, max)).unwrap(), (pre | 0x1_ffff, suf | 0xffff));
            assert!(run(PCREL34, &input(0x1000, 0x1000, max + 1)).is_err());
            assert_eq!(run(PCREL34, &input(0x1000, 0x1000, -max - 1)).unwrap(), (pre | 0x2_0000, suf));
            assert!(run(PCREL34, &input(0x1000, 0x1000, -max - 2)).is_err());
            assert_eq!(run(D34, &input(0, 0x1_2345_6789, 0)).unwrap(), (pre | 0x1_2345, suf | 0x6789));
            assert!(run(D34, &input(0, 1 << 33, 0)).is_err());
            assert_eq!(run(D34_LO, &input(0, 0x0ff1_2345_6789, 0)).unwrap(), (pre | 0x1_2345, suf | 0x6789));
            let x = 0x0123_4567_89ab_cdefu64;
            let hi = (x >> 34) as u32;
            assert_eq!(run(D34_HI30, &input(0, x, 0)).unwrap(), (pre | ((hi >> 16) & 0x3ffff), suf | (hi & 0xffff)));
            let ha = ((x + (1 << 33)) >> 34) as u32;
            assert_eq!(run(D34_HA30, &input(0, x, 0)).unwrap(), (pre | ((ha >> 16) & 0x3ffff), suf | (ha & 0xffff)));
            assert_eq!(run(D28, &input(0, (1 << 27) - 1, 0)).unwrap(), (pre | 0x7ff, suf | 0xffff));
            assert!(run(D28, &input(0, 1 << 27, 0)).is_err());
            assert_eq!(run(PCREL28, &input(0x10, 0, 0)).unwrap(), (pre | 0xfff, suf | 0xfff0));
            assert!(run(PCREL28, &input((1 << 27) + 1, 0, 0)).is_err());
        }
    }

    #[test]
    fn rel16dx_split_field() {
        // addpcis r2, 0: 0x4c40_0004.
        for be in [false, true] {
            let v = input(0x1000, 0x1000 + 0x1234_0000, 0);
            let w = word(REL16DX_HA, 0x4c40_0004, &v, be).unwrap();
            // D = 0x1234 = d0 (0x048) << 6 | d1 (0x1a) << 1 | d2 (0).
            let d0 = (w >> 6) & 0x3ff;
            let d1 = (w >> 16) & 0x1f;
            let d2 = w & 1;
            assert_eq!((d0 << 6) | (d1 << 1) | d2, 0x1234);
            assert_eq!(w & !0x001f_ffc1, 0x4c40_0004 & !0x001f_ffc1);
            assert!(word(REL16DX_HA, 0x4c40_0004, &input(0, 0x7fff_8000, 0), be).is_err());
        }
    }

    #[test]
    fn outside_block_and_unlowered() {
        let mut b = [0u8; 4];
        assert_eq!(apply_fixup(POINTER64, &mut b, 0, &input(0, 0, 0), false), Err(FixupError::OutsideBlock));
        assert_eq!(apply_fixup(TOC16_LO, &mut b, 3, &input(0, 0, 0), true), Err(FixupError::OutsideBlock));
        assert_eq!(apply_fixup(PCREL34, &mut b, 0, &input(0, 0, 0), true), Err(FixupError::OutsideBlock));
        assert_eq!(apply_fixup(BRANCH24, &mut b, usize::MAX, &input(0, 0, 0), true), Err(FixupError::OutsideBlock));
        assert_eq!(apply_fixup(REQ_BRANCH24, &mut b, 0, &input(0, 0, 0), false), Err(FixupError::Unlowered));
        assert_eq!(apply_fixup(REQ_GOT16_HA, &mut b, 0, &input(0, 0, 0), false), Err(FixupError::Unlowered));
        assert_eq!(apply_fixup(EdgeKind(250), &mut b, 0, &input(0, 0, 0), false), Err(FixupError::Unlowered));
    }
}
