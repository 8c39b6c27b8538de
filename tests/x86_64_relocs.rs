//! ELF x86-64 relocations: every relocated byte of every fixture is checked
//! against a value computed independently of the linker.
//!
//! Each test links a set of objects from `tests/fixtures/x86_64/` with
//!
//!     jitlink link --noexec --slab-address 0x10000000
//!         --abs ext_near=0x10080000 --abs ext_far=0x7f0000000000
//!         --dump-json <tmp> FILE...
//!
//! and reads the `jitlink-dump/1` file (see `shared/spec/cli-and-link-dump.md`).
//! The objects themselves are parsed with the `object` crate; for every
//! relocation the expected field value is computed from the x86-64 psABI
//! formula, with
//!
//! * P   = address of the file's section in the dump's `sections` + r_offset;
//! * S   = for a section symbol: that file's section address; for a symbol
//!   defined in a section: (defining file, section) address + st_value,
//!   where the definition is picked by ELF rules from the objects (first
//!   strong definition on the command line, else COMMON, else weak;
//!   members of a COMDAT group that an earlier object already defined
//!   are dropped); SHN_ABS: st_value; `--abs` names: the value passed;
//!   COMMON: the dump's `symbols` entry (the only source);
//!   `__start_X`/`__stop_X`: start/end of the sections named X;
//! * A   = r_addend (RELA) or the field's contents in the object (REL);
//! * GOT = the address of `_GLOBAL_OFFSET_TABLE_` in the dump's `symbols`;
//! * G + GOT = a `got` entry of the dump for the target, whose 8 bytes hold S;
//! * L   = a `stubs` entry for the target: `ff 25 <rel32>` (jmp *slot(%rip))
//!   whose slot is a `got` entry holding S;
//! * Z   = the st_size of the definition.
//!
//! Every byte of every kept section that no relocation touches must equal
//! the object's bytes (zeros for SHT_NOBITS).
//!
//! Rules of the linker encoded here (not all are in the spec):
//! * R_X86_64_GOTPCRELX / REX_GOTPCRELX are relaxed when S + A - P fits in
//!   32 signed bits: `mov foo@GOTPCREL(%rip), %reg` (8b) -> `lea` (8d),
//!   displacement S + A - P; `call *foo@GOTPCREL(%rip)` (ff 15) ->
//!   `addr32 call foo` (67 e8 rel32); `jmp *foo@GOTPCREL(%rip)` (ff 25) ->
//!   `jmp foo; nop` (e9 rel32 90, the rel32 now at P - 1).  Otherwise they
//!   stay GOT loads.  Plain R_X86_64_GOTPCREL is never relaxed.
//! * R_X86_64_PLT32 is direct (S + A - P) when that fits, else it goes
//!   through a stub (L + A - P).
//! * R_X86_64_PLTOFF64 always has a stub: L - GOT + A.
//! * Implicit (REL) addends are sign-extended, except for R_X86_64_32, 16,
//!   8 and SIZE32 which are zero-extended (the fixtures keep those small and
//!   positive, so either reading gives the same value).
//!
//! Assumptions about the dump that the spec does not spell out:
//! * one dump `sections` entry per (file, section name), whose `size` equals
//!   the ELF section size, and symbols keep their offset from the start of
//!   their section (an ELF section is laid out as one contiguous block);
//! * `_GLOBAL_OFFSET_TABLE_` is listed in `symbols` when a link has a GOT;
//! * `got`/`stubs` `target` is the symbol name as written in the object;
//!   a stub's pointer slot is itself listed in `got`;
//! * x86-64 stubs are `ff 25 <rel32>` (6 bytes);
//! * symbol attributes (only in `*_symbols_match_objects`): STV_HIDDEN and
//!   STV_INTERNAL are scope "hidden", STV_PROTECTED is "default"; a COMMON
//!   symbol is kind "common" or "defined".

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use object::elf;
use object::read::elf::{ElfFile64, SectionHeader as _};
use object::{
    Object, ObjectComdat, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionFlags, SectionIndex,
    SectionKind, SymbolFlags, SymbolIndex, SymbolKind, SymbolSection,
};
use serde_json::Value;

const SLAB: &str = "0x10000000";
const EXT_NEAR: u64 = 0x1008_0000;
const EXT_FAR: u64 = 0x7f00_0000_0000;

// ---------------------------------------------------------------------------
// Relocation types
// ---------------------------------------------------------------------------

/// The relocation types the fixtures must exercise, with their names.
const REQUIRED_TYPES: &[(u32, &str)] = &[
    (elf::R_X86_64_NONE, "R_X86_64_NONE"),
    (elf::R_X86_64_64, "R_X86_64_64"),
    (elf::R_X86_64_PC32, "R_X86_64_PC32"),
    (elf::R_X86_64_PLT32, "R_X86_64_PLT32"),
    (elf::R_X86_64_32, "R_X86_64_32"),
    (elf::R_X86_64_32S, "R_X86_64_32S"),
    (elf::R_X86_64_16, "R_X86_64_16"),
    (elf::R_X86_64_PC16, "R_X86_64_PC16"),
    (elf::R_X86_64_8, "R_X86_64_8"),
    (elf::R_X86_64_PC8, "R_X86_64_PC8"),
    (elf::R_X86_64_PC64, "R_X86_64_PC64"),
    (elf::R_X86_64_GOTPCREL, "R_X86_64_GOTPCREL"),
    (elf::R_X86_64_GOTPCRELX, "R_X86_64_GOTPCRELX"),
    (elf::R_X86_64_REX_GOTPCRELX, "R_X86_64_REX_GOTPCRELX"),
    (elf::R_X86_64_GOTPCREL64, "R_X86_64_GOTPCREL64"),
    (elf::R_X86_64_GOTPC32, "R_X86_64_GOTPC32"),
    (elf::R_X86_64_GOTPC64, "R_X86_64_GOTPC64"),
    (elf::R_X86_64_GOTOFF64, "R_X86_64_GOTOFF64"),
    (elf::R_X86_64_GOT64, "R_X86_64_GOT64"),
    (elf::R_X86_64_PLTOFF64, "R_X86_64_PLTOFF64"),
    (elf::R_X86_64_SIZE32, "R_X86_64_SIZE32"),
    (elf::R_X86_64_SIZE64, "R_X86_64_SIZE64"),
];

fn type_name(r_type: u32) -> String {
    REQUIRED_TYPES
        .iter()
        .find(|(t, _)| *t == r_type)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("r_type {r_type}"))
}

/// Width in bytes of the relocated field.
fn field_width(r_type: u32) -> usize {
    match r_type {
        elf::R_X86_64_NONE => 0,
        elf::R_X86_64_8 | elf::R_X86_64_PC8 => 1,
        elf::R_X86_64_16 | elf::R_X86_64_PC16 => 2,
        elf::R_X86_64_PC32
        | elf::R_X86_64_PLT32
        | elf::R_X86_64_GOTPCREL
        | elf::R_X86_64_32
        | elf::R_X86_64_32S
        | elf::R_X86_64_GOTPC32
        | elf::R_X86_64_SIZE32
        | elf::R_X86_64_GOTPCRELX
        | elf::R_X86_64_REX_GOTPCRELX => 4,
        elf::R_X86_64_64
        | elf::R_X86_64_PC64
        | elf::R_X86_64_GOTOFF64
        | elf::R_X86_64_GOT64
        | elf::R_X86_64_GOTPCREL64
        | elf::R_X86_64_GOTPC64
        | elf::R_X86_64_PLTOFF64
        | elf::R_X86_64_SIZE64 => 8,
        other => panic!("fixture uses relocation type {other}, which this test does not model"),
    }
}

/// How the value of a field must fit (checked on the expected value, so a
/// failure here is a fixture bug, not a linker bug).
#[derive(Clone, Copy, Debug)]
enum Fit {
    Signed,
    Unsigned,
    Either,
    Wrap,
}

