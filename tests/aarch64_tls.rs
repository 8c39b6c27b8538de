//! AArch64 thread-local storage: general dynamic, local dynamic and TLS
//! descriptors linked byte for byte; initial exec and local exec refused.
//!
//! Each test links objects of `tests/fixtures/aarch64/tls/` (GCC 12 output
//! of `tls.c` at -O0/-O2 with TLS descriptors, GCC's default, and with
//! `-mtls-dialect=trad`, plus the hand-written `ld.s`; `regen.sh`) with
//!
//!     jitlink link --noexec --slab-address 0x10000000
//!         --abs __tls_get_addr=0x20000000
//!         --abs __jitlink_tlsdesc_resolver=0x20001000 --dump-json ...
//!
//! and checks every TLS relocation against "ELF for the Arm 64-bit
//! Architecture" (AAELF64 §5.7.11), with the layout of
//! `tests/tls_common` (pairs `{module, offset}`, descriptors
//! `{resolver, &pair}` in the file's `$__GOT`, offsets from the template's
//! start):
//!
//! * `Page(G) - Page(P)` of the ADRP, and the LDR/ADD low 12 bits of its
//!   partner (the ADD or LDR of the same symbol reading the ADRP's
//!   register), `G - P` of ADR and LDR (literal), `G - GOT` of the MOVZ +
//!   MOVK pairs, where G is the variable's pair (TLSGD, `GTLSIDX(S,A)`),
//!   the module's pair (TLSLD, `GLDM(S)`) or the variable's descriptor
//!   (TLSDESC, `GTLSDESC(S+A)`; `_TLS_MODULE_BASE_` is offset 0);
//! * the DTPREL fields hold `S + A - template start`, in every MOVW,
//!   ADD and load/store form, checked ones within their range;
//! * the TLSDESC_LDR/ADD/CALL markers leave their instruction alone; the
//!   `BL __tls_get_addr` reaches it (directly or through its stub);
//! * every other byte of `.text` and `.tdata` is the object's, `.tbss`
//!   is zero.

#[path = "tls_common/mod.rs"]
mod tls_common;

use std::collections::HashMap;
use tls_common::*;

const ARCH: &str = "aarch64";

