//! ELF RISC-V 64 relocations: every relocated field of every fixture is
//! checked against a value computed independently of the linker.
//!
//! Fixtures (`tests/fixtures/riscv64/`, see `regen.sh`) are linked with
//!
//!     jitlink link --noexec --slab-address 0x10000000 --slab-page-size 4096
//!         --abs ext_near=0x10080000 --abs ext_far=0x7f0000000000 ...
//!
//! (the compiler-made objects through the library, with their
//! R_RISCV_RELAX markers removed so that only the mandatory R_RISCV_ALIGN
//! relaxation changes offsets; call relaxation is checked against GNU ld
//! in `riscv64_relax.rs`). The objects are parsed with the `object`
//! crate; for every relocation the expected field is computed from the
//! RISC-V psABI formula with P = the section's address in the dump plus
//! the (ALIGN-moved) offset, S from the objects' symbols (or `--abs`), A
//! the addend, G + GOT a `got` entry of the dump holding S, L a `stubs`
//! entry (`auipc t3; ld t3; jalr t1, t3; nop` through a `got` entry
//! holding S). Instruction immediates are decoded with the ISA manual's
//! bit layouts (in `riscv64_common`), and their other bits must be as in
//! the object. Bytes no relocation touches must be the object's.

mod riscv64_common;

use object::elf;
use riscv64_common::*;
use std::path::PathBuf;

fn files(names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| fixture(n)).collect()
}

const NEAR_FAR: &[(&str, u64)] = &[("ext_near", EXT_NEAR), ("ext_far", EXT_FAR)];

fn check(tag: &str, names: &[&str], abs: &[(&str, u64)]) -> (Vec<Checked>, Dump) {
    let fs = files(names);
    let dump = link_cli(tag, &fs, abs, &[]).unwrap_or_else(|e| panic!("{e}"));
    let inputs = read_inputs(&fs);
    let ctx = Ctx::new(tag, &dump, &inputs, abs);
    let recs = ctx.check_all();
    ctx.check_symbols();
    check_coverage(tag, &dump);
    (recs, dump)
}

/// Every section, stub and GOT entry of the dump lies in its memory.
fn check_coverage(tag: &str, d: &Dump) {
    for s in &d.sections {
        d.bytes(s.address, s.size as usize, &format!("[{tag}] section {} {}", s.file, s.name));
    }
    for e in d.stubs.iter().chain(&d.got) {
        d.bytes(e.address, e.size as usize, &format!("[{tag}] entry for {}", e.target));
    }
}

#[test]
fn basic_relocations() {
    let (recs, d) = check("basic", &["basic.o", "basic_defs.o"], &[("ext_near", EXT_NEAR)]);
    assert_how(&recs, "basic.o", elf::R_RISCV_CALL, "gfunc", How::Direct);
    assert_how(&recs, "basic.o", elf::R_RISCV_CALL_PLT, "gfunc", How::Direct);
    assert_how(&recs, "basic.o", elf::R_RISCV_CALL, "ext_near", How::Direct);
    assert_how(&recs, "basic.o", elf::R_RISCV_JAL, "ext_near", How::Direct);
    assert_how(&recs, "basic.o", elf::R_RISCV_BRANCH, "lfunc", How::Direct);
    assert_how(&recs, "basic.o", elf::R_RISCV_RVC_BRANCH, "gfunc", How::Direct);
    assert_how(&recs, "basic_defs.o", elf::R_RISCV_JAL, "main", How::Direct);
    for t in [
        elf::R_RISCV_32,
        elf::R_RISCV_64,
        elf::R_RISCV_BRANCH,
        elf::R_RISCV_JAL,
        elf::R_RISCV_CALL,
        elf::R_RISCV_CALL_PLT,
        elf::R_RISCV_PCREL_HI20,
        elf::R_RISCV_PCREL_LO12_I,
        elf::R_RISCV_PCREL_LO12_S,
        elf::R_RISCV_HI20,
        elf::R_RISCV_LO12_I,
        elf::R_RISCV_LO12_S,
        elf::R_RISCV_RVC_BRANCH,
        elf::R_RISCV_RVC_JUMP,
        elf::R_RISCV_ADD8,
        elf::R_RISCV_ADD16,
        elf::R_RISCV_ADD32,
        elf::R_RISCV_ADD64,
        elf::R_RISCV_SUB8,
        elf::R_RISCV_SUB16,
        elf::R_RISCV_SUB32,
        elf::R_RISCV_SUB64,
        elf::R_RISCV_SUB6,
        elf::R_RISCV_SET6,
        elf::R_RISCV_SET8,
        elf::R_RISCV_SET16,
        elf::R_RISCV_SET32,
        elf::R_RISCV_32_PCREL,
    ] {
        assert!(types_of(&recs).contains(&t), "{} not checked", type_name(t));
    }
    // A symbol exactly at the end of its section.
    let end = d.section("basic.o", ".data.end").unwrap();
    assert_eq!(d.symbol("end_sym").unwrap().address, end.address + end.size);
    // No stub is used: every branch reaches. The compressed branch from
    // .text.b to gfunc (another section, ±256 bytes) got a veneer because
    // the link's code could exceed its range, and bypassed it.
    assert!(recs.iter().all(|r| !matches!(r.how, How::ViaStub(_))));
    assert!(d.stubs.iter().any(|s| s.target == "gfunc" && s.kind == "veneer"), "{:?}", d.stubs);
}

