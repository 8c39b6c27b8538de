//! The PPC64 ELFv2 post-prune pass: lowers request edges to fixups,
//! creating GOT entries, call stubs and veneers only where an edge needs
//! them, and lays out the link's one TOC.
//!
//! **One TOC per link.** ELFv2 code reaches its data through r2, the TOC
//! pointer, which every global entry point derives from r12 with
//! `addis r2,r12,.TOC.-f@ha; addi r2,r2,.TOC.-f@l`. A static linker gives
//! a whole module one TOC (`.got`, then `.toc`, with `.TOC.` = its start +
//! 0x8000, binutils `ppc64_elf_set_toc`), and so does this pass for a link:
//! every file's `.toc` sections (TOC entries: R_PPC64_ADDR64 data the
//! compiler made) and the GOT entries this pass creates (per file, in a
//! `$__GOT` section, read-write like `.toc`) form one region, and every
//! file's GOT base (`FileInfo::got_base`, to which the ELF builder maps
//! `.TOC.`) and a local symbol `__TOC__` are defined at its start +
//! 0x8000. Calls between functions of the link therefore never need a TOC
//! switch: R_PPC64_REL24 goes straight to the callee's local entry point.
//!
//! Layout groups sections by name (in order of each name's first
//! appearance) within a protection, so the pass makes the region
//! contiguous by moving the `$__GOT` sections right after the first
//! section named `.toc`: all `.toc` sections, then all `$__GOT` sections.
//! (Naming the GOT sections `.toc` would do it too, but then a file would
//! list two `.toc` sections in the dump, which names the GOT `$__GOT`.) The
//! region's first block is aligned to 256 bytes, binutils' TOC base
//! alignment, so `.TOC.` is exactly where GNU ld puts it for the same
//! placement.
//!
//! **Calls.** R_PPC64_REL24 (`bl f; nop` from TOC-using code) to:
//! - a function of the link: a direct branch to its local entry point
//!   (global entry + the `st_other` offset, ELFv2 ABI §3.4.1); the `nop`
//!   stays. Every other branch type (REL14*, ADDR24, ADDR14*) to a function
//!   of the link also enters at the local entry point, and ADDR64_LOCAL
//!   asks for it in data. (GNU ld 2.40 agrees for REL24, REL14* and
//!   ADDR14_BR*; it enters plain ADDR24/ADDR14 at the global entry, which
//!   is wrong without r12 set; no compiler emits those against functions.)
//! - anything else (externals, absolutes, and functions of the link whose
//!   `st_other` value 1 says they do not preserve r2): a "plt" call stub
//!   ([`super::stubs::TOC_STUB`]) that saves r2 at 24(r1) and jumps to the
//!   target's global entry through a GOT entry with r12 set, and the `nop`
//!   becomes `ld r2,24(r1)`. Never bypassed: the target may use another TOC.
//!
//! R_PPC64_REL24_NOTOC (r2 is not a TOC pointer at the call) goes direct
//! to functions that need no TOC (`st_other` 0 or 1), through a veneer
//! (which sets r12 to the global entry) to functions of the link that do,
//! and through a PC-relative "plt" stub ([`super::stubs::NOTOC_STUB`]) to
//! anything else.
//!
//! **Veneers.** When the link's code could span more than a branch's
//! ±32 MiB (the sum of its live executable blocks, padding included, plus
//! the largest stubs its branches could need), every direct branch to a
//! function of the link goes to a "veneer" ([`super::stubs::VENEER`]) and is
//! bypassed at fixup when the function is in range. The stub sections are
//! then moved from the end of the code to its middle, so every branch
//! within ±32 MiB of the middle reaches its veneer (code up to about
//! 64 MiB; beyond that a branch far from the middle fails with an
//! out-of-range error: no multiple stub islands).
//!
//! **GOT.** R_PPC64_GOT16*, PLT16* (inline PLT sequences) and
//! GOT_PCREL34 / PLT_PCREL34 get one GOT entry per (file, symbol, addend)
//! holding `S + A` (ELFv2 ABI "G"; binutils reads the addend the same way)
//! and become TOC-relative (`G - .TOC.`) or PC-relative (`G - P`) fixups.
//! No GOT relaxation is done.
//!
//! **Thread-local storage** (`crate::arch::tls`, ELFv2 ABI §3.7): the
//! `GOT_TLSGD*` requests address the variable's `{module, offset}` pair,
//! `GOT_TLSLD*` the file's `{module, 0}` pair and `GOT_DTPREL*` a GOT
//! entry holding the variable's offset in the block, all in the file's
//! `$__GOT` (so within the TOC); they become TOC16 / PCREL34 fixups
//! against that entry ([`tls_got_request`]). The `bl __tls_get_addr` is an
//! ordinary call to an external (a TOC-saving stub, its `nop` becoming
//! `ld r2,24(r1)`). `DTPMOD64` becomes a pointer to the module
//! descriptor; [`pre_fixup`] folds the template's start into the DTPREL
//! requests and fills the module descriptor. The variable must be defined
//! in a `.tdata`/`.tbss` section of the link.

