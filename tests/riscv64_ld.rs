//! An independent reference: GNU ld (`riscv64-linux-gnu-ld`, binutils
//! 2.40) links the same objects with every input section placed at the
//! address jitlink gave it (a linker script generated from the dump's
//! `sections`, one output section each), and every byte of every section
//! must be the same.
//!
//! Links without call relaxation on both sides (`ld --no-relax`, which
//! still does the mandatory R_RISCV_ALIGN; jitlink with the R_RISCV_RELAX
//! markers removed by a pre-prune pass, or fixtures that have none), so
//! that every offset agrees; relaxation itself is compared with
//! `ld --relax` in `riscv64_relax.rs`. Externals are `--abs` here and
//! `--defsym` there. PIC code loads addresses from a GOT, which each
//! linker puts elsewhere: those instructions are skipped here (the
//! relocation checker follows them to the entry); so are the NOPs kept of
//! R_RISCV_ALIGN padding, which ld --no-relax and --relax fill
//! differently (the checker requires NOPs there).

mod riscv64_common;

use riscv64_common::*;
use std::path::PathBuf;

fn inputs(names: &[&str]) -> Vec<(PathBuf, String)> {
    names.iter().map(|n| (fixture(n), n.to_string())).collect()
}

#[test]
fn basic_fixture_matches_gnu_ld() {
    assert!(have_ld(), "{LD} not found: apt-get install binutils-riscv64-linux-gnu");
    let names = ["basic.o", "basic_defs.o"];
    let fs: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    let abs = [("ext_near", EXT_NEAR)];
    let dump = link_cli("ld-basic", &fs, &abs, &[]).unwrap_or_else(|e| panic!("{e}"));
    let out = ld_link("ld-basic", &inputs(&names), &dump, &[("ext_near".into(), EXT_NEAR)], false);
    let n = compare_with_ld("ld-basic", &dump, &out, &|_, _, _| false);
    // Every section of both files (COMMON included) was compared.
    assert!(n > 0x900, "only {n} bytes compared");
    for (name, addr, _, global) in ld_symbols(&out) {
        if global {
            assert_eq!(dump.symbol(&name).map(|s| s.address), Some(addr), "{name}");
        }
    }
}

#[test]
fn compiler_objects_match_gnu_ld() {
    assert!(have_ld(), "{LD} not found: apt-get install binutils-riscv64-linux-gnu");
    let abs = [("printf", EXT_NEAR), ("memcpy", EXT_NEAR + 0x40)];
    let defsyms: Vec<(String, u64)> = abs.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    for v in ["O0-pic", "O0-nopic", "O2-pic", "O2-nopic"] {
        let tag = format!("ld-cc-{v}");
        let names = [format!("cc_main-{v}.o"), format!("cc_lib-{v}.o")];
        let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let fs: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
        let dump = link_api(&tag, &fs, &abs, true, false);
        let out = ld_link(&tag, &inputs(&names), &dump, &defsyms, false);
        let data = read_inputs(&fs);
        let ctx = Ctx::new(&tag, &dump, &data, &abs);
        ctx.check_all();
        let got = ctx.got_sites();
        assert_eq!(got.is_empty(), v.ends_with("nopic"), "[{tag}] GOT sites: {}", got.len());
        let pad = ctx.padding_sites();
        let skip = |f: &str, s: &str, o: u64| {
            let k = (f.to_string(), s.to_string(), o);
            got.contains(&k) || pad.contains(&k)
        };
        let n = compare_with_ld(&tag, &dump, &out, &skip);
        assert!(n > 1000, "[{tag}] only {n} bytes compared");
    }
}
