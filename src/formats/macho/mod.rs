//! Mach-O relocatable objects (`MH_OBJECT`) for x86-64 and arm64, and
//! universal ("fat") files holding them (`<mach-o/loader.h>`,
//! `<mach-o/nlist.h>`, `<mach-o/reloc.h>`, `<mach-o/fat.h>`; relocations in
//! `<mach-o/x86_64/reloc.h>` and `<mach-o/arm64/reloc.h>`, mapped in
//! [`x86_64`] and [`aarch64`] onto the architectures' edge kinds).
//!
//! Read with `object`'s low-level Mach-O readers. What becomes of an object:
//! * one graph section per Mach-O section, named `SEGMENT,SECTION`; debug
//!   sections (`S_ATTR_DEBUG`, `__DWARF`) and embedded bitcode (`__LLVM`)
//!   are not loaded;
//! * blocks: with `MH_SUBSECTIONS_VIA_SYMBOLS` a section is split at every
//!   symbol that is not an `N_ALT_ENTRY` ("the object can be divided into
//!   individual blocks", `<mach-o/loader.h>`); C-string sections
//!   (`S_CSTRING_LITERALS`) per string, literal sections per literal,
//!   `__compact_unwind` per 32-byte entry and `__eh_frame` per CIE/FDE
//!   whatever the flag. A block keeps the alignment its offset had in the
//!   section, so when every block of a section is live the section keeps
//!   its exact layout;
//! * symbols: `N_EXT` global, `N_PEXT` private extern (hidden), `N_WEAK_DEF`
//!   weak definition, `N_WEAK_REF` weak reference, an undefined `N_EXT`
//!   with a value a common symbol (size `n_value`, alignment
//!   `2^GET_COMM_ALIGN(n_desc)`), `N_ABS` absolute, `N_NO_DEAD_STRIP`
//!   keeps its section; a symbol's size is the distance to the next symbol
//!   (or the end of its block);
//! * `__mod_init_func` / `__mod_term_func` (`S_MOD_INIT_FUNC_POINTERS`,
//!   `S_MOD_TERM_FUNC_POINTERS`) are init/fini pointer arrays, kept;
//! * `__eh_frame` and `__LD,__compact_unwind` are data kept with their
//!   functions: each function's block keeps its FDE / compact-unwind entry
//!   alive (and nothing else does). `__eh_frame` fields that the assembler
//!   resolved without a relocation (FDE CIE pointer, `pc_begin`, LSDA
//!   pointer) get edges, so the records stay right wherever blocks land;
//! * `section$start$SEG$SECT` / `section$end$SEG$SECT` are defined by
//!   [`finish`] at the start and end of the sections named `SEG,SECT`;
//! * thread-local variables (dyld's `threadLocalVariables.c` model), served
//!   by the crate's thread-local runtime (`crate::runtime::tls`):
//!   `__thread_data` (`S_THREAD_LOCAL_REGULAR`) and `__thread_bss`
//!   (`S_THREAD_LOCAL_ZEROFILL`) are the link's TLS template (roles
//!   [`SectionRole::TlsData`] / [`SectionRole::TlsBss`], read-only, laid
//!   out together as ELF's `.tdata`/`.tbss`); `__thread_vars`
//!   (`S_THREAD_LOCAL_VARIABLES`) holds one 24-byte descriptor `{thunk,
//!   key, offset}` per variable (one block each), whose `key` word the
//!   link points at its module descriptor (`crate::runtime::tls::TlsModule`)
//!   and whose `offset` word (a pointer to the variable's initial value
//!   in the object) becomes the value's offset in the template. The thunk
//!   `__tlv_bootstrap`, when no input or `--abs` defines it, is bound
//!   weakly to `crate::runtime::tls::macho_tlv_bootstrap` for x86-64 on an
//!   x86-64 Linux host (other targets leave it to whoever runs the code).
//!   Accesses (`X86_64_RELOC_TLV`, `ARM64_RELOC_TLVP_LOAD_*`) load the
//!   descriptor's address as GOT loads do, relaxed to an address
//!   computation when the descriptor is in the link (ld64 does the same).
//!   `__thread_ptrs` and `__thread_init` are refused when not empty.
//!
//! Relocation errors name file, section, offset and relocation type.

pub mod aarch64;
pub mod x86_64;

use crate::arch::Arch;
use crate::error::{Error, Location, Result};
use crate::formats::elf::{define_global, name_budget, MAX_ALIGN, MAX_SIZE};
use crate::formats::{shown, FileKind};
use crate::graph::{
    BlockId, Container, Content, Edge, EdgeKind, FileId, Interner, LinkGraph, Linkage, Prot, Scope, SectionId,
    SectionRole, Symbol, SymbolId, SymbolKind,
};
use object::macho;
use object::read::macho::{FatArch, MachHeader, Nlist, Section as _, Segment as _};
use object::Endianness;
use std::borrow::Cow;

type Header = macho::MachHeader64<Endianness>;

/// One relocation entry's fields (`struct relocation_info`, `<mach-o/reloc.h>`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RelocInfo {
    /// `r_address`: offset in the section of the relocated field.
    pub address: u32,
    /// `r_symbolnum`: symbol index (extern) or section ordinal (non-extern).
    pub symbolnum: u32,
    /// `r_pcrel`.
    pub pcrel: bool,
    /// `r_length`: 0 byte, 1 word, 2 long, 3 quad.
    pub length: u8,
    /// `r_extern`.
    pub ext: bool,
    /// `r_type`, machine specific.
    pub rtype: u8,
}

impl RelocInfo {
    /// Width of the field in bytes (`1 << r_length`).
    pub fn width(&self) -> u8 {
        1 << self.length
    }
}

/// What an edge targets, before the symbol is resolved.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Spec {
    /// Symbol table entry `r_symbolnum` (extern relocations).
    Symbol(u32),
    /// The address `addr` in the object's address space, in section
    /// ordinal `section` (non-extern relocations).
    Address {
        /// 1-based section ordinal.
        section: u32,
        /// Address in the object.
        addr: u64,
        /// How many bytes past `addr` the real target may lie: an x86-64
        /// non-extern `X86_64_RELOC_SIGNED` whose instruction ends with an
        /// immediate holds `target - (P + 4 + size of the immediate)`, so
        /// `addr` may be up to 4 bytes short of the target. The blocks that
        /// range touches are kept alive together.
        slack: u8,
    },
}

/// How a relocation (or a pair of them) becomes an edge.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Edge kind.
    pub kind: EdgeKind,
    /// Target.
    pub target: Spec,
    /// Addend (for [`Spec::Address`], added to the target's offset from
    /// the start of its block).
    pub addend: i64,
    /// Width of the field in bytes.
    pub width: u8,
    /// A second edge at the same offset giving B (the architecture's
    /// `SUBTRAHEND` kind and its target).
    pub subtrahend: Option<(EdgeKind, Spec)>,
    /// Relocation entries consumed (2 for pairs and `ARM64_RELOC_ADDEND`).
    pub used: usize,
}

impl Plan {
    fn one(kind: EdgeKind, target: Spec, addend: i64, width: u8) -> Plan {
        Plan { kind, target, addend, width, subtrahend: None, used: 1 }
    }
}

/// [`crate::graph::Edge::origin`] of an edge made from Mach-O relocation
/// type `t`: `0x100 | t` (type 0 is `*_RELOC_UNSIGNED`, and origin 0 means
/// "made by a pass").
pub const fn origin(t: u8) -> u16 {
    0x100 | t as u16
}

fn x86_64_origin_name(o: u16) -> Cow<'static, str> {
    x86_64::reloc_name(o & 0xff)
}

fn aarch64_origin_name(o: u16) -> Cow<'static, str> {
    aarch64::reloc_name(o & 0xff)
}

/// The architecture of a Mach-O `cputype`, if linked.
pub fn cpu_arch(cputype: u32) -> Option<Arch> {
    match cputype {
        macho::CPU_TYPE_X86_64 => Some(Arch::X86_64),
        macho::CPU_TYPE_ARM64 => Some(Arch::Aarch64),
        _ => None,
    }
}

