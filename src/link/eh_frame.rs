//! `.eh_frame`: one block per CIE and FDE, so dead-stripped and
//! COMDAT-dropped functions lose exactly their FDEs, and the survivors are
//! laid out as one gap-free run ended by a zero terminator that the host's
//! unwinder can register (libgcc `__register_frame`).
//!
//! Records follow the LSB "Exception Frame" format: a 4-byte length
//! (0xffffffff: a 64-bit length follows), then a 4-byte CIE id (0 for a
//! CIE) or CIE pointer (the distance back from this field to the FDE's
//! CIE), then, for an FDE, `pc_begin` (the function, by relocation).
//! Liveness runs the other way round from the bytes: each function's block
//! gets a keep-alive edge to its FDE; an FDE keeps its CIE, LSDA and
//! personality alive.

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::graph::{
    BlockId, Content, Edge, EdgeKind, Interner, LinkGraph, Prot, SectionRole, SymbolKind, DISCARDED_TARGET,
};
use hashbrown::HashMap;

/// Splits every `.eh_frame` section of `g` into records and adds the
/// terminator. On architectures that do not register `.eh_frame` yet, the
/// sections stay whole, kept alive as plain data.
///
/// # Errors
/// [`Error::Malformed`] naming file, section and offset for a record that
/// overruns its section or an FDE whose CIE pointer points at no CIE.
pub fn split(g: &mut LinkGraph<'_>, names: &mut Interner, arch: Arch) -> Result<()> {
    let Some(cie_kind) = arch.eh_frame_cie_kind() else {
        for s in g.sections.iter_mut().filter(|s| s.role == SectionRole::EhFrame) {
            s.keep = true;
        }
        return Ok(());
    };
    let mut any_fde = false;
    let mut last_file = None;
    // Symbols defined in .eh_frame blocks (section symbols), found once.
    let mut in_eh: HashMap<BlockId, Vec<crate::graph::SymbolId>> = HashMap::new();
    for (i, sym) in g.symbols.iter().enumerate() {
        if let Some(b) = sym.block {
            if g.block_section(b).role == SectionRole::EhFrame {
                in_eh.entry(b).or_default().push(crate::graph::SymbolId(i as u32));
            }
        }
    }
    for si in 0..g.sections.len() {
        if g.sections[si].role != SectionRole::EhFrame || g.sections[si].blocks.len() != 1 {
            continue;
        }
        let b = g.sections[si].blocks[0];
        last_file = Some(g.sections[si].file);
        let syms = in_eh.remove(&b).unwrap_or_default();
        any_fde |= split_section(g, names, si, b, cie_kind, &syms)?;
    }
    if let (true, Some(file)) = (any_fde, last_file) {
        static TERMINATOR: [u8; 4] = [0; 4];
        let name = names.intern(b".eh_frame");
        let sec = g.add_section(name, file, Prot::Read, SectionRole::EhFrame);
        g.add_block(sec, Content::Borrowed(&TERMINATOR), 4, 1);
        g.sections[sec.index()].keep = true;
    }
    Ok(())
}

