//! Property tests of the x86-64 fixups and of the graph a link leaves.
//!
//! Fixups: for every kind `apply_fixup` applies (a test checks that none
//! is missing), applying then
//! decoding the field (decoders written here, from the psABI) gives back
//! the computed value across the field's domain and at its edges; a value
//! outside the domain is always `FixupError::OutOfRange` carrying the
//! value; a field that does not fit the block is an error; nothing outside
//! the field (and, for GOT-load relaxation, the opcode bytes before it)
//! changes; an error changes nothing.
//!
//! Graph: after linking each fixture set, a PostFixup pass checks that
//! every edge of a live block targets a symbol defined in a live block,
//! absolute, or a resolved external; that live blocks do not overlap; and
//! that every live block's address respects its alignment.

use jitlink::arch::x86_64::edges::*;
use jitlink::arch::{Arch, FixupError, FixupInput};
use jitlink::graph::{EdgeKind, SymbolKind};
use jitlink::link::PassPoint;
use jitlink::memory::SimulatedMemoryManager;
use jitlink::{LinkOptions, Session, SessionOptions};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

/// What a kind computes.
#[derive(Copy, Clone, Debug)]
enum Formula {
    /// S + A
    Abs,
    /// S + A - P
    Pc,
    /// S + A - GOT
    Got,
    /// Z + A
    Size,
    /// P - S + A
    NegPc,
    /// A alone (a section index the builder put in the addend)
    Addend,
}

/// How the field holds the value.
#[derive(Copy, Clone, Debug)]
enum Field {
    /// Two's complement, any 64-bit value (wraps).
    Wrap64,
    /// Unsigned: 0 ..= 2^(8w) - 1.
    Unsigned,
    /// Signed: -2^(8w-1) ..= 2^(8w-1) - 1.
    Signed,
    /// psABI bitfield (R_X86_64_16/8): -2^(8w-1) ..= 2^(8w) - 1.
    Bitfield,
    /// Bits 6..0 of one byte, 0 ..= 127, bit 7 kept (COFF SECREL7).
    Low7,
}

#[derive(Copy, Clone, Debug)]
struct Spec {
    kind: EdgeKind,
    width: usize,
    formula: Formula,
    field: Field,
}

const SPECS: &[Spec] = &[
    Spec { kind: POINTER64, width: 8, formula: Formula::Abs, field: Field::Wrap64 },
    Spec { kind: POINTER32, width: 4, formula: Formula::Abs, field: Field::Unsigned },
    Spec { kind: POINTER32_SIGNED, width: 4, formula: Formula::Abs, field: Field::Signed },
    Spec { kind: POINTER16, width: 2, formula: Formula::Abs, field: Field::Bitfield },
    Spec { kind: POINTER8, width: 1, formula: Formula::Abs, field: Field::Bitfield },
    Spec { kind: DELTA64, width: 8, formula: Formula::Pc, field: Field::Wrap64 },
    Spec { kind: DELTA32, width: 4, formula: Formula::Pc, field: Field::Signed },
    Spec { kind: DELTA16, width: 2, formula: Formula::Pc, field: Field::Signed },
    Spec { kind: DELTA8, width: 1, formula: Formula::Pc, field: Field::Signed },
    Spec { kind: BRANCH32, width: 4, formula: Formula::Pc, field: Field::Signed },
    Spec { kind: DELTA64_FROM_GOT, width: 8, formula: Formula::Got, field: Field::Wrap64 },
    Spec { kind: DELTA32_FROM_GOT, width: 4, formula: Formula::Got, field: Field::Signed },
    Spec { kind: SIZE32, width: 4, formula: Formula::Size, field: Field::Unsigned },
    Spec { kind: SIZE64, width: 8, formula: Formula::Size, field: Field::Wrap64 },
    Spec { kind: NEG_DELTA32, width: 4, formula: Formula::NegPc, field: Field::Signed },
    // Container pair kinds (Mach-O SUBTRACTOR pairs, COFF image- and
    // section-relative): B is folded into A before fixup, so S + A.
    Spec { kind: DELTA64_PAIR, width: 8, formula: Formula::Abs, field: Field::Wrap64 },
    Spec { kind: DELTA32_PAIR, width: 4, formula: Formula::Abs, field: Field::Signed },
    Spec { kind: IMAGE_REL32, width: 4, formula: Formula::Abs, field: Field::Unsigned },
    Spec { kind: SECREL32, width: 4, formula: Formula::Abs, field: Field::Unsigned },
    Spec { kind: SECREL7, width: 1, formula: Formula::Abs, field: Field::Low7 },
    Spec { kind: SECTION_INDEX16, width: 2, formula: Formula::Addend, field: Field::Unsigned },
    // Without a bypass, a GOT load or stub branch is a plain PC-relative
    // 32-bit field (the relaxations are tested below).
    Spec { kind: BRANCH32_TO_STUB_BYPASSABLE, width: 4, formula: Formula::Pc, field: Field::Signed },
    Spec { kind: GOT_LOAD_RELAXABLE, width: 4, formula: Formula::Pc, field: Field::Signed },
    Spec { kind: GOT_LOAD_REX_RELAXABLE, width: 4, formula: Formula::Pc, field: Field::Signed },
];

