//! The AArch64 GOT/PLT pass (post-prune): lowers every request edge kind
//! to a fixup kind, creating a GOT entry, PLT stub or veneer only where an
//! edge needs one, and relaxes GOT loads of symbols defined in the link.
//!
//! Each file gets its own `$__GOT` (read-only after fixup) and `$__STUBS`
//! (read-execute) sections, and its own `_GLOBAL_OFFSET_TABLE_` at the
//! start of its GOT, as on x86-64.
//!
//! * GOT entries hold `S + A` (AAELF64 §5.7.2 `GDAT(S+A)`), one per
//!   (file, target, addend).
//! * Branches (`B`/`BL`, `B.cond`/`CBZ`/`CBNZ`, `TBZ`/`TBNZ`) and
//!   `R_AARCH64_PLT32` to a symbol the link does not define (resolved
//!   later: host, other links, `--abs`) go through a **PLT stub** (flavour
//!   `plt`): `ADRP x16, entry; LDR x16, [x16, :lo12:entry]; BR x16`, or
//!   `LDR x16, entry; BR x16` when the GOT entry is within ±1 MiB
//!   ([`super::redirect::encode_stub`]), which reaches any 64-bit address;
//!   the fixup bypasses it when the final target is in range.
//! * Branches to an absolute symbol (`SHN_ABS`) go through a **veneer**
//!   (flavour `veneer`, [`super::fixup::encode_veneer`]): `ADRP x16, T;
//!   ADD x16, x16, :lo12:T; BR x16` within ±4 GiB, else `LDR x16, .+8;
//!   BR x16; .xword T`; bypassed when in range.
//! * `B`/`BL` to a symbol defined in the link get a veneer too when the
//!   link's code could span more than the ±128 MiB a `B`/`BL` reaches
//!   (the sum of live RX block sizes, alignment padding and an upper
//!   bound for the stubs exceeds 2^27 bytes); otherwise any two places of
//!   the RX segment are within range and no veneer is made. Veneers sit in
//!   the caller file's `$__STUBS`, after all code (the layout puts
//!   `$__STUBS` last among RX sections), so a caller more than 128 MiB
//!   before them still gets an out-of-range error.
//! * GOT relaxation: within one block, the `ADRP` (R_AARCH64_ADR_GOT_PAGE)
//!   and `LDR` (R_AARCH64_LD64_GOT_LO12_NC) GOT loads of one (symbol,
//!   addend) defined in the link become `ADRP x, S+A` +
//!   `ADD Xt, Xn, :lo12:S+A` and need no GOT entry, provided every such
//!   `LDR` is `LDR Xt, [Xn, #imm]` and there is at least one of each
//!   (all-or-nothing per pair class, so an `ADRP` is never rewritten while
//!   a load through it still expects the GOT page). This is decided here
//!   rather than in the fixups because it needs both edges: the `LDR`'s
//!   fixup does not know the `ADRP`'s place, so it cannot tell whether
//!   the `ADRP` reaches the symbol's page. For symbols the link does not
//!   define the GOT load stays (their address is known only at
//!   resolution, and the GOT entry reaches anything).
//! * Thread-local storage (`crate::arch::tls`): general dynamic and TLS
//!   descriptor requests point at the variable's `{module, offset}` pair
//!   or `{resolver, &pair}` descriptor, local dynamic ones at the file's
//!   `{module, 0}` pair, all in the file's GOT ([`tls_request`]); the
//!   variable must be defined in a `.tdata`/`.tbss` section of the link.
//!   [`pre_fixup`] folds the template's start into the DTPREL requests
//!   ([`dtprel_request`]) and fills the module descriptor.

use super::edges::*;
use super::fixup::{is_ldr_x_uimm, VENEER_SIZE};
use super::redirect::STUB_SIZE;
use crate::arch::tls::{PairKinds, TlsBuilder};
use crate::error::Result;
use crate::graph::{
    BlockId, Content, Edge, EdgeKind, FileId, Interner, LinkGraph, Prot, SectionId, SectionRole, SymbolId, SymbolKind,
};
use hashbrown::{HashMap, HashSet};

pub use crate::arch::GotPlt;

/// A GOT entry: 8 bytes holding `S + A` (a [`POINTER64`] edge).
pub const GOT_ENTRY: [u8; 8] = [0; 8];
/// A PLT stub's initial bytes; the [`PLT_STUB`] fixup writes all of them.
pub const PLT_STUB_BYTES: [u8; STUB_SIZE] = [0; STUB_SIZE];
/// A veneer's initial bytes; the [`VENEER`] fixup writes all of them.
pub const VENEER_BYTES: [u8; VENEER_SIZE] = [0; VENEER_SIZE];