/// The target triple of a Mach-O link for `arch` (LLVM's names for
/// macOS; other architectures keep their Linux triple).
pub fn triple(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86_64-apple-macosx",
        Arch::Aarch64 => "arm64-apple-macosx",
        a => a.triple(),
    }
}

fn cpu_name(cputype: u32) -> String {
    match cputype {
        macho::CPU_TYPE_X86_64 => "x86_64".into(),
        macho::CPU_TYPE_ARM64 => "arm64".into(),
        macho::CPU_TYPE_X86 => "i386".into(),
        macho::CPU_TYPE_ARM => "arm".into(),
        macho::CPU_TYPE_ARM64_32 => "arm64_32".into(),
        macho::CPU_TYPE_POWERPC => "ppc".into(),
        macho::CPU_TYPE_POWERPC64 => "ppc64".into(),
        t => format!("cputype {t:#x}"),
    }
}

/// The architecture a target triple names (its first component:
/// `x86_64`/`amd64`, `arm64`/`aarch64`, `riscv64`, `powerpc64le`,
/// `powerpc64`), if linked.
pub fn triple_arch(triple: &str) -> Option<Arch> {
    let cpu = triple.split('-').next().unwrap_or("");
    match cpu {
        "x86_64" | "x86_64h" | "amd64" => Some(Arch::X86_64),
        "arm64" | "aarch64" => Some(Arch::Aarch64),
        "riscv64" => Some(Arch::Riscv64),
        "powerpc64le" | "ppc64le" => Some(Arch::Ppc64Le),
        "powerpc64" | "ppc64" => Some(Arch::Ppc64Be),
        _ => None,
    }
}

fn malformed(file: &str, detail: impl Into<String>) -> Error {
    Error::Malformed { file: file.to_string(), detail: detail.into() }
}

fn unsupported(file: &str, detail: impl Into<String>) -> Error {
    Error::Unsupported { file: file.to_string(), detail: detail.into() }
}

/// The little-endian `u32` at the start of `data`.
fn magic(data: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(..4)?.try_into().ok()?))
}

/// True when `data` starts like a Mach-O file (thin 32/64-bit, either byte
/// order) or a universal file (`FAT_MAGIC`, `FAT_MAGIC_64`, big-endian).
pub fn is_macho(data: &[u8]) -> bool {
    let Some(m) = magic(data) else { return false };
    matches!(m, macho::MH_MAGIC_64 | macho::MH_CIGAM_64 | macho::MH_MAGIC | macho::MH_CIGAM)
        || matches!(m.swap_bytes(), macho::FAT_MAGIC | macho::FAT_MAGIC_64) && fat_count(data) <= MAX_FAT_ARCHES
}

/// Most slices a universal file may have: more than any real file (and
/// fewer than a Java class file's version number, which shares the magic).
const MAX_FAT_ARCHES: u32 = 32;

fn fat_count(data: &[u8]) -> u32 {
    data.get(4..8).map_or(0, |b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
}

/// Identifies a Mach-O file: a relocatable object's architecture, or a
/// universal file.
///
/// # Errors
/// [`Error::Malformed`] for a truncated header, [`Error::Unsupported`] for
/// 32-bit or big-endian files, other file types and CPUs.
pub fn identify(name: &str, data: &[u8]) -> Result<FileKind> {
    let m = magic(data).ok_or_else(|| malformed(name, "Mach-O header truncated"))?;
    if matches!(m.swap_bytes(), macho::FAT_MAGIC | macho::FAT_MAGIC_64) {
        fat_slices(name, data)?;
        return Ok(FileKind::MachUniversal);
    }
    match m {
        macho::MH_MAGIC_64 => {}
        macho::MH_MAGIC | macho::MH_CIGAM => return Err(unsupported(name, "32-bit Mach-O (only 64-bit is linked)")),
        _ => return Err(unsupported(name, "big-endian Mach-O")),
    }
    let hdr = Header::parse(data, 0).map_err(|e| malformed(name, format!("Mach-O header: {e}")))?;
    let endian = hdr.endian().map_err(|e| malformed(name, format!("Mach-O header: {e}")))?;
    let ft = hdr.filetype(endian);
    if ft != macho::MH_OBJECT {
        return Err(unsupported(
            name,
            format!("Mach-O filetype {ft} (only relocatable objects, MH_OBJECT, are linked)"),
        ));
    }
    let cpu = hdr.cputype(endian);
    match cpu_arch(cpu) {
        Some(a) => Ok(FileKind::MachObject(a)),
        None => Err(unsupported(name, format!("Mach-O CPU {}", cpu_name(cpu)))),
    }
}

/// The slices of a universal file: `(cputype, offset, size)`, each checked
/// to lie within the file.
///
/// # Errors
/// [`Error::Malformed`] for a truncated or inconsistent fat header.
pub fn fat_slices(name: &str, data: &[u8]) -> Result<Vec<(u32, u64, u64)>> {
    let bad = |d: String| malformed(name, format!("universal (fat) header: {d}"));
    let n = fat_count(data);
    if n > MAX_FAT_ARCHES {
        return Err(bad(format!("nfat_arch {n} is more than {MAX_FAT_ARCHES}")));
    }
    let mut out = Vec::new();
    let is64 = magic(data).map(u32::swap_bytes) == Some(macho::FAT_MAGIC_64);
    let arches: Vec<(u32, u64, u64)> = if is64 {
        let f = object::read::macho::MachOFatFile64::parse(data).map_err(|e| bad(e.to_string()))?;
        f.arches().iter().map(|a| (a.cputype(), a.offset(), a.size())).collect()
    } else {
        let f = object::read::macho::MachOFatFile32::parse(data).map_err(|e| bad(e.to_string()))?;
        f.arches().iter().map(|a| (a.cputype(), u64::from(a.offset()), u64::from(a.size()))).collect()
    };
    for (i, (cpu, off, size)) in arches.into_iter().enumerate() {
        if off.checked_add(size).is_none_or(|e| e > data.len() as u64) {
            return Err(bad(format!(
                "slice {i} ({}) at {off:#x} + {size:#x} bytes lies past the end of the file ({:#x} bytes)",
                cpu_name(cpu),
                data.len()
            )));
        }
        out.push((cpu, off, size));
    }
    Ok(out)
}

/// The slice of universal file `data` for `arch`.
///
/// # Errors
/// [`Error::Unsupported`] when no slice is for `arch` (naming the slices
/// there are); header errors as [`fat_slices`].
pub fn select_slice<'a>(name: &str, data: &'a [u8], arch: Arch) -> Result<&'a [u8]> {
    let slices = fat_slices(name, data)?;
    for &(cpu, off, size) in &slices {
        if cpu_arch(cpu) == Some(arch) {
            return Ok(&data[off as usize..(off + size) as usize]);
        }
    }
    let have: Vec<String> = slices.iter().map(|s| cpu_name(s.0)).collect();
    Err(unsupported(name, format!("universal file has no slice for {} (it has: {})", triple(arch), have.join(", "))))
}

/// What a symbol table entry became.
#[derive(Copy, Clone)]
enum Mapped {
    Sym(SymbolId),
    Unloaded(&'static str),
}

/// One section of the object as the builder sees it.
struct Sect<'a> {
    label: String,
    segname: &'a [u8],
    sectname: &'a [u8],
    addr: u64,
    size: u64,
    align: u64,
    flags: u32,
    data: Option<&'a [u8]>,
    relocs: &'a [macho::Relocation<Endianness>],
    skip: Option<&'static str>,
    section: Option<SectionId>,
    /// `(offset in section, block)`, by offset.
    blocks: Vec<(u64, BlockId)>,
    /// Anonymous symbol at the start of each block (made on first use).
    anon: Vec<Option<SymbolId>>,
}

impl Sect<'_> {
    fn stype(&self) -> u32 {
        self.flags & macho::SECTION_TYPE
    }

    fn zerofill(&self) -> bool {
        matches!(self.stype(), macho::S_ZEROFILL | macho::S_GB_ZEROFILL | macho::S_THREAD_LOCAL_ZEROFILL)
    }

    fn is_eh_frame(&self) -> bool {
        self.sectname == b"__eh_frame"
    }

    fn is_compact_unwind(&self) -> bool {
        self.segname == b"__LD" && self.sectname == b"__compact_unwind"
    }

    /// Index in `blocks` of the block holding offset `off` (the last one
    /// starting at or before it).
    fn block_at(&self, off: u64) -> usize {
        self.blocks.partition_point(|&(o, _)| o <= off).saturating_sub(1)
    }

    fn block_end(&self, i: usize) -> u64 {
        self.blocks.get(i + 1).map_or(self.size, |b| b.0)
    }
}

