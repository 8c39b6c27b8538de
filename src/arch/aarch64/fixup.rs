//! AArch64 fixups: pure functions over a byte slice, a place address and a
//! target address ("ELF for the Arm 64-bit Architecture (AArch64)",
//! AAELF64 §5.7.3 "Static Data relocations" to §5.7.8 "Proxy-generating
//! relocations"; instruction fields as in the Arm ARM A64 encodings).
//!
//! Every value is computed in 128-bit arithmetic so every overflow is
//! seen; each checked relocation's range is the psABI's `check that ...`
//! column, and a value that does not fit gives
//! [`FixupError::OutOfRange`], never a silently truncated field.
//! Instruction words are little-endian whatever the data byte order (Arm
//! ARM, "Endian support"); data fields follow `big_endian`.

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
fn read_insn(block: &mut [u8], at: usize) -> Result<u32, FixupError> {
    Ok(u32::from_le_bytes(*field::<4>(block, at)?))
}

#[inline]
fn write_insn(block: &mut [u8], at: usize, word: u32) -> Result<(), FixupError> {
    *field::<4>(block, at)? = word.to_le_bytes();
    Ok(())
}

/// `Err(OutOfRange)` unless `lo <= x < hi`.
#[inline]
fn check(x: i128, lo: i128, hi: i128, range: &'static str) -> Result<(), FixupError> {
    if (lo..hi).contains(&x) {
        Ok(())
    } else {
        Err(FixupError::OutOfRange { value: x, range })
    }
}

/// Writes the low `N` bytes of `x` in the data byte order.
fn write_data<const N: usize>(block: &mut [u8], at: usize, x: i128, big_endian: bool) -> Result<(), FixupError> {
    let le = (x as u64).to_le_bytes();
    let f = field::<N>(block, at)?;
    f.copy_from_slice(&le[..N]);
    if big_endian {
        f.reverse();
    }
    Ok(())
}

/// `Page(x)`: `x` with its low 12 bits cleared (AAELF64 §5.7.2).
#[inline]
fn page(x: i128) -> i128 {
    x & !0xfff
}

/// Replaces the `width`-bit field at bit `lsb` of `word` with `value`'s low bits.
#[inline]
fn set_field(word: u32, lsb: u32, width: u32, value: i128) -> u32 {
    let mask = ((1u64 << width) - 1) as u32;
    (word & !(mask << lsb)) | (((value as u64 as u32) & mask) << lsb)
}

/// The immhi:immlo field of `ADR`/`ADRP` set to the 21-bit `imm` (immlo
/// bits [30:29], immhi bits [23:5]).
#[inline]
fn set_adr_imm(word: u32, imm: i128) -> u32 {
    let w = set_field(word, 29, 2, imm);
    set_field(w, 5, 19, imm >> 2)
}

/// Range description and limits of an immediate branch of `bits` bits
/// (imm × 4): `-2^(bits+1) <= X < 2^(bits+1)`, word aligned.
fn branch_limits(kind: EdgeKind) -> (u32, u32, &'static str) {
    match kind {
        BRANCH26 => (26, 0, "a word-aligned ±128 MiB branch offset (B/BL imm26)"),
        BRANCH19 => (19, 5, "a word-aligned ±1 MiB branch offset (B.cond/CBZ/CBNZ imm19)"),
        _ => (14, 5, "a word-aligned ±32 KiB branch offset (TBZ/TBNZ imm14)"),
    }
}

#[inline]
fn branch_fits(x: i128, bits: u32) -> bool {
    let half = 1i128 << (bits + 1);
    x & 3 == 0 && (-half..half).contains(&x)
}

/// The value of a bypassable PC-relative edge: straight to the final
/// target (`bypass + A - P`) when `fits` says so, else to the stub
/// (`S - P`: the stub includes the addend); `S + A - P` with no stub.
#[inline]
fn bypassed(v: &FixupInput, fits: impl Fn(i128) -> bool) -> i128 {
    let (s, a, p) = (v.s as i128, v.a as i128, v.p as i128);
    match v.bypass {
        Some(f) => {
            let direct = f as i128 + a - p;
            if fits(direct) {
                direct
            } else {
                s - p
            }
        }
        None => s + a - p,
    }
}

/// How a wide-move relocation sets its `MOVZ`/`MOVN`/`MOVK` word.
#[derive(Copy, Clone)]
enum Mov {
    /// Keep the opcode, imm16 = the group's bits; check `0 <= X < 2^(16(g+1))`
    /// unless `g` is 3.
    Unsigned { checked: bool },
    /// `MOVZ` for `X >= 0`, else `MOVN` of `!X`; check
    /// `-2^(16(g+1)) <= X < 2^(16(g+1))` unless `g` is 3.
    Signed,
    /// `MOVK`: imm16 = the group's bits, no check.
    Keep,
}

/// Decodes a wide-move kind: (formula base, group, how).
fn movw_spec(kind: EdgeKind) -> Option<(Base, u32, Mov)> {
    use Mov::*;
    let u = |c| Unsigned { checked: c };
    Some(match kind {
        MOVW_UABS_G0 => (Base::Abs, 0, u(true)),
        MOVW_UABS_G0_NC => (Base::Abs, 0, Keep),
        MOVW_UABS_G1 => (Base::Abs, 1, u(true)),
        MOVW_UABS_G1_NC => (Base::Abs, 1, Keep),
        MOVW_UABS_G2 => (Base::Abs, 2, u(true)),
        MOVW_UABS_G2_NC => (Base::Abs, 2, Keep),
        MOVW_UABS_G3 => (Base::Abs, 3, u(false)),
        MOVW_SABS_G0 => (Base::Abs, 0, Signed),
        MOVW_SABS_G1 => (Base::Abs, 1, Signed),
        MOVW_SABS_G2 => (Base::Abs, 2, Signed),
        MOVW_PREL_G0 => (Base::Place, 0, Signed),
        MOVW_PREL_G0_NC => (Base::Place, 0, Keep),
        MOVW_PREL_G1 => (Base::Place, 1, Signed),
        MOVW_PREL_G1_NC => (Base::Place, 1, Keep),
        MOVW_PREL_G2 => (Base::Place, 2, Signed),
        MOVW_PREL_G2_NC => (Base::Place, 2, Keep),
        MOVW_PREL_G3 => (Base::Place, 3, Signed),
        MOVW_GOTREL_G0 => (Base::Got, 0, Signed),
        MOVW_GOTREL_G0_NC => (Base::Got, 0, Keep),
        MOVW_GOTREL_G1 => (Base::Got, 1, Signed),
        MOVW_GOTREL_G1_NC => (Base::Got, 1, Keep),
        MOVW_GOTREL_G2 => (Base::Got, 2, Signed),
        MOVW_GOTREL_G2_NC => (Base::Got, 2, Keep),
        MOVW_GOTREL_G3 => (Base::Got, 3, Signed),
        _ => return None,
    })
}

/// What a wide move's X is relative to.
#[derive(Copy, Clone)]
enum Base {
    /// `S + A`.
    Abs,
    /// `S + A - P`.
    Place,
    /// `S + A - GOT`.
    Got,
}

const MOVW_UNSIGNED_RANGE: [&str; 3] = [
    "an unsigned 16-bit MOVZ immediate (0 <= X < 2^16)",
    "an unsigned 32-bit MOVW group 1 (0 <= X < 2^32)",
    "an unsigned 48-bit MOVW group 2 (0 <= X < 2^48)",
];
const MOVW_SIGNED_RANGE: [&str; 3] = [
    "a signed 17-bit MOVZ/MOVN immediate (-2^16 <= X < 2^16)",
    "a signed 33-bit MOVW group 1 (-2^32 <= X < 2^32)",
    "a signed 49-bit MOVW group 2 (-2^48 <= X < 2^48)",
];

