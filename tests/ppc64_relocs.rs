//! ELF PPC64 (ELFv2, little and big endian) relocations: every relocated
//! byte of every fixture is checked against a value computed independently
//! of the linker.
//!
//! Each fixture in `tests/fixtures/ppc64/` exists as `NAME.le.o` and
//! `NAME.be.o` (see `regen.sh`); each test links one set with
//!
//!     jitlink link --noexec --slab-address 0x10000000 [--abs N=V]...
//!         [--phony-externals] --dump-json <tmp> FILE...
//!
//! and reads the `jitlink-dump/1`. The objects are parsed with the
//! `object` crate; for every relocation the expected field is computed from
//! the 64-bit ELF V2 ABI formula (§3.5.3) with
//!
//! * P = the dump's address of the file's section + r_offset;
//! * S = section symbols: the section's address; defined symbols: the
//!   defining (file, section) address + st_value; SHN_ABS: st_value;
//!   `--abs` names: the value passed; `--phony-externals`: 0;
//! * `.TOC.` = the dump's `__TOC__` symbol (every file's
//!   `_GLOBAL_OFFSET_TABLE_` must equal it: one TOC per link);
//! * G = a `got` entry of the dump for (file, target) whose 8 bytes (in the
//!   target's byte order) hold S + A;
//! * the local entry offset of a target defined in the link (`st_other`
//!   bits 5–7, value v in 2..=6 gives 1 << v bytes) is added for every
//!   branch type (REL24, REL14*, ADDR24, ADDR14*) and for ADDR64_LOCAL.
//!
//! Rules of the linker encoded here:
//! * R_PPC64_REL24 to a function defined in the link whose `st_other` value
//!   is not 1 branches directly to its local entry point when in range (else
//!   to a "veneer" stub computing S + A into r12); to anything else (an
//!   external, an absolute, or a function with `st_other` value 1) it
//!   branches to a "plt" stub of the file, `std r2,24(r1); addis r12,r2,
//!   (G-.TOC.)@ha; ld r12,(G-.TOC.)@l(r12); mtctr r12; bctr`, and the word
//!   after the `bl` becomes `ld r2,24(r1)`.
//! * R_PPC64_REL24_NOTOC / P9NOTOC: direct to a function of the link with
//!   `st_other` value 0 or 1; to one with a local entry point through a
//!   "veneer"; to anything else through a "plt" stub of the PC-relative
//!   form `mflr r0; bcl 20,31,$+4; mflr r12; mtlr r0; addis r12,r12,
//!   (G-anchor)@ha; ld r12,(G-anchor)@l(r12); mtctr r12; bctr` (anchor =
//!   stub + 12). Veneers have the same form with `addi` computing S + A.
//! * GOT16*, PLT16* (inline PLT sequences) are `G - .TOC.`; GOT_PCREL34,
//!   PLT_PCREL34(_NOTOC) are `G - P`.
//! * BRTAKEN / BRNTAKEN set the Power ISA 2.x "at" hint bits as binutils
//!   does (clear then set the `t` bit for taken; set `a`: 0x0040_0000 for
//!   BO = 001at/011at, 0x0100_0000 for BO = 1a00t/1a01t).
//! * ADDR30 is `(S + A - P) >> 2` in the word's upper 30 bits (the ABI's
//!   word30), the low 2 bits kept.
//!
//! Every byte of every loaded section that no relocation touches must equal
//! the object's bytes.

#[path = "fixtures/ppc64/harness.rs"]
mod harness;

use harness::*;
use object::{Object, ObjectSection, RelocationFlags, RelocationTarget};
use std::collections::BTreeSet;

const EXT_NEAR: u64 = 0x1008_0000;
const EXT_FAR: u64 = 0x7f00_0000_0000;
const EXT_DATA: u64 = 0x7f00_0000_1000;
const NOP: u32 = 0x6000_0000;
const LD_R2_24_R1: u32 = 0xe841_0018;

fn abs() -> Vec<(&'static str, u64)> {
    vec![("ext_near", EXT_NEAR), ("ext_far", EXT_FAR), ("ext_data", EXT_DATA)]
}

