//! ELF relocatable objects (System V gABI, "Object Files").
//!
//! Reads with `object`'s low-level ELF readers (explicit endian, no
//! copies): one block per allocated section, borrowed from the input;
//! symbols unified by name across the files of a graph; one edge per
//! relocation, mapped by the architecture's table (see [`x86_64`]).

pub mod x86_64;

use crate::arch::Arch;
use crate::error::{Error, Location, Result};
use crate::formats::FileKind;
use crate::graph::{
    BlockId, Content, Edge, FileId, Interner, LinkGraph, Linkage, NameId, Prot, Scope, SectionRole, Symbol, SymbolId,
    SymbolKind,
};
use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::Endianness;

type Header = elf::FileHeader64<Endianness>;

fn malformed(file: &str, detail: impl Into<String>) -> Error {
    Error::Malformed { file: file.to_string(), detail: detail.into() }
}

/// Identifies an ELF file's kind and architecture.
///
/// # Errors
/// Malformed headers, or a class/type/machine we do not link.
pub fn identify(name: &str, data: &[u8]) -> Result<FileKind> {
    if data.get(4) == Some(&elf::ELFCLASS32) {
        return Err(Error::Unsupported { file: name.into(), detail: "32-bit ELF (ELFCLASS32)".into() });
    }
    let hdr = Header::parse(data).map_err(|e| malformed(name, format!("ELF header: {e}")))?;
    let endian = hdr.endian().map_err(|e| malformed(name, format!("ELF header: {e}")))?;
    match hdr.e_type(endian) {
        elf::ET_REL => {}
        elf::ET_DYN => return Ok(FileKind::SharedLibrary),
        t => {
            return Err(Error::Unsupported {
                file: name.into(),
                detail: format!("ELF e_type {t} (only relocatable objects, ET_REL, are linked)"),
            })
        }
    }
    match hdr.e_machine(endian) {
        elf::EM_X86_64 if endian == Endianness::Little => Ok(FileKind::ElfObject(Arch::X86_64)),
        m => Err(Error::Unsupported { file: name.into(), detail: format!("ELF e_machine {m}") }),
    }
}

/// Per-graph state the ELF builder keeps across files: COMDAT group
/// signatures already taken.
#[derive(Default)]
pub struct ElfState {
    comdat_groups: hashbrown::HashSet<NameId>,
}

