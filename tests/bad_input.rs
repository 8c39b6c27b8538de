//! Bad inputs: each must make `jitlink link --noexec` exit with status 1 and
//! print exactly one line on stderr that names the offending file, without
//! panicking (no "panicked", no "RUST_BACKTRACE" hint).
//!
//! Corrupt objects are made at run time from the fixtures in
//! `tests/fixtures/x86_64/` and written under `CARGO_TARGET_TMPDIR`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/x86_64").join(name)
}

fn read_fixture(name: &str) -> Vec<u8> {
    let path = fixture(name);
    fs::read(&path).unwrap_or_else(|e| panic!("cannot read {} ({e}); run regen.sh", path.display()))
}

/// Write `data` to a fresh file named `name` in the test tmp dir.
fn write_tmp(name: &str, data: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    fs::write(&path, data).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Run `jitlink link --noexec --slab-address 0x10000000 EXTRA... FILES...`
/// and check the failure contract; returns the error line.
fn expect_failure(case: &str, extra: &[&str], files: &[PathBuf], must_name: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jitlink"));
    cmd.args(["link", "--noexec", "--slab-address", "0x10000000"]);
    cmd.args(extra);
    cmd.args(files);
    cmd.env_remove("RUST_BACKTRACE");
    let out = cmd.output().expect("cannot run the jitlink binary");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "[{case}] jitlink panicked:\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "[{case}] expected exit status 1, got {:?}; stderr:\n{stderr}", out.status);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "[{case}] expected exactly one line on stderr, got:\n{stderr}");
    let line = lines[0].to_string();
    assert!(!line.trim().is_empty(), "[{case}] the error line is empty");
    for word in must_name {
        assert!(line.contains(word), "[{case}] the error line does not name {word:?}: {line}");
    }
    line
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// File offset of the first entry of `.rela.text` in `data`.
fn first_rela_text_entry(data: &[u8]) -> usize {
    let obj = object::File::parse(data).expect("fixture parses");
    let sec = obj.section_by_name(".rela.text").expect("fixture has .rela.text");
    let (off, size) = sec.file_range().expect(".rela.text has file contents");
    assert!(size >= 24 && size % 24 == 0, ".rela.text size {size}");
    off as usize
}

fn get_u64(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().unwrap())
}

fn put_u64(data: &mut [u8], at: usize, value: u64) {
    data[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// A copy of undef.o (one R_X86_64_PLT32 at .text+0x1 against missing_fn)
/// with its first `.rela.text` entry patched by `patch(r_offset, r_info)`.
fn patched_undef(name: &str, patch: impl Fn(u64, u64) -> (u64, u64)) -> PathBuf {
    let mut data = read_fixture("undef.o");
    let at = first_rela_text_entry(&data);
    let (r_offset, r_info) = patch(get_u64(&data, at), get_u64(&data, at + 8));
    put_u64(&mut data, at, r_offset);
    put_u64(&mut data, at + 8, r_info);
    write_tmp(name, &data)
}

#[test]
fn truncated_object() {
    let data = read_fixture("basic.o");
    let path = write_tmp("bad_input-truncated.o", &data[..100]);
    let name = file_name(&path);
    expect_failure("truncated", &["--phony-externals"], &[path], &[name.as_str()]);
}

#[test]
fn random_bytes() {
    // 4 KiB from a fixed xorshift64* sequence.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(4096);
    while data.len() < 4096 {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        data.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    assert_ne!(&data[..4], b"\x7fELF");
    let path = write_tmp("bad_input-random.o", &data);
    let name = file_name(&path);
    expect_failure("random", &["--phony-externals"], &[path], &[name.as_str()]);
}

#[test]
fn relocation_offset_past_section() {
    // .text of undef.o is 6 bytes long; put the fixup far past it.
    let path = patched_undef("bad_input-roffset.o", |_, info| (0x1000, info));
    let name = file_name(&path);
    expect_failure("r_offset past section", &["--phony-externals"], &[path], &[name.as_str()]);
}

#[test]
fn relocation_offset_straddles_section_end() {
    // The 4-byte field would start at the last byte of .text (size 6).
    let path = patched_undef("bad_input-rstraddle.o", |_, info| (5, info));
    let name = file_name(&path);
    expect_failure("r_offset straddles section end", &["--phony-externals"], &[path], &[name.as_str()]);
}

#[test]
fn relocation_symbol_index_out_of_range() {
    let path = patched_undef("bad_input-rsym.o", |off, info| (off, (0x7fffu64 << 32) | (info & 0xffff_ffff)));
    let name = file_name(&path);
    expect_failure("symbol index out of range", &["--phony-externals"], &[path], &[name.as_str()]);
}

#[test]
fn unknown_relocation_type() {
    let path = patched_undef("bad_input-rtype.o", |off, info| (off, (info & !0xffff_ffffu64) | 200));
    let name = file_name(&path);
    let line = expect_failure("unknown relocation type", &["--phony-externals"], &[path], &[name.as_str()]);
    let lower = line.to_lowercase();
    assert!(
        line.contains("200") || lower.contains("unknown") || lower.contains("unsupported"),
        "[unknown relocation type] the error line gives neither the type number 200 nor says \
         unknown/unsupported: {line}"
    );
}

#[test]
fn undefined_symbol() {
    // Without --phony-externals (and missing_fn is not in the host process).
    expect_failure("undefined symbol", &[], &[fixture("undef.o")], &["missing_fn", "undef.o"]);
}

#[test]
fn duplicate_strong_definition() {
    expect_failure("duplicate definition", &[], &[fixture("dup_a.o"), fixture("dup_b.o")], &["dup_a.o", "dup_b.o"]);
}
