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
    tls_gd: HashMap<SymbolId, SymbolId>,
    tls_desc: HashMap<SymbolId, SymbolId>,
    tls_ld: Option<SymbolId>,
}

/// Sixteen zero bytes: a `{module, offset}` or `{resolver, arg}` pair.
static PAIR: [u8; 16] = [0; 16];
/// The thread-local module descriptor (`crate::runtime::tls::TlsModule`).
static TLS_MODULE: [u8; 32] = [0; 32];

struct Builder<'g, 'a> {
    g: &'g mut LinkGraph<'a>,
    names: &'g mut Interner,
    files: Vec<PerFile>,
    out: GotPlt,
    tls_module: Option<SymbolId>,
    error: Option<crate::error::Error>,
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

    /// The link's thread-local module descriptor (RW, filled at pre-fixup).
    fn tls_module(&mut self, file: FileId) -> SymbolId {
        if let Some(m) = self.tls_module {
            return m;
        }
        let name = self.names.intern(b"$__TLS_MODULE");
        let sec = self.g.add_section(name, file, Prot::ReadWrite, SectionRole::TlsModule);
        let b = self.g.add_block(sec, Content::Borrowed(&TLS_MODULE), 32, 8);
        let sym = self.g.add_anonymous(b, 0, file);
        self.tls_module = Some(sym);
        // References to __tls_get_addr bind to the JIT's own (the C
        // library's knows nothing of JIT modules).
        if let (Some(n), Some((get, _))) = (self.names.get(b"__tls_get_addr"), crate::runtime::tls::host_entry_points())
        {
            if let Some(&t) = self.g.globals.get(&n) {
                let s = &mut self.g.symbols[t.index()];
                if s.kind == crate::graph::SymbolKind::External {
                    s.kind = crate::graph::SymbolKind::Absolute;
                    s.value = get;
                    s.resolved = true;
                }
            }
        }
        sym
    }

    fn tls_pair(&mut self, file: FileId, target: Option<SymbolId>) -> SymbolId {
        let existing = match target {
            Some(t) => self.files[file.index()].tls_gd.get(&t).copied(),
            None => self.files[file.index()].tls_ld,
        };
        if let Some(p) = existing {
            return p;
        }
        let module = self.tls_module(file);
        let sec = self.got_section(file);
        let b = self.g.add_block(sec, Content::Borrowed(&PAIR), 16, 8);
        self.g.blocks[b.index()].edges.push(Edge { offset: 0, target: module, kind: POINTER64, origin: 0, addend: 0 });
        if let Some(t) = target {
            self.g.blocks[b.index()].edges.push(Edge { offset: 8, target: t, kind: DTPOFF64, origin: 0, addend: 0 });
        }
        let sym = self.g.add_anonymous(b, 0, file);
        match target {
            Some(t) => {
                self.files[file.index()].tls_gd.insert(t, sym);
            }
            None => self.files[file.index()].tls_ld = Some(sym),
        }
        sym
    }

    fn tls_desc(&mut self, file: FileId, target: SymbolId) -> SymbolId {
        if let Some(&d) = self.files[file.index()].tls_desc.get(&target) {
            return d;
        }
        let pair = self.tls_pair(file, Some(target));
        let resolver = crate::runtime::tls::host_entry_points().map_or(0, |(_, r)| r);
        let resolver = self.g.add_absolute(file, resolver);
        let sec = self.got_section(file);
        let b = self.g.add_block(sec, Content::Borrowed(&PAIR), 16, 8);
        self.g.blocks[b.index()].edges.push(Edge {
            offset: 0,
            target: resolver,
            kind: POINTER64,
            origin: 0,
            addend: 0,
        });
        self.g.blocks[b.index()].edges.push(Edge { offset: 8, target: pair, kind: POINTER64, origin: 0, addend: 0 });
        let sym = self.g.add_anonymous(b, 0, file);
        self.files[file.index()].tls_desc.insert(target, sym);
        sym
    }

