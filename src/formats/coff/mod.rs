//! COFF relocatable objects for x86-64 and ARM64, regular and `/bigobj`
//! (Microsoft PE/COFF specification, "COFF File Header", "Section Table",
//! "COFF Relocations", "COFF Symbol Table", "Auxiliary Symbol Records",
//! "COMDAT Sections", "The .drectve Section"); relocations mapped in
//! [`x86_64`] and [`aarch64`] onto the architectures' edge kinds.
//!
//! Read with `object`'s low-level COFF readers (`CoffHeader` for both
//! header forms). What becomes of an object:
//! * one block per section, its name kept (`.text$mn`); not loaded:
//!   `IMAGE_SCN_LNK_REMOVE` and `IMAGE_SCN_LNK_INFO` sections (`.drectve`,
//!   `.llvm_addrsig`), `.debug$*`, and discardable sections; `.tls`
//!   sections are refused (no thread-local storage for COFF);
//! * COMDAT sections (`IMAGE_SCN_LNK_COMDAT`) by the selection of their
//!   section definition symbol, among the files of a link, keyed by the
//!   COMDAT symbol's name: `NODUPLICATES` (a second definition is an error),
//!   `ANY` (the first wins), `SAME_SIZE` (the first wins; a different size
//!   is an error), `EXACT_MATCH` (the first wins; different contents are an
//!   error), `LARGEST` (the largest wins), `ASSOCIATIVE` (kept with, and
//!   only with, its associated section). Across links a COMDAT definition
//!   is weak (the session's earlier one is used), but `NODUPLICATES`;
//! * weak externals (`IMAGE_SYM_CLASS_WEAK_EXTERNAL`, search kinds
//!   NOLIBRARY, LIBRARY and ALIAS) and `/alternatename:N=D` directives: when
//!   nothing defines N once every object and archive member is in the link
//!   (LIBRARY: archives are searched for N first), references to N go to
//!   the default D ([`finish`]);
//! * `__imp_NAME` references are served by a pointer slot the file gets
//!   (holding NAME's address); `__ImageBase` is the start of the link's
//!   memory (a zero-size block laid out first), so RVAs
//!   (`IMAGE_REL_*_ADDR32NB`) are offsets from it;
//! * `.pdata` is kept with its functions: each function keeps its entries
//!   alive and nothing else does (`.xdata` follows `.pdata`);
//! * common symbols (an external with section 0 and a value): size the
//!   value, alignment the smallest power of two at least the size, at most
//!   32, or as `-aligncomm:NAME,N` says;
//! * what the MSVC runtime gives compute-only code, when nothing else does
//!   ([`finish`]): `_fltused` (an int) and `__chkstk` (the stack probe, on
//!   x86-64 also under its MinGW names `__chkstk_ms`/`___chkstk_ms`).
//!
//! Errors name file, section, offset and relocation type.

pub mod aarch64;
pub mod x86_64;

use crate::arch::Arch;
use crate::error::{Error, Location, Result};
use crate::formats::elf::{define_global, name_budget, MAX_SIZE};
use crate::formats::{shown, FileKind};
use crate::graph::{
    BlockId, Content, Edge, EdgeKind, FileId, Interner, LinkGraph, Linkage, NameId, Prot, Scope, SectionRole, Symbol,
    SymbolId, SymbolKind,
};
use object::pe;
use object::read::coff::{CoffHeader, ImageSymbol};
use object::LittleEndian as LE;
use std::borrow::Cow;

/// What the B of a relocation's formula is, beyond S and A.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Extra {
    /// Nothing: `S + A` or `S + A - P`.
    None,
    /// `__ImageBase` (RVA), given by an edge of this subtrahend kind.
    ImageBase(EdgeKind),
    /// The start of the target's section, given by an edge of this kind.
    SectionBase(EdgeKind),
    /// The target's 1-based section number is added to the addend.
    SectionIndex,
}

/// How a COFF relocation becomes an edge.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Edge kind.
    pub kind: EdgeKind,
    /// Field width in bytes (0: no field, no edge).
    pub width: u8,
    /// The implicit addend, as the field holds it, adjusted to the kind.
    pub addend: i64,
    /// A second term of the formula.
    pub extra: Extra,
}

/// The architecture of a COFF `Machine`, if linked.
pub fn machine_arch(machine: u16) -> Option<Arch> {
    match machine {
        pe::IMAGE_FILE_MACHINE_AMD64 => Some(Arch::X86_64),
        pe::IMAGE_FILE_MACHINE_ARM64 => Some(Arch::Aarch64),
        _ => None,
    }
}

/// The target triple of a COFF link for `arch` (LLVM's names for the
/// MSVC environment; other architectures keep their Linux triple).
pub fn triple(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86_64-pc-windows-msvc",
        Arch::Aarch64 => "aarch64-pc-windows-msvc",
        a => a.triple(),
    }
}

