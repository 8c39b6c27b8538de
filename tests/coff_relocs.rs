//! COFF relocations, x86-64 and ARM64, regular and `/bigobj`: every
//! relocated field of every fixture is checked against a value computed
//! independently of the linker, from the objects (read with the `object`
//! crate) and the link dump of
//!
//!     jitlink link --noexec --slab-address 0x10000000
//!         --abs ext_near=0x10080000 --abs ext_far=0x7f0000000000 FILE...
//!
//! Fixtures: `tests/fixtures/coff_{x86_64,arm64}/` (`*.s` assembled by
//! llvm-mc and adjusted by `retype.py`, `/bigobj` copies by `bigobj.py`,
//! `kernels-O*.obj` compiled by clang from `../macho_kernels/kernels.c`;
//! `regen.sh` rebuilds them).
//!
//! The rules, from the Microsoft PE/COFF specification ("COFF
//! Relocations", "COMDAT Sections", "Auxiliary Format 3: Weak Externals",
//! "The .drectve Section"), modelled here on their own:
//! * S of a symbol defined in a section: the section's address in the dump
//!   plus the symbol's value (a section is one block); a global from the
//!   object whose section survives COMDAT selection (first ANY / SAME_SIZE /
//!   EXACT_MATCH, the largest LARGEST, associative sections with their
//!   section), else a common (the dump's symbol), else a weak external's
//!   default or an `/alternatename` target, else `--abs`; `__ImageBase` is
//!   the dump's symbol and must be the lowest address of the link;
//!   `__imp_X` a slot of the dump holding X;
//! * A is the field's content: data fields as they are, instructions'
//!   immediates (ADRP/ADR: bytes, ADD: imm12, load/store: imm12 scaled,
//!   branches: offset);
//! * x86-64: ADDR64/ADDR32 = S + A, ADDR32NB = S + A - ImageBase, REL32_k
//!   = S + A - (P + 4 + k) (a call or jmp may go through a stub whose GOT
//!   slot holds S), SECTION = A + the 1-based number of S's section in its
//!   object, SECREL = S + A - the start of S's section, SECREL7 its low 7
//!   bits;
//! * ARM64: ADDR32/ADDR64/ADDR32NB as on x86-64; BRANCH26/19/14 reach
//!   S + A (or a stub reaching it); PAGEBASE_REL21 loads Page(S + A); REL21
//!   is S + A - P; PAGEOFFSET_12A/12L the low 12 bits of S + A (scaled);
//!   SECREL* the section-relative offset (low 12 bits, bits 12..23, scaled
//!   low 12 bits); REL32 = S + A - (P + 4);
//! * every byte no relocation touches equals the object's.

#[path = "macho_common/mod.rs"]
mod common;

use common::*;
use object::pe;
use object::read::coff::{CoffHeader, ImageSymbol};
use object::LittleEndian as LE;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

const ABS: [&str; 4] = ["--abs", "ext_near=0x10080000", "--abs", "ext_far=0x7f0000000000"];

struct CSec {
    name: String,
    chars: u32,
    data: Vec<u8>,
    size: u64,
    relocs: Vec<(u64, usize, u16)>,
    selection: u8,
    assoc: usize,
    comdat_sym: Option<usize>,
}

#[derive(Clone)]
struct CSym {
    name: String,
    value: u64,
    secno: i32,
    class: u8,
    secdef: bool,
    weak: Option<(usize, u32)>,
}

struct CObj {
    file: String,
    arm: bool,
    secs: Vec<CSec>,
    syms: HashMap<usize, CSym>,
    alternate: Vec<(String, String)>,
}