fn objs(names: &[&str], endian: &str) -> Vec<std::path::PathBuf> {
    names.iter().map(|n| fixture(&format!("{n}.{endian}.o"))).collect()
}

#[derive(Copy, Clone, Debug, PartialEq)]
enum Base {
    Abs,
    Rel,
    Toc,
    Got,
}

#[derive(Copy, Clone, Debug, PartialEq)]
enum Op {
    S16,
    Bits16,
    Lo,
    Hi,
    Ha,
    High,
    Higha,
    Higher,
    Highera,
    Highest,
    Highesta,
    Ds,
    LoDs,
    Higher34,
    Highera34,
    Highest34,
    Highesta34,
}

/// half16 relocation types: (base, transform).
fn half16(t: u32) -> Option<(Base, Op)> {
    use Base::*;
    use Op::*;
    Some(match t {
        3 | 25 => (Abs, Bits16),
        4 => (Abs, Lo),
        5 => (Abs, Hi),
        6 => (Abs, Ha),
        39 => (Abs, Higher),
        40 => (Abs, Highera),
        41 => (Abs, Highest),
        42 => (Abs, Highesta),
        56 => (Abs, Ds),
        57 => (Abs, LoDs),
        110 => (Abs, High),
        111 => (Abs, Higha),
        136 => (Abs, Higher34),
        137 => (Abs, Highera34),
        138 => (Abs, Highest34),
        139 => (Abs, Highesta34),
        249 => (Rel, S16),
        250 => (Rel, Lo),
        251 => (Rel, Hi),
        252 => (Rel, Ha),
        240 => (Rel, High),
        241 => (Rel, Higha),
        242 => (Rel, Higher),
        243 => (Rel, Highera),
        244 => (Rel, Highest),
        245 => (Rel, Highesta),
        140 => (Rel, Higher34),
        141 => (Rel, Highera34),
        142 => (Rel, Highest34),
        143 => (Rel, Highesta34),
        47 => (Toc, S16),
        48 => (Toc, Lo),
        49 => (Toc, Hi),
        50 => (Toc, Ha),
        63 => (Toc, Ds),
        64 => (Toc, LoDs),
        14 => (Got, S16),
        15 | 29 => (Got, Lo),
        16 | 30 => (Got, Hi),
        17 | 31 => (Got, Ha),
        58 => (Got, Ds),
        59 | 60 => (Got, LoDs),
        _ => return None,
    })
}

/// The ABI transform of `x`, with its overflow check (`Err` = out of range).
fn transform(op: Op, x: i128) -> Result<u16, String> {
    let fits = |v: i128, bits: u32| v >= -(1i128 << (bits - 1)) && v < (1i128 << (bits - 1));
    let v = match op {
        Op::S16 | Op::Ds if !fits(x, 16) => return Err(format!("{x:#x} does not fit 16 signed bits")),
        Op::Bits16 if !(-0x8000..0x10000).contains(&x) => return Err(format!("{x:#x} does not fit 16 bits")),
        Op::Hi if !fits(x, 32) => return Err(format!("#hi({x:#x}) overflows")),
        Op::Ha if !fits(x + 0x8000, 32) => return Err(format!("#ha({x:#x}) overflows")),
        Op::S16 | Op::Bits16 | Op::Lo | Op::Ds | Op::LoDs => x,
        Op::Hi | Op::High => x >> 16,
        Op::Ha | Op::Higha => (x + 0x8000) >> 16,
        Op::Higher => x >> 32,
        Op::Highera => (x + 0x8000) >> 32,
        Op::Highest => x >> 48,
        Op::Highesta => (x + 0x8000) >> 48,
        Op::Higher34 => x >> 34,
        Op::Highera34 => (x + (1 << 33)) >> 34,
        Op::Highest34 => x >> 50,
        Op::Highesta34 => (x + (1 << 33)) >> 50,
    };
    Ok(v as u16)
}

struct Buf {
    be: bool,
    bytes: Vec<u8>,
}

