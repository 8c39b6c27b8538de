//! RISC-V linker relaxation (RISC-V ELF psABI, "Linker Relaxation"):
//! deletes bytes from code blocks before layout.
//!
//! Two relaxations, run by [`super::got_plt::build`] after dead-stripping
//! and before layout:
//!
//! * **Calls.** An `AUIPC rX; JALR rd, rX` pair (R_RISCV_CALL or
//!   R_RISCV_CALL_PLT) marked by R_RISCV_RELAX at the same offset whose
//!   target lies in the *same block* (so the distance is known before
//!   layout) becomes `C.J` (2 bytes; tail calls, `rd = x0`, when the file
//!   uses the C extension and the displacement fits -2048..=2046) or `JAL rd`
//!   (4 bytes, ±1 MiB), as GNU ld's `_bfd_riscv_relax_call` does. `C.JAL`
//!   is RV32-only and never used. Decisions are made on a snapshot of the
//!   block, repeated until nothing changes (a fixed point); every later
//!   deletion only shortens distances, so a decision stays valid.
//! * **Alignment.** R_RISCV_ALIGN with addend N marks N bytes of NOPs
//!   that the assembler emitted so that the next instruction can be
//!   aligned to the power of two above N; the pass keeps only the bytes
//!   needed (rewritten as 4-byte NOPs and a final `C.NOP`, as ld does) and
//!   deletes the rest. This one is mandatory: without it the code after
//!   the padding is misaligned. Call relaxation runs first with every
//!   padding at its full size, so alignment deletions cannot lengthen a
//!   relaxed branch.
//!
//! Deleting bytes keeps the block consistent: the content becomes owned,
//! edges after a deletion move back, edges inside deleted bytes are an
//! error, symbols after it move back (a symbol exactly at the end of its
//! block stays at the end), symbols spanning it shrink, and section-symbol
//! references (`.text + A`, anonymous targets) get their addend moved with
//! the byte they named. Named-symbol addends are kept, as ld keeps them.
//! `.eh_frame` and DWARF-style differences (R_RISCV_ADD*/SUB*/SET6/SUB6
//! pairs against labels) follow because the labels move.
//!
//! Whether a file uses the C extension (ld reads `EF_RISCV_RVC` from
//! `e_flags`, which the graph does not keep) is inferred from its
//! relocations: an R_RISCV_RVC_BRANCH/RVC_JUMP, or an R_RISCV_ALIGN whose
//! addend is 2 mod 4 (padding made of 2-byte NOPs). Without evidence the
//! pass uses `JAL`, which is always valid.

use super::edges::*;
use crate::error::{Error, Result};
use crate::graph::{BlockId, Interner, LinkGraph, SymbolId, SymbolKind};
use hashbrown::HashMap;

/// `JAL` displacement range in bytes (J-type imm20 × 2).
const JAL_RANGE: (i128, i128) = (-(1 << 20), (1 << 20) - 2);
/// `C.J` displacement range in bytes (CJ-type imm11 × 2).
const CJ_RANGE: (i128, i128) = (-(1 << 11), (1 << 11) - 2);
/// `addi x0, x0, 0`.
const NOP: u32 = 0x0000_0013;
/// `c.nop` (`c.addi x0, 0`).
const C_NOP: u16 = 0x0001;
/// `c.j 0` (CJ format, funct3 101, op 01).
const C_J: u16 = 0xa001;
/// `jal x0, 0` (opcode 1101111).
const OP_JAL: u32 = 0x6f;

/// Sorted, non-overlapping byte deletions `(start, length)` in a block's
/// original offsets, with the map from old to new offsets.
#[derive(Default, Debug, Clone)]
pub struct Shrink {
    starts: Vec<u64>,
    lens: Vec<u64>,
    /// Bytes deleted before deletion `i`.
    before: Vec<u64>,
}

impl Shrink {
    /// A shrink from sorted, non-overlapping `(start, length)` pairs.
    pub fn new(dels: impl IntoIterator<Item = (u64, u64)>) -> Shrink {
        let mut s = Shrink::default();
        let mut total = 0;
        for (start, len) in dels {
            if len == 0 {
                continue;
            }
            debug_assert!(s.starts.last().is_none_or(|&p| p + s.lens[s.lens.len() - 1] <= start));
            s.starts.push(start);
            s.lens.push(len);
            s.before.push(total);
            total += len;
        }
        s
    }

