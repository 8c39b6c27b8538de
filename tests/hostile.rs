//! Hostile inputs: every one makes `jitlink link --noexec --phony-externals`
//! exit with status 1 and one line on stderr naming the file and the field
//! at fault, fast and without a panic; the few that are merely unusual
//! (zero alignment, a thin archive's index) link.
//!
//! The fixtures in `tests/fixtures/hostile/` are made by `make.py` there
//! from `tests/fixtures/x86_64/`; `regressions/` holds inputs the fuzzers
//! found (see docs/fuzzing.md), each of which must give a link or an
//! error. The large cases (tens of thousands of sections, pathological
//! string tables) are generated here at run time rather than committed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn hostile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile").join(name)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/x86_64").join(name)
}

fn write_tmp(name: &str, data: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    fs::write(&path, data).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

struct Outcome {
    status: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

fn jitlink(args: &[&str], files: &[&Path]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jitlink"));
    cmd.args(["link", "--noexec"]).args(args).args(files).env_remove("RUST_BACKTRACE");
    let t = Instant::now();
    let out = cmd.output().expect("cannot run the jitlink binary");
    let elapsed = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE") && !stderr.contains("internal error"),
        "{files:?}: jitlink panicked:\n{stderr}"
    );
    Outcome { status: out.status.code(), stderr, elapsed }
}

/// Links `file` alone with phony externals; expects status 1 and one line
/// naming the file and containing every one of `needles`, within 5 s.
fn expect_error_in(file: &Path, needles: &[&str]) -> String {
    let o = jitlink(&["--phony-externals"], &[file]);
    let case = file.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(o.status, Some(1), "[{case}] expected exit status 1; stderr:\n{}", o.stderr);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "[{case}] expected one line on stderr, got:\n{}", o.stderr);
    let line = lines[0];
    assert!(line.contains(&case), "[{case}] the error does not name the file: {line}");
    for n in needles {
        assert!(line.contains(n), "[{case}] the error does not contain {n:?}: {line}");
    }
    assert!(o.elapsed < Duration::from_secs(5), "[{case}] took {:?}", o.elapsed);
    line.to_string()
}

fn expect_error(name: &str, needles: &[&str]) -> String {
    expect_error_in(&hostile(name), needles)
}

fn expect_link(args: &[&str], files: &[&Path]) {
    let o = jitlink(args, files);
    assert_eq!(o.status, Some(0), "{files:?}: expected a link; stderr:\n{}", o.stderr);
}

#[test]
fn truncated_elf_header() {
    expect_error("truncated_header.o", &["ELF header truncated", "40 bytes"]);
}

#[test]
fn truncated_section_header_table() {
    expect_error("truncated_shdrs.o", &["section header table truncated", "e_shoff 0xa88", "14 entries (e_shnum)"]);
}

#[test]
fn section_past_end_of_file() {
    expect_error("section_past_eof.o", &["section 2 (.text)", "sh_offset 0x10000", "past end of file"]);
}

#[test]
fn shstrndx_out_of_range() {
    expect_error("shstrndx_range.o", &["e_shstrndx 200 out of range (14 sections)"]);
}

#[test]
fn symtab_sh_link_out_of_range() {
    expect_error("symtab_link_range.o", &["(.symtab)", "sh_link 99 (string table) out of range"]);
}

#[test]
fn relocation_sh_info_out_of_range() {
    expect_error("rela_info_range.o", &["(.rela.text)", "target section 99 (sh_info) out of range"]);
}

#[test]
fn relocation_section_pointing_at_itself() {
    expect_error("rela_self.o", &["(.rela.text)", "sh_info 3 names the relocation section itself"]);
}

#[test]
fn zero_alignment_is_no_constraint() {
    // gABI, sh_addralign: "Values 0 and 1 mean the section has no
    // alignment constraints."
    expect_link(&["--phony-externals"], &[&hostile("align_zero.o")]);
}

#[test]
fn non_power_of_two_alignment() {
    expect_error("align_npot.o", &["(.data)", "sh_addralign 0xc is not a power of two"]);
}