/// Reach of `B`/`BL` in bytes (imm26 × 4, forwards and backwards): a link
/// whose code spans at most this needs no veneer for its own symbols.
pub const BRANCH26_REACH: u64 = 1 << 27;

/// Upper bound of the bytes one stub (PLT stub or veneer, with alignment
/// padding) adds to the code.
const STUB_BOUND: u64 = (VENEER_SIZE + 8) as u64;

type Key = (SymbolId, i64);

#[derive(Default)]
struct PerFile {
    got_section: Option<SectionId>,
    stub_section: Option<SectionId>,
    got: HashMap<Key, SymbolId>,
    plt: HashMap<Key, SymbolId>,
    veneers: HashMap<Key, SymbolId>,
}

struct Builder<'g, 'a> {
    g: &'g mut LinkGraph<'a>,
    names: &'g mut Interner,
    files: Vec<PerFile>,
    out: GotPlt,
    /// Upper bound of the code's span: branches to the link's own symbols
    /// in other blocks need veneers when it exceeds their range.
    code_span: u64,
    /// Veneers placed right after a branching block (its island), per
    /// (block, target, addend).
    islands: HashMap<(BlockId, SymbolId, i64), SymbolId>,
    /// The island section of each branching block.
    island_sections: HashMap<BlockId, SectionId>,
    tls: TlsBuilder,
}

/// The kinds TLS pairs and descriptors are filled with.
const TLS_KINDS: PairKinds = PairKinds { pointer64: POINTER64, dtprel64: REQ_DTPREL64 };

