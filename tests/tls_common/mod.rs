//! Shared by the thread-local storage tests of the cross targets
//! (`tests/aarch64_tls.rs`, `tests/riscv64_tls.rs`, `tests/ppc64_tls.rs`):
//! running `jitlink link --noexec`, reading its `jitlink-dump/1` in either
//! byte order, resolving an object's symbols the way an ELF link does, and
//! the TLS layout every backend promises (`src/arch/tls.rs`):
//!
//! * the template is the link's `.tdata`/`.tbss` sections: it starts at
//!   the lowest of them rounded down to the largest of their alignments,
//!   and ends at the end of the highest;
//! * one `$__TLS_MODULE` section holds the module descriptor
//!   `{template start, size, align, 0}`;
//! * a variable's `{module, offset}` pair holds the descriptor's address
//!   and `S + A - template start`; the module's own pair has offset 0; a
//!   TLS descriptor holds `{__jitlink_tlsdesc_resolver, &pair}`; all lie in
//!   the `$__GOT` of the file whose code uses them.
//!
//! Expected values come from the objects (parsed with the `object` crate)
//! and the dump alone, never from the linker's code.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use object::{Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SymbolSection};
use serde_json::Value;

/// The slab address every TLS test links at.
pub const SLAB: u64 = 0x1000_0000;
/// `--abs __tls_get_addr=...`.
pub const TLS_GET_ADDR: u64 = 0x2000_0000;
/// `--abs __jitlink_tlsdesc_resolver=...`.
pub const RESOLVER: u64 = 0x2000_1000;

pub fn fixture(arch: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(arch).join("tls").join(name)
}

pub fn tmp_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{name}"))
}

pub fn run_jitlink(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jitlink"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("cannot run the jitlink binary")
}

/// `link --noexec --slab-address SLAB` plus `--abs NAME=ADDR` for each of `abs`.
pub fn base_args(abs: &[(&str, u64)]) -> Vec<String> {
    let mut args: Vec<String> = vec!["link".into(), "--noexec".into(), "--slab-address".into(), format!("{SLAB:#x}")];
    for (n, v) in abs {
        args.push("--abs".into());
        args.push(format!("{n}={v:#x}"));
    }
    args
}

/// Both TLS entry points bound.
pub fn tls_abs() -> Vec<(&'static str, u64)> {
    vec![("__tls_get_addr", TLS_GET_ADDR), ("__jitlink_tlsdesc_resolver", RESOLVER)]
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
    pub address: u64,
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct DStub {
    pub file: String,
    pub target: String,
    pub address: u64,
}

#[derive(Debug)]
pub struct Dump {
    pub big_endian: bool,
    pub triple: String,
    pub memory: Vec<(u64, Vec<u8>)>,
    pub sections: Vec<DSection>,
    pub symbols: Vec<DSymbol>,
    pub stubs: Vec<DStub>,
}

fn addr(v: &Value, what: &str) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("dump: {what}: expected an address string, got {v}"));
    let h = s.strip_prefix("0x").unwrap_or_else(|| panic!("dump: {what}: {s:?} does not start with 0x"));
    u64::from_str_radix(h, 16).unwrap_or_else(|e| panic!("dump: {what}: bad address {s:?}: {e}"))
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "dump: odd number of hex digits");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("dump: bad hex")).collect()
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("dump: missing {key:?} in {v}")).to_string()
}

fn array<'v>(root: &'v Value, key: &str) -> &'v Vec<Value> {
    root.get(key).and_then(Value::as_array).unwrap_or_else(|| panic!("dump: missing array {key:?}"))
}