fn parse<Coff: CoffHeader>(file: &str, d: &[u8]) -> CObj {
    let mut off = 0;
    let h = Coff::parse(d, &mut off).unwrap();
    let st = h.sections(d, off).unwrap();
    let symtab = h.symbols(d).unwrap();
    let strings = symtab.strings();
    let mut secs: Vec<CSec> = st
        .iter()
        .map(|s| CSec {
            name: String::from_utf8_lossy(s.name(strings).unwrap()).into_owned(),
            chars: s.characteristics.get(LE),
            data: s.coff_data(d).unwrap().to_vec(),
            size: u64::from(s.size_of_raw_data.get(LE)),
            relocs: s
                .coff_relocations(d)
                .unwrap()
                .iter()
                .map(|r| (u64::from(r.virtual_address.get(LE)), r.symbol().0, r.typ.get(LE)))
                .collect(),
            selection: 0,
            assoc: 0,
            comdat_sym: None,
        })
        .collect();
    let mut syms = HashMap::new();
    let mut last = None;
    for (idx, s) in symtab.iter() {
        let secdef = s.has_aux_section() && s.section_number() > 0 && s.value() == 0;
        let weak = (s.storage_class() == pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL).then(|| {
            let w: &pe::ImageAuxSymbolWeak = symtab.get(idx, 1).unwrap();
            (w.weak_default_sym_index.get(LE) as usize, w.weak_search_type.get(LE))
        });
        if secdef {
            let a = symtab.aux_section(idx).unwrap();
            let mut n = u32::from(a.number.get(LE));
            if Coff::is_type_bigobj() {
                n |= u32::from(a.high_number.get(LE)) << 16;
            }
            let sec = &mut secs[s.section_number() as usize - 1];
            sec.selection = a.selection;
            sec.assoc = n as usize;
            last = Some(s.section_number() as usize - 1);
        } else if let Some(si) = last.take() {
            if s.section_number() as usize == si + 1 {
                secs[si].comdat_sym = Some(idx.0);
            }
        }
        syms.insert(
            idx.0,
            CSym {
                name: String::from_utf8_lossy(s.name(strings).unwrap()).into_owned(),
                value: u64::from(s.value()),
                secno: s.section_number(),
                class: s.storage_class(),
                secdef,
                weak,
            },
        );
    }
    let mut alternate = Vec::new();
    for s in &secs {
        if s.name == ".drectve" {
            for tok in String::from_utf8_lossy(&s.data).split_whitespace() {
                if let Some(v) = tok.strip_prefix("/alternatename:") {
                    let (a, b) = v.split_once('=').unwrap();
                    alternate.push((a.to_string(), b.to_string()));
                }
            }
        }
    }
    let arm = h.machine() == pe::IMAGE_FILE_MACHINE_ARM64;
    CObj { file: file.to_string(), arm, secs, syms, alternate }
}

fn load(path: &PathBuf, file: &str) -> CObj {
    let d = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e} (run regen.sh)", path.display()));
    if d[0..4] == [0, 0, 0xff, 0xff] {
        parse::<pe::AnonObjectHeaderBigobj>(file, &d)
    } else {
        parse::<pe::ImageFileHeader>(file, &d)
    }
}

/// A section's fate after COMDAT selection.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Fate {
    Kept,
    Dropped,
}

struct Ctx<'d> {
    objs: Vec<CObj>,
    dump: &'d Dump,
    abs: HashMap<String, u64>,
    fate: Vec<Vec<Fate>>,
    /// Dump address of each kept, live section.
    addr: Vec<Vec<Option<u64>>>,
}

const COMDAT: u32 = pe::IMAGE_SCN_LNK_COMDAT;

