//! The independent relocation checker of the AArch64 tests: for every
//! relocation of every object of a link, the value its field must hold,
//! computed from the psABI formula ("ELF for the Arm 64-bit Architecture
//! (AArch64)", AAELF64 §5.7) with the objects (parsed with `object`) and
//! the dump's addresses; see `tests/aarch64_relocs.rs` for the rules of
//! the linker it encodes.

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap, HashSet};

use super::*;
use object::elf;
use object::{
    Object, ObjectComdat, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionFlags, SectionIndex,
    SectionKind, SymbolFlags, SymbolIndex, SymbolKind, SymbolSection,
};
/// AAELF64 2023Q3+ numbers the `object` crate does not name yet.
pub const R_AARCH64_PLT32: u32 = 314;
pub const R_AARCH64_GOTPCREL32: u32 = 315;

pub fn type_name(r_type: u32) -> String {
    jitlink::formats::elf::aarch64::reloc_name(r_type as u16).into_owned()
}

/// Width in bytes of the relocated field.
pub fn field_width(r_type: u32) -> usize {
    match r_type {
        elf::R_AARCH64_NONE => 0,
        elf::R_AARCH64_ABS16 | elf::R_AARCH64_PREL16 => 2,
        elf::R_AARCH64_ABS64 | elf::R_AARCH64_PREL64 | elf::R_AARCH64_GOTREL64 => 8,
        _ => 4,
    }
}

// ---------------------------------------------------------------------------
// Expected values
// ---------------------------------------------------------------------------

/// How a relocation was resolved (for assertions on fixture coverage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Plain,
    Direct,
    ViaStub,
    Relaxed,
    GotLoad,
}

/// A bit field of an instruction: `width` bits at `lsb`.
pub fn set_field(word: u32, lsb: u32, width: u32, value: i128) -> u32 {
    let mask = ((1u64 << width) - 1) as u32;
    (word & !(mask << lsb)) | (((value as u64) as u32 & mask) << lsb)
}

pub fn set_adr(word: u32, imm21: i128) -> u32 {
    set_field(set_field(word, 29, 2, imm21), 5, 19, imm21 >> 2)
}

#[derive(Clone, Copy)]
pub enum MovClass {
    /// Opcode kept; check 0 <= X < limit when given.
    Unsigned(Option<i128>),
    /// MOVZ/MOVN by sign; check -limit <= X < limit when given.
    Signed(Option<i128>),
    /// MOVK, no check.
    Nc,
}

/// (group, class, base) of a MOVW relocation; base 0 = S+A, 1 = S+A-P,
/// 2 = G(GDAT(S+A)) - GOT.
pub fn movw_spec(r_type: u32) -> Option<(u32, MovClass, u8)> {
    use MovClass::*;
    let l = |bits: u32| Some(1i128 << bits);
    Some(match r_type {
        elf::R_AARCH64_MOVW_UABS_G0 => (0, Unsigned(l(16)), 0),
        elf::R_AARCH64_MOVW_UABS_G0_NC => (0, Nc, 0),
        elf::R_AARCH64_MOVW_UABS_G1 => (1, Unsigned(l(32)), 0),
        elf::R_AARCH64_MOVW_UABS_G1_NC => (1, Nc, 0),
        elf::R_AARCH64_MOVW_UABS_G2 => (2, Unsigned(l(48)), 0),
        elf::R_AARCH64_MOVW_UABS_G2_NC => (2, Nc, 0),
        elf::R_AARCH64_MOVW_UABS_G3 => (3, Unsigned(None), 0),
        elf::R_AARCH64_MOVW_SABS_G0 => (0, Signed(l(16)), 0),
        elf::R_AARCH64_MOVW_SABS_G1 => (1, Signed(l(32)), 0),
        elf::R_AARCH64_MOVW_SABS_G2 => (2, Signed(l(48)), 0),
        elf::R_AARCH64_MOVW_PREL_G0 => (0, Signed(l(16)), 1),
        elf::R_AARCH64_MOVW_PREL_G0_NC => (0, Nc, 1),
        elf::R_AARCH64_MOVW_PREL_G1 => (1, Signed(l(32)), 1),
        elf::R_AARCH64_MOVW_PREL_G1_NC => (1, Nc, 1),
        elf::R_AARCH64_MOVW_PREL_G2 => (2, Signed(l(48)), 1),
        elf::R_AARCH64_MOVW_PREL_G2_NC => (2, Nc, 1),
        elf::R_AARCH64_MOVW_PREL_G3 => (3, Signed(None), 1),
        elf::R_AARCH64_MOVW_GOTOFF_G0 => (0, Signed(l(16)), 2),
        elf::R_AARCH64_MOVW_GOTOFF_G0_NC => (0, Nc, 2),
        elf::R_AARCH64_MOVW_GOTOFF_G1 => (1, Signed(l(32)), 2),
        elf::R_AARCH64_MOVW_GOTOFF_G1_NC => (1, Nc, 2),
        elf::R_AARCH64_MOVW_GOTOFF_G2 => (2, Signed(l(48)), 2),
        elf::R_AARCH64_MOVW_GOTOFF_G2_NC => (2, Nc, 2),
        elf::R_AARCH64_MOVW_GOTOFF_G3 => (3, Signed(None), 2),
        _ => return None,
    })
}

