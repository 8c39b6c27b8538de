//! Property tests of the RISC-V 64 fixups, as `fixup_props.rs` does for
//! x86-64.
//!
//! For every kind `apply_fixup` applies (`every_applied_kind_has_a_property`
//! fails when one has no property here), applying then decoding the field
//! gives back the value the kind computes, across the field's domain and at
//! both of its edges; a value outside the domain, or an odd branch or jump
//! displacement (the psABI's branch targets are 2-byte aligned), is always
//! `FixupError::OutOfRange` carrying the value; a field that does not fit
//! the block is an error; no bit outside the field changes; an error changes
//! nothing.
//!
//! The decoders are written here from "The RISC-V Instruction Set Manual,
//! Volume I" (base formats I, S, B, U, J: "Immediate Encoding Variants";
//! compressed formats CB and CJ: "Compressed Instruction Formats") and the
//! psABI's "Relocations" table (hi20/lo12 split with the +0x800 rounding,
//! ADD/SUB/SET in place, SET_ULEB128 in the field's own encoded length),
//! not from the code under test. Instructions are little-endian; data
//! fields follow the data byte order, tested both ways.

use jitlink::arch::riscv64::edges::*;
use jitlink::arch::riscv64::fixup::apply_fixup;
use jitlink::arch::{FixupError, FixupInput};
use jitlink::graph::EdgeKind;
use proptest::prelude::*;

/// What a kind computes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Formula {
    /// S + A
    Abs,
    /// S + A mod 2^64, read as a signed 64-bit register value (LUI and
    /// R_RISCV_32 check the value a register would hold).
    AbsReg,
    /// S + A - P
    Pc,
}

/// Where and how the value is held.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Field {
    /// 64-bit data, any value (mod 2^64).
    Wrap64,
    /// Data of `width` bytes holding X mod 2^(8 width), `lo <= X <= hi`.
    Data { width: usize, lo: i128, hi: i128 },
    /// B-type imm12 (13-bit even displacement).
    B,
    /// J-type imm20 (21-bit even displacement).
    J,
    /// CB-type (`C.BEQZ`/`C.BNEZ`, 9-bit even displacement).
    Cb,
    /// CJ-type (`C.J`, 12-bit even displacement).
    Cj,
    /// `AUIPC` + `JALR`: U-type hi20 and I-type lo12 adding up to X.
    Call,
    /// U-type hi20 of X (`(X + 0x800) >> 12`), checked.
    Hi20,
    /// I-type imm12 = X mod 2^12, no check.
    LoI,
    /// S-type imm12 = X mod 2^12, no check.
    LoS,
    /// Data of `width` bytes: old value + X (or - X), wrapping.
    Add { width: usize, sub: bool },
    /// Data of `width` bytes: X truncated.
    Set { width: usize },
    /// Bits 5:0 of a byte: X (or old - X), bits 7:6 kept.
    Six { sub: bool },
}

#[derive(Copy, Clone, Debug)]
struct Spec {
    kind: EdgeKind,
    formula: Formula,
    field: Field,
}

const fn spec(kind: EdgeKind, formula: Formula, field: Field) -> Spec {
    Spec { kind, formula, field }
}

use Field::*;
use Formula::*;

