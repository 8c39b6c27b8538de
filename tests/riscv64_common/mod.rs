//! Shared helpers of the RISC-V 64 tests (`tests/riscv64_*.rs`): running
//! the linker (command line or library), reading its `jitlink-dump/1`
//! dump, resolving relocation targets from the objects with the `object`
//! crate, decoding instructions (bit layouts from the RISC-V ISA manual,
//! written here independently of the linker), checking every relocated
//! field against its psABI formula, and the GNU ld reference link.
//!
//! The relocation checker models the one relaxation every link must do,
//! R_RISCV_ALIGN (psABI "Linker Relaxation": keep the NOP bytes that align
//! the next instruction to the power of two above the addend, at its
//! final address, delete the rest), so it can check compiler output; call
//! relaxation is switched off for those links (R_RISCV_RELAX markers are
//! removed by a pre-prune pass) and checked against GNU ld instead
//! (`tests/riscv64_relax.rs`).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use object::elf;
use object::{
    Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionFlags, SectionIndex, SectionKind,
    SymbolIndex, SymbolKind, SymbolSection,
};
use serde_json::Value;

pub const SLAB: u64 = 0x1000_0000;
pub const EXT_NEAR: u64 = 0x1008_0000;
pub const EXT_FAR: u64 = 0x7f00_0000_0000;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/riscv64").join(name)
}

pub fn tmp_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("riscv64-{name}"))
}

pub fn base_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
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
    pub memory: Vec<(u64, Vec<u8>)>,
    pub sections: Vec<DSection>,
    pub symbols: Vec<DSymbol>,
    pub stubs: Vec<DEntry>,
    pub got: Vec<DEntry>,
}

fn parse_addr(v: &Value, what: &str) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("dump: {what}: expected an address string, got {v}"));
    let h = s.strip_prefix("0x").unwrap_or_else(|| panic!("dump: {what}: address {s:?} does not start with 0x"));
    assert!(h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "dump: {what}: {s:?} not lower hex");
    u64::from_str_radix(h, 16).unwrap()
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("dump: missing {key:?} in {v}")).to_string()
}

impl Dump {
    pub fn parse(text: &str) -> Dump {
        let root: Value = serde_json::from_str(text).expect("dump is not valid JSON");
        assert_eq!(root["format"], "jitlink-dump/1");
        assert_eq!(root["triple"], "riscv64-unknown-linux-gnu");
        assert_eq!(root["endian"], "little");
        assert_eq!(root["pointer_size"], 8);
        let arr = |k: &str| root[k].as_array().unwrap_or_else(|| panic!("dump: missing array {k}")).clone();
        let memory = arr("memory")
            .iter()
            .map(|m| {
                let hex = str_of(m, "bytes");
                let bytes =
                    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
                (parse_addr(&m["address"], "memory"), bytes)
            })
            .collect();
        let sections = arr("sections")
            .iter()
            .map(|s| DSection {
                file: str_of(s, "file"),
                name: str_of(s, "name"),
                address: parse_addr(&s["address"], "section"),
                size: s["size"].as_u64().unwrap(),
            })
            .collect();
        let symbols = arr("symbols")
            .iter()
            .map(|s| DSymbol {
                name: str_of(s, "name"),
                file: str_of(s, "file"),
                section: str_of(s, "section"),
                address: parse_addr(&s["address"], "symbol"),
                size: s["size"].as_u64().unwrap_or(0),
                linkage: str_of(s, "linkage"),
                scope: str_of(s, "scope"),
                kind: str_of(s, "kind"),
            })
            .collect();
        let entries = |k: &str| -> Vec<DEntry> {
            arr(k)
                .iter()
                .map(|s| DEntry {
                    file: str_of(s, "file"),
                    target: str_of(s, "target"),
                    kind: s.get("kind").and_then(Value::as_str).unwrap_or("").to_string(),
                    address: parse_addr(&s["address"], k),
                    size: s["size"].as_u64().unwrap(),
                })
                .collect()
        };
        Dump { memory, sections, symbols, stubs: entries("stubs"), got: entries("got") }
    }

    pub fn read(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.memory.iter().find_map(|(start, bytes)| {
            let off = addr.checked_sub(*start)? as usize;
            bytes.get(off..off.checked_add(len)?)
        })
    }

    pub fn bytes(&self, addr: u64, len: usize, what: &str) -> &[u8] {
        self.read(addr, len).unwrap_or_else(|| panic!("{what}: {len} byte(s) at {addr:#x} are not in the dump"))
    }

    pub fn le(&self, addr: u64, width: usize, what: &str) -> u64 {
        self.bytes(addr, width, what).iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    }

    pub fn u32_at(&self, addr: u64, what: &str) -> u32 {
        self.le(addr, 4, what) as u32
    }

    pub fn u16_at(&self, addr: u64, what: &str) -> u16 {
        self.le(addr, 2, what) as u16
    }

    pub fn section(&self, file: &str, name: &str) -> Option<&DSection> {
        let found: Vec<&DSection> = self.sections.iter().filter(|s| s.file == file && s.name == name).collect();
        assert!(found.len() <= 1, "the dump lists section {name} of {file} {} times", found.len());
        found.first().copied()
    }

    pub fn symbol(&self, name: &str) -> Option<&DSymbol> {
        self.symbols.iter().find(|s| s.name == name && s.kind == "defined")
    }
}

// ---------------------------------------------------------------------------
// Running the linker
// ---------------------------------------------------------------------------

pub fn run_jitlink(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jitlink"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("cannot run the jitlink binary")
}

