//! Mach-O relocations, x86-64 and arm64: every relocated field of every
//! fixture is checked against a value computed independently of the
//! linker, from the objects (read with the `object` crate) and the link
//! dump of
//!
//!     jitlink link --noexec --slab-address 0x10000000
//!         --abs _ext_near=0x10080000 --abs _ext_far=0x7f0000000000 FILE...
//!
//! Fixtures: `tests/fixtures/macho_{x86_64,arm64}/` (`*.s` assembled by
//! llvm-mc, `kernels-O*.o` compiled by clang from
//! `tests/fixtures/macho_kernels/kernels.c`; `regen.sh` rebuilds them).
//!
//! The formulas, from `<mach-o/reloc.h>`, `<mach-o/x86_64/reloc.h>` and
//! `<mach-o/arm64/reloc.h>`:
//! * S: a symbol defined in a section of the object is at its section's
//!   address in the dump plus its offset in the section (the fixture
//!   sections are kept whole, which is checked: each dump section has the
//!   object section's size); a global is taken from the object that defines
//!   it strongly, else weakly (first on the command line); commons from the
//!   dump's `symbols`; `--abs` names their value; `section$start$SEG$SECT`
//!   and `section$end$SEG$SECT` the start and end of the sections
//!   `SEG,SECT`; a missing weak reference 0.
//! * a non-extern relocation's target is an address in the object: its
//!   section's dump address plus its offset there.
//! * x86-64: `UNSIGNED` = S + content (extern) or the target (non-extern);
//!   `SIGNED`, `SIGNED_1/2/4` = S + content - (P + 4), non-extern
//!   T - (P + 4 + N) with T = P_obj + 4 + N + content; `BRANCH` =
//!   S + content - (P + 4), or through a stub whose GOT slot holds S;
//!   `GOT_LOAD` = G + content - (P + 4) with G a GOT entry holding S, or
//!   the `movq` rewritten to `leaq` with S + content - (P + 4); `GOT` =
//!   G + content - (P + 4); `SUBTRACTOR`+`UNSIGNED` = A - B + content (a
//!   non-extern A: content holds A's object address).
//! * arm64: the addend is `ARM64_RELOC_ADDEND`'s 24-bit `r_symbolnum`;
//!   `BRANCH26` reaches S + A directly or through a stub or veneer;
//!   `PAGE21`: ADRP's page = Page(S + A); `PAGEOFF12`: ADD imm12 = (S + A) &
//!   0xfff, a load/store's imm12 = that >> access size; the GOT loads reach a
//!   GOT entry holding S (or, relaxed, S itself with the LDR turned into an
//!   ADD); `POINTER_TO_GOT` = G - P (32-bit pc-relative) or G (64-bit);
//!   `UNSIGNED`, `SUBTRACTOR` as on x86-64.
//! * every byte of a section that no relocation touches equals the object's.

#[path = "macho_common/mod.rs"]
mod common;

use common::*;
use object::macho;
use object::read::macho::{MachHeader, MachOFile64, Nlist};
use object::{Endianness, Object, ObjectSection};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

const EXT_NEAR: u64 = 0x1008_0000;
const EXT_FAR: u64 = 0x7f00_0000_0000;
const ABS: [&str; 4] = ["--abs", "_ext_near=0x10080000", "--abs", "_ext_far=0x7f0000000000"];

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Cpu {
    X86,
    Arm,
}

struct RI {
    address: u64,
    symbolnum: u32,
    pcrel: bool,
    length: u8,
    ext: bool,
    rtype: u8,
}

struct Sec {
    label: String,
    addr: u64,
    size: u64,
    data: Vec<u8>,
    relocs: Vec<RI>,
}

struct Sym {
    name: String,
    ntype: u8,
    sect: u8,
    desc: u16,
    value: u64,
}

struct Obj {
    file: String,
    cpu: Cpu,
    secs: Vec<Sec>,
    syms: Vec<Sym>,
}

