//! Link units for lazy linking: the input objects plus the archive members
//! they need (closed over undefined symbols, first archive wins, as the
//! session's own archive loading), each with what it defines.

use super::archive::Archive;
use super::InputData;
use crate::error::{Error, Result};
use crate::formats::{self, FileKind};
use crate::graph::Interner;
use hashbrown::HashSet;
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use std::path::Path;
use std::sync::Arc;

/// One object to link, as a whole.
pub struct Unit {
    /// Display name (`file.o`, or `lib.a(member.o)`).
    pub name: String,
    /// The object's bytes.
    pub bytes: Arc<Vec<u8>>,
    /// Global functions it defines.
    pub functions: Vec<String>,
    /// Global data (and common) symbols it defines.
    pub data: Vec<String>,
    /// Symbols it references but does not define.
    pub undefined: Vec<String>,
    /// It has initialisers or finalisers (`.init_array`, `.ctors`, ...),
    /// which must run at startup, so it cannot be linked lazily.
    pub has_initializers: bool,
}

fn unit(name: String, bytes: Vec<u8>) -> Result<Unit> {
    let file =
        object::File::parse(&*bytes).map_err(|e| Error::Malformed { file: name.clone(), detail: e.to_string() })?;
    let mut u = Unit {
        name,
        bytes: Arc::new(Vec::new()),
        functions: Vec::new(),
        data: Vec::new(),
        undefined: Vec::new(),
        has_initializers: false,
    };
    for s in file.symbols() {
        let Ok(n) = s.name() else { continue };
        if n.is_empty() || s.is_local() {
            continue;
        }
        if s.is_undefined() {
            u.undefined.push(n.to_string());
        } else if s.kind() == SymbolKind::Text {
            u.functions.push(n.to_string());
        } else {
            u.data.push(n.to_string());
        }
    }
    u.has_initializers = file.sections().any(|s| {
        s.name().is_ok_and(|n| {
            [".init_array", ".ctors", ".preinit_array", ".fini_array", ".dtors"].iter().any(|p| n.starts_with(p))
        })
    });
    drop(file);
    u.bytes = Arc::new(bytes);
    Ok(u)
}

/// Reads `files` (objects and archives) into units: every object, then the
/// archive members needed to define what they (transitively) reference.
///
/// # Errors
/// I/O and format errors naming the file.
pub fn load_units(files: &[&Path]) -> Result<Vec<Unit>> {
    let mut names = Interner::new();
    let mut units = Vec::new();
    let mut archives = Vec::new();
    for p in files {
        let data = InputData::open(p)?;
        let name = p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
        match formats::identify(&name, &data)? {
            FileKind::ElfObject(_) => units.push(unit(name, data.to_vec())?),
            FileKind::Archive => archives.push(Archive::open(p, data, &mut names)?),
            _ => return Err(Error::Usage(format!("{name}: only objects and archives can be linked lazily"))),
        }
    }
    let mut defined: HashSet<String> = units.iter().flat_map(|u| u.functions.iter().chain(&u.data).cloned()).collect();
    let mut queue: Vec<String> = units.iter().flat_map(|u| u.undefined.iter().cloned()).collect();
    let mut taken: Vec<Vec<bool>> = archives.iter().map(|a| vec![false; a.members.len()]).collect();
    while let Some(sym) = queue.pop() {
        if defined.contains(&sym) {
            continue;
        }
        let Some(id) = names.get(sym.as_bytes()) else { continue };
        for (ai, ar) in archives.iter().enumerate() {
            let Some(mi) = ar.find(id) else { continue };
            if !taken[ai][mi] {
                taken[ai][mi] = true;
                let u = unit(ar.members[mi].name.clone(), ar.member_bytes(mi).to_vec())?;
                defined.extend(u.functions.iter().chain(&u.data).cloned());
                queue.extend(u.undefined.iter().cloned());
                units.push(u);
            }
            break;
        }
    }
    Ok(units)
}