/// What a symbol table entry became.
#[derive(Copy, Clone)]
enum Mapped {
    Sym(SymbolId),
    /// In a section we do not load (debug, TLS, eh_frame) or a dropped
    /// COMDAT group: referencing it from a loaded section is an error.
    Unloaded(&'static str),
}

fn section_role(name: &[u8], sh_type: u32) -> SectionRole {
    fn prio(rest: &[u8]) -> Option<u16> {
        let s = std::str::from_utf8(rest.strip_prefix(b".")?).ok()?;
        s.parse::<u16>().ok()
    }
    type MakeRole = fn(u16) -> SectionRole;
    let table: [(&[u8], MakeRole); 4] = [
        (b".init_array", SectionRole::InitArray),
        (b".fini_array", SectionRole::FiniArray),
        (b".ctors", SectionRole::Ctors),
        (b".dtors", SectionRole::Dtors),
    ];
    if name == b".preinit_array" || sh_type == elf::SHT_PREINIT_ARRAY {
        return SectionRole::PreinitArray;
    }
    for (prefix, make) in table {
        if let Some(rest) = name.strip_prefix(prefix) {
            if rest.is_empty() {
                return make(65535);
            }
            if let Some(p) = prio(rest) {
                return make(p);
            }
        }
    }
    match sh_type {
        elf::SHT_INIT_ARRAY => SectionRole::InitArray(65535),
        elf::SHT_FINI_ARRAY => SectionRole::FiniArray(65535),
        _ => SectionRole::Regular,
    }
}

/// Adds the ELF relocatable object `data` (named `name` in errors and the
/// dump) to `g`.
///
/// # Errors
/// [`Error::Malformed`] naming the field for anything out of bounds or
/// inconsistent; [`Error::UnsupportedRelocation`] naming section, offset
/// and type; [`Error::DuplicateDefinition`] for a second strong definition
/// of a global.
pub fn build<'a>(
    g: &mut LinkGraph<'a>,
    names: &mut Interner,
    state: &mut ElfState,
    name: String,
    data: &'a [u8],
) -> Result<FileId> {
    let fname = name.as_str();
    let bad = |detail: String| malformed(fname, detail);
    let hdr = Header::parse(data).map_err(|e| bad(format!("ELF header: {e}")))?;
    let endian = hdr.endian().map_err(|e| bad(format!("ELF header: {e}")))?;
    if hdr.e_machine(endian) != elf::EM_X86_64 {
        return Err(Error::Unsupported { file: name, detail: format!("ELF e_machine {}", hdr.e_machine(endian)) });
    }
    let sections = hdr.sections(endian, data).map_err(|e| bad(format!("section headers: {e}")))?;
    let nsec = sections.len();
    let (symtab_index, symtab) = match sections.iter().position(|s| s.sh_type(endian) == elf::SHT_SYMTAB) {
        Some(i) => (
            i,
            sections
                .symbols(endian, data, elf::SHT_SYMTAB)
                .map_err(|e| bad(format!("symbol table (section {i}): {e}")))?,
        ),
        None => (0, Default::default()),
    };
    let sec_name = |i: usize| -> Result<&'a [u8]> {
        let s = sections.section(object::SectionIndex(i)).map_err(|e| bad(format!("section {i}: {e}")))?;
        sections.section_name(endian, s).map_err(|e| bad(format!("section {i} name (sh_name): {e}")))
    };

    let file = g.add_file(name.clone());
    g.files[file.index()].reloc_name = x86_64::reloc_name;

    // COMDAT groups: the first definition of a signature wins; the members
    // of a later group with the same signature are dropped.
    let mut discarded = vec![false; nsec];
    let mut in_group = vec![false; nsec];
    for (i, s) in sections.iter().enumerate() {
        let Some((flag, members)) = s.group(endian, data).map_err(|e| bad(format!("SHT_GROUP section {i}: {e}")))?
        else {
            continue;
        };
        let sig_index = s.sh_info(endian) as usize;
        if s.sh_link(endian) as usize != symtab_index || symtab.is_empty() {
            return Err(bad(format!("SHT_GROUP section {i}: sh_link {} is not the symbol table", s.sh_link(endian))));
        }
        let sig_sym = symtab.symbol(object::SymbolIndex(sig_index)).map_err(|_| {
            bad(format!("SHT_GROUP section {i}: signature symbol index {sig_index} (sh_info) out of range"))
        })?;
        let sig = if sig_sym.st_type() == elf::STT_SECTION {
            sec_name(sig_sym.st_shndx(endian) as usize)?
        } else {
            symtab.symbol_name(endian, sig_sym).map_err(|e| bad(format!("SHT_GROUP section {i} signature: {e}")))?
        };
        let keep = flag & elf::GRP_COMDAT == 0 || state.comdat_groups.insert(names.intern(sig));
        for m in members {
            let idx = m.get(endian) as usize;
            if idx == 0 || idx >= nsec || idx == i {
                return Err(bad(format!("SHT_GROUP section {i}: member section index {idx} out of range")));
            }
            if in_group[idx] {
                return Err(bad(format!("section {idx} is a member of two SHT_GROUP sections")));
            }
            in_group[idx] = true;
            if !keep {
                discarded[idx] = true;
            }
        }
    }

    // Sections: one block per allocated section.
    let mut sec_block: Vec<Option<BlockId>> = vec![None; nsec];
    let mut sec_skip: Vec<&'static str> = vec!["section not loaded"; nsec];
    for (i, s) in sections.iter().enumerate() {
        let flags = s.sh_flags(endian);
        let sh_type = s.sh_type(endian);
        if discarded[i] {
            sec_skip[i] = "section of a discarded COMDAT group";
            continue;
        }
        if flags & u64::from(elf::SHF_ALLOC) == 0 {
            continue;
        }
        if !matches!(
            sh_type,
            elf::SHT_PROGBITS
                | elf::SHT_NOBITS
                | elf::SHT_INIT_ARRAY
                | elf::SHT_FINI_ARRAY
                | elf::SHT_PREINIT_ARRAY
                | elf::SHT_X86_64_UNWIND
        ) {
            continue;
        }
        let sname = sec_name(i)?;
        if sname == b".eh_frame" || sh_type == elf::SHT_X86_64_UNWIND {
            sec_skip[i] = "section .eh_frame (not loaded yet)";
            continue;
        }
        if flags & u64::from(elf::SHF_TLS) != 0 {
            sec_skip[i] = "thread-local section (TLS is not supported yet)";
            continue;
        }
        let align = s.sh_addralign(endian).max(1);
        if !align.is_power_of_two() {
            return Err(bad(format!(
                "section {} has sh_addralign {align}, not a power of two",
                String::from_utf8_lossy(sname)
            )));
        }
        let size = s.sh_size(endian);
        let content = if sh_type == elf::SHT_NOBITS {
            Content::Zero
        } else {
            let bytes = s.data(endian, data).map_err(|_| {
                bad(format!(
                    "section {}: sh_offset {:#x} + sh_size {size:#x} past end of file ({:#x} bytes)",
                    String::from_utf8_lossy(sname),
                    s.sh_offset(endian),
                    data.len()
                ))
            })?;
            Content::Borrowed(bytes)
        };
        if size > u64::from(u32::MAX) {
            return Err(bad(format!("section {} larger than 4 GiB", String::from_utf8_lossy(sname))));
        }
        let prot = if flags & u64::from(elf::SHF_EXECINSTR) != 0 {
            Prot::ReadExec
        } else if flags & u64::from(elf::SHF_WRITE) != 0 {
            Prot::ReadWrite
        } else {
            Prot::Read
        };
        let role = section_role(sname, sh_type);
        let sid = g.add_section(names.intern(sname), file, prot, role);
        if role != SectionRole::Regular || flags & u64::from(elf::SHF_GNU_RETAIN) != 0 {
            g.sections[sid.index()].keep = true;
        }
        sec_block[i] = Some(g.add_block(sid, content, size, align));
    }

    // Symbols.
    let nsym = symtab.len();
    let mut sym_map: Vec<Mapped> = vec![Mapped::Unloaded("null symbol"); nsym];
    for (idx, sym) in symtab.enumerate() {
        let idx = idx.0;
        if idx == 0 {
            continue;
        }
        let st_type = sym.st_type();
        if st_type == elf::STT_FILE {
            continue;
        }
        let shndx = symtab
            .symbol_section(endian, sym, object::SymbolIndex(idx))
            .map_err(|e| bad(format!("symbol {idx}: {e}")))?;
        let raw_shndx = sym.st_shndx(endian);
        if st_type == elf::STT_SECTION {
            if let Some(si) = shndx {
                if si.0 >= nsec {
                    return Err(bad(format!("section symbol {idx}: section index {} out of range", si.0)));
                }
                sym_map[idx] = match sec_block[si.0] {
                    Some(b) => Mapped::Sym(g.add_anonymous(b, 0, file)),
                    None => Mapped::Unloaded(sec_skip[si.0]),
                };
            }
            continue;
        }
        let sname = symtab.symbol_name(endian, sym).map_err(|e| bad(format!("symbol {idx} name (st_name): {e}")))?;
        let bind = sym.st_bind();
        let local = bind == elf::STB_LOCAL;
        let scope = if local {
            Scope::Local
        } else if matches!(sym.st_visibility(), elf::STV_HIDDEN | elf::STV_INTERNAL) {
            Scope::Hidden
        } else {
            Scope::Default
        };
        let linkage = if bind == elf::STB_WEAK { Linkage::Weak } else { Linkage::Strong };
        let callable = st_type == elf::STT_FUNC;
        let value = sym.st_value(endian);
        let size = sym.st_size(endian);
        let name_id = if sname.is_empty() { None } else { Some(names.intern(sname)) };

        let mut def = Symbol {
            name: name_id,
            file,
            block: None,
            value,
            size,
            linkage,
            scope,
            kind: SymbolKind::Defined,
            callable,
            resolved: false,
        };
        match raw_shndx {
            elf::SHN_UNDEF if shndx.is_none() => {
                let Some(n) = name_id else {
                    return Err(bad(format!("symbol {idx}: undefined symbol without a name")));
                };
                if local {
                    return Err(bad(format!(
                        "symbol {idx} ({}): undefined local symbol",
                        String::from_utf8_lossy(sname)
                    )));
                }
                if sname == b"_GLOBAL_OFFSET_TABLE_" {
                    sym_map[idx] = Mapped::Sym(got_base(g, names, file));
                    continue;
                }
                let id = g.global_ref(n, file);
                let s = &mut g.symbols[id.index()];
                if s.kind == SymbolKind::External && linkage == Linkage::Strong {
                    s.linkage = Linkage::Strong;
                }
                sym_map[idx] = Mapped::Sym(id);
                continue;
            }
            elf::SHN_ABS => def.kind = SymbolKind::Absolute,
            // SHN_X86_64_LCOMMON: large common (psABI x86-64 §4.3, medium model).
            elf::SHN_COMMON | 0xff02 => {
                if !value.is_power_of_two() && value != 0 {
                    return Err(bad(format!(
                        "common symbol {}: alignment {value} is not a power of two",
                        String::from_utf8_lossy(sname)
                    )));
                }
                def.kind = SymbolKind::Common;
                def.value = value.max(1);
            }
            _ => {
                let Some(si) = shndx else {
                    return Err(bad(format!("symbol {idx}: reserved section index {raw_shndx:#x}")));
                };
                if si.0 >= nsec {
                    return Err(bad(format!(
                        "symbol {idx} ({}): section index {} out of range",
                        String::from_utf8_lossy(sname),
                        si.0
                    )));
                }
                match sec_block[si.0] {
                    Some(b) => {
                        let bsize = g.blocks[b.index()].size;
                        if value > bsize {
                            return Err(bad(format!(
                                "symbol {} at offset {value:#x} past the end of its section ({bsize:#x} bytes)",
                                String::from_utf8_lossy(sname)
                            )));
                        }
                        def.block = Some(b);
                    }
                    None if discarded[si.0] && !local => {
                        // Defined in a dropped COMDAT group: a reference to
                        // the kept definition.
                        let Some(n) = name_id else { continue };
                        sym_map[idx] = Mapped::Sym(g.global_ref(n, file));
                        continue;
                    }
                    None => {
                        sym_map[idx] = Mapped::Unloaded(sec_skip[si.0]);
                        continue;
                    }
                }
            }
        }
        let id = if local || name_id.is_none() { g.add_symbol(def) } else { define_global(g, names, def)? };
        sym_map[idx] = Mapped::Sym(id);
    }

    // Relocations.
    let mut zero_sym: Option<SymbolId> = None;
    for (ri, rs) in sections.iter().enumerate() {
        let sh_type = rs.sh_type(endian);
        if sh_type != elf::SHT_RELA && sh_type != elf::SHT_REL {
            continue;
        }
        let target = rs.sh_info(endian) as usize;
        if target == 0 || target >= nsec || target == ri {
            return Err(bad(format!("relocation section {ri}: target section {target} (sh_info) out of range")));
        }
        let Some(block) = sec_block[target] else {
            continue;
        };
        if rs.sh_link(endian) as usize != symtab_index || symtab.is_empty() {
            return Err(bad(format!(
                "relocation section {ri}: sh_link {} is not the symbol table",
                rs.sh_link(endian)
            )));
        }
        let tname = sec_name(target)?;
        let loc = |offset: u64| {
            Box::new(Location { file: fname.to_string(), section: String::from_utf8_lossy(tname).into_owned(), offset })
        };
        // Raw (r_offset, r_info type, r_sym, explicit addend).
        let rela_slice;
        let rel_slice;
        let iter: Box<dyn Iterator<Item = (u64, u32, u32, Option<i64>)>> = if sh_type == elf::SHT_RELA {
            rela_slice = rs
                .rela(endian, data)
                .map_err(|e| bad(format!("relocation section {ri}: {e}")))?
                .map(|(r, _)| r)
                .unwrap_or(&[]);
            Box::new(rela_slice.iter().map(|r| {
                (r.r_offset.get(endian), r.r_type(endian, false), r.r_sym(endian, false), Some(r.r_addend.get(endian)))
            }))
        } else {
            rel_slice = rs
                .rel(endian, data)
                .map_err(|e| bad(format!("relocation section {ri}: {e}")))?
                .map(|(r, _)| r)
                .unwrap_or(&[]);
            Box::new(rel_slice.iter().map(|r| (r.r_offset.get(endian), r.r_type(endian), r.r_sym(endian), None)))
        };
        let bsize = g.blocks[block.index()].size;
        let mut edges = std::mem::take(&mut g.blocks[block.index()].edges);
        edges.reserve(iter.size_hint().0);
        for (offset, r_type, r_sym, addend) in iter {
            let mapping = x86_64::map(r_type).map_err(|reason| Error::UnsupportedRelocation {
                at: loc(offset),
                relocation: match u16::try_from(r_type) {
                    Ok(t) => format!("{} ({r_type})", x86_64::reloc_name(t)),
                    Err(_) => format!("type {r_type}"),
                },
                reason,
            })?;
            let width = u64::from(mapping.width);
            if offset.checked_add(width).is_none_or(|end| end > bsize) {
                return Err(bad(format!(
                    "section {}: relocation {} at offset {offset:#x} past the end of the section ({bsize:#x} bytes)",
                    String::from_utf8_lossy(tname),
                    x86_64::reloc_name(r_type as u16)
                )));
            }
            let r_sym = r_sym as usize;
            if r_sym >= nsym.max(1) {
                return Err(bad(format!(
                    "section {}: relocation {} at offset {offset:#x}: symbol index {r_sym} out of range ({nsym} symbols)",
                    String::from_utf8_lossy(tname),
                    x86_64::reloc_name(r_type as u16)
                )));
            }
            let target = match mapping.target {
                x86_64::Target::None if r_sym == 0 => continue,
                x86_64::Target::GotBase => got_base(g, names, file),
                _ if r_sym == 0 => *zero_sym.get_or_insert_with(|| {
                    g.add_symbol(Symbol {
                        name: None,
                        file,
                        block: None,
                        value: 0,
                        size: 0,
                        linkage: Linkage::Strong,
                        scope: Scope::Local,
                        kind: SymbolKind::Absolute,
                        callable: false,
                        resolved: true,
                    })
                }),
                _ => match sym_map[r_sym] {
                    Mapped::Sym(s) => s,
                    Mapped::Unloaded(why) => {
                        return Err(Error::UnsupportedRelocation {
                            at: loc(offset),
                            relocation: x86_64::reloc_name(r_type as u16).into_owned(),
                            reason: if why == "section of a discarded COMDAT group" {
                                "refers to a local symbol of a discarded COMDAT group"
                            } else {
                                why
                            },
                        })
                    }
                },
            };
            if mapping.target == x86_64::Target::SymbolNeedsGot {
                got_base(g, names, file);
            }
            let addend = match addend {
                Some(a) => a,
                None => {
                    implicit_addend(g.blocks[block.index()].bytes(), offset as usize, mapping.width, mapping.signed)
                }
            };
            edges.push(Edge { offset: offset as u32, target, kind: mapping.kind, origin: r_type as u16, addend });
        }
        g.blocks[block.index()].edges = edges;
    }
    Ok(file)
}