fn load(path: &PathBuf) -> Obj {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e} (run regen.sh)", path.display()));
    let f = MachOFile64::<Endianness>::parse(&*data).expect("a 64-bit Mach-O");
    let endian = f.endian();
    let cpu = match f.macho_header().cputype(endian) {
        macho::CPU_TYPE_X86_64 => Cpu::X86,
        macho::CPU_TYPE_ARM64 => Cpu::Arm,
        c => panic!("cputype {c}"),
    };
    let mut secs = Vec::new();
    for s in f.sections() {
        let seg = s.segment_name().unwrap().unwrap_or("").to_string();
        let relocs = s
            .macho_relocations()
            .unwrap()
            .iter()
            .map(|r| {
                let i = r.info(endian);
                RI {
                    address: u64::from(i.r_address),
                    symbolnum: i.r_symbolnum,
                    pcrel: i.r_pcrel,
                    length: i.r_length,
                    ext: i.r_extern,
                    rtype: i.r_type,
                }
            })
            .collect();
        secs.push(Sec {
            label: format!("{seg},{}", s.name().unwrap()),
            addr: s.address(),
            size: s.size(),
            data: s.data().unwrap().to_vec(),
            relocs,
        });
    }
    let syms = f
        .macho_symbol_table()
        .iter()
        .map(|n| Sym {
            name: String::from_utf8_lossy(n.name(endian, f.macho_symbol_table().strings()).unwrap()).into_owned(),
            ntype: n.n_type(),
            sect: n.n_sect(),
            desc: n.n_desc(endian),
            value: n.n_value(endian),
        })
        .collect();
    Obj { file: path.file_name().unwrap().to_string_lossy().into_owned(), cpu, secs, syms }
}

struct Ctx<'d> {
    objs: Vec<Obj>,
    dump: &'d Dump,
    abs: HashMap<String, u64>,
}

impl Ctx<'_> {
    fn sec_addr(&self, o: &Obj, ordinal: usize) -> u64 {
        let s = &o.secs[ordinal - 1];
        let d = self
            .dump
            .section(&o.file, &s.label)
            .unwrap_or_else(|| panic!("{}: section {} is not in the dump", o.file, s.label));
        assert_eq!(d.size, s.size, "{}: section {} was not kept whole", o.file, s.label);
        d.address
    }

    /// The final address of object address `addr` in section `ordinal`.
    fn obj_addr(&self, o: &Obj, ordinal: usize, addr: u64) -> u64 {
        self.sec_addr(o, ordinal).wrapping_add(addr.wrapping_sub(o.secs[ordinal - 1].addr))
    }

    fn defined_in(&self, o: &Obj, s: &Sym) -> Option<u64> {
        match s.ntype & macho::N_TYPE {
            macho::N_SECT => Some(self.obj_addr(o, s.sect as usize, s.value)),
            macho::N_ABS => Some(s.value),
            _ => None,
        }
    }

    /// A global by the Mach-O rules (strong over weak, first wins).
    fn global(&self, name: &str) -> u64 {
        for weak in [false, true] {
            for o in &self.objs {
                for s in &o.syms {
                    let def = matches!(s.ntype & macho::N_TYPE, macho::N_SECT | macho::N_ABS);
                    if s.name != name || s.ntype & macho::N_EXT == 0 || s.ntype & macho::N_STAB != 0 || !def {
                        continue;
                    }
                    if (s.desc & macho::N_WEAK_DEF != 0) == weak {
                        return self.defined_in(o, s).expect("defined");
                    }
                }
            }
        }
        let common = self
            .objs
            .iter()
            .any(|o| o.syms.iter().any(|s| s.name == name && s.ntype & macho::N_TYPE == macho::N_UNDF && s.value != 0));
        if common {
            let d = self.dump.symbols.iter().find(|s| s.name == name).expect("common symbol in the dump");
            return d.address;
        }
        if let Some(&a) = self.abs.get(name) {
            return a;
        }
        for (prefix, start) in [("section$start$", true), ("section$end$", false)] {
            if let Some(rest) = name.strip_prefix(prefix) {
                let sec = rest.replacen('$', ",", 1);
                let all: Vec<&DSection> = self.dump.sections.iter().filter(|s| s.name == sec).collect();
                assert!(!all.is_empty(), "{name}: no section {sec}");
                return if start {
                    all.iter().map(|s| s.address).min().unwrap()
                } else {
                    all.iter().map(|s| s.address + s.size).max().unwrap()
                };
            }
        }
        let weak_ref =
            self.objs.iter().any(|o| o.syms.iter().any(|s| s.name == name && s.desc & macho::N_WEAK_REF != 0));
        assert!(weak_ref, "{name} is defined nowhere");
        0
    }

    fn sym(&self, o: &Obj, idx: u32) -> (u64, String) {
        let s = &o.syms[idx as usize];
        let v = if s.ntype & macho::N_EXT != 0 {
            self.global(&s.name)
        } else {
            self.defined_in(o, s).unwrap_or_else(|| panic!("local {} undefined", s.name))
        };
        (v, s.name.clone())
    }
}

