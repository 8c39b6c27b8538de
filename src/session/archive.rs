//! Static archives as definition generators: a member is added to the
//! link when one of its symbols is first needed (GNU, BSD and thin
//! archives, through `object`'s archive reader).

use super::InputData;
use crate::error::{Error, Result};
use crate::graph::{Interner, NameId};
use hashbrown::HashMap;
use object::read::archive::ArchiveFile;
use std::path::{Path, PathBuf};

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

impl Archive {
    /// Opens an archive, reading its symbol table (or, when it has none,
    /// every member's ELF symbol table).
    ///
    /// # Errors
    /// [`Error::Malformed`] for a corrupt archive or a symbol table entry
    /// that points at no member; [`Error::Io`] for a missing thin member.
    pub fn open(path: &Path, data: InputData, names: &mut Interner) -> Result<Archive> {
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let bad = |detail: String| Error::Malformed { file: name.clone(), detail };
        let bytes: &[u8] = &data;
        let ar = ArchiveFile::parse(bytes).map_err(|e| bad(format!("archive: {e}")))?;
        let mut members = Vec::new();
        let mut by_offset: HashMap<u64, u32> = HashMap::new();
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        for m in ar.members() {
            let m = m.map_err(|e| bad(format!("archive member: {e}")))?;
            let mname = String::from_utf8_lossy(m.name()).into_owned();
            let display = format!("{name}({})", mname.rsplit('/').next().unwrap_or(&mname));
            let data = if m.is_thin() {
                let p = dir.join(&mname);
                MemberData::External(InputData::open(&p)?)
            } else {
                let (start, size) = m.file_range();
                let end = start.checked_add(size).filter(|&e| e as usize <= bytes.len());
                let Some(end) = end else {
                    return Err(bad(format!("member {mname}: range past end of archive")));
                };
                MemberData::Range(start as usize, end as usize)
            };
            by_offset.insert(m.file_range().0, members.len() as u32);
            members.push(Member { name: display, data });
        }
        let mut index = HashMap::new();
        let mut have_symtab = false;
        if let Some(syms) = ar.symbols().map_err(|e| bad(format!("archive symbol table: {e}")))? {
            for s in syms {
                let s = s.map_err(|e| bad(format!("archive symbol table: {e}")))?;
                have_symtab = true;
                let off = s.offset().0;
                let start = ar.member(s.offset()).ok().map(|m| m.file_range().0);
                let Some(&mi) = start.and_then(|st| by_offset.get(&st)) else {
                    return Err(bad(format!(
                        "archive symbol table: symbol {} points at offset {off:#x}, where no member starts",
                        String::from_utf8_lossy(s.name())
                    )));
                };
                index.entry(names.intern(s.name())).or_insert(mi);
            }
        }
        let mut ar = Archive { name, data, members, index };
        if !have_symtab {
            ar.index_members(names);
        }
        Ok(ar)
    }

    /// Builds the index from the members' own symbol tables (archives made
    /// without `ar s`).
    fn index_members(&mut self, names: &mut Interner) {
        use object::{Object, ObjectSymbol};
        for mi in 0..self.members.len() {
            let Ok(file) = object::File::parse(self.member_bytes(mi)) else {
                continue;
            };
            let defined: Vec<NameId> = file
                .symbols()
                .filter(|s| s.is_global() && s.is_definition())
                .filter_map(|s| s.name_bytes().ok().map(|n| names.intern(n)))
                .collect();
            for n in defined {
                self.index.entry(n).or_insert(mi as u32);
            }
        }
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