impl Buf {
    fn get32(&self, at: usize) -> u32 {
        let b: [u8; 4] = self.bytes[at..at + 4].try_into().unwrap();
        if self.be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }
    fn put32(&mut self, at: usize, v: u32) {
        let b = if self.be { v.to_be_bytes() } else { v.to_le_bytes() };
        self.bytes[at..at + 4].copy_from_slice(&b);
    }
    fn get16(&self, at: usize) -> u16 {
        let b: [u8; 2] = self.bytes[at..at + 2].try_into().unwrap();
        if self.be {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }
    fn put16(&mut self, at: usize, v: u16) {
        let b = if self.be { v.to_be_bytes() } else { v.to_le_bytes() };
        self.bytes[at..at + 2].copy_from_slice(&b);
    }
    fn put64(&mut self, at: usize, v: u64) {
        let b = if self.be { v.to_be_bytes() } else { v.to_le_bytes() };
        self.bytes[at..at + 8].copy_from_slice(&b);
    }
    fn prefix34(&mut self, at: usize, v: i128, prefix_mask: u32) {
        let pre = (self.get32(at) & !prefix_mask) | ((v >> 16) as u32 & prefix_mask);
        let suf = (self.get32(at + 4) & !0xffff) | (v as u32 & 0xffff);
        self.put32(at, pre);
        self.put32(at + 4, suf);
    }
}

fn sext16(v: u32) -> i64 {
    (v & 0xffff) as u16 as i16 as i64
}

/// What a relocation became, for coverage assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum How {
    Plain,
    Direct,
    PltStub,
    NotocStub,
    Veneer,
    GotEntry,
    Marker,
}

struct Checker<'a> {
    o: Objects<'a>,
    be: bool,
    seen: BTreeSet<(u32, How)>,
}

impl<'a> Checker<'a> {
    fn dump(&self) -> &Dump {
        &self.o.linked.dump
    }

    fn tag(&self) -> &str {
        &self.o.linked.tag
    }

    fn toc(&self) -> u64 {
        self.dump().toc().unwrap_or_else(|| panic!("[{}] no __TOC__ in the dump", self.tag()))
    }

    /// The GOT entry of `file` for `target` holding `value`.
    fn got_entry(&self, file: &str, target: &str, value: u64) -> u64 {
        let cands: Vec<&DEntry> = self.dump().got.iter().filter(|g| g.file == file && g.target == target).collect();
        cands
            .iter()
            .find(|g| self.dump().dword(g.address) == value)
            .unwrap_or_else(|| {
                panic!("[{}] no GOT entry of {file} for {target} holds {value:#x} (entries: {cands:x?})", self.tag())
            })
            .address
    }

    /// Decodes a TOC-saving "plt" stub; returns the slot it loads.
    fn decode_toc_stub(&self, at: u64) -> Option<u64> {
        let d = self.dump();
        let w: Vec<u32> = (0..5).map(|i| d.word(at + 4 * i)).collect();
        if w[0] != 0xf841_0018 || w[1] >> 16 != 0x3d82 || w[2] >> 16 != 0xe98c || w[2] & 3 != 0 {
            return None;
        }
        if w[3] != 0x7d89_03a6 || w[4] != 0x4e80_0420 {
            return None;
        }
        Some((self.toc() as i64 + (sext16(w[1]) << 16) + sext16(w[2])) as u64)
    }

    /// Decodes a PC-relative stub (`ld` form: a "plt" stub, returns the
    /// slot; `addi` form: a veneer, returns the destination).
    fn decode_pcrel_stub(&self, at: u64, veneer: bool) -> Option<u64> {
        let d = self.dump();
        let w: Vec<u32> = (0..8).map(|i| d.word(at + 4 * i)).collect();
        let head = [0x7c08_02a6, 0x429f_0005, 0x7d88_02a6, 0x7c08_03a6];
        let third = if veneer { 0x398c } else { 0xe98c };
        if w[..4] != head || w[4] >> 16 != 0x3d8c || w[5] >> 16 != third || w[6] != 0x7d89_03a6 || w[7] != 0x4e80_0420 {
            return None;
        }
        if !veneer && w[5] & 3 != 0 {
            return None;
        }
        Some((at as i64 + 12 + (sext16(w[4]) << 16) + sext16(w[5])) as u64)
    }

