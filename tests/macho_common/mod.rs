//! Shared by the Mach-O and COFF tests: running `jitlink link --noexec`,
//! reading its `jitlink-dump/1` file (shared/spec/cli-and-link-dump.md),
//! and decoding the stubs a link may route a branch through.
#![allow(dead_code)]

pub mod kernels;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SLAB: u64 = 0x1000_0000;

pub fn fixture(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir).join(name)
}

pub fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

pub fn run_jitlink(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jitlink"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("cannot run the jitlink binary")
}

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

fn addr(v: &Value) -> u64 {
    let s = v.as_str().expect("address string");
    u64::from_str_radix(s.strip_prefix("0x").expect("0x"), 16).expect("hex address")
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

impl Dump {
    pub fn parse(t: &str) -> Dump {
        let root: Value = serde_json::from_str(t).expect("dump is JSON");
        assert_eq!(root["format"], "jitlink-dump/1");
        let arr = |k: &str| root[k].as_array().cloned().unwrap_or_default();
        let hex = |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
        let entries = |k: &str| {
            arr(k)
                .iter()
                .map(|e| DEntry {
                    file: text(e, "file"),
                    target: text(e, "target"),
                    kind: text(e, "kind"),
                    address: addr(&e["address"]),
                    size: e["size"].as_u64().unwrap_or(0),
                })
                .collect()
        };
        Dump {
            triple: text(&root, "triple"),
            memory: arr("memory").iter().map(|m| (addr(&m["address"]), hex(&text(m, "bytes")))).collect(),
            sections: arr("sections")
                .iter()
                .map(|s| DSection {
                    file: text(s, "file"),
                    name: text(s, "name"),
                    address: addr(&s["address"]),
                    size: s["size"].as_u64().unwrap_or(0),
                })
                .collect(),
            symbols: arr("symbols")
                .iter()
                .map(|s| DSymbol {
                    name: text(s, "name"),
                    file: text(s, "file"),
                    section: text(s, "section"),
                    address: addr(&s["address"]),
                    size: s["size"].as_u64().unwrap_or(0),
                    linkage: text(s, "linkage"),
                    scope: text(s, "scope"),
                    kind: text(s, "kind"),
                })
                .collect(),
            stubs: entries("stubs"),
            got: entries("got"),
        }
    }

    pub fn read(&self, at: u64, len: usize) -> Option<&[u8]> {
        self.memory.iter().find_map(|(start, bytes)| {
            let off = at.checked_sub(*start)? as usize;
            bytes.get(off..off.checked_add(len)?)
        })
    }

    pub fn bytes(&self, at: u64, len: usize) -> &[u8] {
        self.read(at, len).unwrap_or_else(|| panic!("{len} bytes at {at:#x} are in no memory range of the dump"))
    }

    pub fn u32(&self, at: u64) -> u32 {
        u32::from_le_bytes(self.bytes(at, 4).try_into().unwrap())
    }

    pub fn u64(&self, at: u64) -> u64 {
        u64::from_le_bytes(self.bytes(at, 8).try_into().unwrap())
    }

    /// The little-endian value of `width` bytes at `at`.
    pub fn le(&self, at: u64, width: usize) -> u64 {
        self.bytes(at, width).iter().rev().fold(0u64, |a, &b| a << 8 | u64::from(b))
    }

    pub fn section(&self, file: &str, name: &str) -> Option<&DSection> {
        self.sections.iter().find(|s| s.file == file && s.name == name)
    }

    pub fn symbol(&self, file: &str, name: &str) -> Option<&DSymbol> {
        self.symbols.iter().find(|s| s.file == file && s.name == name)
    }

    /// True when `at` is the address of a GOT entry (of any file) whose 8
    /// bytes hold `value`.
    pub fn is_got_entry_for(&self, at: u64, value: u64) -> bool {
        self.got.iter().any(|g| g.address == at)
            && self.read(at, 8).is_some_and(|b| u64::from_le_bytes(b.try_into().unwrap()) == value)
    }

    /// Where an x86-64 stub (`ff 25 rel32`, jmp through a GOT slot) at `at`
    /// goes, if `at` is a stub of the dump.
    pub fn x86_stub_target(&self, at: u64) -> Option<u64> {
        self.stubs.iter().find(|s| s.address == at)?;
        let b = self.read(at, 6)?;
        if b[0] != 0xff || b[1] != 0x25 {
            return None;
        }
        let slot = (at + 6).wrapping_add(i32::from_le_bytes(b[2..6].try_into().unwrap()) as i64 as u64);
        self.got.iter().find(|g| g.address == slot)?;
        Some(self.u64(slot))
    }

    /// Where an AArch64 stub or veneer at `at` goes, if `at` is one of the
    /// dump's: `LDR x16, lit; BR x16`, `ADRP x16; LDR x16, [x16, lo12]; BR x16`
    /// (through a GOT slot), `ADRP x16; ADD x16, x16, lo12; BR x16`, or
    /// `LDR x16, .+8; BR x16; .xword T`.
    pub fn arm64_stub_target(&self, at: u64) -> Option<u64> {
        self.stubs.iter().find(|s| s.address == at)?;
        let w0 = self.u32(at);
        let w1 = self.u32(at + 4);
        const BR_X16: u32 = 0xd61f_0200;
        if w0 & 0xff00_001f == 0x5800_0010 && w1 == BR_X16 {
            let lit = at.wrapping_add((sext((w0 >> 5) & 0x7ffff, 19) * 4) as u64);
            return Some(self.u64(lit));
        }
        if w0 & 0x9f00_001f == 0x9000_0010 && self.u32(at + 8) == BR_X16 {
            let page = (at & !0xfff).wrapping_add((adr_imm(w0) << 12) as u64);
            if w1 & 0xffc0_03ff == 0xf940_0210 {
                let slot = page + u64::from((w1 >> 10) & 0xfff) * 8;
                return Some(self.u64(slot));
            }
            if w1 & 0xffc0_03ff == 0x9100_0210 {
                return Some(page + u64::from((w1 >> 10) & 0xfff));
            }
        }
        None
    }
}

pub fn sext(v: u32, bits: u32) -> i64 {
    (i64::from(v) << (64 - bits)) >> (64 - bits)
}

/// The immhi:immlo of an ADR/ADRP, sign-extended.
pub fn adr_imm(w: u32) -> i64 {
    sext(((w >> 5) & 0x7ffff) << 2 | (w >> 29) & 3, 21)
}

/// Links `files` with `jitlink link --noexec --slab-address SLAB` plus
/// `extra` options, and returns the dump (panicking with the linker's
/// stderr when it fails).
pub fn link(tag: &str, files: &[PathBuf], extra: &[&str]) -> Dump {
    let out = tmp(&format!("{tag}.json"));
    let _ = std::fs::remove_file(&out);
    let mut args: Vec<String> = vec!["link".into(), "--noexec".into(), "--slab-address".into(), format!("{SLAB:#x}")];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("--dump-json".into());
    args.push(out.display().to_string());
    args.extend(files.iter().map(|f| f.display().to_string()));
    let o = run_jitlink(&args);
    assert!(o.status.success(), "jitlink {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    Dump::parse(&std::fs::read_to_string(&out).expect("dump written"))
}

/// Runs jitlink and returns (success, stderr).
pub fn link_err(files: &[PathBuf], extra: &[&str]) -> (bool, String) {
    let mut args: Vec<String> = vec!["link".into(), "--noexec".into(), "--slab-address".into(), format!("{SLAB:#x}")];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(files.iter().map(|f| f.display().to_string()));
    let o = run_jitlink(&args);
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}