impl<'d> Ctx<'d> {
    fn new(objs: Vec<CObj>, dump: &'d Dump) -> Ctx<'d> {
        // COMDAT selection, by the spec's rules, in command-line order.
        let mut fate: Vec<Vec<Fate>> = objs.iter().map(|o| vec![Fate::Kept; o.secs.len()]).collect();
        let mut winner: HashMap<String, (usize, usize, u8, u64)> = HashMap::new();
        for (oi, o) in objs.iter().enumerate() {
            for (si, s) in o.secs.iter().enumerate() {
                if s.chars & COMDAT == 0 || s.selection == pe::IMAGE_COMDAT_SELECT_ASSOCIATIVE {
                    continue;
                }
                let Some(ci) = s.comdat_sym else { continue };
                let cs = &o.syms[&ci];
                if cs.class != pe::IMAGE_SYM_CLASS_EXTERNAL {
                    continue;
                }
                match winner.get(&cs.name).copied() {
                    None => {
                        winner.insert(cs.name.clone(), (oi, si, s.selection, s.size));
                    }
                    Some((wo, ws, _, wsize)) => {
                        if s.selection == pe::IMAGE_COMDAT_SELECT_LARGEST && s.size > wsize {
                            fate[wo][ws] = Fate::Dropped;
                            winner.insert(cs.name.clone(), (oi, si, s.selection, s.size));
                        } else {
                            fate[oi][si] = Fate::Dropped;
                        }
                    }
                }
            }
        }
        for (oi, o) in objs.iter().enumerate() {
            for _ in 0..o.secs.len() {
                for (si, s) in o.secs.iter().enumerate() {
                    if s.chars & COMDAT != 0
                        && s.selection == pe::IMAGE_COMDAT_SELECT_ASSOCIATIVE
                        && fate[oi][s.assoc - 1] == Fate::Dropped
                    {
                        fate[oi][si] = Fate::Dropped;
                    }
                }
            }
        }
        // Section addresses: through a named symbol the dump lists, else
        // the remaining dump entries of that name in order.
        let mut addr: Vec<Vec<Option<u64>>> = objs.iter().map(|o| vec![None; o.secs.len()]).collect();
        for (oi, o) in objs.iter().enumerate() {
            let mut claimed: BTreeSet<u64> = BTreeSet::new();
            let mut has_named = vec![false; o.secs.len()];
            for s in o.syms.values() {
                if s.secdef || s.secno <= 0 || s.name.is_empty() || s.name.starts_with('.') {
                    continue;
                }
                let si = s.secno as usize - 1;
                has_named[si] = true;
                if let Some(d) =
                    dump.symbols.iter().find(|d| d.file == o.file && d.name == s.name && d.kind == "defined")
                {
                    let a = d.address - s.value;
                    assert!(
                        dump.sections.iter().any(|x| x.file == o.file && x.name == o.secs[si].name && x.address == a),
                        "{}: {} at {a:#x} is no dump section",
                        o.file,
                        o.secs[si].name
                    );
                    addr[oi][si] = Some(a);
                    claimed.insert(a);
                }
            }
            for (si, s) in o.secs.iter().enumerate() {
                if addr[oi][si].is_some() || has_named[si] || fate[oi][si] == Fate::Dropped {
                    continue;
                }
                addr[oi][si] = dump
                    .sections
                    .iter()
                    .filter(|x| x.file == o.file && x.name == s.name && !claimed.contains(&x.address))
                    .map(|x| x.address)
                    .next();
                if let Some(a) = addr[oi][si] {
                    claimed.insert(a);
                }
            }
        }
        Ctx { objs, dump, abs: abs(), fate, addr }
    }

    fn sec(&self, oi: usize, secno: i32) -> u64 {
        let si = secno as usize - 1;
        self.addr[oi][si].unwrap_or_else(|| {
            panic!("{}: section {} is not in the dump", self.objs[oi].file, self.objs[oi].secs[si].name)
        })
    }

    fn image_base(&self) -> u64 {
        let ib = self.dump.symbols.iter().find(|s| s.name == "__ImageBase").expect("__ImageBase in the dump").address;
        let lowest = self.dump.sections.iter().map(|s| s.address).min().unwrap();
        assert_eq!(ib, lowest, "__ImageBase must be the start of the link's memory");
        ib
    }

    /// The definition of global `name`, by the rules above.
    fn global(&self, name: &str) -> Option<u64> {
        for (oi, o) in self.objs.iter().enumerate() {
            for s in o.syms.values() {
                if s.name != name || s.class != pe::IMAGE_SYM_CLASS_EXTERNAL || s.secdef {
                    continue;
                }
                if s.secno > 0 && self.fate[oi][s.secno as usize - 1] == Fate::Kept {
                    return Some(self.sec(oi, s.secno) + s.value);
                }
                if s.secno == -1 {
                    return Some(s.value);
                }
            }
        }
        None
    }

    fn resolve(&self, oi: usize, idx: usize) -> (u64, String) {
        let o = &self.objs[oi];
        let s = &o.syms[&idx];
        let name = s.name.clone();
        if s.secdef
            || (s.class != pe::IMAGE_SYM_CLASS_EXTERNAL && s.class != pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL && s.secno > 0)
        {
            return (self.sec(oi, s.secno) + s.value, name);
        }
        if s.secno == -1 && s.class != pe::IMAGE_SYM_CLASS_EXTERNAL {
            return (s.value, name);
        }
        (self.global_or_else(oi, &name, s), name)
    }

    fn global_or_else(&self, oi: usize, name: &str, s: &CSym) -> u64 {
        if let Some(a) = self.global(name) {
            return a;
        }
        if name == "__ImageBase" {
            return self.image_base();
        }
        if let Some(t) = name.strip_prefix("__imp_") {
            let want = self.global_or_else(oi, t, &CSym { name: t.into(), weak: None, ..s.clone() });
            let slot = self.dump.symbol(&self.objs[oi].file, name).expect("__imp_ slot in the dump").address;
            assert_eq!(self.dump.u64(slot), want, "{name}: the slot holds {t}");
            return slot;
        }
        if let Some(&a) = self.abs.get(name) {
            return a;
        }
        if let Some((default, _)) = s.weak {
            return self.resolve(oi, default).0;
        }
        for o in &self.objs {
            if let Some((_, to)) = o.alternate.iter().find(|(a, _)| a == name) {
                return self.global(to).expect("alternate name target");
            }
        }
        // Commons and what the runtime supplies: the dump's symbol.
        let d = self.dump.symbols.iter().find(|d| d.name == name && d.kind == "defined");
        d.unwrap_or_else(|| panic!("{name} is defined nowhere")).address
    }
}

fn abs() -> HashMap<String, u64> {
    [("ext_near".to_string(), 0x1008_0000), ("ext_far".to_string(), 0x7f00_0000_0000)].into_iter().collect()
}

fn sext(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x))
}