/// Sets the imm16 (bits [20:5]) of the wide move `word` for group `g` of `x`.
fn movw(word: u32, x: i128, g: u32, how: Mov) -> Result<u32, FixupError> {
    let shift = 16 * g;
    match how {
        Mov::Keep => Ok(set_field(word, 5, 16, x >> shift)),
        Mov::Unsigned { checked } => {
            if checked {
                check(x, 0, 1i128 << (16 * (g + 1)), MOVW_UNSIGNED_RANGE[g as usize])?;
            }
            Ok(set_field(word, 5, 16, (x as u64 >> shift) as i128))
        }
        Mov::Signed => {
            if g < 3 {
                let lim = 1i128 << (16 * (g + 1));
                check(x, -lim, lim, MOVW_SIGNED_RANGE[g as usize])?;
            }
            // Bits as a 64-bit register would hold them (G3 is unchecked).
            let x = x as u64 as i64;
            let (word, imm) = if x < 0 {
                (word & !(1 << 30), !x >> shift) // MOVN: opc 00
            } else {
                (word | (1 << 30), x >> shift) // MOVZ: opc 10
            };
            Ok(set_field(word, 5, 16, imm as i128))
        }
    }
}

/// The low-12-bit load/store kinds: access size as a shift, and the
/// alignment error's range text.
fn ldst_shift(kind: EdgeKind) -> Option<(u32, &'static str)> {
    Some(match kind {
        LDST8_LO12 => (0, ""),
        LDST16_LO12 => (1, "a 2-byte-aligned page offset (LDST16: the target is accessed as 2 bytes)"),
        LDST32_LO12 => (2, "a 4-byte-aligned page offset (LDST32: the target is accessed as 4 bytes)"),
        LDST64_LO12 => (3, "an 8-byte-aligned page offset (LDST64: the target is accessed as 8 bytes)"),
        LDST128_LO12 => (4, "a 16-byte-aligned page offset (LDST128: the target is accessed as 16 bytes)"),
        _ => return None,
    })
}

/// The checked DTPREL load/store kinds: access size as a shift, and the
/// alignment error's range text.
fn tls_ldst_shift(kind: EdgeKind) -> (u32, &'static str) {
    match kind {
        TLS_LDST8_LO12 => (0, ""),
        TLS_LDST16_LO12 => (1, "a 2-byte-aligned TLS block offset (the variable is accessed as 2 bytes)"),
        TLS_LDST32_LO12 => (2, "a 4-byte-aligned TLS block offset (the variable is accessed as 4 bytes)"),
        TLS_LDST64_LO12 => (3, "an 8-byte-aligned TLS block offset (the variable is accessed as 8 bytes)"),
        _ => (4, "a 16-byte-aligned TLS block offset (the variable is accessed as 16 bytes)"),
    }
}

/// `LDR Xt, [Xn, #imm]` (64-bit, unsigned scaled offset): the form an
/// `R_AARCH64_LD64_GOT_LO12_NC` relocates.
const LDR_X_UIMM: u32 = 0xf940_0000;
const LDR_X_UIMM_MASK: u32 = 0xffc0_0000;

/// True when `word` is `LDR Xt, [Xn, #imm]` (64-bit, unsigned offset),
/// the only form a GOT load is relaxed from.
pub fn is_ldr_x_uimm(word: u32) -> bool {
    word & LDR_X_UIMM_MASK == LDR_X_UIMM
}

/// `ADD Xd, Xn, #imm12` (64-bit, no shift).
const ADD_X_IMM: u32 = 0x9100_0000;
const X16: u32 = 16;
/// `BR x16`.
const BR_X16: u32 = 0xd61f_0000 | X16 << 5;
/// `BRK #0`: fills unused words so a stray jump traps.
const BRK0: u32 = 0xd420_0000;
/// `LDR x16, .+8` (LDR literal, imm19 = 2).
const LDR_X16_PC8: u32 = 0x5800_0000 | 2 << 5 | X16;

/// Size in bytes of a veneer ([`VENEER`]).
pub const VENEER_SIZE: usize = 16;

/// Encodes the veneer at `p` reaching `target`: `ADRP x16, target; ADD
/// x16, x16, :lo12:target; BR x16; BRK #0` when `Page(target) - Page(p)`
/// fits ADRP's ±4 GiB, else `LDR x16, .+8; BR x16; .xword target` (data
/// in `big_endian` order).
pub fn encode_veneer(p: u64, target: u64, big_endian: bool) -> [u8; VENEER_SIZE] {
    let delta = page(target as i128) - page(p as i128);
    let mut out = [0u8; VENEER_SIZE];
    if (-(1i128 << 32)..(1i128 << 32)).contains(&delta) {
        let adrp = set_adr_imm(0x9000_0000 | X16, delta >> 12);
        let add = set_field(ADD_X_IMM | X16 << 5 | X16, 10, 12, (target & 0xfff) as i128);
        for (i, w) in [adrp, add, BR_X16, BRK0].iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
    } else {
        out[0..4].copy_from_slice(&LDR_X16_PC8.to_le_bytes());
        out[4..8].copy_from_slice(&BR_X16.to_le_bytes());
        out[8..16].copy_from_slice(&if big_endian { target.to_be_bytes() } else { target.to_le_bytes() });
    }
    out
}

