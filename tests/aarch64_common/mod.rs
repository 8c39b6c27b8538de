//! Shared helpers of the AArch64 tests (`tests/aarch64_*.rs`): running
//! `jitlink link --noexec`, reading its `jitlink-dump/1` file
//! (`shared/spec/cli-and-link-dump.md`), and A64 instruction field
//! decoding written from the Arm ARM, independently of the linker.

#![allow(dead_code)]

pub mod formula;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The slab address every AArch64 test links at.
pub const SLAB: u64 = 0x1000_0000;
/// `--abs ext_near=...`: within B/BL range of the slab.
pub const EXT_NEAR: u64 = 0x1008_0000;
/// `--abs ext_far=...`: beyond ADRP's ±4 GiB of the slab.
pub const EXT_FAR: u64 = 0x7f00_0000_0000;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/aarch64").join(name)
}

pub fn tmp_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("aarch64-{name}"))
}

pub fn run_jitlink(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jitlink"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("cannot run the jitlink binary")
}

/// `link --noexec --slab-address SLAB --abs ext_near=.. --abs ext_far=..`.
pub fn base_args() -> Vec<String> {
    [
        "link".to_string(),
        "--noexec".into(),
        "--slab-address".into(),
        format!("{SLAB:#x}"),
        "--abs".into(),
        format!("ext_near={EXT_NEAR:#x}"),
        "--abs".into(),
        format!("ext_far={EXT_FAR:#x}"),
    ]
    .to_vec()
}

/// Where an external tool is, or `None` (the test then says it skipped).
pub fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The cross tools the reference tests need: `aarch64-linux-gnu-gcc` and
/// `-ld` (Debian package `gcc-aarch64-linux-gnu`). Missing tools skip the
/// test with a message, unless `JITLINK_REQUIRE_CROSS` is set (CI sets it).
pub fn cross_tools() -> Option<(PathBuf, PathBuf)> {
    match (tool("aarch64-linux-gnu-gcc"), tool("aarch64-linux-gnu-ld")) {
        (Some(cc), Some(ld)) => Some((cc, ld)),
        _ => {
            let msg = "aarch64-linux-gnu-gcc / aarch64-linux-gnu-ld not found (apt-get install gcc-aarch64-linux-gnu)";
            if std::env::var_os("JITLINK_REQUIRE_CROSS").is_some() {
                panic!("{msg}");
            }
            eprintln!("SKIPPED: {msg}");
            None
        }
    }
}

// ---------------------------------------------------------------------------
// The dump
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct DSection {
    pub file: String,
    pub name: String,
    pub address: u64,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct DSymbol {
    pub name: String,
    pub file: String,
    pub section: String,
    pub address: u64,
    pub size: u64,
    pub linkage: String,
    pub scope: String,
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct DEntry {
    pub file: String,
    pub target: String,
    pub kind: String,
    pub address: u64,
    pub size: u64,
}

#[derive(Debug)]
pub struct Dump {
    pub triple: String,
    pub memory: Vec<(u64, Vec<u8>)>,
    pub sections: Vec<DSection>,
    pub symbols: Vec<DSymbol>,
    pub stubs: Vec<DEntry>,
    pub got: Vec<DEntry>,
}

fn parse_addr(v: &Value, what: &str) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("dump: {what}: expected an address string, got {v}"));
    let h = s.strip_prefix("0x").unwrap_or_else(|| panic!("dump: {what}: address {s:?} does not start with 0x"));
    assert!(
        !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "dump: {what}: address {s:?} is not lower-case hex"
    );
    u64::from_str_radix(h, 16).unwrap_or_else(|e| panic!("dump: {what}: bad address {s:?}: {e}"))
}

fn parse_hex_bytes(s: &str, what: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "dump: {what}: odd number of hex digits");
    let b = s.as_bytes();
    let nib = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("dump: {what}: bytes are not lower-case hex"),
    };
    (0..b.len()).step_by(2).map(|i| nib(b[i]) << 4 | nib(b[i + 1])).collect()
}

fn str_of(v: &Value, key: &str, what: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("dump: {what}: missing {key:?} in {v}")).to_string()
}