fn sext(v: u64, width: usize) -> i64 {
    let sh = 64 - 8 * width as u32;
    ((v << sh) as i64) >> sh
}

fn mask(v: i128, width: usize) -> u64 {
    if width == 8 {
        v as u64
    } else {
        (v as u64) & ((1u64 << (8 * width)) - 1)
    }
}

/// Checks every relocation of every object; returns the (cpu, type) pairs seen.
fn check(ctx: &Ctx<'_>) -> BTreeSet<(u8, bool, u8, bool)> {
    let d = ctx.dump;
    let mut seen = BTreeSet::new();
    for o in &ctx.objs {
        for (si, sec) in o.secs.iter().enumerate() {
            let Some(ds) = d.section(&o.file, &sec.label) else { continue };
            let base = ds.address;
            assert_eq!(ds.size, sec.size, "{}: {} not kept whole", o.file, sec.label);
            let mut touched = vec![false; sec.data.len()];
            let mut i = 0;
            while i < sec.relocs.len() {
                let r = &sec.relocs[i];
                let width = 1usize << r.length;
                let off = r.address;
                let p = base + off;
                let what = format!("{}: {} +{off:#x} type {}", o.file, sec.label, r.rtype);
                let content = sext(
                    sec.data[off as usize..off as usize + width].iter().rev().fold(0u64, |a, &b| a << 8 | u64::from(b)),
                    width,
                );
                touched[off as usize..off as usize + width].iter_mut().for_each(|t| *t = true);
                let linked = d.le(p, width);
                let target_of = |sn: u32, ext: bool, addr: u64| -> u64 {
                    if ext {
                        ctx.sym(o, sn).0
                    } else {
                        ctx.obj_addr(o, sn as usize, addr)
                    }
                };
                seen.insert((r.rtype, r.pcrel, r.length, r.ext));
                match (o.cpu, r.rtype) {
                    // UNSIGNED (both CPUs).
                    (_, 0) => {
                        let want = if r.ext {
                            ctx.sym(o, r.symbolnum).0 as i128 + content as i128
                        } else {
                            target_of(r.symbolnum, false, mask(content as i128, width)) as i128
                        };
                        assert_eq!(linked, mask(want, width), "{what}: UNSIGNED");
                    }
                    // SUBTRACTOR pairs.
                    (Cpu::X86, 5) | (Cpu::Arm, 1) => {
                        let u = &sec.relocs[i + 1];
                        assert!(u.rtype == 0 && u.address == r.address, "{what}: SUBTRACTOR not followed by UNSIGNED");
                        let b = ctx.sym(o, r.symbolnum).0 as i128;
                        let a = if u.ext {
                            ctx.sym(o, u.symbolnum).0 as i128 + content as i128
                        } else {
                            target_of(u.symbolnum, false, mask(content as i128, width)) as i128
                        };
                        assert_eq!(linked, mask(a - b, width), "{what}: SUBTRACTOR");
                        seen.insert((u.rtype, u.pcrel, u.length, u.ext));
                        i += 1;
                    }
                    (Cpu::X86, t @ (1 | 6 | 7 | 8)) => {
                        let n = [0, 0, 0, 0, 0, 0, 1, 2, 4][t as usize];
                        let want = if r.ext {
                            ctx.sym(o, r.symbolnum).0 as i128 + content as i128 - (p + 4) as i128
                        } else {
                            let obj_p = sec.addr + off;
                            let t = (obj_p as i64 + 4 + n + content) as u64;
                            target_of(r.symbolnum, false, t) as i128 - (p as i128 + 4 + n as i128)
                        };
                        assert_eq!(linked, mask(want, 4), "{what}: SIGNED");
                    }
                    (Cpu::X86, 2) => {
                        let disp = sext(linked, 4);
                        let dest = (p as i64 + 4 + disp) as u64;
                        if r.ext {
                            let (s, name) = ctx.sym(o, r.symbolnum);
                            let want = (s as i64 + content) as u64;
                            if dest != want {
                                let via = d.x86_stub_target((dest as i64 - content) as u64);
                                assert_eq!(via, Some(s), "{what}: BRANCH to {name} neither direct nor through a stub");
                            }
                        } else {
                            let t = target_of(r.symbolnum, false, (sec.addr as i64 + off as i64 + 4 + content) as u64);
                            assert_eq!(dest, t, "{what}: BRANCH (non-extern)");
                        }
                    }
                    (Cpu::X86, 3) => {
                        let (s, name) = ctx.sym(o, r.symbolnum);
                        let op = d.bytes(p - 2, 1)[0];
                        touched[off as usize - 2] = true;
                        let disp = sext(linked, 4) as i128;
                        let dest = (p as i128 + 4 + disp - content as i128) as u64;
                        if op == 0x8d {
                            assert_eq!(dest, s, "{what}: relaxed GOT_LOAD");
                        } else {
                            assert_eq!(op, 0x8b, "{what}: GOT_LOAD opcode");
                            assert!(
                                d.is_got_entry_for(dest, s),
                                "{what}: GOT_LOAD of {name}: {dest:#x} is no GOT entry holding {s:#x}"
                            );
                        }
                    }
                    (Cpu::X86, 4) => {
                        let (s, name) = ctx.sym(o, r.symbolnum);
                        let g = (p as i128 + 4 + sext(linked, 4) as i128 - content as i128) as u64;
                        assert!(
                            d.is_got_entry_for(g, s),
                            "{what}: GOT of {name}: {g:#x} is no GOT entry holding {s:#x}"
                        );
                    }
                    (Cpu::Arm, 10) => {
                        // ADDEND: applies to the next relocation, checked there.
                        let n = &sec.relocs[i + 1];
                        let addend = sext(u64::from(r.symbolnum), 3);
                        check_arm(ctx, o, sec, si, n, addend, base, &what);
                        seen.insert((n.rtype, n.pcrel, n.length, n.ext));
                        i += 1;
                    }
                    (Cpu::Arm, _) => check_arm(ctx, o, sec, si, r, 0, base, &what),
                    (_, t) => panic!("{what}: type {t} not modelled"),
                }
                i += 1;
            }
            if sec.label.ends_with(",__eh_frame") {
                check_eh_frame(ctx, o, sec, base, &mut touched);
            }
            // Everything else is as in the object.
            if !sec.data.is_empty() {
                let now = d.bytes(base, sec.data.len());
                for (k, (&a, &b)) in sec.data.iter().zip(now).enumerate() {
                    assert!(
                        touched[k] || a == b,
                        "{}: {} +{k:#x}: byte {b:#04x}, object has {a:#04x}",
                        o.file,
                        sec.label
                    );
                }
            }
        }
    }
    seen
}