/// Applies one fixup of kind `kind` at `offset` within `block` (the
/// block's working bytes); `big_endian` gives the byte order of data
/// fields (instructions are always little-endian).
///
/// Formulas, fields and checks are those of each kind's documentation in
/// [`super::edges`] (AAELF64 §5.7). Bypassable kinds ([`has_bypass`]) go
/// to `bypass + A` when that fits and `bypass` is given.
///
/// # Errors
/// [`FixupError::OutOfRange`] when the value does not fit the field, is
/// not aligned as the field requires (branch and literal offsets: 4 bytes;
/// `LDSTn` page offsets: the access size), or a relaxed GOT load is not an
/// `LDR Xt, [Xn, #imm]`; [`FixupError::OutsideBlock`] when the field does
/// not lie within `block`; [`FixupError::Unlowered`] for request and
/// unknown kinds.
pub fn apply_fixup(
    kind: EdgeKind,
    block: &mut [u8],
    offset: usize,
    v: &FixupInput,
    big_endian: bool,
) -> Result<(), FixupError> {
    let s = v.s as i128;
    let a = v.a as i128;
    let p = v.p as i128;
    let got = v.got as i128;
    match kind {
        KEEP_ALIVE => Ok(()),

        // --- Data ---
        POINTER64 => write_data::<8>(block, offset, s + a, big_endian),
        DELTA64 => write_data::<8>(block, offset, s + a - p, big_endian),
        DELTA64_FROM_GOT => write_data::<8>(block, offset, s + a - got, big_endian),
        POINTER32 | DELTA32 => {
            let x = if kind == POINTER32 { s + a } else { s + a - p };
            check(x, -(1 << 31), 1 << 32, "a 32-bit field (-2^31 <= X < 2^32)")?;
            write_data::<4>(block, offset, x, big_endian)
        }
        POINTER16 | DELTA16 => {
            let x = if kind == POINTER16 { s + a } else { s + a - p };
            check(x, -(1 << 15), 1 << 16, "a 16-bit field (-2^15 <= X < 2^16)")?;
            write_data::<2>(block, offset, x, big_endian)
        }
        DELTA32_SIGNED | DELTA32_FROM_GOT | PLT32 => {
            let signed32 = |x: i128| i32::try_from(x).is_ok();
            let x = match kind {
                DELTA32_SIGNED => s + a - p,
                DELTA32_FROM_GOT => s + a - got,
                _ => bypassed(v, signed32),
            };
            check(x, -(1 << 31), 1 << 31, "a signed 32-bit field")?;
            write_data::<4>(block, offset, x, big_endian)
        }

        // --- Branches and PC-relative fields ---
        BRANCH26 | BRANCH19 | BRANCH14 => {
            let (bits, lsb, range) = branch_limits(kind);
            let x = bypassed(v, |x| branch_fits(x, bits));
            if !branch_fits(x, bits) {
                return Err(FixupError::OutOfRange { value: x, range });
            }
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_field(w, lsb, bits, x >> 2))
        }
        LDR_LITERAL19 => {
            let x = s + a - p;
            if !branch_fits(x, 19) {
                return Err(FixupError::OutOfRange {
                    value: x,
                    range: "a word-aligned ±1 MiB literal offset (LDR literal imm19)",
                });
            }
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_field(w, 5, 19, x >> 2))
        }
        ADR21 => {
            let x = s + a - p;
            check(x, -(1 << 20), 1 << 20, "a ±1 MiB ADR offset (-2^20 <= X < 2^20)")?;
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_adr_imm(w, x))
        }
        PAGE21 | PAGE21_NC => {
            let x = page(s + a) - page(p);
            if kind == PAGE21 {
                check(x, -(1i128 << 32), 1i128 << 32, "a ±4 GiB ADRP page offset (-2^32 <= X < 2^32)")?;
            }
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_adr_imm(w, x >> 12))
        }

        // --- Page offsets ---
        ADD_LO12 => {
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_field(w, 10, 12, (s + a) & 0xfff))
        }
        LDST8_LO12 | LDST16_LO12 | LDST32_LO12 | LDST64_LO12 | LDST128_LO12 => {
            let (shift, range) = ldst_shift(kind).ok_or(FixupError::Unlowered)?;
            let lo = (s + a) & 0xfff;
            if lo & ((1 << shift) - 1) != 0 {
                return Err(FixupError::OutOfRange { value: s + a, range });
            }
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_field(w, 10, 12, lo >> shift))
        }
        GOT_LOAD_RELAXED_LO12 => {
            let w = read_insn(block, offset)?;
            if !is_ldr_x_uimm(w) {
                return Err(FixupError::OutOfRange {
                    value: i128::from(w),
                    range: "a relaxable GOT load (the instruction is not LDR Xt, [Xn, #imm])",
                });
            }
            let (rt, rn) = (w & 0x1f, (w >> 5) & 0x1f);
            let add = ADD_X_IMM | rn << 5 | rt;
            write_insn(block, offset, set_field(add, 10, 12, (s + a) & 0xfff))
        }
        GOT_PAGE_LO15 | GOT_OFFSET_LO15 => {
            let x = if kind == GOT_PAGE_LO15 { s + a - page(got) } else { s + a - got };
            if x & 7 != 0 {
                return Err(FixupError::OutOfRange { value: x, range: "an 8-byte-aligned GOT offset" });
            }
            check(x, 0, 1 << 15, "an unsigned 15-bit GOT offset (0 <= X < 2^15)")?;
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_field(w, 10, 12, x >> 3))
        }

        // --- Stubs ---
        PLT_STUB => {
            let slot = (s + a) as u64;
            let bytes = super::redirect::encode_stub(v.p, slot).ok_or(FixupError::OutOfRange {
                value: page(s + a) - page(p),
                range: "an 8-byte-aligned GOT slot within ±4 GiB of the PLT stub (ADRP)",
            })?;
            field::<{ super::redirect::STUB_SIZE }>(block, offset)?.copy_from_slice(&bytes);
            Ok(())
        }
        VENEER => {
            *field::<VENEER_SIZE>(block, offset)? = encode_veneer(v.p, (s + a) as u64, big_endian);
            Ok(())
        }

        // --- Container kinds (Mach-O, COFF): B already folded into A ---
        DELTA64_PAIR => write_data::<8>(block, offset, s + a, big_endian),
        DELTA32_PAIR => {
            let x = s + a;
            check(x, -(1 << 31), 1 << 31, "a signed 32-bit field")?;
            write_data::<4>(block, offset, x, big_endian)
        }
        IMAGE_REL32 | SECREL32 => {
            let x = s + a;
            check(x, 0, 1 << 32, "an unsigned 32-bit field (0 <= X < 2^32)")?;
            write_data::<4>(block, offset, x, big_endian)
        }
        SECTION_INDEX16 => {
            check(a, 0, 1 << 16, "a 16-bit section index")?;
            write_data::<2>(block, offset, a, big_endian)
        }
        SECREL_ADD_LO12 => {
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_field(w, 10, 12, (s + a) & 0xfff))
        }
        SECREL_ADD_HI12 => {
            let x = s + a;
            check(x, 0, 1 << 24, "a 24-bit section offset (0 <= X < 2^24)")?;
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_field(w, 10, 12, (x >> 12) & 0xfff))
        }
        SECREL_LDST_LO12 => {
            let w = read_insn(block, offset)?;
            let shift = ldst_scale(w).ok_or(FixupError::OutOfRange {
                value: i128::from(w),
                range: "a load/store (unsigned immediate) instruction",
            })?;
            let lo = (s + a) & 0xfff;
            if lo & ((1 << shift) - 1) != 0 {
                return Err(FixupError::OutOfRange { value: s + a, range: "a page offset aligned to the access size" });
            }
            write_insn(block, offset, set_field(w, 10, 12, lo >> shift))
        }

        // --- Thread-local storage (DTPREL: the template start already
        // folded into A, so X = S + A is the offset in the block) ---
        TLS_ADD_HI12 => {
            let x = s + a;
            check(x, 0, 1 << 24, "a TLS block offset below 2^24 (ADD #:dtprel_hi12:, 0 <= X < 2^24)")?;
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_field(w, 10, 12, x >> 12))
        }
        TLS_ADD_LO12 => {
            let x = s + a;
            check(x, 0, 1 << 12, "a TLS block offset below 2^12 (ADD #:dtprel_lo12:, 0 <= X < 2^12)")?;
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_field(w, 10, 12, x))
        }
        TLS_LDST8_LO12 | TLS_LDST16_LO12 | TLS_LDST32_LO12 | TLS_LDST64_LO12 | TLS_LDST128_LO12 => {
            let (shift, range) = tls_ldst_shift(kind);
            let x = s + a;
            check(x, 0, 1 << 12, "a TLS block offset below 2^12 (load/store #:dtprel_lo12:, 0 <= X < 2^12)")?;
            if x & ((1 << shift) - 1) != 0 {
                return Err(FixupError::OutOfRange { value: x, range });
            }
            let w = read_insn(block, offset)?;
            write_insn(block, offset, set_field(w, 10, 12, x >> shift))
        }

        _ => match movw_spec(kind) {
            Some((base, g, how)) => {
                let x = match base {
                    Base::Abs => s + a,
                    Base::Place => s + a - p,
                    Base::Got => s + a - got,
                };
                let w = read_insn(block, offset)?;
                write_insn(block, offset, movw(w, x, g, how)?)
            }
            None => Err(FixupError::Unlowered),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(p: u64, s: u64, a: i64) -> FixupInput {
        FixupInput { p, s, a, got: 0, size: 0, bypass: None }
    }

    fn run(kind: EdgeKind, word: u32, v: &FixupInput) -> Result<u32, FixupError> {
        let mut buf = word.to_le_bytes();
        apply_fixup(kind, &mut buf, 0, v, false)?;
        Ok(u32::from_le_bytes(buf))
    }

    fn data(kind: EdgeKind, width: usize, v: &FixupInput) -> Result<u64, FixupError> {
        let mut buf = [0xeeu8; 8];
        apply_fixup(kind, &mut buf, 0, v, false)?;
        let mut le = [0u8; 8];
        le[..width].copy_from_slice(&buf[..width]);
        assert!(buf[width..].iter().all(|&b| b == 0xee), "{} wrote past its field", kind_name(kind));
        Ok(u64::from_le_bytes(le))
    }

    fn oor(r: Result<impl std::fmt::Debug, FixupError>) -> bool {
        matches!(r, Err(FixupError::OutOfRange { .. }))
    }

    /// (kind, width, P, S, A, expected little-endian field value).
    #[test]
    fn data_fixups_and_limits() {
        let ok: &[(EdgeKind, usize, u64, u64, i64, u64)] = &[
            (POINTER64, 8, 0x1000, 0x1234_5678_9abc, 8, 0x1234_5678_9ac4),
            (POINTER64, 8, 0, 0, -1, u64::MAX),
            (POINTER32, 4, 0, 0xffff_fff0, 0xf, 0xffff_ffff),
            (POINTER32, 4, 0, 0, -(1 << 31), 0x8000_0000),
            (POINTER16, 2, 0, 0xffff, 0, 0xffff),
            (POINTER16, 2, 0, 0, -(1 << 15), 0x8000),
            (DELTA64, 8, 0x10, 0x8, 0, (-8i64) as u64),
            (DELTA32, 4, 0x1_0000_0000, 0x2_0000_0000 - 1, 0, 0xffff_ffff),
            (DELTA32, 4, 0x8000_0000, 0, 0, 0x8000_0000),
            (DELTA16, 2, 0x8000, 0, 0, 0x8000),
            (DELTA16, 2, 0, 0xffff, 0, 0xffff),
            (DELTA32_SIGNED, 4, 0x8000_0000, 0, 0, 0x8000_0000),
            (DELTA32_SIGNED, 4, 0, 0x7fff_ffff, 0, 0x7fff_ffff),
            (PLT32, 4, 0x1000, 0x2000, 4, 0x1004),
            (DELTA64_FROM_GOT, 8, 0, 0x1000, 0, 0x1000),
        ];
        for &(k, w, p, s, a, want) in ok {
            assert_eq!(data(k, w, &input(p, s, a)), Ok(want), "{} P={p:#x} S={s:#x} A={a}", kind_name(k));
        }
        let bad: &[(EdgeKind, u64, u64, i64)] = &[
            (POINTER32, 0, 0x1_0000_0000, 0),
            (POINTER32, 0, 0, -(1 << 31) - 1),
            (POINTER16, 0, 0x1_0000, 0),
            (POINTER16, 0, 0, -(1 << 15) - 1),
            (DELTA32, 0x8000_0001, 0, 0),
            (DELTA32, 0, 0x1_0000_0000, 0),
            (DELTA16, 0x8001, 0, 0),
            (DELTA16, 0, 0x1_0000, 0),
            (DELTA32_SIGNED, 0x8000_0001, 0, 0),
            (DELTA32_SIGNED, 0, 0x8000_0000, 0),
            (PLT32, 0, 0x8000_0000, 0),
        ];
        for &(k, p, s, a) in bad {
            assert!(oor(data(k, 8, &input(p, s, a))), "{} P={p:#x} S={s:#x} A={a} must not fit", kind_name(k));
        }
        // GOT-relative.
        let v = FixupInput { got: 0x5000, ..input(0, 0x5010, 8) };
        assert_eq!(data(DELTA64_FROM_GOT, 8, &v), Ok(0x18));
        assert_eq!(data(DELTA32_FROM_GOT, 4, &v), Ok(0x18));
        let v = FixupInput { got: 0x8000_5000, ..input(0, 0x5000, 0) };
        assert_eq!(data(DELTA32_FROM_GOT, 4, &v), Ok(0x8000_0000));
        let v = FixupInput { got: 0x8000_5001, ..input(0, 0x5000, 0) };
        assert!(oor(data(DELTA32_FROM_GOT, 4, &v)));
    }

    #[test]
    fn big_endian_data() {
        let mut buf = [0u8; 8];
        apply_fixup(POINTER64, &mut buf, 0, &input(0, 0x0102_0304_0506_0708, 0), true).unwrap();
        assert_eq!(buf, [1, 2, 3, 4, 5, 6, 7, 8]);
        let mut buf = [0u8; 4];
        apply_fixup(POINTER32, &mut buf, 0, &input(0, 0x0102_0304, 0), true).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
    }

    const BL: u32 = 0x9400_0000;
    const B_EQ: u32 = 0x5400_0000;
    const TBZ: u32 = 0x3618_0000; // tbz w0, #3
    const LDR_LIT: u32 = 0x5800_0000; // ldr x0, lit
    const ADR: u32 = 0x1000_0000;
    const ADRP: u32 = 0x9000_0000;

    #[test]
    fn branch_limits_and_alignment() {
        let p = 0x1000_0000u64;
        // (kind, word, largest forward, smallest backward)
        let cases: &[(EdgeKind, u32, i64)] =
            &[(BRANCH26, BL, 1 << 27), (BRANCH19, B_EQ, 1 << 20), (BRANCH14, TBZ, 1 << 15)];
        for &(k, word, half) in cases {
            let (bits, lsb, _) = branch_limits(k);
            let mask = ((1u32 << bits) - 1) << lsb;
            let fwd = run(k, word, &input(p, p + half as u64 - 4, 0)).unwrap();
            assert_eq!((fwd & mask) >> lsb, (1 << (bits - 1)) - 1, "{} max", kind_name(k));
            assert_eq!(fwd & !mask, word, "{} opcode kept", kind_name(k));
            let back = run(k, word, &input(p, p - half as u64, 0)).unwrap();
            assert_eq!((back & mask) >> lsb, 1 << (bits - 1), "{} min", kind_name(k));
            assert!(oor(run(k, word, &input(p, p + half as u64, 0))), "{} just beyond", kind_name(k));
            assert!(oor(run(k, word, &input(p, p - half as u64 - 4, 0))), "{} just below", kind_name(k));
            assert!(oor(run(k, word, &input(p, p + 2, 0))), "{} misaligned", kind_name(k));
            // The addend is applied.
            let w = run(k, word, &input(p, p, 8)).unwrap();
            assert_eq!((w & mask) >> lsb, 2);
        }
        // An immediate already in the word is replaced, not or'ed.
        assert_eq!(run(BRANCH26, BL | 0x3ff_ffff, &input(p, p + 4, 0)), Ok(BL | 1));
    }

    #[test]
    fn branch_bypass() {
        let p = 0x1000_0000u64;
        let stub = 0x1100_0000u64;
        // Final target in range: direct, with the addend.
        let v = FixupInput { bypass: Some(p + 0x100), ..input(p, stub, 8) };
        assert_eq!(run(BRANCH26, BL, &v), Ok(BL | (0x108 >> 2)));
        // Out of range: the stub, without the addend (the stub has it).
        let v = FixupInput { bypass: Some(0x7f00_0000_0000), ..input(p, stub, 8) };
        assert_eq!(run(BRANCH26, BL, &v), Ok(BL | ((stub - p) >> 2) as u32));
        // Neither reaches: an error.
        let v = FixupInput { bypass: Some(0x7f00_0000_0000), ..input(p, p + (1 << 28), 0) };
        assert!(oor(run(BRANCH26, BL, &v)));
        // PLT32 bypass.
        let v = FixupInput { bypass: Some(p + 0x10), ..input(p, 0x7f00_0000_0000, 0) };
        assert_eq!(data(PLT32, 4, &v), Ok(0x10));
        let v = FixupInput { bypass: Some(0x7f00_0000_0000), ..input(p, p + 0x40, 0) };
        assert_eq!(data(PLT32, 4, &v), Ok(0x40));
    }

    #[test]
    fn literal_and_adr() {
        let p = 0x40_0000u64;
        assert_eq!(run(LDR_LITERAL19, LDR_LIT, &input(p, p + (1 << 20) - 4, 0)), Ok(LDR_LIT | 0x3ffff << 5));
        assert_eq!(run(LDR_LITERAL19, LDR_LIT, &input(p, p - (1 << 20), 0)), Ok(LDR_LIT | 0x40000 << 5));
        assert!(oor(run(LDR_LITERAL19, LDR_LIT, &input(p, p + (1 << 20), 0))));
        assert!(oor(run(LDR_LITERAL19, LDR_LIT, &input(p, p - (1 << 20) - 4, 0))));
        assert!(oor(run(LDR_LITERAL19, LDR_LIT, &input(p, p + 1, 0))));
        // ADR: byte granular; immlo = X[1:0] at [30:29], immhi = X[20:2] at [23:5].
        assert_eq!(run(ADR21, ADR, &input(p, p + 7, 0)), Ok(ADR | 3 << 29 | 1 << 5));
        assert_eq!(run(ADR21, ADR, &input(p, p + (1 << 20) - 1, 0)), Ok(ADR | 3 << 29 | 0x3ffff << 5));
        assert_eq!(run(ADR21, ADR, &input(p, p - (1 << 20), 0)), Ok(ADR | 0x40000 << 5));
        assert!(oor(run(ADR21, ADR, &input(p, p + (1 << 20), 0))));
        assert!(oor(run(ADR21, ADR, &input(p, p - (1 << 20) - 1, 0))));
    }

    #[test]
    fn adrp_pages() {
        let p = 0x1_0000_0ffcu64; // page 0x1_0000_0000
        let enc = |pages: i64| set_adr_imm(ADRP, pages as i128);
        assert_eq!(run(PAGE21, ADRP, &input(p, 0x1_0000_1000, 0)), Ok(enc(1)));
        assert_eq!(run(PAGE21, ADRP, &input(p, 0x1_0000_0fff, 1)), Ok(enc(1)));
        assert_eq!(run(PAGE21, ADRP, &input(p, 0x1_0000_0000, 0)), Ok(enc(0)));
        // Limits: Page delta in -2^32 ..< 2^32.
        let max = 0x1_0000_0000u64 + (1 << 32) - 0x1000;
        assert_eq!(run(PAGE21, ADRP, &input(p, max + 0xfff, 0)), Ok(enc((1 << 20) - 1)));
        assert!(oor(run(PAGE21, ADRP, &input(p, max + 0x1000, 0))));
        assert_eq!(run(PAGE21, ADRP, &input(p, 0, 0)), Ok(enc(-(1 << 20))));
        let p2 = p + 0x1000;
        assert!(oor(run(PAGE21, ADRP, &input(p2, 0xfff, 0))));
        // NC: no check, bits [32:12] wrap.
        assert_eq!(run(PAGE21_NC, ADRP, &input(p, max + 0x1000, 0)), Ok(enc(-(1 << 20))));
        // Rd is kept.
        assert_eq!(run(PAGE21, ADRP | 7, &input(p, 0x1_0000_1000, 0)), Ok(enc(1) | 7));
    }

    #[test]
    fn page_offsets_and_scale_checks() {
        let add = 0x9100_0000u32;
        assert_eq!(run(ADD_LO12, add, &input(0, 0x1234_5fff, 0)), Ok(add | 0xfff << 10));
        assert_eq!(run(ADD_LO12, add | 0xfff << 10, &input(0, 0x1000, 1)), Ok(add | 1 << 10));
        let ldr = 0xf940_0000u32;
        // (kind, size): largest aligned offset, then one byte off.
        for (k, size) in [(LDST8_LO12, 1u64), (LDST16_LO12, 2), (LDST32_LO12, 4), (LDST64_LO12, 8), (LDST128_LO12, 16)]
        {
            let top = 0x7000 + 0x1000 - size;
            assert_eq!(
                run(k, ldr, &input(0, top, 0)),
                Ok(ldr | (((0x1000 - size) / size) as u32) << 10),
                "{}",
                kind_name(k)
            );
            assert_eq!(run(k, ldr, &input(0, 0x7000, 0)), Ok(ldr), "{}", kind_name(k));
            if size > 1 {
                assert!(oor(run(k, ldr, &input(0, top + 1, 0))), "{} misaligned", kind_name(k));
                assert!(oor(run(k, ldr, &input(0, 0x7000, size as i64 / 2))), "{} misaligned addend", kind_name(k));
            }
        }
    }

    #[test]
    fn relaxed_got_load_becomes_add() {
        // ldr x1, [x2, #8] -> add x1, x2, #:lo12:(S+A)
        let ldr = 0xf940_0000 | 1 << 10 | 2 << 5 | 1;
        assert_eq!(
            run(GOT_LOAD_RELAXED_LO12, ldr, &input(0, 0x1234_5678, 0)),
            Ok(0x9100_0000 | 0x678 << 10 | 2 << 5 | 1)
        );
        // Not an LDR Xt, [Xn, #imm]: refused.
        assert!(oor(run(GOT_LOAD_RELAXED_LO12, 0xb940_0000, &input(0, 0x1000, 0))));
    }

    #[test]
    fn got_lo15() {
        let ldr = 0xf940_0000u32;
        let v = FixupInput { got: 0x10_0800, ..input(0, 0x10_0000 + 0x7ff8, 0) };
        assert_eq!(run(GOT_PAGE_LO15, ldr, &v), Ok(ldr | 0xfff << 10));
        let v = FixupInput { got: 0x10_0800, ..input(0, 0x10_0000 + 0x8000, 0) };
        assert!(oor(run(GOT_PAGE_LO15, ldr, &v)));
        let v = FixupInput { got: 0x10_0800, ..input(0, 0x10_0000, 0) };
        assert_eq!(run(GOT_PAGE_LO15, ldr, &v), Ok(ldr));
        let v = FixupInput { got: 0x10_0800, ..input(0, 0x10_0800 + 0x7ff8, 0) };
        assert_eq!(run(GOT_OFFSET_LO15, ldr, &v), Ok(ldr | 0xfff << 10));
        let v = FixupInput { got: 0x10_0800, ..input(0, 0x10_0800 + 0x8000, 0) };
        assert!(oor(run(GOT_OFFSET_LO15, ldr, &v)));
        let v = FixupInput { got: 0x10_0800, ..input(0, 0x10_07f8, 0) };
        assert!(oor(run(GOT_OFFSET_LO15, ldr, &v)), "below the GOT base");
        let v = FixupInput { got: 0x10_0800, ..input(0, 0x10_0804, 0) };
        assert!(oor(run(GOT_OFFSET_LO15, ldr, &v)), "misaligned");
    }

    const MOVZ: u32 = 0xd280_0000; // movz x0, #0
    const MOVN: u32 = 0x9280_0000; // movn x0, #0
    const MOVK: u32 = 0xf280_0000; // movk x0, #0

    fn imm16(w: u32) -> u32 {
        (w >> 5) & 0xffff
    }

    #[test]
    fn wide_moves_unsigned() {
        let groups = [(MOVW_UABS_G0, 0u32), (MOVW_UABS_G1, 1), (MOVW_UABS_G2, 2)];
        for (k, g) in groups {
            let top = (1u64 << (16 * (g + 1))) - 1;
            let w = run(k, MOVZ | g << 21, &input(0, top, 0)).unwrap();
            assert_eq!(imm16(w), 0xffff, "{}", kind_name(k));
            assert_eq!(w & !(0xffff << 5), MOVZ | g << 21, "{}: opcode and hw kept", kind_name(k));
            assert!(oor(run(k, MOVZ, &input(0, top, 1))), "{} just beyond", kind_name(k));
            assert!(oor(run(k, MOVZ, &input(0, 0, -1))), "{} negative", kind_name(k));
        }
        let x = 0x1234_5678_9abc_def0u64;
        for (k, g) in [(MOVW_UABS_G0_NC, 0), (MOVW_UABS_G1_NC, 1), (MOVW_UABS_G2_NC, 2), (MOVW_UABS_G3, 3)] {
            let w = run(k, MOVK, &input(0, x, 0)).unwrap();
            assert_eq!(imm16(w) as u64, (x >> (16 * g)) & 0xffff, "{}", kind_name(k));
            assert_eq!(w & !(0xffff << 5), MOVK);
        }
        assert_eq!(imm16(run(MOVW_UABS_G3, MOVZ, &input(0, u64::MAX, 0)).unwrap()), 0xffff);
    }

    #[test]
    fn wide_moves_signed_choose_movz_or_movn() {
        // Every checked MOV[NZ] kind at its limits: X relative to nothing,
        // to P, or to the GOT base (the input puts X = `x`).
        let at = |base: u8, x: i64| -> FixupInput {
            let origin = 0x1_0000_0000u64;
            match base {
                0 => input(0, 0, x),
                1 => input(origin, origin, x),
                _ => FixupInput { got: origin, ..input(0, origin, x) },
            }
        };
        let table = [
            (MOVW_SABS_G0, 0u32, 0u8),
            (MOVW_SABS_G1, 1, 0),
            (MOVW_SABS_G2, 2, 0),
            (MOVW_PREL_G0, 0, 1),
            (MOVW_PREL_G1, 1, 1),
            (MOVW_PREL_G2, 2, 1),
            (MOVW_GOTREL_G0, 0, 2),
            (MOVW_GOTREL_G1, 1, 2),
            (MOVW_GOTREL_G2, 2, 2),
        ];
        for (k, g, base) in table {
            let lim = 1i64 << (16 * (g + 1));
            // Largest positive: MOVZ with all ones.
            let w = run(k, MOVN, &at(base, lim - 1)).unwrap();
            assert_eq!((w & !(0xffff << 5), imm16(w)), (MOVZ, 0xffff), "{} max", kind_name(k));
            // Most negative: MOVN of !X.
            let w = run(k, MOVZ, &at(base, -lim)).unwrap();
            assert_eq!((w & !(0xffff << 5), imm16(w)), (MOVN, 0xffff), "{} min", kind_name(k));
            assert!(oor(run(k, MOVZ, &at(base, lim))), "{} just beyond", kind_name(k));
            assert!(oor(run(k, MOVZ, &at(base, -lim - 1))), "{} just below", kind_name(k));
        }
        // G3 is unchecked: any value, the sign picks the opcode.
        for k in [MOVW_PREL_G3, MOVW_GOTREL_G3] {
            let base = if k == MOVW_PREL_G3 { 1 } else { 2 };
            assert_eq!(run(k, MOVN, &at(base, i64::MAX)), Ok(MOVZ | 0x7fff << 5), "{}", kind_name(k));
            assert_eq!(run(k, MOVZ, &at(base, i64::MIN)), Ok(MOVN | 0x7fff << 5), "{}", kind_name(k));
        }
        // -2 in group 0: MOVN #1 (movn x0, #1 == -2).
        let w = run(MOVW_SABS_G0, MOVZ, &input(0, 0, -2)).unwrap();
        assert_eq!(w, MOVN | 1 << 5);
        // PC-relative, GOT-relative.
        let p = 0x1_0000u64;
        let w = run(MOVW_PREL_G0, MOVZ, &input(p, p - 0x10, 0)).unwrap();
        assert_eq!(w, MOVN | 0xf << 5);
        assert!(oor(run(MOVW_PREL_G0, MOVZ, &input(p, p + 0x1_0000, 0))));
        assert!(oor(run(MOVW_PREL_G1, MOVZ, &input(p, p + (1 << 32), 0))));
        assert_eq!(imm16(run(MOVW_PREL_G1, MOVZ, &input(p, p + (1 << 32) - 1, 0)).unwrap()), 0xffff);
        assert!(oor(run(MOVW_PREL_G2, MOVZ, &input(0, 1 << 48, 0))));
        let w = run(MOVW_PREL_G3, MOVZ, &input(0x10, 0, 0)).unwrap();
        assert_eq!(w, MOVN, "G3 of -16: MOVN #0");
        let w = run(MOVW_PREL_G1_NC, MOVK, &input(0x10, 0, 0)).unwrap();
        assert_eq!(w, MOVK | 0xffff << 5, "NC keeps MOVK, bits of -16");
        let v = FixupInput { got: 0x9000, ..input(0, 0x8000, 0) };
        assert_eq!(run(MOVW_GOTREL_G0, MOVZ, &v), Ok(MOVN | 0xfff << 5));
        let v = FixupInput { got: 0x9000, ..input(0, 0x9000 + 0xffff, 0) };
        assert_eq!(run(MOVW_GOTREL_G0, MOVZ, &v), Ok(MOVZ | 0xffff << 5));
        let v = FixupInput { got: 0x9000, ..input(0, 0x9000 + 0x1_0000, 0) };
        assert!(oor(run(MOVW_GOTREL_G0, MOVZ, &v)));
        assert_eq!(run(MOVW_GOTREL_G0_NC, MOVK, &v), Ok(MOVK));
        assert_eq!(run(MOVW_GOTREL_G1_NC, MOVK, &v), Ok(MOVK | 1 << 5));
        assert_eq!(run(MOVW_GOTREL_G1, MOVZ, &v), Ok(MOVZ | 1 << 5));
        assert_eq!(run(MOVW_GOTREL_G2, MOVZ, &v), Ok(MOVZ));
        assert_eq!(run(MOVW_GOTREL_G2_NC, MOVK, &v), Ok(MOVK));
        assert_eq!(run(MOVW_GOTREL_G3, MOVZ, &v), Ok(MOVZ));
    }

    #[test]
    fn stubs_and_veneers() {
        // PLT stub: literal form near its slot, ADRP form farther.
        let mut buf = [0u8; 12];
        apply_fixup(PLT_STUB, &mut buf, 0, &input(0x1000, 0x2000, 0), false).unwrap();
        assert_eq!(u32::from_le_bytes(buf[..4].try_into().unwrap()), 0x5800_0000 | (0x1000 >> 2) << 5 | 16);
        apply_fixup(PLT_STUB, &mut buf, 0, &input(0x1000, 0x1000_0000, 0), false).unwrap();
        assert_eq!(u32::from_le_bytes(buf[..4].try_into().unwrap()) & 0x9f00_001f, 0x9000_0010);
        assert!(oor(apply_fixup(PLT_STUB, &mut buf, 0, &input(0x1000, 0x2004, 0), false)), "misaligned slot");
        assert!(oor(apply_fixup(PLT_STUB, &mut buf, 0, &input(0x1000, 0x2_0000_1000, 0), false)), "slot beyond 4 GiB");
        // Veneer: ADRP form up to ±4 GiB, then the literal form.
        let p = 0x2_0000_0000u64;
        for (t, adrp_form) in [
            (p + (1 << 32) - 1, true),
            (p + (1 << 32), false),
            (p - (1 << 32), true),
            (p - (1 << 32) - 1, false),
            (0x7f00_0000_1234, false),
        ] {
            let mut buf = [0u8; 16];
            apply_fixup(VENEER, &mut buf, 0, &input(p, t, 0), false).unwrap();
            let w = |i: usize| u32::from_le_bytes(buf[4 * i..4 * i + 4].try_into().unwrap());
            if adrp_form {
                assert_eq!(w(0) & 0x9f00_001f, 0x9000_0010, "{t:#x}: adrp x16");
                let pages = (((w(0) >> 5) & 0x7ffff) << 2 | (w(0) >> 29) & 3) as i64;
                let pages = (pages << 43) >> 43;
                assert_eq!((p as i64 & !0xfff) + pages * 4096, t as i64 & !0xfff);
                assert_eq!(w(1), 0x9100_0210 | ((t & 0xfff) as u32) << 10);
                assert_eq!(w(2), BR_X16);
            } else {
                assert_eq!((w(0), w(1)), (LDR_X16_PC8, BR_X16), "{t:#x}");
                assert_eq!(u64::from_le_bytes(buf[8..].try_into().unwrap()), t);
            }
        }
        let mut short = [0u8; 12];
        assert_eq!(apply_fixup(VENEER, &mut short, 0, &input(0, 0, 0), false), Err(FixupError::OutsideBlock));
    }

    #[test]
    fn outside_block_and_unlowered() {
        let mut buf = [0u8; 6];
        assert_eq!(apply_fixup(BRANCH26, &mut buf, 4, &input(0, 0, 0), false), Err(FixupError::OutsideBlock));
        assert_eq!(apply_fixup(POINTER64, &mut buf, 0, &input(0, 0, 0), false), Err(FixupError::OutsideBlock));
        assert_eq!(
            apply_fixup(MOVW_UABS_G0, &mut buf, usize::MAX, &input(0, 0, 0), false),
            Err(FixupError::OutsideBlock)
        );
        for k in [REQ_GOT_PAGE21, REQ_GOT_LO12, REQ_MOVW_GOTOFF_G3, EdgeKind(200)] {
            assert_eq!(apply_fixup(k, &mut buf, 0, &input(0, 0, 0), false), Err(FixupError::Unlowered));
        }
        assert_eq!(apply_fixup(KEEP_ALIVE, &mut [], 0, &input(0, 0, 0), false), Ok(()));
    }
}

