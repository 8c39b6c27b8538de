//! RISC-V 64 fixups: pure functions over a byte slice, a location address
//! and a target address (RISC-V ELF psABI "Relocations"; instruction
//! formats from "The RISC-V Instruction Set Manual, Volume I", chapters
//! "Base Instruction Formats" and "Compressed Instruction Formats").
//!
//! Instructions are little-endian whatever the data byte order. Values are
//! computed in 128-bit arithmetic, so every overflow is seen.

use super::edges::*;
use crate::arch::{FixupError, FixupInput};
use crate::graph::EdgeKind;

/// Range of a conditional branch (B-type imm12, 2-byte units): bytes.
pub const BRANCH_RANGE: (i64, i64) = (-(1 << 12), (1 << 12) - 2);
/// Range of `JAL` (J-type imm20, 2-byte units): bytes.
pub const JAL_RANGE: (i64, i64) = (-(1 << 20), (1 << 20) - 2);
/// Range of `C.BEQZ`/`C.BNEZ` (CB-type, 9-bit): bytes.
pub const RVC_BRANCH_RANGE: (i64, i64) = (-(1 << 8), (1 << 8) - 2);
/// Range of `C.J` (CJ-type, 12-bit): bytes.
pub const RVC_JUMP_RANGE: (i64, i64) = (-(1 << 11), (1 << 11) - 2);
/// Range of a value split into hi20/lo12 (`AUIPC`/`LUI` + 12-bit
/// immediate): `(v + 0x800) >> 12` must fit 20 signed bits, so
/// `-2^31 - 2^11..=2^31 - 2^11 - 1`.
pub const HI20_RANGE: (i64, i64) = (-(1 << 31) - (1 << 11), (1 << 31) - (1 << 11) - 1);

const R_BRANCH: &str = "an even signed 13-bit displacement (BRANCH, -4096..=4094 bytes)";
const R_JAL: &str = "an even signed 21-bit displacement (JAL, -1 MiB..=1 MiB - 2)";
const R_RVC_BRANCH: &str = "an even signed 9-bit displacement (C.BEQZ/C.BNEZ, -256..=254 bytes)";
const R_RVC_JUMP: &str = "an even signed 12-bit displacement (C.J, -2048..=2046 bytes)";
const R_HI20: &str = "a signed 32-bit value after hi20 rounding (-2^31 - 2^11..=2^31 - 2^11 - 1)";

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
fn write_insn(block: &mut [u8], at: usize, w: u32) -> Result<(), FixupError> {
    *field::<4>(block, at)? = w.to_le_bytes();
    Ok(())
}

/// Rewrites the 32-bit instruction at `at` with `f`.
#[inline]
fn patch(block: &mut [u8], at: usize, f: impl FnOnce(u32) -> u32) -> Result<(), FixupError> {
    let w = field::<4>(block, at)?;
    *w = f(u32::from_le_bytes(*w)).to_le_bytes();
    Ok(())
}

/// Rewrites the 16-bit instruction at `at` with `f`.
#[inline]
fn patch16(block: &mut [u8], at: usize, f: impl FnOnce(u16) -> u16) -> Result<(), FixupError> {
    let h = field::<2>(block, at)?;
    *h = f(u16::from_le_bytes(*h)).to_le_bytes();
    Ok(())
}

/// Reads an unsigned data field of `width` bytes (1, 2, 4, 8).
fn read_data(block: &mut [u8], at: usize, width: usize, be: bool) -> Result<u64, FixupError> {
    let end = at.checked_add(width).ok_or(FixupError::OutsideBlock)?;
    let b = block.get(at..end).ok_or(FixupError::OutsideBlock)?;
    let fold = |acc: u64, x: &u8| (acc << 8) | u64::from(*x);
    Ok(if be { b.iter().fold(0, fold) } else { b.iter().rev().fold(0, fold) })
}

/// Writes the low `width` bytes of `v` (1, 2, 4, 8).
fn write_data(block: &mut [u8], at: usize, width: usize, be: bool, v: u64) -> Result<(), FixupError> {
    let end = at.checked_add(width).ok_or(FixupError::OutsideBlock)?;
    let b = block.get_mut(at..end).ok_or(FixupError::OutsideBlock)?;
    for (i, x) in b.iter_mut().enumerate() {
        let shift = if be { 8 * (width - 1 - i) } else { 8 * i };
        *x = (v >> shift) as u8;
    }
    Ok(())
}