const SPECS: &[Spec] = &[
    spec(POINTER64, Abs, Wrap64),
    spec(POINTER32, AbsReg, Data { width: 4, lo: -(1 << 31), hi: (1 << 32) - 1 }),
    spec(DELTA32, Pc, Data { width: 4, lo: -(1 << 31), hi: (1 << 31) - 1 }),
    spec(BRANCH, Pc, B),
    spec(JAL, Pc, J),
    spec(CALL, Pc, Call),
    spec(RVC_BRANCH, Pc, Cb),
    spec(RVC_JUMP, Pc, Cj),
    // Without a bypass, the stub kinds are their plain forms (bypass below).
    spec(CALL_VIA_STUB, Pc, Call),
    spec(JAL_VIA_STUB, Pc, J),
    spec(BRANCH_VIA_STUB, Pc, B),
    spec(RVC_BRANCH_VIA_STUB, Pc, Cb),
    spec(RVC_JUMP_VIA_STUB, Pc, Cj),
    spec(PCREL_HI20, Pc, Hi20),
    spec(HI20, AbsReg, Hi20),
    // PCREL_LO12_*: S and A already rewritten to the partner HI20's value.
    spec(PCREL_LO12_I, Pc, LoI),
    spec(PCREL_LO12_S, Pc, LoS),
    spec(LO12_I, Abs, LoI),
    spec(LO12_S, Abs, LoS),
    spec(ADD8, Abs, Add { width: 1, sub: false }),
    spec(ADD16, Abs, Add { width: 2, sub: false }),
    spec(ADD32, Abs, Add { width: 4, sub: false }),
    spec(ADD64, Abs, Add { width: 8, sub: false }),
    spec(SUB8, Abs, Add { width: 1, sub: true }),
    spec(SUB16, Abs, Add { width: 2, sub: true }),
    spec(SUB32, Abs, Add { width: 4, sub: true }),
    spec(SUB64, Abs, Add { width: 8, sub: true }),
    spec(SET6, Abs, Six { sub: false }),
    spec(SUB6, Abs, Six { sub: true }),
    spec(SET8, Abs, Set { width: 1 }),
    spec(SET16, Abs, Set { width: 2 }),
    spec(SET32, Abs, Set { width: 4 }),
];

/// Kinds with a property of their own below (markers write nothing).
const SPECIAL: &[EdgeKind] = &[KEEP_ALIVE, RELAX, SET_ULEB128];

fn sext(v: u64, bits: u32) -> i128 {
    let v = i128::from(v & ((1u64 << bits) - 1));
    if v >> (bits - 1) & 1 == 1 {
        v - (1i128 << bits)
    } else {
        v
    }
}

fn w32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn w16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}

fn bit(w: u32, i: u32) -> u64 {
    u64::from((w >> i) & 1)
}

fn bits(w: u32, hi: u32, lo: u32) -> u64 {
    u64::from((w >> lo) & ((1 << (hi - lo + 1)) - 1))
}

// Decoders ("Immediate Encoding Variants", "Compressed Instruction Formats").

/// B-type: imm[12] in 31, imm[10:5] in 30:25, imm[4:1] in 11:8, imm[11] in 7.
fn dec_b(w: u32) -> i128 {
    sext(bit(w, 31) << 12 | bits(w, 30, 25) << 5 | bits(w, 11, 8) << 1 | bit(w, 7) << 11, 13)
}

/// J-type: imm[20] in 31, imm[10:1] in 30:21, imm[11] in 20, imm[19:12] in 19:12.
fn dec_j(w: u32) -> i128 {
    sext(bit(w, 31) << 20 | bits(w, 30, 21) << 1 | bit(w, 20) << 11 | bits(w, 19, 12) << 12, 21)
}

/// CB (`C.BEQZ`): offset[8|4:3] in 12:10, offset[7:6|2:1|5] in 6:2.
fn dec_cb(h: u16) -> i128 {
    let w = u32::from(h);
    sext(bit(w, 12) << 8 | bits(w, 11, 10) << 3 | bits(w, 6, 5) << 6 | bits(w, 4, 3) << 1 | bit(w, 2) << 5, 9)
}

/// CJ (`C.J`): offset[11|4|9:8|10|6|7|3:1|5] in 12:2.
fn dec_cj(h: u16) -> i128 {
    let w = u32::from(h);
    sext(
        bit(w, 12) << 11
            | bit(w, 11) << 4
            | bits(w, 10, 9) << 8
            | bit(w, 8) << 10
            | bit(w, 7) << 6
            | bit(w, 6) << 7
            | bits(w, 5, 3) << 1
            | bit(w, 2) << 5,
        12,
    )
}