/// The access size of a load/store (unsigned immediate) instruction as a
/// shift (0 for bytes .. 4 for 128-bit vector registers), or `None` for any
/// other instruction (Arm ARM C4.1.4, "Load/store register (unsigned
/// immediate)": size in bits `[31:30]`, V in bit 26, opc in bits `[23:22]`;
/// `V = 1, opc = 1x` is the 128-bit form).
pub fn ldst_scale(word: u32) -> Option<u32> {
    if word & 0x3b00_0000 != 0x3900_0000 {
        return None;
    }
    let size = word >> 30;
    if word & 0x0480_0000 == 0x0480_0000 {
        // The 128-bit form is size 00 only; other sizes are unallocated.
        return (size == 0).then_some(4);
    }
    Some(size)
}

/// True for `ADD (immediate)` and `ADDS (immediate)`, 32- or 64-bit (Arm
/// ARM C4.1.2, "Add/subtract (immediate)": bits `[30:23]` = `0 S 100010`).
pub fn is_add_imm(word: u32) -> bool {
    word & 0x5f80_0000 == 0x1100_0000
}

/// The low-12-bit page-offset kind for the instruction `word`: an
/// [`ADD_LO12`] for `ADD`/`ADDS (immediate)`, an `LDSTn_LO12` of the
/// access size for a load/store (unsigned immediate). Containers whose one
/// relocation serves both forms (Mach-O `ARM64_RELOC_PAGEOFF12`, COFF
/// `IMAGE_REL_ARM64_PAGEOFFSET_12L`) map through this.
pub fn pageoff12_kind(word: u32) -> Option<EdgeKind> {
    if is_add_imm(word) {
        return Some(ADD_LO12);
    }
    Some(match ldst_scale(word)? {
        0 => LDST8_LO12,
        1 => LDST16_LO12,
        2 => LDST32_LO12,
        3 => LDST64_LO12,
        _ => LDST128_LO12,
    })
}