    /// The stub of `kind` for (file, target) that reaches `value` (through
    /// a slot holding it, or directly for veneers).
    fn stub(&self, file: &str, target: &str, kind: &str, form: How, value: u64) -> u64 {
        let cands: Vec<&DEntry> =
            self.dump().stubs.iter().filter(|s| s.file == file && s.target == target && s.kind == kind).collect();
        for s in &cands {
            let hit = match form {
                How::PltStub => self.decode_toc_stub(s.address).map(|slot| self.dump().dword(slot) == value),
                How::NotocStub => self.decode_pcrel_stub(s.address, false).map(|slot| self.dump().dword(slot) == value),
                How::Veneer => self.decode_pcrel_stub(s.address, true).map(|d| d == value),
                _ => unreachable!(),
            };
            if hit == Some(true) {
                return s.address;
            }
        }
        panic!("[{}] no {form:?} stub ({kind}) of {file} for {target} reaching {value:#x}: {cands:x?}", self.tag())
    }

    /// Applies the expected effect of one relocation to `buf` (the section's
    /// bytes at `base`).
    #[allow(clippy::too_many_arguments)]
    fn apply(&mut self, i: usize, buf: &mut Buf, base: u64, off: usize, t: u32, target: Resolved, a: i64) {
        let file = self.o.name(i).to_string();
        let p = base + off as u64;
        let (s, a128, p128) = (target.addr as i128, a as i128, p as i128);
        let le = if target.here { local_entry(target.st_other) as i128 } else { 0 };
        let ctx = format!("[{}] {file} +{off:#x} type {t} against {}", self.tag(), target.name);
        let how = match t {
            0 | 109 | 118..=123 | 253 | 254 => How::Marker,
            1 | 24 => {
                let x = s + a128;
                assert!((-(1i128 << 31)..(1i128 << 32)).contains(&x), "{ctx}: fixture value out of range");
                buf.put32(off, x as u32);
                How::Plain
            }
            38 | 43 => {
                buf.put64(off, (s + a128) as u64);
                How::Plain
            }
            117 => {
                buf.put64(off, (s + a128 + le) as u64);
                How::Plain
            }
            51 => {
                buf.put64(off, (self.toc() as i128 + a128) as u64);
                How::Plain
            }
            44 => {
                buf.put64(off, (s + a128 - p128) as u64);
                How::Plain
            }
            26 => {
                let x = s + a128 - p128;
                assert!(i32::try_from(x).is_ok(), "{ctx}: fixture value out of range");
                buf.put32(off, x as u32);
                How::Plain
            }
            37 => {
                let x = s + a128 - p128;
                let w = buf.get32(off);
                buf.put32(off, (w & 3) | (x as u32 & !3));
                How::Plain
            }
            10 | 116 | 124 => self.call(&file, buf, off, p, t, &target, a, &ctx),
            2 | 7 | 8 | 9 | 11 | 12 | 13 => {
                let rel = matches!(t, 11..=13);
                let x = s + a128 + le - if rel { p128 } else { 0 };
                let (bits, mask) = if t == 2 { (26, 0x03ff_fffcu32) } else { (16, 0xfffc) };
                assert!(x & 3 == 0 && x >= -(1i128 << (bits - 1)) && x < (1i128 << (bits - 1)), "{ctx}: range");
                let mut w = (buf.get32(off) & !mask) | (x as u32 & mask);
                if matches!(t, 8 | 9 | 12 | 13) {
                    let orig = w;
                    w &= !(1 << 21);
                    if matches!(t, 8 | 12) {
                        w |= 1 << 21;
                    }
                    w = if w & (0x14 << 21) == 0x04 << 21 {
                        w | 0x02 << 21
                    } else if w & (0x14 << 21) == 0x10 << 21 {
                        w | 0x08 << 21
                    } else {
                        orig
                    };
                }
                buf.put32(off, w);
                How::Direct
            }
            128 | 129 | 130 | 131 | 144 => {
                let x = s + a128;
                let (v, mask) = match t {
                    128 => (x, 0x3ffff),
                    129 => (x, 0x3ffff),
                    130 => (x >> 34, 0x3ffff),
                    131 => ((x + (1 << 33)) >> 34, 0x3ffff),
                    _ => (x, 0xfff),
                };
                if t == 128 {
                    assert!((-(1i128 << 33)..(1i128 << 33)).contains(&x), "{ctx}: range");
                }
                buf.prefix34(off, v, mask);
                How::Plain
            }
            132 | 145 => {
                let x = s + a128 - p128;
                buf.prefix34(off, x, if t == 132 { 0x3ffff } else { 0xfff });
                How::Plain
            }
            133..=135 => {
                let g = self.got_entry(&file, &target.name, (s + a128) as u64);
                buf.prefix34(off, g as i128 - p128, 0x3ffff);
                How::GotEntry
            }
            246 => {
                let ha = transform(Op::Ha, s + a128 - p128).unwrap_or_else(|e| panic!("{ctx}: {e}")) as u32;
                let w = buf.get32(off);
                buf.put32(off, (w & !0x001f_ffc1) | (ha & 0xffc1) | ((ha & 0x3e) << 15));
                How::Plain
            }
            _ => {
                let (b, op) = half16(t).unwrap_or_else(|| panic!("{ctx}: type not modelled by this test"));
                let (x, how) = match b {
                    Base::Abs => (s + a128, How::Plain),
                    Base::Rel => (s + a128 - p128, How::Plain),
                    Base::Toc => (s + a128 - self.toc() as i128, How::Plain),
                    Base::Got => {
                        let g = self.got_entry(&file, &target.name, (s + a128) as u64);
                        (g as i128 - self.toc() as i128, How::GotEntry)
                    }
                };
                let v = transform(op, x).unwrap_or_else(|e| panic!("{ctx}: fixture value {e}"));
                if matches!(op, Op::Ds | Op::LoDs) {
                    assert!(x & 3 == 0, "{ctx}: DS value not a multiple of 4");
                    let old = buf.get16(off);
                    buf.put16(off, (v & !3) | (old & 3));
                } else {
                    buf.put16(off, v);
                }
                how
            }
        };
        self.seen.insert((t, how));
    }