use super::edges::*;
use super::fixup::{read32, LD_R2_24_R1, NOP};
use super::stubs::{self, ANCHOR, NOTOC_STUB, TOC_STUB, VENEER};
use crate::arch::tls::{PairKinds, TlsBuilder};
use crate::error::{Error, Location, Result};
use crate::graph::{
    BlockId, Content, Edge, EdgeKind, FileId, Interner, LinkGraph, Linkage, Prot, Scope, SectionId, SectionRole,
    Symbol, SymbolId, SymbolKind,
};
use hashbrown::{HashMap, HashSet};

pub use crate::arch::GotPlt;

/// A GOT entry: 8 bytes holding `S + A` (a [`POINTER64`] edge).
pub const GOT_ENTRY: [u8; 8] = [0; 8];
/// Offset of the TOC base from the start of the TOC (ELFv2 ABI §3.3,
/// binutils `TOC_BASE_OFF`): a signed 16-bit offset from r2 reaches the
/// first 64 KiB.
pub const TOC_BASE_OFFSET: u64 = 0x8000;
/// Alignment of the TOC's start (binutils `TOC_BASE_ALIGN`).
pub const TOC_ALIGN: u64 = 256;
/// A branch reaches ±32 MiB (R_PPC64_REL24, low24 field).
pub const BRANCH_RANGE: u64 = 1 << 25;
/// Largest stub a branch may need, in bytes.
const MAX_STUB: u64 = 32;

#[derive(Default)]
struct PerFile {
    got_section: Option<SectionId>,
    stub_section: Option<SectionId>,
    got: HashMap<(SymbolId, i64), SymbolId>,
    toc_stubs: HashMap<(SymbolId, i64), SymbolId>,
    notoc_stubs: HashMap<(SymbolId, i64), SymbolId>,
    veneers: HashMap<(SymbolId, i64), SymbolId>,
}

struct Builder<'g, 'a> {
    g: &'g mut LinkGraph<'a>,
    names: &'g mut Interner,
    files: Vec<PerFile>,
    out: GotPlt,
    be: bool,
    need_veneers: bool,
    tls: TlsBuilder,
    /// While lowering a block of a link whose code may exceed ±32 MiB: the
    /// block, whose stubs then go in an island right after it.
    island: Option<BlockId>,
    /// The island section of each branching block.
    island_sections: HashMap<BlockId, SectionId>,
    /// Island stubs per (block, flavour, target, addend).
    island_stubs: HashMap<(BlockId, u8, SymbolId, i64), SymbolId>,
}

/// The kinds TLS pairs, descriptors and DTPREL entries are filled with.
const TLS_KINDS: PairKinds = PairKinds { pointer64: POINTER64, dtprel64: REQ_DTPREL64 };

/// How a REL24 site must be entered.
enum Route {
    Direct(i64),
    Veneer { bypass_addend: i64 },
    VeneerOnly,
    TocStub,
    NotocStub,
}

impl<'g, 'a> Builder<'g, 'a> {
    fn got_section(&mut self, file: FileId) -> SectionId {
        if let Some(s) = self.files[file.index()].got_section {
            return s;
        }
        let name = self.names.intern(b"$__GOT");
        let s = self.g.add_section(name, file, Prot::ReadWrite, SectionRole::Got);
        self.files[file.index()].got_section = Some(s);
        s
    }

    fn stub_section(&mut self, file: FileId) -> SectionId {
        if let Some(s) = self.files[file.index()].stub_section {
            return s;
        }
        let name = self.names.intern(b"$__STUBS");
        let s = self.g.add_section(name, file, Prot::ReadExec, SectionRole::Stubs);
        self.files[file.index()].stub_section = Some(s);
        s
    }