    /// Total bytes deleted.
    pub fn total(&self) -> u64 {
        self.before.last().map_or(0, |b| b + self.lens[self.lens.len() - 1])
    }

    /// The new offset of old offset `x`: `x` minus the bytes deleted before
    /// it; an offset inside a deletion maps to where the deletion was.
    pub fn map(&self, x: u64) -> u64 {
        let k = self.starts.partition_point(|&s| s < x);
        if k == 0 {
            return x;
        }
        let i = k - 1;
        x - self.before[i] - (x - self.starts[i]).min(self.lens[i])
    }

    /// True if old offset `x` is one of the deleted bytes.
    pub fn deletes(&self, x: u64) -> bool {
        let k = self.starts.partition_point(|&s| s <= x);
        k > 0 && x < self.starts[k - 1] + self.lens[k - 1]
    }
}

/// What a relaxable call became.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Form {
    Pair,
    Jal,
    CJ,
}

impl Form {
    /// Bytes the form deletes from the 8-byte pair.
    fn deleted(self) -> u64 {
        match self {
            Form::Pair => 0,
            Form::Jal => 4,
            Form::CJ => 6,
        }
    }
}

struct Candidate {
    edge: usize,
    offset: u64,
    rd: u32,
    target: SymbolId,
    addend: i64,
    form: Form,
}

/// The plan for one block: what to delete and what to write.
struct Plan {
    block: BlockId,
    calls: Vec<Candidate>,
    /// `(old offset, bytes of NOPs kept)` per ALIGN.
    nops: Vec<(u64, u64)>,
    shrink: Shrink,
    align: u64,
}

fn loc(g: &LinkGraph<'_>, names: &Interner, b: BlockId, offset: u64) -> String {
    let sec = g.block_section(b);
    format!("section {} offset {:#x}", names.str(sec.name), g.blocks[b.index()].section_offset + offset)
}

fn malformed(g: &LinkGraph<'_>, b: BlockId, detail: String) -> Error {
    Error::Malformed { file: g.files[g.block_section(b).file.index()].name.clone(), detail }
}

/// Position (old offset) in block `b` that `target + addend` names, if it
/// lies in `b`: a named symbol's own offset (plus the addend, which
/// relaxation keeps), or for an anonymous (section) symbol the byte the
/// addend names.
fn target_pos(g: &LinkGraph<'_>, b: BlockId, target: SymbolId, addend: i64, shrink: &Shrink) -> Option<i128> {
    let t = &g.symbols[target.index()];
    if t.kind != SymbolKind::Defined || t.block != Some(b) {
        return None;
    }
    let size = g.blocks[b.index()].size;
    if t.name.is_none() {
        let x = i128::from(t.value) + i128::from(addend);
        (0..=i128::from(size)).contains(&x).then(|| i128::from(shrink.map(x as u64)))
    } else {
        Some(i128::from(shrink.map(t.value)) + i128::from(addend))
    }
}