fn num_of(v: &Value, key: &str, what: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or_else(|| panic!("dump: {what}: missing number {key:?} in {v}"))
}

fn array_of<'v>(root: &'v Value, key: &str) -> &'v Vec<Value> {
    root.get(key).and_then(Value::as_array).unwrap_or_else(|| panic!("dump: missing array {key:?}"))
}

impl Dump {
    pub fn parse(text: &str) -> Dump {
        let root: Value = serde_json::from_str(text).expect("dump is not valid JSON");
        assert_eq!(root["format"], "jitlink-dump/1", "dump format");
        assert_eq!(root["endian"], "little", "dump endian");
        assert_eq!(root["pointer_size"], 8, "dump pointer_size");
        let memory = array_of(&root, "memory")
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let what = format!("memory[{i}]");
                (parse_addr(&m["address"], &what), parse_hex_bytes(&str_of(m, "bytes", &what), &what))
            })
            .collect();
        let sections = array_of(&root, "sections")
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let what = format!("sections[{i}]");
                DSection {
                    file: str_of(s, "file", &what),
                    name: str_of(s, "name", &what),
                    address: parse_addr(&s["address"], &what),
                    size: num_of(s, "size", &what),
                }
            })
            .collect();
        let symbols = array_of(&root, "symbols")
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let what = format!("symbols[{i}]");
                DSymbol {
                    name: str_of(s, "name", &what),
                    file: str_of(s, "file", &what),
                    section: s.get("section").and_then(Value::as_str).unwrap_or("").to_string(),
                    address: parse_addr(&s["address"], &what),
                    size: s.get("size").and_then(Value::as_u64).unwrap_or(0),
                    linkage: str_of(s, "linkage", &what),
                    scope: str_of(s, "scope", &what),
                    kind: str_of(s, "kind", &what),
                }
            })
            .collect();
        let entries = |key: &str| -> Vec<DEntry> {
            array_of(&root, key)
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let what = format!("{key}[{i}]");
                    DEntry {
                        file: str_of(s, "file", &what),
                        target: str_of(s, "target", &what),
                        kind: s.get("kind").and_then(Value::as_str).unwrap_or("").to_string(),
                        address: parse_addr(&s["address"], &what),
                        size: num_of(s, "size", &what),
                    }
                })
                .collect()
        };
        let stubs = entries("stubs");
        let got = entries("got");
        Dump { triple: str_of(&root, "triple", "root"), memory, sections, symbols, stubs, got }
    }

    pub fn read(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.memory.iter().find_map(|(start, bytes)| {
            if addr >= *start && (addr - start) as u128 + len as u128 <= bytes.len() as u128 {
                let off = (addr - start) as usize;
                Some(&bytes[off..off + len])
            } else {
                None
            }
        })
    }

    pub fn bytes(&self, addr: u64, len: usize, what: &str) -> &[u8] {
        self.read(addr, len).unwrap_or_else(|| {
            panic!("{what}: {len} byte(s) at {addr:#x} are not inside any `memory` range of the dump")
        })
    }

    pub fn read_le(&self, addr: u64, width: usize, what: &str) -> u64 {
        self.bytes(addr, width, what).iter().rev().fold(0u64, |acc, b| (acc << 8) | *b as u64)
    }

    pub fn word(&self, addr: u64, what: &str) -> u32 {
        self.read_le(addr, 4, what) as u32
    }

    /// The `_GLOBAL_OFFSET_TABLE_` of `file` (each file has its own GOT).
    pub fn got_base(&self, file: &str) -> u64 {
        let cands: Vec<u64> = self
            .symbols
            .iter()
            .filter(|s| s.name == "_GLOBAL_OFFSET_TABLE_" && s.file == file && s.kind != "external")
            .map(|s| s.address)
            .collect();
        assert_eq!(cands.len(), 1, "the dump must list one _GLOBAL_OFFSET_TABLE_ for {file}: {cands:x?}");
        cands[0]
    }

    pub fn section(&self, file: &str, name: &str) -> Option<&DSection> {
        let found: Vec<&DSection> = self.sections.iter().filter(|s| s.file == file && s.name == name).collect();
        assert!(found.len() <= 1, "the dump lists section {name} of {file} {} times", found.len());
        found.first().copied()
    }
}