fn trim(name: &[u8; 16]) -> &[u8] {
    let end = name.iter().position(|&b| b == 0).unwrap_or(16);
    &name[..end]
}

/// The alignment a block at `off` of a section aligned to `align` keeps:
/// the largest power of two dividing `off`, at most `align`.
fn block_align(off: u64, align: u64) -> u64 {
    if off == 0 {
        align
    } else {
        align.min(1 << off.trailing_zeros())
    }
}

/// Edge kinds a builder needs from the architecture.
struct Kinds {
    pointer64: EdgeKind,
    pointer32: EdgeKind,
    pair64: EdgeKind,
    pair32: EdgeKind,
    subtrahend: EdgeKind,
    keep_alive: EdgeKind,
    /// 64-bit offset of `S + A` in the TLS template (lowered at pre-fixup).
    dtprel64: EdgeKind,
    /// 64-bit address of the link's TLS module descriptor, whatever the
    /// target, when the architecture's GOT pass provides one (x86-64);
    /// otherwise the builder makes the descriptor itself.
    tls_module: Option<EdgeKind>,
}

fn kinds(arch: Arch) -> Kinds {
    match arch {
        Arch::Aarch64 => {
            use crate::arch::aarch64::edges as k;
            Kinds {
                pointer64: k::POINTER64,
                pointer32: k::POINTER32,
                pair64: k::DELTA64_PAIR,
                pair32: k::DELTA32_PAIR,
                subtrahend: k::SUBTRAHEND,
                keep_alive: k::KEEP_ALIVE,
                dtprel64: k::REQ_DTPREL64,
                tls_module: None,
            }
        }
        _ => {
            use crate::arch::x86_64::edges as k;
            Kinds {
                pointer64: k::POINTER64,
                pointer32: k::POINTER32,
                pair64: k::DELTA64_PAIR,
                pair32: k::DELTA32_PAIR,
                subtrahend: k::SUBTRAHEND,
                keep_alive: k::KEEP_ALIVE,
                dtprel64: k::DTPOFF64,
                tls_module: Some(k::TLS_MODULE64),
            }
        }
    }
}

struct Builder<'g, 'a> {
    g: &'g mut LinkGraph<'a>,
    file: FileId,
    fname: String,
    sects: Vec<Sect<'a>>,
}

impl<'a> Builder<'_, 'a> {
    fn bad(&self, detail: String) -> Error {
        malformed(&self.fname, detail)
    }

    /// The anonymous symbol at the start of block `bi` of section `si`.
    fn anon(&mut self, si: usize, bi: usize) -> SymbolId {
        if let Some(s) = self.sects[si].anon[bi] {
            return s;
        }
        let b = self.sects[si].blocks[bi].1;
        let s = self.g.add_anonymous(b, 0, self.file);
        self.sects[si].anon[bi] = Some(s);
        s
    }

    /// Section index (0-based) and loaded state of 1-based ordinal `n`.
    fn ordinal(&self, n: u32) -> Option<usize> {
        let i = (n as usize).checked_sub(1)?;
        (i < self.sects.len()).then_some(i)
    }

    /// The block of section `si` holding object address `addr`: its start
    /// symbol and `addr`'s offset from it. An address outside the section
    /// (an addend that points elsewhere) is taken from the section's start,
    /// and the whole section is kept so its layout stays as in the object.
    fn at_address(&mut self, si: usize, addr: u64) -> (SymbolId, i64) {
        let s = &self.sects[si];
        let inside = addr >= s.addr && addr - s.addr <= s.size;
        if !inside {
            if let Some(sec) = s.section {
                self.g.sections[sec.index()].keep = true;
            }
            let d = addr.wrapping_sub(s.addr) as i64;
            return (self.anon(si, 0), d);
        }
        let off = addr - s.addr;
        let bi = s.block_at(off);
        let d = (off - s.blocks[bi].0) as i64;
        (self.anon(si, bi), d)
    }

    /// The section holding object address `addr`, among loaded ones.
    fn section_of_address(&self, addr: u64) -> Option<usize> {
        self.sects.iter().position(|s| s.section.is_some() && addr >= s.addr && addr - s.addr < s.size.max(1))
    }
}

