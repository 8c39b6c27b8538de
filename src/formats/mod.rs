//! Containers: one builder per object format, each turning an object's
//! bytes into LinkGraph sections, blocks, symbols and edges.

pub mod coff;
pub mod elf;
pub mod macho;

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::graph::Container;

/// The target triple of a link of `container` objects for `arch`: the
/// architecture's Linux triple for ELF, the Apple or Windows one for
/// Mach-O and COFF ([`macho::triple`], [`coff::triple`]).
pub fn triple(container: Container, arch: Arch) -> &'static str {
    match container {
        Container::Elf => arch.triple(),
        Container::MachO => macho::triple(arch),
        Container::Coff => coff::triple(arch),
    }
}

/// A name from an input file for an error message: lossy UTF-8, cut to
/// its first 200 characters (names can be megabytes long in hostile input).
pub fn shown(name: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(name);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], name.len()),
        None => text.into_owned(),
    }
}

/// What a file's first bytes say it is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// An ELF relocatable object for the given architecture.
    ElfObject(Arch),
    /// A Mach-O relocatable object (`MH_OBJECT`) for the given architecture.
    MachObject(Arch),
    /// A universal ("fat") Mach-O file; a session links the slice of its
    /// target ([`macho::select_slice`]).
    MachUniversal,
    /// A COFF relocatable object (regular or `/bigobj`) for the given
    /// architecture.
    CoffObject(Arch),
    /// A static archive (`!<arch>` or thin `!<thin>`).
    Archive,
    /// A shared library (ELF `ET_DYN`) to open with the dynamic loader.
    SharedLibrary,
    /// A text file that may be a GNU ld script (`GROUP(...)`, `INPUT(...)`).
    LinkerScript,
}

/// Identifies `data` (named `name` in errors).
///
/// # Errors
/// [`Error::Malformed`] for unknown or truncated headers,
/// [`Error::Unsupported`] for an ELF class, type or machine we do not link.
pub fn identify(name: &str, data: &[u8]) -> Result<FileKind> {
    if data.starts_with(b"!<arch>\n") || data.starts_with(b"!<thin>\n") {
        return Ok(FileKind::Archive);
    }
    if data.starts_with(b"\x7fELF") {
        return elf::identify(name, data);
    }
    if macho::is_macho(data) {
        return macho::identify(name, data);
    }
    if coff::is_coff(data) {
        return coff::identify(name, data);
    }
    let head = &data[..data.len().min(512)];
    if !head.is_empty() && head.iter().all(|&b| b.is_ascii() && (b >= 0x20 || b.is_ascii_whitespace())) {
        let text = String::from_utf8_lossy(head);
        if text.contains("GROUP") || text.contains("INPUT") {
            return Ok(FileKind::LinkerScript);
        }
    }
    Err(Error::Malformed {
        file: name.to_string(),
        detail: "not an ELF, Mach-O or COFF object, archive or linker script (unknown magic)".into(),
    })
}
