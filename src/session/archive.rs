//! Static archives as definition generators: a member is added to the
//! link when one of its symbols is first needed (GNU, BSD and thin
//! archives, through `object`'s archive reader).
//!
//! Work is linear in the archive's size: the symbol table is matched to
//! members by header offset (no member is parsed twice), member names are
//! at most `PATH_MAX` bytes, and the names read (member names, symbol
//! table names, members' own symbol names) are budgeted, so extended-name
//! or string offsets that overlap pathologically are an error rather than
//! quadratic time and memory.

use super::InputData;
use crate::error::{Error, Result};
use crate::formats::shown;
use crate::graph::{Interner, NameId};
use hashbrown::HashMap;
use object::read::archive::ArchiveFile;
use object::read::elf::{FileHeader, Sym};
use std::path::{Path, PathBuf};

/// Longest member name accepted: `PATH_MAX`; a longer name cannot name a
/// file, and GNU `ar` never writes one.
pub const MAX_MEMBER_NAME: usize = 4096;

/// One member: its display name and bytes.
pub struct Member {
    /// `libfoo.a(member.o)`.
    pub name: String,
    /// The member's bytes (a range of the archive, or the file a thin
    /// archive points to).
    pub data: MemberData,
}

/// Where a member's bytes live.
pub enum MemberData {
    /// `(start, end)` within the archive's bytes.
    Range(usize, usize),
    /// A thin archive member's own file.
    External(InputData),
}

/// An opened archive with its symbol index.
pub struct Archive {
    /// File name without directories.
    pub name: String,
    data: InputData,
    /// Members in archive order.
    pub members: Vec<Member>,
    /// Defined symbol name → member index.
    index: HashMap<NameId, u32>,
}

/// Bytes of names an archive may make us read and intern (see
/// [`crate::formats::elf::name_budget`]).
struct Budget {
    left: u64,
    total: u64,
}

impl Budget {
    fn new(len: u64) -> Budget {
        let total = len.saturating_mul(4).saturating_add(16 << 20);
        Budget { left: total, total }
    }

    fn spend(&mut self, n: usize) -> std::result::Result<(), String> {
        match self.left.checked_sub(n as u64 + 1) {
            Some(l) => {
                self.left = l;
                Ok(())
            }
            None => Err(format!(
                "names read exceed {} bytes (name or string table offsets overlap pathologically)",
                self.total
            )),
        }
    }
}

impl Archive {
    /// Opens an archive, reading its symbol table (or, when it has none,
    /// every member's ELF symbol table). Thin archive members are found
    /// relative to the archive's directory.
    ///
    /// # Errors
    /// [`Error::Malformed`] for a corrupt archive or a symbol table entry
    /// that points at no member; [`Error::Io`] for a missing thin member.
    pub fn open(path: &Path, data: InputData, names: &mut Interner) -> Result<Archive> {
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        Archive::parse(name, data, Some(&dir), names)
    }

    /// An archive held in memory, named `name` in errors. Thin archives are
    /// refused: there is no directory to find their members in.
    ///
    /// # Errors
    /// As [`Archive::open`]; [`Error::Unsupported`] for a thin member.
    pub fn from_bytes(name: &str, bytes: Vec<u8>, names: &mut Interner) -> Result<Archive> {
        Archive::parse(name.to_string(), InputData::Owned(bytes), None, names)
    }

