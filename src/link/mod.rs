//! The link driver's stages over a built graph: commons,
//! `__start_`/`__stop_` symbols, prune (dead-strip), layout and
//! allocation, and fixup. [`crate::session::Session::link`] runs them in
//! the pipeline order with the user's passes between them.

pub mod eh_frame;

use crate::arch::{Arch, FixupError, FixupInput};
use crate::error::{Error, Location, Result};
use crate::graph::{BlockId, Content, Interner, LinkGraph, NameId, Prot, SectionRole, SymbolId, SymbolKind};
use crate::memory::{AllocRequest, Allocation, MemoryManager};

/// Where in the pipeline a user pass runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PassPoint {
    /// After the graph is built (archive members included), before dead-stripping.
    PrePrune,
    /// After dead-stripping and the architecture's GOT/stub pass.
    PostPrune,
    /// After every block has its target address, before externals resolve.
    PostAllocation,
    /// After externals resolve, before fixups.
    PreFixup,
    /// After fixups, before memory is finalized.
    PostFixup,
}

/// A user pass: sees and may change the graph. Block content is in working
/// memory from allocation on; passes after allocation see addresses.
pub type Pass = Box<dyn for<'a> FnMut(&mut LinkGraph<'a>, &Interner) -> Result<()> + Send>;

/// The user passes at each point, run in order.
#[derive(Default)]
pub struct PassConfig {
    pub(crate) passes: Vec<(PassPoint, Pass)>,
}

impl PassConfig {
    /// Adds `pass` to run at `point`, after those already there.
    pub fn add(&mut self, point: PassPoint, pass: Pass) {
        self.passes.push((point, pass));
    }

    /// Runs the passes of `point`.
    ///
    /// # Errors
    /// The first error a pass returns.
    pub fn run(&mut self, point: PassPoint, g: &mut LinkGraph<'_>, names: &Interner) -> Result<()> {
        for (p, pass) in self.passes.iter_mut() {
            if *p == point {
                pass(g, names)?;
            }
        }
        Ok(())
    }
}

/// Gives every common symbol zero-fill storage of its size and alignment
/// in a `COMMON` section of its file.
pub fn allocate_commons(g: &mut LinkGraph<'_>, names: &mut Interner) {
    let commons: Vec<SymbolId> =
        g.globals.values().copied().filter(|s| g.symbols[s.index()].kind == SymbolKind::Common).collect();
    if commons.is_empty() {
        return;
    }
    let name = names.intern(b"COMMON");
    let mut per_file = hashbrown::HashMap::new();
    for s in commons {
        let (file, size, align) = {
            let sym = &g.symbols[s.index()];
            (sym.file, sym.size, sym.value)
        };
        let sec =
            *per_file.entry(file).or_insert_with(|| g.add_section(name, file, Prot::ReadWrite, SectionRole::Common));
        let b = g.add_block(sec, Content::Zero, size, align);
        let sym = &mut g.symbols[s.index()];
        sym.kind = SymbolKind::Defined;
        sym.block = Some(b);
        sym.value = 0;
    }
}

/// Defines undefined `__start_SEC` / `__stop_SEC` references where a
/// section `SEC` exists: at the start of its first block and the end of its
/// last (sections of one name are laid out together). Those sections are
/// kept alive.
pub fn define_start_stop(g: &mut LinkGraph<'_>, names: &mut Interner) {
    let mut wanted: Vec<(SymbolId, NameId, bool)> = Vec::new();
    for (&n, &s) in g.globals.iter() {
        if g.symbols[s.index()].kind != SymbolKind::External {
            continue;
        }
        let bytes = names.bytes(n);
        let (rest, start) = if let Some(r) = bytes.strip_prefix(b"__start_") {
            (r, true)
        } else if let Some(r) = bytes.strip_prefix(b"__stop_") {
            (r, false)
        } else {
            continue;
        };
        if let Some(sec) = names.get(rest) {
            wanted.push((s, sec, start));
        }
    }
    if wanted.is_empty() {
        return;
    }
    let mut by_name: hashbrown::HashMap<NameId, Vec<usize>> = hashbrown::HashMap::new();
    for (i, s) in g.sections.iter().enumerate() {
        if !s.blocks.is_empty() {
            by_name.entry(s.name).or_default().push(i);
        }
    }
    for (sym, sec_name, start) in wanted {
        let secs: Vec<usize> = by_name.get(&sec_name).cloned().unwrap_or_default();
        let (Some(&first), Some(&last)) = (secs.first(), secs.last()) else {
            continue;
        };
        for &i in &secs {
            g.sections[i].keep = true;
        }
        let (block, offset) = if start {
            (g.sections[first].blocks[0], 0)
        } else {
            let b = *g.sections[last].blocks.last().expect("non-empty");
            (b, g.blocks[b.index()].size)
        };
        let s = &mut g.symbols[sym.index()];
        s.kind = SymbolKind::Defined;
        s.block = Some(block);
        s.value = offset;
        s.scope = crate::graph::Scope::Hidden;
    }
}

