//! Property tests of the AArch64 fixups, as `fixup_props.rs` does for
//! x86-64.
//!
//! For every kind `apply_fixup` applies (`every_applied_kind_has_a_property`
//! fails when one has no property here), applying then decoding the field
//! gives back the value the kind computes, across the field's domain and at
//! both of its edges; a value outside the domain, or not aligned as the
//! field requires (branch and literal offsets: 4 bytes; `LDSTn` page
//! offsets and GOT offsets: the access size), is always
//! `FixupError::OutOfRange` carrying the value; a field that does not fit
//! the block is an error; no bit outside the field changes; an error changes
//! nothing.
//!
//! The decoders are written here from the A64 encodings of the Arm ARM (DDI
//! 0487, C4.1 "A64 instruction set encoding": `B`/`BL` imm26 in bits 25:0,
//! `B.cond`/`CBZ`/`LDR (literal)` imm19 in bits 23:5, `TBZ` imm14 in bits
//! 18:5, `ADR`/`ADRP` immlo in bits 30:29 and immhi in bits 23:5, `ADD
//! (immediate)` and load/store (unsigned immediate) imm12 in bits 21:10,
//! `MOVZ`/`MOVN`/`MOVK` opc in bits 30:29 and imm16 in bits 20:5) and the
//! formulas and checks of AAELF64 §5.7, not from the code under test.
//! Instruction words are little-endian; data fields follow the data byte
//! order, tested both ways.

use jitlink::arch::aarch64::edges::*;
use jitlink::arch::aarch64::fixup::apply_fixup;
use jitlink::arch::{FixupError, FixupInput};
use jitlink::graph::EdgeKind;
use proptest::prelude::*;

/// What a kind computes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Formula {
    /// S + A
    Abs,
    /// S + A - P
    Pc,
    /// S + A - GOT
    Got,
    /// Page(S + A) - Page(P)
    Page,
    /// S + A - Page(GOT)
    GotPage,
    /// A alone (a section number the builder put in the addend)
    Addend,
}

/// How a wide move holds its group of the value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Mov {
    /// The opcode is kept; imm16 = the group's bits.
    Unsigned,
    /// `MOVZ` of the group's bits for X >= 0, `MOVN` of those of `!X` else.
    Signed,
    /// `MOVK`: the group's bits, opcode kept.
    Keep,
}

/// Where and how the value is held.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Field {
    /// A data field of `width` bytes, `lo <= X < hi`, holding X mod 2^(8 width).
    Data { width: usize, lo: i128, hi: i128 },
    /// A 64-bit data field, any value (mod 2^64).
    Wrap64,
    /// An immediate branch or literal offset: `bits` bits at `lsb` holding
    /// X / 4; X word-aligned, `-2^(bits+1) <= X < 2^(bits+1)`.
    Branch { bits: u32, lsb: u32 },
    /// `ADR` immhi:immlo = X, `-2^20 <= X < 2^20`.
    Adr,
    /// `ADRP` immhi:immlo = X / 4096 (X a page difference), checked
    /// `-2^32 <= X < 2^32` or not.
    Adrp { checked: bool },
    /// imm12 = `(X & 0xfff) >> shift`, X a multiple of 2^shift, no range.
    Lo12 { shift: u32 },
    /// imm12 = `X >> shift`, `lo <= X < hi`, X a multiple of 2^align.
    Imm12 { shift: u32, align: u32, lo: i128, hi: i128 },
    /// imm16 = group `group` (bits 16g+15..16g) of X; checked kinds:
    /// `0 <= X < 2^(16(g+1))` (unsigned) or `-2^(16(g+1)) <= X <
    /// 2^(16(g+1))` (signed).
    Movw { group: u32, how: Mov, checked: bool },
}

#[derive(Copy, Clone, Debug)]
struct Spec {
    kind: EdgeKind,
    formula: Formula,
    field: Field,
}

const fn data(width: usize, lo: i128, hi: i128) -> Field {
    Field::Data { width, lo, hi }
}
const fn movw(group: u32, how: Mov, checked: bool) -> Field {
    Field::Movw { group, how, checked }
}
const fn imm12(shift: u32, align: u32, lo: i128, hi: i128) -> Field {
    Field::Imm12 { shift, align, lo, hi }
}
const fn spec(kind: EdgeKind, formula: Formula, field: Field) -> Spec {
    Spec { kind, formula, field }
}

const S32: (i128, i128) = (-(1 << 31), 1 << 31);

use Formula::*;
use Mov::*;