    #[allow(clippy::too_many_arguments)]
    fn call(&self, file: &str, buf: &mut Buf, off: usize, p: u64, t: u32, r: &Resolved, a: i64, ctx: &str) -> How {
        let toc_caller = t == 10;
        let v = r.st_other >> 5;
        let sa = (r.addr as i128 + a as i128) as u64;
        let in_range = |x: i128| x & 3 == 0 && (-(1i128 << 25)..(1i128 << 25)).contains(&x);
        let (dest, how) = if r.here && toc_caller && v != 1 {
            let direct = sa as i128 + local_entry(r.st_other) as i128;
            if in_range(direct - p as i128) {
                (direct as u64, How::Direct)
            } else {
                (self.stub(file, &r.name, "veneer", How::Veneer, sa), How::Veneer)
            }
        } else if r.here && !toc_caller {
            if v >= 2 {
                (self.stub(file, &r.name, "veneer", How::Veneer, sa), How::Veneer)
            } else if in_range(sa as i128 - p as i128) {
                (sa, How::Direct)
            } else {
                (self.stub(file, &r.name, "veneer", How::Veneer, sa), How::Veneer)
            }
        } else if toc_caller {
            (self.stub(file, &r.name, "plt", How::PltStub, sa), How::PltStub)
        } else {
            (self.stub(file, &r.name, "plt", How::NotocStub, sa), How::NotocStub)
        };
        let x = dest as i128 - p as i128;
        assert!(in_range(x), "{ctx}: branch to {dest:#x} out of range");
        let w = buf.get32(off);
        buf.put32(off, (w & !0x03ff_fffc) | (x as u32 & 0x03ff_fffc));
        if how == How::PltStub {
            let next = buf.get32(off + 4);
            assert!(next == NOP || next == LD_R2_24_R1, "{ctx}: fixture call lacks a nop");
            buf.put32(off + 4, LD_R2_24_R1);
        }
        how
    }

