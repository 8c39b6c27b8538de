//! The x86-64 GOT/PLT pass (post-prune): lowers every request edge kind
//! to a fixup kind, creating a GOT entry or PLT stub only where an edge
//! needs one (psABI §4.4.1 GOT, §A.2 PLT).
//!
//! Each file gets its own `$__GOT` (read-only after fixup) and `$__STUBS`
//! (read-execute) sections, as llvm-jitlink does, and its own
//! `_GLOBAL_OFFSET_TABLE_` at the start of its GOT.

use super::edges::*;
use super::fixup::relaxable_form;
use crate::error::Result;
use crate::graph::{BlockId, Content, Edge, FileId, Interner, LinkGraph, Prot, SectionId, SectionRole, SymbolId};
use hashbrown::HashMap;

/// A GOT entry: 8 bytes holding the target's address.
pub const GOT_ENTRY: [u8; 8] = [0; 8];
/// A PLT stub: `jmp *entry(%rip)` (`ff 25 rel32`), padded with `int3` to 8
/// bytes; the rel32 is a [`DELTA32`] edge at offset 2 to the GOT entry.
pub const STUB: [u8; 8] = [0xff, 0x25, 0, 0, 0, 0, 0xcc, 0xcc];

pub use crate::arch::GotPlt;

struct PerFile {
    got_section: Option<SectionId>,
    stub_section: Option<SectionId>,
    got: HashMap<SymbolId, SymbolId>,
    stubs: HashMap<SymbolId, SymbolId>,
}

struct Builder<'g, 'a> {
    g: &'g mut LinkGraph<'a>,
    names: &'g mut Interner,
    files: Vec<PerFile>,
    out: GotPlt,
}

impl<'g, 'a> Builder<'g, 'a> {
    fn got_section(&mut self, file: FileId) -> SectionId {
        if let Some(s) = self.files[file.index()].got_section {
            return s;
        }
        let name = self.names.intern(b"$__GOT");
        let s = self.g.add_section(name, file, Prot::Read, SectionRole::Got);
        self.files[file.index()].got_section = Some(s);
        s
    }

    fn got_entry(&mut self, file: FileId, target: SymbolId) -> SymbolId {
        if let Some(&e) = self.files[file.index()].got.get(&target) {
            return e;
        }
        let sec = self.got_section(file);
        let b = self.g.add_block(sec, Content::Borrowed(&GOT_ENTRY), 8, 8);
        self.g.blocks[b.index()].edges.push(Edge { offset: 0, target, kind: POINTER64, origin: 0, addend: 0 });
        let sym = self.g.add_anonymous(b, 0, file);
        self.g.symbols[sym.index()].size = 8;
        self.files[file.index()].got.insert(target, sym);
        self.out.got.push((file, target, sym));
        sym
    }

    fn stub(&mut self, file: FileId, target: SymbolId) -> SymbolId {
        if let Some(&e) = self.files[file.index()].stubs.get(&target) {
            return e;
        }
        let entry = self.got_entry(file, target);
        let sec = match self.files[file.index()].stub_section {
            Some(s) => s,
            None => {
                let name = self.names.intern(b"$__STUBS");
                let s = self.g.add_section(name, file, Prot::ReadExec, SectionRole::Stubs);
                self.files[file.index()].stub_section = Some(s);
                s
            }
        };
        let b = self.g.add_block(sec, Content::Borrowed(&STUB), STUB.len() as u64, 8);
        self.g.blocks[b.index()].edges.push(Edge { offset: 2, target: entry, kind: DELTA32, origin: 0, addend: -4 });
        let sym = self.g.add_anonymous(b, 0, file);
        let s = &mut self.g.symbols[sym.index()];
        s.size = STUB.len() as u64;
        s.callable = true;
        self.files[file.index()].stubs.insert(target, sym);
        self.out.stubs.push((file, target, sym, ""));
        sym
    }