impl Dump {
    pub fn parse(json: &str) -> Dump {
        let root: Value = serde_json::from_str(json).expect("dump is not valid JSON");
        assert_eq!(root["format"], "jitlink-dump/1");
        assert_eq!(root["pointer_size"], 8);
        let big_endian = match root["endian"].as_str() {
            Some("big") => true,
            Some("little") => false,
            e => panic!("dump: endian {e:?}"),
        };
        let memory =
            array(&root, "memory").iter().map(|m| (addr(&m["address"], "memory"), hex(&text(m, "bytes")))).collect();
        let sections = array(&root, "sections")
            .iter()
            .map(|s| DSection {
                file: text(s, "file"),
                name: text(s, "name"),
                address: addr(&s["address"], "section"),
                size: s["size"].as_u64().expect("dump: section size"),
            })
            .collect();
        let symbols = array(&root, "symbols")
            .iter()
            .map(|s| DSymbol {
                name: text(s, "name"),
                file: text(s, "file"),
                address: addr(&s["address"], "symbol"),
                kind: text(s, "kind"),
            })
            .collect();
        let stubs = array(&root, "stubs")
            .iter()
            .map(|s| DStub { file: text(s, "file"), target: text(s, "target"), address: addr(&s["address"], "stub") })
            .collect();
        Dump { big_endian, triple: text(&root, "triple"), memory, sections, symbols, stubs }
    }

    pub fn read(&self, at: u64, len: usize) -> Option<&[u8]> {
        self.memory.iter().find_map(|(start, bytes)| {
            let off = at.checked_sub(*start)? as usize;
            bytes.get(off..off.checked_add(len)?)
        })
    }

    pub fn bytes(&self, at: u64, len: usize) -> &[u8] {
        self.read(at, len).unwrap_or_else(|| panic!("{len} byte(s) at {at:#x} are not in the dump's memory"))
    }

    /// An unsigned `len`-byte value at `at`, in the target's byte order.
    pub fn uint(&self, at: u64, len: usize) -> u64 {
        let b = self.bytes(at, len);
        let fold = |acc: u64, x: &u8| acc << 8 | u64::from(*x);
        if self.big_endian {
            b.iter().fold(0, fold)
        } else {
            b.iter().rev().fold(0, fold)
        }
    }

    pub fn u64(&self, at: u64) -> u64 {
        self.uint(at, 8)
    }

    pub fn u32(&self, at: u64) -> u32 {
        self.uint(at, 4) as u32
    }

    pub fn u16(&self, at: u64) -> u16 {
        self.uint(at, 2) as u16
    }

    pub fn section(&self, file: &str, name: &str) -> Option<&DSection> {
        let found: Vec<&DSection> = self.sections.iter().filter(|s| s.file == file && s.name == name).collect();
        assert!(found.len() <= 1, "the dump lists section {name} of {file} {} times", found.len());
        found.first().copied()
    }

    /// The one symbol `name` of `file` that the link defines.
    pub fn defined(&self, file: &str, name: &str) -> u64 {
        let found: Vec<u64> = self
            .symbols
            .iter()
            .filter(|s| s.name == name && s.file == file && s.kind != "external")
            .map(|s| s.address)
            .collect();
        assert_eq!(found.len(), 1, "the dump must define {name} of {file:?} once: {found:x?}");
        found[0]
    }

    /// Whether `target` is where a call to `name` may land: the `--abs`
    /// address itself, or a stub the link made for `name`.
    pub fn reaches(&self, target: u64, name: &str, abs: u64) -> bool {
        target == abs || self.stubs.iter().any(|s| s.target == name && s.address == target)
    }
}

// ---------------------------------------------------------------------------
// Linking
// ---------------------------------------------------------------------------

pub struct Input {
    pub name: String,
    pub data: Vec<u8>,
}

pub struct Linked {
    pub tag: String,
    pub inputs: Vec<Input>,
    pub dump: Dump,
}

/// Links `files` of `tests/fixtures/<arch>/tls` with `abs` bound, writing
/// the dump; panics with jitlink's stderr on failure.
pub fn link(arch: &str, tag: &str, files: &[&str], abs: &[(&str, u64)]) -> Linked {
    let out = tmp_file(&format!("{arch}-{tag}.json"));
    let _ = fs::remove_file(&out);
    let mut args = base_args(abs);
    args.push("--dump-json".into());
    args.push(out.to_string_lossy().into_owned());
    let mut inputs = Vec::new();
    for f in files {
        let path = fixture(arch, f);
        let data = fs::read(&path).unwrap_or_else(|e| panic!("cannot read {} ({e}); run regen.sh", path.display()));
        inputs.push(Input { name: f.to_string(), data });
        args.push(path.to_string_lossy().into_owned());
    }
    let output = run_jitlink(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "[{tag}] jitlink {} failed:\n{stderr}", args.join(" "));
    let json = fs::read_to_string(&out).unwrap_or_else(|e| panic!("[{tag}] no dump: {e}"));
    Linked { tag: tag.to_string(), inputs, dump: Dump::parse(&json) }
}