    fn got_entry(&mut self, file: FileId, target: SymbolId, addend: i64) -> SymbolId {
        if let Some(&e) = self.files[file.index()].got.get(&(target, addend)) {
            return e;
        }
        let sec = self.got_section(file);
        let b = self.g.add_block(sec, Content::Borrowed(&GOT_ENTRY), 8, 8);
        self.g.blocks[b.index()].edges.push(Edge { offset: 0, target, kind: POINTER64, origin: 0, addend });
        let sym = self.g.add_anonymous(b, 0, file);
        self.g.symbols[sym.index()].size = 8;
        self.files[file.index()].got.insert((target, addend), sym);
        self.out.got.push((file, target, sym));
        sym
    }

    /// A stub block of `words` in `file`'s `$__STUBS` with `edges`
    /// (`(word index, kind, target, addend)`, the addend relative to the
    /// halfword's own address).
    /// The `$__STUBS` section laid out right after block `b` (its island).
    fn island_section(&mut self, b: BlockId, file: FileId) -> SectionId {
        if let Some(&s) = self.island_sections.get(&b) {
            return s;
        }
        let name = self.names.intern(b"$__STUBS");
        let s = self.g.add_section(name, file, Prot::ReadExec, SectionRole::Stubs);
        self.g.sections[s.index()].follows = Some(b);
        self.island_sections.insert(b, s);
        s
    }

    /// An island stub of the current block already made for
    /// (flavour, target, addend), if any.
    fn island_stub(&self, flavour: u8, target: SymbolId, addend: i64) -> Option<SymbolId> {
        self.island.and_then(|b| self.island_stubs.get(&(b, flavour, target, addend)).copied())
    }

    /// Records a new stub: in the island cache when lowering with islands,
    /// else in the file's map.
    fn remember(&mut self, flavour: u8, file: FileId, target: SymbolId, addend: i64, sym: SymbolId) {
        match self.island {
            Some(b) => {
                self.island_stubs.insert((b, flavour, target, addend), sym);
            }
            None => {
                let f = &mut self.files[file.index()];
                match flavour {
                    0 => f.toc_stubs.insert((target, addend), sym),
                    1 => f.notoc_stubs.insert((target, addend), sym),
                    _ => f.veneers.insert((target, addend), sym),
                };
            }
        }
    }

    fn stub_block(&mut self, file: FileId, words: &[u32], edges: &[(u32, EdgeKind, SymbolId, i64)]) -> SymbolId {
        let sec = match self.island {
            Some(b) => self.island_section(b, file),
            None => self.stub_section(file),
        };
        let bytes = stubs::bytes(words, self.be);
        let size = bytes.len() as u64;
        let b = self.g.add_block(sec, Content::Owned(bytes), size, 8);
        for &(word, kind, target, addend) in edges {
            let offset = stubs::half_offset(word, self.be);
            self.g.blocks[b.index()].edges.push(Edge { offset, target, kind, origin: 0, addend });
        }
        let sym = self.g.add_anonymous(b, 0, file);
        let s = &mut self.g.symbols[sym.index()];
        s.size = size;
        s.callable = true;
        sym
    }

    /// Addend of a PC-relative stub edge at word `word` so that it computes
    /// `S + a - anchor` ([`ANCHOR`]).
    fn anchored(&self, word: u32, a: i64) -> i64 {
        a + i64::from(stubs::half_offset(word, self.be)) - i64::from(ANCHOR)
    }

    fn toc_stub(&mut self, file: FileId, target: SymbolId, addend: i64) -> SymbolId {
        if let Some(s) = self.island_stub(0, target, addend) {
            return s;
        }
        if let (None, Some(&s)) = (self.island, self.files[file.index()].toc_stubs.get(&(target, addend))) {
            return s;
        }
        let entry = self.got_entry(file, target, addend);
        let sym = self.stub_block(file, &TOC_STUB, &[(1, TOC16_HA, entry, 0), (2, TOC16_LO_DS, entry, 0)]);
        self.ensure_got_base(file);
        self.remember(0, file, target, addend, sym);
        self.out.stubs.push((file, target, sym, "plt"));
        sym
    }