#[allow(clippy::too_many_arguments)]
fn check_arm(ctx: &Ctx<'_>, o: &Obj, sec: &Sec, _si: usize, r: &RI, addend: i64, base: u64, what: &str) {
    let d = ctx.dump;
    let p = base + r.address;
    let w = d.u32(p);
    let orig = u32::from_le_bytes(sec.data[r.address as usize..r.address as usize + 4].try_into().unwrap());
    let (s, name) = ctx.sym(o, r.symbolnum);
    let sa = s.wrapping_add(addend as u64);
    let got_holding = |g: u64| d.is_got_entry_for(g, s);
    match r.rtype {
        2 => {
            let dest = (p as i64 + common::sext(w & 0x03ff_ffff, 26) * 4) as u64;
            if dest != sa {
                assert_eq!(d.arm64_stub_target(dest), Some(sa), "{what}: BRANCH26 to {name}+{addend}");
            }
            assert_eq!(w & 0xfc00_0000, orig & 0xfc00_0000, "{what}: opcode");
        }
        3 => {
            let page = (p & !0xfff).wrapping_add((adr_imm(w) << 12) as u64);
            assert_eq!(page, sa & !0xfff, "{what}: PAGE21 of {name}+{addend}");
        }
        4 => {
            let imm = u64::from((w >> 10) & 0xfff);
            if orig & 0x1f80_0000 == 0x1100_0000 {
                assert_eq!(imm, sa & 0xfff, "{what}: PAGEOFF12 (ADD)");
            } else {
                let mut size = orig >> 30;
                if orig & 0x0480_0000 == 0x0480_0000 {
                    size += 4;
                }
                assert_eq!(imm << size, sa & 0xfff, "{what}: PAGEOFF12 (load/store, scale {size})");
            }
        }
        5 => {
            // ADRP of the GOT load: the page of a GOT entry holding S, or
            // (relaxed) of S itself.
            let page = (p & !0xfff).wrapping_add((adr_imm(w) << 12) as u64);
            let ok = page == s & !0xfff || d.got.iter().any(|g| g.address & !0xfff == page && got_holding(g.address));
            assert!(ok, "{what}: GOT_LOAD_PAGE21 of {name}: page {page:#x}");
        }
        6 => {
            // The LDR (or relaxed ADD) and its ADRP (same register, earlier).
            let rn = (w >> 5) & 31;
            let adrp_at = sec
                .relocs
                .iter()
                .filter(|q| q.rtype == 5 && q.address < r.address)
                .map(|q| base + q.address)
                .filter(|&a| d.u32(a) & 31 == rn)
                .max()
                .expect("the ADRP of the GOT load");
            let page = (adrp_at & !0xfff).wrapping_add((adr_imm(d.u32(adrp_at)) << 12) as u64);
            let imm = u64::from((w >> 10) & 0xfff);
            if w & 0xffc0_0000 == 0x9100_0000 {
                assert_eq!(page + imm, s, "{what}: relaxed GOT load of {name}");
            } else {
                assert_eq!(w & 0xffc0_0000, 0xf940_0000, "{what}: LDR X");
                assert!(
                    got_holding(page + imm * 8),
                    "{what}: GOT load of {name}: {:#x} is no GOT entry",
                    page + imm * 8
                );
            }
        }
        7 => {
            if r.pcrel {
                let g = (p as i64 + i64::from(w as i32)) as u64;
                assert!(got_holding(g), "{what}: POINTER_TO_GOT (pc-relative) of {name}");
            } else {
                assert!(got_holding(d.u64(p)), "{what}: POINTER_TO_GOT (64-bit) of {name}");
            }
        }
        t => panic!("{what}: arm64 type {t} not modelled"),
    }
}