/// `v` as `i64` if it lies in `range` and, when `even`, is even.
fn check(v: i128, range: (i64, i64), even: bool, what: &'static str) -> Result<i64, FixupError> {
    if v < i128::from(range.0) || v > i128::from(range.1) || (even && v & 1 != 0) {
        return Err(FixupError::OutOfRange { value: v, range: what });
    }
    Ok(v as i64)
}

/// The upper 20 bits of a hi20/lo12 split, in place (bits 31:12): the
/// psABI's `(v + 0x800) >> 12`, so that adding the sign-extended lo12
/// gives `v` back.
pub fn hi20_bits(v: i64) -> u32 {
    (v.wrapping_add(0x800) as u32) & 0xffff_f000
}

/// `insn` (U-type: `LUI`/`AUIPC`) with its imm20 set to the hi20 of `v`.
pub fn encode_u(insn: u32, v: i64) -> u32 {
    (insn & 0xfff) | hi20_bits(v)
}

/// `insn` (I-type) with its imm12 set to the low 12 bits of `v`.
pub fn encode_i(insn: u32, v: i64) -> u32 {
    (insn & 0x000f_ffff) | ((v as u32) & 0xfff) << 20
}

/// `insn` (S-type) with its split imm12 set to the low 12 bits of `v`:
/// `imm[11:5]` in bits 31:25, `imm[4:0]` in bits 11:7.
pub fn encode_s(insn: u32, v: i64) -> u32 {
    let v = v as u32;
    (insn & 0x01ff_f07f) | (v & 0xfe0) << 20 | (v & 0x1f) << 7
}

/// `insn` (B-type) with branch displacement `d`: `imm[12|10:5]` in bits
/// 31:25, `imm[4:1|11]` in bits 11:7.
pub fn encode_b(insn: u32, d: i64) -> u32 {
    let d = d as u32;
    (insn & 0x01ff_f07f)
        | ((d >> 12) & 1) << 31
        | ((d >> 5) & 0x3f) << 25
        | ((d >> 1) & 0xf) << 8
        | ((d >> 11) & 1) << 7
}

/// `insn` (J-type) with jump displacement `d`: `imm[20|10:1|11|19:12]` in
/// bits 31:12.
pub fn encode_j(insn: u32, d: i64) -> u32 {
    let d = d as u32;
    (insn & 0xfff) | ((d >> 20) & 1) << 31 | ((d >> 1) & 0x3ff) << 21 | ((d >> 11) & 1) << 20 | ((d >> 12) & 0xff) << 12
}

/// `insn` (CB-type, `C.BEQZ`/`C.BNEZ`) with displacement `d`:
/// `offset[8|4:3]` in bits 12:10, `offset[7:6|2:1|5]` in bits 6:2.
pub fn encode_cb(insn: u16, d: i64) -> u16 {
    let d = d as u16;
    (insn & 0xe383)
        | ((d >> 8) & 1) << 12
        | ((d >> 3) & 3) << 10
        | ((d >> 6) & 3) << 5
        | ((d >> 1) & 3) << 3
        | ((d >> 5) & 1) << 2
}

/// `insn` (CJ-type, `C.J`/`C.JAL`) with displacement `d`:
/// `offset[11|4|9:8|10|6|7|3:1|5]` in bits 12:2.
pub fn encode_cj(insn: u16, d: i64) -> u16 {
    let d = d as u16;
    (insn & 0xe003)
        | ((d >> 11) & 1) << 12
        | ((d >> 4) & 1) << 11
        | ((d >> 8) & 3) << 9
        | ((d >> 10) & 1) << 8
        | ((d >> 6) & 1) << 7
        | ((d >> 7) & 1) << 6
        | ((d >> 1) & 7) << 3
        | ((d >> 5) & 1) << 2
}

/// The PC-relative control-transfer kinds, without their stubs.
#[derive(Copy, Clone)]
enum Pcrel {
    Branch,
    Jal,
    Call,
    RvcBranch,
    RvcJump,
}

impl Pcrel {
    fn check(self, v: i128) -> Result<i64, FixupError> {
        match self {
            Pcrel::Branch => check(v, BRANCH_RANGE, true, R_BRANCH),
            Pcrel::Jal => check(v, JAL_RANGE, true, R_JAL),
            // JALR clears bit 0 of the target itself; lld does not check
            // the alignment of R_RISCV_CALL either.
            Pcrel::Call => check(v, HI20_RANGE, false, R_HI20),
            Pcrel::RvcBranch => check(v, RVC_BRANCH_RANGE, true, R_RVC_BRANCH),
            Pcrel::RvcJump => check(v, RVC_JUMP_RANGE, true, R_RVC_JUMP),
        }
    }