/// Defines the symbols a C runtime's startup files would provide, when
/// the graph references them and nothing defines them: `__dso_handle`
/// (one per link: an 8-byte read-only block whose address identifies the
/// link to `__cxa_atexit`).
pub fn define_runtime_symbols(g: &mut LinkGraph<'_>, names: &mut Interner) {
    let Some(n) = names.get(b"__dso_handle") else {
        return;
    };
    let Some(&s) = g.globals.get(&n) else { return };
    if g.symbols[s.index()].kind != SymbolKind::External {
        return;
    }
    static HANDLE: [u8; 8] = [0; 8];
    let file = g.symbols[s.index()].file;
    let sec_name = names.intern(b"$__DSO_HANDLE");
    let sec = g.add_section(sec_name, file, Prot::Read, SectionRole::Regular);
    let b = g.add_block(sec, Content::Borrowed(&HANDLE), 8, 8);
    let sym = &mut g.symbols[s.index()];
    sym.kind = SymbolKind::Defined;
    sym.block = Some(b);
    sym.value = 0;
    sym.size = 8;
    sym.scope = crate::graph::Scope::Hidden;
}

/// Dead-strips: a block stays live if it is in a kept section, defines a
/// non-local symbol, or is reachable through edges from such a block.
pub fn prune(g: &mut LinkGraph<'_>) {
    for b in g.blocks.iter_mut() {
        b.live = false;
    }
    let mut work: Vec<BlockId> = Vec::with_capacity(g.blocks.len());
    let mark = |g: &mut LinkGraph<'_>, b: BlockId, work: &mut Vec<BlockId>| {
        let blk = &mut g.blocks[b.index()];
        if !blk.live {
            blk.live = true;
            work.push(b);
        }
    };
    for si in 0..g.sections.len() {
        if g.sections[si].keep {
            for bi in 0..g.sections[si].blocks.len() {
                let b = g.sections[si].blocks[bi];
                mark(g, b, &mut work);
            }
        }
    }
    for s in 0..g.symbols.len() {
        let sym = &g.symbols[s];
        if sym.scope != crate::graph::Scope::Local && sym.kind == SymbolKind::Defined {
            if let Some(b) = sym.block {
                mark(g, b, &mut work);
            }
        }
    }
    while let Some(b) = work.pop() {
        for i in 0..g.blocks[b.index()].edges.len() {
            let t = g.blocks[b.index()].edges[i].target;
            if let Some(tb) = g.symbols[t.index()].block {
                if g.symbols[t.index()].kind == SymbolKind::Defined {
                    mark(g, tb, &mut work);
                }
            }
        }
    }
}

/// Where layout put each live block: segment and offset within it.
pub struct Layout {
    /// The request to hand the memory manager.
    pub request: AllocRequest,
    /// `(block, prot, offset in segment)` for every live block.
    pub placed: Vec<(BlockId, Prot, u64)>,
}

/// Lays out live blocks: by protection (RX, R, RW), sections of one name
/// together in order of first appearance, each block aligned. Asks for
/// memory below 2 GiB when a live edge stores one of the link's own
/// addresses in 32 bits.
pub fn layout(g: &LinkGraph<'_>, arch: Arch) -> Layout {
    // Order sections: (prot, first index of their name, index).
    let mut first_of_name: hashbrown::HashMap<NameId, usize> = hashbrown::HashMap::new();
    // The TLS template (.tdata then .tbss) goes last in its segment, in
    // one piece.
    let mut order: Vec<(u8, u8, usize, usize)> = Vec::with_capacity(g.sections.len());
    for (i, s) in g.sections.iter().enumerate() {
        let f = *first_of_name.entry(s.name).or_insert(i);
        let tls = match s.role {
            SectionRole::TlsData => 1,
            SectionRole::TlsBss => 2,
            _ => 0,
        };
        order.push((s.prot as u8, tls, f, i));
    }
    order.sort_unstable();
    // Islands: sections laid out right after a given block.
    let mut after: hashbrown::HashMap<BlockId, Vec<usize>> = hashbrown::HashMap::new();
    for (i, s) in g.sections.iter().enumerate() {
        if let Some(b) = s.follows {
            after.entry(b).or_default().push(i);
        }
    }
    let mut request = AllocRequest::default();
    let mut placed = Vec::with_capacity(g.blocks.len());
    fn place(
        g: &LinkGraph<'_>,
        si: usize,
        after: &hashbrown::HashMap<BlockId, Vec<usize>>,
        request: &mut AllocRequest,
        placed: &mut Vec<(BlockId, Prot, u64)>,
        depth: u32,
    ) {
        let s = &g.sections[si];
        for &b in &s.blocks {
            let blk = &g.blocks[b.index()];
            if !blk.live {
                continue;
            }
            let seg = &mut request.segments[s.prot.index()];
            let at = crate::memory::align_up(seg.size, blk.align);
            placed.push((b, s.prot, at));
            seg.size = at + blk.size;
            seg.align = seg.align.max(blk.align);
            if let Some(islands) = after.get(&b).filter(|_| depth < 4) {
                for &i in islands {
                    place(g, i, after, request, placed, depth + 1);
                }
            }
        }
    }
    for &(_, _, _, si) in &order {
        if g.sections[si].follows.is_none() {
            place(g, si, &after, &mut request, &mut placed, 0);
        }
    }
    request.low_2gib = g
        .blocks
        .iter()
        .filter(|b| b.live)
        .any(|b| b.edges.iter().any(|e| arch.needs_low_address(e.kind) && g.is_defined_here(e.target)));
    Layout { request, placed }
}