/// Adds the Mach-O relocatable object `data` (named `name` in errors and the
/// dump) to `g`.
///
/// # Errors
/// [`Error::Malformed`] naming the field for anything out of bounds or
/// inconsistent; [`Error::Unsupported`] for features not linked;
/// [`Error::UnsupportedRelocation`] naming section, offset and type;
/// [`Error::DuplicateDefinition`] for a second strong definition.
pub fn build<'a>(g: &mut LinkGraph<'a>, names: &mut Interner, name: String, data: &'a [u8]) -> Result<FileId> {
    let arch = match identify(&name, data)? {
        FileKind::MachObject(a) => a,
        _ => return Err(unsupported(&name, "a universal file must be split into its slice first")),
    };
    let fname = name.clone();
    let bad = |d: String| malformed(&fname, d);
    let hdr = Header::parse(data, 0).map_err(|e| bad(format!("Mach-O header: {e}")))?;
    let endian = hdr.endian().map_err(|e| bad(format!("Mach-O header: {e}")))?;
    let subsections = hdr.flags(endian) & macho::MH_SUBSECTIONS_VIA_SYMBOLS != 0;
    let len = data.len() as u64;

    let file = g.add_file(name.clone());
    g.files[file.index()].reloc_name = match arch {
        Arch::Aarch64 => aarch64_origin_name,
        _ => x86_64_origin_name,
    };
    g.files[file.index()].container = Container::MachO;

    // Load commands: the sections of every LC_SEGMENT_64, and LC_SYMTAB.
    let mut sects: Vec<Sect<'a>> = Vec::new();
    let mut symtab = None;
    let mut cmds = hdr.load_commands(endian, data, 0).map_err(|e| bad(format!("load commands: {e}")))?;
    while let Some(cmd) = cmds.next().map_err(|e| bad(format!("load command: {e}")))? {
        if cmd.cmd() == macho::LC_SEGMENT {
            return Err(unsupported(&name, "32-bit segment (LC_SEGMENT) in a 64-bit Mach-O"));
        }
        if let Some((seg, sdata)) = cmd.segment_64().map_err(|e| bad(format!("LC_SEGMENT_64: {e}")))? {
            let list = seg.sections(endian, sdata).map_err(|e| bad(format!("LC_SEGMENT_64 sections: {e}")))?;
            for s in list {
                let i = sects.len();
                let (segname, sectname) = (trim(s.segname()), trim(s.sectname()));
                let label = format!("{},{}", shown(segname), shown(sectname));
                let (addr, size, flags) = (s.addr(endian), s.size(endian), s.flags(endian));
                let align_log = s.align(endian);
                if align_log > 32 {
                    return Err(bad(format!(
                        "section {} ({label}): alignment 2^{align_log} is larger than 4 GiB",
                        i + 1
                    )));
                }
                if size > MAX_SIZE {
                    return Err(bad(format!("section {} ({label}): size {size:#x} is larger than 4 GiB", i + 1)));
                }
                if addr.checked_add(size).is_none() {
                    return Err(bad(format!(
                        "section {} ({label}): address {addr:#x} + size {size:#x} overflows",
                        i + 1
                    )));
                }
                let mut sect = Sect {
                    label,
                    segname,
                    sectname,
                    addr,
                    size,
                    align: (1u64 << align_log).min(MAX_ALIGN),
                    flags,
                    data: None,
                    relocs: &[],
                    skip: None,
                    section: None,
                    blocks: Vec::new(),
                    anon: Vec::new(),
                };
                if !sect.zerofill() {
                    let off = u64::from(s.offset(endian));
                    if off.checked_add(size).is_none_or(|e| e > len) {
                        return Err(bad(format!(
                            "section {} ({}): offset {off:#x} + size {size:#x} past the end of the file ({len:#x} bytes)",
                            i + 1,
                            sect.label
                        )));
                    }
                    sect.data = Some(&data[off as usize..(off + size) as usize]);
                }
                let (reloff, nreloc) = (u64::from(s.reloff(endian)), u64::from(s.nreloc(endian)));
                if reloff.checked_add(nreloc * 8).is_none_or(|e| e > len) {
                    return Err(bad(format!(
                        "section {} ({}): {nreloc} relocations at {reloff:#x} lie past the end of the file",
                        i + 1,
                        sect.label
                    )));
                }
                sect.relocs =
                    s.relocations(endian, data).map_err(|e| bad(format!("{}: relocations: {e}", sect.label)))?;
                sects.push(sect);
            }
        }
        if let Some(st) = cmd.symtab().map_err(|e| bad(format!("LC_SYMTAB: {e}")))? {
            symtab = Some(st);
        }
    }
    if sects.len() > 255 {
        return Err(bad(format!("{} sections; n_sect can name at most 255", sects.len())));
    }
    let symbols = match symtab {
        Some(st) => st.symbols::<Header, &[u8]>(endian, data).map_err(|e| bad(format!("LC_SYMTAB: {e}")))?,
        None => Default::default(),
    };
    let strsize = symtab.map_or(0, |st| st.strsize.get(endian));
    let nlists: &[macho::Nlist64<Endianness>] = symbols.iter().as_slice();

    // Which sections load, and where symbols split them.
    let mut splits: Vec<Vec<u64>> = vec![vec![0]; sects.len()];
    for (i, s) in sects.iter_mut().enumerate() {
        let attrs = s.flags & macho::SECTION_ATTRIBUTES;
        // __LD,__compact_unwind carries S_ATTR_DEBUG, yet is unwind data.
        s.skip = if (attrs & macho::S_ATTR_DEBUG != 0 && !s.is_compact_unwind()) || s.segname == b"__DWARF" {
            Some("debug section, not loaded")
        } else if s.segname == b"__LLVM" {
            Some("embedded bitcode section, not loaded")
        } else if matches!(
            s.stype(),
            macho::S_THREAD_LOCAL_VARIABLE_POINTERS | macho::S_THREAD_LOCAL_INIT_FUNCTION_POINTERS
        ) && s.size == 0
        {
            Some("empty thread-local pointer section, not loaded")
        } else {
            None
        };
        if s.skip.is_some() {
            continue;
        }
        // Compact unwind entries are split and read every 32 bytes of the
        // section: only contents (bounded by the file) may say how many.
        if s.is_compact_unwind() && s.zerofill() && s.size > 0 {
            return Err(bad(format!(
                "section {} ({}): zero-fill compact unwind section of {:#x} bytes (its entries need contents)",
                i + 1,
                s.label,
                s.size
            )));
        }
        let indirect = matches!(
            s.stype(),
            macho::S_NON_LAZY_SYMBOL_POINTERS
                | macho::S_LAZY_SYMBOL_POINTERS
                | macho::S_SYMBOL_STUBS
                | macho::S_LAZY_DYLIB_SYMBOL_POINTERS
        );
        if indirect && s.size > 0 {
            return Err(unsupported(
                &name,
                format!("section {} ({}): indirect symbol sections are not linked", i + 1, s.label),
            ));
        }
        if s.stype() == macho::S_THREAD_LOCAL_VARIABLE_POINTERS {
            return Err(unsupported(
                &name,
                format!(
                    "section {} ({}): thread-local variable pointers (S_THREAD_LOCAL_VARIABLE_POINTERS) are made by \
                     static linkers, not linked from objects",
                    i + 1,
                    s.label
                ),
            ));
        }
        if s.stype() == macho::S_THREAD_LOCAL_INIT_FUNCTION_POINTERS {
            return Err(unsupported(
                &name,
                format!(
                    "section {} ({}): thread-local initialiser functions (S_THREAD_LOCAL_INIT_FUNCTION_POINTERS) are \
                     not supported",
                    i + 1,
                    s.label
                ),
            ));
        }
        if s.stype() == macho::S_THREAD_LOCAL_VARIABLES && s.size % TLV_SIZE != 0 {
            return Err(malformed(
                &name,
                format!(
                    "section {} ({}): size {:#x} is not a multiple of the {TLV_SIZE}-byte thread-local variable \
                     descriptor",
                    i + 1,
                    s.label,
                    s.size
                ),
            ));
        }
        if s.stype() == macho::S_INIT_FUNC_OFFSETS && s.size > 0 {
            return Err(unsupported(
                &name,
                format!("section {} ({}): S_INIT_FUNC_OFFSETS initialisers are not supported", i + 1, s.label),
            ));
        }
        let bytes = s.data.unwrap_or(&[]);
        let sp = &mut splits[i];
        let every = |n: u64, sp: &mut Vec<u64>| sp.extend((n..s.size).step_by(n as usize));
        match s.stype() {
            macho::S_CSTRING_LITERALS => {
                sp.extend(bytes.iter().enumerate().filter(|(_, &b)| b == 0).map(|(k, _)| k as u64 + 1));
            }
            macho::S_4BYTE_LITERALS => every(4, sp),
            macho::S_8BYTE_LITERALS | macho::S_LITERAL_POINTERS => every(8, sp),
            macho::S_THREAD_LOCAL_VARIABLES => every(TLV_SIZE, sp),
            macho::S_16BYTE_LITERALS => every(16, sp),
            _ if s.is_compact_unwind() => every(32, sp),
            _ if s.sectname == b"__eh_frame" => {
                let mut off = 0usize;
                while off + 4 <= bytes.len() {
                    let l32 = u32::from_le_bytes(bytes[off..off + 4].try_into().expect("4 bytes"));
                    if l32 == 0 {
                        break;
                    }
                    let rec = if l32 == u32::MAX {
                        let l64 = bytes
                            .get(off + 4..off + 12)
                            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
                            .ok_or_else(|| bad(format!("{}: record at {off:#x}: truncated 64-bit length", s.label)))?;
                        l64.checked_add(12)
                    } else {
                        u64::from(l32).checked_add(4)
                    };
                    let next = rec.and_then(|r| (off as u64).checked_add(r)).filter(|&e| e <= bytes.len() as u64);
                    let Some(next) = next else {
                        return Err(bad(format!("{}: record at {off:#x} overruns the section", s.label)));
                    };
                    off = next as usize;
                    sp.push(off as u64);
                }
            }
            _ => {}
        }
    }
    // Subsections: every non-alt-entry symbol of a section starts a block.
    if subsections {
        for n in nlists {
            let t = n.n_type();
            if t & macho::N_STAB != 0 || t & macho::N_TYPE != macho::N_SECT {
                continue;
            }
            if n.n_desc(endian) & macho::N_ALT_ENTRY != 0 {
                continue;
            }
            let Some(i) = (n.n_sect() as usize).checked_sub(1).filter(|&i| i < sects.len()) else { continue };
            let v = n.n_value(endian);
            let s = &sects[i];
            if v >= s.addr && v - s.addr < s.size && !matches!(s.stype(), macho::S_MOD_INIT_FUNC_POINTERS) {
                splits[i].push(v - s.addr);
            }
        }
    }

    // Sections and blocks.
    for (i, s) in sects.iter_mut().enumerate() {
        if s.skip.is_some() {
            continue;
        }
        let attrs = s.flags & macho::SECTION_ATTRIBUTES;
        let code = attrs & (macho::S_ATTR_PURE_INSTRUCTIONS | macho::S_ATTR_SOME_INSTRUCTIONS) != 0;
        let tls = matches!(s.stype(), macho::S_THREAD_LOCAL_REGULAR | macho::S_THREAD_LOCAL_ZEROFILL);
        let prot = if code {
            Prot::ReadExec
        } else if tls {
            // The TLS template: each thread's block is a copy of it.
            Prot::Read
        } else if s.zerofill() {
            Prot::ReadWrite
        } else if s.segname == b"__TEXT" || s.segname == b"__DATA_CONST" {
            Prot::Read
        } else {
            Prot::ReadWrite
        };
        let role = match s.stype() {
            macho::S_MOD_INIT_FUNC_POINTERS => SectionRole::InitArray(65535),
            macho::S_MOD_TERM_FUNC_POINTERS => SectionRole::FiniArray(65535),
            macho::S_THREAD_LOCAL_REGULAR => SectionRole::TlsData,
            macho::S_THREAD_LOCAL_ZEROFILL => SectionRole::TlsBss,
            _ => SectionRole::Regular,
        };
        let sid = g.add_section(names.intern(s.label.as_bytes()), file, prot, role);
        g.sections[sid.index()].input_index = i as u32;
        let plain = matches!(role, SectionRole::Regular | SectionRole::TlsData | SectionRole::TlsBss);
        if !plain || attrs & macho::S_ATTR_NO_DEAD_STRIP != 0 {
            g.sections[sid.index()].keep = true;
        }
        s.section = Some(sid);
        let sp = &mut splits[i];
        sp.sort_unstable();
        sp.dedup();
        sp.retain(|&o| o == 0 || o < s.size);
        for (k, &o) in sp.iter().enumerate() {
            let end = sp.get(k + 1).copied().unwrap_or(s.size);
            let content = match s.data {
                Some(d) => Content::Borrowed(&d[o as usize..end as usize]),
                None => Content::Zero,
            };
            let b = g.add_block(sid, content, end - o, block_align(o, s.align));
            g.blocks[b.index()].section_offset = o;
            s.blocks.push((o, b));
        }
        s.anon = vec![None; s.blocks.len()];
    }

    let mut bld = Builder { g, file, fname: name.clone(), sects };

    // Symbols.
    let strings = symbols.strings();
    let mut budget = name_budget(data.len());
    let mut sym_map: Vec<Mapped> = vec![Mapped::Unloaded("symbol not mapped"); nlists.len()];
    // Symbol offsets per section, for sizes.
    let mut offsets: Vec<Vec<u64>> = vec![Vec::new(); bld.sects.len()];
    for n in nlists {
        if n.n_type() & (macho::N_STAB | macho::N_TYPE) == macho::N_SECT {
            if let Some(i) = (n.n_sect() as usize).checked_sub(1).filter(|&i| i < bld.sects.len()) {
                offsets[i].push(n.n_value(endian).wrapping_sub(bld.sects[i].addr));
            }
        }
    }
    for o in offsets.iter_mut() {
        o.sort_unstable();
        o.dedup();
    }
    for (idx, n) in nlists.iter().enumerate() {
        let t = n.n_type();
        if t & macho::N_STAB != 0 {
            sym_map[idx] = Mapped::Unloaded("debugging (stab) symbol");
            continue;
        }
        let strx = n.n_strx(endian);
        if strx >= strsize.max(1) && strx != 0 {
            return Err(bld
                .bad(format!("symbol {idx}: n_strx {strx:#x} past the end of the string table ({strsize:#x} bytes)")));
        }
        let sname = n.name(endian, strings).map_err(|_| {
            bld.bad(format!("symbol {idx}: n_strx {strx:#x}: name not NUL-terminated within the string table"))
        })?;
        budget = budget.checked_sub(sname.len() as u64 + 1).ok_or_else(|| {
            bld.bad(format!("symbol {idx}: names read so far exceed {} bytes", name_budget(data.len())))
        })?;
        let name_id = (!sname.is_empty()).then(|| names.intern(sname));
        let desc = n.n_desc(endian);
        let ext = t & macho::N_EXT != 0;
        let pext = t & macho::N_PEXT != 0;
        let scope = match (ext, pext) {
            (true, true) => Scope::Hidden,
            (true, false) => Scope::Default,
            _ => Scope::Local,
        };
        let value = n.n_value(endian);
        let show = || shown(sname);
        match t & macho::N_TYPE {
            macho::N_UNDF => {
                let Some(nid) = name_id else {
                    return Err(bld.bad(format!("symbol {idx}: undefined symbol without a name")));
                };
                if !ext {
                    return Err(bld.bad(format!("symbol {idx} ({}): undefined symbol that is not N_EXT", show())));
                }
                if value != 0 {
                    // A common symbol: n_value is its size, GET_COMM_ALIGN its alignment.
                    let align_log = (desc >> 8) & 0x0f;
                    if value > MAX_SIZE {
                        return Err(
                            bld.bad(format!("common symbol {idx} ({}): size {value:#x} is larger than 4 GiB", show()))
                        );
                    }
                    let def = Symbol {
                        name: Some(nid),
                        file,
                        block: None,
                        value: 1 << align_log,
                        size: value,
                        linkage: Linkage::Strong,
                        scope,
                        kind: SymbolKind::Common,
                        callable: false,
                        resolved: false,
                        target_flags: 0,
                    };
                    sym_map[idx] = Mapped::Sym(define_global(bld.g, names, def)?);
                    continue;
                }
                let id = bld.g.global_ref(nid, file);
                let s = &mut bld.g.symbols[id.index()];
                if s.kind == SymbolKind::External && desc & macho::N_WEAK_REF == 0 {
                    s.linkage = Linkage::Strong;
                }
                sym_map[idx] = Mapped::Sym(id);
            }
            macho::N_ABS | macho::N_SECT => {
                let mut def = Symbol {
                    name: name_id,
                    file,
                    block: None,
                    value,
                    size: 0,
                    linkage: if ext && desc & macho::N_WEAK_DEF != 0 { Linkage::Weak } else { Linkage::Strong },
                    scope,
                    kind: SymbolKind::Absolute,
                    callable: false,
                    resolved: false,
                    target_flags: 0,
                };
                if t & macho::N_TYPE == macho::N_SECT {
                    let ns = n.n_sect();
                    let Some(si) = bld.ordinal(u32::from(ns)) else {
                        return Err(bld.bad(format!(
                            "symbol {idx} ({}): n_sect {ns} out of range ({} sections)",
                            show(),
                            bld.sects.len()
                        )));
                    };
                    let s = &bld.sects[si];
                    if let Some(why) = s.skip {
                        sym_map[idx] = Mapped::Unloaded(why);
                        continue;
                    }
                    if value < s.addr || value - s.addr > s.size {
                        return Err(bld.bad(format!(
                            "symbol {idx} ({}): n_value {value:#x} outside its section {} ({:#x}..{:#x})",
                            show(),
                            s.label,
                            s.addr,
                            s.addr + s.size
                        )));
                    }
                    let off = value - s.addr;
                    let bi = s.block_at(off);
                    let (bstart, b) = s.blocks[bi];
                    let next = offsets[si].get(offsets[si].partition_point(|&o| o <= off)).copied().unwrap_or(s.size);
                    def.kind = SymbolKind::Defined;
                    def.block = Some(b);
                    def.value = off - bstart;
                    def.size = next.min(s.block_end(bi)).saturating_sub(off);
                    def.callable = bld.g.sections[s.section.expect("loaded").index()].prot == Prot::ReadExec;
                    if desc & macho::N_NO_DEAD_STRIP != 0 {
                        bld.g.sections[s.section.expect("loaded").index()].keep = true;
                    }
                }
                let id =
                    if !ext || name_id.is_none() { bld.g.add_symbol(def) } else { define_global(bld.g, names, def)? };
                sym_map[idx] = Mapped::Sym(id);
            }
            macho::N_INDR => {
                return Err(unsupported(&name, format!("symbol {idx} ({}): indirect symbol (N_INDR)", show())))
            }
            other => {
                return Err(unsupported(
                    &name,
                    format!("symbol {idx} ({}): n_type {other:#x} (N_PBUD or unknown)", show()),
                ))
            }
        }
    }

    // Relocations.
    let k = kinds(arch);
    let mapper: fn(&RelocInfo, Option<&RelocInfo>, i64, u64) -> std::result::Result<Plan, &'static str> = match arch {
        Arch::Aarch64 => aarch64::map,
        _ => x86_64::map,
    };
    let rname = |t: u8| match arch {
        Arch::Aarch64 => aarch64::reloc_name(u16::from(t)).into_owned(),
        _ => x86_64::reloc_name(u16::from(t)).into_owned(),
    };
    // Offsets of relocated fields per section (for __eh_frame's implicit edges).
    let mut relocated: Vec<hashbrown::HashSet<u64>> = vec![Default::default(); bld.sects.len()];
    #[allow(clippy::needless_range_loop)] // `bld` is borrowed mutably in the body
    for si in 0..bld.sects.len() {
        if bld.sects[si].section.is_none() || bld.sects[si].relocs.is_empty() {
            continue;
        }
        let label = bld.sects[si].label.clone();
        let loc = |offset: u64| Box::new(Location { file: name.clone(), section: label.clone(), offset });
        let infos: Vec<RelocInfo> = bld.sects[si]
            .relocs
            .iter()
            .map(|r| {
                if r.r_word0.get(endian) & macho::R_SCATTERED != 0 {
                    return Err(unsupported(
                        &name,
                        format!("{label}: scattered relocation (not used by 64-bit objects)"),
                    ));
                }
                let i = r.info(endian);
                Ok(RelocInfo {
                    address: i.r_address,
                    symbolnum: i.r_symbolnum,
                    pcrel: i.r_pcrel,
                    length: i.r_length,
                    ext: i.r_extern,
                    rtype: i.r_type,
                })
            })
            .collect::<Result<_>>()?;
        let (sec_size, sec_addr) = (bld.sects[si].size, bld.sects[si].addr);
        let bytes = bld.sects[si].data;
        let mut i = 0;
        while i < infos.len() {
            let r = infos[i];
            let field_at = u64::from(r.address);
            let width = u64::from(r.width());
            let Some(bytes) = bytes else {
                return Err(bld.bad(format!("{label}: relocation {} in a zero-fill section", rname(r.rtype))));
            };
            if field_at.checked_add(width).is_none_or(|e| e > sec_size) {
                return Err(bld.bad(format!(
                    "section {label}: relocation {} at offset {field_at:#x} (r_address) past the end of the section \
                     ({sec_size:#x} bytes)",
                    rname(r.rtype)
                )));
            }
            let f = &bytes[field_at as usize..(field_at + width) as usize];
            let content = match f.len() {
                1 => i64::from(f[0] as i8),
                2 => i64::from(i16::from_le_bytes(f.try_into().expect("2"))),
                4 => i64::from(i32::from_le_bytes(f.try_into().expect("4"))),
                _ => i64::from_le_bytes(f.try_into().expect("8")),
            };
            let main_type = if r.rtype == aarch64::ADDEND && arch == Arch::Aarch64 {
                infos.get(i + 1).map_or(r.rtype, |n| n.rtype)
            } else {
                r.rtype
            };
            let plan = mapper(&r, infos.get(i + 1), content, sec_addr + field_at).map_err(|reason| {
                Error::UnsupportedRelocation { at: loc(field_at), relocation: rname(main_type), reason }
            })?;
            if field_at + u64::from(plan.width) > sec_size {
                return Err(bld.bad(format!(
                    "section {label}: relocation {} at offset {field_at:#x} past the end of the section",
                    rname(main_type)
                )));
            }
            let mut keep = Vec::new();
            let (target, delta) =
                resolve(&mut bld, &sym_map, plan.target, &loc, &rname(main_type), field_at, &mut keep)?;
            let bi = bld.sects[si].block_at(field_at);
            let (bstart, b) = bld.sects[si].blocks[bi];
            if field_at + u64::from(plan.width) > bld.sects[si].block_end(bi) {
                return Err(bld.bad(format!(
                    "section {label}: relocation {} at offset {field_at:#x} straddles the boundary of a subsection \
                     (the symbol at {:#x})",
                    rname(main_type),
                    bld.sects[si].block_end(bi)
                )));
            }
            let offset = (field_at - bstart) as u32;
            let origin = origin(main_type);
            bld.g.blocks[b.index()].edges.push(Edge {
                offset,
                target,
                kind: plan.kind,
                origin,
                addend: plan.addend.wrapping_add(delta),
            });
            if let Some((kind, spec)) = plan.subtrahend {
                let (mut t2, mut d2) = resolve(&mut bld, &sym_map, spec, &loc, &rname(main_type), field_at, &mut keep)?;
                // In __eh_frame the subtrahend is the section's start symbol
                // and the content holds its distance to the field: the pair
                // is pc-relative. Rebase B on the field's own record, so the
                // value stays right when records before it are dropped.
                let sym = &bld.g.symbols[t2.index()];
                if let (true, SymbolKind::Defined, Some(tb)) = (bld.sects[si].is_eh_frame(), sym.kind, sym.block) {
                    let tblk = &bld.g.blocks[tb.index()];
                    if tb != b && Some(tblk.section) == bld.sects[si].section {
                        let b_off = (tblk.section_offset + sym.value) as i64 + d2;
                        d2 = b_off - bstart as i64;
                        t2 = bld.anon(si, bi);
                    }
                }
                bld.g.blocks[b.index()].edges.push(Edge { offset, target: t2, kind, origin, addend: d2 });
            }
            for t in keep {
                bld.g.blocks[b.index()].edges.push(Edge { offset, target: t, kind: k.keep_alive, origin, addend: 0 });
            }
            relocated[si].insert(field_at);
            i += plan.used;
        }
    }

    tlv_descriptors(&mut bld, names, arch, &k)?;

    // Unwind information kept with its functions.
    #[allow(clippy::needless_range_loop)] // `bld` is borrowed mutably in the body
    for si in 0..bld.sects.len() {
        if bld.sects[si].section.is_none() {
            continue;
        }
        let mut fields: Vec<u64> = Vec::new();
        if bld.sects[si].is_eh_frame() {
            fields = eh_frame_edges(&mut bld, si, &relocated[si], &k)?;
        } else if bld.sects[si].is_compact_unwind() {
            fields = (0..bld.sects[si].size).step_by(32).collect();
        }
        if fields.is_empty() {
            continue;
        }
        // The unwind section lives only through its functions.
        let sec = bld.sects[si].section.expect("loaded");
        bld.g.sections[sec.index()].keep = false;
        for at in fields {
            let bi = bld.sects[si].block_at(at);
            let (bstart, b) = bld.sects[si].blocks[bi];
            let targets: Vec<SymbolId> = bld.g.blocks[b.index()]
                .edges
                .iter()
                .filter(|e| u64::from(e.offset) == at - bstart && e.kind != k.subtrahend && e.kind != k.keep_alive)
                .map(|e| e.target)
                .collect();
            for t in targets {
                let sym = &bld.g.symbols[t.index()];
                let Some(fb) = sym.block.filter(|_| sym.kind == SymbolKind::Defined) else { continue };
                if bld.g.block_section(fb).prot != Prot::ReadExec {
                    continue;
                }
                let me = bld.anon(si, bi);
                bld.g.blocks[fb.index()].edges.push(Edge {
                    offset: 0,
                    target: me,
                    kind: k.keep_alive,
                    origin: 0,
                    addend: 0,
                });
            }
        }
    }
    Ok(file)
}

