//! x86-64 fixups: pure functions over a byte slice, a location address and
//! a target address (System V AMD64 psABI §4.4, and §B.2 "Optimize GOTPCRELX
//! Relocations" for the GOT load relaxation).

use super::edges::*;
use crate::arch::{FixupError, FixupInput};
use crate::graph::EdgeKind;

#[inline]
fn field<const N: usize>(block: &mut [u8], at: usize) -> Result<&mut [u8; N], FixupError> {
    block
        .get_mut(at..at.checked_add(N).ok_or(FixupError::OutsideBlock)?)
        .and_then(|s| <&mut [u8; N]>::try_from(s).ok())
        .ok_or(FixupError::OutsideBlock)
}

#[inline]
fn write_i32(block: &mut [u8], at: usize, v: i128) -> Result<(), FixupError> {
    let v = i32::try_from(v).map_err(|_| FixupError::OutOfRange { value: v, range: "a signed 32-bit field" })?;
    *field::<4>(block, at)? = v.to_le_bytes();
    Ok(())
}

/// Applies one fixup of kind `kind` at `offset` within `block` (the block's
/// working bytes).
///
/// Values are computed in 128-bit arithmetic, so every overflow is seen.
///
/// # Errors
/// [`FixupError::OutOfRange`] when the value does not fit the field (the
/// psABI's overflow check for the relocation), [`FixupError::OutsideBlock`]
/// when the field does not lie within `block`, [`FixupError::Unlowered`] for
/// request kinds and unknown kinds.
pub fn apply_fixup(kind: EdgeKind, block: &mut [u8], offset: usize, v: &FixupInput) -> Result<(), FixupError> {
    let s = v.s as i128;
    let a = v.a as i128;
    let p = v.p as i128;
    let got = v.got as i128;
    match kind {
        KEEP_ALIVE => Ok(()),
        POINTER64 => {
            *field::<8>(block, offset)? = ((s + a) as u64).to_le_bytes();
            Ok(())
        }
        POINTER32 => {
            let x = s + a;
            let x =
                u32::try_from(x).map_err(|_| FixupError::OutOfRange { value: x, range: "an unsigned 32-bit field" })?;
            *field::<4>(block, offset)? = x.to_le_bytes();
            Ok(())
        }
        POINTER32_SIGNED | DELTA32 | BRANCH32 | DELTA32_FROM_GOT => {
            let x = match kind {
                POINTER32_SIGNED => s + a,
                DELTA32_FROM_GOT => s + a - got,
                _ => s + a - p,
            };
            write_i32(block, offset, x)
        }
        POINTER16 => {
            let x = s + a;
            if !(-(1 << 15)..(1 << 16)).contains(&x) {
                return Err(FixupError::OutOfRange { value: x, range: "a 16-bit field" });
            }
            *field::<2>(block, offset)? = (x as u16).to_le_bytes();
            Ok(())
        }
        POINTER8 => {
            let x = s + a;
            if !(-(1 << 7)..(1 << 8)).contains(&x) {
                return Err(FixupError::OutOfRange { value: x, range: "an 8-bit field" });
            }
            field::<1>(block, offset)?[0] = x as u8;
            Ok(())
        }
        DELTA64 => {
            *field::<8>(block, offset)? = ((s + a - p) as u64).to_le_bytes();
            Ok(())
        }
        DELTA16 => {
            let x = s + a - p;
            let x =
                i16::try_from(x).map_err(|_| FixupError::OutOfRange { value: x, range: "a signed 16-bit field" })?;
            *field::<2>(block, offset)? = x.to_le_bytes();
            Ok(())
        }
        DELTA8 => {
            let x = s + a - p;
            let x = i8::try_from(x).map_err(|_| FixupError::OutOfRange { value: x, range: "a signed 8-bit field" })?;
            field::<1>(block, offset)?[0] = x as u8;
            Ok(())
        }
        BRANCH32_TO_STUB_BYPASSABLE => {
            if let Some(real) = v.bypass {
                let x = real as i128 + a - p;
                if i32::try_from(x).is_ok() {
                    return write_i32(block, offset, x);
                }
            }
            write_i32(block, offset, s + a - p)
        }
        DELTA64_FROM_GOT => {
            *field::<8>(block, offset)? = ((s + a - got) as u64).to_le_bytes();
            Ok(())
        }
        NEG_DELTA32 => write_i32(block, offset, p - s + a),
        SIZE32 => {
            let x = v.size as i128 + a;
            let x =
                u32::try_from(x).map_err(|_| FixupError::OutOfRange { value: x, range: "an unsigned 32-bit field" })?;
            *field::<4>(block, offset)? = x.to_le_bytes();
            Ok(())
        }
        SIZE64 => {
            *field::<8>(block, offset)? = ((v.size as i128 + a) as u64).to_le_bytes();
            Ok(())
        }
        GOT_LOAD_RELAXABLE | GOT_LOAD_REX_RELAXABLE => {
            if let Some(real) = v.bypass {
                if relax_got_load(kind == GOT_LOAD_REX_RELAXABLE, block, offset, real as i128 + a - p)? {
                    return Ok(());
                }
            }
            write_i32(block, offset, s + a - p)
        }
        GOT_LOAD_RELAXED => {
            let x = s + a - p;
            if relax_got_load(false, block, offset, x)? {
                Ok(())
            } else {
                Err(FixupError::OutOfRange { value: x, range: "a signed 32-bit field" })
            }
        }
        // Container kinds (Mach-O, COFF): B already folded into A.
        DELTA64_PAIR => {
            *field::<8>(block, offset)? = ((s + a) as u64).to_le_bytes();
            Ok(())
        }
        DELTA32_PAIR => write_i32(block, offset, s + a),
        IMAGE_REL32 | SECREL32 => {
            let x = s + a;
            let x =
                u32::try_from(x).map_err(|_| FixupError::OutOfRange { value: x, range: "an unsigned 32-bit field" })?;
            *field::<4>(block, offset)? = x.to_le_bytes();
            Ok(())
        }
        SECREL7 => {
            let x = s + a;
            if !(0..0x80).contains(&x) {
                return Err(FixupError::OutOfRange { value: x, range: "an unsigned 7-bit field" });
            }
            let f = field::<1>(block, offset)?;
            f[0] = (f[0] & 0x80) | x as u8;
            Ok(())
        }
        SECTION_INDEX16 => {
            let x =
                u16::try_from(a).map_err(|_| FixupError::OutOfRange { value: a, range: "a 16-bit section index" })?;
            *field::<2>(block, offset)? = x.to_le_bytes();
            Ok(())
        }
        _ => Err(FixupError::Unlowered),
    }
}