fn paths(dir: &str, names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| fixture(dir, n)).collect()
}

fn abs() -> HashMap<String, u64> {
    [("_ext_near".to_string(), EXT_NEAR), ("_ext_far".to_string(), EXT_FAR)].into_iter().collect()
}

fn run(tag: &str, dir: &str, names: &[&str]) -> BTreeSet<(u8, bool, u8, bool)> {
    let files = paths(dir, names);
    let dump = link(tag, &files, &ABS);
    let ctx = Ctx { objs: files.iter().map(load).collect(), dump: &dump, abs: abs() };
    check(&ctx)
}

fn types(seen: &BTreeSet<(u8, bool, u8, bool)>) -> BTreeSet<u8> {
    seen.iter().map(|s| s.0).collect()
}

#[test]
fn x86_64_every_relocation_type() {
    let seen = run("macho-x86-relocs", "macho_x86_64", &["relocs.o", "defs.o"]);
    for t in 0..=8u8 {
        assert!(types(&seen).contains(&t), "X86_64 relocation type {t} not exercised");
    }
    // Extern and non-extern, 32- and 64-bit forms.
    for want in [(0, false, 3, true), (0, false, 3, false), (0, false, 2, true), (0, false, 2, false)] {
        assert!(seen.contains(&want), "{want:?} not exercised");
    }
    for t in [1u8, 2, 6, 7, 8] {
        assert!(seen.contains(&(t, true, 2, false)), "non-extern type {t} not exercised");
    }
}