/// Runs both relaxations over every live block; see the module docs.
///
/// # Errors
/// [`Error::Malformed`] naming file, section and offset for an
/// R_RISCV_ALIGN whose padding lies outside its block or cannot reach the
/// alignment, or a relocation inside deleted bytes.
pub fn relax(g: &mut LinkGraph<'_>, names: &Interner) -> Result<()> {
    // Which files use the C extension, and which blocks have work.
    let mut rvc = vec![false; g.files.len()];
    let mut work: Vec<BlockId> = Vec::new();
    for (i, b) in g.blocks.iter().enumerate() {
        if !b.live || b.edges.is_empty() {
            continue;
        }
        let file = g.sections[b.section.index()].file.index();
        let mut relevant = false;
        for e in &b.edges {
            match e.kind {
                REQ_RVC_BRANCH | REQ_RVC_JUMP => rvc[file] = true,
                ALIGN => {
                    rvc[file] |= e.addend.rem_euclid(4) == 2;
                    relevant = true;
                }
                RELAX => relevant = true,
                _ => {}
            }
        }
        if relevant {
            work.push(BlockId(i as u32));
        }
    }
    if work.is_empty() {
        return Ok(());
    }
    let mut index: HashMap<BlockId, usize> = HashMap::with_capacity(work.len());
    for (i, &b) in work.iter().enumerate() {
        index.insert(b, i);
    }
    let mut syms: Vec<Vec<SymbolId>> = vec![Vec::new(); work.len()];
    for (i, s) in g.symbols.iter().enumerate() {
        if s.kind != SymbolKind::Defined {
            continue;
        }
        if let Some(&w) = s.block.and_then(|b| index.get(&b)) {
            syms[w].push(SymbolId(i as u32));
        }
    }
    let mut plans = Vec::with_capacity(work.len());
    for (w, &b) in work.iter().enumerate() {
        let file = g.block_section(b).file.index();
        plans.push(plan_block(g, names, b, &syms[w], rvc[file])?);
    }
    // Section-symbol addends (anonymous targets) in every live block,
    // before symbols move.
    for bi in 0..g.blocks.len() {
        if !g.blocks[bi].live {
            continue;
        }
        for ei in 0..g.blocks[bi].edges.len() {
            let e = g.blocks[bi].edges[ei];
            let t = &g.symbols[e.target.index()];
            if t.name.is_some() || t.kind != SymbolKind::Defined || e.addend == 0 {
                continue;
            }
            let Some(&w) = t.block.and_then(|tb| index.get(&tb)) else { continue };
            let size = g.blocks[work[w].index()].size;
            let x = i128::from(t.value) + i128::from(e.addend);
            if !(0..=i128::from(size)).contains(&x) {
                continue;
            }
            let sh = &plans[w].shrink;
            let moved = i128::from(sh.map(x as u64)) - i128::from(sh.map(t.value));
            g.blocks[bi].edges[ei].addend = moved as i64;
        }
    }
    for (w, plan) in plans.into_iter().enumerate() {
        apply(g, names, plan, &syms[w])?;
    }
    Ok(())
}