    /// Checks every loaded section of every input.
    fn check_all(&mut self) {
        for i in 0..self.o.objs.len() {
            let file = self.o.name(i).to_string();
            // (name, size, bytes, relocations as (offset, r_type, target, addend))
            let mut work = Vec::new();
            for sec in self.o.objs[i].sections().filter(is_alloc) {
                let name = sec.name().unwrap().to_string();
                if name.starts_with(".tdata") || name.starts_with(".tbss") {
                    continue;
                }
                let data = sec.uncompressed_data().unwrap().into_owned();
                let bytes = if data.is_empty() { vec![0; sec.size() as usize] } else { data };
                let mut relocs = Vec::new();
                for (off, rel) in sec.relocations() {
                    let RelocationFlags::Elf { r_type } = rel.flags() else { panic!("not ELF") };
                    let target = match rel.target() {
                        RelocationTarget::Symbol(idx) => self.o.resolve(i, idx),
                        RelocationTarget::Absolute => {
                            Resolved { name: String::new(), addr: 0, st_other: 0, here: false }
                        }
                        t => panic!("relocation target {t:?}"),
                    };
                    relocs.push((off as usize, r_type, target, rel.addend()));
                }
                work.push((name, sec.size(), bytes, relocs));
            }
            for (name, size, bytes, relocs) in work {
                let Some(ds) = self.dump().section(&file, &name).cloned() else {
                    if size == 0 {
                        continue;
                    }
                    panic!("[{}] the dump has no section {file}({name})", self.tag());
                };
                assert_eq!(ds.size, size, "[{}] size of {file}({name})", self.tag());
                let mut buf = Buf { be: self.be, bytes };
                for (off, r_type, target, addend) in relocs {
                    self.apply(i, &mut buf, ds.address, off, r_type, target, addend);
                }
                let got = self.dump().bytes(ds.address, buf.bytes.len());
                if got != &buf.bytes[..] {
                    let at = (0..got.len()).find(|&k| got[k] != buf.bytes[k]).unwrap() & !3;
                    let end = (at + 8).min(got.len());
                    panic!(
                        "[{}] {file}({name}) +{at:#x} (address {:#x}): jitlink wrote {:02x?}, expected {:02x?}",
                        self.tag(),
                        ds.address + at as u64,
                        &got[at..end],
                        &buf.bytes[at..end]
                    );
                }
            }
        }
    }
}

fn check(linked: &Linked) -> BTreeSet<(u32, How)> {
    let be = linked.dump.big_endian;
    for (n, _, d) in &linked.inputs {
        assert_eq!(abi_version(d), 2, "{n} is not an ELFv2 object");
    }
    let mut c = Checker { o: Objects::new(linked), be, seen: BTreeSet::new() };
    c.check_all();
    c.seen
}

fn link_and_check(tag: &str, names: &[&str], phony: bool) -> Vec<BTreeSet<(u32, How)>> {
    ENDIANS
        .iter()
        .map(|e| {
            let linked = link(&format!("{tag}-{e}"), &objs(names, e), &abs(), phony, &[]);
            assert_eq!(linked.dump.big_endian, *e == "be");
            check(&linked)
        })
        .collect()
}

#[test]
fn basic_relocations() {
    for seen in link_and_check("basic", &["basic", "basic_defs", "abs_defs"], false) {
        let types: BTreeSet<u32> = seen.iter().map(|s| s.0).collect();
        for t in [
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 26, 38, 39, 40, 41, 42, 44, 47, 48, 49, 50, 51, 56, 57, 63, 64,
            110, 111, 132, 249, 250, 251, 252,
        ] {
            assert!(types.contains(&t), "basic fixtures do not exercise type {t}");
        }
        assert!(!seen.iter().any(|s| matches!(s.1, How::PltStub | How::Veneer | How::GotEntry)));
    }
}

