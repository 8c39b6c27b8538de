//! ELF relocatable objects (System V gABI, "Object Files").
//!
//! Reads with `object`'s low-level ELF readers (explicit endian, no
//! copies): one block per allocated section, borrowed from the input;
//! symbols unified by name across the files of a graph; one edge per
//! relocation, mapped by the architecture's table (see [`x86_64`]).

pub mod aarch64;
pub mod ppc64;
pub mod riscv64;
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

/// The architecture of an ELF `e_machine` in a byte order, if linked.
pub fn machine_arch(machine: u16, endian: Endianness) -> Option<Arch> {
    match (machine, endian) {
        (elf::EM_X86_64, Endianness::Little) => Some(Arch::X86_64),
        (elf::EM_AARCH64, Endianness::Little) => Some(Arch::Aarch64),
        (elf::EM_RISCV, Endianness::Little) => Some(Arch::Riscv64),
        (elf::EM_PPC64, Endianness::Little) => Some(Arch::Ppc64Le),
        (elf::EM_PPC64, Endianness::Big) => Some(Arch::Ppc64Be),
        _ => None,
    }
}

/// How a relocation maps onto the graph (each architecture's table, e.g.
/// [`x86_64::map`], gives one per `r_type`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Edge kind to create.
    pub kind: crate::graph::EdgeKind,
    /// Width of the relocated field in bytes (also the implicit addend's
    /// width in SHT_REL sections); checked against the section size.
    pub width: u8,
    /// Whether an implicit (SHT_REL) addend is sign-extended.
    pub signed: bool,
    /// What the edge targets.
    pub target: Target,
}

/// The target of the edge a relocation becomes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The relocation's symbol.
    Symbol,
    /// The symbol, and the file needs a GOT base (GOT/TOC-relative formula).
    SymbolNeedsGot,
    /// The file's GOT base (`_GLOBAL_OFFSET_TABLE_`, PPC64 `.TOC.`),
    /// whatever the symbol.
    GotBase,
    /// No edge at all (a NONE relocation against nothing).
    None,
}

/// An architecture's relocation table: `r_type` to [`Mapping`] (or why not
/// supported), and `r_type` to its psABI name.
#[derive(Copy, Clone)]
pub struct RelocTable {
    /// The mapping.
    pub map: fn(u32) -> std::result::Result<Mapping, &'static str>,
    /// The name (`type N` if unknown).
    pub name: fn(u16) -> std::borrow::Cow<'static, str>,
}

/// The relocation table of `arch`.
pub fn reloc_table(arch: Arch) -> RelocTable {
    match arch {
        Arch::X86_64 => RelocTable { map: x86_64::map, name: x86_64::reloc_name },
        Arch::Aarch64 => RelocTable { map: aarch64::map, name: aarch64::reloc_name },
        Arch::Riscv64 => RelocTable { map: riscv64::map, name: riscv64::reloc_name },
        Arch::Ppc64Le | Arch::Ppc64Be => RelocTable { map: ppc64::map, name: ppc64::reloc_name },
    }
}

fn malformed(file: &str, detail: impl Into<String>) -> Error {
    Error::Malformed { file: file.to_string(), detail: detail.into() }
}

fn header_truncated(len: usize) -> String {
    format!("ELF header truncated: the file is {len} bytes, an ELF64 header needs 64")
}