#[test]
fn arm64_every_relocation_type() {
    let seen = run("macho-arm64-relocs", "macho_arm64", &["relocs.o", "defs.o"]);
    for t in 0..=7u8 {
        assert!(types(&seen).contains(&t), "ARM64 relocation type {t} not exercised");
    }
    assert!(seen.contains(&(7, true, 2, true)) && seen.contains(&(7, false, 3, true)));
}

#[test]
fn clang_objects() {
    for dir in ["macho_x86_64", "macho_arm64"] {
        for opt in ["O0", "O2"] {
            let name = format!("kernels-{opt}.o");
            run(&format!("macho-{dir}-{opt}"), dir, &[&name]);
        }
    }
}

#[test]
fn symbols_follow_the_mach_o_rules() {
    for dir in ["macho_x86_64", "macho_arm64"] {
        let dump = link(&format!("macho-{dir}-syms"), &paths(dir, &["relocs.o", "defs.o"]), &ABS);
        let sym = |f: &str, n: &str| dump.symbol(f, n).unwrap_or_else(|| panic!("{dir}: {n} of {f} not in the dump"));
        // The strong definition in defs.o overrides relocs.o's weak one.
        assert_eq!(sym("defs.o", "_weakfn").linkage, "strong");
        assert!(dump.symbol("relocs.o", "_weakfn").is_none(), "{dir}: the weak _weakfn was dropped");
        assert_eq!(sym("defs.o", "_hidden_def").scope, "hidden", "{dir}: private extern");
        // The alternate entry lies inside _helper's block, after it.
        let (h, a) = (sym("relocs.o", "_helper").address, sym("relocs.o", "_alt").address);
        assert!(a > h && a < h + 16, "{dir}: _alt at {a:#x}, _helper at {h:#x}");
        // The larger common wins, with its alignment.
        let c = dump.symbols.iter().find(|s| s.name == "_comm_big").unwrap();
        assert_eq!(c.size, 64, "{dir}: _comm_big size");
        assert_eq!(c.address % 32, 0, "{dir}: _comm_big alignment");
        // The local function nothing calls is gone with its section.
        assert!(dump.symbol("relocs.o", "_unused_local").is_none(), "{dir}: _unused_local not dead-stripped");
        assert!(dump.section("relocs.o", "__TEXT,__dead").is_none());
        // C strings are blocks of their own, each kept by its reference.
        let strs = dump.section("relocs.o", "__TEXT,__cstring").unwrap();
        assert_eq!(dump.bytes(strs.address, strs.size as usize), b"hello\0world!\0");
    }
}

/// Unreferenced strings and literals go; referenced ones stay, each
/// reference pointing at its own string wherever it lands.
#[test]
fn cstrings_are_split_per_string() {
    let dir = "macho_x86_64";
    let dump = link("macho-cstrings", &paths(dir, &["cstrings.o"]), &[]);
    let sec = dump.section("cstrings.o", "__TEXT,__cstring").unwrap();
    let bytes = dump.bytes(sec.address, sec.size as usize);
    assert_eq!(bytes, b"kept one\0kept two\0", "the unreferenced string between them is dropped");
    let f = dump.symbol("cstrings.o", "_strs").unwrap();
    assert_eq!(dump.u64(f.address), sec.address);
    assert_eq!(dump.u64(f.address + 8), sec.address + 9);
}