/// Decides what to delete in block `b`.
fn plan_block(g: &LinkGraph<'_>, names: &Interner, b: BlockId, syms: &[SymbolId], rvc: bool) -> Result<Plan> {
    let blk = &g.blocks[b.index()];
    let size = blk.size;
    let Some(bytes) = blk.bytes() else {
        return Err(malformed(g, b, format!("{}: relaxation relocations in a zero-fill section", loc(g, names, b, 0))));
    };
    // ALIGN paddings, validated.
    let mut aligns: Vec<(u64, u64)> = Vec::new();
    for e in blk.edges.iter().filter(|e| e.kind == ALIGN) {
        let o = u64::from(e.offset);
        let n = u64::try_from(e.addend).ok().filter(|&n| o.checked_add(n).is_some_and(|end| end <= size));
        let Some(n) = n else {
            return Err(malformed(
                g,
                b,
                format!(
                    "{}: R_RISCV_ALIGN with {} bytes of padding past the end of the section ({size:#x} bytes)",
                    loc(g, names, b, o),
                    e.addend
                ),
            ));
        };
        aligns.push((o, n));
    }
    aligns.sort_unstable();
    for w in aligns.windows(2) {
        if w[1].0 < w[0].0 + w[0].1 {
            return Err(malformed(
                g,
                b,
                format!(
                    "{}: R_RISCV_ALIGN padding overlaps the one at offset {:#x}",
                    loc(g, names, b, w[1].0),
                    blk.section_offset + w[0].0
                ),
            ));
        }
    }
    // Relaxable calls: CALL with RELAX at the same offset, target in this
    // block, an AUIPC rX + JALR rd, rX pair, nothing else inside.
    let relax_at: hashbrown::HashSet<u32> = blk.edges.iter().filter(|e| e.kind == RELAX).map(|e| e.offset).collect();
    let mut offsets: Vec<u64> = blk.edges.iter().map(|e| u64::from(e.offset)).collect();
    offsets.sort_unstable();
    let mut sym_offsets: Vec<u64> = syms.iter().map(|&s| g.symbols[s.index()].value).collect();
    sym_offsets.sort_unstable();
    let inside = |sorted: &[u64], lo: u64, hi: u64| {
        let k = sorted.partition_point(|&x| x <= lo);
        k < sorted.len() && sorted[k] < hi
    };
    let word = |o: u64| -> Option<u32> {
        let o = usize::try_from(o).ok()?;
        Some(u32::from_le_bytes(bytes.get(o..o.checked_add(4)?)?.try_into().ok()?))
    };
    let mut calls: Vec<Candidate> = Vec::new();
    for (ei, e) in blk.edges.iter().enumerate() {
        if e.kind != REQ_CALL || !relax_at.contains(&e.offset) {
            continue;
        }
        let t = &g.symbols[e.target.index()];
        if t.kind != SymbolKind::Defined || t.block != Some(b) {
            continue;
        }
        let o = u64::from(e.offset);
        let (Some(auipc), Some(jalr)) = (word(o), o.checked_add(4).and_then(word)) else { continue };
        let x = (auipc >> 7) & 31;
        if auipc & 0x7f != 0x17 || x == 0 || jalr & 0x707f != 0x67 || (jalr >> 15) & 31 != x {
            continue;
        }
        // Other relocations or symbols inside the pair, or padding over
        // it: leave it alone.
        let k = aligns.partition_point(|&(a, _)| a < o + 8);
        let padded = k > 0 && o < aligns[k - 1].0 + aligns[k - 1].1;
        let others = offsets.partition_point(|&x| x <= o) - offsets.partition_point(|&x| x < o) > 2;
        if padded || others || inside(&offsets, o, o + 8) || inside(&sym_offsets, o, o + 8) {
            continue;
        }
        calls.push(Candidate {
            edge: ei,
            offset: o,
            rd: (jalr >> 7) & 31,
            target: e.target,
            addend: e.addend,
            form: Form::Pair,
        });
    }
    calls.sort_unstable_by_key(|c| c.offset);
    // Overlapping pairs (only crafted bytes make them): keep the first.
    let mut end = 0u64;
    calls.retain(|c| {
        let keep = c.offset >= end;
        if keep {
            end = c.offset + 8;
        }
        keep
    });
    // Fixed point: decide on a snapshot, apply, repeat.
    loop {
        let snap = Shrink::new(calls.iter().map(|c| (c.offset + 8 - c.form.deleted(), c.form.deleted())));
        let mut changed = false;
        let mut decided: Vec<(usize, Form)> = Vec::new();
        for (i, c) in calls.iter().enumerate() {
            if c.form != Form::Pair {
                continue;
            }
            let Some(t) = target_pos(g, b, c.target, c.addend, &snap) else { continue };
            let d = t - i128::from(snap.map(c.offset));
            if d & 1 != 0 {
                continue;
            }
            if rvc && c.rd == 0 && (CJ_RANGE.0..=CJ_RANGE.1).contains(&d) {
                decided.push((i, Form::CJ));
            } else if (JAL_RANGE.0..=JAL_RANGE.1).contains(&d) {
                decided.push((i, Form::Jal));
            }
        }
        for (i, f) in decided {
            calls[i].form = f;
            changed = true;
        }
        if !changed {
            break;
        }
    }
    calls.retain(|c| c.form != Form::Pair);
    // Alignment, in offset order, on the layout the calls left.
    let call_shrink = Shrink::new(calls.iter().map(|c| (c.offset + 8 - c.form.deleted(), c.form.deleted())));
    let mut nops = Vec::with_capacity(aligns.len());
    let mut align_dels: Vec<(u64, u64)> = Vec::new();
    let mut deleted_by_aligns = 0u64;
    let mut max_align = 1u64;
    for &(o, n) in &aligns {
        let mut a = 1u64;
        while a <= n {
            a *= 2;
        }
        max_align = max_align.max(a);
        let cur = call_shrink.map(o) - deleted_by_aligns;
        let needed = (a - cur % a) % a;
        if needed > n || needed % 2 != 0 {
            return Err(malformed(
                g,
                b,
                format!(
                    "{}: R_RISCV_ALIGN to {a} bytes needs {needed} bytes of padding but the assembler left {n} \
                     (or the code is not 2-byte aligned)",
                    loc(g, names, b, o)
                ),
            ));
        }
        nops.push((o, needed));
        if n > needed {
            align_dels.push((o + needed, n - needed));
            deleted_by_aligns += n - needed;
        }
    }
    let mut dels: Vec<(u64, u64)> =
        calls.iter().map(|c| (c.offset + 8 - c.form.deleted(), c.form.deleted())).chain(align_dels).collect();
    dels.sort_unstable();
    Ok(Plan { block: b, calls, nops, shrink: Shrink::new(dels), align: max_align })
}