fn implicit_addend(bytes: Option<&[u8]>, at: usize, width: u8, signed: bool) -> i64 {
    let Some(b) = bytes else { return 0 };
    let mut raw = [0u8; 8];
    let w = width as usize;
    let Some(src) = b.get(at..at + w) else {
        return 0;
    };
    raw[..w].copy_from_slice(src);
    let v = u64::from_le_bytes(raw);
    if signed && w < 8 && w > 0 {
        let shift = 64 - 8 * w as u32;
        ((v << shift) as i64) >> shift
    } else {
        v as i64
    }
}

/// The file's `_GLOBAL_OFFSET_TABLE_` symbol (created on first use; the
/// architecture's GOT pass defines it).
fn got_base(g: &mut LinkGraph<'_>, names: &mut Interner, file: FileId) -> SymbolId {
    if let Some(s) = g.files[file.index()].got_base {
        return s;
    }
    let s = g.add_symbol(Symbol {
        name: Some(names.intern(b"_GLOBAL_OFFSET_TABLE_")),
        file,
        block: None,
        value: 0,
        size: 0,
        linkage: Linkage::Strong,
        scope: Scope::Local,
        kind: SymbolKind::External,
        callable: false,
        resolved: false,
    });
    g.files[file.index()].got_base = Some(s);
    s
}