/// The immediate that the fixup of `kind` overwrites in `word`, as the
/// instruction holds it (sign-extended for PC-relative fields, raw and
/// unscaled for `imm12`): `ADR`/`ADRP` immhi:immlo, `ADD` and load/store
/// imm12, `B`/`BL` imm26, `B.cond`/`CBZ` imm19, `TBZ` imm14. Containers with
/// implicit addends (COFF keeps them in the instruction) read them
/// through this. `None` for other kinds.
pub fn instruction_immediate(kind: EdgeKind, word: u32) -> Option<i64> {
    let sext = |v: u32, bits: u32| (i64::from(v) << (64 - bits)) >> (64 - bits);
    Some(match kind {
        ADR21 | PAGE21 | PAGE21_NC => sext(((word >> 5) & 0x7ffff) << 2 | (word >> 29) & 3, 21),
        ADD_LO12 | LDST8_LO12 | LDST16_LO12 | LDST32_LO12 | LDST64_LO12 | LDST128_LO12 | SECREL_ADD_LO12
        | SECREL_ADD_HI12 | SECREL_LDST_LO12 => i64::from((word >> 10) & 0xfff),
        BRANCH26 => sext(word & 0x03ff_ffff, 26),
        BRANCH19 | LDR_LITERAL19 => sext((word >> 5) & 0x7ffff, 19),
        BRANCH14 => sext((word >> 5) & 0x3fff, 14),
        _ => return None,
    })
}