/// Size in bytes of a thread-local variable descriptor (`struct
/// TLVDescriptor { thunk, key, offset }`, dyld's `threadLocalVariables.c`).
pub const TLV_SIZE: u64 = 24;

/// The symbol a descriptor's thunk word names.
pub const TLV_BOOTSTRAP: &str = "__tlv_bootstrap";

/// Readies the descriptors of every `__thread_vars` section of the object:
/// per 24-byte descriptor, the `offset` word's `*_RELOC_UNSIGNED` edge to
/// the variable's initial value (which must lie in a `__thread_data` or
/// `__thread_bss` section loaded so far) becomes the architecture's
/// template-offset kind, and the `key` word gets an edge to the link's TLS
/// module descriptor. On x86-64, an undefined `__tlv_bootstrap` is bound
/// weakly to the host's thunk when there is one
/// (`crate::runtime::tls::macho_tlv_bootstrap`).
fn tlv_descriptors(bld: &mut Builder<'_, '_>, names: &mut Interner, arch: Arch, k: &Kinds) -> Result<()> {
    let mut any = false;
    for si in 0..bld.sects.len() {
        if bld.sects[si].stype() != macho::S_THREAD_LOCAL_VARIABLES || bld.sects[si].section.is_none() {
            continue;
        }
        let label = bld.sects[si].label.clone();
        for at in (0..bld.sects[si].size).step_by(TLV_SIZE as usize) {
            any = true;
            let bi = bld.sects[si].block_at(at);
            let (bstart, b) = bld.sects[si].blocks[bi];
            if at + TLV_SIZE > bld.sects[si].block_end(bi) {
                return Err(bld.bad(format!(
                    "{label}: the thread-local variable descriptor at offset {at:#x} is split by the symbol at {:#x}",
                    bld.sects[si].block_end(bi)
                )));
            }
            let rel = (at - bstart) as u32;
            let edges = &bld.g.blocks[b.index()].edges;
            let word = |w: u32| edges.iter().position(|e| e.offset == rel + w && e.kind != k.keep_alive);
            let (Some(_), None, Some(oi)) = (word(0), word(8), word(16)) else {
                return Err(bld.bad(format!(
                    "{label}: the thread-local variable descriptor at offset {at:#x} needs a relocation on its thunk \
                     (+0) and offset (+16) words and none on its key (+8)"
                )));
            };
            let e = edges[oi];
            let sym = &bld.g.symbols[e.target.index()];
            let in_template = sym.kind == SymbolKind::Defined
                && e.kind == k.pointer64
                && matches!(
                    sym.block.map(|t| bld.g.block_section(t).role),
                    Some(SectionRole::TlsData | SectionRole::TlsBss)
                );
            if !in_template {
                return Err(unsupported(
                    &bld.fname,
                    format!(
                        "{label}: the thread-local variable descriptor at offset {at:#x}: its offset word must be a \
                         64-bit pointer to the initial value in a __thread_data or __thread_bss section (it points \
                         at {})",
                        bld.g.symbol_display(e.target, names)
                    ),
                ));
            }
            bld.g.blocks[b.index()].edges[oi].kind = k.dtprel64;
            let (target, kind) = match k.tls_module {
                // The architecture's GOT pass points it at its module.
                Some(kind) => (bld.anon(si, bi), kind),
                None => (tls_module(bld.g, names, bld.file), k.pointer64),
            };
            bld.g.blocks[b.index()].edges.push(Edge { offset: rel + 8, target, kind, origin: 0, addend: 0 });
        }
    }
    if any && arch == Arch::X86_64 {
        if let Some(thunk) = crate::runtime::tls::macho_tlv_bootstrap() {
            let n = names.intern(TLV_BOOTSTRAP.as_bytes());
            let s = bld.g.global_ref(n, bld.file);
            let sym = &mut bld.g.symbols[s.index()];
            if sym.kind == SymbolKind::External {
                // Weak: an input's definition or the session's (--abs)
                // takes precedence.
                sym.kind = SymbolKind::Absolute;
                sym.value = thunk;
                sym.linkage = Linkage::Weak;
                sym.resolved = true;
            }
        }
    }
    Ok(())
}