    /// Checks `v` and writes it into the instruction(s) at `at`.
    fn write(self, block: &mut [u8], at: usize, v: i128) -> Result<(), FixupError> {
        let d = self.check(v)?;
        match self {
            Pcrel::Branch => patch(block, at, |w| encode_b(w, d)),
            Pcrel::Jal => patch(block, at, |w| encode_j(w, d)),
            Pcrel::Call => {
                let jalr_at = at.checked_add(4).ok_or(FixupError::OutsideBlock)?;
                let (auipc, jalr) = (read_insn(block, at)?, read_insn(block, jalr_at)?);
                write_insn(block, at, encode_u(auipc, d))?;
                write_insn(block, jalr_at, encode_i(jalr, d))
            }
            Pcrel::RvcBranch => patch16(block, at, |h| encode_cb(h, d)),
            Pcrel::RvcJump => patch16(block, at, |h| encode_cj(h, d)),
        }
    }
}

/// The length in bytes of the ULEB128 at `at` (at most 10 bytes).
fn uleb_len(block: &[u8], at: usize) -> Result<usize, FixupError> {
    let rest = block.get(at..).ok_or(FixupError::OutsideBlock)?;
    match rest.iter().take(10).position(|b| b & 0x80 == 0) {
        Some(i) => Ok(i + 1),
        None => Err(FixupError::OutsideBlock),
    }
}

/// Writes `v` as a ULEB128 of exactly the length of the one at `at`
/// (padded with continuation bytes), as R_RISCV_SET_ULEB128 requires.
fn write_uleb(block: &mut [u8], at: usize, v: u64) -> Result<(), FixupError> {
    let len = uleb_len(block, at)?;
    if len < 10 && v >> (7 * len) != 0 {
        return Err(FixupError::OutOfRange { value: v as i128, range: "the ULEB128 field's encoded length" });
    }
    for (i, b) in block[at..at + len].iter_mut().enumerate() {
        let more = if i + 1 < len { 0x80 } else { 0 };
        *b = ((v >> (7 * i)) & 0x7f) as u8 | more;
    }
    Ok(())
}