/// U-type: imm[31:12] in 31:12, sign-extended to 64 bits (RV64).
fn dec_u(w: u32) -> i128 {
    sext(u64::from(w & 0xffff_f000), 32)
}

/// I-type: imm[11:0] in 31:20.
fn dec_i(w: u32) -> i128 {
    sext(bits(w, 31, 20), 12)
}

/// S-type: imm[11:5] in 31:25, imm[4:0] in 11:7.
fn dec_s(w: u32) -> i128 {
    sext(bits(w, 31, 25) << 5 | bits(w, 11, 7), 12)
}

fn data_unsigned(b: &[u8], at: usize, width: usize, be: bool) -> u64 {
    let f = &b[at..at + width];
    let fold = |acc: u64, x: &u8| (acc << 8) | u64::from(*x);
    if be {
        f.iter().fold(0, fold)
    } else {
        f.iter().rev().fold(0, fold)
    }
}

fn modulo(x: i128, width: usize) -> u64 {
    if width == 8 {
        x as u64
    } else {
        (x as u64) & ((1u64 << (8 * width)) - 1)
    }
}

/// The range of a hi20/lo12 pair: `(X + 0x800) >> 12` must fit 20 signed bits.
const HI20_DOMAIN: (i128, i128) = (-(1 << 31) - (1 << 11), (1 << 31) - (1 << 11) - 1);

impl Spec {
    fn width(self) -> usize {
        match self.field {
            Wrap64 => 8,
            Data { width, .. } | Add { width, .. } | Set { width } => width,
            B | J | Hi20 | LoI | LoS => 4,
            Cb | Cj => 2,
            Call => 8,
            Six { .. } => 1,
        }
    }

    fn is_insn(self) -> bool {
        matches!(self.field, B | J | Hi20 | LoI | LoS | Cb | Cj | Call)
    }

    /// Inclusive domain, `None` when unchecked.
    fn range(self) -> Option<(i128, i128)> {
        match self.field {
            Data { lo, hi, .. } => Some((lo, hi)),
            B => Some((-4096, 4094)),
            J => Some((-(1 << 20), (1 << 20) - 2)),
            Cb => Some((-256, 254)),
            Cj => Some((-2048, 2046)),
            Call | Hi20 => Some(HI20_DOMAIN),
            _ => None,
        }
    }

    /// Branches and jumps must be even (`JALR` clears bit 0 itself: the
    /// `AUIPC`+`JALR` pair need not be).
    fn even(self) -> bool {
        matches!(self.field, B | J | Cb | Cj)
    }

    fn in_domain(self, x: i128) -> bool {
        self.range().is_none_or(|(lo, hi)| (lo..=hi).contains(&x)) && !(self.even() && x & 1 != 0)
    }

    /// Bits of the (first) instruction the fixup may change.
    fn insn_mask(self) -> u32 {
        match self.field {
            B | LoS => 0xfe00_0f80,
            J | Hi20 | Call => 0xffff_f000,
            LoI => 0xfff0_0000,
            Cb => 0x1c7c,
            Cj => 0x1ffc,
            _ => 0,
        }
    }

    fn value(self, v: &FixupInput) -> i128 {
        let (s, a, p) = (i128::from(v.s), i128::from(v.a), i128::from(v.p));
        match self.formula {
            Abs => s + a,
            AbsReg => i128::from(v.s.wrapping_add(v.a as u64) as i64),
            Pc => s + a - p,
        }
    }

    fn input_for(self, x: i128, base: u64, other: u64) -> FixupInput {
        let a = match self.formula {
            Abs | AbsReg => x - i128::from(base),
            Pc => x - i128::from(base) + i128::from(other),
        };
        let a = i64::try_from(a).expect("addend fits");
        FixupInput { p: other, s: base, a, got: 0, size: 0, bypass: None }
    }