fn ldst_scale(w: u32) -> u32 {
    let s = w >> 30;
    if w & 0x0480_0000 == 0x0480_0000 {
        s + 4
    } else {
        s
    }
}

/// Checks every relocation of every kept section; returns the types seen.
fn check(ctx: &Ctx<'_>) -> BTreeSet<u16> {
    let d = ctx.dump;
    let mut seen = BTreeSet::new();
    for (oi, o) in ctx.objs.iter().enumerate() {
        for (si, sec) in o.secs.iter().enumerate() {
            if ctx.fate[oi][si] == Fate::Dropped || sec.chars & (pe::IMAGE_SCN_LNK_INFO | pe::IMAGE_SCN_LNK_REMOVE) != 0
            {
                continue;
            }
            let Some(base) = ctx.addr[oi][si] else { continue };
            let ds = d.sections.iter().find(|x| x.file == o.file && x.address == base && x.name == sec.name).unwrap();
            assert_eq!(ds.size, sec.size, "{}: {} size", o.file, sec.name);
            let mut touched = vec![false; sec.data.len()];
            for &(va, sym, t) in &sec.relocs {
                if t == 0 {
                    continue;
                }
                seen.insert(t);
                let p = base + va;
                let what = format!("{}: {} +{va:#x} type {t:#x}", o.file, sec.name);
                let (s, name) = ctx.resolve(oi, sym);
                let field = |w: usize| &sec.data[va as usize..va as usize + w];
                let secno = || o.syms[&sym].secno;
                let sec_base = || {
                    let n = secno();
                    assert!(n > 0, "{what}: section-relative to an undefined symbol");
                    ctx.sec(oi, n)
                };
                let w = if o.arm {
                    check_arm(
                        ctx,
                        t,
                        p,
                        s,
                        &name,
                        field(if t == 0xe {
                            8
                        } else if t == 0xd {
                            2
                        } else {
                            4
                        }),
                        sec_base,
                        secno,
                        &what,
                    )
                } else {
                    check_x86(ctx, t, p, s, &name, &sec.data, va as usize, sec_base, secno, &what)
                };
                touched[va as usize..va as usize + w].iter_mut().for_each(|x| *x = true);
            }
            if !sec.data.is_empty() {
                let now = d.bytes(base, sec.data.len());
                for (k, (&a, &b)) in sec.data.iter().zip(now).enumerate() {
                    assert!(
                        touched[k] || a == b,
                        "{}: {} +{k:#x}: {b:#04x}, the object has {a:#04x}",
                        o.file,
                        sec.name
                    );
                }
            }
        }
    }
    seen
}