    fn notoc_stub(&mut self, file: FileId, target: SymbolId, addend: i64) -> SymbolId {
        if let Some(s) = self.island_stub(1, target, addend) {
            return s;
        }
        if let (None, Some(&s)) = (self.island, self.files[file.index()].notoc_stubs.get(&(target, addend))) {
            return s;
        }
        let entry = self.got_entry(file, target, addend);
        let edges = [(4, REL16_HA, entry, self.anchored(4, 0)), (5, REL16_LO_DS, entry, self.anchored(5, 0))];
        let sym = self.stub_block(file, &NOTOC_STUB, &edges);
        self.remember(1, file, target, addend, sym);
        self.out.stubs.push((file, target, sym, "plt"));
        sym
    }

    /// A veneer to `target + addend` (its global entry when `addend` is 0).
    fn veneer(&mut self, file: FileId, target: SymbolId, addend: i64) -> SymbolId {
        if let Some(s) = self.island_stub(2, target, addend) {
            return s;
        }
        if let (None, Some(&s)) = (self.island, self.files[file.index()].veneers.get(&(target, addend))) {
            return s;
        }
        let edges = [(4, REL16_HA, target, self.anchored(4, addend)), (5, REL16_LO, target, self.anchored(5, addend))];
        let sym = self.stub_block(file, &VENEER, &edges);
        self.remember(2, file, target, addend, sym);
        self.out.stubs.push((file, target, sym, "veneer"));
        sym
    }

    fn ensure_got_base(&mut self, file: FileId) -> SymbolId {
        self.g.got_base(file, self.names)
    }

    fn location(&self, b: BlockId, e: &Edge) -> (Box<Location>, String) {
        let blk = &self.g.blocks[b.index()];
        let sec = &self.g.sections[blk.section.index()];
        let file = &self.g.files[sec.file.index()];
        let at = Box::new(Location {
            file: file.name.clone(),
            section: self.names.str(sec.name).into_owned(),
            offset: blk.section_offset + u64::from(e.offset),
        });
        let relocation =
            if e.origin != 0 { (file.reloc_name)(e.origin).into_owned() } else { kind_name(e.kind).to_string() };
        (at, relocation)
    }

    fn reserved_local_entry(&self, b: BlockId, e: &Edge) -> Error {
        let (at, relocation) = self.location(b, e);
        Error::UnsupportedRelocation {
            at,
            relocation,
            reason: "the target's st_other local entry point value is 7 (reserved by the ELFv2 ABI)",
        }
    }

    /// Checks that the REL24 site of `e` is `bl` followed by a `nop` the
    /// fixup can turn into the TOC restore (binutils: "call lacks nop,
    /// can't restore toc").
    fn check_toc_restore(&self, b: BlockId, e: &Edge) -> Result<()> {
        let bytes = self.g.blocks[b.index()].bytes().unwrap_or(&[]);
        let at = e.offset as usize;
        let insn = read32(bytes, at, self.be);
        let next = at.checked_add(4).and_then(|n| read32(bytes, n, self.be));
        let reason = match (insn, next) {
            (Some(i), _) if i & 1 == 0 => {
                "a tail call (b without link) to a function outside the link's TOC cannot restore r2; \
                 compile with -fno-optimize-sibling-calls"
            }
            (Some(_), Some(n)) if n == NOP || n == LD_R2_24_R1 => return Ok(()),
            _ => "a call to a function outside the link's TOC needs a nop after the bl (for ld r2,24(r1))",
        };
        let (at, relocation) = self.location(b, e);
        Err(Error::UnsupportedRelocation { at, relocation, reason })
    }

    fn route(&self, b: BlockId, e: &Edge, toc: bool) -> Result<Route> {
        let t = e.target;
        let flags = self.g.symbols[t.index()].target_flags;
        if !self.g.is_defined_here(t) {
            return Ok(if toc { Route::TocStub } else { Route::NotocStub });
        }
        let Some(local) = local_entry_offset(flags) else {
            return Err(self.reserved_local_entry(b, e));
        };
        let preserves_r2 = flags >> 5 != 1;
        Ok(match (toc, preserves_r2, local) {
            (true, false, _) => Route::TocStub,
            (true, true, off) => {
                let a = e.addend + off as i64;
                if self.need_veneers {
                    Route::Veneer { bypass_addend: a }
                } else {
                    Route::Direct(a)
                }
            }
            // NOTOC caller, callee needs its TOC set up from r12.
            (false, _, off) if off > 0 => Route::VeneerOnly,
            (false, _, _) => {
                if self.need_veneers {
                    Route::Veneer { bypass_addend: e.addend }
                } else {
                    Route::Direct(e.addend)
                }
            }
        })
    }