#[test]
fn alignment_above_4_gib() {
    expect_error("align_huge.o", &["(.data)", "sh_addralign 0x10000000000 is larger than 4 GiB"]);
}

#[test]
fn overlapping_sections_are_refused() {
    // gABI: "Sections in a file may not overlap."
    expect_error("overlap.o", &["(.text)", "(.data)", "overlap"]);
}

#[test]
fn relocation_offset_out_of_range() {
    expect_error("reloc_offset_range.o", &["section .text", "R_X86_64_PLT32", "offset 0x1000 (r_offset) past the end"]);
}

#[test]
fn relocation_symbol_index_out_of_range() {
    expect_error("reloc_sym_range.o", &["section .text", "symbol index 32767 (r_sym) out of range (24 symbols)"]);
}

#[test]
fn symbol_name_past_string_table() {
    expect_error("symname_range.o", &["st_name 0xffff past the end of the string table", "(.strtab)"]);
}

#[test]
fn section_name_past_string_table() {
    expect_error("secname_range.o", &["section 2: sh_name 0xffff past the end of the section name string table"]);
}

#[test]
fn group_member_that_does_not_exist() {
    expect_error("group_member_missing.o", &["SHT_GROUP section 4 (.group)", "member section index 99 out of range"]);
}

#[test]
fn section_in_two_groups() {
    expect_error("group_twice.o", &["section 5 (.text.foo) is a member of two SHT_GROUP sections"]);
}

#[test]
fn nobits_of_a_terabyte() {
    expect_error("nobits_huge.o", &["(.data)", "sh_size 0x10000000000 is larger than 4 GiB"]);
}

/// Status 1 and one line containing `needle` (the line need not name the
/// file: memory errors are about the whole link).
fn expect_link_error(args: &[&str], file: &Path, needle: &str) {
    let o = jitlink(args, &[file]);
    assert_eq!(o.status, Some(1), "{}: expected exit status 1; stderr:\n{}", file.display(), o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "{}: not one line:\n{}", file.display(), o.stderr);
    assert!(o.stderr.contains(needle), "{}: no {needle:?} in: {}", file.display(), o.stderr);
    assert!(o.elapsed < Duration::from_secs(5), "{}: took {:?}", file.display(), o.elapsed);
}

#[test]
fn nobits_totalling_400_gib() {
    // 100 sections of 4 GiB - 1, each within the per-section limit.
    expect_link_error(&["--phony-externals"], &hostile("nobits_400g.o"), "memory");
}

/// Simulated (`--noexec --slab-address`) memory is mapped lazily: 400 GiB
/// of zero-fill costs nothing until written, so the link succeeds quickly.
#[test]
fn nobits_totalling_400_gib_simulated() {
    let o = jitlink(&["--phony-externals", "--slab-address", "0x10000000"], &[&hostile("nobits_400g.o")]);
    assert_eq!(o.status, Some(0), "stderr:\n{}", o.stderr);
    assert!(o.elapsed < Duration::from_secs(5), "took {:?}", o.elapsed);
}

#[test]
fn eh_frame_record_length_that_wraps() {
    // A 64-bit record length that brings the next record's offset back to
    // 0: an overflow panic with overflow checks, an endless loop that
    // grows memory without.
    expect_error("eh_frame_len_wrap.o", &[".eh_frame", "length"]);
}

#[test]
fn symtab_entry_size() {
    expect_error("symtab_entsize.o", &["(.symtab)", "sh_entsize 16, expected 24"]);
}

#[test]
fn common_symbol_alignment_above_4_gib() {
    expect_error("common_align_huge.o", &["common symbol", "(common_sym)", "larger than 4 GiB"]);
}

#[test]
fn extended_section_count_in_a_tiny_file() {
    let line = expect_error("many_sections.o", &["section header table truncated", "65535 entries"]);
    assert!(line.contains("extended e_shnum"), "{line}");
}