/// Enters a non-local definition, applying the strong/weak/common rules
/// against what the graph already has under that name.
///
/// # Errors
/// [`Error::DuplicateDefinition`] for two strong definitions.
pub fn define_global(g: &mut LinkGraph<'_>, names: &Interner, def: Symbol) -> Result<SymbolId> {
    let name = def.name.expect("global definitions are named");
    let Some(&id) = g.globals.get(&name) else {
        let id = g.add_symbol(def);
        g.globals.insert(name, id);
        return Ok(id);
    };
    let ex = g.symbols[id.index()].clone();
    let replace = match (ex.kind, def.kind) {
        (SymbolKind::External, _) => true,
        (SymbolKind::Common, SymbolKind::Common) => {
            let (size, align) = (ex.size.max(def.size), ex.value.max(def.value));
            let s = &mut g.symbols[id.index()];
            s.size = size;
            s.value = align;
            false
        }
        (SymbolKind::Common, _) => true,
        (_, SymbolKind::Common) => false,
        _ => match (ex.linkage, def.linkage) {
            (Linkage::Strong, Linkage::Strong) => {
                return Err(Error::DuplicateDefinition {
                    symbol: names.str(name).into_owned(),
                    first: g.files[ex.file.index()].name.clone(),
                    second: g.files[def.file.index()].name.clone(),
                })
            }
            (Linkage::Weak, Linkage::Strong) => true,
            _ => false,
        },
    };
    if replace {
        let hidden = ex.scope == Scope::Hidden || def.scope == Scope::Hidden;
        let s = &mut g.symbols[id.index()];
        *s = def;
        if hidden {
            s.scope = Scope::Hidden;
        }
    }
    Ok(id)
}