    fn lower_block(&mut self, b: BlockId) -> Result<()> {
        let mut edges = std::mem::take(&mut self.g.blocks[b.index()].edges);
        let file = self.g.block_section(b).file;
        // Code that may exceed ±32 MiB: this block's stubs go right after it.
        self.island = self.need_veneers.then_some(b);
        let r = self.lower_edges(b, file, &mut edges);
        self.island = None;
        self.g.blocks[b.index()].edges = edges;
        r
    }

    fn lower_edges(&mut self, b: BlockId, file: FileId, edges: &mut [Edge]) -> Result<()> {
        for e in edges.iter_mut() {
            match e.kind {
                REQ_BRANCH24 | REQ_BRANCH24_NOTOC => {
                    let toc = e.kind == REQ_BRANCH24;
                    match self.route(b, e, toc)? {
                        Route::Direct(a) => {
                            e.kind = BRANCH24;
                            e.addend = a;
                        }
                        Route::Veneer { bypass_addend } => {
                            e.target = self.veneer(file, e.target, e.addend);
                            e.kind = BRANCH24_TO_VENEER_BYPASSABLE;
                            e.addend = bypass_addend;
                        }
                        Route::VeneerOnly => {
                            e.target = self.veneer(file, e.target, e.addend);
                            e.kind = BRANCH24;
                            e.addend = 0;
                        }
                        Route::TocStub => {
                            self.check_toc_restore(b, e)?;
                            e.target = self.toc_stub(file, e.target, e.addend);
                            e.kind = BRANCH24_TO_TOC_STUB;
                            e.addend = 0;
                        }
                        Route::NotocStub => {
                            e.target = self.notoc_stub(file, e.target, e.addend);
                            e.kind = BRANCH24;
                            e.addend = 0;
                        }
                    }
                }
                k if local_entry_request(k).is_some() => {
                    e.kind = local_entry_request(k).unwrap_or(k);
                    if self.g.is_defined_here(e.target) {
                        let flags = self.g.symbols[e.target.index()].target_flags;
                        let Some(off) = local_entry_offset(flags) else {
                            return Err(self.reserved_local_entry(b, e));
                        };
                        e.addend = e.addend.wrapping_add(off as i64);
                    }
                }
                REQ_GOT_PCREL34 => {
                    e.target = self.got_entry(file, e.target, e.addend);
                    e.kind = PCREL34;
                    e.addend = 0;
                }
                REQ_TLS_DTPMOD64 => {
                    self.tls.variable(self.g, self.names, file, e.target, e.addend);
                    e.target = self.tls.module(self.g, self.names, file);
                    e.kind = POINTER64;
                    e.addend = 0;
                }
                k => {
                    if let Some(h) = got16_request(k) {
                        e.target = self.got_entry(file, e.target, e.addend);
                        e.kind = half16_kind(Base::Toc, h);
                        e.addend = 0;
                        self.ensure_got_base(file);
                    } else if let Some((what, kind)) = tls_got_request(k) {
                        let var = match what {
                            TlsGot::ModulePair => Some((None, 0)),
                            _ => self.tls.variable(self.g, self.names, file, e.target, e.addend),
                        };
                        if let Some(var) = var {
                            let got = self.got_section(file);
                            e.target = match what {
                                TlsGot::DtprelEntry => self.tls.dtprel_entry(self.g, got, file, var, TLS_KINDS),
                                _ => self.tls.pair(self.g, self.names, got, file, var, TLS_KINDS),
                            };
                            e.kind = kind;
                            e.addend = 0;
                            if kind != PCREL34 {
                                self.ensure_got_base(file);
                            }
                        }
                    } else if dtprel_request(k).is_some() {
                        // Lowered at pre-fixup; the variable is checked now.
                        self.tls.variable(self.g, self.names, file, e.target, e.addend);
                    }
                }
            }
        }
        Ok(())
    }
}

/// An upper bound of the link's code size: every live executable block
/// with its worst-case alignment padding, plus a largest stub per branch.
fn code_size_bound(g: &LinkGraph<'_>) -> u64 {
    let mut total = 0u64;
    for blk in g.blocks.iter().filter(|b| b.live) {
        if g.sections[blk.section.index()].prot == Prot::ReadExec {
            total = total.saturating_add(blk.size).saturating_add(blk.align - 1);
        }
        let branches = blk.edges.iter().filter(|e| matches!(e.kind, REQ_BRANCH24 | REQ_BRANCH24_NOTOC)).count();
        total = total.saturating_add(branches as u64 * MAX_STUB);
    }
    total
}