pub struct Linked {
    pub tag: String,
    pub inputs: Vec<(String, Vec<u8>)>,
    pub dump: Dump,
    pub args: Vec<String>,
}

/// Links `files` with `base_args()` plus `extra`, writing the dump; panics
/// with jitlink's stderr on failure.
pub fn link_paths(tag: &str, files: &[PathBuf], extra: &[String]) -> Linked {
    let out = tmp_file(&format!("{tag}.json"));
    let _ = fs::remove_file(&out);
    let mut args = base_args();
    args.extend(extra.iter().cloned());
    args.push("--dump-json".into());
    args.push(out.to_string_lossy().into_owned());
    let mut inputs = Vec::new();
    for path in files {
        let data = fs::read(path).unwrap_or_else(|e| panic!("cannot read {} ({e}); run regen.sh", path.display()));
        inputs.push((path.file_name().unwrap().to_string_lossy().into_owned(), data));
        args.push(path.to_string_lossy().into_owned());
    }
    let output = run_jitlink(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "[{tag}] jitlink {} failed: {:?}\n{stderr}", args.join(" "), output.status);
    let text = fs::read_to_string(&out).unwrap_or_else(|e| panic!("[{tag}] no dump at {}: {e}", out.display()));
    let dump = Dump::parse(&text);
    assert_eq!(dump.triple, "aarch64-unknown-linux-gnu", "[{tag}] triple");
    Linked { tag: tag.to_string(), inputs, dump, args }
}

pub fn link(tag: &str, files: &[&str]) -> Linked {
    let paths: Vec<PathBuf> = files.iter().map(|f| fixture(f)).collect();
    link_paths(tag, &paths, &[])
}

// ---------------------------------------------------------------------------
// A64 decoding (Arm ARM DDI 0487, "A64 instruction set encoding")
// ---------------------------------------------------------------------------

