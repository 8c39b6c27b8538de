//! PPC64 ELFv2 thread-local storage (little and big endian): general and
//! local dynamic linked byte for byte; initial exec and local exec
//! refused.
//!
//! Each test links objects of `tests/fixtures/ppc64/tls/` (GCC 12 output
//! of `tls.c` at -O0/-O2, with -mtls-size=64 and =16 local dynamic, and
//! -mcpu=power10; the hand-written `forms.s` for the remaining forms;
//! `regen.sh`) with
//!
//!     jitlink link --noexec --slab-address 0x10000000
//!         --abs __tls_get_addr=0x20000000 --dump-json ...
//!
//! and checks every TLS relocation against the ELFv2 ABI (§3.5.3, §3.7)
//! with the layout of `tests/tls_common`:
//!
//! * `GOT_TLSGD16*` address (from `.TOC.`, the dump's `__TOC__`) the
//!   variable's `{module, offset}` pair in the file's `$__GOT`,
//!   `GOT_TLSLD16*` the module's `{module, 0}` pair, `GOT_DTPREL16*` a GOT
//!   entry holding the variable's offset; an `@ha` and the `@l` that
//!   reads its register address it together; the PCREL34 forms address it
//!   from P;
//! * `DTPREL16*`, `DTPREL34` and `DTPREL64` hold `S + A - template start`
//!   (no TLS_DTV_OFFSET bias: the JIT's `__tls_get_addr` adds none) with
//!   the ABI's `#lo/#hi/#ha/#high(er|est)(a)` transforms, DS forms keeping
//!   their low two bits; `DTPMOD64` the module descriptor's address;
//! * the `bl __tls_get_addr` (R_PPC64_REL24 with its TLSGD/TLSLD marker)
//!   reaches it through its TOC-saving stub and its `nop` became
//!   `ld r2,24(r1)`; the Power10 `REL24_NOTOC` form reaches it too;
//! * every other byte of the loaded sections is the object's.

#[path = "tls_common/mod.rs"]
mod tls_common;

use std::collections::HashMap;
use tls_common::*;

const ARCH: &str = "ppc64";
const ENDIANS: [&str; 2] = ["le", "be"];
/// `ld r2,24(r1)`.
const LD_R2_24_R1: u32 = 0xe841_0018;

fn name(t: u32) -> String {
    let n = match t {
        10 => "REL24",
        116 => "REL24_NOTOC",
        68 => "DTPMOD64",
        74 => "DTPREL16",
        75 => "DTPREL16_LO",
        76 => "DTPREL16_HI",
        77 => "DTPREL16_HA",
        78 => "DTPREL64",
        79 => "GOT_TLSGD16",
        80 => "GOT_TLSGD16_LO",
        81 => "GOT_TLSGD16_HI",
        82 => "GOT_TLSGD16_HA",
        83 => "GOT_TLSLD16",
        84 => "GOT_TLSLD16_LO",
        85 => "GOT_TLSLD16_HI",
        86 => "GOT_TLSLD16_HA",
        91 => "GOT_DTPREL16_DS",
        92 => "GOT_DTPREL16_LO_DS",
        93 => "GOT_DTPREL16_HI",
        94 => "GOT_DTPREL16_HA",
        101 => "DTPREL16_DS",
        102 => "DTPREL16_LO_DS",
        103 => "DTPREL16_HIGHER",
        104 => "DTPREL16_HIGHERA",
        105 => "DTPREL16_HIGHEST",
        106 => "DTPREL16_HIGHESTA",
        107 => "TLSGD",
        108 => "TLSLD",
        114 => "DTPREL16_HIGH",
        115 => "DTPREL16_HIGHA",
        147 => "DTPREL34",
        148 => "GOT_TLSGD_PCREL34",
        149 => "GOT_TLSLD_PCREL34",
        151 => "GOT_DTPREL_PCREL34",
        _ => return format!("type {t}"),
    };
    format!("R_PPC64_{n}")
}

