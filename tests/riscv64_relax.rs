//! RISC-V linker relaxation: R_RISCV_ALIGN padding trimmed and
//! R_RISCV_CALL[_PLT] + R_RISCV_RELAX pairs shortened to `JAL` / `C.J`
//! within a section, with symbols, sizes, edges and `.eh_frame` following
//! the deleted bytes.
//!
//! Three independent checks:
//! * GNU ld (`riscv64-linux-gnu-ld --relax`, binutils 2.40) links the same
//!   objects with every input section placed at jitlink's address (a
//!   generated linker script); every byte of every section and every
//!   symbol's address and size must be the same (the fixtures keep to what
//!   both linkers relax: calls within one section, well inside range).
//! * The relocation checker of `riscv64_common` reconstructs the
//!   deletions by walking the object's instructions beside the linked
//!   ones (ALIGN padding must align at the final address; a relaxed call
//!   must be a `JAL` with the pair's `rd` or, for `rd = x0`, a `C.J`) and
//!   checks every relocation's formula at the moved offsets.
//! * `.eh_frame` is decoded: each FDE's PC range is its function's new
//!   address and size, and each `DW_CFA_advance_loc` lands right after the
//!   instruction its CFI directive follows.

mod riscv64_common;

use object::elf;
use riscv64_common::*;
use std::path::PathBuf;

fn link_relaxed(tag: &str, names: &[&str], abs: &[(&str, u64)]) -> (Dump, Vec<Checked>) {
    let fs: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    let dump = link_cli(tag, &fs, abs, &[]).unwrap_or_else(|e| panic!("{e}"));
    let inputs = read_inputs(&fs);
    let ctx = Ctx::new(tag, &dump, &inputs, abs);
    let recs = ctx.check_all();
    ctx.check_symbols();
    (dump, recs)
}

fn against_ld(tag: &str, names: &[&str], dump: &Dump, defsyms: &[(String, u64)]) {
    if !have_ld() {
        panic!("{LD} not found: apt-get install binutils-riscv64-linux-gnu");
    }
    let inputs: Vec<(PathBuf, String)> = names.iter().map(|n| (fixture(n), n.to_string())).collect();
    let out = ld_link(tag, &inputs, dump, defsyms, true);
    let n = compare_with_ld(tag, dump, &out, &|_, _, _| false);
    assert!(n > 0);
    for (name, addr, size, global) in ld_symbols(&out) {
        let found: Vec<&DSymbol> = dump
            .symbols
            .iter()
            .filter(|s| s.name == name && s.kind == "defined" && (global || s.scope == "local"))
            .collect();
        assert!(
            found.iter().any(|s| s.address == addr && s.size == size),
            "[{tag}] ld's {name} at {addr:#x} size {size}; jitlink's: {:?}",
            found.iter().map(|s| (s.address, s.size)).collect::<Vec<_>>()
        );
    }
}

#[test]
fn relaxation_matches_gnu_ld() {
    let (d, recs) = link_relaxed("relax", &["relax.o"], &[]);
    against_ld("relax", &["relax.o"], &d, &[]);
    // What happened: every call became JAL, the tail calls C.J.
    let calls: Vec<&Checked> =
        recs.iter().filter(|r| matches!(r.r_type, elf::R_RISCV_CALL | elf::R_RISCV_CALL_PLT)).collect();
    assert_eq!(calls.len(), 8);
    assert_eq!(calls.iter().filter(|r| r.how == How::Relaxed(2)).count(), 2, "{calls:?}");
    assert_eq!(calls.iter().filter(|r| r.how == How::Relaxed(4)).count(), 6, "{calls:?}");
    // Alignment at final addresses; the text shrank.
    let text = d.section("relax.o", ".text").unwrap();
    assert!(text.size < 0x9a, "nothing deleted: {}", text.size);
    assert_eq!(d.symbol("helper2").unwrap().address % 32, 0);
    let helper = d.symbols.iter().find(|s| s.name == "helper").unwrap();
    assert_eq!(helper.address % 16, 0);
    // A symbol exactly at the end of its section moves with it.
    let end = d.symbol("text_end").unwrap();
    assert_eq!(end.address, text.address + text.size);
    let data = d.section("relax.o", ".data").unwrap();
    assert_eq!(d.le(data.address + 24, 8, "table[3]"), end.address);
}