/// An upper bound of the bytes the link's RX segment can span: every live
/// RX block with its worst-case alignment padding, plus a stub for every
/// branch and PLT32 edge.
pub fn code_span_bound(g: &LinkGraph<'_>) -> u64 {
    let mut total = 0u64;
    for b in g.blocks.iter().filter(|b| b.live) {
        if g.sections[b.section.index()].prot == Prot::ReadExec {
            total = total.saturating_add(b.size).saturating_add(b.align - 1);
        }
        let stubs = b.edges.iter().filter(|e| is_any_branch(e.kind) || e.kind == PLT32).count() as u64;
        total = total.saturating_add(stubs.saturating_mul(STUB_BOUND));
    }
    total
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

    fn stub_section(&mut self, file: FileId) -> SectionId {
        if let Some(s) = self.files[file.index()].stub_section {
            return s;
        }
        let name = self.names.intern(b"$__STUBS");
        let s = self.g.add_section(name, file, Prot::ReadExec, SectionRole::Stubs);
        self.files[file.index()].stub_section = Some(s);
        s
    }

    /// The GOT entry of `file` holding `target + addend`.
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

    /// A stub block in `file`'s `$__STUBS` with one edge at offset 0.
    fn stub_block(&mut self, file: FileId, content: &'static [u8], align: u64, edge: Edge) -> SymbolId {
        let sec = self.stub_section(file);
        let b = self.g.add_block(sec, Content::Borrowed(content), content.len() as u64, align);
        self.g.blocks[b.index()].edges.push(edge);
        let sym = self.g.add_anonymous(b, 0, file);
        let s = &mut self.g.symbols[sym.index()];
        s.size = content.len() as u64;
        s.callable = true;
        sym
    }

    /// The PLT stub of `file` jumping through the GOT entry of `target + addend`.
    fn plt_stub(&mut self, file: FileId, target: SymbolId, addend: i64) -> SymbolId {
        if let Some(&s) = self.files[file.index()].plt.get(&(target, addend)) {
            return s;
        }
        let entry = self.got_entry(file, target, addend);
        let edge = Edge { offset: 0, target: entry, kind: PLT_STUB, origin: 0, addend: 0 };
        let sym = self.stub_block(file, &PLT_STUB_BYTES, 4, edge);
        self.files[file.index()].plt.insert((target, addend), sym);
        self.out.stubs.push((file, target, sym, "plt"));
        sym
    }

    /// The veneer of `file` jumping to `target + addend`.
    fn veneer(&mut self, file: FileId, target: SymbolId, addend: i64) -> SymbolId {
        if let Some(&s) = self.files[file.index()].veneers.get(&(target, addend)) {
            return s;
        }
        let edge = Edge { offset: 0, target, kind: VENEER, origin: 0, addend };
        // 8-aligned so the literal form's `.xword` is naturally aligned.
        let sym = self.stub_block(file, &VENEER_BYTES, 8, edge);
        self.files[file.index()].veneers.insert((target, addend), sym);
        self.out.stubs.push((file, target, sym, "veneer"));
        sym
    }

    /// The island veneer of block `b` jumping to `target + addend`: a
    /// veneer in a `$__STUBS` section laid out right after `b`, so every
    /// branch of `b` reaches it (a block is far smaller than a branch's
    /// range), whatever the rest of the code spans.
    fn island_veneer(&mut self, b: BlockId, target: SymbolId, addend: i64) -> SymbolId {
        if let Some(&s) = self.islands.get(&(b, target, addend)) {
            return s;
        }
        let file = self.g.block_section(b).file;
        let sec = match self.island_sections.get(&b) {
            Some(&s) => s,
            None => {
                let name = self.names.intern(b"$__STUBS");
                let s = self.g.add_section(name, file, Prot::ReadExec, SectionRole::Stubs);
                self.g.sections[s.index()].follows = Some(b);
                self.island_sections.insert(b, s);
                s
            }
        };
        let nb = self.g.add_block(sec, Content::Borrowed(&VENEER_BYTES), VENEER_SIZE as u64, 8);
        self.g.blocks[nb.index()].edges.push(Edge { offset: 0, target, kind: VENEER, origin: 0, addend });
        let sym = self.g.add_anonymous(nb, 0, file);
        let s = &mut self.g.symbols[sym.index()];
        s.size = VENEER_SIZE as u64;
        s.callable = true;
        self.islands.insert((b, target, addend), sym);
        self.out.stubs.push((file, target, sym, "veneer"));
        sym
    }

    /// The (symbol, addend) pairs of block `b` whose `ADRP`/`LDR` GOT loads
    /// are all relaxed: target defined in the link, at least one
    /// [`REQ_GOT_PAGE21`] and one [`REQ_GOT_LO12`], every `LDR` of the form
    /// `LDR Xt, [Xn, #imm]`.
    fn relaxable_pairs(&self, b: BlockId) -> HashSet<Key> {
        let blk = &self.g.blocks[b.index()];
        let mut seen: HashMap<Key, (bool, bool, bool)> = HashMap::new();
        for e in blk.edges.iter() {
            if !matches!(e.kind, REQ_GOT_PAGE21 | REQ_GOT_LO12) || !self.g.is_defined_here(e.target) {
                continue;
            }
            let st = seen.entry((e.target, e.addend)).or_insert((false, false, true));
            if e.kind == REQ_GOT_PAGE21 {
                st.0 = true;
            } else {
                st.1 = true;
                let at = e.offset as usize;
                let word = blk
                    .bytes()
                    .and_then(|bytes| bytes.get(at..at.checked_add(4)?))
                    .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
                st.2 &= word.is_some_and(is_ldr_x_uimm);
            }
        }
        seen.into_iter().filter(|(_, (page, load, ok))| *page && *load && *ok).map(|(k, _)| k).collect()
    }

    fn lower_block(&mut self, b: BlockId) {
        let relax = self.relaxable_pairs(b);
        let mut edges = std::mem::take(&mut self.g.blocks[b.index()].edges);
        let file = self.g.block_section(b).file;
        for e in edges.iter_mut() {
            let key = (e.target, e.addend);
            // Point a GOT request at its entry: the entry holds S + A.
            let via_got = |me: &mut Self, e: &mut Edge, kind: EdgeKind| {
                e.target = me.got_entry(file, key.0, key.1);
                e.addend = 0;
                e.kind = kind;
            };
            match e.kind {
                BRANCH26 | BRANCH19 | BRANCH14 | PLT32 => {
                    // The edge keeps its addend: the fixup adds it to the
                    // final target when it bypasses the stub.
                    if self.g.is_defined_here(e.target) {
                        // Branches to another block may be out of range
                        // once the code exceeds the branch's reach: an
                        // island veneer right after this block, bypassed
                        // when the target is in range. (Within one block
                        // the distance is fixed; the fixup checks it.)
                        let reach = match e.kind {
                            BRANCH26 | PLT32 => BRANCH26_REACH,
                            BRANCH19 => 1 << 20,
                            _ => 1 << 15,
                        };
                        let other_block = self.g.symbols[e.target.index()].block != Some(b);
                        if other_block && self.code_span > reach && e.kind != PLT32 {
                            e.target = self.island_veneer(b, key.0, key.1);
                        }
                    } else if self.g.symbols[e.target.index()].kind == SymbolKind::Absolute {
                        e.target = self.veneer(file, key.0, key.1);
                    } else {
                        e.target = self.plt_stub(file, key.0, key.1);
                    }
                }
                REQ_GOT_PAGE21 if relax.contains(&key) => e.kind = PAGE21,
                REQ_GOT_LO12 if relax.contains(&key) => e.kind = GOT_LOAD_RELAXED_LO12,
                REQ_GOT_PAGE21 => via_got(self, e, PAGE21),
                REQ_GOT_LO12 => via_got(self, e, LDST64_LO12),
                REQ_GOT_LDR_LITERAL19 => via_got(self, e, LDR_LITERAL19),
                REQ_GOT_PAGE_LO15 => via_got(self, e, GOT_PAGE_LO15),
                REQ_GOT_OFFSET_LO15 => via_got(self, e, GOT_OFFSET_LO15),
                REQ_GOT_DELTA32 => via_got(self, e, DELTA32_SIGNED),
                REQ_MOVW_GOTOFF_G0 => via_got(self, e, MOVW_GOTREL_G0),
                REQ_MOVW_GOTOFF_G0_NC => via_got(self, e, MOVW_GOTREL_G0_NC),
                REQ_MOVW_GOTOFF_G1 => via_got(self, e, MOVW_GOTREL_G1),
                REQ_MOVW_GOTOFF_G1_NC => via_got(self, e, MOVW_GOTREL_G1_NC),
                REQ_MOVW_GOTOFF_G2 => via_got(self, e, MOVW_GOTREL_G2),
                REQ_MOVW_GOTOFF_G2_NC => via_got(self, e, MOVW_GOTREL_G2_NC),
                REQ_MOVW_GOTOFF_G3 => via_got(self, e, MOVW_GOTREL_G3),
                REQ_GOT_POINTER64 => via_got(self, e, POINTER64),
                k => self.lower_tls(file, e, k),
            }
        }
        self.g.blocks[b.index()].edges = edges;
    }
}