impl Spec {
    /// Inclusive domain, `None` for wrapping 64-bit fields.
    fn range(self) -> Option<(i128, i128)> {
        let bits = 8 * self.width as u32;
        match self.field {
            Field::Wrap64 => None,
            Field::Unsigned => Some((0, (1i128 << bits) - 1)),
            Field::Signed => Some((-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)),
            Field::Bitfield => Some((-(1i128 << (bits - 1)), (1i128 << bits) - 1)),
            Field::Low7 => Some((0, 127)),
        }
    }

    fn value(self, v: &FixupInput) -> i128 {
        let a = i128::from(v.a);
        match self.formula {
            Formula::Abs => i128::from(v.s) + a,
            Formula::Pc => i128::from(v.s) + a - i128::from(v.p),
            Formula::Got => i128::from(v.s) + a - i128::from(v.got),
            Formula::Size => i128::from(v.size) + a,
            Formula::NegPc => i128::from(v.p) - i128::from(v.s) + a,
            Formula::Addend => a,
        }
    }

    /// Inputs whose value is `x`: S, P, GOT and Z from `base`, A solved.
    fn input_for(self, x: i128, base: u64, other: u64) -> FixupInput {
        let (s, p, got, size) = (base, other, other, base);
        let a = match self.formula {
            Formula::Abs => x - i128::from(s),
            Formula::Pc => x - i128::from(s) + i128::from(p),
            Formula::Got => x - i128::from(s) + i128::from(got),
            Formula::Size => x - i128::from(size),
            Formula::NegPc => x - i128::from(p) + i128::from(s),
            Formula::Addend => x,
        };
        let a = i64::try_from(a).expect("addend fits: base and other are below 2^40");
        FixupInput { p, s, a, got, size, bypass: None }
    }
}

/// The little-endian field of `width` bytes at `at`, unsigned.
fn decode_unsigned(bytes: &[u8], at: usize, width: usize) -> u128 {
    bytes[at..at + width].iter().rev().fold(0u128, |acc, &b| (acc << 8) | u128::from(b))
}

/// The same field, sign-extended.
fn decode_signed(bytes: &[u8], at: usize, width: usize) -> i128 {
    let raw = decode_unsigned(bytes, at, width);
    let bits = 8 * width as u32;
    if raw >> (bits - 1) & 1 == 1 {
        raw as i128 - (1i128 << bits)
    } else {
        raw as i128
    }
}