/// Moves the sections `moving` (indices greater than `anchor`) to just
/// after section `anchor`, keeping every other section's relative order,
/// and renumbers the blocks' section ids.
fn move_sections_after(g: &mut LinkGraph<'_>, anchor: usize, moving: &[SectionId]) {
    let n = g.sections.len();
    let moved: HashSet<usize> = moving.iter().map(|s| s.index()).collect();
    let mut order = Vec::with_capacity(n);
    for i in 0..n {
        if moved.contains(&i) {
            continue;
        }
        order.push(i);
        if i == anchor {
            order.extend(moving.iter().map(|s| s.index()));
        }
    }
    let mut new_of_old = vec![0u32; n];
    for (new, &old) in order.iter().enumerate() {
        new_of_old[old] = new as u32;
    }
    let mut old: Vec<Option<crate::graph::Section>> = std::mem::take(&mut g.sections).into_iter().map(Some).collect();
    g.sections = order.iter().filter_map(|&o| old[o].take()).collect();
    for b in g.blocks.iter_mut() {
        b.section = SectionId(new_of_old[b.section.index()]);
    }
}

/// Lays out the link's TOC and defines every file's GOT base and
/// `__TOC__` at its start + [`TOC_BASE_OFFSET`] (see the module docs).
fn define_toc(bld: &mut Builder<'_, '_>) {
    let with_base: Vec<usize> = (0..bld.g.files.len()).filter(|&f| bld.g.files[f].got_base.is_some()).collect();
    let Some(&first_file) = with_base.first() else {
        return;
    };
    let toc_name = bld.names.get(b".toc");
    let first_toc = toc_name.and_then(|n| bld.g.sections.iter().position(|s| s.name == n));
    let toc_block = toc_name.and_then(|n| {
        bld.g
            .sections
            .iter()
            .filter(|s| s.name == n && s.prot == Prot::ReadWrite)
            .flat_map(|s| s.blocks.iter().copied())
            .find(|b| bld.g.blocks[b.index()].live)
    });
    let anchor = match toc_block {
        Some(b) => b,
        None => {
            let any_got =
                bld.files.iter().filter_map(|f| f.got_section).find_map(|s| {
                    bld.g.sections[s.index()].blocks.iter().copied().find(|b| bld.g.blocks[b.index()].live)
                });
            match any_got {
                Some(b) => b,
                None => {
                    let sec = bld.got_section(FileId(first_file as u32));
                    bld.g.add_block(sec, Content::Borrowed(&GOT_ENTRY), 8, 8)
                }
            }
        }
    };
    let blk = &mut bld.g.blocks[anchor.index()];
    blk.align = blk.align.max(TOC_ALIGN);
    let anchor_file = bld.g.block_section(anchor).file;
    for &f in &with_base {
        let base = bld.g.files[f].got_base.expect("filtered");
        let s = &mut bld.g.symbols[base.index()];
        s.kind = SymbolKind::Defined;
        s.block = Some(anchor);
        s.value = TOC_BASE_OFFSET;
        s.resolved = true;
    }
    let name = bld.names.intern(b"__TOC__");
    bld.g.add_symbol(Symbol {
        name: Some(name),
        file: anchor_file,
        block: Some(anchor),
        value: TOC_BASE_OFFSET,
        size: 0,
        linkage: Linkage::Strong,
        scope: Scope::Local,
        kind: SymbolKind::Defined,
        callable: false,
        resolved: true,
        target_flags: 0,
    });
    if let Some(t) = first_toc {
        let gots: Vec<SectionId> = bld.files.iter().filter_map(|f| f.got_section).collect();
        move_sections_after(bld.g, t, &gots);
    }
}