#[test]
fn archive_symbol_table_lying_about_offsets() {
    expect_error("archive_lying_symtab.a", &["symbol defs_fn points at offset 0x66, where no member starts"]);
    // The same archive with a truthful index links.
    expect_link(&["--phony-externals"], &[&fixture("basic.o"), &hostile("archive_truthful.a")]);
}

#[test]
fn thin_archive_index_names_the_right_member() {
    // basic.o needs abs_sym and small_abs, which the index maps to the
    // first member; without phony externals a wrong member is an error.
    expect_link(
        &["--slab-address", "0x10000000", "--abs", "ext_near=0x10080000", "--abs", "ext_far=0x7f0000000000"],
        &[&fixture("basic.o"), &hostile("thin_index.a")],
    );
}

/// Section headers as bytes.
#[allow(clippy::too_many_arguments)]
fn shdr(name: u32, sh_type: u32, flags: u64, off: u64, size: u64, link: u32, info: u32, align: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(&name.to_le_bytes());
    v.extend_from_slice(&sh_type.to_le_bytes());
    v.extend_from_slice(&flags.to_le_bytes());
    v.extend_from_slice(&0u64.to_le_bytes());
    v.extend_from_slice(&off.to_le_bytes());
    v.extend_from_slice(&size.to_le_bytes());
    v.extend_from_slice(&link.to_le_bytes());
    v.extend_from_slice(&info.to_le_bytes());
    v.extend_from_slice(&align.to_le_bytes());
    let entsize: u64 = if sh_type == 2 { 24 } else { 0 };
    v.extend_from_slice(&entsize.to_le_bytes());
    v
}