    fn lower_block(&mut self, b: BlockId) {
        let mut edges = std::mem::take(&mut self.g.blocks[b.index()].edges);
        let file = self.g.block_section(b).file;
        for e in edges.iter_mut() {
            let here = self.g.is_defined_here(e.target);
            match e.kind {
                REQ_PLT_BRANCH32 => {
                    if here {
                        e.kind = BRANCH32;
                    } else {
                        e.target = self.stub(file, e.target);
                        e.kind = BRANCH32_TO_STUB_BYPASSABLE;
                    }
                }
                REQ_GOT_LOAD_RELAXABLE | REQ_GOT_LOAD_REX_RELAXABLE => {
                    let rex = e.kind == REQ_GOT_LOAD_REX_RELAXABLE;
                    let relaxable = self.g.blocks[b.index()]
                        .bytes()
                        .is_some_and(|bytes| relaxable_form(rex, bytes, e.offset as usize));
                    if here && relaxable {
                        e.kind = GOT_LOAD_RELAXED;
                    } else {
                        e.target = self.got_entry(file, e.target);
                        e.kind = if !relaxable {
                            DELTA32
                        } else if rex {
                            GOT_LOAD_REX_RELAXABLE
                        } else {
                            GOT_LOAD_RELAXABLE
                        };
                    }
                }
                REQ_GOT_DELTA32 => {
                    e.target = self.got_entry(file, e.target);
                    e.kind = DELTA32;
                }
                REQ_GOT_DELTA64 => {
                    e.target = self.got_entry(file, e.target);
                    e.kind = DELTA64;
                }
                REQ_GOT_OFFSET64 => {
                    e.target = self.got_entry(file, e.target);
                    e.kind = DELTA64_FROM_GOT;
                }
                REQ_GOT_OFFSET32 => {
                    e.target = self.got_entry(file, e.target);
                    e.kind = DELTA32_FROM_GOT;
                }
                REQ_PLT_OFFSET64 => {
                    // Large-model PIC calls `GOT + PLTOFF`: always through
                    // a stub, as a static linker's PLT entry.
                    e.target = self.stub(file, e.target);
                    e.kind = DELTA64_FROM_GOT;
                }
                _ => {}
            }
        }
        self.g.blocks[b.index()].edges = edges;
    }
}

/// Runs the pass over every live block: lowers request kinds, creates GOT
/// entries and stubs, and defines each file's `_GLOBAL_OFFSET_TABLE_`
/// (`FileInfo::got_base`) at the start of its GOT (creating an empty,
/// 8-byte GOT when the file only uses the GOT base).
///
/// # Errors
/// None today; the signature leaves room for target-specific limits.
pub fn build(g: &mut LinkGraph<'_>, names: &mut Interner) -> Result<GotPlt> {
    let nfiles = g.files.len();
    let block_count = g.blocks.len();
    let mut bld = Builder {
        g,
        names,
        files: (0..nfiles)
            .map(|_| PerFile { got_section: None, stub_section: None, got: HashMap::new(), stubs: HashMap::new() })
            .collect(),
        out: GotPlt::default(),
    };
    for i in 0..block_count {
        let b = BlockId(i as u32);
        if !bld.g.blocks[i].live || bld.g.blocks[i].edges.is_empty() {
            continue;
        }
        if bld.g.blocks[i].edges.iter().any(|e| e.kind.0 >= REQ_PLT_BRANCH32.0) {
            bld.lower_block(b);
        }
    }
    // Define the GOT base of every file that references it.
    for f in 0..nfiles {
        let Some(base) = bld.g.files[f].got_base else {
            continue;
        };
        let sec = bld.got_section(FileId(f as u32));
        let first = match bld.g.sections[sec.index()].blocks.first() {
            Some(&b) => b,
            None => bld.g.add_block(sec, Content::Borrowed(&GOT_ENTRY), 8, 8),
        };
        let s = &mut bld.g.symbols[base.index()];
        s.kind = crate::graph::SymbolKind::Defined;
        s.block = Some(first);
        s.value = 0;
    }
    Ok(bld.out)
}

/// Runs after allocation and resolution, before fixups (nothing on x86-64:
/// relaxation happens in the fixups themselves).
///
/// # Errors
/// None.
pub fn pre_fixup(_g: &mut LinkGraph<'_>, _names: &Interner) -> Result<()> {
    Ok(())
}