fn split_section(
    g: &mut LinkGraph<'_>,
    names: &Interner,
    si: usize,
    b: BlockId,
    cie_kind: EdgeKind,
    syms: &[crate::graph::SymbolId],
) -> Result<bool> {
    let file_name = g.files[g.sections[si].file.index()].name.clone();
    let file = g.sections[si].file;
    let bad = |off: usize, what: &str| Error::Malformed {
        file: file_name.clone(),
        detail: format!("section .eh_frame offset {off:#x}: {what}"),
    };
    let Some(bytes) = (match &g.blocks[b.index()].content {
        Content::Borrowed(x) => Some(*x),
        _ => None,
    }) else {
        return Ok(false);
    };
    let mut edges: Vec<Edge> = std::mem::take(&mut g.blocks[b.index()].edges).into_vec();
    edges.sort_unstable_by_key(|e| e.offset);
    let mut records: Vec<(usize, usize, bool)> = Vec::new(); // (offset, size, is_cie)
    let mut off = 0usize;
    while off + 4 <= bytes.len() {
        let len32 = u32::from_le_bytes(bytes[off..off + 4].try_into().expect("4 bytes"));
        if len32 == 0 {
            break; // a terminator inside the input: nothing follows that counts
        }
        let (header, len) = if len32 == 0xffff_ffff {
            let Some(l) = bytes.get(off + 4..off + 12) else { return Err(bad(off, "truncated 64-bit length")) };
            (12usize, u64::from_le_bytes(l.try_into().expect("8 bytes")) as usize)
        } else {
            (4usize, len32 as usize)
        };
        let size =
            header.checked_add(len).filter(|&sz| off.checked_add(sz).is_some_and(|end| end <= bytes.len()) && len >= 4);
        let Some(size) = size else { return Err(bad(off, "record length past the end of the section")) };
        let id_at = off + header;
        let id = u32::from_le_bytes(bytes[id_at..id_at + 4].try_into().expect("4 bytes"));
        records.push((off, size, id == 0));
        off += size;
    }
    // One block per record; edges move with their record.
    let sec_id = g.blocks[b.index()].section;
    let mut cie_sym: HashMap<usize, crate::graph::SymbolId> = HashMap::new();
    let mut new_blocks = Vec::with_capacity(records.len());
    let mut ei = 0usize;
    let mut any_fde = false;
    for &(roff, size, is_cie) in &records {
        while ei < edges.len() && (edges[ei].offset as usize) < roff {
            ei += 1; // edges in a terminator's tail or padding are dropped
        }
        let start = ei;
        while ei < edges.len() && (edges[ei].offset as usize) < roff + size {
            ei += 1;
        }
        let rec_edges = &edges[start..ei];
        let dropped = rec_edges.iter().any(|e| {
            let t = &g.symbols[e.target.index()];
            t.kind == SymbolKind::Absolute && t.target_flags == DISCARDED_TARGET && t.name.is_none()
        });
        if dropped && !is_cie {
            continue; // the FDE of a discarded COMDAT function
        }
        let nb = BlockId(g.blocks.len() as u32);
        g.blocks.push(crate::graph::Block {
            section: sec_id,
            section_offset: roff as u64,
            size: size as u64,
            align: 1,
            content: Content::Borrowed(&bytes[roff..roff + size]),
            edges: rec_edges.iter().map(|e| Edge { offset: e.offset - roff as u32, ..*e }).collect(),
            addr: 0,
            live: true,
        });
        new_blocks.push(nb);
        let sym = g.add_anonymous(nb, 0, file);
        if is_cie {
            cie_sym.insert(roff, sym);
            continue;
        }
        // FDE: edge to its CIE, keep-alive from its function.
        let header =
            if u32::from_le_bytes(bytes[roff..roff + 4].try_into().expect("4")) == 0xffff_ffff { 12 } else { 4 };
        let id_at = roff + header;
        let cie_ptr = u32::from_le_bytes(bytes[id_at..id_at + 4].try_into().expect("4")) as usize;
        let cie_off = id_at.checked_sub(cie_ptr);
        let Some(&cie) = cie_off.and_then(|c| cie_sym.get(&c)) else {
            return Err(bad(roff, "FDE's CIE pointer does not point at a CIE before it"));
        };
        g.blocks[nb.index()].edges.push(Edge {
            offset: header as u32,
            target: cie,
            kind: cie_kind,
            origin: 0,
            addend: 0,
        });
        let pc_begin = (header + 4) as u32;
        let func = g.blocks[nb.index()].edges.iter().find(|e| e.offset == pc_begin).map(|e| e.target);
        match func.and_then(|f| g.symbols[f.index()].block.filter(|_| g.symbols[f.index()].kind == SymbolKind::Defined))
        {
            Some(fb) => {
                g.blocks[fb.index()].edges.push(Edge {
                    offset: 0,
                    target: sym,
                    kind: EdgeKind::KEEP_ALIVE,
                    origin: 0,
                    addend: 0,
                });
                any_fde = true;
            }
            None => {
                // No function to follow (absolute pc_begin): drop it.
                g.blocks[nb.index()].live = false;
                new_blocks.pop();
            }
        }
    }
    // The whole-section block is replaced by the records.
    let old = &mut g.blocks[b.index()];
    old.live = false;
    old.size = 0;
    old.content = Content::Zero;
    g.sections[si].blocks = new_blocks.into_iter().collect();
    // Symbols that pointed into the old block (section symbols) follow.
    let blocks = &g.sections[si].blocks;
    let starts: Vec<(u64, BlockId)> = blocks.iter().map(|&nb| (g.blocks[nb.index()].section_offset, nb)).collect();
    for &sid in syms {
        let sym = &mut g.symbols[sid.index()];
        let at = sym.value;
        // Records are in offset order: the last one starting at or before `at`.
        match starts.partition_point(|&(s, _)| s <= at).checked_sub(1).map(|i| starts[i]) {
            Some((s, nb)) => {
                sym.block = Some(nb);
                sym.value = at - s;
            }
            None => {
                sym.block = starts.first().map(|&(_, nb)| nb);
                sym.value = 0;
            }
        }
    }
    let _ = names;
    Ok(any_fde)
}

/// The address of the first live `.eh_frame` record after allocation (the
/// start of the run to register), if any.
pub fn start_address(g: &LinkGraph<'_>) -> Option<u64> {
    g.sections
        .iter()
        .filter(|s| s.role == SectionRole::EhFrame)
        .flat_map(|s| s.blocks.iter())
        .map(|&b| &g.blocks[b.index()])
        .filter(|b| b.live && b.size > 4)
        .map(|b| b.addr)
        .min()
}