/// Identifies an ELF file's kind and architecture.
///
/// # Errors
/// Malformed headers, or a class/type/machine we do not link.
pub fn identify(name: &str, data: &[u8]) -> Result<FileKind> {
    if data.get(4) == Some(&elf::ELFCLASS32) {
        return Err(Error::Unsupported { file: name.into(), detail: "32-bit ELF (ELFCLASS32)".into() });
    }
    if data.len() < std::mem::size_of::<Header>() {
        return Err(malformed(name, header_truncated(data.len())));
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
    let m = hdr.e_machine(endian);
    if m == elf::EM_PPC64 && hdr.e_flags(endian) & 3 == 1 {
        return Err(Error::Unsupported {
            file: name.into(),
            detail: "PPC64 ELFv1 object (e_flags 1): only the ELFv2 ABI is linked; compile with -mabi=elfv2".into(),
        });
    }
    match machine_arch(m, endian) {
        Some(arch) => Ok(FileKind::ElfObject(arch)),
        None => Err(Error::Unsupported { file: name.into(), detail: format!("ELF e_machine {m} ({endian:?} endian)") }),
    }
}

/// Per-session state the ELF builder keeps across files and links: COMDAT
/// group signatures already taken, in the order they were taken.
///
/// A link that fails after its files were built must give its signatures
/// back ([`ElfState::rollback`] to a [`ElfState::checkpoint`] taken before
/// it), or a retry of the same objects drops their groups as duplicates of
/// definitions that never joined the session.
#[derive(Default)]
pub struct ElfState {
    comdat_groups: hashbrown::HashSet<NameId>,
    taken: Vec<NameId>,
}

/// A point in an [`ElfState`]'s history (see [`ElfState::rollback`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ElfCheckpoint(usize);

impl ElfState {
    /// The current point, to roll back to if the link being built fails.
    pub fn checkpoint(&self) -> ElfCheckpoint {
        ElfCheckpoint(self.taken.len())
    }

    /// Forgets every COMDAT signature taken since `cp`.
    pub fn rollback(&mut self, cp: ElfCheckpoint) {
        for n in self.taken.drain(cp.0.min(self.taken.len())..) {
            self.comdat_groups.remove(&n);
        }
    }

    /// Forgets the COMDAT signatures taken between `from` and `to` (a
    /// removed link's), keeping later ones.
    pub fn release(&mut self, from: ElfCheckpoint, to: ElfCheckpoint) {
        let end = to.0.min(self.taken.len());
        let start = from.0.min(end);
        for n in &self.taken[start..end] {
            self.comdat_groups.remove(n);
        }
    }

    /// True if a COMDAT group with signature `sig` was taken.
    pub fn has_comdat(&self, sig: NameId) -> bool {
        self.comdat_groups.contains(&sig)
    }

    fn take_comdat(&mut self, sig: NameId) -> bool {
        let fresh = self.comdat_groups.insert(sig);
        if fresh {
            self.taken.push(sig);
        }
        fresh
    }
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
    if name == b".eh_frame" {
        return SectionRole::EhFrame;
    }
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

/// Largest section alignment accepted (`sh_addralign`, and a common
/// symbol's `st_value`): 4 GiB, far beyond any real object's needs, and
/// small enough that layout arithmetic on it cannot overflow.
pub const MAX_ALIGN: u64 = 1 << 32;

/// Largest section (`sh_size` of an allocated section, NOBITS included)
/// or common symbol (`st_size`) accepted: 4 GiB - 1.
pub const MAX_SIZE: u64 = u32::MAX as u64;

/// How many bytes of names (section names, symbol names, group signatures)
/// one object may make the builder read and intern: four times the file's
/// size plus 16 MiB. Names are cached per string-table offset, so a real
/// object's names add up to a fraction of its size; without a bound, string
/// offsets that overlap pathologically (every symbol naming a different
/// suffix of one long string) cost time and interner memory quadratic in
/// the file's size.
pub fn name_budget(file_len: usize) -> u64 {
    (file_len as u64).saturating_mul(4).saturating_add(16 << 20)
}

type SectionHeader64 = elf::SectionHeader64<Endianness>;
type SectionTable<'a> = object::read::elf::SectionTable<'a, Header>;
type SymbolTable<'a> = object::read::elf::SymbolTable<'a, Header>;

/// One entry size the gABI fixes for a section type; 0 is accepted too
/// (some producers leave `sh_entsize` unset).
fn expected_entsize(sh_type: u32) -> Option<u64> {
    match sh_type {
        elf::SHT_SYMTAB | elf::SHT_RELA => Some(24),
        elf::SHT_REL => Some(16),
        elf::SHT_GROUP | elf::SHT_SYMTAB_SHNDX => Some(4),
        _ => None,
    }
}

/// The parsed frame of one ELF relocatable object: header, section table,
/// section name and symbol string tables, all validated against the file's
/// length, and the name caches that keep the work linear in it.
struct Reader<'a> {
    arch: Arch,
    file: String,
    data: &'a [u8],
    endian: Endianness,
    sections: SectionTable<'a>,
    shstrndx: usize,
    shstrtab: object::read::StringTable<'a>,
    shstrtab_size: u64,
    symtab_index: usize,
    symtab: SymbolTable<'a>,
    strtab_size: u64,
    budget: u64,
    sec_names: Vec<Option<&'a [u8]>>,
    sec_ids: Vec<Option<NameId>>,
    sym_names: hashbrown::HashMap<u32, (&'a [u8], Option<NameId>)>,
}

impl<'a> Reader<'a> {
    fn bad(&self, detail: String) -> Error {
        malformed(&self.file, detail)
    }

    fn len(&self) -> usize {
        self.sections.len()
    }

    fn header(&self, i: usize) -> &'a SectionHeader64 {
        &self.sections.iter().as_slice()[i]
    }

    /// Parses and validates everything but symbols and relocations.
    fn new(file: &str, data: &'a [u8]) -> Result<Reader<'a>> {
        let bad = |detail: String| malformed(file, detail);
        let len = data.len() as u64;
        if data.len() < std::mem::size_of::<Header>() {
            return Err(bad(header_truncated(data.len())));
        }
        let hdr = Header::parse(data).map_err(|e| bad(format!("ELF header: {e}")))?;
        let endian = hdr.endian().map_err(|e| bad(format!("ELF header: {e}")))?;
        let Some(arch) = machine_arch(hdr.e_machine(endian), endian) else {
            return Err(Error::Unsupported {
                file: file.to_string(),
                detail: format!("ELF e_machine {}", hdr.e_machine(endian)),
            });
        };

        // The section header table, with the gABI's extended numbering
        // (e_shnum 0: the count is section 0's sh_size; e_shstrndx
        // SHN_XINDEX: the index is section 0's sh_link).
        let shoff = hdr.e_shoff(endian);
        let e_shnum = hdr.e_shnum(endian);
        let headers: &'a [SectionHeader64] = if shoff == 0 {
            &[]
        } else {
            let entsize = hdr.e_shentsize(endian);
            if usize::from(entsize) != std::mem::size_of::<SectionHeader64>() {
                return Err(bad(format!("e_shentsize {entsize}, expected 64 (ELF64 section header)")));
            }
            let (shnum, how) = if e_shnum > 0 {
                (u64::from(e_shnum), "e_shnum")
            } else {
                if shoff.checked_add(64).is_none_or(|end| end > len) {
                    return Err(bad(format!(
                        "section header table truncated: e_shoff {shoff:#x} leaves no room for section 0 \
                         (file is {len:#x} bytes)"
                    )));
                }
                let s0 = hdr
                    .section_0(endian, data)
                    .map_err(|e| bad(format!("section 0: {e}")))?
                    .ok_or_else(|| bad("section 0 missing".into()))?;
                (s0.sh_size(endian), "section 0 sh_size (extended e_shnum)")
            };
            let end = shnum.checked_mul(64).and_then(|size| shoff.checked_add(size));
            if end.is_none_or(|end| end > len) {
                return Err(bad(format!(
                    "section header table truncated: e_shoff {shoff:#x} + {shnum} entries ({how}) of 64 bytes \
                     is past the end of the file ({len:#x} bytes)"
                )));
            }
            hdr.section_headers(endian, data).map_err(|e| bad(format!("section header table: {e}")))?
        };
        let nsec = headers.len();

        // Section name string table.
        let (shstrndx, shstrtab, shstrtab_size) = if nsec == 0 {
            (0, object::read::StringTable::default(), 0)
        } else {
            let raw = hdr.e_shstrndx(endian);
            let idx = if raw == elf::SHN_XINDEX { headers[0].sh_link(endian) } else { u32::from(raw) } as usize;
            let field = if raw == elf::SHN_XINDEX { "e_shstrndx (section 0 sh_link)" } else { "e_shstrndx" };
            if idx == 0 {
                return Err(bad(format!("{field} is 0 (SHN_UNDEF): no section name string table")));
            }
            if idx >= nsec {
                return Err(bad(format!("{field} {idx} out of range ({nsec} sections)")));
            }
            let s = &headers[idx];
            let (off, size) =
                if s.sh_type(endian) == elf::SHT_NOBITS { (0, 0) } else { (s.sh_offset(endian), s.sh_size(endian)) };
            let end = off.checked_add(size).filter(|&e| e <= len).ok_or_else(|| {
                bad(format!(
                    "section name string table (section {idx}): sh_offset {off:#x} + sh_size {size:#x} \
                     past end of file ({len:#x} bytes)"
                ))
            })?;
            (idx, object::read::StringTable::new(data, off, end), size)
        };
        let sections = SectionTable::new(headers, shstrtab);

        let mut r = Reader {
            arch,
            file: file.to_string(),
            data,
            endian,
            sections,
            shstrndx,
            shstrtab,
            shstrtab_size,
            symtab_index: 0,
            symtab: SymbolTable::default(),
            strtab_size: 0,
            budget: name_budget(data.len()),
            sec_names: vec![None; nsec],
            sec_ids: vec![None; nsec],
            sym_names: hashbrown::HashMap::new(),
        };
        r.check_ranges()?;
        r.read_symtab()?;
        Ok(r)
    }

    /// Every section with file contents lies within the file, and no two
    /// overlap: the gABI ("Sections"): "Sections in a file may not overlap.
    /// No byte in a file resides in more than one section." Overlaps are
    /// refused rather than read as independent ranges because they let a
    /// small file multiply work (a thousand relocation sections over the
    /// same bytes). Checks `sh_entsize` of the tables we read.
    fn check_ranges(&mut self) -> Result<()> {
        let endian = self.endian;
        let len = self.data.len() as u64;
        if let Some(s0) = self.sections.iter().next() {
            if s0.sh_type(endian) != elf::SHT_NULL {
                return Err(self.bad(format!(
                    "section 0: sh_type {:#x}, expected SHT_NULL (the gABI reserves index 0)",
                    s0.sh_type(endian)
                )));
            }
        }
        let mut ranges: Vec<(u64, u64, usize)> = Vec::new();
        for i in 0..self.len() {
            let s = self.header(i);
            let sh_type = s.sh_type(endian);
            if let Some(want) = expected_entsize(sh_type) {
                let got = s.sh_entsize(endian);
                if got != 0 && got != want {
                    return Err(self.bad(format!("{}: sh_entsize {got}, expected {want}", self.label(i))));
                }
            }
            if sh_type == elf::SHT_NULL || sh_type == elf::SHT_NOBITS {
                continue;
            }
            let (off, size) = (s.sh_offset(endian), s.sh_size(endian));
            if size == 0 {
                continue;
            }
            let Some(end) = off.checked_add(size).filter(|&e| e <= len) else {
                return Err(self.bad(format!(
                    "{}: sh_offset {off:#x} + sh_size {size:#x} past end of file ({len:#x} bytes)",
                    self.label(i)
                )));
            };
            ranges.push((off, end, i));
        }
        ranges.sort_unstable();
        for w in ranges.windows(2) {
            let ((a0, a1, ai), (b0, b1, bi)) = (w[0], w[1]);
            if b0 < a1 {
                return Err(self.bad(format!(
                    "{} at file bytes {a0:#x}..{a1:#x} and {} at {b0:#x}..{b1:#x} overlap",
                    self.label(ai),
                    self.label(bi)
                )));
            }
        }
        Ok(())
    }

    /// The first SHT_SYMTAB, its string table checked.
    fn read_symtab(&mut self) -> Result<()> {
        let endian = self.endian;
        let Some(i) = (0..self.len()).find(|&i| self.header(i).sh_type(endian) == elf::SHT_SYMTAB) else {
            return Ok(());
        };
        let s = self.header(i);
        let link = s.sh_link(endian) as usize;
        if link == 0 || link >= self.len() {
            return Err(self.bad(format!(
                "symbol table {}: sh_link {link} (string table) out of range ({} sections)",
                self.label(i),
                self.len()
            )));
        }
        let strtab = self.header(link);
        if strtab.sh_type(endian) != elf::SHT_STRTAB {
            return Err(self.bad(format!(
                "symbol table {}: sh_link {link} is not a string table (sh_type {:#x})",
                self.label(i),
                strtab.sh_type(endian)
            )));
        }
        if s.sh_size(endian) % 24 != 0 {
            return Err(self.bad(format!(
                "symbol table {}: sh_size {:#x} is not a multiple of the 24-byte entry",
                self.label(i),
                s.sh_size(endian)
            )));
        }
        let symtab = self
            .sections
            .symbols(endian, self.data, elf::SHT_SYMTAB)
            .map_err(|e| self.bad(format!("symbol table {}: {e}", self.label(i))))?;
        self.symtab_index = i;
        self.strtab_size = strtab.sh_size(endian);
        self.symtab = symtab;
        Ok(())
    }

    /// Charges `n` bytes of names to the budget.
    fn spend(&mut self, n: usize, what: impl FnOnce() -> String) -> Result<()> {
        match self.budget.checked_sub(n as u64 + 1) {
            Some(b) => {
                self.budget = b;
                Ok(())
            }
            None => Err(self.bad(format!(
                "{}: names read so far exceed {} bytes (string table offsets overlap pathologically)",
                what(),
                name_budget(self.data.len())
            ))),
        }
    }

    /// Section `i`'s name (read once).
    fn sec_name(&mut self, i: usize) -> Result<&'a [u8]> {
        if i >= self.len() {
            return Err(self.bad(format!("section index {i} out of range ({} sections)", self.len())));
        }
        if let Some(n) = self.sec_names[i] {
            return Ok(n);
        }
        let off = self.header(i).sh_name(self.endian);
        let n = self.shstrtab.get(off).map_err(|()| {
            let why =
                if u64::from(off) >= self.shstrtab_size { "past the end of" } else { "not NUL-terminated within" };
            self.bad(format!(
                "section {i}: sh_name {off:#x} {why} the section name string table ({}, {:#x} bytes)",
                self.label(self.shstrndx),
                self.shstrtab_size
            ))
        })?;
        self.spend(n.len(), || format!("section {i} name"))?;
        self.sec_names[i] = Some(n);
        Ok(n)
    }

    /// Section `i`'s name, interned (once).
    fn sec_name_id(&mut self, i: usize, names: &mut Interner) -> Result<NameId> {
        let n = self.sec_name(i)?;
        Ok(*self.sec_ids[i].get_or_insert_with(|| names.intern(n)))
    }

    /// "section 3 (.text)" for messages; the name only when it reads.
    fn label(&self, i: usize) -> String {
        let name = self.sec_names.get(i).copied().flatten().or_else(|| {
            let off = self.header(i).sh_name(self.endian);
            self.shstrtab.get(off).ok()
        });
        match name {
            Some(n) => format!("section {i} ({})", crate::formats::shown(n)),
            None => format!("section {i}"),
        }
    }

    /// The name of symbol `idx` and its interned id (`None` when empty),
    /// read once per string table offset.
    fn sym_name(
        &mut self,
        idx: usize,
        sym: &elf::Sym64<Endianness>,
        names: &mut Interner,
    ) -> Result<(&'a [u8], Option<NameId>)> {
        let off = sym.st_name(self.endian);
        if let Some(&hit) = self.sym_names.get(&off) {
            return Ok(hit);
        }
        let n = self.symtab.strings().get(off).map_err(|()| {
            let why = if u64::from(off) >= self.strtab_size { "past the end of" } else { "not NUL-terminated within" };
            self.bad(format!(
                "symbol {idx}: st_name {off:#x} {why} the string table ({}, {:#x} bytes)",
                self.label(self.symtab.string_section().0),
                self.strtab_size
            ))
        })?;
        self.spend(n.len(), || format!("symbol {idx} name"))?;
        let id = if n.is_empty() { None } else { Some(names.intern(n)) };
        self.sym_names.insert(off, (n, id));
        Ok((n, id))
    }
}