/// Rewrites block content, edges and symbols as `plan` says.
fn apply(g: &mut LinkGraph<'_>, names: &Interner, plan: Plan, syms: &[SymbolId]) -> Result<()> {
    let b = plan.block;
    let sh = &plan.shrink;
    // Edges: markers go, relaxed calls change kind, the rest move.
    let mut edges = std::mem::take(&mut g.blocks[b.index()].edges);
    for c in &plan.calls {
        edges[c.edge].kind = if c.form == Form::CJ { RVC_JUMP } else { JAL };
    }
    let mut bad = None;
    edges.retain(|e| e.kind != RELAX && e.kind != ALIGN);
    for e in edges.iter_mut() {
        let o = u64::from(e.offset);
        if sh.deletes(o) && bad.is_none() {
            bad = Some(*e);
        }
        e.offset = sh.map(o) as u32;
    }
    if let Some(e) = bad {
        let file = g.block_section(b).file;
        let rname = if e.origin != 0 { (g.files[file.index()].reloc_name)(e.origin) } else { kind_name(e.kind).into() };
        g.blocks[b.index()].edges = edges;
        return Err(malformed(
            g,
            b,
            format!(
                "{}: relocation {rname} lies in bytes deleted by relaxation",
                loc(g, names, b, u64::from(e.offset))
            ),
        ));
    }
    let blk = &mut g.blocks[b.index()];
    blk.edges = edges;
    // Content: patch, then drop the deleted bytes.
    let total = sh.total();
    let old = blk.bytes_mut();
    for c in &plan.calls {
        let o = c.offset as usize;
        match c.form {
            Form::CJ => old[o..o + 2].copy_from_slice(&C_J.to_le_bytes()),
            _ => old[o..o + 4].copy_from_slice(&(OP_JAL | c.rd << 7).to_le_bytes()),
        }
    }
    for &(o, keep) in &plan.nops {
        let (o, keep) = (o as usize, keep as usize);
        let words = keep / 4 * 4;
        for at in (o..o + words).step_by(4) {
            old[at..at + 4].copy_from_slice(&NOP.to_le_bytes());
        }
        if keep % 4 != 0 {
            old[o + words..o + words + 2].copy_from_slice(&C_NOP.to_le_bytes());
        }
    }
    if total > 0 {
        let mut kept = Vec::with_capacity(old.len() - total as usize);
        let mut pos = 0usize;
        for (&s, &l) in sh.starts.iter().zip(&sh.lens) {
            kept.extend_from_slice(&old[pos..s as usize]);
            pos = (s + l) as usize;
        }
        kept.extend_from_slice(&old[pos..]);
        *old = kept;
        blk.size -= total;
    }
    blk.align = blk.align.max(plan.align);
    // Symbols: move, and shrink those spanning a deletion.
    for &s in syms {
        let sym = &mut g.symbols[s.index()];
        let start = sh.map(sym.value);
        if sym.size > 0 {
            sym.size = sh.map(sym.value.saturating_add(sym.size)) - start;
        }
        sym.value = start;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Content, Edge, EdgeKind, Prot, SectionRole};

    /// The absolute 0 symbol markers point at (the first symbol made).
    const Z: SymbolId = SymbolId(0);
    const AUIPC_RA: u32 = 0x0000_0097;
    const JALR_RA: u32 = 0x0000_80e7;
    const AUIPC_T1: u32 = 0x0000_0317;
    const JR_T1: u32 = 0x0003_0067;

    fn words(ws: &[u32]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    struct T {
        g: LinkGraph<'static>,
        names: Interner,
        b: BlockId,
    }

    fn graph(code: Vec<u8>, align: u64) -> T {
        let mut names = Interner::new();
        let mut g = LinkGraph::new(8, true);
        let f = g.add_file("t.o".into());
        let sec = g.add_section(names.intern(b".text"), f, Prot::ReadExec, SectionRole::Regular);
        let size = code.len() as u64;
        let b = g.add_block(sec, Content::Owned(code), size, align);
        let zero = g.add_absolute(f, 0);
        assert_eq!(zero, Z);
        T { g, names, b }
    }

    fn label(t: &mut T, name: &str, value: u64, size: u64) -> SymbolId {
        let n = t.names.intern(name.as_bytes());
        let s = t.g.add_anonymous(t.b, value, FileId(0));
        let sym = &mut t.g.symbols[s.index()];
        sym.name = Some(n);
        sym.size = size;
        s
    }

    fn edge(t: &mut T, offset: u32, kind: EdgeKind, target: SymbolId, addend: i64) {
        t.g.blocks[t.b.index()].edges.push(Edge { offset, target, kind, origin: 0, addend });
    }

    use crate::graph::FileId;

    #[test]
    fn calls_become_jal_and_c_j_and_padding_goes() {
        // 0: call f (ra) ; 8: tail f (x0) ; 16: 6 bytes of padding to 8
        // (ALIGN 6, RVC) ; 22: f: ret ; 24: end
        let mut code = words(&[AUIPC_RA, JALR_RA, AUIPC_T1, JR_T1]);
        code.extend([0x13, 0, 0, 0, 0x01, 0x00]); // nop, c.nop
        code.extend([0x82, 0x80]); // ret
        let mut t = graph(code, 8);
        let f = label(&mut t, "f", 22, 2);
        let start = label(&mut t, "start", 0, 22);
        let end = label(&mut t, "end", 24, 0);
        let sec = t.g.add_anonymous(t.b, 0, FileId(0));
        for at in [0, 8] {
            edge(&mut t, at, REQ_CALL, f, 0);
            edge(&mut t, at, RELAX, Z, 0);
        }
        edge(&mut t, 16, ALIGN, Z, 6);
        // A reference to `.text + 22` (f) through the section symbol.
        edge(&mut t, 22, KEEP_ALIVE, sec, 22);
        relax(&mut t.g, &t.names).unwrap();
        let blk = &t.g.blocks[t.b.index()];
        // call -> jal ra (4 bytes), tail -> c.j (2): 0..4 jal, 4..6 c.j,
        // then 6 -> 8 needs 2 bytes of padding (a c.nop), f at 8.
        assert_eq!(blk.size, 10);
        let bytes = blk.bytes().unwrap();
        assert_eq!(u32::from_le_bytes(bytes[0..4].try_into().unwrap()), 0x0000_00ef);
        assert_eq!(&bytes[4..6], &[0x01, 0xa0]);
        assert_eq!(&bytes[6..8], &[0x01, 0x00]);
        assert_eq!(&bytes[8..10], &[0x82, 0x80]);
        assert_eq!(t.g.symbols[f.index()].value, 8);
        assert_eq!((t.g.symbols[start.index()].value, t.g.symbols[start.index()].size), (0, 8));
        assert_eq!(t.g.symbols[end.index()].value, 10, "a symbol at the end stays at the end");
        let kinds: Vec<(u32, EdgeKind, i64)> = blk.edges.iter().map(|e| (e.offset, e.kind, e.addend)).collect();
        assert_eq!(kinds, vec![(0, JAL, 0), (4, RVC_JUMP, 0), (8, KEEP_ALIVE, 8)]);
        assert!(blk.align >= 8);
    }

    #[test]
    fn without_rvc_evidence_tail_calls_become_jal() {
        let mut code = words(&[AUIPC_T1, JR_T1]);
        code.extend([0x67, 0x80, 0x00, 0x00]); // jalr x0? (ret as 4 bytes)
        let mut t = graph(code, 4);
        let f = label(&mut t, "f", 8, 4);
        edge(&mut t, 0, REQ_CALL, f, 0);
        edge(&mut t, 0, RELAX, Z, 0);
        relax(&mut t.g, &t.names).unwrap();
        let blk = &t.g.blocks[t.b.index()];
        assert_eq!(blk.size, 8);
        assert_eq!(blk.edges[0].kind, JAL);
        assert_eq!(u32::from_le_bytes(blk.bytes().unwrap()[0..4].try_into().unwrap()), 0x6f);
    }

    #[test]
    fn calls_without_relax_or_elsewhere_stay() {
        let mut t = graph(words(&[AUIPC_RA, JALR_RA, AUIPC_RA, JALR_RA, 0x8082]), 4);
        let f = label(&mut t, "f", 16, 2);
        let ext = t.g.global_ref(t.names.intern(b"ext"), FileId(0));
        edge(&mut t, 0, REQ_CALL, f, 0); // no RELAX
        edge(&mut t, 8, REQ_CALL, ext, 0);
        edge(&mut t, 8, RELAX, Z, 0);
        relax(&mut t.g, &t.names).unwrap();
        let blk = &t.g.blocks[t.b.index()];
        assert_eq!(blk.size, 20);
        assert!(blk.edges.iter().all(|e| e.kind == REQ_CALL));
    }

    #[test]
    fn bad_padding_is_an_error() {
        for (n, at) in [(9i64, 0u32), (-2, 0), (2, 3), (4, 1)] {
            let mut t = graph(vec![0x13; 8], 8);
            edge(&mut t, at, ALIGN, Z, n);
            let e = relax(&mut t.g, &t.names).unwrap_err().to_string();
            assert!(e.contains("t.o") && e.contains(".text") && e.contains("R_RISCV_ALIGN"), "{e}");
        }
        // Overlapping paddings.
        let mut t = graph(vec![0x13; 16], 16);
        edge(&mut t, 0, ALIGN, Z, 6);
        edge(&mut t, 4, ALIGN, Z, 6);
        assert!(relax(&mut t.g, &t.names).is_err());
        // A relocation inside deleted padding.
        let mut t = graph(vec![0x13; 8], 8);
        edge(&mut t, 0, ALIGN, Z, 6);
        edge(&mut t, 2, POINTER32, Z, 0);
        let e = relax(&mut t.g, &t.names).unwrap_err().to_string();
        assert!(e.contains("deleted by relaxation"), "{e}");
    }

    /// Arbitrary bytes and edges: errors, never panics, and what comes
    /// out is consistent (edges and symbols inside the block).
    #[test]
    fn random_blocks_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n.max(1)
        };
        for _ in 0..2000 {
            let len = 4 + rnd(60) as usize;
            let mut code: Vec<u8> = (0..len).map(|_| rnd(256) as u8).collect();
            let mut pairs = Vec::new();
            for _ in 0..rnd(4) {
                let at = rnd(len as u64 / 2) as usize * 2;
                if at + 8 <= len {
                    code[at..at + 8].copy_from_slice(&words(&[AUIPC_RA, JALR_RA]));
                    pairs.push(at as u32);
                }
            }
            let mut t = graph(code, 1 << rnd(5));
            let mut syms = Vec::new();
            for i in 0..rnd(5) {
                syms.push(label(&mut t, &format!("s{i}"), rnd(len as u64 + 1), rnd(8)));
            }
            syms.push(t.g.add_anonymous(t.b, 0, FileId(0)));
            for at in pairs {
                let target = syms[rnd(syms.len() as u64) as usize];
                edge(&mut t, at, REQ_CALL, target, rnd(8) as i64 * 2);
                edge(&mut t, at, RELAX, Z, 0);
            }
            for _ in 0..rnd(8) {
                let kind = [REQ_CALL, RELAX, ALIGN, POINTER32, REQ_RVC_JUMP][rnd(5) as usize];
                let target = syms[rnd(syms.len() as u64) as usize];
                let at = rnd(len as u64) as u32;
                let addend = rnd(16) as i64 - 4;
                edge(&mut t, at, kind, target, addend);
            }
            if relax(&mut t.g, &t.names).is_ok() {
                let blk = &t.g.blocks[t.b.index()];
                assert_eq!(blk.bytes().unwrap().len() as u64, blk.size);
                assert!(blk.edges.iter().all(|e| u64::from(e.offset) <= blk.size));
                assert!(blk.edges.iter().all(|e| e.kind != RELAX && e.kind != ALIGN));
            }
        }
    }

    #[test]
    fn shrink_maps_offsets() {
        let s = Shrink::new([(4, 4), (10, 2), (20, 6)]);
        assert_eq!(s.total(), 12);
        let want = [(0, 0), (4, 4), (6, 4), (8, 4), (9, 5), (10, 6), (11, 6), (12, 6), (20, 14), (23, 14), (26, 14)];
        for (x, y) in want {
            assert_eq!(s.map(x), y, "map({x})");
        }
        assert_eq!(s.map(30), 18);
        assert!(s.deletes(4) && s.deletes(7) && !s.deletes(8) && !s.deletes(3) && s.deletes(25) && !s.deletes(26));
        let empty = Shrink::new([]);
        assert_eq!(empty.map(17), 17);
        assert!(!empty.deletes(0));
    }
}