/// A symbol at the link's TLS module descriptor (the section of role
/// [`SectionRole::TlsModule`], made here if the graph has none yet).
fn tls_module(g: &mut LinkGraph<'_>, names: &mut Interner, file: FileId) -> SymbolId {
    let existing = g.sections.iter().find(|s| s.role == SectionRole::TlsModule).and_then(|s| s.blocks.first().copied());
    match existing {
        Some(b) => g.add_anonymous(b, 0, file),
        None => crate::arch::tls::TlsBuilder::default().module(g, names, file),
    }
}

/// Resolves an edge target: a symbol table entry, or an address in a
/// section (its block's start symbol and the offset from it).
fn resolve(
    bld: &mut Builder<'_, '_>,
    sym_map: &[Mapped],
    spec: Spec,
    loc: &dyn Fn(u64) -> Box<Location>,
    rname: &str,
    at: u64,
    keep: &mut Vec<SymbolId>,
) -> Result<(SymbolId, i64)> {
    match spec {
        Spec::Symbol(n) => match sym_map.get(n as usize) {
            Some(Mapped::Sym(s)) => Ok((*s, 0)),
            Some(Mapped::Unloaded(why)) => {
                Err(Error::UnsupportedRelocation { at: loc(at), relocation: rname.to_string(), reason: why })
            }
            None => Err(bld.bad(format!(
                "relocation {rname} at offset {at:#x}: symbol index {n} (r_symbolnum) out of range ({} symbols)",
                sym_map.len()
            ))),
        },
        Spec::Address { section, addr, slack } => {
            let Some(si) = bld.ordinal(section) else {
                return Err(bld.bad(format!(
                    "relocation {rname} at offset {at:#x}: section ordinal {section} (r_symbolnum) out of range ({} \
                     sections)",
                    bld.sects.len()
                )));
            };
            if let Some(why) = bld.sects[si].skip {
                return Err(Error::UnsupportedRelocation { at: loc(at), relocation: rname.to_string(), reason: why });
            }
            let (t, d) = bld.at_address(si, addr);
            let s = &bld.sects[si];
            let (first, last) = (addr.wrapping_sub(s.addr), addr.wrapping_sub(s.addr).wrapping_add(u64::from(slack)));
            if slack > 0 && first < s.size {
                let (b0, b1) = (s.block_at(first), s.block_at(last.min(s.size.saturating_sub(1))));
                for bi in b0 + 1..=b1 {
                    let extra = bld.anon(si, bi);
                    keep.push(extra);
                }
            }
            Ok((t, d))
        }
    }
}