#[allow(clippy::too_many_arguments)]
fn check_x86(
    ctx: &Ctx<'_>,
    t: u16,
    p: u64,
    s: u64,
    name: &str,
    data: &[u8],
    va: usize,
    sec_base: impl Fn() -> u64,
    secno: impl Fn() -> i32,
    what: &str,
) -> usize {
    let d = ctx.dump;
    let w = match t {
        1 => 8,
        0xa => 2,
        0xc => 1,
        _ => 4,
    };
    let a = match w {
        8 => le(&data[va..va + 8]) as i64,
        4 => sext(le(&data[va..va + 4]), 32),
        2 => le(&data[va..va + 2]) as i64,
        _ => i64::from(data[va] & 0x7f),
    };
    let got = d.le(p, w);
    let s_a = (s as i64).wrapping_add(a) as u64;
    match t {
        1 => assert_eq!(got, s_a, "{what}: ADDR64 {name}"),
        2 => assert_eq!(got, s_a & 0xffff_ffff, "{what}: ADDR32 {name}"),
        3 => assert_eq!(got, s_a.wrapping_sub(ctx.image_base()) & 0xffff_ffff, "{what}: ADDR32NB {name}"),
        4..=9 => {
            let k = u64::from(t - 4);
            let dest = (p + 4 + k).wrapping_add(sext(got, 32) as u64);
            if dest != s_a {
                let call = va >= 1 && matches!(data[va - 1], 0xe8 | 0xe9);
                assert!(call, "{what}: REL32 to {name}: {dest:#x}, want {s_a:#x}");
                assert_eq!(d.x86_stub_target(dest.wrapping_sub(a as u64)), Some(s), "{what}: REL32 call to {name}");
            }
        }
        0xa => assert_eq!(got as i64, a + i64::from(secno()), "{what}: SECTION {name}"),
        0xb => assert_eq!(got, s_a - sec_base(), "{what}: SECREL {name}"),
        0xc => {
            assert_eq!(u64::from(d.bytes(p, 1)[0] & 0x7f), s_a - sec_base(), "{what}: SECREL7 {name}");
            assert_eq!(d.bytes(p, 1)[0] & 0x80, data[va] & 0x80, "{what}: SECREL7 keeps bit 7");
        }
        t => panic!("{what}: type {t} not modelled"),
    }
    w
}

#[allow(clippy::too_many_arguments)]
fn check_arm(
    ctx: &Ctx<'_>,
    t: u16,
    p: u64,
    s: u64,
    name: &str,
    field: &[u8],
    sec_base: impl Fn() -> u64,
    secno: impl Fn() -> i32,
    what: &str,
) -> usize {
    let d = ctx.dump;
    let orig = le(&field[..field.len().min(4)]) as u32;
    let now = d.u32(p);
    let imm12 = |w: u32| u64::from((w >> 10) & 0xfff);
    match t {
        1 => assert_eq!(u64::from(now), s.wrapping_add(sext(le(field), 32) as u64) & 0xffff_ffff, "{what}: ADDR32"),
        2 => {
            let v = s.wrapping_add(sext(le(field), 32) as u64).wrapping_sub(ctx.image_base());
            assert_eq!(u64::from(now), v, "{what}: ADDR32NB {name}");
        }
        0xe => assert_eq!(d.u64(p), s.wrapping_add(le(field)), "{what}: ADDR64 {name}"),
        0xd => assert_eq!(d.le(p, 2) as i64, le(field) as i64 + i64::from(secno()), "{what}: SECTION"),
        0x11 => {
            let v = (s as i64 + sext(le(field), 32) - (p as i64 + 4)) as i32;
            assert_eq!(now as i32, v, "{what}: REL32 {name}");
        }
        0x8 => assert_eq!(u64::from(now), s + le(field) - sec_base(), "{what}: SECREL {name}"),
        3 | 0xf | 0x10 => {
            let (bits, lsb) = match t {
                3 => (26, 0),
                0xf => (19, 5),
                _ => (14, 5),
            };
            let mask = (1u32 << bits) - 1;
            let a = sext(u64::from((orig >> lsb) & mask), bits) * 4;
            let dest = (p as i64 + sext(u64::from((now >> lsb) & mask), bits) * 4) as u64;
            let want = (s as i64 + a) as u64;
            if dest != want {
                assert_eq!(d.arm64_stub_target(dest), Some(want), "{what}: branch to {name}+{a}");
            }
            assert_eq!(now & !(mask << lsb), orig & !(mask << lsb), "{what}: other bits");
        }
        4 => {
            let a = adr_imm(orig);
            let page = (p & !0xfff).wrapping_add((adr_imm(now) << 12) as u64);
            assert_eq!(page, (s as i64 + a) as u64 & !0xfff, "{what}: PAGEBASE_REL21 {name}+{a}");
        }
        5 => {
            let a = adr_imm(orig);
            assert_eq!(p as i64 + adr_imm(now), s as i64 + a, "{what}: REL21 {name}");
        }
        6 => assert_eq!(imm12(now), (s + imm12(orig)) & 0xfff, "{what}: PAGEOFFSET_12A {name}"),
        7 => {
            let sc = ldst_scale(orig);
            assert_eq!(imm12(now) << sc, (s + (imm12(orig) << sc)) & 0xfff, "{what}: PAGEOFFSET_12L {name}");
        }
        9 => assert_eq!(imm12(now), (s + imm12(orig) - sec_base()) & 0xfff, "{what}: SECREL_LOW12A"),
        0xa => assert_eq!(imm12(now), ((s + (imm12(orig) << 12) - sec_base()) >> 12) & 0xfff, "{what}: SECREL_HIGH12A"),
        0xb => {
            let sc = ldst_scale(orig);
            assert_eq!(imm12(now) << sc, (s + (imm12(orig) << sc) - sec_base()) & 0xfff, "{what}: SECREL_LOW12L");
        }
        t => panic!("{what}: type {t} not modelled"),
    }
    field.len()
}