fn fits(value: i128, width: usize, fit: Fit) -> bool {
    let bits = 8 * width as u32;
    let smin = -(1i128 << (bits - 1));
    let smax = (1i128 << (bits - 1)) - 1;
    let umax = (1i128 << bits) - 1;
    match fit {
        Fit::Signed => (smin..=smax).contains(&value),
        Fit::Unsigned => (0..=umax).contains(&value),
        Fit::Either => (smin..=umax).contains(&value),
        Fit::Wrap => true,
    }
}

fn truncate(value: i128, width: usize) -> u64 {
    if width == 8 {
        value as u64
    } else {
        (value as u64) & ((1u64 << (8 * width)) - 1)
    }
}

fn sign_extend(value: u64, width: usize) -> i64 {
    let shift = 64 - 8 * width as u32;
    ((value << shift) as i64) >> shift
}

// ---------------------------------------------------------------------------
// Paths and running the linker
// ---------------------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/x86_64").join(name)
}

fn tmp_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("x86_64_relocs-{name}"))
}

fn run_jitlink(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jitlink"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("cannot run the jitlink binary")
}

fn base_args() -> Vec<String> {
    ["link", "--noexec", "--slab-address", SLAB, "--abs", "ext_near=0x10080000", "--abs", "ext_far=0x7f0000000000"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn abs_values() -> HashMap<String, u64> {
    let mut m = HashMap::new();
    m.insert("ext_near".to_string(), EXT_NEAR);
    m.insert("ext_far".to_string(), EXT_FAR);
    m
}

// ---------------------------------------------------------------------------
// The dump
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct DSection {
    file: String,
    name: String,
    address: u64,
    size: u64,
}

#[derive(Debug, Clone)]
#[allow(dead_code)]
struct DSymbol {
    name: String,
    file: String,
    section: String,
    address: u64,
    size: u64,
    linkage: String,
    scope: String,
    kind: String,
}

#[derive(Debug, Clone)]
#[allow(dead_code)]
struct DEntry {
    file: String,
    target: String,
    kind: String,
    address: u64,
    size: u64,
}

#[derive(Debug)]
struct Dump {
    memory: Vec<(u64, Vec<u8>)>,
    sections: Vec<DSection>,
    symbols: Vec<DSymbol>,
    stubs: Vec<DEntry>,
    got: Vec<DEntry>,
}

fn parse_addr(v: &Value, what: &str) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("dump: {what}: expected an address string \"0x..\", got {v}"));
    let h = s.strip_prefix("0x").unwrap_or_else(|| panic!("dump: {what}: address {s:?} does not start with 0x"));
    assert!(
        !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "dump: {what}: address {s:?} is not lower-case hex"
    );
    u64::from_str_radix(h, 16).unwrap_or_else(|e| panic!("dump: {what}: bad address {s:?}: {e}"))
}

fn parse_hex_bytes(s: &str, what: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "dump: {what}: odd number of hex digits");
    assert!(
        s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "dump: {what}: bytes are not lower-case hex without separators"
    );
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn str_of(v: &Value, key: &str, what: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("dump: {what}: missing string field {key:?} in {v}"))
        .to_string()
}

fn num_of(v: &Value, key: &str, what: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or_else(|| panic!("dump: {what}: missing number field {key:?} in {v}"))
}

fn array_of<'v>(root: &'v Value, key: &str) -> &'v Vec<Value> {
    root.get(key).and_then(Value::as_array).unwrap_or_else(|| panic!("dump: missing array {key:?}"))
}

impl Dump {
    fn parse(text: &str) -> Dump {
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
        Dump { memory, sections, symbols, stubs, got }
    }

    fn read(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.memory.iter().find_map(|(start, bytes)| {
            if addr >= *start && (addr - start) as u128 + len as u128 <= bytes.len() as u128 {
                let off = (addr - start) as usize;
                Some(&bytes[off..off + len])
            } else {
                None
            }
        })
    }

    fn bytes(&self, addr: u64, len: usize, what: &str) -> &[u8] {
        self.read(addr, len).unwrap_or_else(|| {
            panic!("{what}: {len} byte(s) at {addr:#x} are not inside any `memory` range of the dump")
        })
    }

    fn read_le(&self, addr: u64, width: usize, what: &str) -> u64 {
        self.bytes(addr, width, what).iter().rev().fold(0u64, |acc, b| (acc << 8) | *b as u64)
    }