/// DWARF pointer encodings (LSB "Exception Frames", `DW_EH_PE_*`).
const DW_EH_PE_OMIT: u8 = 0xff;
const DW_EH_PE_PCREL: u8 = 0x10;

fn uleb(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Size of an encoded pointer (`DW_EH_PE_*` format nibble), if fixed.
fn enc_size(enc: u8) -> Option<usize> {
    match enc & 0x0f {
        0x00 | 0x04 | 0x0c => Some(8),
        0x03 | 0x0b => Some(4),
        0x02 | 0x0a => Some(2),
        _ => None,
    }
}

/// Gives `__eh_frame` section `si` edges for the fields the assembler
/// resolved without a relocation (an FDE's CIE pointer, `pc_begin` and LSDA
/// pointer, absolute or pc-relative), and returns the offsets of the
/// `pc_begin` fields (the functions the FDEs belong to).
fn eh_frame_edges(
    bld: &mut Builder<'_, '_>,
    si: usize,
    relocated: &hashbrown::HashSet<u64>,
    k: &Kinds,
) -> Result<Vec<u64>> {
    let Some(bytes) = bld.sects[si].data else { return Ok(Vec::new()) };
    let label = bld.sects[si].label.clone();
    let fname = bld.fname.clone();
    let bad = |off: usize, what: &str| malformed(&fname, format!("{label}: record at {off:#x}: {what}"));
    // CIE offset -> (FDE pointer encoding, LSDA encoding, has augmentation data).
    let mut cies: hashbrown::HashMap<usize, (u8, u8, bool)> = hashbrown::HashMap::new();
    let mut pc_fields = Vec::new();
    let starts: Vec<u64> = bld.sects[si].blocks.iter().map(|b| b.0).collect();
    for (ri, &start) in starts.iter().enumerate() {
        let off = start as usize;
        let end = starts.get(ri + 1).map_or(bytes.len(), |&e| e as usize);
        let rec = &bytes[off..end];
        if rec.len() < 8 {
            continue;
        }
        let header = if u32::from_le_bytes(rec[0..4].try_into().expect("4")) == u32::MAX { 12 } else { 4 };
        let Some(id) = rec.get(header..header + 4).map(|b| u32::from_le_bytes(b.try_into().expect("4"))) else {
            continue;
        };
        if id == 0 {
            // CIE: version, augmentation, code/data alignment, return register, augmentation data.
            let mut at = header + 4;
            let version = *rec.get(at).ok_or_else(|| bad(off, "truncated CIE"))?;
            at += 1;
            let tail = rec.get(at..).unwrap_or(&[]);
            let aug_end = tail.iter().position(|&b| b == 0).ok_or_else(|| bad(off, "unterminated augmentation"))?;
            let aug = tail[..aug_end].to_vec();
            at += aug_end + 1;
            let (mut fde_enc, mut lsda_enc) = (0u8, DW_EH_PE_OMIT);
            let z = aug.first() == Some(&b'z');
            let parsed = (|| {
                uleb(rec, &mut at)?; // code alignment
                uleb(rec, &mut at)?; // data alignment (sleb; only skipped)
                if version == 1 {
                    at += 1;
                } else {
                    uleb(rec, &mut at)?;
                }
                if z {
                    uleb(rec, &mut at)?;
                    for &c in &aug[1..] {
                        match c {
                            b'R' => {
                                fde_enc = *rec.get(at)?;
                                at += 1;
                            }
                            b'L' => {
                                lsda_enc = *rec.get(at)?;
                                at += 1;
                            }
                            b'P' => {
                                let enc = *rec.get(at)?;
                                at += 1 + enc_size(enc)?;
                            }
                            _ => {}
                        }
                    }
                }
                Some(())
            })();
            if parsed.is_some() {
                cies.insert(off, (fde_enc, lsda_enc, z));
            }
            continue;
        }
        // FDE: the CIE pointer is the distance back from its own field.
        let cie_field = off + header;
        let Some(cie_off) = cie_field.checked_sub(id as usize) else {
            return Err(bad(off, "CIE pointer points before the section"));
        };
        let Some(&(fde_enc, lsda_enc, z)) = cies.get(&cie_off) else {
            continue;
        };
        let cie_bi = bld.sects[si].block_at(cie_off as u64);
        if !relocated.contains(&(cie_field as u64)) && bld.sects[si].blocks[cie_bi].0 == cie_off as u64 {
            // field - CIE: S = this record + header, B = the CIE.
            let me = bld.anon(si, ri);
            let cie = bld.anon(si, cie_bi);
            let b = bld.sects[si].blocks[ri].1;
            let edges = &mut bld.g.blocks[b.index()].edges;
            edges.push(Edge { offset: header as u32, target: me, kind: k.pair32, origin: 0, addend: header as i64 });
            edges.push(Edge { offset: header as u32, target: cie, kind: k.subtrahend, origin: 0, addend: 0 });
        }
        let pc_at = header + 4;
        pointer_edge(bld, si, ri, pc_at, fde_enc, relocated, k);
        pc_fields.push(start + pc_at as u64);
        if z && lsda_enc != DW_EH_PE_OMIT {
            if let Some(size) = enc_size(fde_enc) {
                let mut at = pc_at + 2 * size;
                if uleb(rec, &mut at).is_some() {
                    pointer_edge(bld, si, ri, at, lsda_enc, relocated, k);
                }
            }
        }
    }
    Ok(pc_fields)
}

/// An edge for the encoded pointer at offset `at` of record block `ri` of
/// section `si`, unless a relocation already covers it or it is not an
/// absolute or pc-relative 4/8-byte pointer into a loaded section.
fn pointer_edge(
    bld: &mut Builder<'_, '_>,
    si: usize,
    ri: usize,
    at: usize,
    enc: u8,
    relocated: &hashbrown::HashSet<u64>,
    k: &Kinds,
) {
    let (start, b) = bld.sects[si].blocks[ri];
    let field = start + at as u64;
    if relocated.contains(&field) || enc == DW_EH_PE_OMIT {
        return;
    }
    let Some(size) = enc_size(enc).filter(|&s| s == 4 || s == 8) else { return };
    let Some(bytes) = bld.sects[si].data else { return };
    let Some(raw) = bytes.get(field as usize..field as usize + size) else { return };
    let signed = enc & 0x08 != 0;
    let v: i64 = if size == 8 {
        i64::from_le_bytes(raw.try_into().expect("8"))
    } else if signed {
        i64::from(i32::from_le_bytes(raw.try_into().expect("4")))
    } else {
        i64::from(u32::from_le_bytes(raw.try_into().expect("4")))
    };
    let place = bld.sects[si].addr + field;
    let (target_addr, pcrel) = match enc & 0x70 {
        0 => (v as u64, false),
        DW_EH_PE_PCREL => (place.wrapping_add(v as u64), true),
        _ => return,
    };
    if enc & 0x80 != 0 || (!pcrel && v == 0) {
        return; // indirect, or a null pointer
    }
    let Some(ti) = bld.section_of_address(target_addr) else { return };
    let (t, d) = bld.at_address(ti, target_addr);
    let me = bld.anon(si, ri);
    let edges = &mut bld.g.blocks[b.index()].edges;
    let offset = at as u32;
    if pcrel {
        let kind = if size == 8 { k.pair64 } else { k.pair32 };
        edges.push(Edge { offset, target: t, kind, origin: 0, addend: d });
        edges.push(Edge { offset, target: me, kind: k.subtrahend, origin: 0, addend: at as i64 });
    } else {
        let kind = if size == 8 { k.pointer64 } else { k.pointer32 };
        edges.push(Edge { offset, target: t, kind, origin: 0, addend: d });
    }
}

/// Defines the `section$start$SEG$SECT` and `section$end$SEG$SECT`
/// symbols the graph references (ld64's section boundary symbols) at the
/// start and the end of the sections named `SEG,SECT` (created empty if
/// there is none), and keeps those sections. Run once per link, after
/// every object and archive member is in the graph.
pub fn finish(g: &mut LinkGraph<'_>, names: &mut Interner) {
    let mut wanted: Vec<(SymbolId, Vec<u8>, bool)> = Vec::new();
    for (&n, &s) in g.globals.iter() {
        if g.symbols[s.index()].kind != SymbolKind::External {
            continue;
        }
        let bytes = names.bytes(n);
        let (rest, start) = if let Some(r) = bytes.strip_prefix(b"section$start$") {
            (r, true)
        } else if let Some(r) = bytes.strip_prefix(b"section$end$") {
            (r, false)
        } else {
            continue;
        };
        let Some(dollar) = rest.iter().position(|&b| b == b'$') else { continue };
        let mut sec = rest[..dollar].to_vec();
        sec.push(b',');
        sec.extend_from_slice(&rest[dollar + 1..]);
        wanted.push((s, sec, start));
    }
    wanted.sort_by_key(|w| w.0);
    for (sym, sec_name, start) in wanted {
        let n = names.intern(&sec_name);
        let mut secs: Vec<usize> =
            (0..g.sections.len()).filter(|&i| g.sections[i].name == n && !g.sections[i].blocks.is_empty()).collect();
        if secs.is_empty() {
            let file = g.symbols[sym.index()].file;
            let prot = if sec_name.starts_with(b"__TEXT,") { Prot::Read } else { Prot::ReadWrite };
            let s = g.add_section(n, file, prot, SectionRole::Regular);
            g.add_block(s, Content::Zero, 0, 1);
            secs.push(s.index());
        }
        for &i in &secs {
            g.sections[i].keep = true;
        }
        let (block, offset) = if start {
            (g.sections[secs[0]].blocks[0], 0)
        } else {
            let b = *g.sections[*secs.last().expect("one")].blocks.last().expect("non-empty");
            (b, g.blocks[b.index()].size)
        };
        let s = &mut g.symbols[sym.index()];
        s.kind = SymbolKind::Defined;
        s.block = Some(block);
        s.value = offset;
        s.scope = Scope::Hidden;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_and_alignment() {
        assert_eq!(triple_arch("x86_64-apple-macos"), Some(Arch::X86_64));
        assert_eq!(triple_arch("arm64-apple-macos"), Some(Arch::Aarch64));
        assert_eq!(triple_arch("aarch64-pc-windows-msvc"), Some(Arch::Aarch64));
        assert_eq!(triple_arch("mips-unknown"), None);
        assert_eq!(block_align(0, 16), 16);
        assert_eq!(block_align(4, 16), 4);
        assert_eq!(block_align(48, 16), 16);
        assert_eq!(origin(0), 0x100);
    }

    #[test]
    fn identify_rejects_what_is_not_linked() {
        assert!(matches!(identify("x", &[0xce, 0xfa, 0xed, 0xfe]), Err(Error::Unsupported { .. })));
        assert!(matches!(identify("x", &[0xcf, 0xfa]), Err(Error::Malformed { .. })));
        // A Java class file shares the fat magic.
        assert!(!is_macho(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]));
        assert!(is_macho(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]));
    }
}