/// Adds the ELF relocatable object `data` (named `name` in errors and the
/// dump) to `g`.
///
/// Work and memory are linear in `data.len()`: every count is checked
/// against the bytes that hold it, sections may not overlap, names are
/// budgeted ([`name_budget`]), alignments are at most [`MAX_ALIGN`] and
/// allocated sections at most [`MAX_SIZE`] bytes.
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
    let mut r = Reader::new(&name, data)?;
    let endian = r.endian;
    let table = reloc_table(r.arch);
    let nsec = r.len();
    let fname = name.as_str();
    let bad = |detail: String| malformed(fname, detail);

    let file = g.add_file(name.clone());
    g.files[file.index()].reloc_name = table.name;

    // COMDAT groups: the first definition of a signature wins; the members
    // of a later group with the same signature are dropped. Groups are
    // flat (a member is a section, never a group), so nothing recurses;
    // a section may belong to one group only, so the member loops together
    // visit at most `nsec` members before an error.
    let mut discarded = vec![false; nsec];
    // The SHT_GROUP section each section belongs to (0: none).
    let mut in_group = vec![0usize; nsec];
    for i in 0..nsec {
        let s = r.header(i);
        let Some((flag, members)) = s.group(endian, data).map_err(|e| bad(format!("SHT_GROUP {}: {e}", r.label(i))))?
        else {
            continue;
        };
        let sig_index = s.sh_info(endian) as usize;
        if s.sh_link(endian) as usize != r.symtab_index || r.symtab.is_empty() {
            return Err(bad(format!(
                "SHT_GROUP {}: sh_link {} is not the symbol table",
                r.label(i),
                s.sh_link(endian)
            )));
        }
        let sig_sym = r.symtab.symbol(object::SymbolIndex(sig_index)).map_err(|_| {
            bad(format!(
                "SHT_GROUP {}: signature symbol index {sig_index} (sh_info) out of range ({} symbols)",
                r.label(i),
                r.symtab.len()
            ))
        })?;
        let sig = if sig_sym.st_type() == elf::STT_SECTION {
            let si = sig_sym.st_shndx(endian) as usize;
            if si >= nsec {
                return Err(bad(format!(
                    "SHT_GROUP {}: signature is a section symbol of section {si}, out of range ({nsec} sections)",
                    r.label(i)
                )));
            }
            r.sec_name_id(si, names)?
        } else {
            match r.sym_name(sig_index, sig_sym, names)? {
                (_, Some(id)) => id,
                (_, None) => names.intern(b""),
            }
        };
        let keep = flag & elf::GRP_COMDAT == 0 || state.take_comdat(sig);
        for m in members {
            let idx = m.get(endian) as usize;
            if idx == 0 || idx >= nsec {
                return Err(bad(format!(
                    "SHT_GROUP {}: member section index {idx} out of range ({nsec} sections)",
                    r.label(i)
                )));
            }
            if idx == i {
                return Err(bad(format!("SHT_GROUP {}: lists itself as a member", r.label(i))));
            }
            if in_group[idx] == i {
                return Err(bad(format!("SHT_GROUP {}: lists {} twice", r.label(i), r.label(idx))));
            }
            if in_group[idx] != 0 {
                return Err(bad(format!(
                    "{} is a member of two SHT_GROUP sections ({} and {})",
                    r.label(idx),
                    r.label(in_group[idx]),
                    r.label(i)
                )));
            }
            in_group[idx] = i;
            if !keep {
                discarded[idx] = true;
            }
        }
    }

    // Sections: one block per allocated section.
    let mut sec_block: Vec<Option<BlockId>> = vec![None; nsec];
    let mut sec_skip: Vec<&'static str> = vec!["section not loaded"; nsec];
    for i in 0..nsec {
        let s = r.header(i);
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
        let sname = r.sec_name(i)?;
        let tls = flags & u64::from(elf::SHF_TLS) != 0;
        // gABI: "Values 0 and 1 mean the section has no alignment constraints."
        let align = s.sh_addralign(endian).max(1);
        if !align.is_power_of_two() {
            return Err(bad(format!("{}: sh_addralign {align:#x} is not a power of two", r.label(i))));
        }
        if align > MAX_ALIGN {
            return Err(bad(format!("{}: sh_addralign {align:#x} is larger than 4 GiB", r.label(i))));
        }
        let size = s.sh_size(endian);
        if size > MAX_SIZE {
            return Err(bad(format!("{}: sh_size {size:#x} is larger than 4 GiB", r.label(i))));
        }
        let content = if sh_type == elf::SHT_NOBITS {
            Content::Zero
        } else {
            // In bounds: checked by Reader::check_ranges.
            let bytes = s.data(endian, data).map_err(|e| bad(format!("{}: {e}", r.label(i))))?;
            Content::Borrowed(bytes)
        };
        let prot = if flags & u64::from(elf::SHF_EXECINSTR) != 0 {
            Prot::ReadExec
        } else if flags & u64::from(elf::SHF_WRITE) != 0 && !tls {
            Prot::ReadWrite
        } else {
            Prot::Read
        };
        // Thread-local sections form the link's TLS template (read-only:
        // each thread's block is a copy).
        let role = match (tls, sh_type) {
            (true, elf::SHT_NOBITS) => SectionRole::TlsBss,
            (true, _) => SectionRole::TlsData,
            _ => section_role(sname, sh_type),
        };
        let sid = g.add_section(r.sec_name_id(i, names)?, file, prot, role);
        g.sections[sid.index()].input_index = i as u32;
        let plain =
            matches!(role, SectionRole::Regular | SectionRole::EhFrame | SectionRole::TlsData | SectionRole::TlsBss);
        if !plain || flags & u64::from(elf::SHF_GNU_RETAIN) != 0 {
            g.sections[sid.index()].keep = true;
        }
        sec_block[i] = Some(g.add_block(sid, content, size, align));
    }

    // Symbols.
    let symtab = r.symtab;
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
        let raw_shndx = sym.st_shndx(endian);
        let shndx = symtab.symbol_section(endian, sym, object::SymbolIndex(idx)).map_err(|_| {
            bad(format!("symbol {idx}: st_shndx is SHN_XINDEX but SHT_SYMTAB_SHNDX has no entry for it"))
        })?;
        if st_type == elf::STT_SECTION {
            if let Some(si) = shndx {
                if si.0 >= nsec {
                    return Err(bad(format!(
                        "section symbol {idx}: section index {} out of range ({nsec} sections)",
                        si.0
                    )));
                }
                sym_map[idx] = match sec_block[si.0] {
                    Some(b) => Mapped::Sym(g.add_anonymous(b, 0, file)),
                    None => Mapped::Unloaded(sec_skip[si.0]),
                };
            }
            continue;
        }
        let (sname, name_id) = r.sym_name(idx, sym, names)?;
        let shown = || crate::formats::shown(sname);
        let bind = sym.st_bind();
        let local = bind == elf::STB_LOCAL;
        let scope = if local {
            Scope::Local
        } else if matches!(sym.st_visibility(), elf::STV_HIDDEN | elf::STV_INTERNAL) {
            Scope::Hidden
        } else {
            Scope::Default
        };
        // STB_GNU_UNIQUE (C++ static members of inline functions): one
        // definition per process, so the first wins, as for weak ones.
        let linkage =
            if bind == elf::STB_WEAK || bind == elf::STB_GNU_UNIQUE { Linkage::Weak } else { Linkage::Strong };
        let callable = st_type == elf::STT_FUNC;
        let value = sym.st_value(endian);
        let size = sym.st_size(endian);

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
            target_flags: sym.st_other(),
        };
        match raw_shndx {
            elf::SHN_UNDEF if shndx.is_none() => {
                let Some(n) = name_id else {
                    return Err(bad(format!("symbol {idx}: undefined symbol without a name")));
                };
                if local {
                    return Err(bad(format!("symbol {idx} ({}): undefined local symbol", shown())));
                }
                if sname == b"_GLOBAL_OFFSET_TABLE_" || sname == b".TOC." {
                    sym_map[idx] = Mapped::Sym(g.got_base(file, names));
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
                        "common symbol {idx} ({}): alignment (st_value) {value:#x} is not a power of two",
                        shown()
                    )));
                }
                if value > MAX_ALIGN {
                    return Err(bad(format!(
                        "common symbol {idx} ({}): alignment (st_value) {value:#x} is larger than 4 GiB",
                        shown()
                    )));
                }
                if size > MAX_SIZE {
                    return Err(bad(format!(
                        "common symbol {idx} ({}): st_size {size:#x} is larger than 4 GiB",
                        shown()
                    )));
                }
                if name_id.is_none() {
                    return Err(bad(format!("common symbol {idx}: no name")));
                }
                def.kind = SymbolKind::Common;
                def.value = value.max(1);
            }
            _ => {
                let Some(si) = shndx else {
                    return Err(bad(format!("symbol {idx} ({}): reserved section index {raw_shndx:#x}", shown())));
                };
                if si.0 >= nsec {
                    return Err(bad(format!(
                        "symbol {idx} ({}): section index {} out of range ({nsec} sections)",
                        shown(),
                        si.0
                    )));
                }
                match sec_block[si.0] {
                    Some(b) => {
                        let bsize = g.blocks[b.index()].size;
                        // GCC's section anchors (local NOTYPE `.LANCHORn`) may
                        // sit past the end of their section: code addresses
                        // data as anchor - k. Other symbols may not.
                        let anchor = sym.st_type() == elf::STT_NOTYPE && local && value <= MAX_SIZE;
                        if value > bsize && !anchor {
                            return Err(bad(format!(
                                "symbol {idx} ({}): st_value {value:#x} past the end of {} ({bsize:#x} bytes)",
                                shown(),
                                r.label(si.0)
                            )));
                        }
                        def.block = Some(b);
                    }
                    None if discarded[si.0] && !local => {
                        // Defined in a dropped COMDAT group: a reference to
                        // the kept definition, which must exist (strong: if
                        // it is nowhere, that is an undefined symbol, not
                        // a weak 0).
                        let Some(n) = name_id else { continue };
                        let id = g.global_ref(n, file);
                        let s = &mut g.symbols[id.index()];
                        if s.kind == SymbolKind::External {
                            s.linkage = Linkage::Strong;
                        }
                        sym_map[idx] = Mapped::Sym(id);
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
    let mut discarded: Option<SymbolId> = None;
    for ri in 0..nsec {
        let rs = r.header(ri);
        let sh_type = rs.sh_type(endian);
        if sh_type != elf::SHT_RELA && sh_type != elf::SHT_REL {
            continue;
        }
        if sh_type == elf::SHT_REL && r.arch != Arch::X86_64 {
            // Implicit addends of instruction fields would need decoding
            // per instruction form; no toolchain emits REL for these targets.
            return Err(bad(format!(
                "relocation {}: SHT_REL (implicit addends) is not supported for {}; expected SHT_RELA",
                r.label(ri),
                r.arch.triple()
            )));
        }
        let target = rs.sh_info(endian) as usize;
        if target == ri {
            return Err(bad(format!(
                "relocation {}: sh_info {target} names the relocation section itself",
                r.label(ri)
            )));
        }
        if target == 0 || target >= nsec {
            return Err(bad(format!(
                "relocation {}: target section {target} (sh_info) out of range ({nsec} sections)",
                r.label(ri)
            )));
        }
        let Some(block) = sec_block[target] else {
            continue;
        };
        let in_eh_frame = g.block_section(block).role == SectionRole::EhFrame;
        if rs.sh_link(endian) as usize != r.symtab_index || symtab.is_empty() {
            return Err(bad(format!(
                "relocation {}: sh_link {} is not the symbol table",
                r.label(ri),
                rs.sh_link(endian)
            )));
        }
        let entsize = if sh_type == elf::SHT_RELA { 24 } else { 16 };
        if rs.sh_size(endian) % entsize != 0 {
            return Err(bad(format!(
                "relocation {}: sh_size {:#x} is not a multiple of the {entsize}-byte entry",
                r.label(ri),
                rs.sh_size(endian)
            )));
        }
        let tname = r.sec_name(target)?;
        let tshown = crate::formats::shown(tname);
        let loc = |offset: u64| Box::new(Location { file: fname.to_string(), section: tshown.clone(), offset });
        // Raw (r_offset, r_info type, r_sym, explicit addend).
        let rela_slice;
        let rel_slice;
        let iter: Box<dyn Iterator<Item = (u64, u32, u32, Option<i64>)>> = if sh_type == elf::SHT_RELA {
            rela_slice = rs
                .rela(endian, data)
                .map_err(|e| bad(format!("relocation {}: {e}", r.label(ri))))?
                .map(|(r, _)| r)
                .unwrap_or(&[]);
            Box::new(rela_slice.iter().map(|r| {
                (r.r_offset.get(endian), r.r_type(endian, false), r.r_sym(endian, false), Some(r.r_addend.get(endian)))
            }))
        } else {
            rel_slice = rs
                .rel(endian, data)
                .map_err(|e| bad(format!("relocation {}: {e}", r.label(ri))))?
                .map(|(r, _)| r)
                .unwrap_or(&[]);
            Box::new(rel_slice.iter().map(|r| (r.r_offset.get(endian), r.r_type(endian), r.r_sym(endian), None)))
        };
        let bsize = g.blocks[block.index()].size;
        let mut edges = std::mem::take(&mut g.blocks[block.index()].edges);
        edges.reserve(iter.size_hint().0);
        for (offset, r_type, r_sym, addend) in iter {
            let rname = || match u16::try_from(r_type) {
                Ok(t) => (table.name)(t).into_owned(),
                Err(_) => format!("type {r_type}"),
            };
            let mapping = (table.map)(r_type).map_err(|reason| Error::UnsupportedRelocation {
                at: loc(offset),
                relocation: match u16::try_from(r_type) {
                    Ok(t) => format!("{} ({r_type})", (table.name)(t)),
                    Err(_) => format!("type {r_type}"),
                },
                reason,
            })?;
            let width = u64::from(mapping.width);
            if offset.checked_add(width).is_none_or(|end| end > bsize) {
                return Err(bad(format!(
                    "section {tshown}: relocation {} at offset {offset:#x} (r_offset) past the end of the section \
                     ({bsize:#x} bytes)",
                    rname()
                )));
            }
            let r_sym = r_sym as usize;
            if r_sym >= nsym.max(1) {
                return Err(bad(format!(
                    "section {tshown}: relocation {} at offset {offset:#x}: symbol index {r_sym} (r_sym) out of \
                     range ({nsym} symbols)",
                    rname()
                )));
            }
            let target = match mapping.target {
                Target::None if r_sym == 0 => continue,
                Target::GotBase => g.got_base(file, names),
                _ if r_sym == 0 => *zero_sym.get_or_insert_with(|| g.add_absolute(file, 0)),
                _ => match sym_map[r_sym] {
                    Mapped::Sym(s) => s,
                    Mapped::Unloaded(_) if in_eh_frame => *discarded.get_or_insert_with(|| {
                        let s = g.add_absolute(file, 0);
                        g.symbols[s.index()].target_flags = crate::graph::DISCARDED_TARGET;
                        s
                    }),
                    Mapped::Unloaded(why) => {
                        return Err(Error::UnsupportedRelocation {
                            at: loc(offset),
                            relocation: rname(),
                            reason: if why == "section of a discarded COMDAT group" {
                                "refers to a local symbol of a discarded COMDAT group"
                            } else {
                                why
                            },
                        })
                    }
                },
            };
            if mapping.target == Target::SymbolNeedsGot {
                g.got_base(file, names);
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
