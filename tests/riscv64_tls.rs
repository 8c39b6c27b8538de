//! RISC-V 64 thread-local storage: general dynamic and TLS descriptors
//! linked byte for byte; initial exec and local exec refused.
//!
//! Each test links objects of `tests/fixtures/riscv64/tls/` (GCC 12 output
//! of `tls.c` at -O0/-O2, general dynamic; `desc.s`, the TLS descriptor
//! code of GCC 14 / LLVM 18, which GCC 12 cannot emit; `regen.sh`) with
//!
//!     jitlink link --noexec --slab-address 0x10000000
//!         --abs __tls_get_addr=0x20000000
//!         --abs __jitlink_tlsdesc_resolver=0x20001000 --dump-json ...
//!
//! and checks every TLS relocation against the RISC-V psABI ("Thread Local
//! Storage", "Relocations"), with the layout of `tests/tls_common`:
//!
//! * an `AUIPC` with R_RISCV_TLS_GD_HI20 / TLSDESC_HI20 and each I-type
//!   instruction whose R_RISCV_PCREL_LO12_I / TLSDESC_LOAD_LO12 /
//!   TLSDESC_ADD_LO12 names its label together address (`label + hi20 +
//!   lo12`) the variable's `{module, offset}` pair, or its descriptor
//!   `{resolver, &pair}` (of `S + A`), in the file's `$__GOT`;
//! * R_RISCV_TLS_DTPREL64/32 hold `S + A - template start`,
//!   R_RISCV_TLS_DTPMOD64 the module descriptor's address;
//! * the `call __tls_get_addr` (`AUIPC` + `JALR`) reaches it, directly or
//!   through its stub; R_RISCV_TLSDESC_CALL leaves its `JALR` alone;
//! * every other byte of the loaded sections is the object's.

#[path = "tls_common/mod.rs"]
mod tls_common;

use std::collections::HashMap;
use tls_common::*;

const ARCH: &str = "riscv64";

const CALL_PLT: u32 = 19;
const PCREL_LO12_I: u32 = 24;
const TLS_DTPMOD64: u32 = 7;
const TLS_DTPREL32: u32 = 8;
const TLS_DTPREL64: u32 = 9;
const TLS_GD_HI20: u32 = 22;
const ALIGN: u32 = 43;
const RELAX: u32 = 51;
const TLSDESC_HI20: u32 = 62;
const TLSDESC_LOAD_LO12: u32 = 63;
const TLSDESC_ADD_LO12: u32 = 64;
const TLSDESC_CALL: u32 = 65;

fn name(t: u32) -> &'static str {
    match t {
        CALL_PLT => "R_RISCV_CALL_PLT",
        PCREL_LO12_I => "R_RISCV_PCREL_LO12_I",
        TLS_DTPMOD64 => "R_RISCV_TLS_DTPMOD64",
        TLS_DTPREL32 => "R_RISCV_TLS_DTPREL32",
        TLS_DTPREL64 => "R_RISCV_TLS_DTPREL64",
        TLS_GD_HI20 => "R_RISCV_TLS_GD_HI20",
        TLSDESC_HI20 => "R_RISCV_TLSDESC_HI20",
        TLSDESC_LOAD_LO12 => "R_RISCV_TLSDESC_LOAD_LO12",
        TLSDESC_ADD_LO12 => "R_RISCV_TLSDESC_ADD_LO12",
        TLSDESC_CALL => "R_RISCV_TLSDESC_CALL",
        _ => "other",
    }
}

/// U-type immediate (`AUIPC`), as added to the PC.
fn u_imm(w: u32) -> i64 {
    i64::from((w & 0xffff_f000) as i32)
}

/// I-type immediate (`ADDI`, loads, `JALR`).
fn i_imm(w: u32) -> i64 {
    i64::from((w as i32) >> 20)
}