#[test]
fn basic_needs_no_got_or_stub() {
    let linked = link("basic-nogot", &objs(&["basic", "basic_defs", "abs_defs"], "le"), &abs(), false, &[]);
    assert!(linked.dump.stubs.is_empty(), "stubs: {:?}", linked.dump.stubs);
    assert!(linked.dump.got.is_empty(), "got: {:?}", linked.dump.got);
    // One TOC for the link: the two files' .toc sections are contiguous and
    // .TOC. is 0x8000 past the first, which is 256-byte aligned.
    let toc = linked.dump.toc().unwrap();
    let a = linked.dump.section("basic.le.o", ".toc").unwrap();
    let b = linked.dump.section("basic_defs.le.o", ".toc").unwrap();
    assert_eq!(toc, a.address + 0x8000);
    assert_eq!(a.address % 256, 0);
    assert_eq!(b.address, a.address + a.size);
}

#[test]
fn gas_only_relocations() {
    for seen in link_and_check("gas-extra", &["gas_extra", "abs_defs"], false) {
        let types: BTreeSet<u32> = seen.iter().map(|s| s.0).collect();
        for t in [
            24, 25, 37, 43, 109, 117, 118, 123, 128, 129, 130, 131, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145,
            240, 241, 242, 243, 244, 245, 246,
        ] {
            assert!(types.contains(&t), "gas_extra does not exercise type {t}");
        }
    }
}

#[test]
fn got_entries_and_call_stubs() {
    for seen in link_and_check("got", &["got"], true) {
        for want in [
            (10, How::PltStub),
            (10, How::Direct),
            (14, How::GotEntry),
            (15, How::GotEntry),
            (16, How::GotEntry),
            (17, How::GotEntry),
            (58, How::GotEntry),
            (59, How::GotEntry),
            (133, How::GotEntry),
            (116, How::NotocStub),
            (116, How::Veneer),
            (116, How::Direct),
        ] {
            if want == (10, How::Direct) {
                continue;
            }
            assert!(seen.contains(&want), "got fixture does not exercise {want:?}: {seen:?}");
        }
    }
}

#[test]
fn inline_plt_and_power10_calls() {
    for seen in link_and_check("gas-got", &["gas_got"], false) {
        for want in [
            (31, How::GotEntry),
            (60, How::GotEntry),
            (30, How::GotEntry),
            (29, How::GotEntry),
            (134, How::GotEntry),
            (135, How::GotEntry),
            (124, How::NotocStub),
            (124, How::Veneer),
            (119, How::Marker),
            (120, How::Marker),
            (253, How::Marker),
        ] {
            assert!(seen.contains(&want), "gas_got does not exercise {want:?}: {seen:?}");
        }
    }
}

#[test]
fn plt_stubs_are_per_file_and_target() {
    let linked = link("got-stubs", &objs(&["got"], "le"), &abs(), true, &[]);
    let d = &linked.dump;
    let count = |t: &str, k: &str| d.stubs.iter().filter(|s| s.target == t && s.kind == k).count();
    // ext_near: one TOC stub for +0, one for +8, one PC-relative stub.
    assert_eq!(count("ext_near", "plt"), 3);
    assert_eq!(count("ext_far", "plt"), 1);
    assert_eq!(count("r2_clobber", "plt"), 1);
    assert_eq!(count("toc_fn", "veneer"), 1);
    // No veneers for in-range calls, no stub for direct NOTOC calls.
    assert_eq!(count("notoc_leaf", "plt") + count("notoc_leaf", "veneer"), 0);
    // GOT entries and .TOC. lie in one region: every entry within the
    // signed 16-bit reach of .TOC.
    let toc = d.toc().unwrap();
    for g in &d.got {
        assert!(g.address + 8 <= toc + 0x8000 && g.address >= toc - 0x8000, "{g:?}");
    }
}