const SPECS: &[Spec] = &[
    // Data (AAELF64 §5.7.5 "Static Data relocations").
    spec(POINTER64, Abs, Field::Wrap64),
    spec(POINTER32, Abs, data(4, -(1 << 31), 1 << 32)),
    spec(POINTER16, Abs, data(2, -(1 << 15), 1 << 16)),
    spec(DELTA64, Pc, Field::Wrap64),
    spec(DELTA32, Pc, data(4, -(1 << 31), 1 << 32)),
    spec(DELTA16, Pc, data(2, -(1 << 15), 1 << 16)),
    spec(DELTA32_SIGNED, Pc, data(4, S32.0, S32.1)),
    // Without a bypass, PLT32 is S + A - P (bypass below).
    spec(PLT32, Pc, data(4, S32.0, S32.1)),
    spec(DELTA64_FROM_GOT, Got, Field::Wrap64),
    spec(DELTA32_FROM_GOT, Got, data(4, S32.0, S32.1)),
    // Branches and PC-relative instruction fields (§5.7.6, §5.7.8).
    spec(BRANCH26, Pc, Field::Branch { bits: 26, lsb: 0 }),
    spec(BRANCH19, Pc, Field::Branch { bits: 19, lsb: 5 }),
    spec(BRANCH14, Pc, Field::Branch { bits: 14, lsb: 5 }),
    spec(LDR_LITERAL19, Pc, Field::Branch { bits: 19, lsb: 5 }),
    spec(ADR21, Pc, Field::Adr),
    spec(PAGE21, Page, Field::Adrp { checked: true }),
    spec(PAGE21_NC, Page, Field::Adrp { checked: false }),
    // Page offsets (§5.7.6: "Set the LD/ST immediate value to bits [11:n]").
    spec(ADD_LO12, Abs, Field::Lo12 { shift: 0 }),
    spec(LDST8_LO12, Abs, Field::Lo12 { shift: 0 }),
    spec(LDST16_LO12, Abs, Field::Lo12 { shift: 1 }),
    spec(LDST32_LO12, Abs, Field::Lo12 { shift: 2 }),
    spec(LDST64_LO12, Abs, Field::Lo12 { shift: 3 }),
    spec(LDST128_LO12, Abs, Field::Lo12 { shift: 4 }),
    // Wide moves (§5.7.7 "Group relocations").
    spec(MOVW_UABS_G0, Abs, movw(0, Unsigned, true)),
    spec(MOVW_UABS_G0_NC, Abs, movw(0, Keep, false)),
    spec(MOVW_UABS_G1, Abs, movw(1, Unsigned, true)),
    spec(MOVW_UABS_G1_NC, Abs, movw(1, Keep, false)),
    spec(MOVW_UABS_G2, Abs, movw(2, Unsigned, true)),
    spec(MOVW_UABS_G2_NC, Abs, movw(2, Keep, false)),
    spec(MOVW_UABS_G3, Abs, movw(3, Unsigned, false)),
    spec(MOVW_SABS_G0, Abs, movw(0, Signed, true)),
    spec(MOVW_SABS_G1, Abs, movw(1, Signed, true)),
    spec(MOVW_SABS_G2, Abs, movw(2, Signed, true)),
    spec(MOVW_PREL_G0, Pc, movw(0, Signed, true)),
    spec(MOVW_PREL_G0_NC, Pc, movw(0, Keep, false)),
    spec(MOVW_PREL_G1, Pc, movw(1, Signed, true)),
    spec(MOVW_PREL_G1_NC, Pc, movw(1, Keep, false)),
    spec(MOVW_PREL_G2, Pc, movw(2, Signed, true)),
    spec(MOVW_PREL_G2_NC, Pc, movw(2, Keep, false)),
    spec(MOVW_PREL_G3, Pc, movw(3, Signed, false)),
    spec(MOVW_GOTREL_G0, Got, movw(0, Signed, true)),
    spec(MOVW_GOTREL_G0_NC, Got, movw(0, Keep, false)),
    spec(MOVW_GOTREL_G1, Got, movw(1, Signed, true)),
    spec(MOVW_GOTREL_G1_NC, Got, movw(1, Keep, false)),
    spec(MOVW_GOTREL_G2, Got, movw(2, Signed, true)),
    spec(MOVW_GOTREL_G2_NC, Got, movw(2, Keep, false)),
    spec(MOVW_GOTREL_G3, Got, movw(3, Signed, false)),
    // GOT-relative 15-bit offsets, 8-byte entries (§5.7.10).
    spec(GOT_PAGE_LO15, GotPage, imm12(3, 3, 0, 1 << 15)),
    spec(GOT_OFFSET_LO15, Got, imm12(3, 3, 0, 1 << 15)),
    // Container kinds (Mach-O pairs, COFF): B is folded into A before
    // fixup, so S + A.
    spec(DELTA64_PAIR, Abs, Field::Wrap64),
    spec(DELTA32_PAIR, Abs, data(4, S32.0, S32.1)),
    spec(IMAGE_REL32, Abs, data(4, 0, 1 << 32)),
    spec(SECREL32, Abs, data(4, 0, 1 << 32)),
    spec(SECTION_INDEX16, Addend, data(2, 0, 1 << 16)),
    spec(SECREL_ADD_LO12, Abs, Field::Lo12 { shift: 0 }),
    spec(SECREL_ADD_HI12, Abs, imm12(12, 0, 0, 1 << 24)),
    // TLS (§5.7.11, DTPREL offsets already relative to the template).
    spec(TLS_ADD_HI12, Abs, imm12(12, 0, 0, 1 << 24)),
    spec(TLS_ADD_LO12, Abs, imm12(0, 0, 0, 1 << 12)),
    spec(TLS_LDST8_LO12, Abs, imm12(0, 0, 0, 1 << 12)),
    spec(TLS_LDST16_LO12, Abs, imm12(1, 1, 0, 1 << 12)),
    spec(TLS_LDST32_LO12, Abs, imm12(2, 2, 0, 1 << 12)),
    spec(TLS_LDST64_LO12, Abs, imm12(3, 3, 0, 1 << 12)),
    spec(TLS_LDST128_LO12, Abs, imm12(4, 4, 0, 1 << 12)),
];