/// Applies `spec` to a copy of `block` and checks every property.
fn check(spec: Spec, block: &[u8], offset: usize, v: &FixupInput) -> Result<(), TestCaseError> {
    let x = spec.value(v);
    let mut work = block.to_vec();
    let r = Arch::X86_64.apply_fixup(spec.kind, &mut work, offset, v);
    let fits_block = offset.checked_add(spec.width).is_some_and(|e| e <= block.len());
    let in_range = spec.range().is_none_or(|(lo, hi)| (lo..=hi).contains(&x));
    match r {
        Ok(()) => {
            prop_assert!(fits_block, "{spec:?}: Ok for a field outside the block");
            prop_assert!(in_range, "{spec:?}: Ok for out-of-range value {x:#x}");
            let bits = if matches!(spec.field, Field::Low7) { 7 } else { 8 * spec.width as u32 };
            let modulus = 1u128 << bits;
            let raw = decode_unsigned(&work, offset, spec.width) & (modulus - 1);
            prop_assert_eq!(raw, (x.rem_euclid(modulus as i128)) as u128, "{:?}: field mod 2^{}", spec, bits);
            match spec.field {
                Field::Low7 => {
                    prop_assert_eq!(raw as i128, x);
                    prop_assert_eq!(work[offset] & 0x80, block[offset] & 0x80, "bit 7 kept");
                }
                Field::Wrap64 => prop_assert_eq!(decode_signed(&work, offset, 8), x as i64 as i128),
                Field::Unsigned => prop_assert_eq!(raw as i128, x),
                Field::Signed => prop_assert_eq!(decode_signed(&work, offset, spec.width), x),
                Field::Bitfield => {
                    let back = if x < 0 { decode_signed(&work, offset, spec.width) } else { raw as i128 };
                    prop_assert_eq!(back, x);
                }
            }
            for (i, (a, b)) in work.iter().zip(block).enumerate() {
                prop_assert!(a == b || (offset..offset + spec.width).contains(&i), "{spec:?}: wrote byte {i}");
            }
        }
        Err(FixupError::OutOfRange { value, .. }) => {
            prop_assert!(!in_range, "{spec:?}: OutOfRange for in-range value {x:#x}");
            prop_assert_eq!(value, x);
            prop_assert_eq!(&work[..], block, "an error changed the block");
        }
        Err(FixupError::OutsideBlock) => {
            prop_assert!(!fits_block, "{spec:?}: OutsideBlock for a field inside the block");
            prop_assert_eq!(&work[..], block, "an error changed the block");
        }
        Err(e) => prop_assert!(false, "{spec:?}: unexpected {e:?}"),
    }
    Ok(())
}

/// Values at and around the edges of a domain, and anywhere in it.
fn edge_values(spec: Spec) -> BoxedStrategy<i128> {
    match spec.range() {
        None => prop_oneof![
            Just(0i128),
            Just(-1i128),
            Just(i128::from(i64::MIN)),
            Just(i128::from(i64::MAX)),
            Just(i128::from(u64::MAX)),
            any::<i64>().prop_map(i128::from),
            any::<u64>().prop_map(i128::from),
        ]
        .boxed(),
        Some((lo, hi)) => prop_oneof![
            Just(lo),
            Just(hi),
            Just(lo - 1),
            Just(hi + 1),
            Just(lo + 1),
            Just(hi - 1),
            (lo..=hi),
            (lo - (1 << 20)..lo),
            (hi + 1..hi + (1 << 20)),
        ]
        .boxed(),
    }
}