fn run(tag: &str, files: &[(PathBuf, &str)], extra_inputs: &[PathBuf]) -> (Ctx<'static>, BTreeSet<u16>) {
    let mut inputs: Vec<PathBuf> = files.iter().filter(|f| !f.1.contains('(')).map(|f| f.0.clone()).collect();
    inputs.extend_from_slice(extra_inputs);
    let dump: &'static Dump = Box::leak(Box::new(link(tag, &inputs, &ABS)));
    let ctx = Ctx::new(files.iter().map(|(p, f)| load(p, f)).collect(), dump);
    let seen = check(&ctx);
    (ctx, seen)
}

fn x86(name: &str) -> PathBuf {
    fixture("coff_x86_64", name)
}

fn arm(name: &str) -> PathBuf {
    fixture("coff_arm64", name)
}

#[test]
fn x86_64_every_relocation_type() {
    for (relocs, defs) in [("relocs.obj", "defs.obj"), ("relocs-bigobj.obj", "defs-bigobj.obj")] {
        let (ctx, seen) = run(
            &format!("coff-x86-{relocs}"),
            &[(x86(relocs), relocs), (x86(defs), defs), (x86("lib.obj"), "libw.a(lib.obj)")],
            &[x86("libw.a")],
        );
        for t in 1..=0xcu16 {
            assert!(seen.contains(&t), "{relocs}: IMAGE_REL_AMD64 type {t:#x} not exercised");
        }
        let d = ctx.dump;
        assert!(d.symbols.iter().all(|s| !s.file.contains("lib2.obj")), "NOLIBRARY must not load lib2.obj");
    }
}

#[test]
fn arm64_every_relocation_type() {
    for relocs in ["relocs.obj", "relocs-bigobj.obj"] {
        let (_, seen) =
            run(&format!("coff-arm64-{relocs}"), &[(arm(relocs), relocs), (arm("defs.obj"), "defs.obj")], &[]);
        for t in (1..=0x11u16).filter(|&t| t != 0xc) {
            assert!(seen.contains(&t), "{relocs}: IMAGE_REL_ARM64 type {t:#x} not exercised");
        }
    }
}

#[test]
fn clang_objects() {
    for opt in ["O0", "O2"] {
        let f = format!("kernels-{opt}.obj");
        run(&format!("coff-x86-{opt}"), &[(x86(&f), &f)], &[]);
        run(&format!("coff-arm-{opt}"), &[(arm(&f), &f)], &[]);
    }
}