pub fn movw_expect(orig: u32, x: i128, g: u32, class: MovClass, what: &str) -> u32 {
    let shift = 16 * g;
    match class {
        MovClass::Nc => set_field(orig, 5, 16, x >> shift),
        MovClass::Unsigned(limit) => {
            if let Some(l) = limit {
                assert!((0..l).contains(&x), "{what}: X = {x:#x} out of range: fixture bug");
            }
            set_field(orig, 5, 16, (x as u64 >> shift) as i128)
        }
        MovClass::Signed(limit) => {
            if let Some(l) = limit {
                assert!((-l..l).contains(&x), "{what}: X = {x:#x} out of range: fixture bug");
            }
            let x = x as u64 as i64;
            if x < 0 {
                set_field(orig & !(1 << 30), 5, 16, (!x >> shift) as i128)
            } else {
                set_field(orig | (1 << 30), 5, 16, (x >> shift) as i128)
            }
        }
    }
}

pub fn ldst_shift(r_type: u32) -> Option<u32> {
    Some(match r_type {
        elf::R_AARCH64_LDST8_ABS_LO12_NC => 0,
        elf::R_AARCH64_LDST16_ABS_LO12_NC => 1,
        elf::R_AARCH64_LDST32_ABS_LO12_NC => 2,
        elf::R_AARCH64_LDST64_ABS_LO12_NC => 3,
        elf::R_AARCH64_LDST128_ABS_LO12_NC => 4,
        _ => return None,
    })
}

/// (imm bits, lsb) of an immediate branch.
pub fn branch_spec(r_type: u32) -> Option<(u32, u32)> {
    match r_type {
        elf::R_AARCH64_CALL26 | elf::R_AARCH64_JUMP26 => Some((26, 0)),
        elf::R_AARCH64_CONDBR19 => Some((19, 5)),
        elf::R_AARCH64_TSTBR14 => Some((14, 5)),
        _ => None,
    }
}

pub fn branch_fits(x: i128, bits: u32) -> bool {
    let half = 1i128 << (bits + 1);
    x & 3 == 0 && (-half..half).contains(&x)
}

// ---------------------------------------------------------------------------
// The objects and the linked result
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Checked {
    pub file: String,
    pub section: String,
    pub offset: u64,
    pub r_type: u32,
    pub target: String,
    pub how: How,
    pub stub_kind: String,
}

/// What a relocation's target resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Defined in the link (a section, COMMON, or by the linker).
    Linked,
    /// SHN_ABS.
    Absolute,
    /// Given by `--abs`: an external the link does not define.
    External,
}

#[derive(Debug, Clone, Copy)]
pub struct Def {
    pub addr: u64,
    pub origin: Origin,
}

pub struct Ctx<'a> {
    pub tag: &'a str,
    pub dump: &'a Dump,
    pub objs: Vec<(&'a str, object::File<'a>)>,
    pub dropped: HashSet<(usize, SectionIndex)>,
    pub abs: HashMap<String, u64>,
    /// The definition each global name resolves to: (object, symbol).
    pub defs: HashMap<String, (usize, SymbolIndex)>,
}

pub fn is_alloc(section: &object::Section<'_, '_>) -> bool {
    match section.flags() {
        SectionFlags::Elf { sh_flags } => sh_flags & elf::SHF_ALLOC as u64 != 0,
        _ => false,
    }
}