#[cfg(test)]
mod container_kind_tests {
    use super::*;

    fn input(p: u64, s: u64, a: i64) -> FixupInput {
        FixupInput { p, s, a, got: 0, size: 0, bypass: None }
    }

    fn word(kind: EdgeKind, w: u32, v: &FixupInput) -> Result<u32, FixupError> {
        let mut buf = w.to_le_bytes();
        apply_fixup(kind, &mut buf, 0, v, false)?;
        Ok(u32::from_le_bytes(buf))
    }

    #[test]
    fn pair_and_image_relative_data() {
        let mut buf = [0u8; 8];
        apply_fixup(DELTA64_PAIR, &mut buf, 0, &input(0, 0x100, -0x200), false).unwrap();
        assert_eq!(i64::from_le_bytes(buf), -0x100);
        let mut buf = [0u8; 4];
        apply_fixup(DELTA32_PAIR, &mut buf, 0, &input(0, 0x100, -0x200), false).unwrap();
        assert_eq!(i32::from_le_bytes(buf), -0x100);
        assert!(apply_fixup(DELTA32_PAIR, &mut buf, 0, &input(0, 0x8000_0000, 0), false).is_err());
        apply_fixup(IMAGE_REL32, &mut buf, 0, &input(0, 0x4000_1000, -0x4000_0000), false).unwrap();
        assert_eq!(u32::from_le_bytes(buf), 0x1000);
        assert!(apply_fixup(IMAGE_REL32, &mut buf, 0, &input(0, 0, -1), false).is_err());
        assert!(apply_fixup(SECREL32, &mut buf, 0, &input(0, 1 << 32, 0), false).is_err());
        let mut buf = [0u8; 2];
        apply_fixup(SECTION_INDEX16, &mut buf, 0, &input(0, 0, 2), false).unwrap();
        assert_eq!(buf, [2, 0]);
    }