fn machine_name(m: u16) -> String {
    match m {
        pe::IMAGE_FILE_MACHINE_I386 => "i386 (32-bit x86)".into(),
        pe::IMAGE_FILE_MACHINE_ARMNT => "ARM Thumb-2 (32-bit)".into(),
        pe::IMAGE_FILE_MACHINE_ARM64EC => "ARM64EC".into(),
        pe::IMAGE_FILE_MACHINE_ARM64X => "ARM64X".into(),
        m => format!("machine {m:#06x}"),
    }
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

/// Machines a regular COFF header may name (so arbitrary bytes are not
/// taken for an object).
const KNOWN_MACHINES: [u16; 6] = [
    pe::IMAGE_FILE_MACHINE_AMD64,
    pe::IMAGE_FILE_MACHINE_ARM64,
    pe::IMAGE_FILE_MACHINE_I386,
    pe::IMAGE_FILE_MACHINE_ARMNT,
    pe::IMAGE_FILE_MACHINE_ARM64EC,
    pe::IMAGE_FILE_MACHINE_ARM64X,
];

fn is_anon_header(d: &[u8]) -> bool {
    u16_at(d, 0) == Some(0) && u16_at(d, 2) == Some(0xffff)
}

fn is_bigobj(d: &[u8]) -> bool {
    is_anon_header(d)
        && u16_at(d, 4).is_some_and(|v| v >= 2)
        && d.get(12..28) == Some(&pe::ANON_OBJECT_HEADER_BIGOBJ_CLASS_ID.0[..])
}

/// True when `data` starts like a COFF object: a regular header naming a
/// known machine with no optional header, or an anonymous (`/bigobj` or
/// import) header.
pub fn is_coff(data: &[u8]) -> bool {
    if is_anon_header(data) {
        return true;
    }
    data.len() >= 20 && u16_at(data, 0).is_some_and(|m| KNOWN_MACHINES.contains(&m)) && u16_at(data, 16) == Some(0)
}

fn malformed(file: &str, detail: impl Into<String>) -> Error {
    Error::Malformed { file: file.to_string(), detail: detail.into() }
}

fn unsupported(file: &str, detail: impl Into<String>) -> Error {
    Error::Unsupported { file: file.to_string(), detail: detail.into() }
}

/// Identifies a COFF object's architecture.
///
/// # Errors
/// [`Error::Unsupported`] for import objects and machines not linked,
/// [`Error::Malformed`] for a truncated header.
pub fn identify(name: &str, data: &[u8]) -> Result<FileKind> {
    let machine = if is_anon_header(data) {
        if !is_bigobj(data) {
            return Err(unsupported(
                name,
                "COFF short import object (an import library member): DLL imports are not linked",
            ));
        }
        u16_at(data, 6).ok_or_else(|| malformed(name, "bigobj header truncated"))?
    } else {
        u16_at(data, 0).ok_or_else(|| malformed(name, "COFF header truncated"))?
    };
    match machine_arch(machine) {
        Some(a) => Ok(FileKind::CoffObject(a)),
        None => Err(unsupported(name, format!("COFF {}", machine_name(machine)))),
    }
}

/// A COMDAT definition kept in this link.
struct Kept {
    selection: u8,
    block: BlockId,
    size: u64,
}

/// A name that, left undefined, becomes another symbol.
struct Alias {
    name: NameId,
    default: AliasTarget,
    /// `/alternatename` or a weak external's search kind, for messages.
    #[allow(dead_code)]
    what: &'static str,
}

enum AliasTarget {
    Symbol(SymbolId),
    Name(NameId),
}

/// Per-link state of the COFF builder: the link's `__ImageBase`, the
/// COMDAT definitions kept so far, and the weak externals and alternate
/// names [`finish`] resolves. Make one per link, hand it to every
/// [`build`] of the link, then to [`finish`].
#[derive(Default)]
pub struct LinkState {
    arch: Option<Arch>,
    image_base: Option<SymbolId>,
    comdats: hashbrown::HashMap<NameId, Kept>,
    aliases: Vec<Alias>,
}

fn origin_name_x86_64(o: u16) -> Cow<'static, str> {
    x86_64::reloc_name(o)
}

fn origin_name_aarch64(o: u16) -> Cow<'static, str> {
    aarch64::reloc_name(o)
}

/// The link's `__ImageBase`: a zero-size block in a kept read-execute
/// section made before any other section of the first COFF file, so the
/// layout puts it at the start of the link's memory.
fn image_base(g: &mut LinkGraph<'_>, names: &mut Interner, state: &mut LinkState, file: FileId) -> SymbolId {
    if let Some(s) = state.image_base {
        return s;
    }
    static NOTHING: [u8; 0] = [];
    let sec = g.add_section(names.intern(b"$__ImageBase"), file, Prot::ReadExec, SectionRole::Regular);
    g.sections[sec.index()].keep = true;
    let b = g.add_block(sec, Content::Borrowed(&NOTHING), 0, 1);
    let s = g.add_symbol(Symbol {
        name: Some(names.intern(b"__ImageBase")),
        file,
        block: Some(b),
        value: 0,
        size: 0,
        linkage: Linkage::Strong,
        scope: Scope::Local,
        kind: SymbolKind::Defined,
        callable: false,
        resolved: false,
        target_flags: 0,
    });
    state.image_base = Some(s);
    s
}

/// Adds the COFF relocatable object `data` (named `name` in errors and the
/// dump) to `g`.
///
/// # Errors
/// [`Error::Malformed`] naming the field for anything out of bounds or
/// inconsistent; [`Error::Unsupported`] for features not linked;
/// [`Error::UnsupportedRelocation`] naming section, offset and type;
/// [`Error::DuplicateDefinition`] for a second strong definition or a
/// COMDAT selection violated.
pub fn build<'a>(
    g: &mut LinkGraph<'a>,
    names: &mut Interner,
    state: &mut LinkState,
    name: String,
    data: &'a [u8],
) -> Result<FileId> {
    let arch = match identify(&name, data)? {
        FileKind::CoffObject(a) => a,
        _ => return Err(unsupported(&name, "not a COFF object")),
    };
    if is_bigobj(data) {
        build_as::<pe::AnonObjectHeaderBigobj>(g, names, state, name, data, arch)
    } else {
        build_as::<pe::ImageFileHeader>(g, names, state, name, data, arch)
    }
}