#[test]
fn relaxation_reaches_a_fixed_point() {
    let (d, recs) = link_relaxed("relax_far", &["relax_far.o"], &[]);
    against_ld("relax_far", &["relax_far.o"], &d, &[]);
    let how = |target: &str| recs.iter().find(|r| r.target == target).map(|r| r.how).unwrap();
    // far_target came into range only once the near calls were relaxed.
    assert_eq!(how("far_target"), How::Relaxed(4));
    assert_eq!(how("near_fn"), How::Relaxed(4));
    assert_eq!(how("far_far"), How::Direct);
}

/// `.eh_frame` decoded: CIE augmentation "zR" with pointer encoding
/// DW_EH_PE_pcrel|sdata4 (0x1b), FDE pc_begin/pc_range, and the CFA
/// program's advances (DW_CFA_advance_loc: high bits 01, delta in the low
/// 6 bits, code alignment factor 1).
#[test]
fn eh_frame_follows_deleted_bytes() {
    let (d, _) = link_relaxed("relax_eh", &["relax.o"], &[]);
    let eh = d.section("relax.o", ".eh_frame").unwrap();
    let bytes = d.bytes(eh.address, eh.size as usize, ".eh_frame").to_vec();
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let mut fdes = Vec::new();
    let mut o = 0usize;
    while o + 4 <= bytes.len() {
        let len = u32_at(o) as usize;
        if len == 0 {
            break;
        }
        let id = u32_at(o + 4);
        if id != 0 {
            let pc_field = eh.address + o as u64 + 8;
            let pc_begin = (pc_field as i64 + i64::from(u32_at(o + 8) as i32)) as u64;
            let pc_range = u64::from(u32_at(o + 12));
            let aug_len = bytes[o + 16] as usize;
            let prog = bytes[o + 17 + aug_len..o + 4 + len].to_vec();
            fdes.push((pc_begin, pc_range, prog));
        }
        o += 4 + len;
    }
    assert_eq!(fdes.len(), 3, "FDEs");
    for name in ["rmain", "helper", "helper2"] {
        let s = d.symbols.iter().find(|s| s.name == name && s.kind == "defined").unwrap();
        let fde = fdes.iter().find(|f| f.0 == s.address).unwrap_or_else(|| panic!("no FDE starts at {name}"));
        assert_eq!(fde.1, s.size, "{name}: FDE pc_range vs the function's size");
        // Each advance lands right after the instruction the directive
        // followed: addi sp,-N (c.addi16sp) / sd ra / ld ra / addi sp,+N.
        let mut loc = fde.0;
        for &op in &fde.2 {
            if op >> 6 == 1 {
                loc += u64::from(op & 0x3f);
                let before = d.u16_at(loc - 2, "insn");
                assert!(
                    matches!(before, 0x1141 | 0x1101 | 0xe406 | 0xec06 | 0x60a2 | 0x60e2 | 0x0141 | 0x6105),
                    "{name}: advance to {loc:#x} follows {before:#06x}, not a CFI'd instruction"
                );
            }
        }
        if name != "helper" {
            assert!(fde.2.iter().filter(|&&op| op >> 6 == 1).count() >= 4, "{name}: advances");
        }
    }
}

/// The compiler objects with call relaxation on: every relocation's
/// formula at the moved offsets (calls to the same section relaxed, to
/// other sections and files not).
#[test]
fn compiler_objects_relaxed() {
    let abs: &[(&str, u64)] = &[("printf", EXT_NEAR), ("memcpy", EXT_FAR + 0x1000)];
    let mut relaxed = 0;
    for v in ["O0-pic", "O0-nopic", "O2-pic", "O2-nopic"] {
        let tag = format!("cc-relaxed-{v}");
        let names = [format!("cc_main-{v}.o"), format!("cc_lib-{v}.o")];
        let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let (_, recs) = link_relaxed(&tag, &names, abs);
        relaxed += recs.iter().filter(|r| matches!(r.how, How::Relaxed(_))).count();
        assert_how(&recs, names[1], elf::R_RISCV_CALL_PLT, "memcpy", How::ViaStub("plt"));
    }
    assert!(relaxed >= 4, "only {relaxed} calls relaxed");
}