#[test]
fn far_targets_use_stubs_and_veneers() {
    let (recs, d) = check("far", &["far.o", "basic.o", "basic_defs.o"], NEAR_FAR);
    let plt = How::ViaStub("plt");
    let veneer = How::ViaStub("veneer");
    assert_how(&recs, "far.o", elf::R_RISCV_CALL, "ext_far", plt);
    assert_how(&recs, "far.o", elf::R_RISCV_CALL_PLT, "ext_far", plt);
    assert_how(&recs, "far.o", elf::R_RISCV_CALL, "ext_near", How::Direct);
    assert_how(&recs, "far.o", elf::R_RISCV_CALL_PLT, "ext_near", How::Direct);
    assert_how(&recs, "far.o", elf::R_RISCV_JAL, "ext_far", veneer);
    assert_how(&recs, "far.o", elf::R_RISCV_JAL, "ext_near", How::Direct);
    assert_how(&recs, "far.o", elf::R_RISCV_BRANCH, "ext_far", veneer);
    assert_how(&recs, "far.o", elf::R_RISCV_RVC_JUMP, "ext_far", veneer);
    assert_how(&recs, "far.o", elf::R_RISCV_RVC_BRANCH, "ext_far", veneer);
    assert_how(&recs, "far.o", elf::R_RISCV_PLT32, "gfunc", How::Direct);
    assert_how(&recs, "far.o", elf::R_RISCV_PLT32, "ext_far", plt);
    assert_how(&recs, "far.o", 41, "gvar", How::Got);
    assert_how(&recs, "far.o", 41, "ext_far", How::Got);
    for t in [elf::R_RISCV_SET_ULEB128, elf::R_RISCV_SUB_ULEB128, elf::R_RISCV_PLT32, 41] {
        assert!(types_of(&recs).contains(&t), "{} not checked", type_name(t));
    }
    // Flavours in the dump.
    assert!(d.stubs.iter().any(|s| s.target == "ext_far" && s.kind == "plt"));
    assert!(d.stubs.iter().any(|s| s.target == "ext_far" && s.kind == "veneer"));
    assert!(d.stubs.iter().all(|s| s.kind == "plt" || s.kind == "veneer"));
}

#[test]
fn got_relocations() {
    let (recs, d) = check("got", &["got.o", "basic.o", "basic_defs.o"], NEAR_FAR);
    for t in ["gdata", "ext_near", "ext_far", "lvar", "gfunc"] {
        assert_how(&recs, "got.o", elf::R_RISCV_GOT_HI20, t, How::Got);
        assert!(d.got.iter().any(|g| g.target == t), "no GOT entry for {t}");
    }
    assert!(recs
        .iter()
        .filter(|r| r.r_type == elf::R_RISCV_PCREL_LO12_I && r.file == "got.o")
        .all(|r| r.how == How::Got));
    assert_how(&recs, "got.o", elf::R_RISCV_CALL_PLT, "ext_far", How::ViaStub("plt"));
    assert_how(&recs, "got.o", elf::R_RISCV_CALL_PLT, "ext_near", How::Direct);
    assert_how(&recs, "got.o", elf::R_RISCV_CALL_PLT, "gfunc", How::Direct);
    assert_how(&recs, "got.o", 41, "gdata", How::Got);
}

