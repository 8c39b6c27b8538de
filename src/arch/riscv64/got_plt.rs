//! The RISC-V 64 post-prune pass: relaxation, GOT entries, PLT stubs and
//! range-extension stubs (veneers), where edges need them; and the
//! pre-fixup pass that pairs each `%pcrel_lo` with its `%pcrel_hi` and
//! folds SET/SUB relocation pairs (RISC-V ELF psABI, "Relocations",
//! "Procedure Linkage Table", "Linker Relaxation").
//!
//! Each file gets its own `$__GOT` (read-only after fixup) and `$__STUBS`
//! (read-execute) sections and its own `_GLOBAL_OFFSET_TABLE_` at the
//! start of its GOT, as on x86-64.
//!
//! Stubs are the psABI PLT entry: `auipc t3, %pcrel_hi(entry); ld t3,
//! %pcrel_lo(entry)(t3); jalr t1, t3; nop`, jumping through an 8-byte GOT
//! entry that holds the final target, so a stub reaches any address. They
//! clobber `t1` and `t3` only, as the psABI's PLT entry does.
//!
//! * R_RISCV_CALL[_PLT] to a target outside the link (external or
//!   absolute) goes through a stub (flavour `plt`), bypassed at fixup when
//!   the target is within the pair's ±2 GiB.
//! * R_RISCV_JAL / BRANCH / RVC_BRANCH / RVC_JUMP to a target outside the
//!   link go through a stub (flavour `veneer`), bypassed when in range.
//!   Nothing can be inserted into the middle of code, so when the stub
//!   itself (at the end of the code) is out of range the fixup fails with
//!   an error naming the site.
//! * Targets in the link: in the same block the distance is fixed before
//!   layout, so the edge is direct (an out-of-range one is an error at
//!   fixup). In another block, a veneer is made only when the link's code
//!   could exceed the instruction's range: the sum of the live
//!   read-execute blocks, each with its worst-case alignment padding, plus
//!   a stub (16 bytes and its alignment) per edge that may need one.
//! * Thread-local storage (`crate::arch::tls`): R_RISCV_TLS_GD_HI20 and
//!   R_RISCV_TLSDESC_HI20 become [`PCREL_HI20`] to the variable's
//!   `{module, offset}` pair or `{resolver, &pair}` descriptor in the
//!   file's GOT (their `%pcrel_lo` partners then resolve as for any
//!   PCREL_HI20), R_RISCV_TLS_DTPMOD64 a [`POINTER64`] to the module
//!   descriptor; [`pre_fixup`] folds the template's start into the DTPREL
//!   requests and fills the module descriptor. The variable must be
//!   defined in a `.tdata`/`.tbss` section of the link.

use super::edges::*;
use super::fixup::{BRANCH_RANGE, HI20_RANGE, JAL_RANGE, RVC_BRANCH_RANGE, RVC_JUMP_RANGE};
use crate::arch::tls::{PairKinds, TlsBuilder};
use crate::arch::GotPlt;
use crate::error::{Error, Result};
use crate::graph::{
    BlockId, Content, Edge, FileId, Interner, LinkGraph, Prot, SectionId, SectionRole, SymbolId, SymbolKind,
};
use hashbrown::HashMap;

/// A GOT entry: 8 bytes holding the target's address (a [`POINTER64`] edge).
pub const GOT_ENTRY: [u8; 8] = [0; 8];

/// A stub (PLT entry or veneer), 16 bytes: `auipc t3, 0` (`0x00000e17`),
/// `ld t3, 0(t3)` (`0x000e3e03`), `jalr t1, t3` (`0x000e0367`), `nop`
/// (`0x00000013`). Its edges: [`PCREL_HI20`] at 0 and [`PCREL_LO12_I`] at
/// 4 (addend 4, so that `S + A - P` is the `AUIPC`'s value), both to the
/// GOT entry.
pub const STUB: [u8; 16] =
    [0x17, 0x0e, 0x00, 0x00, 0x03, 0x3e, 0x0e, 0x00, 0x67, 0x03, 0x0e, 0x00, 0x13, 0x00, 0x00, 0x00];