    #[test]
    fn section_relative_instruction_fields() {
        const ADD_X0: u32 = 0x9100_0000; // add x0, x0, #0
        const ADD_X0_LSL12: u32 = 0x9140_0000; // add x0, x0, #0, lsl #12
        const LDR_X1: u32 = 0xf940_0001; // ldr x1, [x0]
        const LDR_Q1: u32 = 0x3dc0_0001; // ldr q1, [x0]
        assert_eq!(word(SECREL_ADD_LO12, ADD_X0, &input(0, 0x12345, -0x10000)), Ok(ADD_X0 | 0x345 << 10));
        assert_eq!(word(SECREL_ADD_HI12, ADD_X0_LSL12, &input(0, 0x12345, 0)), Ok(ADD_X0_LSL12 | 0x12 << 10));
        assert!(word(SECREL_ADD_HI12, ADD_X0_LSL12, &input(0, 1 << 24, 0)).is_err());
        assert_eq!(word(SECREL_LDST_LO12, LDR_X1, &input(0, 0x1238, 0)), Ok(LDR_X1 | (0x238 >> 3) << 10));
        assert!(word(SECREL_LDST_LO12, LDR_X1, &input(0, 0x1234, 0)).is_err());
        assert_eq!(word(SECREL_LDST_LO12, LDR_Q1, &input(0, 0x1230, 0)), Ok(LDR_Q1 | (0x230 >> 4) << 10));
        assert!(word(SECREL_LDST_LO12, ADD_X0, &input(0, 0, 0)).is_err());
    }