pub fn sext(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

pub fn page(x: i128) -> i128 {
    x & !0xfff
}

/// `ADR`/`ADRP` immhi:immlo, sign-extended (21 bits).
pub fn adr_imm(w: u32) -> i64 {
    let immlo = (w >> 29) & 3;
    let immhi = (w >> 5) & 0x7ffff;
    sext(u64::from(immhi << 2 | immlo), 21)
}

pub fn is_adrp(w: u32) -> bool {
    w & 0x9f00_0000 == 0x9000_0000
}

pub fn is_adr(w: u32) -> bool {
    w & 0x9f00_0000 == 0x1000_0000
}

pub fn rd(w: u32) -> u32 {
    w & 0x1f
}

pub fn rn(w: u32) -> u32 {
    (w >> 5) & 0x1f
}

/// imm12 of `ADD (immediate)` / `LDR`/`STR (unsigned offset)`.
pub fn imm12(w: u32) -> u64 {
    u64::from((w >> 10) & 0xfff)
}

/// `LDR Xt, [Xn, #imm]` (64-bit, unsigned offset).
pub fn is_ldr_x_uimm(w: u32) -> bool {
    w & 0xffc0_0000 == 0xf940_0000
}

/// `ADD Xd, Xn, #imm` (64-bit, no shift).
pub fn is_add_x_imm(w: u32) -> bool {
    w & 0xffc0_0000 == 0x9100_0000
}

/// `LDR Xt, label` (literal, 64-bit).
pub fn is_ldr_x_literal(w: u32) -> bool {
    w & 0xff00_0000 == 0x5800_0000
}

pub fn imm19(w: u32) -> i64 {
    sext(u64::from((w >> 5) & 0x7ffff), 19) * 4
}

pub fn imm26(w: u32) -> i64 {
    sext(u64::from(w & 0x3ff_ffff), 26) * 4
}

pub fn imm14(w: u32) -> i64 {
    sext(u64::from((w >> 5) & 0x3fff), 14) * 4
}

/// `BR x16`.
pub const BR_X16: u32 = 0xd61f_0200;

/// Where a stub or veneer at `l` jumps, read from the dump: the 64-bit
/// slot it loads (`Ok(Err(slot))`) for a PLT stub, or the target it
/// computes (`Ok(Ok(target))`) for a veneer.
pub fn decode_stub(d: &Dump, l: u64, what: &str) -> Result<Result<u64, u64>, String> {
    let w = |i: u64| d.word(l + 4 * i, what);
    let (w0, w1, w2) = (w(0), w(1), w(2));
    // LDR x16, slot; BR x16
    if is_ldr_x_literal(w0) && rd(w0) == 16 && w1 == BR_X16 {
        let slot = (l as i64 + imm19(w0)) as u64;
        if slot == l + 8 {
            return Ok(Ok(d.read_le(l + 8, 8, what))); // veneer, literal form
        }
        return Ok(Err(slot));
    }
    if is_adrp(w0) && rd(w0) == 16 {
        let pg = (l as i64 & !0xfff) + adr_imm(w0) * 4096;
        // ADRP x16; LDR x16, [x16, #imm]; BR x16
        if is_ldr_x_uimm(w1) && rd(w1) == 16 && rn(w1) == 16 && w2 == BR_X16 {
            return Ok(Err(pg as u64 + imm12(w1) * 8));
        }
        // ADRP x16; ADD x16, x16, #imm; BR x16
        if is_add_x_imm(w1) && rd(w1) == 16 && rn(w1) == 16 && w2 == BR_X16 {
            return Ok(Ok(pg as u64 + imm12(w1)));
        }
    }
    Err(format!("{what}: {l:#x} is not a stub or veneer: {w0:08x} {w1:08x} {w2:08x}"))
}

// ---------------------------------------------------------------------------
// The GNU ld reference: the same objects linked by the cross `ld` with every
// input section placed where jitlink placed it
// ---------------------------------------------------------------------------

use object::{Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionFlags, SymbolSection};

/// Relocation types whose result depends on where a linker puts its GOT
/// (or on the GOT base): jitlink's GOT and ld's are in different places.
pub fn uses_got(r_type: u32) -> bool {
    use object::elf::*;
    matches!(
        r_type,
        R_AARCH64_ADR_GOT_PAGE
            | R_AARCH64_LD64_GOT_LO12_NC
            | R_AARCH64_GOT_LD_PREL19
            | R_AARCH64_LD64_GOTPAGE_LO15
            | R_AARCH64_LD64_GOTOFF_LO15
            | R_AARCH64_MOVW_GOTOFF_G0
            | R_AARCH64_MOVW_GOTOFF_G0_NC
            | R_AARCH64_MOVW_GOTOFF_G1
            | R_AARCH64_MOVW_GOTOFF_G1_NC
            | R_AARCH64_MOVW_GOTOFF_G2
            | R_AARCH64_MOVW_GOTOFF_G2_NC
            | R_AARCH64_MOVW_GOTOFF_G3
            | R_AARCH64_GOTREL64
            | R_AARCH64_GOTREL32
            | 315 // R_AARCH64_GOTPCREL32
    )
}

/// Branch-like relocations a linker may route through a stub or veneer.
pub fn is_stubbable(r_type: u32) -> bool {
    use object::elf::*;
    matches!(r_type, R_AARCH64_CALL26 | R_AARCH64_JUMP26 | R_AARCH64_CONDBR19 | R_AARCH64_TSTBR14 | 314)
}

fn sh_flags(s: &object::Section<'_, '_>) -> u64 {
    match s.flags() {
        SectionFlags::Elf { sh_flags } => sh_flags,
        _ => 0,
    }
}

/// What a comparison with ld covered.
#[derive(Debug, Default, Clone, Copy)]
pub struct LdComparison {
    /// Input sections compared byte for byte.
    pub sections: usize,
    /// Bytes compared.
    pub bytes: usize,
    /// Relocated fields compared.
    pub fields: usize,
    /// Relocated fields left out: GOT-dependent, branches to symbols no
    /// input defines (either linker may use a stub), targets in mergeable
    /// sections (ld merges strings, jitlink does not).
    pub skipped_fields: usize,
}

fn is_c_ident(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Links `files` (the inputs of `linked`, in the same order) with the
/// cross `ld`, every input section that jitlink placed at its dump
/// address (one output section each), `defs` as absolute symbols, and
/// compares every byte of every such section with jitlink's, except the
/// fields of relocations listed as skipped in [`LdComparison`].
/// `--no-relax` keeps ld from rewriting code; `--no-check-sections` lets
/// its far-branch veneers follow a section without an overlap error (they
/// are not compared).
pub fn compare_with_ld(ld: &Path, linked: &Linked, files: &[PathBuf], defs: &[(String, u64)]) -> LdComparison {
    let tag = &linked.tag;
    let d = &linked.dump;
    let objs: Vec<(String, object::File<'_>)> =
        linked.inputs.iter().map(|(n, data)| (n.clone(), object::File::parse(&data[..]).unwrap())).collect();
    let path_of = |name: &str| -> &PathBuf {
        files.iter().find(|p| p.file_name().is_some_and(|f| f.to_string_lossy() == name)).unwrap()
    };

    // Sections defining each global name (file index, section index), for
    // "is this branch target defined by an input" and "is it mergeable".
    let mut global_sec: std::collections::HashMap<String, (usize, object::SectionIndex)> = Default::default();
    for (i, (_, obj)) in objs.iter().enumerate() {
        for s in obj.symbols() {
            if s.is_global() && !s.is_undefined() {
                if let SymbolSection::Section(si) = s.section() {
                    global_sec.entry(s.name().unwrap().to_string()).or_insert((i, si));
                }
            }
        }
    }

    // The script: one output section per placed input section.
    let mut script = String::from("SECTIONS\n{\n");
    let mut placed: Vec<(usize, object::SectionIndex, String, u64, u64)> = Vec::new();
    let mut names_used = std::collections::HashSet::new();
    for (i, (fname, obj)) in objs.iter().enumerate() {
        for sec in obj.sections() {
            let name = sec.name().unwrap_or("").to_string();
            let Some(ds) = d.section(fname, &name) else { continue };
            if sh_flags(&sec) & u64::from(object::elf::SHF_TLS) != 0 || sec.size() == 0 {
                continue;
            }
            let out = if is_c_ident(&name) && names_used.insert(name.clone()) {
                name.clone()
            } else {
                format!(".jl{}", placed.len())
            };
            script.push_str(&format!(
                "  {out} {:#x} : {{ KEEP(\"{}\"({name})) }}\n",
                ds.address,
                path_of(fname).display()
            ));
            placed.push((i, sec.index(), out, ds.address, ds.size));
        }
        if let Some(ds) = d.section(fname, "COMMON") {
            let out = format!(".jlc{i}");
            script.push_str(&format!("  {out} {:#x} : {{ \"{}\"(COMMON) }}\n", ds.address, path_of(fname).display()));
        }
    }
    script.push_str("  /DISCARD/ : { *(.note.GNU-stack) *(.comment) *(.note.gnu.property) *(.tbss) *(.tdata) }\n}\n");
    for (n, v) in defs {
        script.push_str(&format!("PROVIDE({n} = {v:#x});\n"));
    }
    let script_path = tmp_file(&format!("{tag}.ld"));
    fs::write(&script_path, &script).unwrap();
    let out_path = tmp_file(&format!("{tag}.ld.elf"));
    let mut cmd = Command::new(ld);
    cmd.arg("-T").arg(&script_path).args(["-e", "0", "--no-relax", "--no-check-sections", "-static"]);
    cmd.args(["-z", "max-page-size=4096", "--no-warn-rwx-segments", "--noinhibit-exec"]);
    cmd.arg("-o").arg(&out_path).args(files);
    let out = cmd.output().expect("cannot run ld");
    // GNU ld checks R_AARCH64_ABS32/ABS16 as unsigned, where the psABI
    // (and jitlink, and lld) allow -2^31 <= X < 2^32 (-2^15 <= X < 2^16):
    // with --noinhibit-exec it still writes the field, which is compared.
    // Every other complaint fails the test.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let unexpected: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains(": in function `") && !l.contains("warning:"))
        .filter(|l| {
            !(l.contains("relocation truncated to fit: R_AARCH64_ABS32 ")
                || l.contains("relocation truncated to fit: R_AARCH64_ABS16 "))
        })
        .collect();
    assert!(out.status.success() && unexpected.is_empty(), "[{tag}] {cmd:?} failed:\n{stderr}\nscript:\n{script}");
    let elf_data = fs::read(&out_path).unwrap();
    let ref_obj = object::File::parse(&elf_data[..]).unwrap();

    let mut cmp = LdComparison::default();
    for (i, si, out_name, addr, size) in &placed {
        let (fname, obj) = &objs[*i];
        let sec = obj.section_by_index(*si).unwrap();
        let name = sec.name().unwrap();
        let what = format!("[{tag}] {fname} {name} at {addr:#x}");
        if sh_flags(&sec) & u64::from(object::elf::SHF_MERGE) != 0 {
            continue; // ld may have merged its strings
        }
        let refsec = ref_obj
            .section_by_name(out_name)
            .unwrap_or_else(|| panic!("{what}: ld's output has no section {out_name}"));
        assert_eq!(refsec.address(), *addr, "{what}: ld placed {out_name} elsewhere");
        let ref_bytes: Vec<u8> = if sec.kind() == object::SectionKind::UninitializedData {
            vec![0; *size as usize]
        } else {
            refsec.data().unwrap()[..*size as usize].to_vec()
        };
        let ours = d.bytes(*addr, *size as usize, &what);
        let mut skip = vec![false; *size as usize];
        let mut fields = Vec::new();
        for (off, rel) in sec.relocations() {
            let RelocationFlags::Elf { r_type } = rel.flags() else { unreachable!() };
            let width = match r_type {
                0 => 0,
                object::elf::R_AARCH64_ABS16 | object::elf::R_AARCH64_PREL16 => 2,
                object::elf::R_AARCH64_ABS64 | object::elf::R_AARCH64_PREL64 | object::elf::R_AARCH64_GOTREL64 => 8,
                _ => 4,
            };
            let (defined_sec, tname) = match rel.target() {
                RelocationTarget::Symbol(idx) => {
                    let s = obj.symbol_by_index(idx).unwrap();
                    let n = s.name().unwrap_or("").to_string();
                    match s.section() {
                        SymbolSection::Section(ts) => (Some((*i, ts)), n),
                        SymbolSection::Common => (None, n),
                        _ => (global_sec.get(&n).copied(), n),
                    }
                }
                _ => (None, String::new()),
            };
            let mergeable = defined_sec.is_some_and(|(j, ts)| {
                objs[j].1.section_by_index(ts).is_ok_and(|s| sh_flags(&s) & u64::from(object::elf::SHF_MERGE) != 0)
            });
            let skipped = uses_got(r_type)
                || tname == "_GLOBAL_OFFSET_TABLE_"
                || (is_stubbable(r_type) && defined_sec.is_none())
                || mergeable;
            let range = off as usize..off as usize + width;
            if skipped {
                cmp.skipped_fields += 1;
                skip[range].fill(true);
            } else if width > 0 {
                cmp.fields += 1;
                fields.push((range, r_type, tname));
            }
        }
        let bad: Vec<String> = (0..*size as usize)
            .filter(|&k| !skip[k] && ours[k] != ref_bytes[k])
            .take(6)
            .map(|k| {
                let f = fields.iter().find(|(r, _, _)| r.contains(&k));
                let desc = f.map_or("no relocation".to_string(), |(r, t, n)| {
                    let w = |b: &[u8]| b[r.clone()].iter().rev().map(|x| format!("{x:02x}")).collect::<String>();
                    format!("type {t} -> {n}: jitlink {} ld {}", w(ours), w(&ref_bytes))
                });
                format!("+{k:#x}: {:02x} vs ld {:02x} ({desc})", ours[k], ref_bytes[k])
            })
            .collect();
        assert!(bad.is_empty(), "{what}: jitlink's bytes differ from GNU ld's: {bad:#?}");
        cmp.sections += 1;
        cmp.bytes += skip.iter().filter(|s| !**s).count();
    }
    cmp
}