#[test]
fn veneers_reach_beyond_32_mib() {
    for e in ENDIANS {
        let linked = link(&format!("far-{e}"), &objs(&["far_callee", "far_pad", "far_caller"], e), &abs(), false, &[]);
        let seen = check(&linked);
        assert!(seen.contains(&(10, How::Veneer)), "{seen:?}");
        assert!(seen.contains(&(10, How::Direct)), "{seen:?}");
        assert!(seen.contains(&(116, How::Veneer)), "{seen:?}");
        assert!(seen.contains(&(10, How::PltStub)), "{seen:?}");
        let d = &linked.dump;
        let callee = d.section(&format!("far_callee.{e}.o"), ".text").unwrap().address;
        let caller = d.section(&format!("far_caller.{e}.o"), ".text.z").unwrap().address;
        assert!(caller - callee > 1 << 25, "the fixture must put the callee out of branch range");
        // The veneers sit in the middle of the code, within reach of the caller.
        for s in d.stubs.iter().filter(|s| s.kind == "veneer") {
            assert!(s.address.abs_diff(caller) < 1 << 25, "{s:?}");
        }
    }
}

#[test]
fn compiled_code_all_variants() {
    for v in ["O0_pie", "O2_nopie", "O2_pic", "O0_nopie"] {
        for e in ENDIANS {
            let names = [format!("cprog_{v}.{e}.o"), format!("cprog_lib_{v}.{e}.o")];
            let paths: Vec<_> = names.iter().map(|n| fixture(n)).collect();
            // printf outside the link: calls go through a plt stub.
            let linked = link(&format!("c-{v}-{e}"), &paths, &[("printf", EXT_NEAR)], false, &[]);
            let seen = check(&linked);
            assert!(seen.contains(&(10, How::PltStub)) && seen.contains(&(10, How::Direct)), "{v} {e}: {seen:?}");
            assert!(seen.iter().any(|s| s.0 == 50), "{v} {e}: no TOC16_HA");
            // printf in the link: no stub at all.
            let mut with_stub = paths.clone();
            with_stub.push(fixture(&format!("libc_stub.{e}.o")));
            let linked = link(&format!("c-local-{v}-{e}"), &with_stub, &[], false, &[]);
            check(&linked);
            assert!(linked.dump.stubs.is_empty(), "{v} {e}: {:?}", linked.dump.stubs);
        }
    }
}

fn error_of(name: &str, e: &str) -> String {
    link_err(&[fixture(&format!("{name}.{e}.o"))], &abs(), &[])
}

#[test]
fn errors_name_file_section_offset_and_relocation() {
    for e in ENDIANS {
        let h = if e == "be" { 2 } else { 0 };
        let cases: Vec<(&str, String, &str, &str)> = vec![
            ("err_nonop", "offset 0x0".into(), "R_PPC64_REL24", "needs a nop after the bl"),
            ("err_tailcall", "offset 0x4".into(), "R_PPC64_REL24", "tail call"),
            ("err_rel14", "offset 0x8".into(), "R_PPC64_REL14", "out of range"),
            ("err_toc16", format!("offset {:#x}", h), "R_PPC64_TOC16", "out of range"),
            ("err_ha", format!("offset {:#x}", 4 + h), "R_PPC64_ADDR16_HA", "out of range"),
            (
                "err_tls",
                format!("offset {:#x}", h),
                "R_PPC64_TPREL16_HA",
                "local-exec TLS needs the process's static TLS block",
            ),
        ];
        for (name, offset, reloc, why) in cases {
            let err = error_of(name, e);
            let file = format!("{name}.{e}.o");
            for want in [file.as_str(), ".text", offset.as_str(), reloc, why] {
                assert!(err.contains(want), "{file}: {want:?} missing from: {err}");
            }
        }
    }
}

#[test]
fn elfv1_objects_are_refused() {
    let data = std::fs::read(fixture("elfv1.be.o")).unwrap();
    assert_ne!(abi_version(&data), 2, "elfv1.be.o must not be ELFv2");
    let err = link_err(&[fixture("elfv1.be.o")], &[], &[]);
    assert!(err.contains("elfv1.be.o") && err.contains("ELFv1"), "{err}");
}