    fn check_tls_target(&mut self, t: SymbolId, names: &str) {
        let defined = matches!(
            self.g.symbols[t.index()].block.map(|b| self.g.block_section(b).role),
            Some(SectionRole::TlsData | SectionRole::TlsBss)
        );
        if !defined && self.error.is_none() {
            let what = self.g.symbol_display(t, self.names);
            self.error = Some(crate::error::Error::Unsupported {
                file: names.to_string(),
                detail: format!(
                    "thread-local variable {what} is not defined in this link (thread-local storage shared \
                     across links or with the host is not supported)"
                ),
            });
        }
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
                REQ_TLSGD => {
                    let fname = self.g.files[file.index()].name.clone();
                    self.check_tls_target(e.target, &fname);
                    e.target = self.tls_pair(file, Some(e.target));
                    e.kind = DELTA32;
                }
                REQ_TLSLD => {
                    e.target = self.tls_pair(file, None);
                    e.kind = DELTA32;
                }
                REQ_TLSDESC => {
                    let fname = self.g.files[file.index()].name.clone();
                    self.check_tls_target(e.target, &fname);
                    e.target = self.tls_desc(file, e.target);
                    e.kind = DELTA32;
                }
                TLS_MODULE64 => {
                    e.target = self.tls_module(file);
                    e.kind = POINTER64;
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
            .map(|_| PerFile {
                got_section: None,
                stub_section: None,
                got: HashMap::new(),
                stubs: HashMap::new(),
                tls_gd: HashMap::new(),
                tls_desc: HashMap::new(),
                tls_ld: None,
            })
            .collect(),
        out: GotPlt::default(),
        tls_module: None,
        error: None,
    };
    for i in 0..block_count {
        let b = BlockId(i as u32);
        if !bld.g.blocks[i].live || bld.g.blocks[i].edges.is_empty() {
            continue;
        }
        if bld.g.blocks[i].edges.iter().any(|e| e.kind.0 >= REQ_PLT_BRANCH32.0 || e.kind == TLS_MODULE64) {
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
    if let Some(e) = bld.error {
        return Err(e);
    }
    Ok(bld.out)
}

/// Runs after allocation and resolution, before fixups: folds
/// [`SUBTRAHEND`] edges into their pairs ([`fold_subtrahends`]) and the
/// thread-local template's start into DTPOFF edges (relaxation happens in
/// the fixups themselves).
///
/// # Errors
/// None.
pub fn pre_fixup(g: &mut LinkGraph<'_>, _names: &Interner) -> Result<()> {
    fold_subtrahends(g);
    // The thread-local template: where it starts (rounded down to its
    // alignment, so that each thread's block, allocated at that alignment,
    // keeps every variable's), how big, how aligned.
    let t = crate::arch::tls::template(g);
    let (start, align) = (t.start, t.align);
    let end = t.start + t.size;
    // Offsets in the block: fold the template's start into the addend.
    for blk in g.blocks.iter_mut().filter(|b| b.live) {
        for e in blk.edges.iter_mut() {
            if e.kind == DTPOFF64 || e.kind == DTPOFF32 {
                e.addend = e.addend.wrapping_sub(start as i64);
                e.kind = if e.kind == DTPOFF64 { POINTER64 } else { POINTER32_SIGNED };
            }
        }
    }
    // The module descriptor: {image, size, align, key = 0}.
    let module = g.sections.iter().find(|s| s.role == SectionRole::TlsModule).map(|s| (s.blocks[0], s.file));
    if let Some((b, file)) = module {
        for (i, v) in [start, end.saturating_sub(start), align].into_iter().enumerate() {
            let t = g.add_absolute(file, v);
            g.blocks[b.index()].edges.push(Edge {
                offset: 8 * i as u32,
                target: t,
                kind: POINTER64,
                origin: 0,
                addend: 0,
            });
        }
    }
    Ok(())
}

/// Folds every [`SUBTRAHEND`] edge of a live block into the pair-kind edge
/// ([`is_pair_kind`]) at the same offset: that edge's addend becomes
/// `A - B` (B the subtrahend's target address plus its own addend, known
/// after resolution) and
/// the subtrahend becomes [`KEEP_ALIVE`]. A subtrahend with no pair stays a
/// request, which the fixup refuses ([`crate::arch::FixupError::Unlowered`]).
pub fn fold_subtrahends(g: &mut LinkGraph<'_>) {
    for bi in 0..g.blocks.len() {
        if !g.blocks[bi].live || !g.blocks[bi].edges.iter().any(|e| e.kind == SUBTRAHEND) {
            continue;
        }
        let mut edges = std::mem::take(&mut g.blocks[bi].edges);
        // The pair edge at each offset, found once (linear, not per subtrahend).
        let mut pair_at: hashbrown::HashMap<u32, usize> = hashbrown::HashMap::new();
        for (j, e) in edges.iter().enumerate() {
            if is_pair_kind(e.kind) {
                pair_at.entry(e.offset).or_insert(j);
            }
        }
        for i in 0..edges.len() {
            if edges[i].kind != SUBTRAHEND {
                continue;
            }
            let Some(&j) = pair_at.get(&edges[i].offset) else {
                continue;
            };
            let b = g.symbol_addr(edges[i].target).wrapping_add(edges[i].addend as u64);
            edges[j].addend = edges[j].addend.wrapping_sub(b as i64);
            edges[i].kind = KEEP_ALIVE;
        }
        g.blocks[bi].edges = edges;
    }
}

#[cfg(test)]
mod fold_tests {
    use super::*;

    #[test]
    fn subtrahend_folds_into_its_pair_only() {
        let mut names = Interner::new();
        let mut g = LinkGraph::new(8, true);
        let f = g.add_file("a.o".into());
        let sec = g.add_section(names.intern(b"__data"), f, Prot::ReadWrite, SectionRole::Regular);
        static BYTES: [u8; 16] = [0; 16];
        let b = g.add_block(sec, Content::Borrowed(&BYTES), 16, 8);
        g.blocks[b.index()].addr = 0x5000;
        let (s, bsym) = (g.add_absolute(f, 0x9000), g.add_absolute(f, 0x1000));
        let e = |offset, kind, target, addend| Edge { offset, target, kind, origin: 0, addend };
        g.blocks[b.index()].edges.push(e(0, DELTA64_PAIR, s, 8));
        g.blocks[b.index()].edges.push(e(0, SUBTRAHEND, bsym, 0));
        g.blocks[b.index()].edges.push(e(8, SUBTRAHEND, bsym, 0)); // no pair
        fold_subtrahends(&mut g);
        let edges = &g.blocks[b.index()].edges;
        assert_eq!((edges[0].kind, edges[0].addend), (DELTA64_PAIR, 8 - 0x1000));
        assert_eq!(edges[1].kind, KEEP_ALIVE);
        assert_eq!(edges[2].kind, SUBTRAHEND);
    }
}