pub fn cli_args(abs: &[(&str, u64)]) -> Vec<String> {
    let mut a: Vec<String> = ["link", "--noexec", "--slab-address", "0x10000000", "--slab-page-size", "4096"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (n, v) in abs {
        a.push("--abs".into());
        a.push(format!("{n}={v:#x}"));
    }
    a
}

/// Links with the command line; the dump, or stderr on failure.
pub fn link_cli(tag: &str, files: &[PathBuf], abs: &[(&str, u64)], extra: &[&str]) -> Result<Dump, String> {
    let out = tmp_file(&format!("{tag}.json"));
    let _ = fs::remove_file(&out);
    let mut args = cli_args(abs);
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("--dump-json".into());
    args.push(out.to_string_lossy().into_owned());
    args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    let o = run_jitlink(&args);
    if !o.status.success() {
        return Err(format!(
            "[{tag}] jitlink {} failed ({:?}):\n{}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(Dump::parse(&fs::read_to_string(&out).unwrap()))
}

/// Links with the library into simulated memory at [`SLAB`] (page 4096),
/// optionally with the R_RISCV_RELAX markers removed first (so only the
/// mandatory R_RISCV_ALIGN relaxation runs), and with unresolved
/// externals at 0 when `phony`.
pub fn link_api(tag: &str, files: &[PathBuf], abs: &[(&str, u64)], strip_relax: bool, phony: bool) -> Dump {
    use jitlink::link::PassPoint;
    use jitlink::session::{LinkOptions, Session, SessionOptions};
    let mm = jitlink::memory::SimulatedMemoryManager::new(SLAB, None, 4096);
    let opts = SessionOptions { phony_externals: phony, ..Default::default() };
    let mut s = Session::new(Box::new(mm), opts);
    for (n, v) in abs {
        s.define_absolute(n, *v).unwrap();
    }
    for f in files {
        s.add_file(f).unwrap_or_else(|e| panic!("[{tag}] {}: {e}", f.display()));
    }
    if strip_relax {
        s.add_pass(
            PassPoint::PrePrune,
            Box::new(|g, _| {
                for b in g.blocks.iter_mut() {
                    b.edges.retain(|e| e.kind != jitlink::arch::riscv64::edges::RELAX);
                }
                Ok(())
            }),
        );
    }
    let out = tmp_file(&format!("{tag}.json"));
    let _ = fs::remove_file(&out);
    s.link(&LinkOptions { dump_json: Some(out.clone()), ..Default::default() })
        .unwrap_or_else(|e| panic!("[{tag}] link failed: {e}"));
    Dump::parse(&fs::read_to_string(&out).unwrap())
}

// ---------------------------------------------------------------------------
// Instructions (ISA manual bit layouts)
// ---------------------------------------------------------------------------

pub fn sext(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

pub fn dec_b(w: u32) -> i64 {
    let w = u64::from(w);
    sext((w >> 31) << 12 | ((w >> 7) & 1) << 11 | ((w >> 25) & 0x3f) << 5 | ((w >> 8) & 0xf) << 1, 13)
}

pub fn dec_j(w: u32) -> i64 {
    let w = u64::from(w);
    sext((w >> 31) << 20 | ((w >> 12) & 0xff) << 12 | ((w >> 20) & 1) << 11 | ((w >> 21) & 0x3ff) << 1, 21)
}

pub fn dec_cb(h: u16) -> i64 {
    let h = u64::from(h);
    sext(
        ((h >> 12) & 1) << 8 | ((h >> 5) & 3) << 6 | ((h >> 2) & 1) << 5 | ((h >> 10) & 3) << 3 | ((h >> 3) & 3) << 1,
        9,
    )
}

pub fn dec_cj(h: u16) -> i64 {
    let h = u64::from(h);
    sext(
        ((h >> 12) & 1) << 11
            | ((h >> 8) & 1) << 10
            | ((h >> 9) & 3) << 8
            | ((h >> 6) & 1) << 7
            | ((h >> 7) & 1) << 6
            | ((h >> 2) & 1) << 5
            | ((h >> 11) & 1) << 4
            | ((h >> 3) & 7) << 1,
        12,
    )
}

pub fn dec_u(w: u32) -> i64 {
    i64::from((w & 0xffff_f000) as i32)
}

pub fn dec_i(w: u32) -> i64 {
    i64::from((w as i32) >> 20)
}

pub fn dec_s(w: u32) -> i64 {
    i64::from(((w & 0xfe00_0000) as i32) >> 20) | i64::from((w >> 7) & 0x1f)
}

/// `(hi20 << 12, lo12)` of a value split for a U-type + I/S-type pair.
pub fn split(v: i128) -> (i64, i64) {
    let lo = sext((v as u64) & 0xfff, 12);
    (((v - i128::from(lo)) as i64), lo)
}

pub fn fits_hi20(v: i128) -> bool {
    (-(1i128 << 31) - 0x800..=(1i128 << 31) - 0x801).contains(&v)
}

/// The target of the stub at `l` (`auipc t3; ld t3; jalr t1, t3; nop`):
/// the address of its GOT slot.
pub fn stub_slot(d: &Dump, l: u64, what: &str) -> u64 {
    let w: Vec<u32> = (0..4).map(|i| d.u32_at(l + 4 * i, what)).collect();
    assert_eq!(w[0] & 0xfff, 0xe17, "{what}: stub at {l:#x}: word 0 {:#010x} is not `auipc t3`", w[0]);
    assert_eq!(w[1] & 0xfffff, 0xe3e03, "{what}: stub at {l:#x}: word 1 {:#010x} is not `ld t3, lo(t3)`", w[1]);
    assert_eq!(w[2], 0x000e_0367, "{what}: stub at {l:#x}: word 2 {:#010x} is not `jalr t1, t3`", w[2]);
    assert_eq!(w[3], 0x13, "{what}: stub at {l:#x}: word 3 is not `nop`");
    (l as i64 + dec_u(w[0]) + dec_i(w[1])) as u64
}

// ---------------------------------------------------------------------------
// R_RISCV_ALIGN model
// ---------------------------------------------------------------------------

/// Deletions of one section: sorted `(old offset, length)`, the NOP
/// bytes kept per ALIGN `(old offset, length)`, and the calls found
/// relaxed (old offset -> 4 for `JAL`, 2 for `C.J`).
#[derive(Default, Debug, Clone)]
pub struct Deletions {
    pub dels: Vec<(u64, u64)>,
    pub kept: Vec<(u64, u64)>,
    pub relaxed: HashMap<u64, u64>,
    prefix: std::sync::OnceLock<Vec<u64>>,
}

/// Length of the instruction whose first halfword is `h` (ISA manual,
/// "Expanded Instruction-Length Encoding": low bits 11 = 32-bit).
pub fn insn_len(h: u16) -> u64 {
    if h & 3 == 3 {
        4
    } else {
        2
    }
}

impl Deletions {
    /// Reconstructs what relaxation did to a section by walking the
    /// object's instructions (`orig`) and the linked bytes (`linked`, at
    /// `base`) side by side: at an R_RISCV_ALIGN (offset, N) the linked
    /// code must keep exactly the NOPs that align the next instruction's
    /// *final* address to the power of two above N (psABI), the rest is
    /// deleted; at an R_RISCV_CALL[_PLT] marked R_RISCV_RELAX the linked
    /// code may hold the pair, a `JAL` (4 bytes fewer) or a `C.J`
    /// (6 fewer); everything else keeps its length.
    pub fn observe(orig: &[u8], aligns: &[(u64, u64)], calls: &HashSet<u64>, linked: &[u8], base: u64) -> Deletions {
        let mut d = Deletions::default();
        let align_at: HashMap<u64, u64> = aligns.iter().copied().collect();
        let (mut o, mut r) = (0u64, 0u64);
        let half = |b: &[u8], at: u64| -> u16 {
            let at = at as usize;
            u16::from_le_bytes([b.get(at).copied().unwrap_or(0), b.get(at + 1).copied().unwrap_or(0)])
        };
        while (o as usize) < orig.len() {
            if let Some(&n) = align_at.get(&o) {
                let a = (n + 1).next_power_of_two();
                let needed = (a - (base + r) % a) % a;
                assert!(needed <= n, "ALIGN at {o:#x}: needs {needed} bytes, has {n}");
                d.kept.push((o, needed));
                if n > needed {
                    d.dels.push((o + needed, n - needed));
                }
                o += n;
                r += needed;
                continue;
            }
            if calls.contains(&o) {
                let h = half(linked, r);
                let w = u32::from(h) | u32::from(half(linked, r + 2)) << 16;
                let len = if h & 0xe003 == 0xa001 {
                    2
                } else if w & 0x7f == 0x6f {
                    4
                } else {
                    8
                };
                if len < 8 {
                    d.dels.push((o + len, 8 - len));
                    d.relaxed.insert(o, len);
                }
                o += 8;
                r += len;
                continue;
            }
            let len = insn_len(half(orig, o));
            o += len;
            r += len;
        }
        assert_eq!(r, linked.len() as u64, "walking the section: {r:#x} bytes, the link has {:#x}", linked.len());
        d
    }

    pub fn total(&self) -> u64 {
        self.dels.iter().map(|d| d.1).sum()
    }

    /// Bytes deleted before deletion `k` (prefix sums, built on demand).
    fn before(&self) -> &[u64] {
        self.prefix.get_or_init(|| {
            let mut acc = 0;
            self.dels
                .iter()
                .map(|d| {
                    let b = acc;
                    acc += d.1;
                    b
                })
                .collect()
        })
    }

    /// New offset of old offset `x` (inside a deletion: its start).
    pub fn map(&self, x: u64) -> u64 {
        let k = self.dels.partition_point(|d| d.0 < x);
        if k == 0 {
            return x;
        }
        let (s, l) = self.dels[k - 1];
        x - self.before()[k - 1] - (x - s).min(l)
    }

    pub fn deleted(&self, x: u64) -> bool {
        let k = self.dels.partition_point(|d| d.0 <= x);
        k > 0 && x < self.dels[k - 1].0 + self.dels[k - 1].1
    }
}

// ---------------------------------------------------------------------------
// Objects and relocation targets
// ---------------------------------------------------------------------------

pub fn r_type(rel: &object::Relocation) -> u32 {
    match rel.flags() {
        RelocationFlags::Elf { r_type } => r_type,
        other => panic!("not an ELF relocation: {other:?}"),
    }
}

pub fn type_name(t: u32) -> &'static str {
    const N: &[(u32, &str)] = &[
        (elf::R_RISCV_NONE, "R_RISCV_NONE"),
        (elf::R_RISCV_32, "R_RISCV_32"),
        (elf::R_RISCV_64, "R_RISCV_64"),
        (elf::R_RISCV_BRANCH, "R_RISCV_BRANCH"),
        (elf::R_RISCV_JAL, "R_RISCV_JAL"),
        (elf::R_RISCV_CALL, "R_RISCV_CALL"),
        (elf::R_RISCV_CALL_PLT, "R_RISCV_CALL_PLT"),
        (elf::R_RISCV_GOT_HI20, "R_RISCV_GOT_HI20"),
        (elf::R_RISCV_PCREL_HI20, "R_RISCV_PCREL_HI20"),
        (elf::R_RISCV_PCREL_LO12_I, "R_RISCV_PCREL_LO12_I"),
        (elf::R_RISCV_PCREL_LO12_S, "R_RISCV_PCREL_LO12_S"),
        (elf::R_RISCV_HI20, "R_RISCV_HI20"),
        (elf::R_RISCV_LO12_I, "R_RISCV_LO12_I"),
        (elf::R_RISCV_LO12_S, "R_RISCV_LO12_S"),
        (elf::R_RISCV_ADD8, "R_RISCV_ADD8"),
        (elf::R_RISCV_ADD16, "R_RISCV_ADD16"),
        (elf::R_RISCV_ADD32, "R_RISCV_ADD32"),
        (elf::R_RISCV_ADD64, "R_RISCV_ADD64"),
        (elf::R_RISCV_SUB8, "R_RISCV_SUB8"),
        (elf::R_RISCV_SUB16, "R_RISCV_SUB16"),
        (elf::R_RISCV_SUB32, "R_RISCV_SUB32"),
        (elf::R_RISCV_SUB64, "R_RISCV_SUB64"),
        (41, "R_RISCV_GOT32_PCREL"),
        (elf::R_RISCV_ALIGN, "R_RISCV_ALIGN"),
        (elf::R_RISCV_RVC_BRANCH, "R_RISCV_RVC_BRANCH"),
        (elf::R_RISCV_RVC_JUMP, "R_RISCV_RVC_JUMP"),
        (elf::R_RISCV_RELAX, "R_RISCV_RELAX"),
        (elf::R_RISCV_SUB6, "R_RISCV_SUB6"),
        (elf::R_RISCV_SET6, "R_RISCV_SET6"),
        (elf::R_RISCV_SET8, "R_RISCV_SET8"),
        (elf::R_RISCV_SET16, "R_RISCV_SET16"),
        (elf::R_RISCV_SET32, "R_RISCV_SET32"),
        (elf::R_RISCV_32_PCREL, "R_RISCV_32_PCREL"),
        (elf::R_RISCV_PLT32, "R_RISCV_PLT32"),
        (elf::R_RISCV_SET_ULEB128, "R_RISCV_SET_ULEB128"),
        (elf::R_RISCV_SUB_ULEB128, "R_RISCV_SUB_ULEB128"),
    ];
    N.iter().find(|(n, _)| *n == t).map(|(_, s)| *s).unwrap_or("R_RISCV_?")
}

/// How a relocation was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// A plain formula.
    Plain,
    /// A branch/call straight to its target.
    Direct,
    /// Through a stub of this flavour.
    ViaStub(&'static str),
    /// Through a GOT entry.
    Got,
    /// A call relaxed to `JAL` (4) or `C.J` (2) straight to its target.
    Relaxed(u64),
}

#[derive(Debug, Clone)]
pub struct Checked {
    pub file: String,
    pub section: String,
    pub offset: u64,
    pub r_type: u32,
    pub target: String,
    pub how: How,
}

#[derive(Debug, Clone, Copy)]
pub struct Def {
    pub addr: u64,
    pub size: u64,
}

fn is_alloc(s: &object::Section<'_, '_>) -> bool {
    matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & u64::from(elf::SHF_ALLOC) != 0)
}

pub struct Ctx<'a> {
    pub tag: String,
    pub dump: &'a Dump,
    pub objs: Vec<(String, object::File<'a>)>,
    pub abs: HashMap<String, u64>,
    /// Deletions per (object, section), reconstructed from the link.
    pub dels: HashMap<(usize, SectionIndex), Deletions>,
    /// Global name -> its definition: first strong, else common, else weak.
    globals: HashMap<String, (usize, SymbolIndex)>,
    /// Resolved externals of the dump (e.g. --phony-externals at 0).
    externals: HashMap<String, u64>,
}

impl<'a> Ctx<'a> {
    /// `inputs`: (file name as in the dump, bytes).
    pub fn new(tag: &str, dump: &'a Dump, inputs: &'a [(String, Vec<u8>)], abs: &[(&str, u64)]) -> Ctx<'a> {
        let objs: Vec<(String, object::File<'a>)> =
            inputs.iter().map(|(n, d)| (n.clone(), object::File::parse(&d[..]).expect("object parses"))).collect();
        let mut ctx = Ctx {
            tag: tag.to_string(),
            dump,
            objs,
            abs: abs.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
            dels: HashMap::new(),
            globals: HashMap::new(),
            externals: dump
                .symbols
                .iter()
                .filter(|s| s.kind == "external")
                .map(|s| (s.name.clone(), s.address))
                .collect(),
        };
        let mut rank: HashMap<String, u8> = HashMap::new();
        for (j, (_, obj)) in ctx.objs.iter().enumerate() {
            for s in obj.symbols() {
                let Ok(name) = s.name() else { continue };
                if s.is_local() || s.is_undefined() || name.is_empty() {
                    continue;
                }
                let r = if s.is_common() {
                    1
                } else if s.is_weak() {
                    0
                } else {
                    2
                };
                if rank.get(name).is_none_or(|&old| r > old) {
                    rank.insert(name.to_string(), r);
                    ctx.globals.insert(name.to_string(), (j, s.index()));
                }
            }
        }
        for i in 0..ctx.objs.len() {
            let obj = &ctx.objs[i].1;
            for sec in obj.sections() {
                let mut aligns = Vec::new();
                let mut calls = HashSet::new();
                let mut relax = HashSet::new();
                for (o, r) in sec.relocations() {
                    match r_type(&r) {
                        elf::R_RISCV_ALIGN => aligns.push((o, r.addend() as u64)),
                        elf::R_RISCV_CALL | elf::R_RISCV_CALL_PLT => {
                            calls.insert(o);
                        }
                        elf::R_RISCV_RELAX => {
                            relax.insert(o);
                        }
                        _ => {}
                    }
                }
                calls.retain(|o| relax.contains(o));
                if aligns.is_empty() && calls.is_empty() {
                    continue;
                }
                aligns.sort_unstable();
                let Some(ds) = ctx.dump.section(&ctx.objs[i].0, sec.name().unwrap()) else { continue };
                let linked = ctx.dump.bytes(ds.address, ds.size as usize, &ds.name).to_vec();
                let d = Deletions::observe(sec.data().unwrap(), &aligns, &calls, &linked, ds.address);
                ctx.dels.insert((i, sec.index()), d);
            }
        }
        ctx
    }

    pub fn file_index(&self, name: &str) -> Option<usize> {
        self.objs.iter().position(|(n, _)| n == name)
    }

    fn section_name(&self, i: usize, sec: SectionIndex) -> String {
        self.objs[i].1.section_by_index(sec).unwrap().name().unwrap().to_string()
    }

    pub fn section_addr(&self, i: usize, sec: SectionIndex) -> u64 {
        let name = self.section_name(i, sec);
        self.dump
            .section(&self.objs[i].0, &name)
            .unwrap_or_else(|| panic!("[{}] section {name} of {} is not in the dump", self.tag, self.objs[i].0))
            .address
    }

    /// Final offset of old offset `x` in section `sec` of object `i`.
    pub fn map(&self, i: usize, sec: SectionIndex, x: u64) -> u64 {
        self.dels.get(&(i, sec)).map_or(x, |d| d.map(x))
    }

    /// Address of symbol `idx` of object `i` as defined there.
    pub fn own_def(&self, i: usize, idx: SymbolIndex) -> Def {
        let (file, obj) = &self.objs[i];
        let sym = obj.symbol_by_index(idx).unwrap();
        match sym.section() {
            SymbolSection::Absolute => Def { addr: sym.address(), size: sym.size() },
            SymbolSection::Section(sec) => {
                let base = self.section_addr(i, sec);
                let start = self.map(i, sec, sym.address());
                let end = self.map(i, sec, sym.address() + sym.size());
                Def { addr: base + start, size: end - start }
            }
            SymbolSection::Common => {
                let name = sym.name().unwrap();
                let d = self
                    .dump
                    .symbols
                    .iter()
                    .find(|d| d.name == name && d.file == *file && d.kind != "external")
                    .unwrap_or_else(|| panic!("[{}] COMMON {name} of {file} not in the dump", self.tag));
                Def { addr: d.address, size: sym.size() }
            }
            other => panic!("[{}] symbol {:?}: unexpected section {other:?}", self.tag, sym.name()),
        }
    }

    /// Global `name`: first strong definition, else common, else weak;
    /// then `--abs`.
    pub fn resolve_global(&self, name: &str) -> Def {
        if let Some(&(j, idx)) = self.globals.get(name) {
            return self.own_def(j, idx);
        }
        if let Some(v) = self.abs.get(name) {
            return Def { addr: *v, size: 0 };
        }
        if let Some(&v) = self.externals.get(name) {
            return Def { addr: v, size: 0 };
        }
        panic!("[{}] {name} is defined by no input and no --abs", self.tag)
    }

    /// True if global `name` resolves to a definition in section `sec` of object `i`.
    fn global_in(&self, name: &str, i: usize, sec: SectionIndex) -> bool {
        self.globals.get(name).is_some_and(|&(j, idx)| {
            j == i && self.objs[i].1.symbol_by_index(idx).unwrap().section_index() == Some(sec)
        })
    }

    /// (name for stub/GOT lookups, S and Z) of relocation target `idx`.
    /// For a section symbol S is the section's address; the addend is
    /// mapped through the section's deletions by the caller.
    pub fn target(&self, i: usize, t: RelocationTarget) -> (String, Def, Option<SectionIndex>) {
        let RelocationTarget::Symbol(idx) = t else {
            return ("<absolute>".into(), Def { addr: 0, size: 0 }, None);
        };
        let obj = &self.objs[i].1;
        let sym = obj.symbol_by_index(idx).unwrap();
        if sym.kind() == SymbolKind::Section {
            let sec = sym.section().index().unwrap();
            return (self.section_name(i, sec), Def { addr: self.section_addr(i, sec), size: 0 }, Some(sec));
        }
        let name = sym.name().unwrap().to_string();
        if sym.is_local() || sym.section() == SymbolSection::Absolute && !sym.is_global() {
            return (name, self.own_def(i, idx), None);
        }
        let d = self.resolve_global(&name);
        (name, d, None)
    }

    /// S + A of a relocation: a section symbol's addend names a byte of
    /// the section, which moved with the deletions.
    pub fn s_plus_a(&self, i: usize, rel: &object::Relocation) -> (String, i128, Def) {
        let (name, def, sec) = self.target(i, rel.target());
        let a = rel.addend();
        let v = match sec {
            Some(sec) if a >= 0 => i128::from(def.addr) + i128::from(self.map(i, sec, a as u64)),
            _ => i128::from(def.addr) + i128::from(a),
        };
        (name, v, def)
    }

    pub fn check_got_entry(&self, what: &str, target: &str, e: u64, s: u64) {
        let entries: Vec<String> =
            self.dump.got.iter().filter(|g| g.target == target).map(|g| format!("{:#x}", g.address)).collect();
        assert!(
            self.dump.got.iter().any(|g| g.target == target && g.address == e),
            "{what}: goes through {e:#x}, not a `got` entry for {target} (its entries: {entries:?})"
        );
        let held = self.dump.le(e, 8, what);
        assert_eq!(held, s, "{what}: GOT entry {e:#x} for {target} holds {held:#x}, expected S = {s:#x}");
    }

    /// `l` must be a stub for `target` jumping (through a GOT entry) to `s`;
    /// returns its flavour.
    pub fn check_stub(&self, what: &str, target: &str, l: u64, s: u64) -> &'static str {
        let stub = self.dump.stubs.iter().find(|x| x.target == target && x.address == l).unwrap_or_else(|| {
            let list: Vec<String> = self
                .dump
                .stubs
                .iter()
                .filter(|x| x.target == target)
                .map(|x| format!("{}:{:#x}", x.kind, x.address))
                .collect();
            panic!("{what}: goes to {l:#x}, which is not a stub for {target} (its stubs: {list:?})")
        });
        assert_eq!(stub.size, 16, "{what}: stub size");
        let slot = stub_slot(self.dump, l, what);
        self.check_got_entry(&format!("{what} (stub {l:#x})"), target, slot, s);
        match stub.kind.as_str() {
            "plt" => "plt",
            "veneer" => "veneer",
            k => panic!("{what}: stub flavour {k:?}"),
        }
    }

    /// Checks every relocation of every allocated section of every
    /// object that the dump lists, and that bytes no relocation touches
    /// are the object's (after the ALIGN deletions, whose kept bytes must
    /// be NOPs). Returns what was checked.
    pub fn check_all(&self) -> Vec<Checked> {
        let mut out = Vec::new();
        for i in 0..self.objs.len() {
            let obj = &self.objs[i].1;
            for sec in obj.sections() {
                if !is_alloc(&sec) {
                    continue;
                }
                let name = sec.name().unwrap().to_string();
                if self.dump.section(&self.objs[i].0, &name).is_none() {
                    continue; // dead-stripped
                }
                out.extend(self.check_section(i, &sec));
            }
        }
        out
    }

    fn check_section(&self, i: usize, sec: &object::Section<'_, '_>) -> Vec<Checked> {
        let file = self.objs[i].0.clone();
        let sname = sec.name().unwrap().to_string();
        let ds = self.dump.section(&file, &sname).unwrap().clone();
        let nobits = matches!(sec.kind(), SectionKind::UninitializedData | SectionKind::UninitializedTls);
        let orig: Vec<u8> = if nobits { vec![0; sec.size() as usize] } else { sec.data().unwrap().to_vec() };
        let empty = Deletions::default();
        let dels = self.dels.get(&(i, sec.index())).unwrap_or(&empty);
        assert_eq!(
            ds.size,
            orig.len() as u64 - dels.total(),
            "[{}] {file} {sname}: dump size {} vs object size {} less {} bytes of ALIGN padding",
            self.tag,
            ds.size,
            orig.len(),
            dels.total()
        );
        let base = ds.address;
        let at = |o: u64| base + dels.map(o);
        let mut touched = vec![false; orig.len()];
        let mut out = Vec::new();
        // Relocations grouped by offset, in order.
        let mut groups: BTreeMap<u64, Vec<object::Relocation>> = BTreeMap::new();
        for (o, r) in sec.relocations() {
            groups.entry(o).or_default().push(r);
        }
        let by_offset: HashMap<u64, Vec<(u32, RelocationTarget, i64)>> =
            groups.iter().map(|(o, v)| (*o, v.iter().map(|r| (r_type(r), r.target(), r.addend())).collect())).collect();
        for (&off, rels) in &groups {
            let what =
                |t: u32, name: &str| format!("[{}] {file} {sname}+{off:#x} {} -> {name}", self.tag, type_name(t));
            let p = at(off) as i128;
            let first = r_type(&rels[0]);
            // Data composites: ADD/SUB/SET/ULEB in order on the original field.
            if rels.iter().all(|r| is_data_op(r_type(r))) {
                let width = data_width(first, &orig, off as usize);
                let mut v: u64 = le_bytes(&orig[off as usize..off as usize + width]);
                let mut names = Vec::new();
                for r in rels {
                    let t = r_type(r);
                    let (name, sa, _) = self.s_plus_a(i, r);
                    names.push(format!("{}:{name}", type_name(t)));
                    let sa = sa as u64;
                    v = match t {
                        elf::R_RISCV_ADD8 | elf::R_RISCV_ADD16 | elf::R_RISCV_ADD32 | elf::R_RISCV_ADD64 => {
                            v.wrapping_add(sa)
                        }
                        elf::R_RISCV_SUB8
                        | elf::R_RISCV_SUB16
                        | elf::R_RISCV_SUB32
                        | elf::R_RISCV_SUB64
                        | elf::R_RISCV_SUB_ULEB128 => v.wrapping_sub(sa),
                        elf::R_RISCV_SET8 | elf::R_RISCV_SET16 | elf::R_RISCV_SET32 | elf::R_RISCV_SET_ULEB128 => sa,
                        elf::R_RISCV_SET6 => (v & 0xc0) | (sa & 0x3f),
                        elf::R_RISCV_SUB6 => (v & 0xc0) | (v.wrapping_sub(sa) & 0x3f),
                        _ => unreachable!(),
                    };
                    out.push(Checked {
                        file: file.clone(),
                        section: sname.clone(),
                        offset: off,
                        r_type: t,
                        target: name,
                        how: How::Plain,
                    });
                }
                let actual = self.dump.bytes(p as u64, width, &what(first, "")).to_vec();
                let want = if matches!(first, elf::R_RISCV_SET_ULEB128) {
                    assert!(
                        width == 10 || v >> (7 * width) == 0,
                        "{}: ULEB value does not fit: fixture bug",
                        what(first, "")
                    );
                    uleb_padded(v, width)
                } else {
                    v.to_le_bytes()[..width].to_vec()
                };
                assert_eq!(actual, want, "{} ({names:?}): field", what(first, ""));
                touched[off as usize..off as usize + width].iter_mut().for_each(|t| *t = true);
                continue;
            }
            for r in rels {
                let t = r_type(r);
                if matches!(t, elf::R_RISCV_NONE | elf::R_RISCV_RELAX | elf::R_RISCV_ALIGN) {
                    continue;
                }
                let (name, sa, def) = self.s_plus_a(i, r);
                let w = what(t, &name);
                let a = i128::from(r.addend());
                let o = off as usize;
                let ins = |k: usize| u32::from_le_bytes(orig[o + 4 * k..o + 4 * k + 4].try_into().unwrap());
                let ins16 = || u16::from_le_bytes(orig[o..o + 2].try_into().unwrap());
                let dw = |k: u64| self.dump.u32_at(p as u64 + 4 * k, &w);
                let (how, width) = match t {
                    elf::R_RISCV_64 => {
                        assert_eq!(self.dump.le(p as u64, 8, &w), sa as u64, "{w}: S + A");
                        (How::Plain, 8)
                    }
                    elf::R_RISCV_32 => {
                        assert!((-(1i128 << 31)..1i128 << 32).contains(&sa), "{w}: fixture bug");
                        assert_eq!(self.dump.le(p as u64, 4, &w), sa as u64 & 0xffff_ffff, "{w}: S + A");
                        (How::Plain, 4)
                    }
                    elf::R_RISCV_32_PCREL => {
                        let v = sa - p;
                        assert!(i32::try_from(v).is_ok(), "{w}: fixture bug");
                        assert_eq!(self.dump.le(p as u64, 4, &w), v as u64 & 0xffff_ffff, "{w}: S + A - P");
                        (How::Plain, 4)
                    }
                    elf::R_RISCV_PLT32 => {
                        let v = sext(self.dump.le(p as u64, 4, &w), 32) as i128;
                        if v == sa - p {
                            (How::Direct, 4)
                        } else {
                            let l = (v + p - a) as u64;
                            (How::ViaStub(self.check_stub(&w, &name, l, def.addr)), 4)
                        }
                    }
                    41 => {
                        // GOT32_PCREL: G + GOT + A - P.
                        let v = sext(self.dump.le(p as u64, 4, &w), 32) as i128;
                        self.check_got_entry(&w, &name, (v + p - a) as u64, def.addr);
                        (How::Got, 4)
                    }
                    elf::R_RISCV_BRANCH | elf::R_RISCV_JAL | elf::R_RISCV_RVC_BRANCH | elf::R_RISCV_RVC_JUMP => {
                        let (disp, mask, width) = match t {
                            elf::R_RISCV_BRANCH => (dec_b(dw(0)), 0x01ff_f07fu32, 4),
                            elf::R_RISCV_JAL => (dec_j(dw(0)), 0xfff, 4),
                            elf::R_RISCV_RVC_BRANCH => (dec_cb(self.dump.u16_at(p as u64, &w)), 0xe383, 2),
                            _ => (dec_cj(self.dump.u16_at(p as u64, &w)), 0xe003, 2),
                        };
                        let (old, new) = if width == 4 {
                            (ins(0), dw(0))
                        } else {
                            (u32::from(ins16()), u32::from(self.dump.u16_at(p as u64, &w)))
                        };
                        assert_eq!(old & mask, new & mask, "{w}: opcode/register bits changed");
                        let dest = p + i128::from(disp);
                        if dest == sa {
                            (How::Direct, width)
                        } else {
                            (How::ViaStub(self.check_stub(&w, &name, (dest - a) as u64, sa as u64)), width)
                        }
                    }
                    elf::R_RISCV_CALL | elf::R_RISCV_CALL_PLT if dels.relaxed.contains_key(&off) => {
                        let len = dels.relaxed[&off];
                        let rd = (ins(1) >> 7) & 31;
                        let disp = if len == 2 {
                            assert_eq!(rd, 0, "{w}: C.J for a call that links a register");
                            dec_cj(self.dump.u16_at(p as u64, &w))
                        } else {
                            assert_eq!(dw(0) & 0xfff, 0x6f | rd << 7, "{w}: not `jal` with the JALR's rd {rd}");
                            dec_j(dw(0))
                        };
                        assert_eq!(p + i128::from(disp), sa, "{w}: relaxed call does not reach S + A");
                        let (_, _, tsec) = self.target(i, r.target());
                        let same = match r.target() {
                            RelocationTarget::Symbol(idx) => {
                                let sym = self.objs[i].1.symbol_by_index(idx).unwrap();
                                tsec == Some(sec.index())
                                    || sym.is_local() && sym.section_index() == Some(sec.index())
                                    || self.global_in(&name, i, sec.index())
                            }
                            _ => false,
                        };
                        assert!(same, "{w}: relaxed, but the target is not in the same section");
                        (How::Relaxed(len), len as usize)
                    }
                    elf::R_RISCV_CALL | elf::R_RISCV_CALL_PLT => {
                        assert_eq!(ins(0) & 0xfff, dw(0) & 0xfff, "{w}: AUIPC register bits changed");
                        assert_eq!(ins(1) & 0xf_ffff, dw(1) & 0xf_ffff, "{w}: JALR register bits changed");
                        let dest = p + i128::from(dec_u(dw(0))) + i128::from(dec_i(dw(1)));
                        if dest == sa {
                            (How::Direct, 8)
                        } else {
                            (How::ViaStub(self.check_stub(&w, &name, (dest - a) as u64, sa as u64)), 8)
                        }
                    }
                    elf::R_RISCV_HI20 | elf::R_RISCV_PCREL_HI20 => {
                        let v = if t == elf::R_RISCV_HI20 { i128::from(sa as i64) } else { sa - p };
                        assert!(fits_hi20(v), "{w}: fixture bug");
                        assert_eq!(ins(0) & 0xfff, dw(0) & 0xfff, "{w}: register bits changed");
                        assert_eq!(dec_u(dw(0)), split(v).0, "{w}: hi20 of {v:#x}");
                        (How::Plain, 4)
                    }
                    elf::R_RISCV_LO12_I | elf::R_RISCV_LO12_S => {
                        let (mask, lo) = if t == elf::R_RISCV_LO12_I {
                            (0x000f_ffffu32, dec_i(dw(0)))
                        } else {
                            (0x01ff_f07f, dec_s(dw(0)))
                        };
                        assert_eq!(ins(0) & mask, dw(0) & mask, "{w}: register bits changed");
                        assert_eq!(lo, split(sa).1, "{w}: lo12 of {:#x}", sa);
                        (How::Plain, 4)
                    }
                    elf::R_RISCV_GOT_HI20 => {
                        // The entry is named by hi20 + the partner's lo12;
                        // checked there. Here: some GOT entry for the
                        // target with this hi20.
                        let hi = dec_u(dw(0));
                        let ok =
                            self.dump.got.iter().any(|g| g.target == name && split(i128::from(g.address) - p).0 == hi);
                        assert!(ok, "{w}: hi20 {hi:#x} addresses no `got` entry for {name}");
                        (How::Got, 4)
                    }
                    elf::R_RISCV_PCREL_LO12_I | elf::R_RISCV_PCREL_LO12_S => {
                        let how = self.check_pcrel_lo(i, sec, &by_offset, r, p, &w, t, ins(0), dw(0));
                        (how, 4)
                    }
                    other => panic!("{w}: fixture uses relocation type {other}, which this test does not model"),
                };
                out.push(Checked {
                    file: file.clone(),
                    section: sname.clone(),
                    offset: off,
                    r_type: t,
                    target: name.clone(),
                    how,
                });
                touched[o..o + width].iter_mut().for_each(|x| *x = true);
            }
        }
        // ALIGN padding kept as NOPs (4-byte NOPs, then a C.NOP), and all
        // other bytes as in the object.
        for &(o, keep) in &dels.kept {
            let mut nops = Vec::new();
            for _ in 0..keep / 4 {
                nops.extend_from_slice(&0x13u32.to_le_bytes());
            }
            if keep % 4 != 0 {
                nops.extend_from_slice(&1u16.to_le_bytes());
            }
            let what = format!("[{}] {file} {sname}+{o:#x} R_RISCV_ALIGN", self.tag);
            assert_eq!(self.dump.bytes(at(o), keep as usize, &what), &nops[..], "{what}: kept padding is not NOPs");
            touched[o as usize..(o + keep) as usize].iter_mut().for_each(|x| *x = true);
        }
        for (o, &b) in orig.iter().enumerate() {
            if touched[o] || dels.deleted(o as u64) {
                continue;
            }
            let got = self.dump.bytes(at(o as u64), 1, "byte")[0];
            assert_eq!(got, b, "[{}] {file} {sname}+{o:#x}: untouched byte changed ({b:#04x} -> {got:#04x})", self.tag);
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn check_pcrel_lo(
        &self,
        i: usize,
        sec: &object::Section<'_, '_>,
        by_offset: &HashMap<u64, Vec<(u32, RelocationTarget, i64)>>,
        r: &object::Relocation,
        p: i128,
        w: &str,
        t: u32,
        old: u32,
        new: u32,
    ) -> How {
        let (mask, lo) =
            if t == elf::R_RISCV_PCREL_LO12_I { (0x000f_ffffu32, dec_i(new)) } else { (0x01ff_f07f, dec_s(new)) };
        assert_eq!(old & mask, new & mask, "{w}: register bits changed");
        // The label: a symbol of this section at the AUIPC.
        let RelocationTarget::Symbol(idx) = r.target() else { panic!("{w}: no label") };
        let label = self.objs[i].1.symbol_by_index(idx).unwrap();
        assert_eq!(label.section_index(), Some(sec.index()), "{w}: label in another section");
        let hi_off = (label.address() as i64 + r.addend()) as u64;
        let his: Vec<&(u32, RelocationTarget, i64)> = by_offset
            .get(&hi_off)
            .map(|v| v.iter().filter(|x| matches!(x.0, elf::R_RISCV_PCREL_HI20 | elf::R_RISCV_GOT_HI20)).collect())
            .unwrap_or_default();
        assert_eq!(his.len(), 1, "{w}: no single HI20 at the label's offset {hi_off:#x}");
        let (ht, htarget, haddend) = *his[0];
        let p_hi = i128::from(self.section_addr(i, sec.index()) + self.map(i, sec.index(), hi_off));
        let auipc = self.dump.u32_at(p_hi as u64, w);
        let value = i128::from(dec_u(auipc)) + i128::from(lo);
        let fake = FakeRel { target: htarget, addend: haddend };
        let (hname, hsa, hdef) = self.s_plus_a_raw(i, &fake);
        if ht == elf::R_RISCV_PCREL_HI20 {
            assert_eq!(value, hsa - p_hi, "{w}: hi20 + lo12 at {:#x} is not S + A - P of the HI20 ({hname})", p_hi);
            How::Plain
        } else {
            let e = (p_hi + value) as u64;
            self.check_got_entry(w, &hname, e, hdef.addr.wrapping_add(haddend as u64));
            let _ = p;
            How::Got
        }
    }

    fn s_plus_a_raw(&self, i: usize, r: &FakeRel) -> (String, i128, Def) {
        let (name, def, sec) = self.target(i, r.target);
        let v = match sec {
            Some(sec) if r.addend >= 0 => i128::from(def.addr) + i128::from(self.map(i, sec, r.addend as u64)),
            _ => i128::from(def.addr) + i128::from(r.addend),
        };
        (name, v, def)
    }

    /// Every named symbol of every object defined in a loaded section is
    /// in the dump at its (moved) address with its (shrunk) size.
    pub fn check_symbols(&self) {
        for (i, (file, obj)) in self.objs.iter().enumerate() {
            let mut want: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
            for s in obj.symbols() {
                let Ok(name) = s.name() else { continue };
                if name.is_empty() || s.kind() == SymbolKind::Section || s.kind() == SymbolKind::File {
                    continue;
                }
                let SymbolSection::Section(sec) = s.section() else { continue };
                let sn = obj.section_by_index(sec).unwrap();
                if !is_alloc(&sn) || self.dump.section(file, sn.name().unwrap()).is_none() {
                    continue;
                }
                if !s.is_local() {
                    // Globals resolve to one definition (checked by name).
                    let d = self.resolve_global(name);
                    let dd = self.dump.symbol(name).unwrap_or_else(|| panic!("[{}] {name} not in dump", self.tag));
                    assert_eq!((dd.address, dd.size), (d.addr, d.size), "[{}] global {name}", self.tag);
                    continue;
                }
                let d = self.own_def(i, s.index());
                want.entry(name.to_string()).or_default().push((d.addr, d.size));
            }
            for (name, mut v) in want {
                let mut got: Vec<(u64, u64)> = self
                    .dump
                    .symbols
                    .iter()
                    .filter(|d| d.name == name && d.file == *file && d.kind == "defined" && d.scope == "local")
                    .map(|d| (d.address, d.size))
                    .collect();
                v.sort_unstable();
                got.sort_unstable();
                assert_eq!(got, v, "[{}] local symbol {name} of {file}: (address, size)", self.tag);
            }
        }
    }
}

struct FakeRel {
    target: RelocationTarget,
    addend: i64,
}

fn is_data_op(t: u32) -> bool {
    matches!(
        t,
        elf::R_RISCV_ADD8
            | elf::R_RISCV_ADD16
            | elf::R_RISCV_ADD32
            | elf::R_RISCV_ADD64
            | elf::R_RISCV_SUB8
            | elf::R_RISCV_SUB16
            | elf::R_RISCV_SUB32
            | elf::R_RISCV_SUB64
            | elf::R_RISCV_SUB6
            | elf::R_RISCV_SET6
            | elf::R_RISCV_SET8
            | elf::R_RISCV_SET16
            | elf::R_RISCV_SET32
            | elf::R_RISCV_SET_ULEB128
            | elf::R_RISCV_SUB_ULEB128
    )
}

fn data_width(t: u32, orig: &[u8], at: usize) -> usize {
    match t {
        elf::R_RISCV_ADD8 | elf::R_RISCV_SUB8 | elf::R_RISCV_SET8 | elf::R_RISCV_SET6 | elf::R_RISCV_SUB6 => 1,
        elf::R_RISCV_ADD16 | elf::R_RISCV_SUB16 | elf::R_RISCV_SET16 => 2,
        elf::R_RISCV_ADD32 | elf::R_RISCV_SUB32 | elf::R_RISCV_SET32 => 4,
        elf::R_RISCV_ADD64 | elf::R_RISCV_SUB64 => 8,
        _ => orig[at..].iter().position(|b| b & 0x80 == 0).expect("terminated ULEB128") + 1,
    }
}

fn le_bytes(b: &[u8]) -> u64 {
    if b.len() > 8 {
        return uleb_value(b);
    }
    b.iter().rev().fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
}

fn uleb_value(b: &[u8]) -> u64 {
    b.iter().enumerate().fold(0u64, |acc, (i, x)| acc | (u64::from(x & 0x7f) << (7 * i)))
}

fn uleb_padded(v: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| ((v >> (7 * i)) & 0x7f) as u8 | if i + 1 < len { 0x80 } else { 0 }).collect()
}

/// The relocation types `recs` covered.
pub fn types_of(recs: &[Checked]) -> BTreeSet<u32> {
    recs.iter().map(|r| r.r_type).collect()
}

pub fn assert_how(recs: &[Checked], file: &str, t: u32, target: &str, how: How) {
    let found: Vec<&Checked> = recs.iter().filter(|r| r.file == file && r.r_type == t && r.target == target).collect();
    assert!(!found.is_empty(), "no {} in {file} against {target} was checked", type_name(t));
    for r in found {
        assert_eq!(r.how, how, "{file} {}+{:#x} {} -> {target}", r.section, r.offset, type_name(t));
    }
}

pub fn read_inputs(files: &[PathBuf]) -> Vec<(String, Vec<u8>)> {
    files.iter().map(|f| (base_name(f), fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())))).collect()
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Runs a link that must fail: exit status 1 and one line on stderr,
/// returned.
pub fn link_fails(files: &[PathBuf], abs: &[(&str, u64)]) -> String {
    let mut args = cli_args(abs);
    args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    let out = run_jitlink(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "exit status for {args:?}; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "panic:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{stderr}");
    lines[0].to_string()
}

/// The line names `file`, `section`, the relocation `name` as a whole
/// word, and `offset` in hex.
pub fn assert_names_site(line: &str, file: &str, section: &str, name: &str, offset: u64) {
    assert!(line.contains(file), "the error does not name {file}: {line}");
    assert!(line.contains(section), "the error does not name section {section}: {line}");
    let whole = line.match_indices(name).any(
        |(at, _)| !matches!(line[at + name.len()..].chars().next(), Some(c) if c.is_ascii_alphanumeric() || c == '_'),
    );
    assert!(whole, "the error does not name {name}: {line}");
    let offsets: Vec<u64> = line
        .match_indices("0x")
        .filter_map(|(at, _)| {
            let hex: String = line[at + 2..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            u64::from_str_radix(&hex, 16).ok()
        })
        .collect();
    assert!(offsets.contains(&offset), "the error does not give offset {offset:#x}: {line}");
}

// ---------------------------------------------------------------------------
// GNU ld reference
// ---------------------------------------------------------------------------

pub const LD: &str = "riscv64-linux-gnu-ld";

pub fn have_ld() -> bool {
    Command::new(LD).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// GNU ld's link of the same inputs with every input section of the dump
/// placed at the dump's address (one output section each), `defsyms` as
/// `--defsym`, with or without relaxation. Returns the output's bytes.
///
/// `inputs` are (path given to ld, name in the dump); an archive member
/// `lib.a(m.o)` of the dump is matched as `path/lib.a:m.o`.
pub fn ld_link(
    tag: &str,
    inputs: &[(PathBuf, String)],
    dump: &Dump,
    defsyms: &[(String, u64)],
    relax: bool,
) -> Vec<u8> {
    // ld merges duplicate strings and constants of SHF_MERGE sections
    // (.rodata.str*, .rodata.cst*) even within one input section;
    // jitlink does not. Give ld copies with the flag cleared.
    let inputs: Vec<(PathBuf, String)> = inputs
        .iter()
        .enumerate()
        .map(|(k, (p, name))| {
            let copy = tmp_file(&format!("{tag}-{k}-{}", base_name(p)));
            let flags = "alloc,load,readonly,data,contents";
            let o = Command::new("riscv64-linux-gnu-objcopy")
                .arg(format!("--set-section-flags=.rodata*={flags}"))
                .arg(format!("--set-section-flags=.srodata*={flags}"))
                .arg(p)
                .arg(&copy)
                .output()
                .expect("run riscv64-linux-gnu-objcopy");
            assert!(o.status.success(), "objcopy {}: {}", p.display(), String::from_utf8_lossy(&o.stderr));
            (copy, name.clone())
        })
        .collect();
    let inputs = &inputs[..];
    let mut script = String::from("SECTIONS {\n");
    let mut n = 0;
    for s in &dump.sections {
        if s.name.starts_with("$__") {
            continue;
        }
        let pattern = if let Some((ar, member)) = s.file.strip_suffix(')').and_then(|f| f.split_once('(')) {
            let Some((path, _)) = inputs.iter().find(|(_, name)| name == ar) else { continue };
            format!("\"{}:{member}\"", path.display())
        } else {
            let Some((path, _)) = inputs.iter().find(|(_, name)| *name == s.file) else { continue };
            format!("\"{}\"", path.display())
        };
        let sec = if s.name == "COMMON" { "COMMON".to_string() } else { s.name.clone() };
        script.push_str(&format!("  .jl{n} {:#x} : {{ KEEP({pattern}({sec})) }}\n", s.address));
        n += 1;
    }
    script.push_str("}\n");
    let lds = tmp_file(&format!("{tag}.ld"));
    fs::write(&lds, &script).unwrap();
    let out = tmp_file(&format!("{tag}.ld.out"));
    let mut cmd = Command::new(LD);
    cmd.arg("-T").arg(&lds).args(["-e", "0", "--no-check-sections", "--build-id=none", "-o"]).arg(&out);
    cmd.arg(if relax { "--relax" } else { "--no-relax" });
    for (name, v) in defsyms {
        cmd.arg(format!("--defsym={name}={v:#x}"));
    }
    let mut archives = Vec::new();
    for (p, _) in inputs {
        if p.extension().is_some_and(|e| e == "a") {
            archives.push(p.clone());
        } else {
            cmd.arg(p);
        }
    }
    cmd.args(&archives);
    let o = cmd.output().expect("run ld");
    assert!(o.status.success(), "[{tag}] {cmd:?} failed:\n{}\nscript:\n{script}", String::from_utf8_lossy(&o.stderr));
    fs::read(&out).unwrap()
}

/// Compares every dump section with ld's output section at its address;
/// `skip(file, section, offset)` exempts a byte. Returns the number of
/// bytes compared.
pub fn compare_with_ld(tag: &str, dump: &Dump, ld_out: &[u8], skip: &dyn Fn(&str, &str, u64) -> bool) -> usize {
    let exe = object::File::parse(ld_out).expect("ld output parses");
    let mut by_addr: HashMap<u64, object::Section<'_, '_>> = HashMap::new();
    for s in exe.sections() {
        if s.name().is_ok_and(|n| n.starts_with(".jl")) {
            by_addr.insert(s.address(), s);
        }
    }
    let mut compared = 0;
    let mut seen = HashSet::new();
    for s in &dump.sections {
        if s.name.starts_with("$__") || s.size == 0 || !seen.insert((s.file.clone(), s.name.clone())) {
            continue;
        }
        let Some(ls) = by_addr.get(&s.address) else { continue };
        assert_eq!(ls.size(), s.size, "[{tag}] {} {}: ld's size {} vs jitlink's {}", s.file, s.name, ls.size(), s.size);
        let ours = dump.bytes(s.address, s.size as usize, &s.name);
        let theirs: Vec<u8> = match ls.kind() {
            SectionKind::UninitializedData => vec![0; s.size as usize],
            _ => ls.data().unwrap().to_vec(),
        };
        for (o, (&a, &b)) in ours.iter().zip(theirs.iter()).enumerate() {
            if skip(&s.file, &s.name, o as u64) {
                continue;
            }
            assert_eq!(
                a,
                b,
                "[{tag}] {} {} offset {o:#x} (address {:#x}): jitlink {a:#04x}, ld {b:#04x}",
                s.file,
                s.name,
                s.address + o as u64
            );
            compared += 1;
        }
    }
    compared
}

/// ld's symbols: name -> (address, size), for those defined in the
/// placed sections.
pub fn ld_symbols(ld_out: &[u8]) -> Vec<(String, u64, u64, bool)> {
    let exe = object::File::parse(ld_out).expect("ld output parses");
    exe.symbols()
        .filter(|s| {
            s.section_index().is_some() && matches!(s.kind(), SymbolKind::Text | SymbolKind::Data | SymbolKind::Unknown)
        })
        .filter_map(|s| Some((s.name().ok()?.to_string(), s.address(), s.size(), s.is_global())))
        .filter(|(n, ..)| !n.is_empty() && !n.starts_with('$'))
        .collect()
}

impl Ctx<'_> {
    /// Bytes (file, section, final offset) of instructions that address
    /// a GOT entry: R_RISCV_GOT_HI20 and the R_RISCV_PCREL_LO12_I/S that
    /// name its label. Another linker's GOT is elsewhere, so these differ.
    pub fn got_sites(&self) -> HashSet<(String, String, u64)> {
        let mut out = HashSet::new();
        for (i, (file, obj)) in self.objs.iter().enumerate() {
            for sec in obj.sections() {
                let name = sec.name().unwrap().to_string();
                let relocs: Vec<(u64, object::Relocation)> = sec.relocations().collect();
                let his: HashSet<u64> =
                    relocs.iter().filter(|(_, r)| r_type(r) == elf::R_RISCV_GOT_HI20).map(|(o, _)| *o).collect();
                for (o, r) in &relocs {
                    let hit = match r_type(r) {
                        elf::R_RISCV_GOT_HI20 => true,
                        elf::R_RISCV_PCREL_LO12_I | elf::R_RISCV_PCREL_LO12_S => match r.target() {
                            RelocationTarget::Symbol(idx) => {
                                let l = obj.symbol_by_index(idx).unwrap();
                                his.contains(&((l.address() as i64 + r.addend()) as u64))
                            }
                            _ => false,
                        },
                        _ => false,
                    };
                    if hit {
                        let at = self.map(i, sec.index(), *o);
                        for k in 0..4 {
                            out.insert((file.clone(), name.clone(), at + k));
                        }
                    }
                }
            }
        }
        out
    }
}

impl Ctx<'_> {
    /// Bytes (file, section, final offset) of R_RISCV_ALIGN padding kept
    /// as NOPs. Which NOPs fill it is the linker's choice (ld --relax
    /// writes 4-byte NOPs then a C.NOP, as jitlink does; ld --no-relax
    /// keeps the assembler's first bytes); `check_all` checks they are NOPs.
    pub fn padding_sites(&self) -> HashSet<(String, String, u64)> {
        let mut out = HashSet::new();
        for (&(i, sec), d) in &self.dels {
            let name = self.section_name(i, sec);
            for &(o, keep) in &d.kept {
                let at = d.map(o);
                for k in 0..keep {
                    out.insert((self.objs[i].0.clone(), name.clone(), at + k));
                }
            }
        }
        out
    }
}