impl Builder<'_, '_> {
    /// Lowers a TLS request (others are left alone): pair and descriptor
    /// requests to their kind against the pair or descriptor, addend 0;
    /// DTPREL requests only have their variable checked here.
    fn lower_tls(&mut self, file: FileId, e: &mut Edge, k: EdgeKind) {
        if let Some((obj, kind)) = tls_request(k) {
            let var = match obj {
                TlsObject::ModulePair => Some((None, 0)),
                _ => self.tls.variable(self.g, self.names, file, e.target, e.addend),
            };
            let Some(var) = var else { return };
            let got = self.got_section(file);
            e.target = match obj {
                TlsObject::Descriptor => self.tls.descriptor(self.g, self.names, got, file, var, TLS_KINDS),
                _ => self.tls.pair(self.g, self.names, got, file, var, TLS_KINDS),
            };
            e.addend = 0;
            e.kind = kind;
        } else if dtprel_request(k).is_some() {
            self.tls.variable(self.g, self.names, file, e.target, e.addend);
        }
    }
}

/// Runs the pass over every live block: lowers request kinds, creates GOT
/// entries, PLT stubs and veneers (see the module documentation for when),
/// relaxes `ADRP`+`LDR` GOT loads of symbols defined in the link, and
/// defines each file's `_GLOBAL_OFFSET_TABLE_` (`FileInfo::got_base`) at
/// the start of its GOT (creating an empty 8-byte GOT when the file only
/// uses the GOT base).
///
/// # Errors
/// [`crate::error::Error::Unsupported`] for a thread-local access whose
/// variable is not defined in a `.tdata`/`.tbss` section of the link.
pub fn build(g: &mut LinkGraph<'_>, names: &mut Interner) -> Result<GotPlt> {
    let nfiles = g.files.len();
    let block_count = g.blocks.len();
    let code_span = code_span_bound(g);
    let mut bld = Builder {
        g,
        names,
        files: (0..nfiles).map(|_| PerFile::default()).collect(),
        out: GotPlt::default(),
        code_span,
        islands: HashMap::new(),
        island_sections: HashMap::new(),
        tls: TlsBuilder::default(),
    };
    for i in 0..block_count {
        let blk = &bld.g.blocks[i];
        if !blk.live || blk.edges.is_empty() {
            continue;
        }
        if blk.edges.iter().any(|e| e.kind.0 >= FIRST_REQUEST.0 || has_bypass(e.kind)) {
            bld.lower_block(BlockId(i as u32));
        }
    }
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
        s.kind = SymbolKind::Defined;
        s.block = Some(first);
        s.value = 0;
    }
    if let Some(e) = bld.tls.error {
        return Err(e);
    }
    Ok(bld.out)
}