    #[test]
    fn decoders() {
        assert_eq!(pageoff12_kind(0x9100_0000), Some(ADD_LO12));
        assert_eq!(pageoff12_kind(0xf940_0001), Some(LDST64_LO12));
        assert_eq!(pageoff12_kind(0xb940_0001), Some(LDST32_LO12));
        assert_eq!(pageoff12_kind(0x3940_0001), Some(LDST8_LO12));
        assert_eq!(pageoff12_kind(0x7940_0001), Some(LDST16_LO12));
        assert_eq!(pageoff12_kind(0x3dc0_0001), Some(LDST128_LO12));
        assert_eq!(pageoff12_kind(0xfd40_0001), Some(LDST64_LO12)); // ldr d1
        assert_eq!(pageoff12_kind(0x9400_0000), None);
        // adrp x0, #-4096 * 1 → immhi:immlo = -1 (all ones)
        assert_eq!(instruction_immediate(PAGE21, 0xf0ff_ffe0), Some(-1));
        assert_eq!(instruction_immediate(PAGE21, 0x9000_0000 | 1 << 29), Some(1));
        assert_eq!(instruction_immediate(ADD_LO12, 0x9100_0000 | 0x123 << 10), Some(0x123));
        assert_eq!(instruction_immediate(BRANCH26, 0x97ff_ffff), Some(-1));
        assert_eq!(instruction_immediate(BRANCH19, 0x5400_0040), Some(2));
        assert_eq!(instruction_immediate(BRANCH14, 0x3600_0040), Some(2));
        assert_eq!(instruction_immediate(POINTER64, 0), None);
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;

    /// `S + A` is the DTPREL offset (the template start is folded into A
    /// before fixup); P and GOT play no part.
    fn run(kind: EdgeKind, word: u32, s: u64, a: i64) -> Result<u32, FixupError> {
        let mut buf = word.to_le_bytes();
        apply_fixup(kind, &mut buf, 0, &FixupInput { p: 0x4000, s, a, got: 0x9000, size: 0, bypass: None }, false)?;
        Ok(u32::from_le_bytes(buf))
    }

    const ADD_X0_LSL12: u32 = 0x9140_0000; // add x0, x0, #0, lsl #12
    const ADD_X0: u32 = 0x9100_0000; // add x0, x0, #0
    const LDRB: u32 = 0x3940_0001; // ldrb w1, [x0]
    const LDRH: u32 = 0x7940_0001; // ldrh w1, [x0]
    const LDR_W: u32 = 0xb940_0001; // ldr w1, [x0]
    const LDR_X: u32 = 0xf940_0001; // ldr x1, [x0]
    const LDR_Q: u32 = 0x3dc0_0001; // ldr q1, [x0]

    /// (kind, instruction, S, A, the imm12 it must hold, or `None` when
    /// the value must be refused), at the limits of each field.
    #[test]
    fn dtprel_fields_and_limits() {
        #[rustfmt::skip]
        let cases: &[(EdgeKind, u32, u64, i64, Option<u32>)] = &[
            (TLS_ADD_HI12, ADD_X0_LSL12, 0x2000, 0x123_456 - 0x2000, Some(0x123)),
            (TLS_ADD_HI12, ADD_X0_LSL12, 0x2000, (1 << 24) - 1 - 0x2000, Some(0xfff)),
            (TLS_ADD_HI12, ADD_X0_LSL12, 0x2000, (1 << 24) - 0x2000, None),
            (TLS_ADD_HI12, ADD_X0_LSL12, 0x2000, -0x2001, None),
            (TLS_ADD_LO12, ADD_X0, 0x2000, 0xfff - 0x2000, Some(0xfff)),
            (TLS_ADD_LO12, ADD_X0, 0x2000, 0x1000 - 0x2000, None),
            (TLS_ADD_LO12, ADD_X0, 0x2000, -0x2001, None),
            (TLS_LDST8_LO12, LDRB, 0x100, 0xeff, Some(0xfff)),
            (TLS_LDST8_LO12, LDRB, 0x100, 0xf00, None),
            (TLS_LDST16_LO12, LDRH, 0x100, 0xefe, Some(0x7ff)),
            (TLS_LDST16_LO12, LDRH, 0x100, 1, None),
            (TLS_LDST32_LO12, LDR_W, 0x100, 0xefc, Some(0x3ff)),
            (TLS_LDST32_LO12, LDR_W, 0x100, 2, None),
            (TLS_LDST64_LO12, LDR_X, 0x100, 0x10, Some(0x22)),
            (TLS_LDST64_LO12, LDR_X, 0x100, 4, None),
            (TLS_LDST64_LO12, LDR_X, 0x100, 0xf00, None),
            (TLS_LDST128_LO12, LDR_Q, 0x100, 0xef0, Some(0xff)),
            (TLS_LDST128_LO12, LDR_Q, 0x100, 8, None),
            (TLS_LDST128_LO12, LDR_Q, 0, -16, None),
        ];
        for &(k, word, s, a, want) in cases {
            let got = run(k, word, s, a);
            match want {
                Some(imm) => assert_eq!(got, Ok(word | imm << 10), "{} S={s:#x} A={a:#x}", kind_name(k)),
                None => assert!(
                    matches!(got, Err(FixupError::OutOfRange { .. })),
                    "{} S={s:#x} A={a:#x} must be refused: {got:x?}",
                    kind_name(k)
                ),
            }
        }
        // The old immediate is replaced, not or'ed.
        assert_eq!(run(TLS_ADD_LO12, ADD_X0 | 0xfff << 10, 0, 1), Ok(ADD_X0 | 1 << 10));
        // Requests never reach the fixup.
        for k in [REQ_DTPREL_ADD_HI12, REQ_TLSDESC_PAGE21, REQ_TLSGD_ADD_LO12, REQ_DTPREL64] {
            assert_eq!(run(k, ADD_X0, 0, 0), Err(FixupError::Unlowered), "{}", kind_name(k));
        }
    }

    /// What the requests become, fixed up as the pair/descriptor and DTPREL
    /// values: the lowered kinds compute the psABI formulas with S the
    /// pair or descriptor and A 0, or S + A the block offset.
    #[test]
    fn lowered_requests_compute_the_psabi_values() {
        let desc = 0x1234_5678u64;
        // TLSDESC_ADR_PAGE21: Page(G) - Page(P) in ADRP immhi:immlo.
        let adrp = run(tls_request(REQ_TLSDESC_PAGE21).unwrap().1, 0x9000_0000, desc, 0).unwrap();
        let imm = ((adrp >> 5) & 0x7ffff) << 2 | (adrp >> 29) & 3;
        assert_eq!(i64::from(imm), ((desc & !0xfff) - 0x4000) as i64 >> 12);
        // TLSDESC_LD64_LO12: G[11:3].
        let ldr = run(tls_request(REQ_TLSDESC_LD64_LO12).unwrap().1, LDR_X, desc, 0).unwrap();
        assert_eq!(ldr, LDR_X | ((desc as u32 & 0xfff) >> 3) << 10);
        // TLSGD_ADD_LO12_NC: G[11:0].
        let add = run(tls_request(REQ_TLSGD_ADD_LO12).unwrap().1, ADD_X0, desc, 0).unwrap();
        assert_eq!(add, ADD_X0 | (desc as u32 & 0xfff) << 10);
        // TLSGD_MOVW_G1: G - GOT bits [31:16], MOVZ.
        let movz = run(tls_request(REQ_TLSGD_MOVW_G1).unwrap().1, 0xd2a0_0000, 0x12_9000, 0).unwrap();
        assert_eq!(movz, 0xd2a0_0000 | 0x12 << 5);
        // DTPREL_MOVW_G0 of a negative offset is MOVN of its complement.
        let movn = run(dtprel_request(REQ_DTPREL_MOVW_G0).unwrap(), 0xd280_0000, 0, -2).unwrap();
        assert_eq!(movn, 0x9280_0000 | 1 << 5);
    }
}