/// Applies one fixup of kind `kind` at `offset` within `block`;
/// `big_endian` gives the byte order of data fields (instructions are
/// always little-endian).
///
/// Formulas per kind are in [`super::edges`]. For the `*_VIA_STUB` kinds
/// the value is first computed against `v.bypass` (the stub's final
/// target) and used when it fits; otherwise against the stub (S).
///
/// # Errors
/// [`FixupError::OutOfRange`] when the value does not fit the field (or a
/// branch displacement is odd), [`FixupError::OutsideBlock`] when the
/// field is not inside `block`, [`FixupError::Unlowered`] for request and
/// marker kinds that should have been lowered, and unknown kinds.
pub fn apply_fixup(
    kind: EdgeKind,
    block: &mut [u8],
    offset: usize,
    v: &FixupInput,
    big_endian: bool,
) -> Result<(), FixupError> {
    let s = i128::from(v.s);
    let a = i128::from(v.a);
    let p = i128::from(v.p);
    let at = offset;
    let be = big_endian;
    let via_stub = |pc: Pcrel, block: &mut [u8]| -> Result<(), FixupError> {
        if let Some(real) = v.bypass {
            let x = i128::from(real) + a - p;
            if pc.check(x).is_ok() {
                return pc.write(block, at, x);
            }
        }
        pc.write(block, at, s + a - p)
    };
    match kind {
        KEEP_ALIVE | RELAX => Ok(()),
        POINTER64 => write_data(block, at, 8, be, (s + a) as u64),
        POINTER32 => {
            let x = i128::from((s + a) as i64);
            if !(-(1i128 << 31)..(1i128 << 32)).contains(&x) {
                return Err(FixupError::OutOfRange { value: x, range: "a 32-bit field (signed or unsigned)" });
            }
            write_data(block, at, 4, be, x as u64)
        }
        DELTA32 => {
            let x = s + a - p;
            let x =
                i32::try_from(x).map_err(|_| FixupError::OutOfRange { value: x, range: "a signed 32-bit field" })?;
            write_data(block, at, 4, be, u64::from(x as u32))
        }
        BRANCH => Pcrel::Branch.write(block, at, s + a - p),
        JAL => Pcrel::Jal.write(block, at, s + a - p),
        CALL => Pcrel::Call.write(block, at, s + a - p),
        RVC_BRANCH => Pcrel::RvcBranch.write(block, at, s + a - p),
        RVC_JUMP => Pcrel::RvcJump.write(block, at, s + a - p),
        CALL_VIA_STUB => via_stub(Pcrel::Call, block),
        JAL_VIA_STUB => via_stub(Pcrel::Jal, block),
        BRANCH_VIA_STUB => via_stub(Pcrel::Branch, block),
        RVC_BRANCH_VIA_STUB => via_stub(Pcrel::RvcBranch, block),
        RVC_JUMP_VIA_STUB => via_stub(Pcrel::RvcJump, block),
        PCREL_HI20 | HI20 => {
            // An absolute value is a 64-bit register value: S + A modulo
            // 2^64, read as signed (LUI sign-extends), as lld checks it.
            let x = if kind == HI20 { i128::from((s + a) as i64) } else { s + a - p };
            let x = check(x, HI20_RANGE, false, R_HI20)?;
            patch(block, at, |w| encode_u(w, x))
        }
        // lo12 takes the low 12 bits; the hi20 partner carries the check.
        PCREL_LO12_I | LO12_I => {
            let x = if kind == LO12_I { s + a } else { s + a - p };
            patch(block, at, |w| encode_i(w, x as i64))
        }
        PCREL_LO12_S | LO12_S => {
            let x = if kind == LO12_S { s + a } else { s + a - p };
            patch(block, at, |w| encode_s(w, x as i64))
        }
        ADD8 | ADD16 | ADD32 | ADD64 | SUB8 | SUB16 | SUB32 | SUB64 => {
            let width = match kind {
                ADD8 | SUB8 => 1,
                ADD16 | SUB16 => 2,
                ADD32 | SUB32 => 4,
                _ => 8,
            };
            let old = read_data(block, at, width, be)?;
            let x = (s + a) as u64;
            let new =
                if matches!(kind, ADD8 | ADD16 | ADD32 | ADD64) { old.wrapping_add(x) } else { old.wrapping_sub(x) };
            write_data(block, at, width, be, new)
        }
        SET8 | SET16 | SET32 => {
            let width = match kind {
                SET8 => 1,
                SET16 => 2,
                _ => 4,
            };
            write_data(block, at, width, be, (s + a) as u64)
        }
        SET6 | SUB6 => {
            let b = &mut field::<1>(block, at)?[0];
            let x = (s + a) as u8;
            let low = if kind == SET6 { x } else { (*b).wrapping_sub(x) };
            *b = (*b & 0xc0) | (low & 0x3f);
            Ok(())
        }
        SET_ULEB128 => write_uleb(block, at, (s + a) as u64),
        _ => Err(FixupError::Unlowered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(p: u64, s: u64, a: i64) -> FixupInput {
        FixupInput { p, s, a, got: 0, size: 0, bypass: None }
    }

    // Independent decoders (ISA manual bit layouts).
    fn sext(v: u32, bits: u32) -> i64 {
        i64::from(((v << (32 - bits)) as i32) >> (32 - bits))
    }
    fn dec_b(w: u32) -> i64 {
        let imm = (w >> 31) << 12 | ((w >> 7) & 1) << 11 | ((w >> 25) & 0x3f) << 5 | ((w >> 8) & 0xf) << 1;
        sext(imm, 13)
    }
    fn dec_j(w: u32) -> i64 {
        let imm = (w >> 31) << 20 | ((w >> 12) & 0xff) << 12 | ((w >> 20) & 1) << 11 | ((w >> 21) & 0x3ff) << 1;
        sext(imm, 21)
    }
    fn dec_cb(h: u16) -> i64 {
        let h = u32::from(h);
        let imm = ((h >> 12) & 1) << 8
            | ((h >> 5) & 3) << 6
            | ((h >> 2) & 1) << 5
            | ((h >> 10) & 3) << 3
            | ((h >> 3) & 3) << 1;
        sext(imm, 9)
    }
    fn dec_cj(h: u16) -> i64 {
        let h = u32::from(h);
        let imm = ((h >> 12) & 1) << 11
            | ((h >> 8) & 1) << 10
            | ((h >> 9) & 3) << 8
            | ((h >> 6) & 1) << 7
            | ((h >> 7) & 1) << 6
            | ((h >> 2) & 1) << 5
            | ((h >> 11) & 1) << 4
            | ((h >> 3) & 7) << 1;
        sext(imm, 12)
    }
    fn dec_u(w: u32) -> i64 {
        i64::from((w & 0xffff_f000) as i32)
    }
    fn dec_i(w: u32) -> i64 {
        i64::from((w as i32) >> 20)
    }
    fn dec_s(w: u32) -> i64 {
        i64::from(((w & 0xfe00_0000) as i32) >> 20) | i64::from((w >> 7) & 0x1f)
    }

    const BEQ: u32 = 0x0000_0063; // beq x0, x0, 0
    const JAL_RA: u32 = 0x0000_00ef; // jal ra, 0
    const AUIPC_RA: u32 = 0x0000_0097; // auipc ra, 0
    const JALR_RA: u32 = 0x0000_80e7; // jalr ra, 0(ra)
    const C_BEQZ: u16 = 0xc001; // c.beqz s0, 0
    const C_J: u16 = 0xa001; // c.j 0

    fn w32(w: u32) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&w.to_le_bytes());
        b
    }

    /// (kind, instruction bytes, decoder of the displacement, minimum, maximum).
    #[allow(clippy::type_complexity)]
    fn pcrel_cases() -> Vec<(EdgeKind, [u8; 8], fn(&[u8]) -> i64, i64, i64)> {
        let b: fn(&[u8]) -> i64 = |x| dec_b(u32::from_le_bytes(x[..4].try_into().unwrap()));
        let j: fn(&[u8]) -> i64 = |x| dec_j(u32::from_le_bytes(x[..4].try_into().unwrap()));
        let cb: fn(&[u8]) -> i64 = |x| dec_cb(u16::from_le_bytes(x[..2].try_into().unwrap()));
        let cj: fn(&[u8]) -> i64 = |x| dec_cj(u16::from_le_bytes(x[..2].try_into().unwrap()));
        let call: fn(&[u8]) -> i64 = |x| {
            let hi = dec_u(u32::from_le_bytes(x[..4].try_into().unwrap()));
            let lo = dec_i(u32::from_le_bytes(x[4..8].try_into().unwrap()));
            hi + lo
        };
        let mut pair = [0u8; 8];
        pair[..4].copy_from_slice(&AUIPC_RA.to_le_bytes());
        pair[4..].copy_from_slice(&JALR_RA.to_le_bytes());
        let mut cbz = [0u8; 8];
        cbz[..2].copy_from_slice(&C_BEQZ.to_le_bytes());
        let mut cjb = [0u8; 8];
        cjb[..2].copy_from_slice(&C_J.to_le_bytes());
        vec![
            (BRANCH, w32(BEQ), b, -4096, 4094),
            (JAL, w32(JAL_RA), j, -(1 << 20), (1 << 20) - 2),
            (CALL, pair, call, -(1 << 31) - 2048, (1 << 31) - 2049),
            (RVC_BRANCH, cbz, cb, -256, 254),
            (RVC_JUMP, cjb, cj, -2048, 2046),
        ]
    }

    #[test]
    fn pcrel_limits_and_just_beyond() {
        let p = 0x4000_0000_0000u64;
        for (kind, insn, dec, lo, hi) in pcrel_cases() {
            for d in [lo, lo + 2, -2, 0, 2, 0x2a, hi - 2, hi] {
                let mut buf = insn;
                let t = (p as i64 + d) as u64;
                apply_fixup(kind, &mut buf, 0, &input(p, t, 0), false)
                    .unwrap_or_else(|e| panic!("{kind:?} {d}: {e:?}"));
                assert_eq!(dec(&buf), d, "{} displacement {d}", kind_name(kind));
                // Register and opcode bits are kept.
                let mut zeroed = insn;
                apply_fixup(kind, &mut zeroed, 0, &input(p, p, 0), false).unwrap();
                assert_eq!(zeroed, insn, "{}: displacement 0 leaves the instruction as is", kind_name(kind));
            }
            for d in [lo - 2, hi + 2, lo - 1, hi + 1] {
                let mut buf = insn;
                let t = (p as i64 + d) as u64;
                let r = apply_fixup(kind, &mut buf, 0, &input(p, t, 0), false);
                if kind == CALL && d & 1 != 0 && (lo..=hi).contains(&d) {
                    continue;
                }
                assert!(matches!(r, Err(FixupError::OutOfRange { .. })), "{} displacement {d}: {r:?}", kind_name(kind));
                assert_eq!(buf, insn, "{}: a failed fixup writes nothing", kind_name(kind));
            }
            if kind != CALL {
                let mut buf = insn;
                let r = apply_fixup(kind, &mut buf, 0, &input(p, p + 3, 0), false);
                assert!(matches!(r, Err(FixupError::OutOfRange { .. })), "{}: odd", kind_name(kind));
            }
        }
    }

    #[test]
    fn hi20_lo12_pairs() {
        // (kind, P, S, A, expected value split across hi/lo)
        let auipc_a0: u32 = 0x0000_0517;
        let lui_a0: u32 = 0x0000_0537;
        let addi_a0: u32 = 0x0005_0513;
        let sd_a1: u32 = 0x00b5_3023; // sd a1, 0(a0)
        let p = 0x4000_0000_0000u64;
        for v in [0i64, 1, 0x7ff, 0x800, -0x800, -0x801, 0x1234_5678, HI20_RANGE.0, HI20_RANGE.1, -1] {
            // PC-relative: AUIPC + I and S lo12 parts, resolved form (the
            // lo part sees the same S + A - P as the hi part).
            let s = (p as i64 + v) as u64;
            let mut hi = auipc_a0.to_le_bytes();
            apply_fixup(PCREL_HI20, &mut hi, 0, &input(p, s, 0), false).unwrap();
            let mut lo = addi_a0.to_le_bytes();
            apply_fixup(PCREL_LO12_I, &mut lo, 0, &input(p + 4, s, 4), false).unwrap();
            let mut los = sd_a1.to_le_bytes();
            apply_fixup(PCREL_LO12_S, &mut los, 0, &input(p + 8, s, 8), false).unwrap();
            let h = dec_u(u32::from_le_bytes(hi));
            assert_eq!(h + dec_i(u32::from_le_bytes(lo)), v, "pcrel I {v:#x}");
            assert_eq!(h + dec_s(u32::from_le_bytes(los)), v, "pcrel S {v:#x}");
            assert_eq!(u32::from_le_bytes(los) & 0x01ff_f07f, sd_a1, "S-type registers kept");
            // Absolute: LUI + I/S.
            let abs = v as u64;
            let mut hi = lui_a0.to_le_bytes();
            apply_fixup(HI20, &mut hi, 0, &input(p, abs, 0), false).unwrap();
            let mut lo = addi_a0.to_le_bytes();
            apply_fixup(LO12_I, &mut lo, 0, &input(p, abs, 0), false).unwrap();
            let mut los = sd_a1.to_le_bytes();
            apply_fixup(LO12_S, &mut los, 0, &input(p, abs, 0), false).unwrap();
            let h = dec_u(u32::from_le_bytes(hi));
            assert_eq!(h + dec_i(u32::from_le_bytes(lo)), v, "abs I {v:#x}");
            assert_eq!(h + dec_s(u32::from_le_bytes(los)), v, "abs S {v:#x}");
        }
        for v in [HI20_RANGE.0 - 1, HI20_RANGE.1 + 1, 1 << 40] {
            let mut hi = lui_a0.to_le_bytes();
            assert!(matches!(
                apply_fixup(HI20, &mut hi, 0, &input(0, v as u64, 0), false),
                Err(FixupError::OutOfRange { .. })
            ));
            let s = (p as i64 + v) as u64;
            let mut hi = auipc_a0.to_le_bytes();
            assert!(matches!(
                apply_fixup(PCREL_HI20, &mut hi, 0, &input(p, s, 0), false),
                Err(FixupError::OutOfRange { .. })
            ));
        }
    }

    #[test]
    fn data_fixups() {
        // (kind, width, initial field, P, S, A, expected field)
        let cases: &[(EdgeKind, usize, u64, u64, u64, i64, u64)] = &[
            (POINTER64, 8, 0, 0, 0x1234_5678_9abc, 4, 0x1234_5678_9ac0),
            (POINTER32, 4, 0, 0, 0xffff_fff0, 0xf, 0xffff_ffff),
            (POINTER32, 4, 0, 0, 0, -0x8000_0000, 0x8000_0000),
            (DELTA32, 4, 0, 0x2000, 0x1000, 0, 0xffff_f000),
            (DELTA32, 4, 0, 0, 0x7fff_ffff, 0, 0x7fff_ffff),
            (ADD8, 1, 0xff, 0, 2, 0, 0x01),
            (ADD16, 2, 0x10, 0, 0xfff0, 0, 0),
            (ADD32, 4, 5, 0, 0x1000, 3, 0x1008),
            (ADD64, 8, 1, 0, u64::MAX, 0, 0),
            (SUB8, 1, 0, 0, 1, 0, 0xff),
            (SUB16, 2, 0x100, 0, 0x80, 0, 0x80),
            (SUB32, 4, 0x1000, 0, 0x800, 0x10, 0x7f0),
            (SUB64, 8, 0, 0, 1, 0, u64::MAX),
            (SET8, 1, 0xaa, 0, 0x1234, 0, 0x34),
            (SET16, 2, 0xaaaa, 0, 0x12345, 0, 0x2345),
            (SET32, 4, 0xaaaa_aaaa, 0, 0x1_2345_6789, 0, 0x2345_6789),
            (SET6, 1, 0x40, 0, 0x7f, 0, 0x7f),
            (SET6, 1, 0xc0, 0, 0x05, 0, 0xc5),
            (SUB6, 1, 0x45, 0, 0x06, 0, 0x7f),
            (SUB6, 1, 0x47, 0, 0x06, 0, 0x41),
        ];
        for &(k, w, init, p, s, a, want) in cases {
            for be in [false, true] {
                let mut buf = [0u8; 8];
                write_data(&mut buf, 0, w, be, init).unwrap();
                apply_fixup(k, &mut buf, 0, &input(p, s, a), be).unwrap_or_else(|e| panic!("{}: {e:?}", kind_name(k)));
                assert_eq!(read_data(&mut buf, 0, w, be).unwrap(), want, "{} (big endian: {be})", kind_name(k));
                assert!(buf[w..].iter().all(|&b| b == 0), "{}: wrote past its field", kind_name(k));
            }
        }
        let mut buf = [0u8; 8];
        for (k, s, a) in [(POINTER32, 0x1_0000_0000u64, 0i64), (POINTER32, 0, -0x8000_0001)] {
            assert!(matches!(apply_fixup(k, &mut buf, 0, &input(0, s, a), false), Err(FixupError::OutOfRange { .. })));
        }
        assert!(apply_fixup(DELTA32, &mut buf, 0, &input(0, 0x8000_0000, 0), false).is_err());
        assert!(apply_fixup(DELTA32, &mut buf, 0, &input(0x8000_0000, 0, 0), false).is_ok());
        assert!(apply_fixup(DELTA32, &mut buf, 0, &input(0x8000_0001, 0, 0), false).is_err());
    }

    #[test]
    fn uleb128_keeps_its_length() {
        // A padded 2-byte ULEB128 (0x80 0x00) holds up to 2^14 - 1.
        for (v, want) in [(0u64, [0x80u8, 0x00]), (0x7f, [0xff, 0x00]), (0x80, [0x80, 0x01]), (0x3fff, [0xff, 0x7f])] {
            let mut buf = [0x80u8, 0x00, 0xee];
            apply_fixup(SET_ULEB128, &mut buf, 0, &input(0, v, 0), false).unwrap();
            assert_eq!(&buf[..2], &want, "{v:#x}");
            assert_eq!(buf[2], 0xee);
        }
        let mut buf = [0x80u8, 0x00];
        assert!(matches!(
            apply_fixup(SET_ULEB128, &mut buf, 0, &input(0, 0x4000, 0), false),
            Err(FixupError::OutOfRange { .. })
        ));
        // S + A wraps modulo 2^64 (a SUB_ULEB128 folded into A).
        let mut buf = [0u8];
        apply_fixup(SET_ULEB128, &mut buf, 0, &input(0, 0x1010, -0x1000), false).unwrap();
        assert_eq!(buf, [0x10]);
        // Unterminated: outside the block.
        let mut buf = [0x80u8, 0x80];
        assert_eq!(apply_fixup(SET_ULEB128, &mut buf, 0, &input(0, 1, 0), false), Err(FixupError::OutsideBlock));
    }

    #[test]
    fn stub_bypass_in_range_only() {
        let mut pair = [0u8; 8];
        pair[..4].copy_from_slice(&AUIPC_RA.to_le_bytes());
        pair[4..].copy_from_slice(&JALR_RA.to_le_bytes());
        let decode = |b: &[u8; 8]| {
            dec_u(u32::from_le_bytes(b[..4].try_into().unwrap()))
                + dec_i(u32::from_le_bytes(b[4..].try_into().unwrap()))
        };
        let v = FixupInput { p: 0x1000_0000, s: 0x1000_8000, a: 0, got: 0, size: 0, bypass: Some(0x2000_0000) };
        let mut b = pair;
        apply_fixup(CALL_VIA_STUB, &mut b, 0, &v, false).unwrap();
        assert_eq!(decode(&b), 0x1000_0000);
        let far = FixupInput { bypass: Some(0x7f00_0000_0000), ..v };
        let mut b = pair;
        apply_fixup(CALL_VIA_STUB, &mut b, 0, &far, false).unwrap();
        assert_eq!(decode(&b), 0x8000);
        // JAL: bypass just in range, just beyond.
        let p = 0x1000_0000u64;
        let jal = w32(JAL_RA);
        for (target, want) in [(p + (1 << 20) - 2, (1 << 20) - 2), (p + (1 << 20), 0x40)] {
            let v = FixupInput { p, s: p + 0x40, a: 0, got: 0, size: 0, bypass: Some(target) };
            let mut b = jal;
            apply_fixup(JAL_VIA_STUB, &mut b, 0, &v, false).unwrap();
            assert_eq!(dec_j(u32::from_le_bytes(b[..4].try_into().unwrap())), want);
        }
        // Neither the target nor the stub in range: the stub's error.
        let v = FixupInput { p, s: p + (1 << 12), a: 0, got: 0, size: 0, bypass: Some(p + (1 << 30)) };
        let mut b = w32(BEQ);
        assert!(matches!(apply_fixup(BRANCH_VIA_STUB, &mut b, 0, &v, false), Err(FixupError::OutOfRange { .. })));
        for k in [RVC_BRANCH_VIA_STUB, RVC_JUMP_VIA_STUB] {
            let v = FixupInput { p, s: p + 0x10, a: 0, got: 0, size: 0, bypass: Some(p + 0x20) };
            let mut b = [0x01u8, 0xa0, 0, 0];
            apply_fixup(k, &mut b, 0, &v, false).unwrap();
            let h = u16::from_le_bytes([b[0], b[1]]);
            assert_eq!(if k == RVC_JUMP_VIA_STUB { dec_cj(h) } else { dec_cb(h) }, 0x20);
        }
    }

    #[test]
    fn outside_block_and_unlowered() {
        let mut buf = [0u8; 6];
        assert_eq!(apply_fixup(CALL, &mut buf, 0, &input(0, 0, 0), false), Err(FixupError::OutsideBlock));
        assert_eq!(apply_fixup(JAL, &mut buf, 4, &input(0, 0, 0), false), Err(FixupError::OutsideBlock));
        assert_eq!(apply_fixup(POINTER64, &mut buf, 0, &input(0, 0, 0), false), Err(FixupError::OutsideBlock));
        assert_eq!(apply_fixup(SET6, &mut buf, 6, &input(0, 0, 0), false), Err(FixupError::OutsideBlock));
        assert_eq!(apply_fixup(JAL, &mut buf, usize::MAX, &input(0, 0, 0), false), Err(FixupError::OutsideBlock));
        for k in [REQ_CALL, REQ_PCREL_LO12_I, REQ_GOT_HI20, ALIGN, SUB_ULEB128, EdgeKind(200)] {
            assert_eq!(apply_fixup(k, &mut buf, 0, &input(0, 0, 0), false), Err(FixupError::Unlowered), "{k:?}");
        }
        assert_eq!(apply_fixup(RELAX, &mut buf, 0, &input(0, 0, 0), false), Ok(()));
    }

    #[test]
    fn encoders_match_llvm_mc() {
        // `llvm-mc -triple=riscv64 -mattr=+c -show-encoding`:
        // beq a0, a1, .+0x7fe  -> 0x7eb50fe3 ; jal ra, .-4 -> 0xffdff0ef
        // c.beqz a0, .+0x22 -> 0xc10d ; c.j .-2 -> 0xbffd
        assert_eq!(encode_b(0x00b5_0063, 0xffe), 0x7eb5_0fe3);
        assert_eq!(encode_j(0x0000_00ef, -4), 0xffdf_f0ef);
        assert_eq!(encode_cb(0xc101, 0x22), 0xc10d);
        assert_eq!(encode_cj(0xa001, -2), 0xbffd);
    }
}