    fn got_base(&self) -> u64 {
        let cands: BTreeSet<u64> = self
            .symbols
            .iter()
            .filter(|s| s.name == "_GLOBAL_OFFSET_TABLE_" && s.kind != "external")
            .map(|s| s.address)
            .collect();
        match cands.len() {
            0 => panic!(
                "the dump's `symbols` has no `_GLOBAL_OFFSET_TABLE_` entry: GOT-relative \
                 relocations (GOTPC32, GOTPC64, GOTOFF64, GOT64, PLTOFF64) cannot be checked \
                 without the GOT base. The linker is expected to list it (kind \"defined\") at \
                 the address it used as GOT."
            ),
            1 => *cands.iter().next().unwrap(),
            _ => panic!("the dump lists `_GLOBAL_OFFSET_TABLE_` at several addresses: {cands:x?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// A linked set
// ---------------------------------------------------------------------------

struct Linked {
    tag: String,
    inputs: Vec<(String, Vec<u8>)>,
    dump: Dump,
}

fn link(tag: &str, files: &[&str]) -> Linked {
    let out = tmp_file(&format!("{tag}.json"));
    let _ = fs::remove_file(&out);
    let mut args = base_args();
    args.push("--dump-json".into());
    args.push(out.to_string_lossy().into_owned());
    let mut inputs = Vec::new();
    for f in files {
        let path = fixture(f);
        let data =
            fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {} ({e}); run regen.sh", path.display()));
        inputs.push((f.to_string(), data));
        args.push(path.to_string_lossy().into_owned());
    }
    let output = run_jitlink(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "[{tag}] jitlink {} failed with {:?}\nstderr:\n{stderr}",
        args.join(" "),
        output.status
    );
    let text = fs::read_to_string(&out).unwrap_or_else(|e| panic!("[{tag}] no dump written to {}: {e}", out.display()));
    Linked { tag: tag.to_string(), inputs, dump: Dump::parse(&text) }
}

/// How a relocation was resolved (for assertions on the fixture's coverage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// A plain formula (absolute, PC-relative, GOT-base-relative, size).
    Plain,
    /// PLT32 resolved directly to the target.
    Direct,
    /// Through a stub (PLT32 far, PLTOFF64).
    ViaStub,
    /// GOTPCRELX/REX_GOTPCRELX rewritten to a direct access.
    Relaxed,
    /// Through a GOT entry.
    GotLoad,
}

#[derive(Debug, Clone)]
#[allow(dead_code)]
struct Checked {
    file: String,
    section: String,
    offset: u64,
    r_type: u32,
    target: String,
    implicit_addend: bool,
    how: How,
}

#[derive(Debug, Clone, Copy)]
struct Def {
    addr: u64,
    size: u64,
}

/// The definition picked for a global name: (object index, symbol index).
type DefSite = (usize, SymbolIndex);

struct Ctx<'a> {
    tag: &'a str,
    dump: &'a Dump,
    objs: Vec<(&'a str, object::File<'a>)>,
    /// Sections of COMDAT groups whose signature an earlier object defined.
    dropped: HashSet<(usize, SectionIndex)>,
    abs: HashMap<String, u64>,
}

fn is_alloc(section: &object::Section<'_, '_>) -> bool {
    match section.flags() {
        SectionFlags::Elf { sh_flags } => sh_flags & elf::SHF_ALLOC as u64 != 0,
        _ => false,
    }
}

fn is_nobits(section: &object::Section<'_, '_>) -> bool {
    matches!(section.kind(), SectionKind::UninitializedData | SectionKind::UninitializedTls)
}

impl<'a> Ctx<'a> {
    fn new(linked: &'a Linked) -> Ctx<'a> {
        let objs: Vec<(&'a str, object::File<'a>)> = linked
            .inputs
            .iter()
            .map(|(name, data)| {
                let file =
                    object::File::parse(&data[..]).unwrap_or_else(|e| panic!("fixture {name} does not parse: {e}"));
                (name.as_str(), file)
            })
            .collect();
        let mut seen = HashSet::new();
        let mut dropped = HashSet::new();
        for (i, (_, obj)) in objs.iter().enumerate() {
            for comdat in obj.comdats() {
                let sig = comdat.name().expect("COMDAT signature").to_string();
                if !seen.insert(sig) {
                    for s in comdat.sections() {
                        dropped.insert((i, s));
                    }
                }
            }
        }
        Ctx { tag: &linked.tag, dump: &linked.dump, objs, dropped, abs: abs_values() }
    }

    fn file_index(&self, file: &str) -> Option<usize> {
        self.objs.iter().position(|(n, _)| *n == file)
    }

    fn section_name(&self, i: usize, sec: SectionIndex) -> String {
        let s = self.objs[i].1.section_by_index(sec).expect("section index");
        s.name().expect("section name").to_string()
    }

    /// The dump's (address, size) of section `sec` of object `i`.
    fn section_addr(&self, i: usize, sec: SectionIndex) -> (u64, u64) {
        let file = self.objs[i].0;
        let name = self.section_name(i, sec);
        self.find_section(file, &name).unwrap_or_else(|| {
            let listed: Vec<&str> =
                self.dump.sections.iter().filter(|s| s.file == file).map(|s| s.name.as_str()).collect();
            panic!(
                "[{}] section {name} of {file} is not in the dump's `sections` (listed for {file}: {listed:?})",
                self.tag
            )
        })
    }

    fn find_section(&self, file: &str, name: &str) -> Option<(u64, u64)> {
        let found: Vec<&DSection> = self.dump.sections.iter().filter(|s| s.file == file && s.name == name).collect();
        assert!(found.len() <= 1, "[{}] the dump lists section {name} of {file} {} times", self.tag, found.len());
        found.first().map(|s| (s.address, s.size))
    }

    /// The ELF definition a global `name` resolves to, picked from the
    /// objects alone: first strong definition in command-line order, else
    /// the first COMMON one, else the first weak one.  Definitions in
    /// dropped COMDAT sections do not count.
    fn global_def_site(&self, name: &str) -> Option<DefSite> {
        let (mut strong, mut common, mut weak) = (None, None, None);
        for (j, (_, obj)) in self.objs.iter().enumerate() {
            for s in obj.symbols() {
                if s.is_local() || s.is_undefined() || s.name() != Ok(name) {
                    continue;
                }
                if let SymbolSection::Section(sec) = s.section() {
                    if self.dropped.contains(&(j, sec)) {
                        continue;
                    }
                }
                let slot = if s.is_common() {
                    &mut common
                } else if s.is_weak() {
                    &mut weak
                } else {
                    &mut strong
                };
                if slot.is_none() {
                    *slot = Some((j, s.index()));
                }
            }
        }
        strong.or(common).or(weak)
    }

    /// Address and size of symbol `idx` of object `j`, as it was defined
    /// there (no global resolution).
    fn own_def(&self, j: usize, idx: SymbolIndex) -> Def {
        let (file, obj) = &self.objs[j];
        let sym = obj.symbol_by_index(idx).expect("symbol index");
        match sym.section() {
            SymbolSection::Absolute => Def { addr: sym.address(), size: sym.size() },
            SymbolSection::Section(sec) => {
                let (base, _) = self.section_addr(j, sec);
                Def { addr: base + sym.address(), size: sym.size() }
            }
            SymbolSection::Common => {
                let name = sym.name().unwrap();
                let d = self
                    .dump
                    .symbols
                    .iter()
                    .find(|d| d.name == name && d.file == *file && d.kind != "external")
                    .unwrap_or_else(|| {
                        panic!("[{}] COMMON symbol {name} of {file} is not in the dump's `symbols`", self.tag)
                    });
                Def { addr: d.address, size: sym.size() }
            }
            other => panic!("[{}] symbol {:?} of {file}: unexpected section {other:?}", self.tag, sym.name()),
        }
    }

    /// Resolve a global name: definitions in the objects, then `--abs`,
    /// then the linker-defined `_GLOBAL_OFFSET_TABLE_` and
    /// `__start_X`/`__stop_X`.
    fn resolve_global(&self, name: &str, from: &str) -> Def {
        if let Some((j, idx)) = self.global_def_site(name) {
            return self.own_def(j, idx);
        }
        if let Some(v) = self.abs.get(name) {
            return Def { addr: *v, size: 0 };
        }
        if name == "_GLOBAL_OFFSET_TABLE_" {
            return Def { addr: self.dump.got_base(), size: 0 };
        }
        for (prefix, is_start) in [("__start_", true), ("__stop_", false)] {
            if let Some(sec) = name.strip_prefix(prefix) {
                let secs: Vec<&DSection> = self.dump.sections.iter().filter(|s| s.name == sec).collect();
                assert!(!secs.is_empty(), "[{}] {name} (used by {from}): no section {sec} in the dump", self.tag);
                let addr = if is_start {
                    secs.iter().map(|s| s.address).min().unwrap()
                } else {
                    secs.iter().map(|s| s.address + s.size).max().unwrap()
                };
                return Def { addr, size: 0 };
            }
        }
        panic!("[{}] {name} (used by {from}) is defined by no input and no --abs", self.tag)
    }

    /// S (and Z) for relocation target `idx` of object `i`, plus the name
    /// used to find its stubs and GOT entries.
    fn target(&self, i: usize, idx: SymbolIndex) -> (String, Def) {
        let (file, obj) = &self.objs[i];
        let sym = obj
            .symbol_by_index(idx)
            .unwrap_or_else(|e| panic!("[{}] {file}: bad symbol index {}: {e}", self.tag, idx.0));
        if sym.kind() == SymbolKind::Section {
            let sec = sym.section().index().expect("section symbol without section");
            let (addr, size) = self.section_addr(i, sec);
            return (self.section_name(i, sec), Def { addr, size });
        }
        let name = sym.name().expect("symbol name").to_string();
        if sym.is_local() {
            return (name, self.own_def(i, idx));
        }
        let def = self.resolve_global(&name, file);
        (name, def)
    }

    /// Resolve the target name of a dump `got`/`stubs` entry made for `file`.
    fn resolve_entry_target(&self, file: &str, target: &str) -> u64 {
        if let Some(i) = self.file_index(file) {
            let obj = &self.objs[i].1;
            if let Some(s) = obj.symbols().find(|s| s.is_local() && !s.is_undefined() && s.name() == Ok(target)) {
                return self.own_def(i, s.index()).addr;
            }
        }
        self.resolve_global(target, file).addr
    }

    /// `e` must be a `got` entry for `target` that holds `s`.
    fn check_got_entry(&self, what: &str, target: &str, e: u64, s: u64) {
        let entries: Vec<String> = self
            .dump
            .got
            .iter()
            .filter(|g| g.target == target)
            .map(|g| format!("{}:{:#x}", g.file, g.address))
            .collect();
        assert!(
            self.dump.got.iter().any(|g| g.target == target && g.address == e),
            "{what}: goes through {e:#x}, which is not a `got` entry for {target} (entries for it: {entries:?})"
        );
        let held = self.dump.read_le(e, 8, what);
        assert_eq!(held, s, "{what}: GOT entry {e:#x} for {target} holds {held:#x}, expected S = {s:#x}");
    }

    /// `l` must be a `stubs` entry for `target` that jumps to `s`.
    fn check_stub(&self, what: &str, target: &str, l: u64, s: u64) {
        let stubs: Vec<String> = self
            .dump
            .stubs
            .iter()
            .filter(|x| x.target == target)
            .map(|x| format!("{}:{:#x}", x.file, x.address))
            .collect();
        assert!(!stubs.is_empty(), "{what}: needs a stub for {target}, but the dump's `stubs` lists none");
        assert!(
            self.dump.stubs.iter().any(|x| x.target == target && x.address == l),
            "{what}: branches to {l:#x}, which is not a stub for {target} (stubs for it: {stubs:?})"
        );
        self.check_stub_bytes(what, target, l, s);
    }

    /// A stub is `ff 25 <rel32>`: jmp *slot(%rip), slot = L + 6 + rel32,
    /// and the slot (a `got` entry for the target) holds S.
    fn check_stub_bytes(&self, what: &str, target: &str, l: u64, s: u64) {
        let b = self.dump.bytes(l, 6, what);
        assert_eq!(&b[..2], &[0xff, 0x25], "{what}: stub at {l:#x} for {target} is not `jmp *rel32(%rip)`: {b:02x?}");
        let rel = i32::from_le_bytes([b[2], b[3], b[4], b[5]]) as i64;
        let slot = (l as i64 + 6 + rel) as u64;
        self.check_got_entry(&format!("{what} (stub {l:#x})"), target, slot, s);
    }

    /// Check one relocation; returns the record and the byte range (offsets
    /// in the section) it may change.
    fn check_one(
        &self,
        i: usize,
        sec_name: &str,
        base: u64,
        orig: &[u8],
        offset: u64,
        rel: &object::Relocation,
    ) -> (Checked, std::ops::Range<usize>) {
        let file = self.objs[i].0;
        let r_type = match rel.flags() {
            RelocationFlags::Elf { r_type } => r_type,
            other => panic!("{file}: not an ELF relocation: {other:?}"),
        };
        let width = field_width(r_type);
        let off = offset as usize;
        let (target_name, def) = match rel.target() {
            RelocationTarget::Symbol(idx) => self.target(i, idx),
            RelocationTarget::Absolute => ("<absolute>".to_string(), Def { addr: 0, size: 0 }),
            other => panic!("{file}: unexpected relocation target {other:?}"),
        };
        let what = format!("[{}] {file} {sec_name}+{offset:#x} {} -> {target_name}", self.tag, type_name(r_type));
        assert!(off + width <= orig.len(), "{what}: fixture relocation past its section");
        let a: i128 = if rel.has_implicit_addend() {
            let raw = orig[off..off + width].iter().rev().fold(0u64, |acc, b| (acc << 8) | *b as u64);
            let zero_extend =
                matches!(r_type, elf::R_X86_64_32 | elf::R_X86_64_16 | elf::R_X86_64_8 | elf::R_X86_64_SIZE32);
            if width == 0 {
                0
            } else if zero_extend {
                raw as i128
            } else {
                sign_extend(raw, width) as i128
            }
        } else {
            rel.addend() as i128
        };
        let p = (base + offset) as i128;
        let s = def.addr as i128;
        let z = def.size as i128;
        let mut how = How::Plain;
        let mut range = off..off + width;

        let field = |at: i128, w: usize| -> u64 { self.dump.read_le(at as u64, w, &what) };
        let expect = |at: i128, value: i128, fit: Fit, formula: &str| {
            assert!(
                fits(value, width, fit),
                "{what}: expected value {value:#x} ({formula}) does not fit the field: fixture bug"
            );
            let actual = field(at, width);
            let want = truncate(value, width);
            assert_eq!(
                actual, want,
                "{what}: field at {:#x} is {actual:#x}, expected {want:#x} = {formula} (S={s:#x} A={a:#x} P={p:#x})",
                at as u64
            );
        };

        match r_type {
            elf::R_X86_64_NONE => {}
            elf::R_X86_64_64 => expect(p, s + a, Fit::Wrap, "S + A"),
            elf::R_X86_64_32 => expect(p, s + a, Fit::Unsigned, "S + A"),
            elf::R_X86_64_32S => expect(p, s + a, Fit::Signed, "S + A"),
            elf::R_X86_64_16 | elf::R_X86_64_8 => expect(p, s + a, Fit::Either, "S + A"),
            elf::R_X86_64_PC32 | elf::R_X86_64_PC16 | elf::R_X86_64_PC8 => {
                expect(p, s + a - p, Fit::Signed, "S + A - P")
            }
            elf::R_X86_64_PC64 => expect(p, s + a - p, Fit::Wrap, "S + A - P"),
            elf::R_X86_64_SIZE32 => expect(p, z + a, Fit::Unsigned, "Z + A"),
            elf::R_X86_64_SIZE64 => expect(p, z + a, Fit::Wrap, "Z + A"),
            elf::R_X86_64_GOTPC32 => {
                let got = self.dump.got_base() as i128;
                expect(p, got + a - p, Fit::Signed, "GOT + A - P")
            }
            elf::R_X86_64_GOTPC64 => {
                let got = self.dump.got_base() as i128;
                expect(p, got + a - p, Fit::Wrap, "GOT + A - P")
            }
            elf::R_X86_64_GOTOFF64 => {
                let got = self.dump.got_base() as i128;
                expect(p, s + a - got, Fit::Wrap, "S + A - GOT")
            }
            elf::R_X86_64_PLT32 => {
                let direct = s + a - p;
                if fits(direct, 4, Fit::Signed) {
                    how = How::Direct;
                    expect(p, direct, Fit::Signed, "S + A - P (direct)");
                } else {
                    how = How::ViaStub;
                    let actual = sign_extend(field(p, 4), 4) as i128;
                    let l = actual - a + p;
                    self.check_stub(&what, &target_name, l as u64, def.addr);
                }
            }
            elf::R_X86_64_PLTOFF64 => {
                how = How::ViaStub;
                let got = self.dump.got_base() as i128;
                let actual = field(p, 8) as i64 as i128;
                let l = actual - a + got;
                self.check_stub(&format!("{what} (L - GOT + A)"), &target_name, l as u64, def.addr);
            }
            elf::R_X86_64_GOTPCREL => {
                how = How::GotLoad;
                let actual = sign_extend(field(p, 4), 4) as i128;
                let e = actual - a + p;
                self.check_got_entry(&format!("{what} (G + GOT + A - P)"), &target_name, e as u64, def.addr);
            }
            elf::R_X86_64_GOTPCREL64 => {
                how = How::GotLoad;
                let actual = field(p, 8) as i64 as i128;
                let e = actual - a + p;
                self.check_got_entry(&format!("{what} (G + GOT + A - P)"), &target_name, e as u64, def.addr);
            }
            elf::R_X86_64_GOT64 => {
                how = How::GotLoad;
                let got = self.dump.got_base() as i128;
                let actual = field(p, 8) as i64 as i128;
                let e = actual - a + got;
                self.check_got_entry(&format!("{what} (G + A)"), &target_name, e as u64, def.addr);
            }
            elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX => {
                assert!(off >= 2, "{what}: fixture GOTPCRELX without an opcode before it");
                range = off - 2..off + 4;
                let (op, modrm) = (orig[off - 2], orig[off - 1]);
                let direct = s + a - p;
                let now = self.dump.bytes((p - 2) as u64, 6, &what).to_vec();
                if fits(direct, 4, Fit::Signed) {
                    how = How::Relaxed;
                    match (op, modrm) {
                        (0x8b, _) => {
                            assert_eq!(now[0], 0x8d, "{what}: in-range mov from the GOT must become lea (8b -> 8d), bytes now {now:02x?}");
                            assert_eq!(now[1], modrm, "{what}: ModRM byte changed, bytes now {now:02x?}");
                            expect(p, direct, Fit::Signed, "S + A - P (relaxed to lea)");
                        }
                        (0xff, 0x15) => {
                            assert_eq!(&now[..2], &[0x67, 0xe8], "{what}: in-range call *GOT must become addr32 call (67 e8), bytes now {now:02x?}");
                            expect(p, direct, Fit::Signed, "S + A - P (relaxed to addr32 call)");
                        }
                        (0xff, 0x25) => {
                            assert_eq!(now[0], 0xe9, "{what}: in-range jmp *GOT must become jmp rel32 (e9), bytes now {now:02x?}");
                            assert_eq!(now[5], 0x90, "{what}: relaxed jmp must be followed by nop (90), bytes now {now:02x?}");
                            expect(p - 1, direct + 1, Fit::Signed, "S + A - (P - 1) (relaxed to jmp; nop)");
                        }
                        _ => panic!("{what}: fixture uses a GOTPCRELX instruction form ({op:02x} {modrm:02x}) this test does not model"),
                    }
                } else {
                    how = How::GotLoad;
                    assert_eq!(
                        &now[..2],
                        &orig[off - 2..off],
                        "{what}: out-of-range target: the instruction must stay a GOT load, bytes now {now:02x?}"
                    );
                    let actual = sign_extend(field(p, 4), 4) as i128;
                    let e = actual - a + p;
                    self.check_got_entry(&format!("{what} (G + GOT + A - P)"), &target_name, e as u64, def.addr);
                }
            }
            other => panic!("{what}: relocation type {other} is not modelled"),
        }
        (
            Checked {
                file: file.to_string(),
                section: sec_name.to_string(),
                offset,
                r_type,
                target: target_name,
                implicit_addend: rel.has_implicit_addend(),
                how,
            },
            range,
        )
    }

    /// Check every relocation and every untouched byte of every kept
    /// allocated section; returns one record per relocation.
    fn check_all(&self) -> Vec<Checked> {
        let mut out = Vec::new();
        for (i, (file, obj)) in self.objs.iter().enumerate() {
            for section in obj.sections() {
                if !is_alloc(&section) {
                    continue;
                }
                let name = section.name().expect("section name").to_string();
                if self.dropped.contains(&(i, section.index())) {
                    assert!(
                        self.find_section(file, &name).is_none(),
                        "[{}] {file} {name} belongs to a COMDAT group an earlier object defined, \
                         so it must be dropped, but the dump lists it",
                        self.tag
                    );
                    continue;
                }
                let size = section.size();
                if size == 0 {
                    continue;
                }
                let (base, dsize) = self.section_addr(i, section.index());
                assert_eq!(dsize, size, "[{}] {file} {name}: size in the dump differs from the object's", self.tag);
                let align = section.align().max(1);
                assert_eq!(base % align, 0, "[{}] {file} {name} at {base:#x} is not aligned to {align}", self.tag);
                let nobits = is_nobits(&section);
                let orig: Vec<u8> =
                    if nobits { vec![0; size as usize] } else { section.data().expect("section data").to_vec() };
                let mut touched = vec![false; size as usize];
                for (offset, rel) in section.relocations() {
                    let (rec, range) = self.check_one(i, &name, base, &orig, offset, &rel);
                    for k in range {
                        touched[k] = true;
                    }
                    out.push(rec);
                }
                let what = format!("[{}] {file} {name}", self.tag);
                let now = self.dump.bytes(base, size as usize, &what);
                let bad: Vec<String> = (0..size as usize)
                    .filter(|k| !touched[*k] && now[*k] != orig[*k])
                    .take(8)
                    .map(|k| format!("+{k:#x}: {:02x} (object: {:02x})", now[k], orig[k]))
                    .collect();
                assert!(bad.is_empty(), "{what}: bytes no relocation touches differ from the object's: {bad:?}");
            }
        }
        out
    }

    /// Every symbol an object defines (and that survives) is listed in the
    /// dump's `symbols` for its file, at the address the objects imply,
    /// with its size and attributes.  Global definitions overridden by
    /// another object's (weak vs strong) are not checked.
    fn check_symbols(&self) {
        for (i, (file, obj)) in self.objs.iter().enumerate() {
            for sym in obj.symbols() {
                let name = match sym.name() {
                    Ok(n) if !n.is_empty() => n,
                    _ => continue,
                };
                if matches!(sym.kind(), SymbolKind::Section | SymbolKind::File) || sym.is_undefined() {
                    continue;
                }
                if let SymbolSection::Section(sec) = sym.section() {
                    if self.dropped.contains(&(i, sec)) {
                        continue;
                    }
                }
                if !sym.is_local() && self.global_def_site(name) != Some((i, sym.index())) {
                    continue;
                }
                let what = format!("[{}] symbol {name} of {file}", self.tag);
                let listed: Vec<&DSymbol> = self
                    .dump
                    .symbols
                    .iter()
                    .filter(|d| d.name == name && d.file == *file && d.kind != "external")
                    .collect();
                assert!(!listed.is_empty(), "{what}: not in the dump's `symbols`");
                let def = self.own_def(i, sym.index());
                let d = listed.iter().find(|d| d.address == def.addr).unwrap_or_else(|| {
                    panic!(
                        "{what}: listed at {:x?}, expected {:#x}",
                        listed.iter().map(|d| d.address).collect::<Vec<_>>(),
                        def.addr
                    )
                });
                assert_eq!(d.size, sym.size(), "{what}: size");
                let (st_other, weak) = match sym.flags() {
                    SymbolFlags::Elf { st_other, .. } => (st_other, sym.is_weak()),
                    _ => unreachable!(),
                };
                let scope = if sym.is_local() {
                    "local"
                } else {
                    match st_other & 3 {
                        elf::STV_HIDDEN | elf::STV_INTERNAL => "hidden",
                        _ => "default",
                    }
                };
                assert_eq!(d.scope, scope, "{what}: scope");
                if !sym.is_local() {
                    assert_eq!(d.linkage, if weak { "weak" } else { "strong" }, "{what}: linkage");
                }
                match sym.section() {
                    SymbolSection::Absolute => assert_eq!(d.kind, "absolute", "{what}: kind"),
                    SymbolSection::Common => assert!(
                        d.kind == "common" || d.kind == "defined",
                        "{what}: kind {:?}, expected common (or defined)",
                        d.kind
                    ),
                    _ => assert_eq!(d.kind, "defined", "{what}: kind"),
                }
            }
        }
        for (name, value) in &self.abs {
            assert!(
                self.dump
                    .symbols
                    .iter()
                    .any(|d| d.name == *name && d.file.is_empty() && d.kind == "absolute" && d.address == *value),
                "[{}] --abs {name}={value:#x} is not listed in `symbols` (file \"\", kind absolute)",
                self.tag
            );
        }
    }

    /// Every `got` entry holds the address of its target, and every stub
    /// jumps through a GOT slot that holds its target's address.
    fn check_got_and_stubs(&self) {
        for g in &self.dump.got {
            let what = format!("[{}] got entry {:#x} ({} for {})", self.tag, g.address, g.file, g.target);
            assert_eq!(g.size, 8, "{what}: size");
            let s = self.resolve_entry_target(&g.file, &g.target);
            let held = self.dump.read_le(g.address, 8, &what);
            assert_eq!(held, s, "{what}: holds {held:#x}, expected {s:#x}");
        }
        for st in &self.dump.stubs {
            let what = format!("[{}] stub {:#x} ({} for {})", self.tag, st.address, st.file, st.target);
            let s = self.resolve_entry_target(&st.file, &st.target);
            self.check_stub_bytes(&what, &st.target, st.address, s);
        }
    }
}

/// Every `sections`, `symbols` (except external/absolute), `stubs` and
/// `got` entry lies inside a `memory` range; ranges do not overlap.
fn check_coverage(tag: &str, dump: &Dump) {
    let mut ranges: Vec<(u64, u64)> = dump.memory.iter().map(|(a, b)| (*a, *a + b.len() as u64)).collect();
    ranges.sort();
    for w in ranges.windows(2) {
        assert!(
            w[0].1 <= w[1].0,
            "[{tag}] memory ranges {:#x}..{:#x} and {:#x}..{:#x} overlap",
            w[0].0,
            w[0].1,
            w[1].0,
            w[1].1
        );
    }
    let inside = |addr: u64, size: u64| -> bool {
        ranges.iter().any(|(s, e)| {
            if size == 0 {
                addr >= *s && addr <= *e
            } else {
                addr >= *s && addr.checked_add(size).is_some_and(|end| end <= *e)
            }
        })
    };
    for s in &dump.sections {
        if s.size > 0 {
            assert!(
                inside(s.address, s.size),
                "[{tag}] section {} of {:?} at {:#x} (+{:#x}) is not inside a memory range",
                s.name,
                s.file,
                s.address,
                s.size
            );
        }
    }
    for s in &dump.symbols {
        if s.kind == "external" || s.kind == "absolute" {
            continue;
        }
        assert!(
            inside(s.address, s.size),
            "[{tag}] symbol {} of {:?} at {:#x} (+{:#x}) is not inside a memory range",
            s.name,
            s.file,
            s.address,
            s.size
        );
    }
    for (list, kind) in [(&dump.stubs, "stub"), (&dump.got, "got entry")] {
        for e in list {
            assert!(
                inside(e.address, e.size),
                "[{tag}] {kind} for {} ({:?}) at {:#x} (+{:#x}) is not inside a memory range",
                e.target,
                e.file,
                e.address,
                e.size
            );
        }
    }
}

fn assert_how(recs: &[Checked], file: &str, r_type: u32, target: &str, how: How) {
    let matching: Vec<&Checked> =
        recs.iter().filter(|r| r.file == file && r.r_type == r_type && r.target == target).collect();
    assert!(!matching.is_empty(), "no {} relocation against {target} in {file} was checked", type_name(r_type));
    for r in matching {
        assert_eq!(r.how, how, "{file} {}+{:#x} {} -> {target}", r.section, r.offset, type_name(r_type));
    }
}

/// (file, section name, r_offset, r_type) of every relocation of a fixture
/// against the symbol `target`.
fn relocs_against(file: &str, target: &str) -> Vec<(String, u64, u32, i64)> {
    let data = fs::read(fixture(file)).unwrap();
    let obj = object::File::parse(&data[..]).unwrap();
    let mut out = Vec::new();
    for section in obj.sections() {
        for (offset, rel) in section.relocations() {
            if let RelocationTarget::Symbol(idx) = rel.target() {
                let sym = obj.symbol_by_index(idx).unwrap();
                if sym.name() == Ok(target) {
                    let RelocationFlags::Elf { r_type } = rel.flags() else { unreachable!() };
                    out.push((section.name().unwrap().to_string(), offset, r_type, rel.addend()));
                }
            }
        }
    }
    out
}

fn section_of(dump: &Dump, file: &str, name: &str) -> (u64, u64) {
    dump.sections
        .iter()
        .find(|s| s.file == file && s.name == name)
        .map(|s| (s.address, s.size))
        .unwrap_or_else(|| panic!("section {name} of {file} not in the dump"))
}

const BASIC: &[&str] = &["basic.o", "basic_defs.o"];
const GOT: &[&str] = &["got.o", "basic.o", "basic_defs.o"];
const COMDAT: &[&str] = &["comdat_a.o", "comdat_b.o"];
const REL: &[&str] = &["rel_basic.o", "rel_abs.o"];

// ---------------------------------------------------------------------------
// Fixture sanity (no linking)
// ---------------------------------------------------------------------------

#[test]
fn fixtures_cover_every_relocation_type() {
    let mut seen: HashMap<u32, BTreeSet<String>> = HashMap::new();
    for f in ["basic.o", "basic_defs.o", "got.o", "comdat_a.o", "comdat_b.o", "rel_basic.o"] {
        let data = fs::read(fixture(f)).unwrap_or_else(|e| panic!("{f}: {e}; run regen.sh"));
        let obj = object::File::parse(&data[..]).unwrap();
        assert_eq!(obj.architecture(), object::Architecture::X86_64, "{f}");
        for section in obj.sections() {
            for (_, rel) in section.relocations() {
                let RelocationFlags::Elf { r_type } = rel.flags() else { unreachable!() };
                seen.entry(r_type).or_default().insert(f.to_string());
            }
        }
    }
    let missing: Vec<&str> = REQUIRED_TYPES.iter().filter(|(t, _)| !seen.contains_key(t)).map(|(_, n)| *n).collect();
    assert!(missing.is_empty(), "no fixture uses {missing:?}");
}

#[test]
fn rel_fixture_uses_sht_rel() {
    let data = fs::read(fixture("rel_basic.o")).unwrap();
    let file = ElfFile64::<object::Endianness>::parse(&data[..]).unwrap();
    let endian = file.endian();
    let mut rel_sections = Vec::new();
    for section in file.sections() {
        let h = section.elf_section_header();
        let name = section.name().unwrap().to_string();
        assert_ne!(h.sh_type(endian), elf::SHT_RELA, "rel_basic.o still has SHT_RELA section {name}");
        if h.sh_type(endian) == elf::SHT_REL {
            assert_eq!(h.sh_entsize(endian), 16, "{name}: entsize");
            rel_sections.push(name);
        }
    }
    assert!(rel_sections.contains(&".rel.text".to_string()), "rel sections: {rel_sections:?}");
    let obj = object::File::parse(&data[..]).unwrap();
    let text = obj.section_by_name(".text").unwrap();
    let relocs: Vec<_> = text.relocations().collect();
    assert!(!relocs.is_empty());
    for (off, rel) in &relocs {
        assert!(rel.has_implicit_addend(), ".text+{off:#x}: explicit addend in a REL object");
    }
    // The first relocation is `call rel_fn`: its implicit addend -4 is in the field.
    let off = relocs[0].0;
    let d = text.data().unwrap();
    assert_eq!(&d[off as usize..off as usize + 4], &(-4i32).to_le_bytes());
}

// ---------------------------------------------------------------------------
// Linking
// ---------------------------------------------------------------------------

#[test]
fn basic_relocations() {
    let l = link("basic_relocations", BASIC);
    let ctx = Ctx::new(&l);
    let recs = ctx.check_all();
    assert_how(&recs, "basic.o", elf::R_X86_64_PLT32, "gfunc", How::Direct);
    assert_how(&recs, "basic.o", elf::R_X86_64_PLT32, "ext_near", How::Direct);
    assert_how(&recs, "basic.o", elf::R_X86_64_PLT32, "ext_far", How::ViaStub);
    assert_how(&recs, "basic_defs.o", elf::R_X86_64_PLT32, "main", How::Direct);
    let types: BTreeSet<u32> = recs.iter().map(|r| r.r_type).collect();
    for t in [
        elf::R_X86_64_NONE,
        elf::R_X86_64_64,
        elf::R_X86_64_PC32,
        elf::R_X86_64_PLT32,
        elf::R_X86_64_32,
        elf::R_X86_64_32S,
        elf::R_X86_64_16,
        elf::R_X86_64_PC16,
        elf::R_X86_64_8,
        elf::R_X86_64_PC8,
        elf::R_X86_64_PC64,
        elf::R_X86_64_SIZE32,
        elf::R_X86_64_SIZE64,
    ] {
        assert!(types.contains(&t), "{} not checked", type_name(t));
    }
}

#[test]
fn basic_symbol_flavours() {
    let l = link("basic_symbol_flavours", BASIC);
    let d = &l.dump;

    // COMMON: a zero-filled allocation, aligned as .comm asked (24 bytes, 16).
    let common: Vec<&DSymbol> =
        d.symbols.iter().filter(|s| s.name == "common_sym" && s.file == "basic.o" && s.kind != "external").collect();
    assert_eq!(common.len(), 1, "common_sym entries: {common:?}");
    let c = common[0];
    assert_eq!(c.file, "basic.o");
    assert_eq!(c.address % 16, 0, "common_sym at {:#x} is not 16-byte aligned", c.address);
    assert_eq!(c.size, 24, "common_sym size");
    assert_eq!(d.bytes(c.address, 24, "common_sym"), &[0u8; 24][..], "common_sym is not zero-filled");

    // A symbol exactly at the end of its section.
    let (end_sec, end_size) = section_of(d, "basic.o", ".data.end");
    assert_eq!(end_size, 8);
    let ends: Vec<u64> = d
        .symbols
        .iter()
        .filter(|s| s.name == "end_sym" && s.file == "basic.o" && s.kind == "defined")
        .map(|s| s.address)
        .collect();
    assert_eq!(ends, vec![end_sec + 8], "end_sym must sit at the end of .data.end");

    // __start_mysec / __stop_mysec: the bytes basic_defs.o's
    // `.quad __stop_mysec` became, and basic.o's leaq displacements.
    let (mysec, mysec_size) = section_of(d, "basic.o", "mysec");
    assert_eq!(mysec_size, 20);
    let (defs_data, _) = section_of(d, "basic_defs.o", ".data");
    let stop_refs = relocs_against("basic_defs.o", "__stop_mysec");
    assert_eq!(stop_refs.len(), 1);
    assert_eq!(d.read_le(defs_data + stop_refs[0].1, 8, "__stop_mysec"), mysec + mysec_size);
    let (text, _) = section_of(d, "basic.o", ".text");
    for (sym, want) in [("__start_mysec", mysec), ("__stop_mysec", mysec + mysec_size)] {
        let refs = relocs_against("basic.o", sym);
        assert_eq!(refs.len(), 1, "{sym}");
        let (_, off, r_type, addend) = refs[0];
        assert_eq!(r_type, elf::R_X86_64_PC32);
        let p = text + off;
        let got = sign_extend(d.read_le(p, 4, sym), 4);
        assert_eq!(got, want as i64 + addend - p as i64, "{sym} displacement");
        for s in d.symbols.iter().filter(|s| s.name == sym && s.kind != "external") {
            assert_eq!(s.address, want, "dump's {sym}");
        }
    }

    // SHN_ABS: value used as is.
    let (data, _) = section_of(d, "basic.o", ".data");
    let (short, _) = section_of(d, "basic.o", ".text.short");
    for (sym, value) in [("abs_sym", 0x1234u64), ("small_abs", 0x42)] {
        let refs = relocs_against("basic.o", sym);
        assert!(!refs.is_empty(), "{sym}");
        for (sec, off, r_type, addend) in refs {
            let base = match sec.as_str() {
                ".data" => data,
                ".text" => text,
                ".text.short" => short,
                other => panic!("{other}"),
            };
            let w = field_width(r_type);
            let want = truncate(value as i128 + addend as i128, w);
            assert_eq!(d.read_le(base + off, w, sym), want, "{sym} at {sec}+{off:#x}");
        }
    }

    // SIZE32/SIZE64 = st_size + A (gdata is 16 bytes).
    for (sec, off, r_type, addend) in relocs_against("basic.o", "gdata") {
        if r_type == elf::R_X86_64_SIZE32 || r_type == elf::R_X86_64_SIZE64 {
            assert_eq!(sec, ".data");
            let w = field_width(r_type);
            assert_eq!(
                d.read_le(data + off, w, "SIZE"),
                truncate(16 + addend as i128, w),
                "basic.o .data+{off:#x} {} gdata{addend:+}: Z + A with Z = 16",
                type_name(r_type)
            );
        }
    }

    // Locals with the same name in two files stay apart.
    let ldata: BTreeSet<(String, u64)> =
        d.symbols.iter().filter(|s| s.name == "ldata").map(|s| (s.file.clone(), s.address)).collect();
    let (defs_data_addr, _) = section_of(d, "basic_defs.o", ".data");
    let want: BTreeSet<(String, u64)> =
        [("basic.o".to_string(), data), ("basic_defs.o".to_string(), defs_data_addr + 8)].into_iter().collect();
    assert_eq!(ldata, want, "local ldata of both files");
}

#[test]
fn basic_symbols_match_objects() {
    let l = link("basic_symbols_match_objects", BASIC);
    Ctx::new(&l).check_symbols();
}

#[test]
fn got_relocations() {
    let l = link("got_relocations", GOT);
    let ctx = Ctx::new(&l);
    let recs = ctx.check_all();
    use elf::{R_X86_64_GOTPCREL as GOTPCREL, R_X86_64_GOTPCRELX as X, R_X86_64_REX_GOTPCRELX as REX};
    assert_how(&recs, "got.o", REX, "gdata", How::Relaxed);
    assert_how(&recs, "got.o", REX, "lvar", How::Relaxed);
    assert_how(&recs, "got.o", REX, "ext_near", How::Relaxed);
    assert_how(&recs, "got.o", REX, "ext_far", How::GotLoad);
    assert_how(&recs, "got.o", X, "gvar", How::Relaxed);
    assert_how(&recs, "got.o", X, "gfunc", How::Relaxed);
    assert_how(&recs, "got.o", X, "lfn", How::Relaxed);
    assert_how(&recs, "got.o", X, "ext_far", How::GotLoad);
    assert_how(&recs, "got.o", GOTPCREL, "gvar", How::GotLoad);
    assert_how(&recs, "got.o", GOTPCREL, "ext_far", How::GotLoad);
    assert_how(&recs, "got.o", elf::R_X86_64_PLTOFF64, "gfunc", How::ViaStub);
    assert_how(&recs, "got.o", elf::R_X86_64_PLTOFF64, "ext_far", How::ViaStub);
    assert_how(&recs, "got.o", elf::R_X86_64_PLTOFF64, "ext_near", How::ViaStub);
    assert_how(&recs, "got.o", elf::R_X86_64_PLT32, "ext_far", How::ViaStub);
    // The three relaxed GOTPCRELX forms all occur (mov, call, jmp).
    let data = fs::read(fixture("got.o")).unwrap();
    let obj = object::File::parse(&data[..]).unwrap();
    let mut forms = BTreeSet::new();
    for r in recs.iter().filter(|r| r.file == "got.o" && r.how == How::Relaxed) {
        let sec = obj.section_by_name(&r.section).unwrap();
        let bytes = sec.data().unwrap();
        let (op, modrm) = (bytes[r.offset as usize - 2], bytes[r.offset as usize - 1]);
        forms.insert(if op == 0x8b { (op, 0) } else { (op, modrm) });
    }
    assert!(forms.contains(&(0x8b, 0)), "relaxed mov: {forms:x?}");
    assert!(forms.contains(&(0xff, 0x15)), "relaxed call: {forms:x?}");
    assert!(forms.contains(&(0xff, 0x25)), "relaxed jmp: {forms:x?}");
    let types: BTreeSet<u32> = recs.iter().map(|r| r.r_type).collect();
    for t in [
        elf::R_X86_64_GOTPCREL,
        elf::R_X86_64_GOTPCRELX,
        elf::R_X86_64_REX_GOTPCRELX,
        elf::R_X86_64_GOTPCREL64,
        elf::R_X86_64_GOTPC32,
        elf::R_X86_64_GOTPC64,
        elf::R_X86_64_GOTOFF64,
        elf::R_X86_64_GOT64,
        elf::R_X86_64_PLTOFF64,
    ] {
        assert!(types.contains(&t), "{} not checked", type_name(t));
    }
}

#[test]
fn got_entries_and_stubs_point_at_their_targets() {
    let l = link("got_entries_and_stubs", GOT);
    let ctx = Ctx::new(&l);
    ctx.check_got_and_stubs();
    // GOT64/GOTPCREL64/GOTPCREL need entries, PLTOFF64 and far PLT32 stubs.
    for t in ["gvar", "ext_far"] {
        assert!(l.dump.got.iter().any(|g| g.target == t), "no `got` entry for {t}");
    }
    for t in ["gfunc", "ext_far", "ext_near"] {
        assert!(l.dump.stubs.iter().any(|s| s.target == t), "no stub for {t}");
    }
    // _GLOBAL_OFFSET_TABLE_ is listed (GOTPC32/GOTPC64/GOTOFF64 depend on it).
    let _ = l.dump.got_base();
}

#[test]
fn got_symbols_match_objects() {
    let l = link("got_symbols_match_objects", GOT);
    Ctx::new(&l).check_symbols();
}

#[test]
fn basic_set_stubs_point_at_their_targets() {
    let l = link("basic_stubs", BASIC);
    let ctx = Ctx::new(&l);
    ctx.check_got_and_stubs();
    assert!(l.dump.stubs.iter().any(|s| s.target == "ext_far"), "no stub for ext_far");
}

#[test]
fn comdat_first_definition_wins() {
    let l = link("comdat", COMDAT);
    let ctx = Ctx::new(&l);
    assert!(
        ctx.dropped.iter().any(|(i, _)| *i == 1),
        "comdat_b.o's group is not recognised as a duplicate: fixture problem"
    );
    let recs = ctx.check_all();
    let d = &l.dump;

    // comdat_a.o's .text.foo is kept, comdat_b.o's is gone.
    let (foo_a, foo_a_size) = section_of(d, "comdat_a.o", ".text.foo");
    assert!(
        !d.sections.iter().any(|s| s.file == "comdat_b.o" && s.name == ".text.foo"),
        "comdat_b.o's .text.foo must be dropped"
    );
    let a_data = &l.inputs[0].1;
    let a_obj = object::File::parse(&a_data[..]).unwrap();
    let a_sec = a_obj.section_by_name(".text.foo").unwrap();
    assert_eq!(foo_a_size, a_sec.size());
    // movl $0xaaaaaaaa, %eax: comdat_a.o's body (b's is movl $0xbbbbbbbb).
    assert_eq!(d.bytes(foo_a, 5, "foo"), &[0xb8, 0xaa, 0xaa, 0xaa, 0xaa]);
    // Its relocations were the ones applied (checked by check_all).
    assert!(recs.iter().any(|r| r.file == "comdat_a.o" && r.section == ".text.foo"));
    assert!(!recs.iter().any(|r| r.file == "comdat_b.o" && r.section == ".text.foo"));

    // `foo` resolves to comdat_a.o's copy, from both objects.
    for s in d.symbols.iter().filter(|s| s.name == "foo" && s.kind == "defined") {
        assert_eq!(s.address, foo_a, "dump symbol foo ({})", s.file);
    }
    for file in ["comdat_a.o", "comdat_b.o"] {
        let (text, _) = section_of(d, file, ".text");
        let refs = relocs_against(file, "foo");
        for (sec, off, r_type, addend) in refs.iter().filter(|r| r.0 == ".text") {
            let p = text + off;
            let want = match *r_type {
                elf::R_X86_64_PLT32 => truncate(foo_a as i128 + *addend as i128 - p as i128, 4),
                elf::R_X86_64_64 => foo_a.wrapping_add(*addend as u64),
                other => panic!("{other}"),
            };
            let w = field_width(*r_type);
            assert_eq!(d.read_le(p, w, "foo"), want, "{file} {sec}+{off:#x} -> foo");
        }
    }

    // weak_over: weak in comdat_a.o, strong in comdat_b.o: b's wins.
    let (b_data, _) = section_of(d, "comdat_b.o", ".data");
    let (a_data_addr, _) = section_of(d, "comdat_a.o", ".data");
    let weak_refs = relocs_against("comdat_a.o", "weak_over");
    assert!(!weak_refs.is_empty());
    for (sec, off, _, addend) in weak_refs.iter().filter(|r| r.0 == ".data") {
        let v = d.read_le(a_data_addr + off, 8, "weak_over");
        assert_eq!(v, b_data + 0x10 + *addend as u64, "comdat_a.o {sec}+{off:#x} -> weak_over");
    }
}

#[test]
fn comdat_symbols_match_objects() {
    let l = link("comdat_symbols_match_objects", COMDAT);
    Ctx::new(&l).check_symbols();
}

#[test]
fn rel_relocations() {
    let l = link("rel_relocations", REL);
    let ctx = Ctx::new(&l);
    let recs = ctx.check_all();
    let implicit = recs.iter().filter(|r| r.file == "rel_basic.o" && r.implicit_addend).count();
    assert!(implicit >= 20, "only {implicit} REL relocations checked");
    assert_how(&recs, "rel_basic.o", elf::R_X86_64_PLT32, "ext_far", How::ViaStub);
    assert_how(&recs, "rel_basic.o", elf::R_X86_64_REX_GOTPCRELX, "rel_data", How::Relaxed);
    assert_how(&recs, "rel_basic.o", elf::R_X86_64_REX_GOTPCRELX, "ext_far", How::GotLoad);
    ctx.check_got_and_stubs();
}

#[test]
fn dump_entries_lie_in_memory() {
    for (tag, files) in [("cover_basic", BASIC), ("cover_got", GOT), ("cover_comdat", COMDAT), ("cover_rel", REL)] {
        let l = link(tag, files);
        check_coverage(tag, &l.dump);
    }
}

// ---------------------------------------------------------------------------
// Out-of-range fixups
// ---------------------------------------------------------------------------

/// Link `file` alone with ext_far far away: exit status 1, one line on
/// stderr naming the file, section, offset and relocation type.
fn out_of_range(file: &str, want_type: u32) {
    let data = fs::read(fixture(file)).unwrap();
    let obj = object::File::parse(&data[..]).unwrap();
    let mut relocs = Vec::new();
    for section in obj.sections() {
        for (offset, rel) in section.relocations() {
            let RelocationFlags::Elf { r_type } = rel.flags() else { unreachable!() };
            relocs.push((section.name().unwrap().to_string(), offset, r_type));
        }
    }
    assert_eq!(relocs.len(), 1, "{file} must have exactly one relocation: {relocs:?}");
    let (section, offset, r_type) = relocs.pop().unwrap();
    assert_eq!(r_type, want_type, "{file}: fixture relocation type");
    let tname = type_name(r_type);

    let mut args = base_args();
    args.push(fixture(file).to_string_lossy().into_owned());
    let out = run_jitlink(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{file}: exit status; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{file}: panic:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{file}: expected exactly one line on stderr, got:\n{stderr}");
    let line = lines[0];
    assert!(line.contains(file), "{file}: the error does not name the file: {line}");
    assert!(line.contains(&section), "{file}: the error does not name section {section}: {line}");
    // The type name as a whole word (R_X86_64_32 must not match R_X86_64_32S).
    let named = line.match_indices(&tname).any(|(at, _)| {
        let next = line[at + tname.len()..].chars().next();
        !matches!(next, Some(c) if c.is_ascii_alphanumeric() || c == '_')
    });
    assert!(named, "{file}: the error does not name {tname}: {line}");
    let offsets: Vec<u64> = line
        .match_indices("0x")
        .filter_map(|(at, _)| {
            let hex: String = line[at + 2..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            u64::from_str_radix(&hex, 16).ok()
        })
        .collect();
    assert!(offsets.contains(&offset), "{file}: the error does not give the offset {offset:#x} in hex: {line}");
}

#[test]
fn out_of_range_32() {
    out_of_range("oor_32.o", elf::R_X86_64_32);
}

#[test]
fn out_of_range_32s() {
    out_of_range("oor_32s.o", elf::R_X86_64_32S);
}

#[test]
fn out_of_range_pc32() {
    out_of_range("oor_pc32.o", elf::R_X86_64_PC32);
}