    fn parse(name: String, data: InputData, dir: Option<&Path>, names: &mut Interner) -> Result<Archive> {
        let bad = |detail: String| Error::Malformed { file: name.clone(), detail };
        let bytes: &[u8] = &data;
        if !bytes.starts_with(b"!<arch>\n") && !bytes.starts_with(b"!<thin>\n") {
            return Err(bad("not a GNU or BSD archive (no !<arch> or !<thin> magic)".into()));
        }
        let ar = ArchiveFile::parse(bytes).map_err(|e| bad(format!("archive: {e}")))?;
        let mut members = Vec::new();
        // Member header offset → member index (symbol tables name members
        // by the offset of their header).
        let mut by_header: HashMap<u64, u32> = HashMap::new();
        let mut budget_len = bytes.len() as u64;
        let mut budget = Budget::new(budget_len);
        for m in ar.members() {
            let i = members.len();
            let after = |i: usize| match i {
                0 => String::new(),
                _ => format!(" (after {})", members_name(&members, i - 1)),
            };
            let m = m.map_err(|e| bad(format!("archive member {i}{}: {e}", after(i))))?;
            // The header lies within `bytes`: its address minus the start.
            let header_offset = m.header().map(|h| (h as *const _ as usize).wrapping_sub(bytes.as_ptr() as usize));
            let Some(header_offset) = header_offset.map(|o| o as u64) else {
                return Err(bad(format!("archive member {i}: not a GNU/BSD member header")));
            };
            let raw = m.name();
            if raw.len() > MAX_MEMBER_NAME {
                return Err(bad(format!(
                    "archive member {i} at offset {header_offset:#x}: name is {} bytes, longer than PATH_MAX \
                     ({MAX_MEMBER_NAME})",
                    raw.len()
                )));
            }
            budget
                .spend(raw.len())
                .map_err(|e| bad(format!("archive member {i} at offset {header_offset:#x}: {e}")))?;
            let mname = String::from_utf8_lossy(raw).into_owned();
            let display = format!("{name}({})", mname.rsplit('/').next().unwrap_or(&mname));
            let data = if m.is_thin() {
                let Some(dir) = dir else {
                    return Err(Error::Unsupported {
                        file: name.clone(),
                        detail: format!(
                            "thin archive member {mname}: the archive was given as bytes, with no directory to \
                             find the member in"
                        ),
                    });
                };
                let p = dir.join(&mname);
                // Only regular files: opening a FIFO named by a hostile
                // archive would block forever.
                let meta = std::fs::metadata(&p).map_err(|e| Error::Io { path: p.display().to_string(), source: e })?;
                if !meta.is_file() {
                    return Err(bad(format!("thin archive member {mname}: {} is not a regular file", p.display())));
                }
                let d = InputData::open(&p)?;
                budget_len = budget_len.saturating_add(d.len() as u64);
                MemberData::External(d)
            } else {
                let (start, size) = m.file_range();
                let end = start.checked_add(size).filter(|&e| e <= bytes.len() as u64);
                let Some(end) = end else {
                    return Err(bad(format!("archive member {mname}: range past end of archive")));
                };
                MemberData::Range(start as usize, end as usize)
            };
            by_header.insert(header_offset, i as u32);
            members.push(Member { name: display, data });
        }
        // Thin members' own bytes count towards what may be read.
        let spent = budget.total - budget.left;
        budget = Budget::new(budget_len);
        budget.left = budget.left.saturating_sub(spent);

        let mut index = HashMap::new();
        let mut have_symtab = false;
        if let Some(syms) = ar.symbols().map_err(|e| bad(format!("archive symbol table: {e}")))? {
            for (k, s) in syms.enumerate() {
                let s = s.map_err(|e| bad(format!("archive symbol table: entry {k}: {e}")))?;
                have_symtab = true;
                budget.spend(s.name().len()).map_err(|e| bad(format!("archive symbol table: entry {k}: {e}")))?;
                let off = s.offset().0;
                let Some(&mi) = by_header.get(&off) else {
                    return Err(bad(format!(
                        "archive symbol table: symbol {} points at offset {off:#x}, where no member starts",
                        shown(s.name())
                    )));
                };
                index.entry(names.intern(s.name())).or_insert(mi);
            }
        }
        let mut ar = Archive { name, data, members, index };
        if !have_symtab {
            ar.index_members(names, &mut budget)?;
        }
        Ok(ar)
    }

    /// Builds the index from the members' own ELF symbol tables (archives
    /// made without `ar s`): every non-local definition of a function or
    /// object. Members that are not ELF objects are not indexed.
    fn index_members(&mut self, names: &mut Interner, budget: &mut Budget) -> Result<()> {
        for mi in 0..self.members.len() {
            let data = self.member_bytes(mi);
            let mut defined: Vec<NameId> = Vec::new();
            let r = if data.get(4) == Some(&object::elf::ELFCLASS32) {
                elf_definitions::<object::elf::FileHeader32<object::Endianness>>(data, names, budget, &mut defined)
            } else {
                elf_definitions::<object::elf::FileHeader64<object::Endianness>>(data, names, budget, &mut defined)
            };
            if let Err(detail) = r {
                return Err(Error::Malformed { file: self.members[mi].name.clone(), detail });
            }
            for n in defined {
                self.index.entry(n).or_insert(mi as u32);
            }
        }
        Ok(())
    }

    /// The member that defines `name`, if any.
    pub fn find(&self, name: NameId) -> Option<usize> {
        self.index.get(&name).map(|&i| i as usize)
    }

    /// A member's bytes.
    pub fn member_bytes(&self, i: usize) -> &[u8] {
        match &self.members[i].data {
            MemberData::Range(s, e) => &self.data[*s..*e],
            MemberData::External(d) => d,
        }
    }
}

fn members_name(members: &[Member], i: usize) -> &str {
    &members[i].name
}

/// Appends the names of `data`'s non-local function and object definitions
/// (what `ar s` would index) to `out`. Not an ELF object, or an unreadable
/// symbol table: nothing. `Err` only when the names exceed the budget.
fn elf_definitions<H: FileHeader<Endian = object::Endianness>>(
    data: &[u8],
    names: &mut Interner,
    budget: &mut Budget,
    out: &mut Vec<NameId>,
) -> std::result::Result<(), String> {
    let Ok(hdr) = H::parse(data) else { return Ok(()) };
    let Ok(endian) = hdr.endian() else { return Ok(()) };
    let Ok(sections) = hdr.sections(endian, data) else { return Ok(()) };
    let Ok(symtab) = sections.symbols(endian, data, object::elf::SHT_SYMTAB) else { return Ok(()) };
    let mut seen: HashMap<u32, ()> = HashMap::new();
    for sym in symtab.iter().skip(1) {
        if sym.st_bind() == object::elf::STB_LOCAL || !sym.is_definition(endian) {
            continue;
        }
        // Each string offset is read once.
        if seen.insert(sym.st_name(endian), ()).is_some() {
            continue;
        }
        let Ok(n) = symtab.symbol_name(endian, sym) else { continue };
        budget.spend(n.len())?;
        out.push(names.intern(n));
    }
    Ok(())
}