fn all_specs() -> impl Strategy<Value = Spec> {
    (0..SPECS.len()).prop_map(|i| SPECS[i])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// At and around each domain's edges, values solved for exactly.
    #[test]
    fn round_trip_at_edges(
        (spec, x) in all_specs().prop_flat_map(|s| (Just(s), edge_values(s))),
        base in 0u64..(1 << 40),
        other in 0u64..(1 << 40),
        fill in any::<u8>(),
        pad in 0usize..8,
        offset in 0usize..8,
    ) {
        // Wrapping kinds take any value mod 2^64; A must stay an i64.
        let x = if spec.range().is_none() { x.clamp(-(1 << 62), 1 << 62) } else { x };
        let v = spec.input_for(x, base, other);
        prop_assert_eq!(spec.value(&v), x);
        let block = vec![fill; offset + spec.width + pad];
        check(spec, &block, offset, &v)?;
    }

    /// Any S, A, P, GOT and Z, any block and offset (fields straddling the
    /// end included).
    #[test]
    fn any_input(
        spec in all_specs(),
        s in any::<u64>(),
        a in any::<i64>(),
        p in any::<u64>(),
        got in any::<u64>(),
        size in any::<u64>(),
        block in proptest::collection::vec(any::<u8>(), 0..24),
        offset in 0usize..32,
    ) {
        let v = FixupInput { p, s, a, got, size, bypass: None };
        check(spec, &block, offset, &v)?;
    }

    /// Near S, A and P (values in range most of the time).
    #[test]
    fn near_input(
        spec in all_specs(),
        s in 0u64..(1 << 33),
        a in -(1i64 << 32)..(1i64 << 32),
        p in 0u64..(1 << 33),
        got in 0u64..(1 << 33),
        size in 0u64..(1 << 33),
    ) {
        let v = FixupInput { p, s, a, got, size, bypass: None };
        check(spec, &[0xcc; 16], 4, &v)?;
    }

    /// A stub branch goes straight to the final target when that fits,
    /// else to the stub, else it is out of range.
    #[test]
    fn stub_bypass(
        s in 0u64..(1 << 34),
        b in 0u64..(1 << 34),
        p in 0u64..(1 << 34),
        a in -8i64..8,
    ) {
        let v = FixupInput { p, s, a, got: 0, size: 0, bypass: Some(b) };
        let mut buf = [0u8; 4];
        let r = Arch::X86_64.apply_fixup(BRANCH32_TO_STUB_BYPASSABLE, &mut buf, 0, &v);
        let direct = i128::from(b) + i128::from(a) - i128::from(p);
        let via = i128::from(s) + i128::from(a) - i128::from(p);
        let fits = |x: i128| i32::try_from(x).is_ok();
        if fits(direct) {
            prop_assert_eq!(r, Ok(()));
            prop_assert_eq!(i128::from(i32::from_le_bytes(buf)), direct);
        } else if fits(via) {
            prop_assert_eq!(r, Ok(()));
            prop_assert_eq!(i128::from(i32::from_le_bytes(buf)), via);
        } else {
            prop_assert_eq!(r, Err(FixupError::OutOfRange { value: via, range: "a signed 32-bit field" }));
        }
    }

    /// `mov foo@GOTPCREL(%rip), %reg` (with and without REX): relaxed to
    /// `lea` with the final target's displacement when it fits, else a
    /// PC-relative load of the GOT entry.
    #[test]
    fn got_load_mov(
        rex in 0x40u8..0x50,
        reg in 0u8..8,
        with_rex in any::<bool>(),
        relaxed_kind in any::<bool>(),
        s in 0u64..(1 << 34),
        b in proptest::option::of(0u64..(1 << 34)),
        p in 3u64..(1 << 34),
        a in -8i64..8,
    ) {
        let modrm = (reg << 3) | 5;
        let code = [rex, 0x8b, modrm, 0, 0, 0, 0, 0xcc];
        let kind = if relaxed_kind { GOT_LOAD_RELAXED } else if with_rex { GOT_LOAD_REX_RELAXABLE } else { GOT_LOAD_RELAXABLE };
        let v = FixupInput { p, s, a, got: 0, size: 0, bypass: if relaxed_kind { None } else { b } };
        let mut buf = code;
        let r = Arch::X86_64.apply_fixup(kind, &mut buf, 3, &v);
        let disp = |t: u64| i128::from(t) + i128::from(a) - i128::from(p);
        let got_disp = i128::from(i32::from_le_bytes(buf[3..7].try_into().unwrap()));
        let target = if relaxed_kind { Some(s) } else { b };
        match target.map(disp).filter(|&d| i32::try_from(d).is_ok()) {
            Some(d) => {
                prop_assert_eq!(r, Ok(()));
                prop_assert_eq!(&buf[..3], &[rex, 0x8d, modrm][..], "mov became lea");
                prop_assert_eq!(got_disp, d);
            }
            None if relaxed_kind => {
                prop_assert!(matches!(r, Err(FixupError::OutOfRange { .. })), "expected OutOfRange, got {:?}", r);
                prop_assert_eq!(buf, code);
            }
            None => {
                if i32::try_from(disp(s)).is_ok() {
                    prop_assert_eq!(r, Ok(()));
                    prop_assert_eq!(&buf[..3], &code[..3], "left a GOT load");
                    prop_assert_eq!(got_disp, disp(s));
                } else {
                    prop_assert!(matches!(r, Err(FixupError::OutOfRange { .. })), "expected OutOfRange, got {:?}", r);
                    prop_assert_eq!(buf, code);
                }
            }
        }
        prop_assert_eq!(buf[7], 0xcc);
    }

    /// `call *foo@GOTPCREL(%rip)` → `addr32 call foo`, `jmp *` → `jmp foo;
    /// nop`, when the final target is in range.
    #[test]
    fn got_load_call_jmp(
        jmp in any::<bool>(),
        s in 0u64..(1 << 34),
        b in 0u64..(1 << 34),
        p in 2u64..(1 << 34),
    ) {
        let code = [0xff, if jmp { 0x25 } else { 0x15 }, 0, 0, 0, 0, 0xcc];
        let a = -4i64;
        let v = FixupInput { p, s, a, got: 0, size: 0, bypass: Some(b) };
        let mut buf = code;
        let r = Arch::X86_64.apply_fixup(GOT_LOAD_RELAXABLE, &mut buf, 2, &v);
        let direct = i128::from(b) + i128::from(a) - i128::from(p);
        let via = i128::from(s) + i128::from(a) - i128::from(p);
        // The instruction starts at P - 2 and is 6 bytes long.
        let end = i128::from(p) + 4;
        // jmp's rel32 counts from one byte earlier than the field's end.
        let relaxes = i32::try_from(if jmp { direct + 1 } else { direct }).is_ok();
        if relaxes {
            prop_assert_eq!(r, Ok(()));
            if jmp {
                // e9 rel32 (5 bytes) then nop: rel32 counts from P + 3.
                prop_assert_eq!(buf[0], 0xe9);
                let rel = i128::from(i32::from_le_bytes(buf[1..5].try_into().unwrap()));
                prop_assert_eq!(i128::from(p) + 3 + rel, i128::from(b));
                prop_assert_eq!(buf[5], 0x90);
            } else {
                prop_assert_eq!(&buf[..2], &[0x67, 0xe8][..]);
                let rel = i128::from(i32::from_le_bytes(buf[2..6].try_into().unwrap()));
                prop_assert_eq!(end + rel, i128::from(b));
            }
        } else if i32::try_from(via).is_ok() {
            prop_assert_eq!(r, Ok(()));
            prop_assert_eq!(&buf[..2], &code[..2]);
            let rel = i128::from(i32::from_le_bytes(buf[2..6].try_into().unwrap()));
            prop_assert_eq!(end + rel, i128::from(s));
        } else {
            prop_assert!(matches!(r, Err(FixupError::OutOfRange { .. })), "expected OutOfRange, got {:?}", r);
        }
        prop_assert_eq!(buf[6], 0xcc);
    }

    /// Kinds that are requests or unknown are refused, never applied.
    #[test]
    fn unlowered_kinds(kind in any::<u8>(), block in proptest::collection::vec(any::<u8>(), 0..16), offset in 0usize..16) {
        prop_assume!(!covered_kinds().contains(&kind));
        let v = FixupInput { p: 0x1000, s: 0x2000, a: 0, got: 0, size: 0, bypass: None };
        let mut work = block.clone();
        let r = Arch::X86_64.apply_fixup(EdgeKind(kind), &mut work, offset, &v);
        prop_assert_eq!(r, Err(FixupError::Unlowered));
        prop_assert_eq!(work, block);
    }
}