/// Allocates memory for a layout, gives every live block its target
/// address, and copies block content into working memory.
///
/// # Errors
/// The memory manager's errors.
pub fn allocate(g: &mut LinkGraph<'_>, lay: &Layout, mm: &mut dyn MemoryManager) -> Result<Box<dyn Allocation>> {
    let mut alloc = mm.allocate(&lay.request)?;
    let bases = Prot::ALL.map(|p| alloc.segment(p).target);
    for &(b, prot, off) in &lay.placed {
        let blk = &mut g.blocks[b.index()];
        blk.addr = bases[prot.index()] + off;
        if let Some(bytes) = blk.bytes() {
            let w = alloc.working_mut(prot);
            w[off as usize..off as usize + bytes.len()].copy_from_slice(bytes);
        }
    }
    Ok(alloc)
}

/// Applies every edge of every live block to working memory.
///
/// # Errors
/// [`Error::OutOfRange`] naming file, section, offset, relocation and
/// target when a value does not fit; [`Error::Malformed`] for a field
/// outside its block.
pub fn apply_fixups(g: &LinkGraph<'_>, names: &Interner, arch: Arch, alloc: &mut dyn Allocation) -> Result<()> {
    let seg_base = Prot::ALL.map(|p| alloc.segment(p).target);
    let got_bases: Vec<u64> = g.files.iter().map(|f| f.got_base.map_or(0, |s| g.symbol_addr(s))).collect();
    for blk in g.blocks.iter() {
        if !blk.live || blk.edges.is_empty() {
            continue;
        }
        let sec = &g.sections[blk.section.index()];
        let prot = sec.prot;
        let off = (blk.addr - seg_base[prot.index()]) as usize;
        let work = alloc.working_mut(prot);
        let bytes = &mut work[off..off + blk.size as usize];
        for e in blk.edges.iter() {
            let t = &g.symbols[e.target.index()];
            let bypass = if arch.has_bypass(e.kind) {
                let f = g.final_target(e.target);
                (f != e.target).then(|| g.symbol_addr(f))
            } else {
                None
            };
            let input = FixupInput {
                p: blk.addr + u64::from(e.offset),
                s: g.symbol_addr(e.target),
                a: e.addend,
                got: got_bases[sec.file.index()],
                size: t.size,
                bypass,
            };
            if let Err(err) = arch.apply_fixup(e.kind, bytes, e.offset as usize, &input) {
                let file = &g.files[sec.file.index()];
                let at = Box::new(Location {
                    file: file.name.clone(),
                    section: names.str(sec.name).into_owned(),
                    offset: blk.section_offset + u64::from(e.offset),
                });
                let relocation = if e.origin != 0 {
                    (file.reloc_name)(e.origin).into_owned()
                } else {
                    arch.kind_name(e.kind).to_string()
                };
                return Err(match err {
                    FixupError::OutOfRange { value, range } => {
                        Error::OutOfRange { at, relocation, target: g.symbol_display(e.target, names), value, range }
                    }
                    FixupError::OutsideBlock => Error::Malformed {
                        file: at.file.clone(),
                        detail: format!("{at}: relocation {relocation} field extends past the end of its section"),
                    },
                    FixupError::Unlowered => Error::UnsupportedRelocation {
                        at,
                        relocation,
                        reason: "edge kind was not lowered by the architecture pass",
                    },
                });
            }
        }
    }
    Ok(())
}