/// Checks every TLS relocation of a link; returns the types checked.
fn check(l: &Linked) -> Seen {
    let abs = tls_abs();
    let tls = tls_layout(l);
    let relocs = l.relocs(&abs);
    assert!(relocs.iter().all(|r| r.r_type != ALIGN), "[{}] R_RISCV_ALIGN would move offsets", l.tag);
    let d = &l.dump;
    let mut seen = Seen::default();
    // The HI20s by address: (relocation, what the pair must be).
    let mut his: HashMap<u64, (Reloc, Want)> = HashMap::new();
    for r in relocs.iter().filter(|r| matches!(r.r_type, TLS_GD_HI20 | TLSDESC_HI20)) {
        let off = var_offset(l, &tls, r);
        let want = if r.r_type == TLS_GD_HI20 { Want::Pair(off) } else { Want::Descriptor(off) };
        his.insert(r.p, (r.clone(), want));
    }
    let mut used = std::collections::HashSet::new();
    for r in &relocs {
        let file = l.file(r).to_string();
        let what = format!("[{}] {} {}+{:#x} {} {}", l.tag, file, r.section, r.offset, name(r.r_type), r.sym_name());
        let w = d.u32(r.p);
        match r.r_type {
            TLS_GD_HI20 | TLSDESC_HI20 => {
                assert_eq!(w & 0x7f, 0x17, "{what}: AUIPC expected");
                continue;
            }
            PCREL_LO12_I | TLSDESC_LOAD_LO12 | TLSDESC_ADD_LO12 => {
                let label = r.s.expect("label").wrapping_add(r.a as u64);
                let Some((hi, want)) = his.get(&label) else {
                    assert_eq!(r.r_type, PCREL_LO12_I, "{what}: no TLS HI20 at its label {label:#x}");
                    continue;
                };
                used.insert(label);
                if r.r_type != PCREL_LO12_I {
                    assert_eq!(hi.r_type, TLSDESC_HI20, "{what}: its label is not a TLSDESC_HI20");
                }
                let g = label.wrapping_add(u_imm(d.u32(label)) as u64).wrapping_add(i_imm(w) as u64);
                assert!(is_entry(l, &tls, &file, g, *want), "{what}: addresses {g:#x}, not {want:?}");
                // TLSDESC_LOAD_LO12 loads the resolver: the descriptor's word 0.
                if r.r_type == TLSDESC_LOAD_LO12 {
                    assert_eq!(w & 0x707f, 0x3003, "{what}: LD expected");
                }
            }
            CALL_PLT => {
                assert_eq!(r.sym, "__tls_get_addr", "{what}: only __tls_get_addr is called");
                let target = r.p.wrapping_add(u_imm(w) as u64).wrapping_add(i_imm(d.u32(r.p + 4)) as u64);
                assert!(d.reaches(target, "__tls_get_addr", TLS_GET_ADDR), "{what}: lands on {target:#x}");
            }
            TLS_DTPREL64 => assert_eq!(d.u64(r.p), var_offset(l, &tls, r), "{what}"),
            TLS_DTPREL32 => assert_eq!(u64::from(w), var_offset(l, &tls, r), "{what}"),
            TLS_DTPMOD64 => assert_eq!(d.u64(r.p), tls.module, "{what}: the module descriptor"),
            TLSDESC_CALL => {
                let data = &l.loaded_sections(r.file).into_iter().find(|s| s.0 == r.section).expect("section").2;
                let w0 = u32::from_le_bytes(data[r.offset as usize..r.offset as usize + 4].try_into().unwrap());
                assert_eq!(w, w0, "{what}: the JALR is left alone");
                assert_eq!(w & 0x7fff, 0x02e7, "{what}: jalr t0 expected");
            }
            _ => continue,
        }
        seen.add(name(r.r_type));
    }
    for (label, (hi, _)) in &his {
        assert!(used.contains(label), "[{}] {} at {label:#x}: no LO12 completes it", l.tag, name(hi.r_type));
        seen.add(name(hi.r_type));
    }
    l.check_untouched(|r| match r.r_type {
        RELAX | ALIGN | TLSDESC_CALL => 0..0,
        CALL_PLT | TLS_DTPREL64 | TLS_DTPMOD64 => r.offset..r.offset + 8,
        _ => r.offset..r.offset + 4,
    });
    seen
}

#[test]
fn general_dynamic_from_gcc() {
    for opt in ["O0", "O2"] {
        let f = format!("tls-{opt}.o");
        let l = link(ARCH, &format!("gd-{opt}"), &[&f, "tls_def.o"], &tls_abs());
        check(&l).require(&l.tag, &["R_RISCV_TLS_GD_HI20", "R_RISCV_PCREL_LO12_I", "R_RISCV_CALL_PLT"]);
    }
}

#[test]
fn descriptors_and_data_words() {
    let l = link(ARCH, "desc", &["desc.o", "tls_def.o"], &tls_abs());
    let seen = check(&l);
    seen.require(
        &l.tag,
        &[
            "R_RISCV_TLSDESC_HI20",
            "R_RISCV_TLSDESC_LOAD_LO12",
            "R_RISCV_TLSDESC_ADD_LO12",
            "R_RISCV_TLSDESC_CALL",
            "R_RISCV_TLS_DTPREL64",
            "R_RISCV_TLS_DTPREL32",
            "R_RISCV_TLS_DTPMOD64",
        ],
    );
    assert_eq!(seen.0["R_RISCV_TLSDESC_HI20"], 6);
}

#[test]
fn initial_and_local_exec_are_refused() {
    let line = link_error(ARCH, &["tls-ie.o", "tls_def.o"], &tls_abs());
    assert_refused(&line, "tls-ie.o", "R_RISCV_TLS_GOT_HI20", "initial-exec");
    let line = link_error(ARCH, &["tls-pie.o", "tls_def.o"], &tls_abs());
    assert_refused(&line, "tls-pie.o", "R_RISCV_TPREL_", "local-exec");
}

#[test]
fn unresolvable_tls_is_an_error() {
    let line = link_error(ARCH, &["tls-O2.o"], &tls_abs());
    assert!(line.contains("tls-O2.o") && line.contains("tv_extern is not defined in this link"), "{line}");
    let line = link_error(ARCH, &["desc.o", "tls_def.o"], &[("__tls_get_addr", TLS_GET_ADDR)]);
    assert!(line.contains("__jitlink_tlsdesc_resolver"), "{line}");
}