fn sext(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

fn page(x: u64) -> u64 {
    x & !0xfff
}

/// ADR/ADRP immhi:immlo (Arm ARM C6.2.10/C6.2.11).
fn adr_imm(w: u32) -> i64 {
    sext(u64::from(((w >> 5) & 0x7ffff) << 2 | (w >> 29) & 3), 21)
}

fn imm12(w: u32) -> u64 {
    u64::from((w >> 10) & 0xfff)
}

fn imm16(w: u32) -> u64 {
    u64::from((w >> 5) & 0xffff)
}

fn rd(w: u32) -> u32 {
    w & 0x1f
}

fn rn(w: u32) -> u32 {
    (w >> 5) & 0x1f
}

/// MOVZ (opc 10) or MOVN (opc 00), 64-bit.
fn is_movz(w: u32) -> bool {
    w & 0x7f80_0000 == 0x5280_0000
}

fn is_movn(w: u32) -> bool {
    w & 0x7f80_0000 == 0x1280_0000
}

fn is_movk(w: u32) -> bool {
    w & 0x7f80_0000 == 0x7280_0000
}

/// Where a `BL` at `p` lands; a stub there must jump to `__tls_get_addr`.
fn branch_target(w: u32, p: u64) -> u64 {
    assert_eq!(w & 0xfc00_0000, 0x9400_0000, "not a BL: {w:08x}");
    p.wrapping_add((sext(u64::from(w & 0x3ff_ffff), 26) * 4) as u64)
}

/// The relocation types (AAELF64 numbers) and names.
mod t {
    pub const CALL26: u32 = 283;
    pub const TLSGD_ADR_PREL21: u32 = 512;
    pub const TLSGD_ADR_PAGE21: u32 = 513;
    pub const TLSGD_ADD_LO12_NC: u32 = 514;
    pub const TLSGD_MOVW_G1: u32 = 515;
    pub const TLSGD_MOVW_G0_NC: u32 = 516;
    pub const TLSLD_ADR_PREL21: u32 = 517;
    pub const TLSLD_ADR_PAGE21: u32 = 518;
    pub const TLSLD_ADD_LO12_NC: u32 = 519;
    pub const TLSLD_MOVW_G1: u32 = 520;
    pub const TLSLD_MOVW_G0_NC: u32 = 521;
    pub const TLSLD_LD_PREL19: u32 = 522;
    pub const TLSDESC_LD_PREL19: u32 = 560;
    pub const TLSDESC_ADR_PREL21: u32 = 561;
    pub const TLSDESC_ADR_PAGE21: u32 = 562;
    pub const TLSDESC_LD64_LO12: u32 = 563;
    pub const TLSDESC_ADD_LO12: u32 = 564;
    pub const TLSDESC_OFF_G1: u32 = 565;
    pub const TLSDESC_OFF_G0_NC: u32 = 566;
    pub const TLSDESC_LDR: u32 = 567;
    pub const TLSDESC_ADD: u32 = 568;
    pub const TLSDESC_CALL: u32 = 569;
}

fn name(r_type: u32) -> String {
    let dtprel = [
        "MOVW_DTPREL_G2",
        "MOVW_DTPREL_G1",
        "MOVW_DTPREL_G1_NC",
        "MOVW_DTPREL_G0",
        "MOVW_DTPREL_G0_NC",
        "ADD_DTPREL_HI12",
        "ADD_DTPREL_LO12",
        "ADD_DTPREL_LO12_NC",
        "LDST8_DTPREL_LO12",
        "LDST8_DTPREL_LO12_NC",
        "LDST16_DTPREL_LO12",
        "LDST16_DTPREL_LO12_NC",
        "LDST32_DTPREL_LO12",
        "LDST32_DTPREL_LO12_NC",
        "LDST64_DTPREL_LO12",
        "LDST64_DTPREL_LO12_NC",
    ];
    match r_type {
        t::CALL26 => "CALL26".into(),
        512 => "TLSGD_ADR_PREL21".into(),
        513 => "TLSGD_ADR_PAGE21".into(),
        514 => "TLSGD_ADD_LO12_NC".into(),
        515 => "TLSGD_MOVW_G1".into(),
        516 => "TLSGD_MOVW_G0_NC".into(),
        517 => "TLSLD_ADR_PREL21".into(),
        518 => "TLSLD_ADR_PAGE21".into(),
        519 => "TLSLD_ADD_LO12_NC".into(),
        520 => "TLSLD_MOVW_G1".into(),
        521 => "TLSLD_MOVW_G0_NC".into(),
        522 => "TLSLD_LD_PREL19".into(),
        523..=538 => format!("TLSLD_{}", dtprel[(r_type - 523) as usize]),
        560 => "TLSDESC_LD_PREL19".into(),
        561 => "TLSDESC_ADR_PREL21".into(),
        562 => "TLSDESC_ADR_PAGE21".into(),
        563 => "TLSDESC_LD64_LO12".into(),
        564 => "TLSDESC_ADD_LO12".into(),
        565 => "TLSDESC_OFF_G1".into(),
        566 => "TLSDESC_OFF_G0_NC".into(),
        567 => "TLSDESC_LDR".into(),
        568 => "TLSDESC_ADD".into(),
        569 => "TLSDESC_CALL".into(),
        572 => "TLSLD_LDST128_DTPREL_LO12".into(),
        573 => "TLSLD_LDST128_DTPREL_LO12_NC".into(),
        _ => format!("type {r_type}"),
    }
}

/// The family of a GOT-relative TLS relocation and what its G must be.
fn want(l: &Linked, tls: &Tls, r: &Reloc) -> Option<Want> {
    Some(match r.r_type {
        512..=516 => Want::Pair(var_offset(l, tls, r)),
        517..=522 => Want::Pair(0),
        560..=566 => Want::Descriptor(var_offset(l, tls, r)),
        _ => return None,
    })
}

/// The relocations that set a register, by (file, section, register):
/// `(offset, relocation, value)`.
type Setters = HashMap<(usize, String, u32), Vec<(u64, Reloc, u64)>>;

/// Checks every TLS relocation of a link; returns the types checked.
fn check(l: &Linked) -> Seen {
    let abs = tls_abs();
    let tls = tls_layout(l);
    let relocs = l.relocs(&abs);
    let d = &l.dump;
    let mut seen = Seen::default();
    let word = |r: &Reloc| d.u32(r.p);
    // ADRPs by (file, section, register): (offset, relocation, page).
    let mut adrps: Setters = HashMap::new();
    // MOVZ/MOVN G1 by (file, section, register): (offset, relocation, value).
    let mut movs: Setters = HashMap::new();
    for r in &relocs {
        let w = word(r);
        match r.r_type {
            t::TLSGD_ADR_PAGE21 | t::TLSLD_ADR_PAGE21 | t::TLSDESC_ADR_PAGE21 => {
                let pg = page(r.p).wrapping_add((adr_imm(w) << 12) as u64);
                adrps.entry((r.file, r.section.clone(), rd(w))).or_default().push((r.offset, r.clone(), pg));
            }
            t::TLSGD_MOVW_G1 | t::TLSLD_MOVW_G1 | t::TLSDESC_OFF_G1 => {
                let v = if is_movz(w) {
                    imm16(w) << 16
                } else {
                    assert!(is_movn(w), "[{}] {} at {:#x}: MOVZ/MOVN expected: {w:08x}", l.tag, name(r.r_type), r.p);
                    !(imm16(w) << 16)
                };
                movs.entry((r.file, r.section.clone(), rd(w))).or_default().push((r.offset, r.clone(), v));
            }
            _ => {}
        }
    }
    // The nearest earlier relocation of the same family and variable that
    // set register `reg` in the same section.
    let partner = |map: &Setters, r: &Reloc, reg: u32, kinds: &[u32]| {
        map.get(&(r.file, r.section.clone(), reg))
            .and_then(|v| {
                v.iter()
                    .filter(|(o, h, _)| *o < r.offset && kinds.contains(&h.r_type) && h.sym == r.sym && h.a == r.a)
                    .max_by_key(|(o, _, _)| *o)
            })
            .map(|(_, h, v)| (h.clone(), *v))
            .unwrap_or_else(|| panic!("[{}] {} at {:#x}: no partner sets register {reg}", l.tag, name(r.r_type), r.p))
    };
    let mut used_adrps = std::collections::HashSet::new();
    let original: HashMap<(usize, String), Vec<u8>> = (0..l.inputs.len())
        .flat_map(|f| l.loaded_sections(f).into_iter().map(move |(n, _, data, _)| ((f, n), data)))
        .collect();
    for r in &relocs {
        let file = l.file(r).to_string();
        let w = word(r);
        let w0 = {
            let data = &original[&(r.file, r.section.clone())];
            u32::from_le_bytes(data[r.offset as usize..r.offset as usize + 4].try_into().unwrap())
        };
        let what = format!("[{}] {} {}+{:#x} {} {}", l.tag, file, r.section, r.offset, name(r.r_type), r.sym_name());
        let ok = |g: u64, wt: Want| assert!(is_entry(l, &tls, &file, g, wt), "{what}: addresses {g:#x}, not {wt:?}");
        match r.r_type {
            t::CALL26 => {
                assert_eq!(r.sym, "__tls_get_addr", "{what}: only __tls_get_addr is called");
                assert!(d.reaches(branch_target(w, r.p), "__tls_get_addr", TLS_GET_ADDR), "{what}");
            }
            t::TLSGD_ADR_PAGE21 | t::TLSLD_ADR_PAGE21 | t::TLSDESC_ADR_PAGE21 => {
                // Page(G) - Page(P): some right G lies on that page;
                // the partner check below pins it down.
                let pg = page(r.p).wrapping_add((adr_imm(w) << 12) as u64);
                let wt = want(l, &tls, r).expect("TLS");
                assert!(entries(l, &tls, &file, wt).iter().any(|&g| page(g) == pg), "{what}: page {pg:#x}");
                assert_eq!(w & !0x60ff_ffe0, w0 & !0x60ff_ffe0, "{what}: only the immediate changes");
            }
            t::TLSGD_ADD_LO12_NC | t::TLSLD_ADD_LO12_NC | t::TLSDESC_ADD_LO12 | t::TLSDESC_LD64_LO12 => {
                let scale = if r.r_type == t::TLSDESC_LD64_LO12 { 3 } else { 0 };
                let families: &[u32] = match r.r_type {
                    t::TLSGD_ADD_LO12_NC => &[t::TLSGD_ADR_PAGE21],
                    t::TLSLD_ADD_LO12_NC => &[t::TLSLD_ADR_PAGE21],
                    _ => &[t::TLSDESC_ADR_PAGE21],
                };
                let (h, pg) = partner(&adrps, r, rn(w), families);
                used_adrps.insert((h.file, h.section.clone(), h.offset));
                ok(pg + (imm12(w) << scale), want(l, &tls, r).expect("TLS"));
                assert_eq!(w & !0x003f_fc00, w0 & !0x003f_fc00, "{what}: only imm12 changes");
            }
            t::TLSGD_ADR_PREL21 | t::TLSLD_ADR_PREL21 | t::TLSDESC_ADR_PREL21 => {
                ok(r.p.wrapping_add(adr_imm(w) as u64), want(l, &tls, r).expect("TLS"));
            }
            t::TLSLD_LD_PREL19 | t::TLSDESC_LD_PREL19 => {
                let g = r.p.wrapping_add((sext(u64::from((w >> 5) & 0x7ffff), 19) * 4) as u64);
                ok(g, want(l, &tls, r).expect("TLS"));
            }
            t::TLSGD_MOVW_G1 | t::TLSLD_MOVW_G1 | t::TLSDESC_OFF_G1 => {}
            t::TLSGD_MOVW_G0_NC | t::TLSLD_MOVW_G0_NC | t::TLSDESC_OFF_G0_NC => {
                assert!(is_movk(w), "{what}: MOVK expected");
                let (_, hi) = partner(&movs, r, rd(w), &[r.r_type - 1]);
                let x = (hi & !0xffff) | imm16(w);
                let got = d.defined(&file, "_GLOBAL_OFFSET_TABLE_");
                ok(got.wrapping_add(x), want(l, &tls, r).expect("TLS"));
            }
            523..=538 | 572 | 573 => {
                let x = var_offset(l, &tls, r);
                match r.r_type {
                    // MOVZ/MOVN of group g (checked), MOVK (_NC).
                    523..=527 => {
                        let (g, checked) =
                            [(2, true), (1, true), (1, false), (0, true), (0, false)][(r.r_type - 523) as usize];
                        if checked {
                            let lim = 1i128 << (16 * (g + 1));
                            assert!((-lim..lim).contains(&(x as i64 as i128)), "{what}: {x:#x} out of range");
                            let (movz, imm) = if (x as i64) < 0 { (false, !x) } else { (true, x) };
                            assert_eq!(is_movz(w), movz, "{what}: MOVZ for X >= 0, MOVN below");
                            assert_eq!(imm16(w), (imm >> (16 * g)) & 0xffff, "{what}");
                        } else {
                            assert!(is_movk(w), "{what}");
                            assert_eq!(imm16(w), (x >> (16 * g)) & 0xffff, "{what}");
                        }
                    }
                    528 => {
                        assert!(x < 1 << 24, "{what}");
                        assert_eq!(imm12(w), x >> 12, "{what}");
                    }
                    529 => {
                        assert!(x < 1 << 12, "{what}");
                        assert_eq!(imm12(w), x, "{what}");
                    }
                    530 => assert_eq!(imm12(w), x & 0xfff, "{what}"),
                    _ => {
                        let (scale, checked) = match r.r_type {
                            531..=538 => ((r.r_type - 531) / 2, (r.r_type - 531) % 2 == 0),
                            _ => (4, r.r_type == 572),
                        };
                        if checked {
                            assert!(x < 1 << 12, "{what}: {x:#x} out of range");
                        }
                        assert_eq!(x & ((1 << scale) - 1), 0, "{what}: misaligned");
                        assert_eq!(imm12(w), (x & 0xfff) >> scale, "{what}");
                    }
                }
                assert_eq!(w & !0x003f_ffe0 & !(1 << 30), w0 & !0x003f_ffe0 & !(1 << 30), "{what}: opcode kept");
            }
            t::TLSDESC_LDR | t::TLSDESC_ADD | t::TLSDESC_CALL => {
                if !relocs
                    .iter()
                    .any(|o| o.file == r.file && o.section == r.section && o.offset == r.offset && o.r_type != r.r_type)
                {
                    assert_eq!(w, w0, "{what}: a marker changes nothing");
                }
            }
            _ => continue,
        }
        seen.add(&name(r.r_type));
    }
    for r in
        relocs.iter().filter(|r| matches!(r.r_type, t::TLSGD_ADR_PAGE21 | t::TLSLD_ADR_PAGE21 | t::TLSDESC_ADR_PAGE21))
    {
        assert!(
            used_adrps.contains(&(r.file, r.section.clone(), r.offset)),
            "[{}] {} at {:#x}: no ADD/LDR reads it",
            l.tag,
            name(r.r_type),
            r.p
        );
    }
    l.check_untouched(|r| match r.r_type {
        0 => 0..0,
        _ => r.offset..r.offset + 4,
    });
    seen
}

const DESC: &[&str] = &["TLSDESC_ADR_PAGE21", "TLSDESC_LD64_LO12", "TLSDESC_ADD_LO12", "TLSDESC_CALL"];
const TRAD: &[&str] = &["TLSGD_ADR_PAGE21", "TLSGD_ADD_LO12_NC", "CALL26"];

#[test]
fn descriptors_from_gcc() {
    for opt in ["O0", "O2"] {
        let f = format!("tls-{opt}.o");
        let l = link(ARCH, &format!("desc-{opt}"), &[&f, "tls_def.o"], &tls_abs());
        check(&l).require(&l.tag, DESC);
    }
}

#[test]
fn general_dynamic_from_gcc() {
    for opt in ["O0", "O2"] {
        let f = format!("tls-{opt}-trad.o");
        let l = link(ARCH, &format!("trad-{opt}"), &[&f, "tls_def.o"], &tls_abs());
        check(&l).require(&l.tag, TRAD);
    }
}

#[test]
fn local_dynamic_and_every_other_form() {
    let l = link(ARCH, "ld", &["ld.o"], &tls_abs());
    let seen = check(&l);
    let all: Vec<String> =
        (512..=522).chain(523..=538).chain(560..=569).chain(572..=573).map(name).chain(["CALL26".into()]).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    seen.require(&l.tag, &all);
    // The module's pair serves both TLSLD and _TLS_MODULE_BASE_.
    let tls = tls_layout(&l);
    assert!(!entries(&l, &tls, "ld.o", Want::Pair(0)).is_empty());
    assert_eq!(entries(&l, &tls, "ld.o", Want::Descriptor(0)).len(), 1, "the module base's descriptor");
}

#[test]
fn initial_and_local_exec_are_refused() {
    let line = link_error(ARCH, &["tls-ie.o", "tls_def.o"], &tls_abs());
    assert_refused(&line, "tls-ie.o", "R_AARCH64_TLSIE_", "initial-exec");
    let line = link_error(ARCH, &["tls-pie.o", "tls_def.o"], &tls_abs());
    assert_refused(&line, "tls-pie.o", "R_AARCH64_TLSLE_", "local-exec");
}

#[test]
fn unresolvable_tls_is_an_error() {
    // The variable defined nowhere in the link.
    let line = link_error(ARCH, &["tls-O2.o"], &tls_abs());
    assert!(line.contains("tls-O2.o") && line.contains("tv_extern is not defined in this link"), "{line}");
    // Nobody binds the descriptor resolver.
    let line = link_error(ARCH, &["tls-O2.o", "tls_def.o"], &[("__tls_get_addr", TLS_GET_ADDR)]);
    assert!(line.contains("__jitlink_tlsdesc_resolver"), "{line}");
}