/// Flavour of a PLT stub in [`GotPlt::stubs`].
pub const PLT: &str = "plt";
/// Flavour of a range-extension stub in [`GotPlt::stubs`].
pub const VENEER: &str = "veneer";

struct PerFile {
    got_section: Option<SectionId>,
    stub_section: Option<SectionId>,
    got: HashMap<SymbolId, SymbolId>,
    stubs: HashMap<(SymbolId, &'static str), SymbolId>,
}

struct Builder<'g, 'a> {
    g: &'g mut LinkGraph<'a>,
    names: &'g mut Interner,
    files: Vec<PerFile>,
    out: GotPlt,
    /// Upper bound of the link's code size in bytes.
    code_bound: u64,
    tls: TlsBuilder,
    /// Island veneers per (branching block, target).
    islands: HashMap<(BlockId, SymbolId), SymbolId>,
    /// The island section of each branching block.
    island_sections: HashMap<BlockId, SectionId>,
}

/// The kinds TLS pairs and descriptors are filled with.
const TLS_KINDS: PairKinds = PairKinds { pointer64: POINTER64, dtprel64: REQ_DTPREL64 };

impl Builder<'_, '_> {
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

    fn stub(&mut self, file: FileId, target: SymbolId, flavour: &'static str) -> SymbolId {
        if let Some(&s) = self.files[file.index()].stubs.get(&(target, flavour)) {
            return s;
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
        let edges = &mut self.g.blocks[b.index()].edges;
        edges.push(Edge { offset: 0, target: entry, kind: PCREL_HI20, origin: 0, addend: 0 });
        edges.push(Edge { offset: 4, target: entry, kind: PCREL_LO12_I, origin: 0, addend: 4 });
        let sym = self.g.add_anonymous(b, 0, file);
        let s = &mut self.g.symbols[sym.index()];
        s.size = STUB.len() as u64;
        s.callable = true;
        self.files[file.index()].stubs.insert((target, flavour), sym);
        self.out.stubs.push((file, target, sym, flavour));
        sym
    }

    /// An island veneer for branches of block `b` to `target` (defined in
    /// the link): the stub template (through a GOT entry, so it reaches
    /// anything; clobbers `t1`/`t3` like a PLT stub) placed right after `b`
    /// in `b`'s own section, so the short branches of `b` reach it.
    fn island(&mut self, b: BlockId, target: SymbolId) -> SymbolId {
        if let Some(&s) = self.islands.get(&(b, target)) {
            return s;
        }
        let file = self.g.block_section(b).file;
        let entry = self.got_entry(file, target);
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
        let nb = self.g.add_block(sec, Content::Borrowed(&STUB), STUB.len() as u64, 8);
        let edges = &mut self.g.blocks[nb.index()].edges;
        edges.push(Edge { offset: 0, target: entry, kind: PCREL_HI20, origin: 0, addend: 0 });
        edges.push(Edge { offset: 4, target: entry, kind: PCREL_LO12_I, origin: 0, addend: 4 });
        let sym = self.g.add_anonymous(nb, 0, file);
        let s = &mut self.g.symbols[sym.index()];
        s.size = STUB.len() as u64;
        s.callable = true;
        self.islands.insert((b, target), sym);
        self.out.stubs.push((file, target, sym, VENEER));
        sym
    }

    /// True when the target is outside the link (external, absolute).
    fn outside(&self, target: SymbolId) -> bool {
        !self.g.is_defined_here(target)
    }

    /// True when a branch from block `b` with reach `range` to `target`
    /// (defined in the link) might not reach it: another block, and code
    /// that could be larger than the range.
    fn may_not_reach(&self, b: BlockId, target: SymbolId, range: (i64, i64)) -> bool {
        let same = self.g.symbols[target.index()].block == Some(b);
        let reach = range.0.unsigned_abs().min(range.1.unsigned_abs());
        !same && self.code_bound > reach
    }

    fn lower_block(&mut self, b: BlockId) {
        let mut edges = std::mem::take(&mut self.g.blocks[b.index()].edges);
        let file = self.g.block_section(b).file;
        for e in edges.iter_mut() {
            let (direct, via, range) = match e.kind {
                REQ_CALL => (CALL, CALL_VIA_STUB, HI20_RANGE),
                REQ_JAL => (JAL, JAL_VIA_STUB, JAL_RANGE),
                REQ_BRANCH => (BRANCH, BRANCH_VIA_STUB, BRANCH_RANGE),
                REQ_RVC_BRANCH => (RVC_BRANCH, RVC_BRANCH_VIA_STUB, RVC_BRANCH_RANGE),
                REQ_RVC_JUMP => (RVC_JUMP, RVC_JUMP_VIA_STUB, RVC_JUMP_RANGE),
                REQ_GOT_HI20 => {
                    e.target = self.got_entry(file, e.target);
                    e.kind = PCREL_HI20;
                    continue;
                }
                REQ_GOT32_PCREL => {
                    e.target = self.got_entry(file, e.target);
                    e.kind = DELTA32;
                    continue;
                }
                REQ_PLT32 => {
                    if self.outside(e.target) {
                        e.target = self.stub(file, e.target, PLT);
                    }
                    e.kind = DELTA32;
                    continue;
                }
                REQ_TLS_GD_HI20 | REQ_TLSDESC_HI20 => {
                    if let Some(var) = self.tls.variable(self.g, self.names, file, e.target, e.addend) {
                        let got = self.got_section(file);
                        e.target = if e.kind == REQ_TLS_GD_HI20 {
                            self.tls.pair(self.g, self.names, got, file, var, TLS_KINDS)
                        } else {
                            self.tls.descriptor(self.g, self.names, got, file, var, TLS_KINDS)
                        };
                        e.addend = 0;
                        e.kind = PCREL_HI20;
                    }
                    continue;
                }
                REQ_TLS_DTPMOD64 => {
                    self.tls.variable(self.g, self.names, file, e.target, e.addend);
                    e.target = self.tls.module(self.g, self.names, file);
                    e.addend = 0;
                    e.kind = POINTER64;
                    continue;
                }
                REQ_DTPREL32 | REQ_DTPREL64 => {
                    // Lowered at pre-fixup; the variable is checked now.
                    self.tls.variable(self.g, self.names, file, e.target, e.addend);
                    continue;
                }
                _ => continue,
            };
            if self.outside(e.target) {
                let flavour = if direct == CALL { PLT } else { VENEER };
                e.target = self.stub(file, e.target, flavour);
                e.kind = via;
            } else if self.may_not_reach(b, e.target, range) {
                e.target = self.island(b, e.target);
                e.kind = via;
            } else {
                e.kind = direct;
            }
        }
        self.g.blocks[b.index()].edges = edges;
    }
}

/// Kinds that may need a stub.
fn may_need_stub(k: crate::graph::EdgeKind) -> bool {
    matches!(k, REQ_CALL | REQ_JAL | REQ_BRANCH | REQ_RVC_BRANCH | REQ_RVC_JUMP | REQ_PLT32)
}

/// The post-prune pass: relaxation ([`super::relax::relax`]), then lowers
/// every request kind (except the `%pcrel_lo` ones, which
/// [`pre_fixup`] resolves), creating GOT entries and stubs, and defines
/// each file's `_GLOBAL_OFFSET_TABLE_` (`FileInfo::got_base`) at the start
/// of its GOT (an empty 8-byte GOT when the file only names the base).
///
/// # Errors
/// Relaxation's errors (malformed R_RISCV_ALIGN padding, relocations in
/// deleted bytes); [`Error::Unsupported`] for a thread-local access whose
/// variable is not defined in a `.tdata`/`.tbss` section of the link.
pub fn build(g: &mut LinkGraph<'_>, names: &mut Interner) -> Result<GotPlt> {
    super::relax::relax(g, names)?;
    let nfiles = g.files.len();
    let mut code = 0u64;
    let mut stub_bound = 0u64;
    for b in g.blocks.iter().filter(|b| b.live) {
        if g.sections[b.section.index()].prot == Prot::ReadExec {
            code = code.saturating_add(b.size).saturating_add(b.align - 1);
        }
        let n = b.edges.iter().filter(|e| may_need_stub(e.kind)).count() as u64;
        stub_bound = stub_bound.saturating_add(n.saturating_mul(STUB.len() as u64 + 7));
    }
    let mut bld = Builder {
        g,
        names,
        files: (0..nfiles)
            .map(|_| PerFile { got_section: None, stub_section: None, got: HashMap::new(), stubs: HashMap::new() })
            .collect(),
        out: GotPlt::default(),
        code_bound: code.saturating_add(stub_bound),
        tls: TlsBuilder::default(),
        islands: HashMap::new(),
        island_sections: HashMap::new(),
    };
    let block_count = bld.g.blocks.len();
    for i in 0..block_count {
        let blk = &bld.g.blocks[i];
        if blk.live && blk.edges.iter().any(|e| is_request(e.kind)) {
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

fn site(g: &LinkGraph<'_>, names: &Interner, b: BlockId, e: &Edge) -> String {
    let sec = g.block_section(b);
    let file = &g.files[sec.file.index()];
    format!(
        "section {} offset {:#x}: relocation {}",
        names.str(sec.name),
        g.blocks[b.index()].section_offset + u64::from(e.offset),
        if e.origin != 0 { (file.reloc_name)(e.origin) } else { kind_name(e.kind).into() }
    )
}

fn malformed(g: &LinkGraph<'_>, b: BlockId, detail: String) -> Error {
    Error::Malformed { file: g.files[g.block_section(b).file.index()].name.clone(), detail }
}

/// After allocation and resolution, before fixups:
///
/// * every R_RISCV_PCREL_LO12_I/S edge, whose symbol is the label of the
///   `AUIPC` carrying the R_RISCV_PCREL_HI20 (or lowered GOT_HI20), is
///   rewritten to that HI20's target with addend `A_hi + (P_lo - P_hi)`,
///   so that the fixup's `S + A - P` is the HI20's value `S_hi + A_hi -
///   P_hi` (psABI: "the `%pcrel_lo` relocation points at the `%pcrel_hi`");
///   the HI20 is looked up at the label's offset plus the LO12's addend
///   (0 in practice), as GNU ld does;
/// * an R_RISCV_SUB6/8/16/32 or SUB_ULEB128 at the same offset as an
///   R_RISCV_SET6/8/16/32 or SET_ULEB128 of its width is folded into the
///   SET (`A_set - (S_sub + A_sub)`), so the pair no longer depends on the
///   order fixups run in. Other SUBs (with ADDs) commute as they are;
/// * the TLS template's start is folded into the DTPREL requests and the
///   module descriptor filled (`crate::arch::tls::pre_fixup`).
///
/// The HI20 a `%pcrel_lo` pairs with may be a lowered R_RISCV_GOT_HI20,
/// R_RISCV_TLS_GD_HI20 or R_RISCV_TLSDESC_HI20 (all [`PCREL_HI20`] to
/// their GOT entry, pair or descriptor by then), and the LO12 an
/// R_RISCV_TLSDESC_LOAD_LO12 or TLSDESC_ADD_LO12.
///
/// # Errors
/// [`Error::Malformed`] naming the LO12 site when no HI20 is found at its
/// label, and for an R_RISCV_SUB_ULEB128 without its SET_ULEB128.
pub fn pre_fixup(g: &mut LinkGraph<'_>, names: &Interner) -> Result<()> {
    crate::arch::tls::pre_fixup(g, POINTER64, dtprel_request);
    let mut his: HashMap<(BlockId, u64), (SymbolId, i64)> = HashMap::new();
    let mut any_lo = false;
    let mut any_sub = false;
    for (i, b) in g.blocks.iter().enumerate() {
        if !b.live {
            continue;
        }
        for e in &b.edges {
            match e.kind {
                PCREL_HI20 => {
                    his.insert((BlockId(i as u32), u64::from(e.offset)), (e.target, e.addend));
                }
                REQ_PCREL_LO12_I | REQ_PCREL_LO12_S => any_lo = true,
                SUB6 | SUB8 | SUB16 | SUB32 | SUB_ULEB128 => any_sub = true,
                _ => {}
            }
        }
    }
    if !any_lo && !any_sub {
        return Ok(());
    }
    for bi in 0..g.blocks.len() {
        if !g.blocks[bi].live {
            continue;
        }
        let b = BlockId(bi as u32);
        let addr = g.blocks[bi].addr;
        let mut edges = std::mem::take(&mut g.blocks[bi].edges);
        let mut result = Ok(());
        if any_lo {
            result = resolve_lo12(g, names, b, addr, &mut edges, &his);
        }
        if any_sub && result.is_ok() {
            result = fold_set_sub(g, names, b, &mut edges);
        }
        g.blocks[bi].edges = edges;
        result?;
    }
    Ok(())
}

fn resolve_lo12(
    g: &LinkGraph<'_>,
    names: &Interner,
    b: BlockId,
    addr: u64,
    edges: &mut [Edge],
    his: &HashMap<(BlockId, u64), (SymbolId, i64)>,
) -> Result<()> {
    for e in edges.iter_mut() {
        if !matches!(e.kind, REQ_PCREL_LO12_I | REQ_PCREL_LO12_S) {
            continue;
        }
        let label = &g.symbols[e.target.index()];
        let at = match (label.kind, label.block) {
            (SymbolKind::Defined, Some(lb)) => {
                i64::try_from(label.value).ok().and_then(|v| v.checked_add(e.addend)).map(|o| (lb, o as u64))
            }
            _ => None,
        };
        let Some(&(target, a_hi)) = at.and_then(|k| his.get(&k)) else {
            return Err(malformed(
                g,
                b,
                format!(
                    "{}: no R_RISCV_PCREL_HI20, GOT_HI20, TLS_GD_HI20 or TLSDESC_HI20 at its label {}{}",
                    site(g, names, b, e),
                    g.symbol_display(e.target, names),
                    if e.addend != 0 { format!("{:+#x}", e.addend) } else { String::new() }
                ),
            ));
        };
        let (lb, hi_off) = at.expect("found");
        let p_hi = g.blocks[lb.index()].addr.wrapping_add(hi_off);
        let p_lo = addr.wrapping_add(u64::from(e.offset));
        e.target = target;
        e.addend = a_hi.wrapping_add(p_lo.wrapping_sub(p_hi) as i64);
        e.kind = if e.kind == REQ_PCREL_LO12_I { PCREL_LO12_I } else { PCREL_LO12_S };
    }
    Ok(())
}

fn fold_set_sub(
    g: &LinkGraph<'_>,
    names: &Interner,
    b: BlockId,
    edges: &mut smallvec::SmallVec<[Edge; 1]>,
) -> Result<()> {
    let partner = |k| match k {
        SUB6 => Some(SET6),
        SUB8 => Some(SET8),
        SUB16 => Some(SET16),
        SUB32 => Some(SET32),
        SUB_ULEB128 => Some(SET_ULEB128),
        _ => None,
    };
    if !edges.iter().any(|e| partner(e.kind).is_some()) {
        return Ok(());
    }
    // SETs by (offset, kind), in edge order.
    let mut sets: HashMap<(u32, crate::graph::EdgeKind), Vec<usize>> = HashMap::new();
    for (j, e) in edges.iter().enumerate() {
        if matches!(e.kind, SET6 | SET8 | SET16 | SET32 | SET_ULEB128) {
            sets.entry((e.offset, e.kind)).or_default().push(j);
        }
    }
    let mut remove = vec![false; edges.len()];
    let mut folded = vec![false; edges.len()];
    for i in 0..edges.len() {
        let Some(set) = partner(edges[i].kind) else { continue };
        let sub = edges[i];
        // The nearest unfolded SET of the same width at the same offset,
        // preferring one before the SUB (the psABI's order).
        let found = sets.get(&(sub.offset, set)).and_then(|c| {
            let before = c.iter().rev().copied().find(|&j| j < i && !folded[j]);
            before.or_else(|| c.iter().copied().find(|&j| j > i && !folded[j]))
        });
        match found {
            Some(j) => {
                let s = g.symbol_addr(sub.target);
                edges[j].addend = edges[j].addend.wrapping_sub(s.wrapping_add(sub.addend as u64) as i64);
                folded[j] = true;
                remove[i] = true;
            }
            None if sub.kind == SUB_ULEB128 => {
                return Err(malformed(
                    g,
                    b,
                    format!("{}: not paired with an R_RISCV_SET_ULEB128 at the same offset", site(g, names, b, &sub)),
                ));
            }
            None => {}
        }
    }
    let mut i = 0;
    edges.retain(|_| {
        i += 1;
        !remove[i - 1]
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::riscv64::redirect::decode_call_pair;
    use crate::graph::EdgeKind;

    /// A data block at 0x1000 with labels at 0x10 and 0x34 of a code
    /// block at 0x2000, and `edges` on the data block.
    fn pairs(edges: &[(EdgeKind, bool)]) -> (LinkGraph<'static>, Interner, BlockId) {
        let mut names = Interner::new();
        let mut g = LinkGraph::new(8, true);
        let f = g.add_file("t.o".into());
        g.files[0].reloc_name = crate::formats::elf::riscv64::reloc_name;
        let data = g.add_section(names.intern(b".eh_frame"), f, Prot::Read, SectionRole::Regular);
        let text = g.add_section(names.intern(b".text"), f, Prot::ReadExec, SectionRole::Regular);
        let d = g.add_block(data, Content::Owned(vec![0x40, 0x80, 0x00]), 3, 1);
        let t = g.add_block(text, Content::Zero, 0x40, 4);
        g.blocks[d.index()].addr = 0x1000;
        g.blocks[t.index()].addr = 0x2000;
        let lo = g.add_anonymous(t, 0x10, f);
        let hi = g.add_anonymous(t, 0x34, f);
        for &(kind, high) in edges {
            let target = if high { hi } else { lo };
            let offset = if matches!(kind, SET_ULEB128 | SUB_ULEB128) { 1 } else { 0 };
            let origin = match kind {
                SET6 => 53,
                SUB6 => 52,
                SET_ULEB128 => 60,
                SUB_ULEB128 => 61,
                ADD8 => 33,
                _ => 37,
            };
            g.blocks[d.index()].edges.push(Edge { offset, target, kind, origin, addend: 0 });
        }
        (g, names, d)
    }

    #[test]
    fn set_sub_pairs_fold_whatever_their_order() {
        for edges in [[(SET6, true), (SUB6, false)], [(SUB6, false), (SET6, true)]] {
            let (mut g, names, d) = pairs(&edges);
            pre_fixup(&mut g, &names).unwrap();
            let e = &g.blocks[d.index()].edges;
            assert_eq!(e.len(), 1);
            assert_eq!((e[0].kind, e[0].addend), (SET6, -0x2010));
            // S + A = 0x2034 - 0x2010 = 0x24.
            assert_eq!(g.symbol_addr(e[0].target) as i64 + e[0].addend, 0x24);
        }
        let (mut g, names, _) = pairs(&[(SET_ULEB128, true), (SUB_ULEB128, false)]);
        pre_fixup(&mut g, &names).unwrap();
        // A SUB with an ADD (no SET) stays as it is.
        let (mut g2, names2, d2) = pairs(&[(ADD8, true), (SUB8, false)]);
        pre_fixup(&mut g2, &names2).unwrap();
        assert_eq!(g2.blocks[d2.index()].edges.len(), 2);
        let _ = g;
    }

    #[test]
    fn lone_sub_uleb128_is_an_error() {
        let (mut g, names, _) = pairs(&[(SUB_ULEB128, false)]);
        let e = pre_fixup(&mut g, &names).unwrap_err().to_string();
        assert!(e.contains("t.o") && e.contains(".eh_frame") && e.contains("R_RISCV_SUB_ULEB128"), "{e}");
    }

    #[test]
    fn stub_words_are_the_psabi_plt_entry() {
        let w = |i: usize| u32::from_le_bytes(STUB[4 * i..4 * i + 4].try_into().unwrap());
        // auipc t3, 0 / ld t3, 0(t3) / jalr t1, t3 / nop
        assert_eq!(w(0) & 0x7f, 0x17);
        assert_eq!((w(0) >> 7) & 31, 28);
        assert_eq!(w(1) & 0x707f, 0x3003);
        assert_eq!(((w(1) >> 7) & 31, (w(1) >> 15) & 31), (28, 28));
        assert_eq!(w(2) & 0x707f, 0x67);
        assert_eq!(((w(2) >> 7) & 31, (w(2) >> 15) & 31), (6, 28));
        assert_eq!(w(3), 0x13);
        assert!(decode_call_pair(w(0), w(2), 0).is_some());
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;
    use crate::arch::tls::testing::{classify, fixture, place, Class};

    /// GD and descriptor HI20s point at the pair or descriptor of S + A
    /// (addend 0), their `%pcrel_lo` partners resolve through them, DTPMOD64
    /// points at the module, DTPREL32/64 become offsets in the block.
    #[test]
    fn tls_requests_lower_and_pair_with_their_lo12() {
        let mut f = fixture(true);
        let label_gd = f.g.add_anonymous(f.text, 0, f.file);
        let label_desc = f.g.add_anonymous(f.text, 8, f.file);
        let e = |offset, kind, target, addend| Edge { offset, target, kind, origin: 0, addend };
        let (var, text) = (f.var, f.text.index());
        f.g.blocks[text].edges.extend([
            e(0, REQ_TLS_GD_HI20, var, 2),
            e(4, REQ_PCREL_LO12_I, label_gd, 0),
            e(8, REQ_TLSDESC_HI20, var, 0),
            e(12, REQ_PCREL_LO12_I, label_desc, 0),
            e(16, REQ_PCREL_LO12_I, label_desc, 0),
            e(20, REQ_TLS_DTPMOD64, var, 0),
            e(28, REQ_DTPREL64, var, 5),
            e(36, REQ_DTPREL32, var, 0),
        ]);
        build(&mut f.g, &mut f.names).unwrap();
        let classes: Vec<Class> = f.g.blocks[text].edges.iter().map(|e| classify(&f.g, &f.names, e.target)).collect();
        place(&mut f.g);
        pre_fixup(&mut f.g, &f.names).unwrap();
        let start =
            f.g.sections
                .iter()
                .find(|s| s.role == SectionRole::TlsData)
                .map(|s| f.g.blocks[s.blocks[0].index()].addr)
                .unwrap();
        let edges = f.g.blocks[text].edges.clone();
        assert_eq!((edges[0].kind, classes[0], edges[0].addend), (PCREL_HI20, Class::Pair(var, 2), 0));
        // LO12: the HI20's target, addend A_hi + (P_lo - P_hi).
        assert_eq!((edges[1].kind, edges[1].target, edges[1].addend), (PCREL_LO12_I, edges[0].target, 4));
        assert_eq!((edges[2].kind, classes[2]), (PCREL_HI20, Class::Descriptor(var, 0)));
        assert_eq!((edges[3].kind, edges[3].target, edges[3].addend), (PCREL_LO12_I, edges[2].target, 4));
        assert_eq!((edges[4].target, edges[4].addend), (edges[2].target, 8));
        assert_eq!((edges[5].kind, classes[5]), (POINTER64, Class::Module));
        let off = |e: &Edge| f.g.symbol_addr(e.target).wrapping_add(e.addend as u64);
        let var_off = f.g.symbol_addr(var) - start;
        assert_eq!((edges[6].kind, off(&edges[6])), (POINTER64, var_off + 5));
        assert_eq!((edges[7].kind, off(&edges[7])), (POINTER32, var_off));
    }

    #[test]
    fn a_tls_access_to_a_variable_outside_the_link_is_an_error() {
        let mut f = fixture(true);
        let ext = f.g.global_ref(f.names.intern(b"tv_ext"), f.file);
        f.g.blocks[f.text.index()].edges.push(Edge {
            offset: 0,
            target: ext,
            kind: REQ_TLS_GD_HI20,
            origin: 0,
            addend: 0,
        });
        let e = build(&mut f.g, &mut f.names).unwrap_err().to_string();
        assert!(e.contains("t.o") && e.contains("tv_ext is not defined in this link"), "{e}");
    }
}