/// When veneers may be needed, moves the `$__STUBS` sections from the end
/// of the code to its middle (after the name group that crosses half the
/// code size), so that every branch within ±32 MiB of the middle reaches
/// its veneer: code up to about 64 MiB links. (Layout orders sections by
/// each name's first appearance, so "right after the first section of a
/// group" means "right after the whole group".)
fn center_stubs(g: &mut LinkGraph<'_>) {
    let stubs: Vec<SectionId> = (0..g.sections.len())
        .filter(|&i| g.sections[i].role == SectionRole::Stubs && g.sections[i].follows.is_none())
        .map(|i| SectionId(i as u32))
        .collect();
    let Some(first_stub) = stubs.first() else { return };
    let mut first_of_name: HashMap<crate::graph::NameId, usize> = HashMap::new();
    let mut groups: HashMap<usize, u64> = HashMap::new();
    for (i, s) in g.sections.iter().enumerate() {
        let f = *first_of_name.entry(s.name).or_insert(i);
        if s.prot != Prot::ReadExec || s.role == SectionRole::Stubs {
            continue;
        }
        let size: u64 = s
            .blocks
            .iter()
            .map(|b| &g.blocks[b.index()])
            .filter(|b| b.live)
            .map(|b| b.size.saturating_add(b.align - 1))
            .fold(0, u64::saturating_add);
        *groups.entry(f).or_default() += size;
    }
    let mut order: Vec<(usize, u64)> = groups.into_iter().collect();
    order.sort_unstable();
    let total: u64 = order.iter().map(|g| g.1).fold(0, u64::saturating_add);
    let mut acc = 0u64;
    for (f, size) in order {
        acc = acc.saturating_add(size);
        if acc >= total / 2 {
            if f < first_stub.index() {
                move_sections_after(g, f, &stubs);
            }
            return;
        }
    }
}

/// Runs the pass over every live block (see the module docs): lowers
/// request kinds, creates GOT entries, stubs and veneers, lays out the TOC
/// and defines each file's GOT base (`.TOC.`).
///
/// # Errors
/// [`Error::Unsupported`] for ELFv1 objects (a `.opd` section: function
/// descriptors are not supported) and for a thread-local access whose
/// variable is not defined in a `.tdata`/`.tbss` section of the link; [`Error::UnsupportedRelocation`] for a
/// call that needs a TOC-saving stub but has no `nop` after its `bl` (or
/// is a tail call), and for a target whose `st_other` local entry value
/// is the reserved 7.
pub fn build(g: &mut LinkGraph<'_>, names: &mut Interner) -> Result<GotPlt> {
    if let Some(opd) = names.get(b".opd") {
        if let Some(s) = g.sections.iter().find(|s| s.name == opd) {
            return Err(Error::Unsupported {
                file: g.files[s.file.index()].name.clone(),
                detail: "ELFv1 object (.opd function descriptors): only the ELFv2 ABI is supported \
                         (compile big-endian code with -mabi=elfv2)"
                    .into(),
            });
        }
    }
    let nfiles = g.files.len();
    let block_count = g.blocks.len();
    let need_veneers = code_size_bound(g) > BRANCH_RANGE;
    let be = !g.little_endian;
    let mut bld = Builder {
        g,
        names,
        files: (0..nfiles).map(|_| PerFile::default()).collect(),
        out: GotPlt::default(),
        be,
        need_veneers,
        tls: TlsBuilder::default(),
        island: None,
        island_sections: HashMap::new(),
        island_stubs: HashMap::new(),
    };
    for i in 0..block_count {
        let blk = &bld.g.blocks[i];
        if blk.live && blk.edges.iter().any(|e| is_request(e.kind)) {
            bld.lower_block(BlockId(i as u32))?;
        }
    }
    if let Some(e) = bld.tls.error.take() {
        return Err(e);
    }
    define_toc(&mut bld);
    if need_veneers {
        center_stubs(bld.g);
    }
    Ok(bld.out)
}

/// Runs after allocation and resolution, before fixups: folds the TLS
/// template's start into the DTPREL requests and fills the module
/// descriptor (`crate::arch::tls::pre_fixup`). (The TOC-restore rewrite
/// happens in the fixup itself.)
///
/// # Errors
/// None.
pub fn pre_fixup(g: &mut LinkGraph<'_>, _names: &Interner) -> Result<()> {
    crate::arch::tls::pre_fixup(g, POINTER64, dtprel_request);
    Ok(())
}

#[cfg(test)]
mod tls_tests {
    use super::*;
    use crate::arch::tls::testing::{classify, fixture, place, Class};

    #[derive(Copy, Clone, Debug)]
    enum To {
        Pair,
        ModulePair,
        Entry,
        Module,
        /// A DTPREL request: the variable, lowered at pre-fixup.
        Offset,
    }