/// What a symbol table entry became.
#[derive(Copy, Clone)]
enum Mapped {
    Sym(SymbolId),
    Unloaded(&'static str),
}

/// The fate of a section.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Fate {
    Load,
    Skip(&'static str),
    /// A COMDAT section whose definition another file gives.
    Dropped,
}

/// Per-section facts from its definition symbol's auxiliary record.
#[derive(Copy, Clone, Default)]
struct Aux {
    selection: u8,
    associated: u32,
    checksum: u32,
    /// Index of the COMDAT symbol (the first symbol of the section after
    /// its definition symbol).
    comdat_sym: Option<usize>,
}

/// Directives of `.drectve` that matter here.
#[derive(Default)]
struct Directives {
    alternate: Vec<(Vec<u8>, Vec<u8>)>,
    aligncomm: Vec<(Vec<u8>, u32)>,
    include: Vec<Vec<u8>>,
}

/// Splits `.drectve` text into its options (whitespace separated, double
/// quotes group) and keeps `/alternatename:N=D`, `-aligncomm:N,A` and
/// `/include:N` (case-insensitive, `/` or `-`).
fn parse_directives(text: &[u8], out: &mut Directives) {
    let mut args: Vec<Vec<u8>> = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    let mut quoted = false;
    for &c in text {
        match c {
            b'"' => {
                quoted = !quoted;
                cur.get_or_insert_with(Vec::new);
            }
            c if c.is_ascii_whitespace() && !quoted => {
                if let Some(a) = cur.take() {
                    args.push(a);
                }
            }
            0 => {}
            c => cur.get_or_insert_with(Vec::new).push(c),
        }
    }
    args.extend(cur);
    for a in args {
        let Some(body) = a.strip_prefix(b"/").or_else(|| a.strip_prefix(b"-")) else { continue };
        let Some(colon) = body.iter().position(|&c| c == b':') else { continue };
        let (opt, val) = (body[..colon].to_ascii_lowercase(), &body[colon + 1..]);
        match opt.as_slice() {
            b"alternatename" => {
                if let Some(eq) = val.iter().position(|&c| c == b'=') {
                    out.alternate.push((val[..eq].to_vec(), val[eq + 1..].to_vec()));
                }
            }
            b"aligncomm" => {
                if let Some(comma) = val.iter().rposition(|&c| c == b',') {
                    if let Some(n) = std::str::from_utf8(&val[comma + 1..]).ok().and_then(|s| s.parse::<u32>().ok()) {
                        out.aligncomm.push((val[..comma].to_vec(), n.min(31)));
                    }
                }
            }
            b"include" => out.include.push(val.to_vec()),
            _ => {}
        }
    }
}

fn build_as<'a, Coff: CoffHeader>(
    g: &mut LinkGraph<'a>,
    names: &mut Interner,
    state: &mut LinkState,
    name: String,
    data: &'a [u8],
    arch: Arch,
) -> Result<FileId> {
    let fname = name.clone();
    let bad = |d: String| malformed(&fname, d);
    let mut offset = 0u64;
    let header = Coff::parse(data, &mut offset).map_err(|e| bad(format!("COFF header: {e}")))?;
    if !Coff::is_type_bigobj() && u16_at(data, 16) != Some(0) {
        return Err(unsupported(&name, "a COFF image (optional header present), not an object"));
    }
    let sections = header.sections(data, offset).map_err(|e| bad(format!("section table: {e}")))?;
    let symtab = header.symbols(data).map_err(|e| bad(format!("symbol table: {e}")))?;
    let strings = symtab.strings();
    let nsec = sections.len();
    let nsym = symtab.len();
    if state.arch.is_some_and(|a| a != arch) {
        return Err(unsupported(&name, "COFF objects of two architectures in one link"));
    }
    state.arch = Some(arch);
    let file = g.add_file(name.clone());
    g.files[file.index()].reloc_name = match arch {
        Arch::Aarch64 => origin_name_aarch64,
        _ => origin_name_x86_64,
    };
    g.files[file.index()].container = crate::graph::Container::Coff;
    let image_base_sym = image_base(g, names, state, file);

    // Section names and headers. Every name read (sections, COMDAT and
    // other symbols) is budgeted like the ELF reader's: many headers naming
    // different suffixes of one long string would otherwise intern memory
    // quadratic in the file's size.
    let mut budget = name_budget(data.len());
    let over_budget = |what: String| bad(format!("{what}: names read so far exceed {} bytes", name_budget(data.len())));
    let headers: Vec<&'a pe::ImageSectionHeader> = sections.iter().collect();
    let mut sec_names: Vec<&'a [u8]> = Vec::with_capacity(nsec);
    for (i, h) in headers.iter().enumerate() {
        let n = h.name(strings).map_err(|e| bad(format!("section {}: name: {e}", i + 1)))?;
        budget = budget.checked_sub(n.len() as u64 + 1).ok_or_else(|| over_budget(format!("section {}", i + 1)))?;
        sec_names.push(n);
    }
    let label = |i: usize| -> String { shown(sec_names[i]) };

    // Section definition symbols: selection, association, COMDAT symbol.
    let mut aux = vec![Aux::default(); nsec];
    let mut last_def: Option<usize> = None;
    for (idx, sym) in symtab.iter() {
        let sn = sym.section_number();
        if sym.has_aux_section() && sn > 0 && sym.value() == 0 {
            let si = sn as usize - 1;
            if si >= nsec {
                return Err(bad(format!("symbol {}: section number {sn} out of range ({nsec} sections)", idx.0)));
            }
            let a = symtab.aux_section(idx).map_err(|e| bad(format!("symbol {}: aux section record: {e}", idx.0)))?;
            let mut number = u32::from(a.number.get(LE));
            if Coff::is_type_bigobj() {
                number |= u32::from(a.high_number.get(LE)) << 16;
            }
            aux[si].selection = a.selection;
            aux[si].associated = number;
            aux[si].checksum = a.check_sum.get(LE);
            last_def = Some(si);
            continue;
        }
        if let (Some(si), true) = (last_def, sn > 0) {
            if sn as usize - 1 == si && aux[si].comdat_sym.is_none() {
                aux[si].comdat_sym = Some(idx.0);
            }
        }
        last_def = None;
    }

    // Which sections load.
    let mut fate = vec![Fate::Load; nsec];
    for i in 0..nsec {
        let h = headers[i];
        let ch = h.characteristics.get(LE);
        let n = sec_names[i];
        fate[i] = if ch & (pe::IMAGE_SCN_LNK_REMOVE | pe::IMAGE_SCN_LNK_INFO) != 0 {
            Fate::Skip("section not loaded (IMAGE_SCN_LNK_REMOVE or IMAGE_SCN_LNK_INFO)")
        } else if n.starts_with(b".debug") {
            Fate::Skip("debug section, not loaded")
        } else if n == b".tls" || n.starts_with(b".tls$") {
            return Err(unsupported(
                &name,
                format!("section {} ({}): thread-local storage (.tls) is not supported for COFF", i + 1, label(i)),
            ));
        } else if ch & pe::IMAGE_SCN_MEM_DISCARDABLE != 0 {
            Fate::Skip("discardable section, not loaded")
        } else {
            Fate::Load
        };
    }

    // COMDAT selection (non-associative first, then associative).
    let mut kept_leader: Vec<Option<NameId>> = vec![None; nsec];
    let mut largest_over: hashbrown::HashMap<NameId, usize> = hashbrown::HashMap::new();
    for i in 0..nsec {
        let ch = headers[i].characteristics.get(LE);
        if ch & pe::IMAGE_SCN_LNK_COMDAT == 0 || fate[i] != Fate::Load {
            continue;
        }
        let sel = aux[i].selection;
        if sel == pe::IMAGE_COMDAT_SELECT_ASSOCIATIVE {
            continue;
        }
        let Some(ci) = aux[i].comdat_sym else {
            return Err(bad(format!("COMDAT section {} ({}) has no COMDAT symbol", i + 1, label(i))));
        };
        let csym = symtab.symbol(object::SymbolIndex(ci)).map_err(|e| bad(format!("symbol {ci}: {e}")))?;
        if csym.storage_class() != pe::IMAGE_SYM_CLASS_EXTERNAL {
            continue; // a static COMDAT symbol: nothing to select against
        }
        let cname = csym.name(strings).map_err(|e| bad(format!("symbol {ci}: name: {e}")))?;
        budget = budget.checked_sub(cname.len() as u64 + 1).ok_or_else(|| over_budget(format!("symbol {ci}")))?;
        let n = names.intern(cname);
        let size = u64::from(headers[i].size_of_raw_data.get(LE));
        let sname = || shown(cname);
        let dup = |why: &str| Error::DuplicateDefinition {
            symbol: format!("{} ({why})", sname()),
            first: "an earlier object of this link".into(),
            second: name.clone(),
        };
        let Some(k) = state.comdats.get(&n) else {
            kept_leader[i] = Some(n);
            continue;
        };
        let ksel = k.selection;
        match sel {
            pe::IMAGE_COMDAT_SELECT_NODUPLICATES => return Err(dup("COMDAT selection NODUPLICATES")),
            _ if ksel == pe::IMAGE_COMDAT_SELECT_NODUPLICATES => return Err(dup("COMDAT selection NODUPLICATES")),
            pe::IMAGE_COMDAT_SELECT_ANY => fate[i] = Fate::Dropped,
            pe::IMAGE_COMDAT_SELECT_SAME_SIZE => {
                if k.size != size {
                    return Err(dup(&format!("COMDAT selection SAME_SIZE: {size} bytes here, {} before", k.size)));
                }
                fate[i] = Fate::Dropped;
            }
            pe::IMAGE_COMDAT_SELECT_EXACT_MATCH => {
                let mine =
                    headers[i].coff_data(data).map_err(|()| bad(format!("section {}: data out of bounds", i + 1)))?;
                let theirs = g.blocks[k.block.index()].bytes().unwrap_or(&[]);
                if k.size != size || (theirs != mine && !(theirs.is_empty() && mine.iter().all(|&b| b == 0))) {
                    return Err(dup("COMDAT selection EXACT_MATCH: the contents differ"));
                }
                fate[i] = Fate::Dropped;
            }
            pe::IMAGE_COMDAT_SELECT_LARGEST => {
                if size > k.size {
                    largest_over.insert(n, i);
                    kept_leader[i] = Some(n);
                } else {
                    fate[i] = Fate::Dropped;
                }
            }
            s => {
                return Err(unsupported(
                    &name,
                    format!(
                        "section {} ({}): COMDAT selection {s} (IMAGE_COMDAT_SELECT_NEWEST or unknown)",
                        i + 1,
                        label(i)
                    ),
                ))
            }
        }
    }
    // Associative sections follow their section: a chain is walked once,
    // its end's fate given to every section on it (linear in sections).
    let assoc = |i: usize| {
        headers[i].characteristics.get(LE) & pe::IMAGE_SCN_LNK_COMDAT != 0
            && aux[i].selection == pe::IMAGE_COMDAT_SELECT_ASSOCIATIVE
    };
    let mut settled = vec![false; nsec];
    for i in 0..nsec {
        if settled[i] || !assoc(i) {
            continue;
        }
        let mut path = Vec::new();
        let mut j = i;
        let end_fate = loop {
            let a = aux[j].associated as usize;
            if a == 0 || a > nsec || a - 1 == j {
                return Err(bad(format!("section {} ({}): associated section {a} out of range", j + 1, label(j))));
            }
            path.push(j);
            settled[j] = true;
            let next = a - 1;
            if !assoc(next) || settled[next] || path.len() > nsec {
                break fate[next];
            }
            j = next;
        };
        if end_fate == Fate::Dropped {
            for &k in &path {
                if fate[k] == Fate::Load {
                    fate[k] = Fate::Dropped;
                }
            }
        }
    }

    // Blocks.
    let mut sec_block: Vec<Option<BlockId>> = vec![None; nsec];
    for i in 0..nsec {
        if fate[i] != Fate::Load {
            continue;
        }
        let h = headers[i];
        let ch = h.characteristics.get(LE);
        let size = u64::from(h.size_of_raw_data.get(LE));
        if size > MAX_SIZE {
            return Err(bad(format!("section {} ({}): size {size:#x} is larger than 4 GiB", i + 1, label(i))));
        }
        let zero = ch & pe::IMAGE_SCN_CNT_UNINITIALIZED_DATA != 0;
        let content = if zero {
            Content::Zero
        } else {
            let bytes = h.coff_data(data).map_err(|()| {
                bad(format!(
                    "section {} ({}): PointerToRawData {:#x} + SizeOfRawData {size:#x} past the end of the file ({:#x} bytes)",
                    i + 1,
                    label(i),
                    h.pointer_to_raw_data.get(LE),
                    data.len()
                ))
            })?;
            Content::Borrowed(bytes)
        };
        let prot = if ch & (pe::IMAGE_SCN_MEM_EXECUTE | pe::IMAGE_SCN_CNT_CODE) != 0 {
            Prot::ReadExec
        } else if ch & pe::IMAGE_SCN_MEM_WRITE != 0 || zero {
            Prot::ReadWrite
        } else {
            Prot::Read
        };
        let sid = g.add_section(names.intern(sec_names[i]), file, prot, SectionRole::Regular);
        g.sections[sid.index()].input_index = i as u32;
        sec_block[i] = Some(g.add_block(sid, content, size, h.coff_alignment()));
    }

    // .drectve.
    let mut dirs = Directives::default();
    for i in 0..nsec {
        if sec_names[i] == b".drectve" && headers[i].characteristics.get(LE) & pe::IMAGE_SCN_LNK_INFO != 0 {
            let text =
                headers[i].coff_data(data).map_err(|()| bad(format!("section {} (.drectve) out of bounds", i + 1)))?;
            parse_directives(text, &mut dirs);
        }
    }

    // Symbols. `-aligncomm:` by name, the last one for a name winning (a
    // map: a scan of every directive per common symbol was quadratic).
    let aligncomm: hashbrown::HashMap<&[u8], u32> =
        dirs.aligncomm.iter().map(|(n, log)| (n.as_slice(), *log)).collect();
    let mut sym_map: Vec<Mapped> = vec![Mapped::Unloaded("auxiliary symbol record"); nsym];
    let mut weak_externals: Vec<(SymbolId, NameId, usize, u32)> = Vec::new();
    let mut imp_slots: hashbrown::HashMap<NameId, SymbolId> = hashbrown::HashMap::new();
    let mut imp_section = None;
    for (idx, sym) in symtab.iter() {
        let i = idx.0;
        let class = sym.storage_class();
        let sn = sym.section_number();
        if sym.has_aux_section() && sn > 0 && sym.value() == 0 {
            // A section definition symbol: the section's start.
            let si = sn as usize - 1;
            sym_map[i] = match (sec_block[si], fate[si]) {
                (Some(b), _) => Mapped::Sym(g.add_anonymous(b, 0, file)),
                (None, Fate::Dropped) => Mapped::Unloaded("refers to a section of a discarded COMDAT"),
                (None, Fate::Skip(why)) => Mapped::Unloaded(why),
                (None, Fate::Load) => Mapped::Unloaded("section not loaded"),
            };
            continue;
        }
        if matches!(class, pe::IMAGE_SYM_CLASS_FILE | pe::IMAGE_SYM_CLASS_FUNCTION | pe::IMAGE_SYM_CLASS_CLR_TOKEN) {
            sym_map[i] = Mapped::Unloaded("not a linkable symbol");
            continue;
        }
        let raw = sym.name(strings).map_err(|e| bad(format!("symbol {i}: name: {e}")))?;
        budget = budget.checked_sub(raw.len() as u64 + 1).ok_or_else(|| over_budget(format!("symbol {i}")))?;
        let nid = (!raw.is_empty()).then(|| names.intern(raw));
        let show = || shown(raw);
        let external = class == pe::IMAGE_SYM_CLASS_EXTERNAL;
        let function = sym.derived_type() == pe::IMAGE_SYM_DTYPE_FUNCTION;
        match (class, sn) {
            (pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL, 0) => {
                let Some(n) = nid else { return Err(bad(format!("symbol {i}: weak external without a name"))) };
                let w: &pe::ImageAuxSymbolWeak = symtab
                    .get(idx, 1)
                    .map_err(|e| bad(format!("symbol {i} ({}): weak external record: {e}", show())))?;
                let default = w.weak_default_sym_index.get(LE) as usize;
                let search = w.weak_search_type.get(LE);
                if default >= nsym {
                    return Err(bad(format!("symbol {i} ({}): weak default index {default} out of range", show())));
                }
                let id = g.global_ref(n, file);
                if search == u32::from(pe::IMAGE_WEAK_EXTERN_SEARCH_LIBRARY) {
                    let s = &mut g.symbols[id.index()];
                    if s.kind == SymbolKind::External {
                        s.linkage = Linkage::Strong;
                    }
                }
                weak_externals.push((id, n, default, search));
                sym_map[i] = Mapped::Sym(id);
            }
            (pe::IMAGE_SYM_CLASS_EXTERNAL, 0) => {
                let Some(n) = nid else { return Err(bad(format!("symbol {i}: undefined symbol without a name"))) };
                let value = u64::from(sym.value());
                if value != 0 {
                    // A common symbol.
                    if value > MAX_SIZE {
                        return Err(bad(format!(
                            "common symbol {i} ({}): size {value:#x} is larger than 4 GiB",
                            show()
                        )));
                    }
                    let mut align = value.next_power_of_two().min(32);
                    if let Some(&log) = aligncomm.get(raw) {
                        align = align.max(1 << log);
                    }
                    let def = Symbol {
                        name: Some(n),
                        file,
                        block: None,
                        value: align,
                        size: value,
                        linkage: Linkage::Strong,
                        scope: Scope::Default,
                        kind: SymbolKind::Common,
                        callable: false,
                        resolved: false,
                        target_flags: 0,
                    };
                    sym_map[i] = Mapped::Sym(define_global(g, names, def)?);
                    continue;
                }
                if raw == b"__ImageBase" {
                    sym_map[i] = Mapped::Sym(image_base_sym);
                    continue;
                }
                if let Some(target) = raw.strip_prefix(b"__imp_").filter(|t| !t.is_empty()) {
                    // A pointer slot holding the target's address.
                    let slot = match imp_slots.get(&n) {
                        Some(&s) => s,
                        None => {
                            static SLOT: [u8; 8] = [0; 8];
                            let sec = *imp_section.get_or_insert_with(|| {
                                g.add_section(names.intern(b"$__IMP"), file, Prot::Read, SectionRole::Regular)
                            });
                            let b = g.add_block(sec, Content::Borrowed(&SLOT), 8, 8);
                            let t = g.global_ref(names.intern(target), file);
                            let ts = &mut g.symbols[t.index()];
                            if ts.kind == SymbolKind::External {
                                ts.linkage = Linkage::Strong;
                            }
                            let kind = match arch {
                                Arch::Aarch64 => crate::arch::aarch64::edges::POINTER64,
                                _ => crate::arch::x86_64::edges::POINTER64,
                            };
                            g.blocks[b.index()].edges.push(Edge { offset: 0, target: t, kind, origin: 0, addend: 0 });
                            let s = g.add_symbol(Symbol {
                                name: Some(n),
                                file,
                                block: Some(b),
                                value: 0,
                                size: 8,
                                linkage: Linkage::Strong,
                                scope: Scope::Local,
                                kind: SymbolKind::Defined,
                                callable: false,
                                resolved: false,
                                target_flags: 0,
                            });
                            imp_slots.insert(n, s);
                            s
                        }
                    };
                    sym_map[i] = Mapped::Sym(slot);
                    continue;
                }
                let id = g.global_ref(n, file);
                let s = &mut g.symbols[id.index()];
                if s.kind == SymbolKind::External {
                    s.linkage = Linkage::Strong;
                }
                sym_map[i] = Mapped::Sym(id);
            }
            (_, pe::IMAGE_SYM_DEBUG) => sym_map[i] = Mapped::Unloaded("debug symbol"),
            (_, pe::IMAGE_SYM_ABSOLUTE) | (_, 1..) => {
                if !matches!(
                    class,
                    pe::IMAGE_SYM_CLASS_EXTERNAL
                        | pe::IMAGE_SYM_CLASS_STATIC
                        | pe::IMAGE_SYM_CLASS_LABEL
                        | pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL
                ) {
                    sym_map[i] = Mapped::Unloaded("symbol of an unsupported storage class");
                    continue;
                }
                let mut def = Symbol {
                    name: nid,
                    file,
                    block: None,
                    value: u64::from(sym.value()),
                    size: 0,
                    linkage: Linkage::Strong,
                    scope: if external { Scope::Default } else { Scope::Local },
                    kind: SymbolKind::Absolute,
                    callable: false,
                    resolved: false,
                    target_flags: 0,
                };
                if sn > 0 {
                    let si = sn as usize - 1;
                    if si >= nsec {
                        return Err(bad(format!(
                            "symbol {i} ({}): section number {sn} out of range ({nsec} sections)",
                            show()
                        )));
                    }
                    let Some(b) = sec_block[si] else {
                        if fate[si] == Fate::Dropped && external {
                            // Defined in a COMDAT another file gives: its definition.
                            let Some(n) = nid else { continue };
                            sym_map[i] = Mapped::Sym(g.global_ref(n, file));
                            continue;
                        }
                        sym_map[i] = Mapped::Unloaded(match fate[si] {
                            Fate::Dropped => "refers to a section of a discarded COMDAT",
                            Fate::Skip(why) => why,
                            Fate::Load => "section not loaded",
                        });
                        continue;
                    };
                    let bsize = g.blocks[b.index()].size;
                    if def.value > bsize {
                        return Err(bad(format!(
                            "symbol {i} ({}): value {:#x} past the end of section {} ({bsize:#x} bytes)",
                            show(),
                            def.value,
                            label(si)
                        )));
                    }
                    let exec = g.block_section(b).prot == Prot::ReadExec;
                    def.kind = SymbolKind::Defined;
                    def.block = Some(b);
                    def.callable = function || exec;
                    def.size = if aux[si].comdat_sym == Some(i) { bsize } else { 0 };
                    let comdat = headers[si].characteristics.get(LE) & pe::IMAGE_SCN_LNK_COMDAT != 0;
                    if comdat && external && aux[si].selection != pe::IMAGE_COMDAT_SELECT_NODUPLICATES {
                        def.linkage = Linkage::Weak;
                    }
                }
                let id = if !external || nid.is_none() {
                    g.add_symbol(def)
                } else if let Some(n) =
                    nid.filter(|n| largest_over.get(n).is_some_and(|&si| aux[si].comdat_sym == Some(i)))
                {
                    // LARGEST: this definition replaces the smaller one kept before.
                    let id = g.global_ref(n, file);
                    g.symbols[id.index()] = def;
                    id
                } else {
                    define_global(g, names, def)?
                };
                if sn > 0 {
                    let si = sn as usize - 1;
                    if let (Some(n), true) = (kept_leader[si], aux[si].comdat_sym == Some(i)) {
                        let b = sec_block[si].expect("loaded");
                        state
                            .comdats
                            .insert(n, Kept { selection: aux[si].selection, block: b, size: g.blocks[b.index()].size });
                    }
                }
                sym_map[i] = Mapped::Sym(id);
            }
            _ => sym_map[i] = Mapped::Unloaded("symbol of an unsupported storage class"),
        }
    }
    for (id, n, default, search) in weak_externals {
        let Mapped::Sym(d) = sym_map[default] else {
            return Err(bad(format!("weak external {}: its default symbol {default} is not loaded", names.str(n))));
        };
        let what = match search as u16 {
            pe::IMAGE_WEAK_EXTERN_SEARCH_NOLIBRARY => "weak external (NOLIBRARY)",
            pe::IMAGE_WEAK_EXTERN_SEARCH_LIBRARY => "weak external (LIBRARY)",
            _ => "weak external (ALIAS)",
        };
        debug_assert!(g.globals.get(&n) == Some(&id));
        state.aliases.push(Alias { name: n, default: AliasTarget::Symbol(d), what });
    }
    for (n, d) in &dirs.alternate {
        state.aliases.push(Alias {
            name: names.intern(n),
            default: AliasTarget::Name(names.intern(d)),
            what: "/alternatename",
        });
    }
    for n in &dirs.include {
        let id = g.global_ref(names.intern(n), file);
        let s = &mut g.symbols[id.index()];
        if s.kind == SymbolKind::External {
            s.linkage = Linkage::Strong;
        }
    }
    // Associated sections live with their leaders.
    for i in 0..nsec {
        let (Some(b), true) = (sec_block[i], aux[i].selection == pe::IMAGE_COMDAT_SELECT_ASSOCIATIVE) else { continue };
        let ch = headers[i].characteristics.get(LE);
        if ch & pe::IMAGE_SCN_LNK_COMDAT == 0 {
            continue;
        }
        let Some(leader) = sec_block[aux[i].associated as usize - 1] else { continue };
        let me = g.add_anonymous(b, 0, file);
        g.blocks[leader.index()].edges.push(Edge {
            offset: 0,
            target: me,
            kind: EdgeKind::KEEP_ALIVE,
            origin: 0,
            addend: 0,
        });
    }

    // Relocations.
    let rname = |t: u16| match arch {
        Arch::Aarch64 => aarch64::reloc_name(t).into_owned(),
        _ => x86_64::reloc_name(t).into_owned(),
    };
    let mut section_base: Vec<Option<SymbolId>> = vec![None; g.blocks.len().max(1)];
    for i in 0..nsec {
        let Some(b) = sec_block[i] else { continue };
        let h = headers[i];
        let relocs =
            h.coff_relocations(data).map_err(|e| bad(format!("section {} ({}): relocations: {e}", i + 1, label(i))))?;
        if relocs.is_empty() {
            continue;
        }
        let bytes: &'a [u8] = match g.blocks[b.index()].content {
            Content::Borrowed(bytes) => bytes,
            _ => return Err(bad(format!("section {} ({}): relocations in uninitialized data", i + 1, label(i)))),
        };
        let size = bytes.len() as u64;
        let va = u64::from(h.virtual_address.get(LE));
        let lab = label(i);
        let mut edges = std::mem::take(&mut g.blocks[b.index()].edges);
        for r in relocs {
            let t = r.typ.get(LE);
            let at = u64::from(r.virtual_address.get(LE)).wrapping_sub(va);
            let loc = || Box::new(Location { file: name.clone(), section: lab.clone(), offset: at });
            let width = match arch {
                Arch::Aarch64 => aarch64::width(t),
                _ => x86_64::width(t),
            }
            .map_err(|reason| Error::UnsupportedRelocation { at: loc(), relocation: rname(t), reason })?;
            if width == 0 {
                continue;
            }
            if at.checked_add(u64::from(width)).is_none_or(|e| e > size) {
                return Err(bad(format!(
                    "section {lab}: relocation {} at offset {at:#x} past the end of the section ({size:#x} bytes)",
                    rname(t)
                )));
            }
            let plan = match arch {
                Arch::Aarch64 => aarch64::map(t, bytes, at as usize),
                _ => x86_64::map(t, bytes, at as usize),
            }
            .map_err(|reason| Error::UnsupportedRelocation { at: loc(), relocation: rname(t), reason })?;
            let si = r.symbol().0;
            let target = match sym_map.get(si) {
                Some(Mapped::Sym(s)) => *s,
                Some(Mapped::Unloaded(why)) => {
                    return Err(Error::UnsupportedRelocation { at: loc(), relocation: rname(t), reason: why })
                }
                None => {
                    return Err(bad(format!(
                    "section {lab}: relocation {} at offset {at:#x}: symbol index {si} out of range ({nsym} symbols)",
                    rname(t)
                )))
                }
            };
            let mut addend = plan.addend;
            let offset = at as u32;
            let mut second = None;
            let target_block = {
                let s = &g.symbols[target.index()];
                s.block.filter(|_| s.kind == SymbolKind::Defined)
            };
            match plan.extra {
                Extra::None => {}
                Extra::ImageBase(sub) => {
                    second = Some(Edge { offset, target: image_base_sym, kind: sub, origin: t, addend: 0 });
                }
                Extra::SectionBase(sub) => {
                    let Some(tb) = target_block else {
                        return Err(Error::UnsupportedRelocation {
                            at: loc(),
                            relocation: rname(t),
                            reason: "section-relative relocation against a symbol this object does not define",
                        });
                    };
                    if section_base.len() <= tb.index() {
                        section_base.resize(tb.index() + 1, None);
                    }
                    let base = *section_base[tb.index()].get_or_insert_with(|| g.add_anonymous(tb, 0, file));
                    second = Some(Edge { offset, target: base, kind: sub, origin: t, addend: 0 });
                }
                Extra::SectionIndex => {
                    let sec_no = target_block.and_then(|tb| {
                        let input = g.block_section(tb).input_index;
                        (g.block_section(tb).file == file && input != u32::MAX).then_some(i64::from(input) + 1)
                    });
                    let Some(n) = sec_no else {
                        return Err(Error::UnsupportedRelocation {
                            at: loc(),
                            relocation: rname(t),
                            reason: "section index relocation against a symbol this object does not define",
                        });
                    };
                    addend += n;
                }
            }
            edges.push(Edge { offset, target, kind: plan.kind, origin: t, addend });
            edges.extend(second);
        }
        g.blocks[b.index()].edges = edges;
    }

    // .pdata lives through its functions.
    for i in 0..nsec {
        let Some(b) = sec_block[i] else { continue };
        if sec_names[i] != b".pdata" && !sec_names[i].starts_with(b".pdata$") {
            continue;
        }
        let mut targets: Vec<BlockId> = g.blocks[b.index()]
            .edges
            .iter()
            .filter(|e| e.target != image_base_sym && e.kind != EdgeKind::KEEP_ALIVE)
            .filter_map(|e| {
                let s = &g.symbols[e.target.index()];
                s.block.filter(|&tb| s.kind == SymbolKind::Defined && g.block_section(tb).prot == Prot::ReadExec)
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        // One edge per function block (`me` is new, so no block has one
        // yet): deduplicated here, not by scanning each block's edges per
        // .pdata relocation, which was quadratic.
        targets.sort_unstable();
        targets.dedup();
        let me = g.add_anonymous(b, 0, file);
        for tb in targets {
            g.blocks[tb.index()].edges.push(Edge {
                offset: 0,
                target: me,
                kind: EdgeKind::KEEP_ALIVE,
                origin: 0,
                addend: 0,
            });
        }
    }
    Ok(file)
}

/// `__chkstk` for x86-64 (the probe of compiler-rt's `chkstk.S`): RAX is
/// the allocation; touches each page from the caller's RSP down; keeps RCX
/// and RAX; moving RSP is the caller's business.
pub const CHKSTK_X86_64: [u8; 48] = [
    0x51, // push %rcx
    0x50, // push %rax
    0x48, 0x3d, 0x00, 0x10, 0x00, 0x00, // cmp $0x1000,%rax
    0x48, 0x8d, 0x4c, 0x24, 0x18, // lea 24(%rsp),%rcx
    0x72, 0x18, // jb 1f
    0x48, 0x81, 0xe9, 0x00, 0x10, 0x00, 0x00, // 2: sub $0x1000,%rcx
    0x48, 0x85, 0x09, // test %rcx,(%rcx)
    0x48, 0x2d, 0x00, 0x10, 0x00, 0x00, // sub $0x1000,%rax
    0x48, 0x3d, 0x00, 0x10, 0x00, 0x00, // cmp $0x1000,%rax
    0x77, 0xe8, // ja 2b
    0x48, 0x29, 0xc1, // 1: sub %rax,%rcx
    0x48, 0x85, 0x09, // test %rcx,(%rcx)
    0x58, // pop %rax
    0x59, // pop %rcx
    0xc3, // ret
];

/// `__chkstk` for ARM64 (compiler-rt's `chkstk.S`): X15 is the allocation
/// in 16-byte units; touches each page below SP; clobbers only X16, X17.
pub const CHKSTK_AARCH64: [u8; 28] = [
    0xf0, 0xed, 0x7c, 0xd3, // lsl x16, x15, #4
    0xf1, 0x03, 0x00, 0x91, // mov x17, sp
    0x31, 0x06, 0x40, 0xd1, // 1: sub x17, x17, #1, lsl #12
    0x10, 0x06, 0x40, 0xf1, // subs x16, x16, #1, lsl #12
    0x3f, 0x02, 0x40, 0xf9, // ldr xzr, [x17]
    0xac, 0xff, 0xff, 0x54, // b.gt 1b
    0xc0, 0x03, 0x5f, 0xd6, // ret
];

/// `_fltused`'s value in the MSVC runtime.
static FLTUSED: [u8; 4] = 0x9875u32.to_le_bytes();

/// Finishes the COFF side of a link, once every object and archive member
/// is in the graph: resolves weak externals and `/alternatename`s whose
/// name nothing defines (`defined_elsewhere` says whether the session
/// already does: then the name stays) by pointing their references at the
/// default, and defines `_fltused` and `__chkstk` when referenced and
/// undefined. Does nothing for links without COFF objects.
pub fn finish(
    g: &mut LinkGraph<'_>,
    names: &mut Interner,
    state: &mut LinkState,
    defined_elsewhere: &dyn Fn(NameId) -> bool,
) {
    let Some(arch) = state.arch else { return };
    let undefined = |g: &LinkGraph<'_>, n: NameId| {
        g.globals.get(&n).map(|&s| g.symbols[s.index()].kind == SymbolKind::External).unwrap_or(false)
            && !defined_elsewhere(n)
    };
    // Aliases, in order; an alias to another alias resolves by repetition.
    let mut retarget: hashbrown::HashMap<SymbolId, SymbolId> = hashbrown::HashMap::new();
    for a in std::mem::take(&mut state.aliases) {
        if !undefined(g, a.name) {
            continue;
        }
        let from = g.globals[&a.name];
        let to = match a.default {
            AliasTarget::Symbol(s) => s,
            AliasTarget::Name(n) => {
                let file = g.symbols[from.index()].file;
                let id = g.global_ref(n, file);
                let s = &mut g.symbols[id.index()];
                if s.kind == SymbolKind::External {
                    s.linkage = Linkage::Strong;
                }
                id
            }
        };
        if from != to {
            retarget.entry(from).or_insert(to);
        }
    }
    if !retarget.is_empty() {
        // Each alias's final default, every chain walked once (following
        // each name to the end of its chain was quadratic in the chain's
        // length); in a cycle, the name where it closes. In symbol order,
        // so a cycle resolves the same way every run.
        let mut starts: Vec<SymbolId> = retarget.keys().copied().collect();
        starts.sort_unstable();
        let mut map: hashbrown::HashMap<SymbolId, SymbolId> = hashbrown::HashMap::with_capacity(starts.len());
        let mut on_path: hashbrown::HashSet<SymbolId> = hashbrown::HashSet::new();
        for start in starts {
            let mut path = Vec::new();
            let mut s = start;
            let end = loop {
                if let Some(&e) = map.get(&s) {
                    break e;
                }
                let Some(&t) = retarget.get(&s) else { break s };
                if !on_path.insert(s) {
                    break s;
                }
                path.push(s);
                s = t;
            };
            for p in path {
                on_path.remove(&p);
                map.insert(p, end);
            }
        }
        for b in g.blocks.iter_mut() {
            for e in b.edges.iter_mut() {
                if let Some(&t) = map.get(&e.target) {
                    e.target = t;
                }
            }
        }
        // The weak name itself now means its default (a lookup of it from
        // the session sees the default's address).
        for (&from, &to) in &map {
            let t = g.symbols[to.index()].clone();
            if t.kind == SymbolKind::Defined || t.kind == SymbolKind::Absolute {
                let s = &mut g.symbols[from.index()];
                s.kind = t.kind;
                s.block = t.block;
                s.value = t.value;
                s.size = t.size;
                s.callable = t.callable;
                s.linkage = Linkage::Weak;
                s.scope = Scope::Hidden;
            }
        }
    }
    // The runtime's pieces.
    let supply = |g: &mut LinkGraph<'_>, names: &mut Interner, sym: &[u8], bytes: &'static [u8], code: bool| {
        let Some(n) = names.get(sym) else { return };
        if !undefined(g, n) {
            return;
        }
        let id = g.globals[&n];
        let file = g.symbols[id.index()].file;
        let (sec_name, prot, align): (&[u8], Prot, u64) =
            if code { (b"$__RUNTIME_CODE", Prot::ReadExec, 16) } else { (b"$__RUNTIME_DATA", Prot::Read, 4) };
        let sec = g.add_section(names.intern(sec_name), file, prot, SectionRole::Regular);
        let b = g.add_block(sec, Content::Borrowed(bytes), bytes.len() as u64, align);
        let s = &mut g.symbols[id.index()];
        s.kind = SymbolKind::Defined;
        s.block = Some(b);
        s.value = 0;
        s.size = bytes.len() as u64;
        s.callable = code;
        s.linkage = Linkage::Weak;
        s.scope = Scope::Hidden;
    };
    supply(g, names, b"_fltused", &FLTUSED, false);
    match arch {
        Arch::Aarch64 => supply(g, names, b"__chkstk", &CHKSTK_AARCH64, true),
        _ => {
            for n in [&b"__chkstk"[..], b"__chkstk_ms", b"___chkstk_ms"] {
                supply(g, names, n, &CHKSTK_X86_64, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives() {
        let mut d = Directives::default();
        parse_directives(b" /alternatename:foo=bar -aligncomm:\"c\",4 /DEFAULTLIB:\"libcmt\" -include:x\0", &mut d);
        assert_eq!(d.alternate, vec![(b"foo".to_vec(), b"bar".to_vec())]);
        assert_eq!(d.aligncomm, vec![(b"c".to_vec(), 4)]);
        assert_eq!(d.include, vec![b"x".to_vec()]);
    }

    #[test]
    fn identify_headers() {
        let mut amd64 = vec![0u8; 20];
        amd64[0..2].copy_from_slice(&0x8664u16.to_le_bytes());
        assert!(is_coff(&amd64));
        assert_eq!(identify("a", &amd64).unwrap(), FileKind::CoffObject(Arch::X86_64));
        let mut i386 = amd64.clone();
        i386[0..2].copy_from_slice(&0x14cu16.to_le_bytes());
        assert!(matches!(identify("a", &i386), Err(Error::Unsupported { .. })));
        let import = [0u8, 0, 0xff, 0xff, 0, 0, 0x64, 0x86];
        assert!(is_coff(&import));
        assert!(matches!(identify("a", &import), Err(Error::Unsupported { .. })));
        let mut image = amd64;
        image[16] = 0xf0;
        assert!(!is_coff(&image));
    }
}