/// `__eh_frame` and `__compact_unwind` stay with their functions: a dead
/// function's FDE / entry goes, the survivors' fields point right.
#[test]
fn unwind_info_is_kept_with_its_functions() {
    for dir in ["macho_x86_64", "macho_arm64"] {
        let dump = link(
            &format!("macho-{dir}-unwind"),
            &paths(dir, &["unwind.o"]),
            &["--abs", "___gxx_personality_v0=0x1234"],
        );
        let live = dump.symbol("unwind.o", "_live").expect("_live").address;
        assert!(dump.symbol("unwind.o", "_dead").is_none(), "{dir}: _dead not stripped");
        let mut fdes = Vec::new();
        if let Some(eh) = dump.section("unwind.o", "__TEXT,__eh_frame") {
            let mut at = eh.address;
            while at < eh.address + eh.size {
                let len = u64::from(dump.u32(at));
                let id = dump.u32(at + 4);
                if id != 0 {
                    let cie = at + 4 - u64::from(id);
                    assert!(cie >= eh.address && dump.u32(cie + 4) == 0, "{dir}: FDE at {at:#x}: CIE pointer");
                    let pc = (at + 8).wrapping_add(dump.u64(at + 8));
                    fdes.push(pc);
                }
                at += 4 + len;
            }
        }
        if let Some(cu) = dump.section("unwind.o", "__LD,__compact_unwind") {
            for e in (cu.address..cu.address + cu.size).step_by(32) {
                fdes.push(dump.u64(e));
            }
        }
        assert!(fdes.contains(&live), "{dir}: no unwind entry for _live: {fdes:x?}");
        assert!(
            fdes.iter().all(|&pc| dump.symbols.iter().any(|s| s.address == pc && s.section == "__TEXT,__text")),
            "{dir}: unwind entries for functions not in the link: {fdes:x?}"
        );
    }
}

/// `__mod_init_func` / `__mod_term_func` pointers are the link's
/// initialisers and finalisers (library API, simulated memory).
#[test]
fn mod_init_func_is_an_init_array() {
    use jitlink::memory::SimulatedMemoryManager;
    use jitlink::session::{LinkOptions, Session, SessionOptions};
    for dir in ["macho_x86_64", "macho_arm64"] {
        let mut s = Session::new(Box::new(SimulatedMemoryManager::new(SLAB, None, 4096)), SessionOptions::default());
        s.define_absolute("_ext_near", EXT_NEAR).unwrap();
        s.define_absolute("_ext_far", EXT_FAR).unwrap();
        for f in paths(dir, &["relocs.o", "defs.o"]) {
            s.add_file(&f).unwrap();
        }
        let id = s.link(&LinkOptions::default()).unwrap();
        let helper = s.lookup("_helper").unwrap();
        assert_eq!(s.linked(id).unwrap().init, vec![helper], "{dir}");
        let alt = s.lookup("_alt").unwrap();
        assert_eq!(s.linked(id).unwrap().fini, vec![alt], "{dir}: __mod_term_func");
    }
}