/// The cross GCC's objects, -O0/-O2, PIC and not, with .eh_frame and
/// (-O2) aligned functions and loops: every relocation, after the
/// R_RISCV_ALIGN deletions at final addresses.
#[test]
fn compiler_objects() {
    let abs: &[(&str, u64)] = &[("printf", EXT_NEAR), ("memcpy", EXT_FAR + 0x1000)];
    let mut all = std::collections::BTreeSet::new();
    let mut aligned = 0;
    for v in ["O0-pic", "O0-nopic", "O2-pic", "O2-nopic"] {
        let tag = format!("cc-{v}");
        let fs = files(&[&format!("cc_main-{v}.o"), &format!("cc_lib-{v}.o")]);
        let dump = link_api(&tag, &fs, abs, true, false);
        let inputs = read_inputs(&fs);
        let ctx = Ctx::new(&tag, &dump, &inputs, abs);
        let recs = ctx.check_all();
        ctx.check_symbols();
        check_coverage(&tag, &dump);
        aligned += ctx.dels.values().filter(|d| d.total() > 0).count();
        assert!(recs.iter().any(|r| r.section == ".eh_frame"), "[{tag}] no .eh_frame relocation checked");
        all.extend(types_of(&recs));
        if v.ends_with("-pic") {
            assert_how(&recs, &format!("cc_main-{v}.o"), elf::R_RISCV_GOT_HI20, "counter", How::Got);
        }
        assert_how(&recs, &format!("cc_lib-{v}.o"), elf::R_RISCV_CALL_PLT, "memcpy", How::ViaStub("plt"));
        assert_how(&recs, &format!("cc_main-{v}.o"), elf::R_RISCV_CALL_PLT, "printf", How::Direct);
    }
    assert!(aligned > 0, "no R_RISCV_ALIGN deleted bytes in the compiler objects");
    for t in [elf::R_RISCV_GOT_HI20, elf::R_RISCV_32_PCREL, elf::R_RISCV_SET6, elf::R_RISCV_SUB6, elf::R_RISCV_RVC_JUMP]
    {
        assert!(all.contains(&t), "{} not seen in compiler output", type_name(t));
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

fn out_of_range(file: &str, section: &str, name: &str, offset: u64) {
    let line = link_fails(&files(&[file]), NEAR_FAR);
    assert_names_site(&line, file, section, name, offset);
    assert!(line.contains("out of range"), "{line}");
}

#[test]
fn out_of_range_branch_in_section() {
    out_of_range("oor_branch.o", ".text", "R_RISCV_BRANCH", 0);
}

#[test]
fn out_of_range_jal_in_section() {
    out_of_range("oor_jal.o", ".text", "R_RISCV_JAL", 0);
}

#[test]
fn out_of_range_hi20() {
    out_of_range("oor_hi20.o", ".text", "R_RISCV_HI20", 0);
}

#[test]
fn out_of_range_pcrel_hi20() {
    out_of_range("oor_pcrel.o", ".text", "R_RISCV_PCREL_HI20", 0);
}

#[test]
fn out_of_range_32() {
    out_of_range("oor_32.o", ".data", "R_RISCV_32", 0);
}

/// A veneer at the end of the code, itself beyond JAL range of the site.
#[test]
fn veneer_out_of_reach_is_an_error() {
    out_of_range("oor_veneer.o", ".text", "R_RISCV_JAL", 0);
}

#[test]
fn pcrel_lo12_without_hi20() {
    let line = link_fails(&files(&["bad_lo12.o"]), &[]);
    assert_names_site(&line, "bad_lo12.o", ".text", "R_RISCV_PCREL_LO12_I", 2);
    assert!(line.contains(".Lnohi"), "{line}");
}

#[test]
fn tls_is_not_supported_yet() {
    let line = link_fails(&files(&["tls.o"]), &[]);
    assert_names_site(&line, "tls.o", ".text", "R_RISCV_TPREL_HI20", 0);
    assert!(line.contains("local-exec TLS needs the process's static TLS block"), "{line}");
}
