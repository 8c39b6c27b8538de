//! An independent reference for the AArch64 fixups: the same objects
//! linked by GNU ld (the Debian cross binutils, `aarch64-linux-gnu-ld`)
//! with every input section placed at the address jitlink gave it
//! (a linker script generated from the dump's `sections`), `--no-relax`;
//! the section bytes ld wrote must equal jitlink's, relocated fields
//! included, except fields that depend on where each linker put its GOT
//! and branches to symbols no input defines (either linker may route them
//! through its own stub). See `aarch64_common::compare_with_ld`.
//!
//! Skipped with a message when the cross tools are not installed (set
//! `JITLINK_REQUIRE_CROSS` to make that a failure).

mod aarch64_common;

use aarch64_common::*;

fn abs_defs() -> Vec<(String, u64)> {
    vec![("ext_near".to_string(), EXT_NEAR), ("ext_far".to_string(), EXT_FAR)]
}

fn check(tag: &str, files: &[&str], min_fields: usize) {
    let Some((_, ld)) = cross_tools() else { return };
    let paths: Vec<_> = files.iter().map(|f| fixture(f)).collect();
    let linked = link_paths(tag, &paths, &[]);
    let c = compare_with_ld(&ld, &linked, &paths, &abs_defs());
    eprintln!("[{tag}] {c:?}");
    assert!(c.fields >= min_fields, "[{tag}] only {} relocated fields compared: {c:?}", c.fields);
}

#[test]
fn hand_written_fixtures_match_gnu_ld() {
    check("ld-basic", &["basic.o", "basic_defs.o"], 60);
}

#[test]
fn compiled_c_matches_gnu_ld() {
    for v in ["O0", "O2", "O2-pic", "O2-large", "O1-tiny-pic"] {
        let files = [format!("cprog-{v}.o"), format!("clib-{v}.o")];
        let refs: Vec<&str> = files.iter().map(String::as_str).collect();
        check(&format!("ld-c-{v}"), &refs, 10);
    }
}