/// An ELF64 x86-64 ET_REL header; `shnum`/`shstrndx` as given.
fn ehdr(shoff: u64, shnum: u16, shstrndx: u16) -> Vec<u8> {
    let mut v = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    v.extend_from_slice(&1u16.to_le_bytes()); // ET_REL
    v.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    v.extend_from_slice(&0u64.to_le_bytes()); // e_phoff
    v.extend_from_slice(&shoff.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    v.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    v.extend_from_slice(&shnum.to_le_bytes());
    v.extend_from_slice(&shstrndx.to_le_bytes());
    assert_eq!(v.len(), 64);
    v
}

#[test]
fn seventy_thousand_real_sections_link_fast() {
    // 70,000 one-byte SHF_ALLOC|SHF_GNU_RETAIN sections (kept, so all are
    // laid out), counted through the extended numbering (e_shnum 0,
    // e_shstrndx SHN_XINDEX).
    const N: u32 = 70_000;
    let strtab = b"\0.shstrtab\0.s\0";
    let data_off = 64u64;
    let str_off = data_off + u64::from(N);
    let shoff = (str_off + strtab.len() as u64 + 7) & !7;
    let mut f = ehdr(shoff, 0, 0xffff);
    f.extend(std::iter::repeat_n(0x90u8, N as usize));
    f.extend_from_slice(strtab);
    f.resize(shoff as usize, 0);
    f.extend(shdr(0, 0, 0, 0, u64::from(N), 1, 0, 0)); // sh_size: count, sh_link: shstrndx
    f.extend(shdr(1, 3, 0, str_off, strtab.len() as u64, 0, 0, 1));
    for i in 2..N {
        f.extend(shdr(11, 1, 0x2 | 0x20_0000, data_off + u64::from(i), 1, 0, 0, 1));
    }
    let path = write_tmp("hostile-70k-sections.o", &f);
    let o = jitlink(&["--phony-externals", "--slab-address", "0x10000000"], &[&path]);
    assert_eq!(o.status, Some(0), "stderr:\n{}", o.stderr);
    assert!(o.elapsed < Duration::from_secs(20), "70k sections took {:?}", o.elapsed);
}

#[test]
fn symbol_names_that_overlap_pathologically() {
    // One 2 MiB string and 100,000 symbols, each naming a different suffix
    // of it: 100 GB of names if each were read and interned.
    const LEN: usize = 2 << 20;
    const NSYM: usize = 100_000;
    let mut strtab = vec![b'a'; LEN];
    strtab.insert(0, 0);
    strtab.push(0);
    let mut symtab = vec![0u8; 24];
    for i in 0..NSYM {
        let mut s = [0u8; 24];
        s[..4].copy_from_slice(&(1 + i as u32).to_le_bytes());
        s[4] = 0x10; // STB_GLOBAL, STT_NOTYPE
        s[6..8].copy_from_slice(&0xfff1u16.to_le_bytes()); // SHN_ABS
        symtab.extend_from_slice(&s);
    }
    let shstr = b"\0.symtab\0.strtab\0.shstrtab\0";
    let mut f = ehdr(0, 4, 3);
    let sym_off = f.len() as u64;
    f.extend_from_slice(&symtab);
    let str_off = f.len() as u64;
    f.extend_from_slice(&strtab);
    let shstr_off = f.len() as u64;
    f.extend_from_slice(shstr);
    let shoff = (f.len() as u64 + 7) & !7;
    f.resize(shoff as usize, 0);
    f[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
    f.extend(shdr(0, 0, 0, 0, 0, 0, 0, 0));
    f.extend(shdr(1, 2, 0, sym_off, symtab.len() as u64, 2, 1, 8));
    f.extend(shdr(9, 3, 0, str_off, strtab.len() as u64, 0, 0, 1));
    f.extend(shdr(17, 3, 0, shstr_off, shstr.len() as u64, 0, 0, 1));
    let path = write_tmp("hostile-overlapping-names.o", &f);
    let line = expect_error_in(&path, &["name: names read so far exceed", "overlap pathologically"]);
    assert!(line.len() < 400, "the message quotes no megabyte names: {line}");
}

fn ar_header(name: &[u8], size: usize) -> Vec<u8> {
    let h = format!("{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n", String::from_utf8_lossy(name), 0, 0, 0, 644, size);
    assert_eq!(h.len(), 60);
    h.into_bytes()
}

#[test]
fn archive_member_names_that_overlap_pathologically() {
    // A 4000-byte extended name and 20,000 members each naming a different
    // suffix of it (every name within PATH_MAX): 40 MB of names.
    let mut names = vec![b'n'; 4000];
    names.extend_from_slice(b"/\n");
    let mut a = b"!<arch>\n".to_vec();
    a.extend(ar_header(b"//", names.len()));
    a.extend_from_slice(&names);
    for i in 0..20_000 {
        a.extend(ar_header(format!("/{}", i % 4000).as_bytes(), 0));
    }
    let path = write_tmp("hostile-overlapping-member-names.a", &a);
    expect_error_in(&path, &["names read exceed", "overlap pathologically"]);
}

#[test]
fn thin_archive_member_that_is_not_a_file() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-thin-fifo");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo.o");
    let ok = Command::new("mkfifo").arg(&fifo).status().map(|s| s.success()).unwrap_or(false);
    if !ok {
        eprintln!("mkfifo unavailable; skipped");
        return;
    }
    let mut a = b"!<thin>\n".to_vec();
    a.extend(ar_header(b"fifo.o/", 100));
    let path = dir.join("fifo.a");
    fs::write(&path, &a).unwrap();
    // Opening the FIFO would block forever; it must be refused instead.
    expect_error_in(&path, &["fifo.o", "is not a regular file"]);
}

#[test]
fn fuzzer_regressions_link_or_fail_cleanly() {
    let dir = hostile("regressions");
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") || path.file_name().is_some_and(|f| f == ".gitkeep") {
            continue;
        }
        n += 1;
        let o = jitlink(&["--phony-externals", "--slab-address", "0x10000000", "--slab-allocate", "65536"], &[&path]);
        match o.status {
            Some(0) => {}
            Some(1) => assert_eq!(o.stderr.lines().count(), 1, "{}: not one line:\n{}", path.display(), o.stderr),
            s => panic!("{}: exit status {s:?}; stderr:\n{}", path.display(), o.stderr),
        }
        assert!(o.elapsed < Duration::from_secs(5), "{}: took {:?}", path.display(), o.elapsed);
    }
    eprintln!("{n} regression inputs");
}