/// True when the 4-byte field at `offset` is the rel32 of a direct branch:
/// `call rel32` (e8), `jmp rel32` (e9) or `jcc rel32` (0f 80..8f) (Intel SDM
/// vol. 2, CALL/JMP/Jcc). A RIP-relative memory operand's field follows a
/// ModRM byte with mod 00 and r/m 101 (05, 0d, ..., 3d), never one of these,
/// so a container whose one pc-relative relocation serves calls and data
/// (COFF IMAGE_REL_AMD64_REL32) can route only branches through a stub.
pub fn is_rel32_branch(block: &[u8], offset: usize) -> bool {
    if offset < 1 || block.len() < offset.saturating_add(4) {
        return false;
    }
    match block[offset - 1] {
        0xe8 | 0xe9 => true,
        0x80..=0x8f => offset >= 2 && block[offset - 2] == 0x0f,
        _ => false,
    }
}

/// The relaxable instruction forms of a GOTPCRELX field at `offset`:
/// `mov disp(%rip), %reg` (8b /r, modrm 00 reg 101), `call *disp(%rip)` (ff 15)
/// and `jmp *disp(%rip)` (ff 25).
pub fn relaxable_form(rex: bool, block: &[u8], offset: usize) -> bool {
    if offset < 2 || block.len() < offset + 4 {
        return false;
    }
    let (op, modrm) = (block[offset - 2], block[offset - 1]);
    match op {
        0x8b => modrm & 0xc7 == 0x05 && (!rex || (offset >= 3 && block[offset - 3] & 0xf0 == 0x40)),
        0xff if !rex => modrm == 0x15 || modrm == 0x25,
        _ => false,
    }
}