/// The selection rules, seen from the dump: which file's bytes each COMDAT
/// symbol has, and which associative sections stay.
#[test]
fn comdat_selection() {
    let d = link("coff-comdat", &[x86("relocs.obj"), x86("defs.obj"), x86("libw.a")], &ABS);
    let def = |n: &str| d.symbols.iter().find(|s| s.name == n && s.kind == "defined").unwrap_or_else(|| panic!("{n}"));
    for (sym, file, imm) in [
        ("cany", "relocs.obj", 0xa1u8),
        ("csame", "relocs.obj", 0xa3),
        ("cexact", "relocs.obj", 0xa4),
        ("clarge", "defs.obj", 0xb5),
    ] {
        let s = def(sym);
        assert_eq!(s.file, file, "{sym}");
        assert_eq!(d.bytes(s.address, 2), [0xb8, imm], "{sym}: mov $imm, %eax of {file}");
    }
    assert_eq!(def("cnodup").file, "relocs.obj");
    assert!(d.section("relocs.obj", ".rdata$cany").is_some(), "the kept COMDAT's associative section stays");
    assert!(d.section("defs.obj", ".rdata$cany").is_none(), "the dropped COMDAT's associative section goes");
    assert!(d.section("defs.obj", ".text$cany").is_none());
    assert!(d.section("relocs.obj", ".text$clarge").is_none(), "LARGEST: the smaller one goes");
    for (bad, why) in
        [("dup_nodup.obj", "NODUPLICATES"), ("dup_size.obj", "SAME_SIZE"), ("dup_exact.obj", "EXACT_MATCH")]
    {
        let (ok, err) = link_err(&[x86("relocs.obj"), x86("defs.obj"), x86("libw.a"), x86(bad)], &ABS);
        assert!(!ok && err.contains(why) && err.contains(bad), "{bad}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// Weak externals of the three search kinds, and `/alternatename`.
#[test]
fn weak_externals_and_alternate_names() {
    let d = link("coff-weak", &[x86("relocs.obj"), x86("defs.obj"), x86("libw.a")], &ABS);
    let def = |n: &str| d.symbols.iter().find(|s| s.name == n && s.kind != "external").unwrap_or_else(|| panic!("{n}"));
    let default = |n: &str| def(&format!(".weak.{n}.default.main")).address;
    // ALIAS, nothing else defines it: the default.
    assert_eq!(def("wdef_alias").address, default("wdef_alias"));
    // NOLIBRARY: libw.a(lib2.obj) defines it, but is not searched.
    assert_eq!(def("wdef_nolib").address, default("wdef_nolib"));
    // LIBRARY: libw.a(lib.obj) is searched and loaded, its definition wins.
    assert_eq!(def("wdef_lib").file, "libw.a(lib.obj)");
    // A strong definition elsewhere wins over the default.
    assert_eq!(def("wover").file, "defs.obj");
    // A weak reference with no definition: 0.
    assert_eq!(def("wref_missing").address, 0);
    // /alternatename: used when the name is undefined, not otherwise.
    assert_eq!(def("alt_fn").address, def("main_target").address);
    assert_eq!(def("alt_defined").file, "defs.obj");
}

/// `.pdata` stays with its functions: the dead static function's entry
/// (and the function) go, the live one's stays and points at it.
#[test]
fn pdata_is_kept_with_its_functions() {
    let d = link("coff-unwind", &[x86("unwind.obj")], &[]);
    let live = d.symbol("unwind.obj", "live_fn").unwrap().address;
    assert!(d.symbol("unwind.obj", "dead_fn").is_none(), "dead_fn not stripped");
    let ib = d.symbols.iter().find(|s| s.name == "__ImageBase").unwrap().address;
    let pdata: Vec<&DSection> = d.sections.iter().filter(|s| s.name == ".pdata").collect();
    assert_eq!(pdata.len(), 1, "one .pdata left: {pdata:?}");
    let begin = ib + u64::from(d.u32(pdata[0].address));
    assert_eq!(begin, live, "the entry's BeginAddress (an RVA) is live_fn");
}

#[test]
fn errors_name_file_section_offset_and_relocation() {
    let (ok, err) = link_err(&[x86("tls.obj")], &[]);
    assert!(!ok && err.contains("tls.obj") && err.contains(".tls") && err.contains("not supported"), "{err}");
    let (ok, err) = link_err(&[x86("relocs.obj"), x86("defs.obj")], &["--abs", "ext_near=0x10080000"]);
    assert!(!ok && err.contains("ext_far"), "{err}");
}