/// A thread-local access (`X86_64_RELOC_TLV`, `ARM64_RELOC_TLVP_LOAD_*`)
/// is linked (tests/macho_tls.rs); one to a variable no input defines is
/// an undefined symbol, named on one line.
#[test]
fn thread_local_access_to_a_missing_variable_is_undefined() {
    for dir in ["macho_x86_64", "macho_arm64"] {
        let (ok, err) = link_err(&[fixture(dir, "tlv.o")], &[]);
        assert!(!ok);
        assert!(err.contains("undefined symbols: _tv (needed by tlv.o)"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// A universal file with x86-64 and arm64 slices: `--triple` picks each,
/// and the host's slice is the default; the result is the slice's own link.
#[test]
fn universal_file_slice_by_triple() {
    let fat = fixture("macho_universal", "kernels.o");
    for (triple, dir, want) in [
        ("x86_64-apple-macos", "macho_x86_64", "x86_64-apple-macosx"),
        ("arm64-apple-macos", "macho_arm64", "arm64-apple-macosx"),
        ("aarch64-apple-darwin", "macho_arm64", "arm64-apple-macosx"),
    ] {
        let d = link(&format!("fat-{want}"), std::slice::from_ref(&fat), &["--triple", triple]);
        assert_eq!(d.triple, want, "--triple {triple}: dump triple");
        let thin = link(&format!("thin-{want}"), &[fixture(dir, "kernels-O2.o")], &[]);
        assert_eq!(d.memory, thin.memory, "--triple {triple}: not the {dir} slice");
        assert!(d.symbols.iter().any(|s| s.name == "_k_crc32"));
    }
    if cfg!(target_arch = "x86_64") {
        let d = link("fat-host", std::slice::from_ref(&fat), &[]);
        assert!(d.triple.starts_with("x86_64"), "host default: {}", d.triple);
    }
    let (ok, err) = link_err(&[fat], &["--triple", "riscv64-unknown-linux-gnu"]);
    assert!(!ok && err.contains("no slice for riscv64"), "{err}");
}

fn uleb(b: &[u8], at: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let byte = b[*at];
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return v;
        }
    }
}

/// `__eh_frame` fields the assembler resolved without a relocation (x86-64
/// FDE `pc_begin` and LSDA pointers, pc-relative, LSB "Exception Frames"):
/// after the link they must point where the object's did.
fn check_eh_frame(ctx: &Ctx<'_>, o: &Obj, sec: &Sec, base: u64, touched: &mut [bool]) {
    let d = ctx.dump;
    let b = &sec.data;
    let relocated: BTreeSet<u64> = sec.relocs.iter().map(|r| r.address).collect();
    let map = |t: u64| -> u64 {
        let i = o.secs.iter().position(|s| t >= s.addr && t <= s.addr + s.size).expect("pointer into a section");
        ctx.obj_addr(o, i + 1, t)
    };
    let mut cies: HashMap<usize, (u8, u8)> = HashMap::new();
    let mut off = 0usize;
    let mut fdes = 0;
    while off + 8 <= b.len() {
        let len = u32::from_le_bytes(b[off..off + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        let id = u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap());
        let rec = &b[off..off + 4 + len];
        if id == 0 {
            let mut at = 9;
            let aug_end = rec[at..].iter().position(|&c| c == 0).unwrap();
            let aug = rec[at..at + aug_end].to_vec();
            at += aug_end + 1;
            uleb(rec, &mut at);
            uleb(rec, &mut at);
            uleb(rec, &mut at);
            let (mut fde_enc, mut lsda_enc) = (0u8, 0xffu8);
            if aug.first() == Some(&b'z') {
                uleb(rec, &mut at);
                for c in &aug[1..] {
                    match c {
                        b'R' => {
                            fde_enc = rec[at];
                            at += 1;
                        }
                        b'L' => {
                            lsda_enc = rec[at];
                            at += 1;
                        }
                        b'P' => {
                            let enc = rec[at];
                            at += 1 + if enc & 0x0f == 0x0b || enc & 0x0f == 0x03 { 4 } else { 8 };
                        }
                        _ => {}
                    }
                }
            }
            cies.insert(off, (fde_enc, lsda_enc));
        } else {
            let cie = off + 4 - id as usize;
            let (fde_enc, lsda_enc) = cies[&cie];
            let size = if fde_enc & 0x0f == 0x0b || fde_enc & 0x0f == 0x03 { 4 } else { 8 };
            let mut check_ptr = |field: usize, enc: u8, what: &str| {
                if relocated.contains(&(field as u64)) {
                    return;
                }
                assert_eq!(enc & 0x70, 0x10, "{}: {what} encoding {enc:#x} not pc-relative", o.file);
                let obj = sext(b[field..field + size].iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x)), size);
                let target = map((sec.addr + field as u64).wrapping_add(obj as u64));
                let p = base + field as u64;
                let now = sext(d.le(p, size), size);
                assert_eq!(p.wrapping_add(now as u64), target, "{}: __eh_frame +{field:#x}: {what}", o.file);
                touched[field..field + size].iter_mut().for_each(|t| *t = true);
            };
            check_ptr(off + 8, fde_enc, "FDE pc_begin");
            if lsda_enc != 0xff {
                let mut at = 8 + 2 * size;
                uleb(rec, &mut at);
                check_ptr(off + at, lsda_enc, "FDE LSDA pointer");
            }
            fdes += 1;
        }
        off += 4 + len;
    }
    assert!(fdes > 0, "{}: no FDE in __eh_frame", o.file);
}