fn sext(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

/// The ABI's half16 transform of `x` named by a DTPREL16 type, with its
/// overflow check (binutils `elf64-ppc.c` howtos): `None` if it overflows.
fn dtprel16(t: u32, x: i64) -> Option<u16> {
    let fits = |v: i64, bits: u32| (-(1i64 << (bits - 1))..1i64 << (bits - 1)).contains(&v);
    let v = match t {
        74 | 101 => fits(x, 16).then_some(x)?,
        75 | 102 => x,
        76 => fits(x, 32).then_some(x >> 16)?,
        77 => fits(x + 0x8000, 32).then_some((x + 0x8000) >> 16)?,
        114 => x >> 16,
        115 => (x + 0x8000) >> 16,
        103 => x >> 32,
        104 => (x + 0x8000) >> 32,
        105 => x >> 48,
        106 => (x + 0x8000) >> 48,
        _ => unreachable!(),
    };
    Some(v as u16)
}

/// The TOC-relative GOT families: (plain, #lo, #hi, #ha) types, whether
/// the #lo and plain forms are DS, and what G must be.
fn toc_family(t: u32) -> Option<(u32, bool)> {
    match t {
        79..=82 => Some((79, false)),
        83..=86 => Some((83, false)),
        91..=94 => Some((91, true)),
        _ => None,
    }
}

fn check(l: &Linked) -> Seen {
    let abs = tls_abs();
    let tls = tls_layout(l);
    let relocs = l.relocs(&abs);
    let d = &l.dump;
    // `.TOC.`, for the TOC-relative forms (Power10 code has none).
    let tocs: Vec<u64> = d.symbols.iter().filter(|s| s.name == "__TOC__").map(|s| s.address).collect();
    assert!(tocs.len() <= 1, "[{}] one __TOC__ at most", l.tag);
    let toc = tocs.first().copied().unwrap_or(0);
    let toc_relative = relocs.iter().any(|r| toc_family(r.r_type).is_some());
    assert!(!toc_relative || tocs.len() == 1, "[{}] TOC-relative TLS but no __TOC__", l.tag);
    let original: HashMap<(usize, String), Vec<u8>> = (0..l.inputs.len())
        .flat_map(|f| l.loaded_sections(f).into_iter().map(move |(n, _, data, _)| ((f, n), data)))
        .collect();
    let be = d.big_endian;
    let insn_at = |p: u64| p & !3;
    let want = |r: &Reloc| -> Want {
        match r.r_type {
            79..=82 | 148 => Want::Pair(var_offset(l, &tls, r)),
            83..=86 | 149 => Want::Pair(0),
            _ => Want::Offset(var_offset(l, &tls, r)),
        }
    };
    // The @ha halves by (file, section, RT): (offset, relocation, ha).
    let mut has: HashMap<(usize, String, u32), Vec<(u64, Reloc)>> = HashMap::new();
    for r in relocs.iter().filter(|r| matches!(r.r_type, 82 | 86 | 94)) {
        let rt = (d.u32(insn_at(r.p)) >> 21) & 0x1f;
        has.entry((r.file, r.section.clone(), rt)).or_default().push((r.offset, r.clone()));
    }
    let mut used = std::collections::HashSet::new();
    let mut seen = Seen::default();
    for r in &relocs {
        let file = l.file(r).to_string();
        let what = format!("[{}] {} {}+{:#x} {} {}", l.tag, file, r.section, r.offset, name(r.r_type), r.sym_name());
        let h = || d.u16(r.p);
        let h0 = || {
            let b = &original[&(r.file, r.section.clone())][r.offset as usize..r.offset as usize + 2];
            if be {
                u16::from_be_bytes([b[0], b[1]])
            } else {
                u16::from_le_bytes([b[0], b[1]])
            }
        };
        let ok = |g: u64, wt: Want| assert!(is_entry(l, &tls, &file, g, wt), "{what}: addresses {g:#x}, not {wt:?}");
        let some = |f: &dyn Fn(i64) -> u16| {
            let cands = entries(l, &tls, &file, want(r));
            assert!(
                cands.iter().any(|&g| f(g as i64 - toc as i64) == h()),
                "{what}: {:#06x} fits none of {cands:x?}",
                h()
            );
        };
        match r.r_type {
            10 | 116 => {
                assert_eq!(r.sym, "__tls_get_addr", "{what}: only __tls_get_addr is called");
                let w = d.u32(r.p);
                let target = r.p.wrapping_add(sext(u64::from(w & 0x03ff_fffc), 26) as u64);
                assert!(d.reaches(target, "__tls_get_addr", TLS_GET_ADDR), "{what}: lands on {target:#x}");
                if r.r_type == 10 {
                    assert_eq!(d.u32(r.p + 4), LD_R2_24_R1, "{what}: the nop after the bl restores r2");
                }
                let marker =
                    relocs.iter().any(|m| m.file == r.file && m.offset == r.offset && matches!(m.r_type, 107 | 108));
                assert!(marker, "{what}: a TLSGD/TLSLD marker is on the bl");
            }
            107 | 108 => {
                assert!(relocs
                    .iter()
                    .any(|c| c.file == r.file && c.offset == r.offset && matches!(c.r_type, 10 | 116)));
            }
            t if toc_family(t).is_some() => {
                let (base, ds) = toc_family(t).expect("family");
                let mask: u16 = if ds { !3 } else { !0 };
                match t - base {
                    // Plain: G - .TOC., signed 16.
                    0 => ok(toc.wrapping_add(sext(u64::from(h() & mask), 16) as u64), want(r)),
                    // #lo with its #ha partner (same variable, RA = its RT).
                    1 => {
                        let ra = (d.u32(insn_at(r.p)) >> 16) & 0x1f;
                        let (ho, hr) = has
                            .get(&(r.file, r.section.clone(), ra))
                            .and_then(|v| {
                                v.iter()
                                    .filter(|(o, hr)| {
                                        *o < r.offset && hr.r_type == base + 3 && hr.sym == r.sym && hr.a == r.a
                                    })
                                    .max_by_key(|(o, _)| *o)
                            })
                            .unwrap_or_else(|| panic!("{what}: no @ha sets r{ra}"));
                        used.insert((r.file, r.section.clone(), *ho));
                        let ha = sext(u64::from(d.u16(hr.p)), 16) << 16;
                        ok(toc.wrapping_add((ha + sext(u64::from(h() & mask), 16)) as u64), want(r));
                    }
                    2 => some(&|x| (x >> 16) as u16),
                    _ => some(&|x| ((x + 0x8000) >> 16) as u16),
                }
                if ds && t - base < 2 {
                    assert_eq!(h() & 3, h0() & 3, "{what}: DS keeps the low two bits");
                }
            }
            74..=77 | 101..=106 | 114 | 115 => {
                let x = var_offset(l, &tls, r) as i64;
                let v = dtprel16(r.r_type, x).unwrap_or_else(|| panic!("{what}: {x:#x} overflows"));
                if matches!(r.r_type, 101 | 102) {
                    assert_eq!(x & 3, 0, "{what}: DS offset must be a multiple of 4");
                    assert_eq!(h(), (v & !3) | (h0() & 3), "{what}");
                } else {
                    assert_eq!(h(), v, "{what}: offset {x:#x}");
                }
            }
            78 => assert_eq!(d.u64(r.p), var_offset(l, &tls, r), "{what}"),
            68 => assert_eq!(d.u64(r.p), tls.module, "{what}: the module descriptor"),
            147..=151 => {
                let v = (u64::from(d.u32(r.p) & 0x3ffff) << 16) | u64::from(d.u32(r.p + 4) & 0xffff);
                let v = sext(v, 34);
                if r.r_type == 147 {
                    assert_eq!(v, var_offset(l, &tls, r) as i64, "{what}");
                } else {
                    ok(r.p.wrapping_add(v as u64), want(r));
                }
            }
            _ => continue,
        }
        seen.add(&name(r.r_type));
    }
    for r in relocs.iter().filter(|r| matches!(r.r_type, 82 | 86 | 94)) {
        let paired = used.contains(&(r.file, r.section.clone(), r.offset));
        assert!(
            paired || r.section == ".text" && l.file(r).starts_with("forms"),
            "[{}] {}: unpaired",
            l.tag,
            name(r.r_type)
        );
    }
    l.check_untouched(|r| match r.r_type {
        0 | 107 | 108 => 0..0,
        10 | 116 => r.offset..r.offset + 8,
        1 | 26 => r.offset..r.offset + 4,
        38 | 44 | 68 | 78 | 128..=151 => r.offset..r.offset + 8,
        _ => r.offset..r.offset + 2,
    });
    seen
}

const GD: &[&str] = &["R_PPC64_GOT_TLSGD16_HA", "R_PPC64_GOT_TLSGD16_LO", "R_PPC64_TLSGD", "R_PPC64_REL24"];
const LD: &[&str] = &["R_PPC64_GOT_TLSLD16_HA", "R_PPC64_GOT_TLSLD16_LO", "R_PPC64_TLSLD"];

#[test]
fn general_and_local_dynamic_from_gcc() {
    for e in ENDIANS {
        for (tag, want) in [
            ("O0", &[GD].concat()),
            ("O2", &[GD, LD, &["R_PPC64_DTPREL16_HA", "R_PPC64_DTPREL16_LO"]].concat()),
            ("O2-ld64", &[LD, &["R_PPC64_GOT_DTPREL16_HA", "R_PPC64_GOT_DTPREL16_LO_DS"]].concat()),
            ("O2-ld16", &[LD, &["R_PPC64_DTPREL16"]].concat()),
            (
                "O2-p10",
                &[
                    "R_PPC64_GOT_TLSGD_PCREL34",
                    "R_PPC64_GOT_TLSLD_PCREL34",
                    "R_PPC64_DTPREL34",
                    "R_PPC64_REL24_NOTOC",
                    "R_PPC64_TLSGD",
                ][..]
                    .to_vec(),
            ),
        ] {
            let f = format!("tls-{tag}.{e}.o");
            let def = format!("tls_def.{e}.o");
            let l = link(ARCH, &format!("{tag}.{e}"), &[&f, &def], &tls_abs());
            assert_eq!(l.dump.big_endian, e == "be");
            check(&l).require(&l.tag, want);
        }
    }
}

#[test]
fn every_other_form() {
    for e in ENDIANS {
        let f = format!("forms.{e}.o");
        let l = link(ARCH, &format!("forms.{e}"), &[&f], &tls_abs());
        let all: Vec<String> = [68, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 85, 91, 92, 93, 94]
            .into_iter()
            .chain([101, 102, 103, 104, 105, 106, 114, 115, 147, 148, 149, 151])
            .map(name)
            .collect();
        check(&l).require(&l.tag, &all.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

#[test]
fn initial_and_local_exec_are_refused() {
    for e in ENDIANS {
        let (ie, pie, def) = (format!("tls-ie.{e}.o"), format!("tls-pie.{e}.o"), format!("tls_def.{e}.o"));
        let line = link_error(ARCH, &[&ie, &def], &tls_abs());
        assert_refused(&line, &ie, "R_PPC64_GOT_TPREL16_", "initial-exec");
        let line = link_error(ARCH, &[&pie, &def], &tls_abs());
        assert_refused(&line, &pie, "R_PPC64_TPREL16_", "local-exec");
    }
}

#[test]
fn unresolvable_tls_is_an_error() {
    let line = link_error(ARCH, &["tls-O2.le.o"], &tls_abs());
    assert!(line.contains("tls-O2.le.o") && line.contains("tv_extern is not defined in this link"), "{line}");
}