    /// Checks that the field of `after` (made from `before`) holds `x`.
    fn decode_check(self, before: &[u8], after: &[u8], at: usize, x: i128, be: bool) -> Result<(), TestCaseError> {
        match self.field {
            Wrap64 => prop_assert_eq!(data_unsigned(after, at, 8, be), x as u64, "{:?}", self),
            Data { width, .. } | Set { width } => {
                prop_assert_eq!(data_unsigned(after, at, width, be), modulo(x, width), "{:?}", self)
            }
            Add { width, sub } => {
                let old = i128::from(data_unsigned(before, at, width, be));
                let want = if sub { old - x } else { old + x };
                prop_assert_eq!(data_unsigned(after, at, width, be), modulo(want, width), "{:?}", self);
            }
            Six { sub } => {
                let old = before[at];
                let low = if sub { i128::from(old) - x } else { x };
                prop_assert_eq!(after[at] & 0x3f, (low as u64 & 0x3f) as u8, "{:?}: bits 5:0", self);
                prop_assert_eq!(after[at] & 0xc0, old & 0xc0, "{:?}: bits 7:6 kept", self);
            }
            B => prop_assert_eq!(dec_b(w32(after, at)), x, "{:?}", self),
            J => prop_assert_eq!(dec_j(w32(after, at)), x, "{:?}", self),
            Cb => prop_assert_eq!(dec_cb(w16(after, at)), x, "{:?}", self),
            Cj => prop_assert_eq!(dec_cj(w16(after, at)), x, "{:?}", self),
            Call => {
                let (auipc, jalr) = (w32(after, at), w32(after, at + 4));
                prop_assert_eq!(dec_u(auipc) + dec_i(jalr), x, "{:?}: AUIPC + JALR", self);
                prop_assert_eq!((jalr ^ w32(before, at + 4)) & !0xfff0_0000, 0, "{:?}: JALR bits kept", self);
            }
            Hi20 => {
                // hi20 + the sign-extended lo12 of X gives X back.
                prop_assert_eq!(dec_u(w32(after, at)) + sext(x as u64, 12), x, "{:?}", self);
            }
            LoI => prop_assert_eq!(dec_i(w32(after, at)), sext(x as u64, 12), "{:?}", self),
            LoS => prop_assert_eq!(dec_s(w32(after, at)), sext(x as u64, 12), "{:?}", self),
        }
        Ok(())
    }
}

/// Applies `spec` to a copy of `block` and checks every property.
fn check(spec: Spec, block: &[u8], offset: usize, v: &FixupInput, be: bool) -> Result<(), TestCaseError> {
    let x = spec.value(v);
    let mut work = block.to_vec();
    let r = apply_fixup(spec.kind, &mut work, offset, v, be);
    let width = spec.width();
    let fits_block = offset.checked_add(width).is_some_and(|e| e <= block.len());
    let in_domain = spec.in_domain(x);
    match r {
        Ok(()) => {
            prop_assert!(fits_block, "{:?}: Ok for a field outside the block", spec);
            prop_assert!(in_domain, "{:?}: Ok for value {:#x} outside the domain", spec, x);
            spec.decode_check(block, &work, offset, x, be)?;
            for (i, (a, b)) in work.iter().zip(block).enumerate() {
                prop_assert!(a == b || (offset..offset + width).contains(&i), "{:?}: wrote byte {}", spec, i);
            }
            if spec.is_insn() {
                let (old, new) = if width == 2 {
                    (u32::from(w16(block, offset)), u32::from(w16(&work, offset)))
                } else {
                    (w32(block, offset), w32(&work, offset))
                };
                prop_assert_eq!((old ^ new) & !spec.insn_mask(), 0, "{:?}: changed bits outside the field", spec);
            }
        }
        Err(FixupError::OutOfRange { value, .. }) => {
            prop_assert!(!in_domain, "{:?}: OutOfRange for value {:#x} in the domain", spec, x);
            prop_assert_eq!(value, x, "{:?}: the error carries the value", spec);
            prop_assert_eq!(&work[..], block, "an error changed the block");
        }
        Err(FixupError::OutsideBlock) => {
            prop_assert!(!fits_block, "{:?}: OutsideBlock for a field inside the block", spec);
            prop_assert_eq!(&work[..], block, "an error changed the block");
        }
        Err(e) => prop_assert!(false, "{:?}: unexpected {:?}", spec, e),
    }
    Ok(())
}