/// Kinds with a property above.
fn covered_kinds() -> Vec<u8> {
    let mut kinds: Vec<u8> = SPECS.iter().map(|s| s.kind.0).collect();
    kinds.extend([KEEP_ALIVE.0, GOT_LOAD_RELAXED.0]);
    kinds
}

#[test]
fn every_applied_kind_has_a_property() {
    // A kind `apply_fixup` does anything with but refuse as unlowered must
    // have a property here.
    let zero = FixupInput { p: 0, s: 0, a: 0, got: 0, size: 0, bypass: None };
    for k in 0..=255u8 {
        let r = Arch::X86_64.apply_fixup(EdgeKind(k), &mut [0u8; 16], 8, &zero);
        if r != Err(FixupError::Unlowered) {
            assert!(
                covered_kinds().contains(&k),
                "kind {k} ({}) is applied but has no property",
                kind_name(EdgeKind(k))
            );
        }
    }
    // KEEP_ALIVE writes nothing, wherever it points.
    let v = FixupInput { p: u64::MAX, s: 0, a: i64::MIN, got: 0, size: 0, bypass: None };
    let mut empty: [u8; 0] = [];
    assert_eq!(Arch::X86_64.apply_fixup(KEEP_ALIVE, &mut empty, usize::MAX, &v), Ok(()));
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/x86_64");

/// Links `files` (simulated memory, phony externals, the relocation
/// tests' absolute externals) with a PostFixup pass checking the graph
/// invariants; returns the violations.
fn link_and_check(files: &[&str]) -> Vec<String> {
    let mut s = Session::new(
        Box::new(SimulatedMemoryManager::new(0x1000_0000, Some(64 << 20), 4096)),
        SessionOptions { phony_externals: true, ..Default::default() },
    );
    s.define_absolute("ext_near", 0x1008_0000).unwrap();
    s.define_absolute("ext_far", 0x7f00_0000_0000).unwrap();
    for f in files {
        let bytes = std::fs::read(format!("{FIXTURES}/{f}")).unwrap();
        s.add_object_bytes(f, bytes).unwrap();
    }
    let found: Arc<Mutex<Vec<String>>> = Arc::default();
    let checked = Arc::new(Mutex::new(0usize));
    let (out, count) = (found.clone(), checked.clone());
    s.add_pass(
        PassPoint::PostFixup,
        Box::new(move |g, names| {
            let mut bad = Vec::new();
            let mut spans = Vec::new();
            for (bi, b) in g.blocks.iter().enumerate().filter(|(_, b)| b.live) {
                let sec = names.str(g.sections[b.section.index()].name).into_owned();
                if b.addr % b.align != 0 {
                    bad.push(format!("block {bi} ({sec}) at {:#x} breaks its alignment {}", b.addr, b.align));
                }
                if b.size > 0 {
                    spans.push((b.addr, b.addr + b.size, bi, sec.clone()));
                }
                for e in &b.edges {
                    let t = &g.symbols[e.target.index()];
                    let ok = match t.kind {
                        SymbolKind::Defined => t.block.is_some_and(|tb| g.blocks[tb.index()].live),
                        SymbolKind::Absolute => true,
                        SymbolKind::External => t.resolved,
                        SymbolKind::Common => false,
                    };
                    if !ok {
                        bad.push(format!(
                            "block {bi} ({sec}) edge at {:#x} targets {} ({:?}, resolved {})",
                            e.offset,
                            g.symbol_display(e.target, names),
                            t.kind,
                            t.resolved
                        ));
                    }
                    *count.lock().unwrap() += 1;
                }
            }
            spans.sort();
            for w in spans.windows(2) {
                if w[1].0 < w[0].1 {
                    bad.push(format!("blocks {} ({}) and {} ({}) overlap", w[0].2, w[0].3, w[1].2, w[1].3));
                }
            }
            out.lock().unwrap().extend(bad);
            Ok(())
        }),
    );
    s.link(&LinkOptions::default()).unwrap_or_else(|e| panic!("{files:?}: {e}"));
    assert!(*checked.lock().unwrap() > 0, "{files:?}: no edges checked");
    let v = found.lock().unwrap().clone();
    v
}

#[test]
fn graph_invariants_after_linking_fixtures() {
    for files in [
        &["basic.o", "basic_defs.o"][..],
        &["got.o", "basic.o", "basic_defs.o"],
        &["comdat_a.o", "comdat_b.o"],
        &["rel_basic.o", "rel_abs.o"],
        &["undef.o"],
    ] {
        let bad = link_and_check(files);
        assert!(bad.is_empty(), "{files:?}:\n{}", bad.join("\n"));
    }
}