pub fn is_tls(section: &object::Section<'_, '_>) -> bool {
    match section.flags() {
        SectionFlags::Elf { sh_flags } => sh_flags & elf::SHF_TLS as u64 != 0,
        _ => false,
    }
}

pub fn is_nobits(section: &object::Section<'_, '_>) -> bool {
    matches!(section.kind(), SectionKind::UninitializedData | SectionKind::UninitializedTls)
}

pub fn r_type_of(rel: &object::Relocation) -> u32 {
    match rel.flags() {
        RelocationFlags::Elf { r_type } => r_type,
        other => panic!("not an ELF relocation: {other:?}"),
    }
}

impl<'a> Ctx<'a> {
    /// The checker for `linked`, whose externals are `ext_near`/`ext_far`.
    pub fn new(linked: &'a Linked) -> Ctx<'a> {
        Ctx::with_externals(linked, &[])
    }

    /// As [`Ctx::new`], with more externals at fixed addresses (e.g. the
    /// names `--phony-externals` resolves to 0).
    pub fn with_externals(linked: &'a Linked, extra: &[(String, u64)]) -> Ctx<'a> {
        let objs: Vec<(&'a str, object::File<'a>)> = linked
            .inputs
            .iter()
            .map(|(name, data)| (name.as_str(), object::File::parse(&data[..]).expect("fixture parses")))
            .collect();
        let mut seen = HashSet::new();
        let mut dropped = HashSet::new();
        for (i, (_, obj)) in objs.iter().enumerate() {
            for comdat in obj.comdats() {
                if !seen.insert(comdat.name().unwrap().to_string()) {
                    for s in comdat.sections() {
                        dropped.insert((i, s));
                    }
                }
            }
        }
        let mut abs: HashMap<String, u64> =
            [("ext_near".to_string(), EXT_NEAR), ("ext_far".to_string(), EXT_FAR)].into_iter().collect();
        abs.extend(extra.iter().cloned());
        // ELF rules: the first strong definition in command-line order,
        // else the first COMMON one, else the first weak one; members of
        // dropped COMDAT groups do not count.
        let mut ranked: HashMap<String, (u8, usize, SymbolIndex)> = HashMap::new();
        for (j, (_, obj)) in objs.iter().enumerate() {
            for s in obj.symbols() {
                if s.is_local() || s.is_undefined() {
                    continue;
                }
                let Ok(name) = s.name() else { continue };
                if let SymbolSection::Section(sec) = s.section() {
                    if dropped.contains(&(j, sec)) {
                        continue;
                    }
                }
                let rank = if s.is_common() {
                    1
                } else if s.is_weak() {
                    2
                } else {
                    0
                };
                let e = ranked.entry(name.to_string()).or_insert((rank, j, s.index()));
                if rank < e.0 {
                    *e = (rank, j, s.index());
                }
            }
        }
        let defs = ranked.into_iter().map(|(n, (_, j, i))| (n, (j, i))).collect();
        Ctx { tag: &linked.tag, dump: &linked.dump, objs, dropped, abs, defs }
    }

    pub fn section_name(&self, i: usize, sec: SectionIndex) -> String {
        self.objs[i].1.section_by_index(sec).unwrap().name().unwrap().to_string()
    }

    pub fn section_addr(&self, i: usize, sec: SectionIndex) -> (u64, u64) {
        let file = self.objs[i].0;
        let name = self.section_name(i, sec);
        let s = self
            .dump
            .section(file, &name)
            .unwrap_or_else(|| panic!("[{}] section {name} of {file} is not in the dump's `sections`", self.tag));
        (s.address, s.size)
    }

    pub fn global_def_site(&self, name: &str) -> Option<(usize, SymbolIndex)> {
        self.defs.get(name).copied()
    }

    pub fn own_def(&self, j: usize, idx: SymbolIndex) -> Def {
        let (file, obj) = &self.objs[j];
        let sym = obj.symbol_by_index(idx).unwrap();
        match sym.section() {
            SymbolSection::Absolute => Def { addr: sym.address(), origin: Origin::Absolute },
            SymbolSection::Section(sec) => {
                let (base, _) = self.section_addr(j, sec);
                Def { addr: base + sym.address(), origin: Origin::Linked }
            }
            SymbolSection::Common => {
                let name = sym.name().unwrap();
                let d = self
                    .dump
                    .symbols
                    .iter()
                    .find(|d| d.name == name && d.file == *file && d.kind != "external")
                    .unwrap_or_else(|| panic!("[{}] COMMON {name} of {file} not in the dump", self.tag));
                Def { addr: d.address, origin: Origin::Linked }
            }
            other => panic!("[{}] symbol {:?} of {file}: unexpected section {other:?}", self.tag, sym.name()),
        }
    }

    pub fn resolve_global(&self, name: &str, from: &str) -> Def {
        if let Some((j, idx)) = self.global_def_site(name) {
            return self.own_def(j, idx);
        }
        if let Some(v) = self.abs.get(name) {
            return Def { addr: *v, origin: Origin::External };
        }
        if name == "_GLOBAL_OFFSET_TABLE_" {
            return Def { addr: self.dump.got_base(from), origin: Origin::Linked };
        }
        for (prefix, is_start) in [("__start_", true), ("__stop_", false)] {
            if let Some(sec) = name.strip_prefix(prefix) {
                let secs: Vec<&DSection> = self.dump.sections.iter().filter(|s| s.name == sec).collect();
                assert!(!secs.is_empty(), "[{}] {name}: no section {sec}", self.tag);
                let addr = if is_start {
                    secs.iter().map(|s| s.address).min().unwrap()
                } else {
                    secs.iter().map(|s| s.address + s.size).max().unwrap()
                };
                return Def { addr, origin: Origin::Linked };
            }
        }
        panic!("[{}] {name} (used by {from}) is defined by no input and no --abs", self.tag)
    }

    /// (name for `got`/`stubs` lookups, definition) of a relocation target.
    pub fn target(&self, i: usize, idx: SymbolIndex) -> (String, Def) {
        let (file, obj) = &self.objs[i];
        let sym = obj.symbol_by_index(idx).unwrap();
        if sym.kind() == SymbolKind::Section {
            let sec = sym.section().index().expect("section symbol without section");
            let (addr, _) = self.section_addr(i, sec);
            return (format!("{}+0x0", self.section_name(i, sec)), Def { addr, origin: Origin::Linked });
        }
        let name = sym.name().unwrap().to_string();
        if sym.is_local() {
            return (name, self.own_def(i, idx));
        }
        let def = self.resolve_global(&name, file);
        (name, def)
    }

    /// `e` must be a `got` entry of `file` for `target` holding `value`.
    pub fn check_got_entry(&self, what: &str, file: &str, target: &str, e: u64, value: u64) {
        let entries: Vec<String> = self
            .dump
            .got
            .iter()
            .filter(|g| g.target == target)
            .map(|g| format!("{}:{:#x}", g.file, g.address))
            .collect();
        assert!(
            self.dump.got.iter().any(|g| g.target == target && g.file == file && g.address == e),
            "{what}: uses {e:#x}, which is not a `got` entry of {file} for {target} (entries: {entries:?})"
        );
        let held = self.dump.read_le(e, 8, what);
        assert_eq!(held, value, "{what}: GOT entry {e:#x} holds {held:#x}, expected S + A = {value:#x}");
    }

    /// The unique `got` entry of `file` for `target` holding `value`.
    pub fn got_entry_for(&self, what: &str, file: &str, target: &str, value: u64) -> u64 {
        let found: Vec<u64> = self
            .dump
            .got
            .iter()
            .filter(|g| g.file == file && g.target == target && self.dump.read_le(g.address, 8, what) == value)
            .map(|g| g.address)
            .collect();
        assert_eq!(found.len(), 1, "{what}: `got` entries of {file} for {target} holding {value:#x}: {found:x?}");
        found[0]
    }

    /// `l` must be a `stubs` entry of `file` for `target` reaching `value`;
    /// returns its kind.
    pub fn check_stub(&self, what: &str, file: &str, target: &str, l: u64, value: u64) -> String {
        let stub =
            self.dump.stubs.iter().find(|x| x.target == target && x.file == file && x.address == l).unwrap_or_else(
                || {
                    let all: Vec<String> = self
                        .dump
                        .stubs
                        .iter()
                        .filter(|x| x.target == target)
                        .map(|x| format!("{}:{}:{:#x}", x.file, x.kind, x.address))
                        .collect();
                    panic!("{what}: branches to {l:#x}, which is not a stub of {file} for {target} (stubs: {all:?})")
                },
            );
        match decode_stub(self.dump, l, what) {
            Ok(Err(slot)) => {
                assert_eq!(stub.kind, "plt", "{what}: a stub loading a GOT slot must be kind plt");
                assert_eq!(stub.size, 12, "{what}: PLT stub size");
                self.check_got_entry(&format!("{what} (PLT stub {l:#x})"), file, target, slot, value);
            }
            Ok(Ok(t)) => {
                assert_eq!(stub.kind, "veneer", "{what}: a stub computing its target must be kind veneer");
                assert_eq!(stub.size, 16, "{what}: veneer size");
                assert_eq!(t, value, "{what}: veneer {l:#x} jumps to {t:#x}, expected S + A = {value:#x}");
            }
            Err(e) => panic!("{e}"),
        }
        stub.kind.clone()
    }

    /// The (r_sym, addend) classes of section `sec` of object `i` whose
    /// ADR_GOT_PAGE/LD64_GOT_LO12_NC are relaxed (see the module rules).
    pub fn relaxed_classes(&self, i: usize, sec: &object::Section<'_, '_>, orig: &[u8]) -> HashSet<(usize, i64)> {
        let mut st: HashMap<(usize, i64), (bool, bool, bool)> = HashMap::new();
        for (off, rel) in sec.relocations() {
            let t = r_type_of(&rel);
            if t != elf::R_AARCH64_ADR_GOT_PAGE && t != elf::R_AARCH64_LD64_GOT_LO12_NC {
                continue;
            }
            let RelocationTarget::Symbol(idx) = rel.target() else { continue };
            if self.target(i, idx).1.origin != Origin::Linked {
                continue;
            }
            let e = st.entry((idx.0, rel.addend())).or_insert((false, false, true));
            if t == elf::R_AARCH64_ADR_GOT_PAGE {
                e.0 = true;
            } else {
                e.1 = true;
                let w = u32::from_le_bytes(orig[off as usize..off as usize + 4].try_into().unwrap());
                e.2 &= is_ldr_x_uimm(w);
            }
        }
        st.into_iter().filter(|(_, (a, b, c))| *a && *b && *c).map(|(k, _)| k).collect()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn check_one(
        &self,
        i: usize,
        sec_name: &str,
        base: u64,
        orig: &[u8],
        offset: u64,
        rel: &object::Relocation,
        relaxed: &HashSet<(usize, i64)>,
    ) -> Checked {
        let file = self.objs[i].0;
        let r_type = r_type_of(rel);
        let width = field_width(r_type);
        let off = offset as usize;
        let (target_name, def, sym_idx) = match rel.target() {
            RelocationTarget::Symbol(idx) => {
                let (n, d) = self.target(i, idx);
                (n, d, idx.0)
            }
            RelocationTarget::Absolute => ("<absolute>".into(), Def { addr: 0, origin: Origin::Absolute }, 0),
            other => panic!("{file}: unexpected relocation target {other:?}"),
        };
        let what = format!("[{}] {file} {sec_name}+{offset:#x} {} -> {target_name}", self.tag, type_name(r_type));
        assert!(!rel.has_implicit_addend(), "{what}: AArch64 fixtures use RELA");
        assert!(off + width <= orig.len(), "{what}: relocation past its section");
        let a = rel.addend() as i128;
        let p = (base + offset) as i128;
        let s = def.addr as i128;
        let sa = s + a;
        let mut how = How::Plain;
        let mut stub_kind = String::new();
        let d = self.dump;
        let owrd = if width == 4 { u32::from_le_bytes(orig[off..off + 4].try_into().unwrap()) } else { 0 };
        let now_word = || d.word(p as u64, &what);
        let expect_word = |want: u32, formula: &str| {
            let now = now_word();
            assert_eq!(
                now, want,
                "{what}: word is {now:#010x}, expected {want:#010x} ({formula}; S={s:#x} A={a:#x} P={p:#x}, object word {owrd:#010x})"
            );
        };
        let expect_data = |value: i128, lo: i128, hi: i128, formula: &str| {
            assert!((lo..hi).contains(&value), "{what}: {formula} = {value:#x} does not fit: fixture bug");
            let now = d.read_le(p as u64, width, &what);
            let want = if width == 8 { value as u64 } else { (value as u64) & ((1u64 << (8 * width)) - 1) };
            assert_eq!(
                now, want,
                "{what}: field is {now:#x}, expected {want:#x} = {formula} (S={s:#x} A={a:#x} P={p:#x})"
            );
        };
        let got_base = || d.got_base(file) as i128;
        // The GOT entry G(GDAT(S+A)) the link made for this relocation.
        let entry = || self.got_entry_for(&what, file, &target_name, sa as u64) as i128;
        const S32: (i128, i128) = (-(1 << 31), 1 << 31);
        const B32: (i128, i128) = (-(1 << 31), 1 << 32);
        const B16: (i128, i128) = (-(1 << 15), 1 << 16);
        const ANY: (i128, i128) = (i128::MIN, i128::MAX);

        match r_type {
            elf::R_AARCH64_NONE => {}
            elf::R_AARCH64_ABS64 => expect_data(sa, ANY.0, ANY.1, "S + A"),
            elf::R_AARCH64_ABS32 => expect_data(sa, B32.0, B32.1, "S + A"),
            elf::R_AARCH64_ABS16 => expect_data(sa, B16.0, B16.1, "S + A"),
            elf::R_AARCH64_PREL64 => expect_data(sa - p, ANY.0, ANY.1, "S + A - P"),
            elf::R_AARCH64_PREL32 => expect_data(sa - p, B32.0, B32.1, "S + A - P"),
            elf::R_AARCH64_PREL16 => expect_data(sa - p, B16.0, B16.1, "S + A - P"),
            elf::R_AARCH64_GOTREL64 => expect_data(sa - got_base(), ANY.0, ANY.1, "S + A - GOT"),
            elf::R_AARCH64_GOTREL32 => expect_data(sa - got_base(), S32.0, S32.1, "S + A - GOT"),
            R_AARCH64_GOTPCREL32 => {
                how = How::GotLoad;
                expect_data(entry() - p, S32.0, S32.1, "G(GDAT(S+A)) - P")
            }
            R_AARCH64_PLT32 => {
                let direct = sa - p;
                if (S32.0..S32.1).contains(&direct) {
                    how = How::Direct;
                    expect_data(direct, S32.0, S32.1, "S + A - P (direct)");
                } else {
                    how = How::ViaStub;
                    let l = (p + sext(d.read_le(p as u64, 4, &what), 32) as i128) as u64;
                    stub_kind = self.check_stub(&what, file, &target_name, l, sa as u64);
                }
            }
            t if branch_spec(t).is_some() => {
                let (bits, lsb) = branch_spec(t).unwrap();
                let direct = sa - p;
                if branch_fits(direct, bits) {
                    how = How::Direct;
                    expect_word(set_field(owrd, lsb, bits, direct >> 2), "S + A - P (direct)");
                } else {
                    how = How::ViaStub;
                    let now = now_word();
                    let mask = ((1u64 << bits) - 1) as u32;
                    assert_eq!(now & !(mask << lsb), owrd & !(mask << lsb), "{what}: opcode bits changed");
                    let disp = match bits {
                        26 => imm26(now),
                        19 => imm19(now),
                        _ => imm14(now),
                    };
                    let l = (p as i64 + disp) as u64;
                    stub_kind = self.check_stub(&what, file, &target_name, l, sa as u64);
                }
            }
            elf::R_AARCH64_LD_PREL_LO19 => {
                assert!(branch_fits(sa - p, 19), "{what}: fixture bug");
                expect_word(set_field(owrd, 5, 19, (sa - p) >> 2), "S + A - P");
            }
            elf::R_AARCH64_ADR_PREL_LO21 => {
                assert!((-(1 << 20)..(1 << 20)).contains(&(sa - p)), "{what}: fixture bug");
                expect_word(set_adr(owrd, sa - p), "S + A - P");
            }
            elf::R_AARCH64_ADR_PREL_PG_HI21 | elf::R_AARCH64_ADR_PREL_PG_HI21_NC => {
                let x = page(sa) - page(p);
                if r_type == elf::R_AARCH64_ADR_PREL_PG_HI21 {
                    assert!((-(1i128 << 32)..(1i128 << 32)).contains(&x), "{what}: fixture bug");
                }
                expect_word(set_adr(owrd, x >> 12), "Page(S + A) - Page(P)");
            }
            elf::R_AARCH64_ADD_ABS_LO12_NC => expect_word(set_field(owrd, 10, 12, sa & 0xfff), "(S + A)[11:0]"),
            t if ldst_shift(t).is_some() => {
                let sh = ldst_shift(t).unwrap();
                assert_eq!(sa & ((1 << sh) - 1), 0, "{what}: target not aligned to the access: fixture bug");
                expect_word(set_field(owrd, 10, 12, (sa & 0xfff) >> sh), "(S + A)[11:shift]");
            }
            t if movw_spec(t).is_some() => {
                let (g, class, b) = movw_spec(t).unwrap();
                let x = match b {
                    0 => sa,
                    1 => sa - p,
                    _ => {
                        how = How::GotLoad;
                        entry() - got_base()
                    }
                };
                expect_word(movw_expect(owrd, x, g, class, &what), "MOVW group");
            }
            elf::R_AARCH64_ADR_GOT_PAGE | elf::R_AARCH64_LD64_GOT_LO12_NC => {
                let relax = relaxed.contains(&(sym_idx, rel.addend()));
                let page_insn = r_type == elf::R_AARCH64_ADR_GOT_PAGE;
                if relax {
                    how = How::Relaxed;
                    if page_insn {
                        expect_word(set_adr(owrd, (page(sa) - page(p)) >> 12), "Page(S + A) - Page(P) (relaxed)");
                    } else {
                        let add = 0x9100_0000 | rn(owrd) << 5 | rd(owrd);
                        expect_word(set_field(add, 10, 12, sa & 0xfff), "ADD Xt, Xn, #lo12(S + A) (relaxed)");
                    }
                } else {
                    how = How::GotLoad;
                    let e = entry();
                    if page_insn {
                        expect_word(set_adr(owrd, (page(e) - page(p)) >> 12), "Page(G(GDAT(S+A))) - Page(P)");
                    } else {
                        expect_word(set_field(owrd, 10, 12, (e & 0xfff) >> 3), "G(GDAT(S+A))[11:3]");
                    }
                }
            }
            elf::R_AARCH64_GOT_LD_PREL19 => {
                how = How::GotLoad;
                let x = entry() - p;
                assert!(branch_fits(x, 19), "{what}: GOT entry beyond ±1 MiB");
                expect_word(set_field(owrd, 5, 19, x >> 2), "G(GDAT(S+A)) - P");
            }
            elf::R_AARCH64_LD64_GOTPAGE_LO15 | elf::R_AARCH64_LD64_GOTOFF_LO15 => {
                how = How::GotLoad;
                let x = if r_type == elf::R_AARCH64_LD64_GOTPAGE_LO15 {
                    entry() - page(got_base())
                } else {
                    entry() - got_base()
                };
                assert!((0..1 << 15).contains(&x) && x & 7 == 0, "{what}: GOT offset {x:#x} does not fit");
                expect_word(set_field(owrd, 10, 12, x >> 3), "G(GDAT(S+A)) - (Page(GOT) | GOT), [14:3]");
            }
            other => panic!("{what}: relocation type {other} is not modelled"),
        }
        Checked {
            file: file.to_string(),
            section: sec_name.to_string(),
            offset,
            r_type,
            target: target_name,
            how,
            stub_kind,
        }
    }

    /// Checks every relocation and every untouched byte of every kept
    /// allocated section (TLS sections aside: the link keeps no TLS yet).
    pub fn check_all(&self) -> Vec<Checked> {
        let mut out = Vec::new();
        for (i, (file, obj)) in self.objs.iter().enumerate() {
            for section in obj.sections() {
                if !is_alloc(&section) || is_tls(&section) {
                    continue;
                }
                let name = section.name().unwrap().to_string();
                if self.dropped.contains(&(i, section.index())) {
                    assert!(self.dump.section(file, &name).is_none(), "[{}] {file} {name}: dropped", self.tag);
                    continue;
                }
                let size = section.size();
                if size == 0 {
                    continue;
                }
                let (base, dsize) = self.section_addr(i, section.index());
                assert_eq!(dsize, size, "[{}] {file} {name}: size in the dump", self.tag);
                let align = section.align().max(1);
                assert_eq!(base % align, 0, "[{}] {file} {name} at {base:#x} not aligned to {align}", self.tag);
                let orig: Vec<u8> =
                    if is_nobits(&section) { vec![0; size as usize] } else { section.data().unwrap().to_vec() };
                let relaxed = self.relaxed_classes(i, &section, &orig);
                let mut touched = vec![false; size as usize];
                for (offset, rel) in section.relocations() {
                    let rec = self.check_one(i, &name, base, &orig, offset, &rel, &relaxed);
                    let at = offset as usize;
                    touched[at..at + field_width(rec.r_type)].fill(true);
                    out.push(rec);
                }
                let what = format!("[{}] {file} {name}", self.tag);
                let now = self.dump.bytes(base, size as usize, &what);
                let bad: Vec<String> = (0..size as usize)
                    .filter(|k| !touched[*k] && now[*k] != orig[*k])
                    .take(8)
                    .map(|k| format!("+{k:#x}: {:02x} (object: {:02x})", now[k], orig[k]))
                    .collect();
                assert!(bad.is_empty(), "{what}: bytes no relocation touches differ: {bad:?}");
            }
        }
        out
    }

    /// Every symbol an object defines is listed for its file at the address
    /// the objects imply, with its size and attributes.
    pub fn check_symbols(&self) {
        for (i, (file, obj)) in self.objs.iter().enumerate() {
            for sym in obj.symbols() {
                let name = match sym.name() {
                    Ok(n) if !n.is_empty() => n,
                    _ => continue,
                };
                if matches!(sym.kind(), SymbolKind::Section | SymbolKind::File | SymbolKind::Tls)
                    || sym.is_undefined()
                    || name.starts_with("$x")
                    || name.starts_with("$d")
                {
                    continue;
                }
                if let SymbolSection::Section(sec) = sym.section() {
                    if self.dropped.contains(&(i, sec)) {
                        continue;
                    }
                    let s = obj.section_by_index(sec).unwrap();
                    if is_tls(&s) || !is_alloc(&s) {
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
                if listed.is_empty() && sym.is_local() {
                    // Locals in dead-stripped sections are not listed.
                    if let SymbolSection::Section(sec) = sym.section() {
                        let sname = self.section_name(i, sec);
                        if self.dump.section(file, &sname).is_none() {
                            continue;
                        }
                    }
                }
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
                } else if matches!(st_other & 3, elf::STV_HIDDEN | elf::STV_INTERNAL) {
                    "hidden"
                } else {
                    "default"
                };
                assert_eq!(d.scope, scope, "{what}: scope");
                if !sym.is_local() {
                    assert_eq!(d.linkage, if weak { "weak" } else { "strong" }, "{what}: linkage");
                }
                match sym.section() {
                    SymbolSection::Absolute => assert_eq!(d.kind, "absolute", "{what}: kind"),
                    SymbolSection::Common => assert!(d.kind == "common" || d.kind == "defined", "{what}: kind"),
                    _ => assert_eq!(d.kind, "defined", "{what}: kind"),
                }
            }
        }
        for (name, value) in &self.abs {
            assert!(
                self.dump.symbols.iter().any(|s| s.name == *name && s.kind == "absolute" && s.address == *value),
                "[{}] --abs {name} not listed as absolute at {value:#x}",
                self.tag
            );
        }
    }
}

/// Every `sections`, `stubs` and `got` entry lies inside `memory`, and
/// every stub and GOT entry points where its target is.
pub fn check_coverage(tag: &str, d: &Dump) {
    for s in &d.sections {
        d.bytes(s.address, s.size as usize, &format!("[{tag}] section {} of {}", s.name, s.file));
    }
    for e in d.stubs.iter().chain(d.got.iter()) {
        d.bytes(e.address, e.size as usize, &format!("[{tag}] entry for {} of {}", e.target, e.file));
    }
    for e in &d.got {
        assert_eq!(e.size, 8, "[{tag}] GOT entries are 8 bytes");
        assert_eq!(e.address % 8, 0, "[{tag}] GOT entry {:#x} misaligned", e.address);
    }
}

pub fn assert_how(recs: &[Checked], file: &str, r_type: u32, target: &str, how: How) {
    let found: Vec<&Checked> =
        recs.iter().filter(|r| r.file == file && r.r_type == r_type && r.target == target).collect();
    assert!(!found.is_empty(), "no {} against {target} in {file} was checked", type_name(r_type));
    for r in found {
        assert_eq!(r.how, how, "{file} {}+{:#x} {} -> {target}", r.section, r.offset, type_name(r.r_type));
    }
}

pub fn assert_types(recs: &[Checked], types: &[u32]) {
    let seen: BTreeSet<u32> = recs.iter().map(|r| r.r_type).collect();
    for t in types {
        assert!(seen.contains(t), "{} not checked", type_name(*t));
    }
}