/// Kinds with a property of their own below.
const SPECIAL: &[EdgeKind] = &[KEEP_ALIVE, GOT_LOAD_RELAXED_LO12, PLT_STUB, VENEER, SECREL_LDST_LO12];

fn page(x: i128) -> i128 {
    x & !0xfff
}

fn sext(v: u64, bits: u32) -> i128 {
    let v = i128::from(v & ((1u64 << bits) - 1));
    if v >> (bits - 1) & 1 == 1 {
        v - (1i128 << bits)
    } else {
        v
    }
}

/// X mod 2^64.
fn low64(x: i128) -> u64 {
    x as u64
}

fn insn(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
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

// Decoders (Arm ARM field layouts).

/// `ADR`/`ADRP` immhi:immlo, sign-extended (21 bits).
fn dec_adr(w: u32) -> i128 {
    let immlo = u64::from((w >> 29) & 3);
    let immhi = u64::from((w >> 5) & 0x7ffff);
    sext(immhi << 2 | immlo, 21)
}

/// imm12 of `ADD (immediate)` and load/store (unsigned immediate).
fn dec_imm12(w: u32) -> u64 {
    u64::from((w >> 10) & 0xfff)
}

/// The register value a `MOVZ` (opc 10) or `MOVN` (opc 00) leaves, or
/// `None` for another opc.
fn dec_movzn(w: u32, group: u32) -> Option<i64> {
    let imm = u64::from((w >> 5) & 0xffff) << (16 * group);
    match (w >> 29) & 3 {
        0b10 => Some(imm as i64),
        0b00 => Some(!imm as i64),
        _ => None,
    }
}

impl Spec {
    /// Bytes the field occupies.
    fn width(self) -> usize {
        match self.field {
            Field::Data { width, .. } => width,
            Field::Wrap64 => 8,
            _ => 4,
        }
    }

    /// The half-open domain, `None` for unchecked fields.
    fn range(self) -> Option<(i128, i128)> {
        match self.field {
            Field::Data { lo, hi, .. } | Field::Imm12 { lo, hi, .. } => Some((lo, hi)),
            Field::Wrap64 | Field::Lo12 { .. } => None,
            Field::Branch { bits, .. } => Some((-(1i128 << (bits + 1)), 1i128 << (bits + 1))),
            Field::Adr => Some((-(1 << 20), 1 << 20)),
            Field::Adrp { checked } => checked.then_some((-(1i128 << 32), 1i128 << 32)),
            Field::Movw { group, how, checked } => {
                let lim = 1i128 << (16 * (group + 1));
                match (checked, how) {
                    (false, _) => None,
                    (true, Signed) => Some((-lim, lim)),
                    (true, _) => Some((0, lim)),
                }
            }
        }
    }

    /// log2 of the alignment the value must have.
    fn align(self) -> u32 {
        match self.field {
            Field::Branch { .. } => 2,
            Field::Lo12 { shift } => shift,
            Field::Imm12 { align, .. } => align,
            _ => 0,
        }
    }

    fn in_domain(self, x: i128) -> bool {
        self.range().is_none_or(|(lo, hi)| (lo..hi).contains(&x)) && x & ((1 << self.align()) - 1) == 0
    }

    /// Bits of the instruction word the fixup may change.
    fn insn_mask(self) -> u32 {
        match self.field {
            Field::Branch { bits, lsb } => ((1u32 << bits) - 1) << lsb,
            Field::Adr | Field::Adrp { .. } => 3 << 29 | 0x7ffff << 5,
            Field::Lo12 { .. } | Field::Imm12 { .. } => 0xfff << 10,
            Field::Movw { how: Signed, .. } => 0xffff << 5 | 1 << 30,
            Field::Movw { .. } => 0xffff << 5,
            Field::Data { .. } | Field::Wrap64 => 0,
        }
    }

    /// Instruction bits a round trip fixes (the rest is random): a signed
    /// wide move must start as `MOVZ` or `MOVN` (opc bit 29 clear).
    fn fixed(self) -> (u32, u32) {
        match self.field {
            Field::Movw { how: Signed, .. } => (1 << 29, 0),
            _ => (0, 0),
        }
    }

    fn value(self, v: &FixupInput) -> i128 {
        let (s, a, p, got) = (i128::from(v.s), i128::from(v.a), i128::from(v.p), i128::from(v.got));
        match self.formula {
            Abs => s + a,
            Pc => s + a - p,
            Got => s + a - got,
            Page => page(s + a) - page(p),
            GotPage => s + a - page(got),
            Addend => a,
        }
    }

    /// Inputs whose value is `x` (a page multiple for `Page`): S from
    /// `base`, P and GOT from `other`, A solved (`low` is the offset of
    /// S + A in its page for `Page`).
    fn input_for(self, x: i128, base: u64, other: u64, low: u64) -> FixupInput {
        let (s, p, got) = (i128::from(base), i128::from(other), i128::from(other));
        let a = match self.formula {
            Abs => x - s,
            Pc => x - s + p,
            Got => x - s + got,
            Page => x + page(p) + i128::from(low) - s,
            GotPage => x - s + page(got),
            Addend => x,
        };
        let a = i64::try_from(a).expect("addend fits");
        FixupInput { p: other, s: base, a, got: other, size: 0, bypass: None }
    }

    /// Checks that the field of `after` holds `x`.
    fn decode_check(self, after: &[u8], offset: usize, x: i128, be: bool) -> Result<(), TestCaseError> {
        match self.field {
            Field::Data { width, .. } => {
                let raw = data_unsigned(after, offset, width, be);
                let m = (1u128 << (8 * width)) - 1;
                prop_assert_eq!(u128::from(raw), (x as u128) & m, "{:?}: data field", self);
            }
            Field::Wrap64 => prop_assert_eq!(data_unsigned(after, offset, 8, be), low64(x), "{:?}", self),
            Field::Branch { bits, lsb } => {
                let w = insn(after, offset);
                let imm = sext(u64::from(w >> lsb), bits);
                prop_assert_eq!(imm * 4, x, "{:?}: branch offset", self);
            }
            Field::Adr => prop_assert_eq!(dec_adr(insn(after, offset)), x, "{:?}", self),
            Field::Adrp { checked } => {
                let imm = dec_adr(insn(after, offset));
                if checked {
                    prop_assert_eq!(imm << 12, x, "{:?}: pages", self);
                } else {
                    prop_assert_eq!(imm, sext(low64(x >> 12), 21), "{:?}: pages mod 2^21", self);
                }
            }
            Field::Lo12 { shift } => {
                prop_assert_eq!(dec_imm12(insn(after, offset)), (low64(x) & 0xfff) >> shift, "{:?}", self)
            }
            Field::Imm12 { shift, .. } => {
                let imm = i128::from(dec_imm12(insn(after, offset)));
                prop_assert_eq!(imm, x >> shift, "{:?}: imm12 = X >> {}", self, shift);
            }
            Field::Movw { group, how, .. } => {
                let w = insn(after, offset);
                let x64 = low64(x) as i64;
                match how {
                    Unsigned | Keep => {
                        prop_assert_eq!(u64::from((w >> 5) & 0xffff), (low64(x) >> (16 * group)) & 0xffff, "{:?}", self)
                    }
                    Signed => {
                        let Some(reg) = dec_movzn(w, group) else {
                            return Err(TestCaseError::fail(format!("{self:?}: not MOVZ/MOVN: {w:#010x}")));
                        };
                        prop_assert_eq!((w >> 29) & 3, if x64 < 0 { 0b00 } else { 0b10 }, "{:?}: MOVN iff X < 0", self);
                        let sh = 16 * group;
                        prop_assert_eq!(reg >> sh, x64 >> sh, "{:?}: register value down to bit {}", self, sh);
                        if group == 0 {
                            prop_assert_eq!(i128::from(reg), x, "{:?}: G0 materialises X", self);
                        }
                    }
                }
            }
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
            spec.decode_check(&work, offset, x, be)?;
            for (i, (a, b)) in work.iter().zip(block).enumerate() {
                prop_assert!(a == b || (offset..offset + width).contains(&i), "{:?}: wrote byte {}", spec, i);
            }
            if width == 4 && !matches!(spec.field, Field::Data { .. }) {
                let changed = insn(&work, offset) ^ insn(block, offset);
                prop_assert_eq!(changed & !spec.insn_mask(), 0, "{:?}: changed bits outside the field", spec);
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

/// Values at and around the edges of a spec's domain, anywhere in it, and
/// misaligned ones.
fn edge_values(spec: Spec) -> BoxedStrategy<i128> {
    let al = 1i128 << spec.align();
    let anywhere = prop_oneof![
        Just(0i128),
        Just(-1i128),
        Just(i128::from(i64::MIN) / 2),
        Just(i128::from(i64::MAX) / 2),
        any::<i64>().prop_map(|x| i128::from(x >> 2)),
        (-(1i128 << 40)..(1i128 << 40)),
    ];
    let values = match spec.range() {
        None => anywhere.boxed(),
        Some((lo, hi)) => prop_oneof![
            Just(lo),
            Just(hi - al),
            Just(lo - al),
            Just(hi),
            Just(lo + al),
            Just(hi - 2 * al),
            (lo / al..hi / al).prop_map(move |q| q * al),
            (lo - (1 << 20)..lo),
            (hi..hi + (1 << 20)),
        ]
        .boxed(),
    };
    // Misaligned by 1 .. al - 1, half of the time when there is an alignment.
    (values, 0..al, any::<bool>())
        .prop_map(move |(x, d, mis)| if al > 1 && mis { x + d.max(1) } else { x })
        .prop_map(move |x| if spec.formula == Page { page(x) } else { x })
        .boxed()
}

fn spec_of(kind: EdgeKind) -> Spec {
    *SPECS.iter().find(|s| s.kind == kind).expect("a spec")
}

fn all_specs() -> impl Strategy<Value = Spec> {
    (0..SPECS.len()).prop_map(|i| SPECS[i])
}

/// A block of random bytes holding the field at `offset`, with the
/// instruction bits the spec fixes.
fn block_for(spec: Spec, bytes: &[u8], offset: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b.resize(offset + spec.width() + 4, 0xa5);
    if spec.width() == 4 {
        let (mask, val) = spec.fixed();
        let w = (insn(&b, offset) & !mask) | val;
        b[offset..offset + 4].copy_from_slice(&w.to_le_bytes());
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// At and around each domain's edges, values solved for exactly.
    #[test]
    fn round_trip_at_edges(
        (spec, x) in all_specs().prop_flat_map(|s| (Just(s), edge_values(s))),
        base in 0u64..(1 << 40),
        other in 0u64..(1 << 40),
        low in 0u64..4096,
        bytes in proptest::collection::vec(any::<u8>(), 24),
        offset in 0usize..8,
        be in any::<bool>(),
    ) {
        let v = spec.input_for(x, base, other, low);
        prop_assert_eq!(spec.value(&v), x);
        let block = block_for(spec, &bytes, offset);
        check(spec, &block, offset, &v, be)?;
    }

    /// Any S, A, P and GOT, any block and offset (fields straddling the end
    /// included).
    #[test]
    fn any_input(
        spec in all_specs(),
        s in any::<u64>(),
        a in any::<i64>(),
        p in any::<u64>(),
        got in any::<u64>(),
        block in proptest::collection::vec(any::<u8>(), 0..24),
        offset in 0usize..32,
        be in any::<bool>(),
    ) {
        let v = FixupInput { p, s, a, got, size: 0, bypass: None };
        let mut block = block;
        if offset + 4 <= block.len() && spec.width() == 4 {
            let (mask, val) = spec.fixed();
            let w = (insn(&block, offset) & !mask) | val;
            block[offset..offset + 4].copy_from_slice(&w.to_le_bytes());
        }
        check(spec, &block, offset, &v, be)?;
    }

    /// Near S, A and P (values in range most of the time).
    #[test]
    fn near_input(
        spec in all_specs(),
        s in 0u64..(1 << 33),
        a in -(1i64 << 32)..(1i64 << 32),
        p in 0u64..(1 << 33),
        got in 0u64..(1 << 33),
        word in any::<u32>(),
        be in any::<bool>(),
    ) {
        let v = FixupInput { p, s, a, got, size: 0, bypass: None };
        let mut bytes = [0xccu8; 16];
        bytes[4..8].copy_from_slice(&word.to_le_bytes());
        let block = block_for(spec, &bytes, 4);
        check(spec, &block, 4, &v, be)?;
    }

    /// A bypassable edge (B/BL, B.cond, TBZ, PLT32) goes straight to the
    /// final target (`bypass + A - P`) when that fits the field, else to the
    /// stub (`S - P`: the stub includes the addend), else it is out of range.
    #[test]
    fn bypass(
        which in 0usize..4,
        s in 0u64..(1 << 34),
        b in 0u64..(1 << 34),
        p in 0u64..(1 << 34),
        a in -64i64..64,
        near in any::<bool>(),
        word in any::<u32>(),
    ) {
        let kind = [BRANCH26, BRANCH19, BRANCH14, PLT32][which];
        let spec = spec_of(kind);
        // Half of the time all three within a small window, so every
        // outcome is seen for the short fields.
        let (s, b) = if near { ((p & !3) + (s & 0x1_fffc), (p & !3).wrapping_sub(0x1_0000) + (b & 0x3_fffc)) } else { (s, b) };
        let v = FixupInput { p, s, a, got: 0, size: 0, bypass: Some(b) };
        let block = word.to_le_bytes();
        let mut work = block;
        let r = apply_fixup(kind, &mut work, 0, &v, false);
        let direct = i128::from(b) + i128::from(a) - i128::from(p);
        let via = i128::from(s) - i128::from(p);
        let want = if spec.in_domain(direct) { Some(direct) } else if spec.in_domain(via) { Some(via) } else { None };
        match want {
            Some(x) => {
                prop_assert_eq!(r, Ok(()));
                spec.decode_check(&work, 0, x, false)?;
                if spec.width() == 4 && kind != PLT32 {
                    prop_assert_eq!((insn(&work, 0) ^ word) & !spec.insn_mask(), 0);
                }
            }
            None => {
                prop_assert!(matches!(r, Err(FixupError::OutOfRange { value, .. }) if value == via), "{:?}", r);
                prop_assert_eq!(work, block);
            }
        }
    }

    /// A relaxed GOT load turns `LDR Xt, [Xn, #imm]` (64-bit, unsigned
    /// offset: bits 31:22 = 1111100101) into `ADD Xt, Xn, #lo12(S + A)`
    /// (64-bit, no shift: bits 31:22 = 1001000100); any other word is
    /// refused, the word itself in the error.
    #[test]
    fn got_load_relaxed(
        low in any::<u32>(),
        ldr in any::<bool>(),
        random in any::<u32>(),
        s in 0u64..(1 << 40),
        a in -(1i64 << 20)..(1i64 << 20),
    ) {
        let w = if ldr { 0xf940_0000 | (low & 0x003f_ffff) } else { random };
        let is_ldr = w >> 22 == 0b11_1110_0101;
        let v = FixupInput { p: 0x1000, s, a, got: 0, size: 0, bypass: None };
        let mut buf = w.to_le_bytes();
        let r = apply_fixup(GOT_LOAD_RELAXED_LO12, &mut buf, 0, &v, false);
        if is_ldr {
            prop_assert_eq!(r, Ok(()));
            let out = u32::from_le_bytes(buf);
            prop_assert_eq!(out >> 22, 0b10_0100_0100, "ADD Xd, Xn, #imm12");
            prop_assert_eq!(out & 0x1f, w & 0x1f, "Rd = Rt");
            prop_assert_eq!((out >> 5) & 0x1f, (w >> 5) & 0x1f, "Rn kept");
            prop_assert_eq!(dec_imm12(out), (s as i128 + i128::from(a)) as u64 & 0xfff);
        } else {
            prop_assert_eq!(r, Err(FixupError::OutOfRange {
                value: i128::from(w),
                range: "a relaxable GOT load (the instruction is not LDR Xt, [Xn, #imm])",
            }));
            prop_assert_eq!(buf, w.to_le_bytes());
        }
    }

    /// IMAGE_REL_ARM64_SECREL_LOW12L: imm12 = low 12 bits of S + A scaled by
    /// the access size the load/store (unsigned immediate) instruction
    /// names (Arm ARM C4.1.4: bits 29:27 = 111, 25:24 = 01; size in 31:30,
    /// V in 26, opc in 23:22; V = 1 with opc<1> = 1 is the 128-bit form,
    /// size 00 only); misaligned offsets and other instructions are refused.
    #[test]
    fn secrel_load_store(
        size in 0u32..4,
        vbit in 0u32..2,
        opc in 0u32..4,
        rest in any::<u32>(),
        ldst in any::<bool>(),
        s in 0u64..(1 << 32),
        a in -(1i64 << 16)..(1i64 << 16),
    ) {
        let w = if ldst {
            size << 30 | 0b111 << 27 | vbit << 26 | 0b01 << 24 | opc << 22 | (rest & 0x003f_ffff)
        } else {
            rest
        };
        let is_ldst = (w >> 27) & 7 == 0b111 && (w >> 24) & 3 == 0b01;
        let scale = if !is_ldst {
            None
        } else if (w >> 26) & 1 == 1 && (w >> 23) & 1 == 1 {
            (w >> 30 == 0).then_some(4)
        } else {
            Some(w >> 30)
        };
        let x = i128::from(s) + i128::from(a);
        let v = FixupInput { p: 0, s, a, got: 0, size: 0, bypass: None };
        let mut buf = w.to_le_bytes();
        let r = apply_fixup(SECREL_LDST_LO12, &mut buf, 0, &v, false);
        let out = u32::from_le_bytes(buf);
        match scale {
            None => {
                prop_assert!(matches!(r, Err(FixupError::OutOfRange { value, .. }) if value == i128::from(w)), "{:?}", r);
                prop_assert_eq!(out, w);
            }
            Some(sc) if x & ((1 << sc) - 1) != 0 => {
                prop_assert!(matches!(r, Err(FixupError::OutOfRange { value, .. }) if value == x), "{:?}", r);
                prop_assert_eq!(out, w);
            }
            Some(sc) => {
                prop_assert_eq!(r, Ok(()));
                prop_assert_eq!(dec_imm12(out), (x as u64 & 0xfff) >> sc);
                prop_assert_eq!(out & !(0xfff << 10), w & !(0xfff << 10));
            }
        }
    }

    /// The 12-byte PLT stub at P jumps through the 8-byte GOT slot S + A:
    /// `LDR x16, slot; BR x16; BRK #0` when the slot is a word multiple
    /// away within ±1 MiB, else `ADRP x16, slot; LDR x16, [x16, #lo12];
    /// BR x16`; a misaligned slot or one beyond ±4 GiB of pages is refused.
    #[test]
    fn plt_stub(
        p in 0u64..(1 << 40),
        d in prop_oneof![-(1i64 << 21)..(1i64 << 21), -(1i64 << 33)..(1i64 << 33)],
        a in -16i64..16,
        pad in 0usize..4,
    ) {
        let p = p & !3;
        let s = (p as i64 + d).max(0) as u64;
        let slot = i128::from(s) + i128::from(a);
        let v = FixupInput { p, s, a, got: 0, size: 0, bypass: None };
        let block = vec![0x5a; 12 + pad];
        let mut work = block.clone();
        let r = apply_fixup(PLT_STUB, &mut work, 0, &v, false);
        let pages = page(slot) - page(i128::from(p));
        // A slot below address 0 wraps to the top of the address space:
        // out of range, like any unaligned or far one.
        if slot < 0 || slot & 7 != 0 || !(-(1i128 << 32)..(1i128 << 32)).contains(&pages) {
            prop_assert!(matches!(r, Err(FixupError::OutOfRange { .. })), "{:?}", r);
            prop_assert_eq!(work, block);
            return Ok(());
        }
        prop_assert_eq!(r, Ok(()));
        let w: Vec<u32> = (0..3).map(|i| insn(&work, 4 * i)).collect();
        const BR_X16: u32 = 0xd61f_0200;
        const BRK0: u32 = 0xd420_0000;
        let dist = slot - i128::from(p);
        if (-(1i128 << 20)..(1i128 << 20)).contains(&dist) {
            // LDR (literal), 64-bit: 01011000 imm19 Rt.
            prop_assert_eq!(w[0] >> 24, 0x58, "LDR literal: {:#x}", w[0]);
            prop_assert_eq!(w[0] & 0x1f, 16);
            prop_assert_eq!(i128::from(p) + 4 * sext(u64::from(w[0] >> 5), 19), slot);
            prop_assert_eq!((w[1], w[2]), (BR_X16, BRK0));
        } else {
            // ADRP: 1 immlo 10000 immhi Rd; LDR (immediate, unsigned offset).
            prop_assert_eq!(w[0] & 0x9f00_001f, 0x9000_0010, "ADRP x16: {:#x}", w[0]);
            prop_assert_eq!(w[1] & 0xffc0_03ff, 0xf940_0210, "LDR x16, [x16, #imm]: {:#x}", w[1]);
            let addr = page(i128::from(p)) + (dec_adr(w[0]) << 12) + 8 * i128::from(dec_imm12(w[1]));
            prop_assert_eq!(addr, slot);
            prop_assert_eq!(w[2], BR_X16);
        }
        prop_assert!(work[12..].iter().all(|&b| b == 0x5a));
    }

    /// The 16-byte veneer at P reaches T = S + A (mod 2^64) from anywhere:
    /// `ADRP x16; ADD x16, x16, #lo12; BR x16; BRK #0` when T's page is
    /// within ±4 GiB, else `LDR x16, .+8; BR x16; .xword T` (in the data
    /// byte order).
    #[test]
    fn veneer(
        p in any::<u64>(),
        d in prop_oneof![-(1i64 << 33)..(1i64 << 33), any::<i64>()],
        a in -16i64..16,
        be in any::<bool>(),
    ) {
        let s = p.wrapping_add(d as u64);
        let t = s.wrapping_add(a as u64);
        let v = FixupInput { p, s, a, got: 0, size: 0, bypass: None };
        let mut buf = [0x5au8; 20];
        prop_assert_eq!(apply_fixup(VENEER, &mut buf, 0, &v, be), Ok(()));
        let w: Vec<u32> = (0..4).map(|i| insn(&buf, 4 * i)).collect();
        const BR_X16: u32 = 0xd61f_0200;
        let pages = page(i128::from(t)) - page(i128::from(p));
        if (-(1i128 << 32)..(1i128 << 32)).contains(&pages) {
            prop_assert_eq!(w[0] & 0x9f00_001f, 0x9000_0010, "ADRP x16");
            prop_assert_eq!(w[1] & 0xffc0_03ff, 0x9100_0210, "ADD x16, x16, #imm");
            let addr = page(i128::from(p)) + (dec_adr(w[0]) << 12) + i128::from(dec_imm12(w[1]));
            prop_assert_eq!(addr, i128::from(t));
            prop_assert_eq!((w[2], w[3]), (BR_X16, 0xd420_0000));
        } else {
            prop_assert_eq!(w[0], 0x5800_0050, "LDR x16, .+8");
            prop_assert_eq!(w[1], BR_X16);
            prop_assert_eq!(data_unsigned(&buf, 8, 8, be), t);
        }
        prop_assert_eq!(&buf[16..], &[0x5a; 4]);
        let mut short = [0u8; 15];
        prop_assert_eq!(apply_fixup(VENEER, &mut short, 0, &v, be), Err(FixupError::OutsideBlock));
    }

    /// Kinds that are requests or unknown are refused, never applied.
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
        FixupInput { p: 0x1000, s: 0x2008, a: 8, got: 0x3000, size: 8, bypass: Some(0x2000) },
    ];
    for k in 0..=255u8 {
        for v in &inputs {
            for fill in [0u8, 0xff] {
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
    // Every spec is a distinct kind.
    let mut kinds = covered_kinds();
    kinds.sort_unstable();
    let n = kinds.len();
    kinds.dedup();
    assert_eq!(kinds.len(), n, "a kind has two specs");
    // KEEP_ALIVE writes nothing, wherever it points.
    let v = FixupInput { p: u64::MAX, s: 0, a: i64::MIN, got: 0, size: 0, bypass: None };
    assert_eq!(apply_fixup(KEEP_ALIVE, &mut [], usize::MAX, &v, false), Ok(()));
}

/// Every spec at both edges of its domain, one step inside and outside
/// each, and misaligned by one, both data byte orders, deterministically
/// (the properties above sample).
#[test]
fn every_edge_of_every_spec() {
    for &spec in SPECS {
        let al = 1i128 << spec.align();
        let mut xs: Vec<i128> = match spec.range() {
            Some((lo, hi)) => vec![lo, lo + al, hi - al, hi - 2 * al, lo - al, hi, lo - 4096, hi + 4096],
            None => vec![0, al, -al, 1 << 40, -(1 << 40), 1 << 62, -(1 << 62), 0xfff & !(al - 1)],
        };
        xs.extend(xs.clone().iter().map(|x| x + 1));
        for x in xs {
            let x = if spec.formula == Page { page(x) } else { x };
            for be in [false, true] {
                for (base, other) in [(0x1000, 0x2000_0000), (0xff_ffff_f000, 0x10), (0x4_0000_0000, 0x4_0000_0000)] {
                    let v = spec.input_for(x, base, other, 0x123);
                    let block = block_for(spec, &[0x3c; 24], 4);
                    if let Err(e) = check(spec, &block, 4, &v, be) {
                        panic!("{} at X = {x:#x} (be {be}): {e}", kind_name(spec.kind));
                    }
                }
            }
        }
    }
}