/// Links `files` expecting failure: exit status 1 and exactly one line on
/// stderr, which is returned.
pub fn link_error(arch: &str, files: &[&str], abs: &[(&str, u64)]) -> String {
    let mut args = base_args(abs);
    args.extend(files.iter().map(|f| fixture(arch, f).to_string_lossy().into_owned()));
    let output = run_jitlink(&args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{files:?} must fail with status 1: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{files:?}: one line expected: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Checks the one-line refusal of an initial-exec or local-exec object:
/// it names the file, a relocation of `reloc_prefix`, the model and the
/// way out.
pub fn assert_refused(line: &str, file: &str, reloc_prefix: &str, model: &str) {
    for want in [file, ".text", reloc_prefix, model, "static TLS block", "-fPIC", "-ftls-model=global-dynamic"] {
        assert!(line.contains(want), "{want:?} missing from: {line}");
    }
}

// ---------------------------------------------------------------------------
// Objects: relocations and symbol addresses
// ---------------------------------------------------------------------------

/// One relocation of a loaded section, with what a checker needs.
#[derive(Debug, Clone)]
pub struct Reloc {
    /// Index of the input in [`Linked::inputs`].
    pub file: usize,
    pub section: String,
    /// `r_offset`.
    pub offset: u64,
    /// P: the section's address in the dump plus `r_offset`.
    pub p: u64,
    pub r_type: u32,
    /// The symbol's name (`""` for a section symbol: then `section_sym`).
    pub sym: String,
    /// For a section symbol: its section's name.
    pub section_sym: Option<String>,
    /// S: the symbol's address (section address + `st_value`, the
    /// definition in another input, or an `--abs` value); `None` when
    /// nothing defines it.
    pub s: Option<u64>,
    pub a: i64,
}

impl Reloc {
    pub fn sym_name(&self) -> String {
        match &self.section_sym {
            Some(s) => format!("{s}+{:#x}", self.a),
            None => format!("{}{:+#x}", self.sym, self.a),
        }
    }
}

impl Linked {
    pub fn file(&self, r: &Reloc) -> &str {
        &self.inputs[r.file].name
    }

    fn section_addr(&self, file: &str, name: &str) -> Option<u64> {
        self.dump.section(file, name).map(|s| s.address)
    }

    /// Where the global `name` is defined: the first input defining it,
    /// else an `--abs` value.
    fn global(&self, name: &str, abs: &[(&str, u64)]) -> Option<u64> {
        for inp in &self.inputs {
            let obj = object::File::parse(&*inp.data).expect("object");
            for sym in obj.symbols() {
                if sym.name() != Ok(name) || !sym.is_global() || sym.is_undefined() {
                    continue;
                }
                if let SymbolSection::Section(i) = sym.section() {
                    let sec = obj.section_by_index(i).expect("section").name().expect("name").to_string();
                    return Some(self.section_addr(&inp.name, &sec)? + sym.address());
                }
            }
        }
        abs.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    /// Every relocation of every section of every input that the dump
    /// lists (sections the link loaded).
    pub fn relocs(&self, abs: &[(&str, u64)]) -> Vec<Reloc> {
        let mut out = Vec::new();
        for (fi, inp) in self.inputs.iter().enumerate() {
            let obj = object::File::parse(&*inp.data).expect("object");
            for sec in obj.sections() {
                let name = sec.name().expect("section name").to_string();
                let Some(base) = self.section_addr(&inp.name, &name) else { continue };
                for (offset, rel) in sec.relocations() {
                    let RelocationFlags::Elf { r_type } = rel.flags() else { panic!("not ELF") };
                    let (sym, section_sym, s) = match rel.target() {
                        RelocationTarget::Symbol(i) => {
                            let sym = obj.symbol_by_index(i).expect("symbol");
                            let sname = sym.name().unwrap_or("").to_string();
                            match sym.section() {
                                SymbolSection::Section(si) => {
                                    let sn =
                                        obj.section_by_index(si).expect("section").name().expect("name").to_string();
                                    let s = self.section_addr(&inp.name, &sn).map(|a| a + sym.address());
                                    if sym.kind() == object::SymbolKind::Section {
                                        (String::new(), Some(sn), s)
                                    } else {
                                        (sname, None, s)
                                    }
                                }
                                _ if sym.is_undefined() => {
                                    let s = self.global(&sname, abs);
                                    (sname, None, s)
                                }
                                _ => (sname, None, Some(sym.address())),
                            }
                        }
                        _ => (String::new(), None, Some(0)),
                    };
                    out.push(Reloc {
                        file: fi,
                        section: name.clone(),
                        offset,
                        p: base + offset,
                        r_type,
                        sym,
                        section_sym,
                        s,
                        a: rel.addend(),
                    });
                }
            }
        }
        out
    }

    /// The `(section, original bytes)` of input `file` that the link loaded.
    pub fn loaded_sections(&self, file: usize) -> Vec<(String, u64, Vec<u8>, bool)> {
        let inp = &self.inputs[file];
        let obj = object::File::parse(&*inp.data).expect("object");
        let mut out = Vec::new();
        for sec in obj.sections() {
            let name = sec.name().expect("name").to_string();
            let Some(addr) = self.section_addr(&inp.name, &name) else { continue };
            let zero =
                matches!(sec.kind(), object::SectionKind::UninitializedData | object::SectionKind::UninitializedTls);
            let data = if zero { vec![0; sec.size() as usize] } else { sec.data().expect("data").to_vec() };
            out.push((name, addr, data, zero));
        }
        out
    }

    /// Checks that every byte of every loaded section of every input
    /// equals the object's, except the bytes `touched` says a relocation
    /// (given as `(r_type, offset)`) may change: `.text` keeps its code,
    /// `.tdata` (the template image) its initial values, `.tbss` is zero.
    pub fn check_untouched(&self, touched: impl Fn(&Reloc) -> std::ops::Range<u64>) {
        let relocs = self.relocs(&[]);
        for fi in 0..self.inputs.len() {
            for (name, addr, data, _) in self.loaded_sections(fi) {
                let mut skip = vec![false; data.len()];
                for r in relocs.iter().filter(|r| r.file == fi && r.section == name) {
                    for i in touched(r) {
                        if let Some(b) = skip.get_mut(i as usize) {
                            *b = true;
                        }
                    }
                }
                let got = self.dump.bytes(addr, data.len());
                for (i, (&g, &w)) in got.iter().zip(&data).enumerate() {
                    assert!(
                        skip[i] || g == w,
                        "[{}] {} {name}+{i:#x}: byte {g:#04x}, the object has {w:#04x} and no relocation is there",
                        self.tag,
                        self.inputs[fi].name
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The TLS layout
// ---------------------------------------------------------------------------

/// The TLS side of a link, read from the dump and checked against the
/// objects.
#[derive(Debug, Clone, Copy)]
pub struct Tls {
    pub start: u64,
    pub size: u64,
    pub align: u64,
    /// Address of the module descriptor.
    pub module: u64,
}

/// Computes the template from the `.tdata*`/`.tbss*` sections of the
/// inputs as the dump places them (alignment from the objects), and checks
/// the module descriptor holds `{start, size, align, 0}`.
pub fn tls_layout(l: &Linked) -> Tls {
    let (mut lo, mut end, mut align) = (u64::MAX, 0u64, 1u64);
    for inp in &l.inputs {
        let obj = object::File::parse(&*inp.data).expect("object");
        for sec in obj.sections() {
            if !matches!(sec.kind(), object::SectionKind::Tls | object::SectionKind::UninitializedTls) {
                continue;
            }
            let name = sec.name().expect("name");
            let Some(ds) = l.dump.section(&inp.name, name) else { continue };
            assert_eq!(ds.size, sec.size(), "[{}] {} {name}: size", l.tag, inp.name);
            lo = lo.min(ds.address);
            end = end.max(ds.address + ds.size);
            align = align.max(sec.align());
            assert_eq!(ds.address % sec.align().max(1), 0, "[{}] {} {name} misaligned", l.tag, inp.name);
        }
    }
    assert!(lo != u64::MAX, "[{}] the link has no TLS section", l.tag);
    let start = lo & !(align - 1);
    let modules: Vec<&DSection> = l.dump.sections.iter().filter(|s| s.name == "$__TLS_MODULE").collect();
    assert_eq!(modules.len(), 1, "[{}] one $__TLS_MODULE section expected: {modules:?}", l.tag);
    let module = modules[0].address;
    assert_eq!(modules[0].size, 32, "[{}] module descriptor size", l.tag);
    let words: Vec<u64> = (0..4).map(|i| l.dump.u64(module + 8 * i)).collect();
    assert_eq!(
        words,
        [start, end - start, align, 0],
        "[{}] module descriptor at {module:#x} must hold {{template start, size, align, 0}}",
        l.tag
    );
    Tls { start, size: end - start, align, module }
}

/// What a GOT-relative field of the code must address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The `{module, offset}` pair of the variable at that offset.
    Pair(u64),
    /// The TLS descriptor of the variable at that offset.
    Descriptor(u64),
    /// A GOT entry holding that offset (PPC64 GOT_DTPREL).
    Offset(u64),
}

/// Whether `g` is what `want` asks for, in the `$__GOT` of `file`.
pub fn is_entry(l: &Linked, t: &Tls, file: &str, g: u64, want: Want) -> bool {
    let Some(got) = l.dump.section(file, "$__GOT") else { return false };
    let inside = |a: u64, len: u64| a >= got.address && a + len <= got.address + got.size;
    let pair = |a: u64, off: u64| inside(a, 16) && l.dump.u64(a) == t.module && l.dump.u64(a + 8) == off;
    match want {
        Want::Pair(off) => pair(g, off),
        Want::Descriptor(off) => inside(g, 16) && l.dump.u64(g) == RESOLVER && pair(l.dump.u64(g + 8), off),
        Want::Offset(off) => inside(g, 8) && l.dump.u64(g) == off,
    }
}

/// Every 8-aligned address of the `$__GOT` of `file` that is `want`.
pub fn entries(l: &Linked, t: &Tls, file: &str, want: Want) -> Vec<u64> {
    let Some(got) = l.dump.section(file, "$__GOT") else { return Vec::new() };
    (got.address..got.address + got.size).step_by(8).filter(|&g| is_entry(l, t, file, g, want)).collect()
}

/// The offset in the template of the variable a relocation names: `S + A
/// - start`, or for `_TLS_MODULE_BASE_` (the module's start) `A`.
pub fn var_offset(l: &Linked, t: &Tls, r: &Reloc) -> u64 {
    if r.sym == "_TLS_MODULE_BASE_" && r.s.is_none() {
        return r.a as u64;
    }
    let s = r.s.unwrap_or_else(|| panic!("[{}] {}: {} is not defined", l.tag, l.file(r), r.sym_name()));
    let v = s.wrapping_add(r.a as u64);
    assert!(v >= t.start && v <= t.start + t.size, "[{}] {} is not in the template", l.tag, r.sym_name());
    v - t.start
}

/// Counts checked relocations by type name.
#[derive(Default)]
pub struct Seen(pub HashMap<String, usize>);

impl Seen {
    pub fn add(&mut self, name: &str) {
        *self.0.entry(name.to_string()).or_default() += 1;
    }

    /// Panics unless every one of `names` was checked at least once.
    pub fn require(&self, tag: &str, names: &[&str]) {
        for n in names {
            assert!(self.0.contains_key(*n), "[{tag}] no {n} was checked; checked: {:?}", self.0);
        }
    }
}