/// Runs after allocation and resolution, before fixups: folds
/// [`SUBTRAHEND`] edges into their pairs ([`fold_subtrahends`]), and the
/// TLS template's start into the DTPREL requests, filling the module
/// descriptor (`crate::arch::tls::pre_fixup`); stub forms and bypasses
/// are chosen in the fixups.
///
/// # Errors
/// None.
pub fn pre_fixup(g: &mut LinkGraph<'_>, _names: &Interner) -> Result<()> {
    fold_subtrahends(g);
    crate::arch::tls::pre_fixup(g, POINTER64, dtprel_request);
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
mod tests {
    use super::*;
    use crate::arch::aarch64::fixup::apply_fixup;
    use crate::arch::FixupInput;
    use crate::graph::{Linkage, Scope, Symbol};

    struct T {
        g: LinkGraph<'static>,
        names: Interner,
        file: FileId,
        text: BlockId,
    }

    // adrp x0, 0; ldr x1, [x0]; bl 0; ldr w2, [x0]
    static CODE: [u8; 16] = [0x00, 0x00, 0x00, 0x90, 0x01, 0x00, 0x40, 0xf9, 0, 0, 0, 0x94, 0x02, 0x00, 0x40, 0xb9];

    fn graph(code: &'static [u8], text_size: u64) -> T {
        let mut names = Interner::new();
        let mut g = LinkGraph::new(8, true);
        let file = g.add_file("a.o".into());
        let sec = g.add_section(names.intern(b".text"), file, Prot::ReadExec, SectionRole::Regular);
        let content = if text_size as usize == code.len() { Content::Borrowed(code) } else { Content::Zero };
        let text = g.add_block(sec, content, text_size, 4);
        T { g, names, file, text }
    }

    fn sym(t: &mut T, name: &str, kind: SymbolKind, block: Option<BlockId>, value: u64) -> SymbolId {
        let n = t.names.intern(name.as_bytes());
        let id = t.g.add_symbol(Symbol {
            name: Some(n),
            file: t.file,
            block,
            value,
            size: 0,
            linkage: Linkage::Strong,
            scope: Scope::Default,
            kind,
            callable: true,
            resolved: false,
            target_flags: 0,
        });
        t.g.globals.insert(n, id);
        id
    }

    fn edge(t: &mut T, offset: u32, kind: EdgeKind, target: SymbolId, addend: i64) {
        t.g.blocks[t.text.index()].edges.push(Edge { offset, target, kind, origin: 0, addend });
    }

    fn edges(t: &T) -> Vec<(u32, EdgeKind, SymbolId, i64)> {
        t.g.blocks[t.text.index()].edges.iter().map(|e| (e.offset, e.kind, e.target, e.addend)).collect()
    }

    #[test]
    fn relaxes_adrp_ldr_pairs_to_defined_symbols_only() {
        let mut t = graph(&CODE, 16);
        let text = t.text;
        let here = sym(&mut t, "here", SymbolKind::Defined, Some(text), 8);
        let ext = sym(&mut t, "ext", SymbolKind::External, None, 0);
        edge(&mut t, 0, REQ_GOT_PAGE21, here, 0);
        edge(&mut t, 4, REQ_GOT_LO12, here, 0);
        edge(&mut t, 0, REQ_GOT_PAGE21, ext, 0);
        edge(&mut t, 4, REQ_GOT_LO12, ext, 0);
        let out = build(&mut t.g, &mut t.names).unwrap();
        let e = edges(&t);
        assert_eq!((e[0].1, e[0].2), (PAGE21, here));
        assert_eq!((e[1].1, e[1].2), (GOT_LOAD_RELAXED_LO12, here));
        assert_eq!(e[2].1, PAGE21);
        assert_eq!(e[3].1, LDST64_LO12);
        assert_eq!(out.got.len(), 1, "one GOT entry, for ext only");
        assert_eq!(out.got[0].1, ext);
        assert_eq!((e[2].2, e[3].2), (out.got[0].2, out.got[0].2));
    }

    #[test]
    fn no_relaxation_when_a_load_is_not_ldr_x() {
        let mut t = graph(&CODE, 16);
        let text = t.text;
        let here = sym(&mut t, "here", SymbolKind::Defined, Some(text), 8);
        edge(&mut t, 0, REQ_GOT_PAGE21, here, 0);
        edge(&mut t, 4, REQ_GOT_LO12, here, 0);
        edge(&mut t, 12, REQ_GOT_LO12, here, 0); // ldr w2: not relaxable
        let out = build(&mut t.g, &mut t.names).unwrap();
        let e = edges(&t);
        assert_eq!([e[0].1, e[1].1, e[2].1], [PAGE21, LDST64_LO12, LDST64_LO12]);
        assert_eq!(out.got.len(), 1);
        // A load with no ADRP in the block is not relaxed either.
        let mut t = graph(&CODE, 16);
        let text = t.text;
        let here = sym(&mut t, "here", SymbolKind::Defined, Some(text), 8);
        edge(&mut t, 4, REQ_GOT_LO12, here, 0);
        build(&mut t.g, &mut t.names).unwrap();
        assert_eq!(edges(&t)[0].1, LDST64_LO12);
    }

    #[test]
    fn got_entries_hold_s_plus_a_per_addend() {
        let mut t = graph(&CODE, 16);
        let ext = sym(&mut t, "ext", SymbolKind::External, None, 0);
        edge(&mut t, 0, REQ_GOT_PAGE21, ext, 16);
        edge(&mut t, 4, REQ_GOT_LO12, ext, 16);
        edge(&mut t, 4, REQ_GOT_LDR_LITERAL19, ext, 0);
        let out = build(&mut t.g, &mut t.names).unwrap();
        assert_eq!(out.got.len(), 2);
        let e = edges(&t);
        assert!(e.iter().all(|e| e.3 == 0), "GOT loads carry no addend: {e:?}");
        let entry = t.g.symbols[e[0].2.index()].block.unwrap();
        assert_eq!(t.g.blocks[entry.index()].edges[0].addend, 16);
        assert_eq!(t.g.blocks[entry.index()].edges[0].kind, POINTER64);
    }

    #[test]
    fn externals_get_plt_stubs_absolutes_veneers() {
        let mut t = graph(&CODE, 16);
        let text = t.text;
        let ext = sym(&mut t, "ext", SymbolKind::External, None, 0);
        let abs = sym(&mut t, "abs", SymbolKind::Absolute, None, 0x7f00_0000_0000);
        let here = sym(&mut t, "here", SymbolKind::Defined, Some(text), 0);
        edge(&mut t, 8, BRANCH26, ext, 0);
        edge(&mut t, 8, BRANCH19, ext, 0);
        edge(&mut t, 8, BRANCH26, abs, 4);
        edge(&mut t, 8, BRANCH26, here, 0);
        let out = build(&mut t.g, &mut t.names).unwrap();
        let flavours: Vec<&str> = out.stubs.iter().map(|s| s.3).collect();
        assert_eq!(flavours, ["plt", "veneer"], "one PLT stub shared by both branches to ext");
        let e = edges(&t);
        assert_eq!(e[0].2, out.stubs[0].2);
        assert_eq!(e[1].2, out.stubs[0].2);
        assert_eq!((e[2].2, e[2].3), (out.stubs[1].2, 4), "the branch keeps its addend for the bypass");
        assert_eq!(e[3].2, here, "small link: no veneer to its own symbols");
        let veneer_block = t.g.symbols[out.stubs[1].2.index()].block.unwrap();
        let ve = t.g.blocks[veneer_block.index()].edges[0];
        assert_eq!((ve.kind, ve.target, ve.addend), (VENEER, abs, 4));
        assert_eq!(t.g.blocks[veneer_block.index()].align, 8);
    }

    /// A link whose code spans more than 128 MiB: branches to its own
    /// symbols in other blocks go through island veneers placed right
    /// after the branching block, bypassed when in range.
    #[test]
    fn far_code_gets_island_veneers_bypassed_when_in_range() {
        let mut t = graph(&CODE, 16);
        let text = t.text;
        let big_sec = t.g.add_section(t.names.intern(b".text.big"), t.file, Prot::ReadExec, SectionRole::Regular);
        let big = t.g.add_block(big_sec, Content::Zero, BRANCH26_REACH, 4);
        let near = sym(&mut t, "near", SymbolKind::Defined, Some(text), 0);
        let far = sym(&mut t, "far", SymbolKind::Defined, Some(big), BRANCH26_REACH - 4);
        edge(&mut t, 8, BRANCH26, near, 0);
        edge(&mut t, 8, BRANCH26, far, 0);
        edge(&mut t, 8, BRANCH19, far, 0);
        assert!(code_span_bound(&t.g) > BRANCH26_REACH);
        let out = build(&mut t.g, &mut t.names).unwrap();
        assert_eq!(out.stubs.len(), 1, "one island veneer for far (B/BL and B.cond share it); none within a block");
        assert!(out.stubs.iter().all(|s| s.3 == "veneer"));
        let e = edges(&t);
        assert_eq!(e[0].2, near, "a branch within its own block needs no veneer");
        assert_eq!(e[1].2, e[2].2, "the conditional branch uses the island too");
        let island = t.g.symbols[e[1].2.index()].block.unwrap();
        assert_eq!(t.g.block_section(island).follows, Some(text), "the island follows its block");
        // Place: .text at 0x1000_0000 (16 bytes), its island right after,
        // .text.big after that.
        let text_addr = 0x1000_0000u64;
        let island_addr = text_addr + 16;
        let big_addr = island_addr + VENEER_SIZE as u64;
        t.g.blocks[island.index()].addr = island_addr;
        t.g.blocks[big.index()].addr = big_addr;
        let p = text_addr + 8;
        let far_addr = big_addr + BRANCH26_REACH - 4;
        // BL far: beyond 128 MiB, so it lands on the island veneer.
        let mut w = 0x9400_0000u32.to_le_bytes();
        let v = FixupInput { p, s: island_addr, a: 0, got: 0, size: 0, bypass: Some(far_addr) };
        apply_fixup(BRANCH26, &mut w, 0, &v, false).unwrap();
        assert_eq!(u32::from_le_bytes(w), 0x9400_0000 | 2, "BL to the island 8 bytes ahead");
        // B.cond far: also the island.
        let mut w = 0x5400_0001u32.to_le_bytes();
        apply_fixup(BRANCH19, &mut w, 0, &v, false).unwrap();
        assert_eq!((u32::from_le_bytes(w) >> 5) & 0x7ffff, 2, "B.NE to the island");
        // In range: the island is bypassed.
        let v = FixupInput { p, s: island_addr, a: 0, got: 0, size: 0, bypass: Some(big_addr) };
        let mut w = 0x9400_0000u32.to_le_bytes();
        apply_fixup(BRANCH26, &mut w, 0, &v, false).unwrap();
        assert_eq!(u32::from_le_bytes(w) & 0x3ff_ffff, ((big_addr - p) / 4) as u32, "straight to the target");
    }

    #[test]
    fn got_base_defined_even_without_entries() {
        let mut t = graph(&CODE, 16);
        let base = sym(&mut t, "_GLOBAL_OFFSET_TABLE_", SymbolKind::External, None, 0);
        t.g.files[t.file.index()].got_base = Some(base);
        let out = build(&mut t.g, &mut t.names).unwrap();
        assert!(out.got.is_empty());
        assert!(t.g.is_defined_here(base));
        let b = t.g.symbols[base.index()].block.unwrap();
        assert_eq!(t.g.block_section(b).role, SectionRole::Got);
    }
}

#[cfg(test)]
mod container_tests {
    use super::*;

    #[test]
    fn subtrahend_folds_into_its_pair_and_got_pointer_lowers() {
        let mut names = Interner::new();
        let mut g = LinkGraph::new(8, true);
        let f = g.add_file("a.o".into());
        let sec = g.add_section(names.intern(b"__data"), f, Prot::ReadWrite, SectionRole::Regular);
        static BYTES: [u8; 16] = [0; 16];
        let b = g.add_block(sec, Content::Borrowed(&BYTES), 16, 8);
        let (s, bsym) = (g.add_absolute(f, 0x9000), g.add_absolute(f, 0x1000));
        let ext = g.global_ref(names.intern(b"ext"), f);
        let e = |offset, kind, target, addend| Edge { offset, target, kind, origin: 0, addend };
        g.blocks[b.index()].edges.push(e(0, SUBTRAHEND, bsym, 0));
        g.blocks[b.index()].edges.push(e(0, DELTA32_PAIR, s, 4));
        g.blocks[b.index()].edges.push(e(8, REQ_GOT_POINTER64, ext, 0));
        let out = build(&mut g, &mut names).unwrap();
        assert_eq!(out.got.len(), 1);
        fold_subtrahends(&mut g);
        let edges = &g.blocks[b.index()].edges;
        assert_eq!(edges[0].kind, KEEP_ALIVE);
        assert_eq!((edges[1].kind, edges[1].addend), (DELTA32_PAIR, 4 - 0x1000));
        assert_eq!((edges[2].kind, edges[2].target), (POINTER64, out.got[0].2));
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;
    use crate::arch::tls::testing::{classify, fixture, place, Class};

    #[derive(Copy, Clone, Debug)]
    enum To {
        Pair,
        ModulePair,
        Descriptor,
        /// A DTPREL request: the variable, lowered at pre-fixup.
        Offset,
    }

    /// Each TLS request with addend 3: the kind it becomes and what it
    /// then points at.
    #[test]
    fn tls_requests_lower_to_pairs_descriptors_and_offsets() {
        let cases: &[(EdgeKind, EdgeKind, To)] = &[
            (REQ_TLSGD_ADR21, ADR21, To::Pair),
            (REQ_TLSGD_PAGE21, PAGE21, To::Pair),
            (REQ_TLSGD_ADD_LO12, ADD_LO12, To::Pair),
            (REQ_TLSGD_MOVW_G1, MOVW_GOTREL_G1, To::Pair),
            (REQ_TLSGD_MOVW_G0_NC, MOVW_GOTREL_G0_NC, To::Pair),
            (REQ_TLSLD_PAGE21, PAGE21, To::ModulePair),
            (REQ_TLSLD_ADD_LO12, ADD_LO12, To::ModulePair),
            (REQ_TLSLD_LDR_LITERAL19, LDR_LITERAL19, To::ModulePair),
            (REQ_TLSDESC_PAGE21, PAGE21, To::Descriptor),
            (REQ_TLSDESC_LD64_LO12, LDST64_LO12, To::Descriptor),
            (REQ_TLSDESC_ADD_LO12, ADD_LO12, To::Descriptor),
            (REQ_TLSDESC_MOVW_G1, MOVW_GOTREL_G1, To::Descriptor),
            (REQ_DTPREL_MOVW_G0, MOVW_SABS_G0, To::Offset),
            (REQ_DTPREL_ADD_HI12, TLS_ADD_HI12, To::Offset),
            (REQ_DTPREL_ADD_LO12_NC, ADD_LO12, To::Offset),
            (REQ_DTPREL_LDST32_LO12, TLS_LDST32_LO12, To::Offset),
            (REQ_DTPREL_LDST128_LO12_NC, LDST128_LO12, To::Offset),
        ];
        let mut f = fixture(true);
        for (i, &(k, _, _)) in cases.iter().enumerate() {
            f.g.blocks[f.text.index()].edges.push(Edge {
                offset: 4 * i as u32,
                target: f.var,
                kind: k,
                origin: 0,
                addend: 3,
            });
        }
        build(&mut f.g, &mut f.names).unwrap();
        let classes: Vec<Class> =
            f.g.blocks[f.text.index()].edges.iter().map(|e| classify(&f.g, &f.names, e.target)).collect();
        place(&mut f.g);
        pre_fixup(&mut f.g, &f.names).unwrap();
        let start =
            f.g.blocks
                .iter()
                .filter(|b| f.g.sections[b.section.index()].role == SectionRole::TlsData)
                .map(|b| b.addr)
                .min()
                .unwrap();
        let edges = f.g.blocks[f.text.index()].edges.clone();
        let mut pairs = hashbrown::HashSet::new();
        for ((e, &(k, lowered, to)), &class) in edges.iter().zip(cases).zip(&classes) {
            assert_eq!(e.kind, lowered, "{}", kind_name(k));
            match to {
                To::Pair => {
                    assert_eq!((class, e.addend), (Class::Pair(f.var, 3), 0), "{}", kind_name(k));
                    pairs.insert(e.target);
                }
                To::ModulePair => assert_eq!((class, e.addend), (Class::ModulePair, 0), "{}", kind_name(k)),
                To::Descriptor => assert_eq!((class, e.addend), (Class::Descriptor(f.var, 3), 0), "{}", kind_name(k)),
                To::Offset => {
                    assert_eq!(e.target, f.var, "{}", kind_name(k));
                    // S + A is the offset of var + 3 in the block.
                    let x = f.g.symbol_addr(f.var).wrapping_add(e.addend as u64);
                    assert_eq!(x, f.g.symbol_addr(f.var) + 3 - start, "{}", kind_name(k));
                }
            }
        }
        assert_eq!(pairs.len(), 1, "one pair per (file, variable, addend)");
    }

    #[test]
    fn a_tls_access_to_a_variable_outside_the_link_is_an_error() {
        let mut f = fixture(true);
        let ext = f.g.global_ref(f.names.intern(b"tv_ext"), f.file);
        f.g.blocks[f.text.index()].edges.push(Edge {
            offset: 0,
            target: ext,
            kind: REQ_TLSDESC_PAGE21,
            origin: 0,
            addend: 0,
        });
        let e = build(&mut f.g, &mut f.names).unwrap_err().to_string();
        assert!(e.contains("t.o") && e.contains("tv_ext is not defined in this link"), "{e}");
    }
}