    /// Each TLS request with addend 3 (both byte orders): the kind it
    /// becomes and what it then points at.
    #[test]
    fn tls_requests_lower_to_toc_entries_and_offsets() {
        let cases: &[(EdgeKind, EdgeKind, To)] = &[
            (REQ_GOT_TLSGD16, TOC16, To::Pair),
            (REQ_GOT_TLSGD16_HA, TOC16_HA, To::Pair),
            (REQ_GOT_TLSGD16_LO, TOC16_LO, To::Pair),
            (REQ_GOT_TLSGD16_HI, TOC16_HI, To::Pair),
            (REQ_GOT_TLSLD16_HA, TOC16_HA, To::ModulePair),
            (REQ_GOT_TLSLD16_LO, TOC16_LO, To::ModulePair),
            (REQ_GOT_DTPREL16_HA, TOC16_HA, To::Entry),
            (REQ_GOT_DTPREL16_LO_DS, TOC16_LO_DS, To::Entry),
            (REQ_GOT_DTPREL16_DS, TOC16_DS, To::Entry),
            (REQ_GOT_TLSGD_PCREL34, PCREL34, To::Pair),
            (REQ_GOT_TLSLD_PCREL34, PCREL34, To::ModulePair),
            (REQ_GOT_DTPREL_PCREL34, PCREL34, To::Entry),
            (REQ_TLS_DTPMOD64, POINTER64, To::Module),
            (REQ_DTPREL16, half16_kind(Base::Abs, Half::Signed16), To::Offset),
            (REQ_DTPREL16_HA, ADDR16_HA, To::Offset),
            (REQ_DTPREL16_LO_DS, ADDR16_LO_DS, To::Offset),
            (REQ_DTPREL16_HIGHESTA, ADDR16_HIGHESTA, To::Offset),
            (REQ_DTPREL34, D34, To::Offset),
            (REQ_DTPREL64, POINTER64, To::Offset),
        ];
        for le in [true, false] {
            let mut f = fixture(le);
            for (i, &(k, _, _)) in cases.iter().enumerate() {
                f.g.blocks[f.text.index()].edges.push(Edge {
                    offset: 2 * i as u32,
                    target: f.var,
                    kind: k,
                    origin: 0,
                    addend: 3,
                });
            }
            build(&mut f.g, &mut f.names).unwrap();
            assert!(f.g.files[0].got_base.is_some(), "TOC-relative TLS needs .TOC.");
            let classes: Vec<Class> =
                f.g.blocks[f.text.index()].edges.iter().map(|e| classify(&f.g, &f.names, e.target)).collect();
            place(&mut f.g);
            pre_fixup(&mut f.g, &f.names).unwrap();
            let start =
                f.g.sections
                    .iter()
                    .find(|s| s.role == SectionRole::TlsData)
                    .map(|s| f.g.blocks[s.blocks[0].index()].addr)
                    .unwrap();
            let edges = f.g.blocks[f.text.index()].edges.clone();
            for ((e, &(k, lowered, to)), &class) in edges.iter().zip(cases).zip(&classes) {
                assert_eq!(e.kind, lowered, "{}", kind_name(k));
                let want = match to {
                    To::Pair => Class::Pair(f.var, 3),
                    To::ModulePair => Class::ModulePair,
                    To::Entry => Class::DtprelEntry(f.var, 3),
                    To::Module => Class::Module,
                    To::Offset => {
                        let x = f.g.symbol_addr(f.var).wrapping_add(e.addend as u64);
                        assert_eq!(x, f.g.symbol_addr(f.var) + 3 - start, "{}", kind_name(k));
                        Class::Other(f.var)
                    }
                };
                assert_eq!(class, want, "{}", kind_name(k));
                if !matches!(to, To::Offset) {
                    assert_eq!(e.addend, 0, "{}", kind_name(k));
                }
            }
        }
    }

    #[test]
    fn a_tls_access_to_a_variable_outside_the_link_is_an_error() {
        let mut f = fixture(true);
        let ext = f.g.global_ref(f.names.intern(b"tv_ext"), f.file);
        f.g.blocks[f.text.index()].edges.push(Edge {
            offset: 0,
            target: ext,
            kind: REQ_GOT_TLSGD16_HA,
            origin: 0,
            addend: 0,
        });
        let e = build(&mut f.g, &mut f.names).unwrap_err().to_string();
        assert!(e.contains("t.o") && e.contains("tv_ext is not defined in this link"), "{e}");
    }
}
