//! An independent reference for the PPC64 fixups: GNU ld (binutils, the
//! Debian cross packages `binutils-powerpc64le-linux-gnu` and
//! `binutils-powerpc64-linux-gnu`) links the same objects with every input
//! section placed at the address jitlink gave it (a linker script generated
//! from the dump's `sections`), and every byte of every section must be the
//! same — for the fixtures that need no GOT entry and no stub, whose bytes
//! therefore depend on the addresses alone.
//!
//! ld runs with `--no-relax --no-toc-optimize --traditional-format` (keep
//! instructions and `.toc` entries as the compiler wrote them). Known,
//! deliberate differences, exempted word by word:
//! * R_PPC64_ADDR30: binutils (howto `REL30`: rightshift 2, mask
//!   0xfffffffc, no bitpos) stores `(S + A - P) >> 2` without shifting it
//!   back into the top 30 bits; jitlink stores the ABI's word30 (the top 30
//!   bits of the word hold `(S + A - P) >> 2`).

#[path = "fixtures/ppc64/harness.rs"]
mod harness;

use harness::*;
use object::{Object, ObjectSection, RelocationFlags};
use std::collections::HashSet;
use std::path::PathBuf;

/// Words (addresses) of relocations exempt from the comparison.
fn exempt(linked: &Linked) -> HashSet<u64> {
    let o = Objects::new(linked);
    let mut out = HashSet::new();
    for i in 0..o.objs.len() {
        for sec in o.objs[i].sections() {
            for (off, rel) in sec.relocations() {
                let RelocationFlags::Elf { r_type } = rel.flags() else { continue };
                if r_type == 37 {
                    let base = o.section_addr(i, sec.index());
                    out.insert((base + off) & !3);
                }
            }
        }
    }
    out
}

fn require_ld(endian: &str) {
    assert!(
        have(cross_ld(endian)),
        "{} not found: install binutils-powerpc64le-linux-gnu and binutils-powerpc64-linux-gnu",
        cross_ld(endian)
    );
}

/// Links `names` with jitlink and with ld at the same addresses and
/// compares every section ld output holds.
fn compare(tag: &str, names: &[&str]) {
    for e in ENDIANS {
        require_ld(e);
        let paths: Vec<PathBuf> = names.iter().map(|n| fixture(&format!("{n}.{e}.o"))).collect();
        let linked = link(&format!("{tag}-{e}"), &paths, &[], false, &[]);
        assert!(linked.dump.stubs.is_empty() && linked.dump.got.is_empty(), "[{tag}-{e}] needs a GOT/stub");
        let files: Vec<(String, PathBuf)> = linked.inputs.iter().map(|(n, p, _)| (n.clone(), p.clone())).collect();
        let script = placement_script(&linked.dump, &files);
        let out = ld_link(e, &format!("{tag}-{e}"), &script, &paths, &[]);
        let skip = exempt(&linked);
        let mut compared = 0usize;
        for (name, addr, bytes) in output_sections(&out) {
            let ours = linked.dump.bytes(addr, bytes.len());
            for k in (0..bytes.len()).step_by(4) {
                let a = addr + k as u64;
                let end = (k + 4).min(bytes.len());
                if skip.contains(&a) {
                    continue;
                }
                assert_eq!(
                    &ours[k..end],
                    &bytes[k..end],
                    "[{tag}-{e}] {name} at {a:#x}: jitlink {:02x?}, GNU ld {:02x?}",
                    &ours[k..end],
                    &bytes[k..end]
                );
                compared += 1;
            }
        }
        assert!(compared > 20, "[{tag}-{e}] compared only {compared} words");
        assert!(!skip.is_empty() || tag != "gas-extra");
    }
}

#[test]
fn basic_matches_gnu_ld() {
    compare("ld-basic", &["basic", "basic_defs", "abs_defs"]);
}

#[test]
fn gas_extra_matches_gnu_ld() {
    compare("gas-extra", &["gas_extra", "abs_defs"]);
}

#[test]
fn compiled_code_matches_gnu_ld() {
    for v in ["O0_pie", "O2_nopie", "O2_pic", "O0_nopie"] {
        compare(&format!("ld-c-{v}"), &[&format!("cprog_{v}"), &format!("cprog_lib_{v}"), "libc_stub"]);
    }
}