/// Rewrites a GOT load to its direct form when `disp` (the target's
/// `S + A - P`) fits: `mov` → `lea`, `call *` → `addr32 call`, `jmp *` →
/// `jmp; nop` (psABI §B.2). Returns false (and changes nothing) when the
/// form is not relaxable or `disp` does not fit.
fn relax_got_load(rex: bool, block: &mut [u8], offset: usize, disp: i128) -> Result<bool, FixupError> {
    if !relaxable_form(rex, block, offset) {
        return Ok(false);
    }
    match block[offset - 2] {
        0x8b => {
            let Ok(d) = i32::try_from(disp) else {
                return Ok(false);
            };
            block[offset - 2] = 0x8d;
            *field::<4>(block, offset)? = d.to_le_bytes();
        }
        _ if block[offset - 1] == 0x15 => {
            let Ok(d) = i32::try_from(disp) else {
                return Ok(false);
            };
            block[offset - 2] = 0x67;
            block[offset - 1] = 0xe8;
            *field::<4>(block, offset)? = d.to_le_bytes();
        }
        _ => {
            // jmp: e9 rel32 at offset-2, relative to the end at P + 3.
            let Ok(d) = i32::try_from(disp + 1) else {
                return Ok(false);
            };
            block[offset - 2] = 0xe9;
            block[offset - 1..offset + 3].copy_from_slice(&d.to_le_bytes());
            block[offset + 3] = 0x90;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(p: u64, s: u64, a: i64) -> FixupInput {
        FixupInput { p, s, a, got: 0, size: 0, bypass: None }
    }

    #[test]
    fn table_of_simple_fixups() {
        // (kind, width, P, S, A, expected little-endian value)
        let cases: &[(EdgeKind, usize, u64, u64, i64, u64)] = &[
            (POINTER64, 8, 0x1000, 0x1234_5678_9abc, 8, 0x1234_5678_9ac4),
            (POINTER32, 4, 0x1000, 0xffff_fff0, 0xf, 0xffff_ffff),
            (POINTER32_SIGNED, 4, 0x1000, 0, -1, 0xffff_ffff),
            (DELTA32, 4, 0x2000, 0x1000, -4, (-0x1004i32) as u32 as u64),
            (BRANCH32, 4, 0x1000, 0x8000_0000 + 0x1000 - 1 + 4, -4, 0x7fff_ffff),
            (DELTA64, 8, 0x10, 0x8, 0, (-8i64) as u64),
            (DELTA16, 2, 0x10, 0x8, 0, 0xfff8),
            (DELTA8, 1, 0x10, 0x8, 0, 0xf8),
            (POINTER16, 2, 0, 0xffff, 0, 0xffff),
            (POINTER8, 1, 0, 0xff, 0, 0xff),
        ];
        for &(k, w, p, s, a, want) in cases {
            let mut buf = [0u8; 8];
            apply_fixup(k, &mut buf, 0, &input(p, s, a)).unwrap();
            let mut got = [0u8; 8];
            got[..w].copy_from_slice(&buf[..w]);
            assert_eq!(u64::from_le_bytes(got), want, "{}", kind_name(k));
        }
    }

    #[test]
    fn range_limits() {
        let mut buf = [0u8; 8];
        assert!(apply_fixup(POINTER32, &mut buf, 0, &input(0, 0x1_0000_0000, 0)).is_err());
        assert!(apply_fixup(POINTER32, &mut buf, 0, &input(0, 0, -1)).is_err());
        assert!(apply_fixup(POINTER32_SIGNED, &mut buf, 0, &input(0, 0x8000_0000, 0)).is_err());
        assert!(apply_fixup(POINTER32_SIGNED, &mut buf, 0, &input(0, 0x7fff_ffff, 0)).is_ok());
        assert!(apply_fixup(DELTA32, &mut buf, 0, &input(0, 0x8000_0000, 0)).is_err());
        assert!(apply_fixup(DELTA32, &mut buf, 0, &input(0x8000_0000, 0, 0)).is_ok());
        assert!(apply_fixup(DELTA32, &mut buf, 0, &input(0x8000_0001, 0, 0)).is_err());
        assert!(apply_fixup(POINTER16, &mut buf, 0, &input(0, 0x1_0000, 0)).is_err());
        assert!(apply_fixup(DELTA8, &mut buf, 0, &input(0, 128, 0)).is_err());
        assert_eq!(apply_fixup(DELTA32, &mut buf, 6, &input(0, 0, 0)), Err(FixupError::OutsideBlock));
        assert_eq!(apply_fixup(REQ_GOT_DELTA32, &mut buf, 0, &input(0, 0, 0)), Err(FixupError::Unlowered));
    }

    #[test]
    fn relaxes_mov_to_lea_in_range_only() {
        // 48 8b 05 <disp32>: movq foo@GOTPCREL(%rip), %rax
        let code = [0x48, 0x8b, 0x05, 0, 0, 0, 0];
        let mut buf = code;
        let v = FixupInput { p: 0x1003, s: 0x9000, a: -4, got: 0, size: 0, bypass: Some(0x2000) };
        apply_fixup(GOT_LOAD_REX_RELAXABLE, &mut buf, 3, &v).unwrap();
        assert_eq!(buf[1], 0x8d);
        assert_eq!(i32::from_le_bytes(buf[3..7].try_into().unwrap()), 0x2000 - 4 - 0x1003);
        let mut buf = code;
        let far = FixupInput { bypass: Some(0x7f00_0000_0000), ..v };
        apply_fixup(GOT_LOAD_REX_RELAXABLE, &mut buf, 3, &far).unwrap();
        assert_eq!(buf[1], 0x8b);
        assert_eq!(i32::from_le_bytes(buf[3..7].try_into().unwrap()), 0x9000 - 4 - 0x1003);
    }

    #[test]
    fn relaxes_call_and_jmp() {
        let mut call = [0xff, 0x15, 0, 0, 0, 0];
        let v = FixupInput { p: 0x1002, s: 0x9000, a: -4, got: 0, size: 0, bypass: Some(0x2000) };
        apply_fixup(GOT_LOAD_RELAXABLE, &mut call, 2, &v).unwrap();
        assert_eq!(&call[..2], &[0x67, 0xe8]);
        assert_eq!(i32::from_le_bytes(call[2..6].try_into().unwrap()), 0x2000 - 0x1006);
        let mut jmp = [0xff, 0x25, 0, 0, 0, 0];
        apply_fixup(GOT_LOAD_RELAXABLE, &mut jmp, 2, &v).unwrap();
        assert_eq!(jmp[0], 0xe9);
        // jmp at 0x1000, 5 bytes: target = 0x1005 + rel32
        assert_eq!(0x1005 + i32::from_le_bytes(jmp[1..5].try_into().unwrap()) as i64, 0x2000);
        assert_eq!(jmp[5], 0x90);
    }

    #[test]
    fn stub_bypass() {
        let mut buf = [0u8; 4];
        let v = FixupInput { p: 0x1000, s: 0x5000, a: -4, got: 0, size: 0, bypass: Some(0x3000) };
        apply_fixup(BRANCH32_TO_STUB_BYPASSABLE, &mut buf, 0, &v).unwrap();
        assert_eq!(i32::from_le_bytes(buf), 0x3000 - 4 - 0x1000);
        let far = FixupInput { bypass: Some(0x7f00_0000_0000), ..v };
        apply_fixup(BRANCH32_TO_STUB_BYPASSABLE, &mut buf, 0, &far).unwrap();
        assert_eq!(i32::from_le_bytes(buf), 0x5000 - 4 - 0x1000);
    }
}

#[cfg(test)]
mod container_kind_tests {
    use super::*;

    fn input(p: u64, s: u64, a: i64) -> FixupInput {
        FixupInput { p, s, a, got: 0, size: 0, bypass: None }
    }

    #[test]
    fn pair_kinds_compute_s_plus_folded_a() {
        // B = 0x1000 already folded: A = 8 - 0x1000.
        let mut buf = [0u8; 8];
        apply_fixup(DELTA64_PAIR, &mut buf, 0, &input(0, 0x800, 8 - 0x1000)).unwrap();
        assert_eq!(i64::from_le_bytes(buf), 0x800 + 8 - 0x1000);
        let mut buf = [0u8; 4];
        apply_fixup(DELTA32_PAIR, &mut buf, 0, &input(0, 0x800, -0x1000)).unwrap();
        assert_eq!(i32::from_le_bytes(buf), -0x800);
        assert!(apply_fixup(DELTA32_PAIR, &mut buf, 0, &input(0, 0x8000_0000, 0)).is_err());
        apply_fixup(IMAGE_REL32, &mut buf, 0, &input(0, 0x7f00_0000_1234, -0x7f00_0000_0000)).unwrap();
        assert_eq!(u32::from_le_bytes(buf), 0x1234);
        assert!(apply_fixup(IMAGE_REL32, &mut buf, 0, &input(0, 0x1000, -0x1001)).is_err());
        assert!(apply_fixup(SECREL32, &mut buf, 0, &input(0, 0x1_0000_0000, 0)).is_err());
    }

    #[test]
    fn secrel7_keeps_the_top_bit() {
        let mut buf = [0x80u8];
        apply_fixup(SECREL7, &mut buf, 0, &input(0, 0x1010, -0x1000)).unwrap();
        assert_eq!(buf[0], 0x90);
        assert!(apply_fixup(SECREL7, &mut buf, 0, &input(0, 0x80, 0)).is_err());
        assert!(apply_fixup(SECREL7, &mut buf, 0, &input(0, 0, -1)).is_err());
    }

    #[test]
    fn section_index_is_the_addend() {
        let mut buf = [0u8; 2];
        apply_fixup(SECTION_INDEX16, &mut buf, 0, &input(0, 0xdead, 3)).unwrap();
        assert_eq!(buf, [3, 0]);
        assert!(apply_fixup(SECTION_INDEX16, &mut buf, 0, &input(0, 0, 0x1_0000)).is_err());
        assert_eq!(apply_fixup(SUBTRAHEND, &mut buf, 0, &input(0, 0, 0)), Err(FixupError::Unlowered));
    }

    #[test]
    fn rel32_branch_forms() {
        assert!(is_rel32_branch(&[0xe8, 0, 0, 0, 0], 1));
        assert!(is_rel32_branch(&[0xe9, 0, 0, 0, 0], 1));
        assert!(is_rel32_branch(&[0x0f, 0x84, 0, 0, 0, 0], 2));
        assert!(!is_rel32_branch(&[0x48, 0x8d, 0x05, 0, 0, 0, 0], 3));
        assert!(!is_rel32_branch(&[0x84, 0, 0, 0, 0], 1));
        assert!(!is_rel32_branch(&[0xe8, 0, 0], 1));
    }
}