/// Values at and around the edges of a domain (inclusive), anywhere in
/// it, and odd ones.
fn edge_values(spec: Spec) -> BoxedStrategy<i128> {
    let values = match spec.range() {
        None => prop_oneof![
            Just(0i128),
            Just(-1i128),
            Just(i128::from(i64::MIN) / 2),
            Just(i128::from(i64::MAX) / 2),
            any::<i64>().prop_map(|x| i128::from(x >> 2)),
            (-(1i128 << 40)..(1i128 << 40)),
        ]
        .boxed(),
        Some((lo, hi)) => prop_oneof![
            Just(lo),
            Just(hi),
            Just(lo - 1),
            Just(hi + 1),
            Just(lo - 2),
            Just(hi + 2),
            Just(lo + 2),
            Just(hi - 2),
            (lo..=hi),
            (lo - (1 << 20)..lo),
            (hi + 1..hi + (1 << 20)),
        ]
        .boxed(),
    };
    (values, any::<bool>()).prop_map(move |(x, even)| if spec.even() && even { x & !1 } else { x }).boxed()
}

fn all_specs() -> impl Strategy<Value = Spec> {
    (0..SPECS.len()).prop_map(|i| SPECS[i])
}

fn spec_of(kind: EdgeKind) -> Spec {
    *SPECS.iter().find(|s| s.kind == kind).expect("a spec")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// At and around each domain's edges, values solved for exactly.
    #[test]
    fn round_trip_at_edges(
        (spec, x) in all_specs().prop_flat_map(|s| (Just(s), edge_values(s))),
        base in 0u64..(1 << 40),
        other in 0u64..(1 << 40),
        bytes in proptest::collection::vec(any::<u8>(), 24),
        offset in 0usize..8,
        be in any::<bool>(),
    ) {
        let v = spec.input_for(x, base, other);
        prop_assert_eq!(spec.value(&v), x);
        check(spec, &bytes[..offset + spec.width() + 4], offset, &v, be)?;
    }

    /// Any S, A and P, any block and offset (fields straddling the end
    /// included).
    #[test]
    fn any_input(
        spec in all_specs(),
        s in any::<u64>(),
        a in any::<i64>(),
        p in any::<u64>(),
        block in proptest::collection::vec(any::<u8>(), 0..24),
        offset in 0usize..32,
        be in any::<bool>(),
    ) {
        let v = FixupInput { p, s, a, got: 0, size: 0, bypass: None };
        check(spec, &block, offset, &v, be)?;
    }

    /// Near S, A and P (values in range most of the time for the wide
    /// fields, near the edges for the short ones).
    #[test]
    fn near_input(
        spec in all_specs(),
        s in 0u64..(1 << 33),
        a in -(1i64 << 32)..(1i64 << 32),
        p in 0u64..(1 << 33),
        small in -5000i64..5000,
        short in any::<bool>(),
        bytes in proptest::collection::vec(any::<u8>(), 16),
        be in any::<bool>(),
    ) {
        let (s, a) = if short { (p, small) } else { (s, a) };
        let v = FixupInput { p, s, a, got: 0, size: 0, bypass: None };
        check(spec, &bytes, 4, &v, be)?;
    }

    /// A stub kind goes straight to the stub's final target (`bypass + A -
    /// P`) when that is in range, else to the stub (`S + A - P`), else it
    /// is out of range.
    #[test]
    fn bypass(
        which in 0usize..5,
        s in -5000i64..5000,
        b in -5000i64..5000,
        far in any::<bool>(),
        p in 0u64..(1 << 34),
        a in -8i64..8,
        bytes in proptest::collection::vec(any::<u8>(), 8),
    ) {
        let kind = [CALL_VIA_STUB, JAL_VIA_STUB, BRANCH_VIA_STUB, RVC_BRANCH_VIA_STUB, RVC_JUMP_VIA_STUB][which];
        let spec = spec_of(kind);
        let scale = if far { 1 << 20 } else { 1 };
        let s = (p as i64 + s * scale).max(0) as u64;
        let b = (p as i64 + b * scale).max(0) as u64;
        let v = FixupInput { p, s, a, got: 0, size: 0, bypass: Some(b) };
        let mut work = bytes.clone();
        let r = apply_fixup(kind, &mut work, 0, &v, false);
        let direct = i128::from(b) + i128::from(a) - i128::from(p);
        let via = i128::from(s) + i128::from(a) - i128::from(p);
        let want = if spec.in_domain(direct) { Some(direct) } else if spec.in_domain(via) { Some(via) } else { None };
        match want {
            Some(x) => {
                prop_assert_eq!(r, Ok(()));
                spec.decode_check(&bytes, &work, 0, x, false)?;
                prop_assert_eq!(&work[spec.width()..], &bytes[spec.width()..]);
            }
            None => {
                prop_assert!(matches!(r, Err(FixupError::OutOfRange { value, .. }) if value == via), "{:?}", r);
                prop_assert_eq!(work, bytes);
            }
        }
    }

    /// R_RISCV_SET_ULEB128: S + A (mod 2^64) re-encoded in exactly the
    /// length of the ULEB128 already in the field (continuation bits on
    /// all but its last byte); a value that needs more bytes is out of
    /// range; a field with no final byte within 10 bytes, or past the
    /// block, is an error.
    #[test]
    fn set_uleb128(
        len in 1usize..=10,
        old in any::<u64>(),
        x in prop_oneof![any::<u64>(), (0u32..64).prop_map(|b| 1u64 << b), (0u32..64).prop_map(|b| (1u64 << b) - 1)],
        s in any::<u64>(),
        after in proptest::collection::vec(any::<u8>(), 0..4),
        offset in 0usize..4,
        cut in any::<bool>(),
    ) {
        // An existing encoding of `len` bytes (padded with 0x80s).
        let mut block = vec![0x33u8; offset];
        for i in 0..len {
            let more = if i + 1 < len { 0x80 } else { 0 };
            block.push(((old >> (7 * i).min(63)) & 0x7f) as u8 | more);
        }
        if cut {
            block.truncate(offset + len - 1);
        }
        block.extend(&after);
        let a = x.wrapping_sub(s) as i64;
        let v = FixupInput { p: 0, s, a, got: 0, size: 0, bypass: None };
        let mut work = block.clone();
        let r = apply_fixup(SET_ULEB128, &mut work, offset, &v, false);
        if cut {
            // The terminating byte is missing: it may be found in the bytes
            // that follow, else the field is outside the block.
            let term = block[offset..].iter().take(10).position(|b| b & 0x80 == 0);
            if term.is_none() {
                prop_assert_eq!(r, Err(FixupError::OutsideBlock));
                prop_assert_eq!(work, block);
            }
            return Ok(());
        }
        if len < 10 && x >> (7 * len) != 0 {
            prop_assert_eq!(r, Err(FixupError::OutOfRange { value: i128::from(x), range: "the ULEB128 field's encoded length" }));
            prop_assert_eq!(work, block);
            return Ok(());
        }
        prop_assert_eq!(r, Ok(()));
        let field = &work[offset..offset + len];
        let mut got = 0u128;
        for (i, b) in field.iter().enumerate() {
            prop_assert_eq!(b & 0x80 != 0, i + 1 < len, "continuation bit of byte {}", i);
            got |= u128::from(b & 0x7f) << (7 * i);
        }
        prop_assert_eq!(got, u128::from(x));
        prop_assert_eq!(&work[..offset], &block[..offset]);
        prop_assert_eq!(&work[offset + len..], &block[offset + len..]);
    }

    /// Kinds that are requests, markers consumed earlier (ALIGN,
    /// SUB_ULEB128) or unknown are refused, never applied.
    #[test]
    fn unlowered_kinds(
        kind in proptest::sample::select(uncovered_kinds()),
        block in proptest::collection::vec(any::<u8>(), 0..24),
        offset in 0usize..24,
    ) {
        let v = FixupInput { p: 0x1000, s: 0x2000, a: 0, got: 0, size: 0, bypass: None };
        let mut work = block.clone();
        prop_assert_eq!(apply_fixup(EdgeKind(kind), &mut work, offset, &v, false), Err(FixupError::Unlowered));
        prop_assert_eq!(work, block);
    }

    /// KEEP_ALIVE and RELAX write nothing, whatever the input.
    #[test]
    fn markers_write_nothing(
        relax in any::<bool>(),
        block in proptest::collection::vec(any::<u8>(), 0..16),
        offset in any::<usize>(),
        s in any::<u64>(),
        a in any::<i64>(),
        p in any::<u64>(),
    ) {
        let kind = if relax { RELAX } else { KEEP_ALIVE };
        let v = FixupInput { p, s, a, got: 0, size: 0, bypass: Some(s) };
        let mut work = block.clone();
        prop_assert_eq!(apply_fixup(kind, &mut work, offset, &v, false), Ok(()));
        prop_assert_eq!(work, block);
    }
}

/// Kinds with a property above.
fn covered_kinds() -> Vec<u8> {
    SPECS.iter().map(|s| s.kind.0).chain(SPECIAL.iter().map(|k| k.0)).collect()
}

fn uncovered_kinds() -> Vec<u8> {
    let covered = covered_kinds();
    (0..=255u8).filter(|k| !covered.contains(k)).collect()
}

#[test]
fn every_applied_kind_has_a_property() {
    // A kind `apply_fixup` does anything with but refuse as unlowered must
    // have a property here.
    let inputs = [
        FixupInput { p: 0, s: 0, a: 0, got: 0, size: 0, bypass: None },
        FixupInput { p: 0x1000, s: 0x1010, a: 8, got: 0x3000, size: 8, bypass: Some(0x1020) },
    ];
    for k in 0..=255u8 {
        for v in &inputs {
            for fill in [0u8, 0x7f, 0xff] {
                let r = apply_fixup(EdgeKind(k), &mut [fill; 32], 8, v, false);
                if r != Err(FixupError::Unlowered) {
                    assert!(
                        covered_kinds().contains(&k),
                        "kind {k} ({}) is applied but has no property",
                        kind_name(EdgeKind(k))
                    );
                }
            }
        }
    }
    let mut kinds = covered_kinds();
    kinds.sort_unstable();
    let n = kinds.len();
    kinds.dedup();
    assert_eq!(kinds.len(), n, "a kind has two specs");
}

/// Every spec at both edges of its domain, one step inside and outside
/// each (odd values for the even fields), both data byte orders,
/// deterministically (the properties above sample).
#[test]
fn every_edge_of_every_spec() {
    for &spec in SPECS {
        let xs: Vec<i128> = match spec.range() {
            Some((lo, hi)) => vec![lo, hi, lo - 1, hi + 1, lo + 1, hi - 1, lo - 2, hi + 2, lo + 2, hi - 2, 0],
            None => vec![0, 1, -1, 0x7ff, 0x800, -0x800, -0x801, 1 << 40, -(1 << 40), 1 << 62, -(1 << 62)],
        };
        for x in xs {
            for be in [false, true] {
                for (base, other) in [(0x1000, 0x2000_0000), (0xff_ffff_f000, 0x10), (0x4_0000_0000, 0x4_0000_0000)] {
                    let v = spec.input_for(x, base, other);
                    if let Err(e) = check(spec, &[0x3cu8; 16], 4, &v, be) {
                        panic!("{} at X = {x:#x} (be {be}): {e}", kind_name(spec.kind));
                    }
                }
            }
        }
    }
}
