//! Thread-local storage pieces shared by the AArch64, RISC-V 64 and PPC64
//! backends, which serve TLS the way the x86-64 backend does
//! (`crate::runtime::tls` describes the runtime side):
//!
//! * the link's `.tdata`/`.tbss` blocks form its TLS **template**, which
//!   layout places contiguously at the end of the read-only segment;
//! * a 32-byte **module descriptor** `{image, size, align, key}` in a
//!   `$__TLS_MODULE` read-write section names the template
//!   (`crate::runtime::tls::TlsModule`; `key` starts at 0 and belongs to
//!   the runtime);
//! * general and local dynamic accesses call `__tls_get_addr` on a
//!   16-byte `{module, offset}` **pair** (the psABIs' `tls_index`) in the
//!   file's GOT: `module` is the descriptor's address, `offset` the
//!   variable's offset in the template (0 for the module's own pair, used
//!   by local dynamic code and by `_TLS_MODULE_BASE_`);
//! * TLS descriptor accesses call the resolver of a 16-byte **descriptor**
//!   `{resolver, &pair}` in the file's GOT, which returns the variable's
//!   address minus the thread pointer.
//!
//! Offsets are *unbiased*: a pair's offset and every DTPREL field hold the
//! variable's offset from the start of the template, where the PPC64 and
//! RISC-V psABIs subtract `TLS_DTV_OFFSET` (0x8000, 0x800) for the C
//! library's `__tls_get_addr`, which adds it back. A JIT's module is never
//! in the C library's dynamic thread vector, so the `__tls_get_addr` a JIT
//! link binds to is always the JIT's own (`crate::runtime::tls::tls_get_addr`
//! semantics: the thread's block of `module` plus `offset`); both sides
//! agree on no bias.
//!
//! The TLS descriptor resolver is the external symbol
//! [`TLSDESC_RESOLVER`] (`__jitlink_tlsdesc_resolver`), which whoever runs
//! the code binds (an out-of-process executor, or `--abs` in a `--noexec`
//! link). It follows each psABI's descriptor calling convention: on
//! AArch64 it gets the descriptor's address in `x0`, returns the
//! variable's offset from `TPIDR_EL0` in `x0`, and preserves every other
//! register except `x30` and the flags; on RISC-V it gets the descriptor's
//! address in `a0`, returns the offset from `tp` in `a0`, is called with
//! `t0` as link register and preserves every other register. It reads the
//! pair at the descriptor's second word.
//!
//! Initial exec and local exec address variables at fixed offsets from the
//! thread pointer inside the process's static TLS block, which is sized
//! when the process starts and cannot grow for code linked later: no JIT
//! can serve them, and their relocations are refused with
//! [`INITIAL_EXEC`] / [`LOCAL_EXEC`].

use crate::error::Error;
use crate::graph::{
    Content, Edge, EdgeKind, FileId, Interner, LinkGraph, Linkage, Prot, SectionId, SectionRole, SymbolId, SymbolKind,
};
use hashbrown::HashMap;

/// The external symbol a TLS descriptor's first word holds: the resolver
/// that whoever runs the code provides (see the module documentation for
/// its calling convention).
pub const TLSDESC_RESOLVER: &str = "__jitlink_tlsdesc_resolver";

/// The symbol compilers use for "the start of this module's TLS block"
/// (local dynamic through a descriptor, e.g. LLVM's AArch64 code): a
/// reference to it that no input defines means offset 0 of the template.
pub const TLS_MODULE_BASE: &str = "_TLS_MODULE_BASE_";

/// Why initial-exec relocations are refused.
pub const INITIAL_EXEC: &str = "initial-exec TLS needs the process's static TLS block, which a JIT cannot extend; \
                                recompile with -fPIC or -ftls-model=global-dynamic";

/// Why local-exec relocations are refused.
pub const LOCAL_EXEC: &str = "local-exec TLS needs the process's static TLS block, which a JIT cannot extend; \
                              recompile with -fPIC or -ftls-model=global-dynamic";

/// Size in bytes of the module descriptor.
pub const MODULE_SIZE: u64 = 32;
/// Size in bytes of a `{module, offset}` pair and of a descriptor.
pub const PAIR_SIZE: u64 = 16;

static MODULE_BYTES: [u8; MODULE_SIZE as usize] = [0; MODULE_SIZE as usize];
static PAIR_BYTES: [u8; PAIR_SIZE as usize] = [0; PAIR_SIZE as usize];

/// The two edge kinds an architecture fills pairs and descriptors with.
#[derive(Copy, Clone, Debug)]
pub struct PairKinds {
    /// 64-bit `S + A` in the target's byte order.
    pub pointer64: EdgeKind,
    /// A request for 64-bit `S + A - template start`, lowered to
    /// `pointer64` by [`pre_fixup`].
    pub dtprel64: EdgeKind,
}

/// The variable an access names: `Some((symbol, addend))`, or `None` for
/// the module itself (offset `addend` of the template).
pub type Var = (Option<SymbolId>, i64);

/// Creates, once per link, the module descriptor, and per file and
/// variable the pairs and descriptors the GOT passes point TLS edges at.
#[derive(Default)]
pub struct TlsBuilder {
    module: Option<SymbolId>,
    pairs: HashMap<(FileId, Var), SymbolId>,
    descriptors: HashMap<(FileId, Var), SymbolId>,
    dtprel_entries: HashMap<(FileId, Var), SymbolId>,
    resolver: Option<SymbolId>,
    /// The first error found ([`TlsBuilder::variable`]); the pass reports
    /// it once it has finished.
    pub error: Option<Error>,
}

fn edge(offset: u32, target: SymbolId, kind: EdgeKind, addend: i64) -> Edge {
    Edge { offset, target, kind, origin: 0, addend }
}

impl TlsBuilder {
    /// The link's module descriptor (created by the first file that needs
    /// it, in a read-write `$__TLS_MODULE` section of role
    /// [`SectionRole::TlsModule`]; [`pre_fixup`] fills it).
    pub fn module(&mut self, g: &mut LinkGraph<'_>, names: &mut Interner, file: FileId) -> SymbolId {
        if let Some(m) = self.module {
            return m;
        }
        let name = names.intern(b"$__TLS_MODULE");
        let sec = g.add_section(name, file, Prot::ReadWrite, SectionRole::TlsModule);
        let b = g.add_block(sec, Content::Borrowed(&MODULE_BYTES), MODULE_SIZE, 8);
        let sym = g.add_anonymous(b, 0, file);
        g.symbols[sym.index()].size = MODULE_SIZE;
        self.module = Some(sym);
        sym
    }

    /// The variable named by an access to `target + addend` from `file`:
    /// a symbol defined in a `.tdata`/`.tbss` block of the link, or an
    /// undefined [`TLS_MODULE_BASE`] (the module itself, which is then
    /// marked resolved: no edge uses its address). Anything else is
    /// recorded in [`TlsBuilder::error`] (the first one only) and `None` is
    /// returned.
    pub fn variable(
        &mut self,
        g: &mut LinkGraph<'_>,
        names: &Interner,
        file: FileId,
        target: SymbolId,
        addend: i64,
    ) -> Option<Var> {
        let sym = &g.symbols[target.index()];
        let in_tls = sym.kind == SymbolKind::Defined
            && matches!(sym.block.map(|b| g.block_section(b).role), Some(SectionRole::TlsData | SectionRole::TlsBss));
        if in_tls {
            return Some((Some(target), addend));
        }
        let module_base = sym.name.is_some_and(|n| names.bytes(n) == TLS_MODULE_BASE.as_bytes());
        if module_base && !g.is_defined_here(target) {
            // Marker relocations (TLSDESC_CALL) may still name it: it needs
            // no address from the session.
            g.symbols[target.index()].resolved = true;
            return Some((None, addend));
        }
        if self.error.is_none() {
            let what = g.symbol_display(target, names);
            let detail = if sym.kind == SymbolKind::Defined {
                format!("{what} is used as a thread-local variable but is not in a .tdata or .tbss section")
            } else {
                format!(
                    "thread-local variable {what} is not defined in this link (thread-local storage shared \
                     across links or with the host is not supported)"
                )
            };
            self.error = Some(Error::Unsupported { file: g.files[file.index()].name.clone(), detail });
        }
        None
    }

    /// The `{module, offset}` pair of `var` for `file`, a 16-byte block
    /// in `got` (that file's GOT section): word 0 is `kinds.pointer64` to
    /// the module descriptor, word 1 `kinds.dtprel64` to the variable (for
    /// the module itself, its addend as an absolute value, or nothing).
    pub fn pair(
        &mut self,
        g: &mut LinkGraph<'_>,
        names: &mut Interner,
        got: SectionId,
        file: FileId,
        var: Var,
        kinds: PairKinds,
    ) -> SymbolId {
        if let Some(&p) = self.pairs.get(&(file, var)) {
            return p;
        }
        let module = self.module(g, names, file);
        let b = g.add_block(got, Content::Borrowed(&PAIR_BYTES), PAIR_SIZE, 8);
        g.blocks[b.index()].edges.push(edge(0, module, kinds.pointer64, 0));
        match var {
            (Some(t), a) => g.blocks[b.index()].edges.push(edge(8, t, kinds.dtprel64, a)),
            (None, 0) => {}
            (None, a) => {
                let v = g.add_absolute(file, a as u64);
                g.blocks[b.index()].edges.push(edge(8, v, kinds.pointer64, 0));
            }
        }
        let sym = g.add_anonymous(b, 0, file);
        g.symbols[sym.index()].size = PAIR_SIZE;
        self.pairs.insert((file, var), sym);
        sym
    }

    /// The TLS descriptor `{resolver, &pair}` of `var` for `file`, a
    /// 16-byte block in `got`: word 0 is `kinds.pointer64` to
    /// [`TLSDESC_RESOLVER`] (a strong external unless an input defines
    /// it), word 1 `kinds.pointer64` to the variable's pair.
    pub fn descriptor(
        &mut self,
        g: &mut LinkGraph<'_>,
        names: &mut Interner,
        got: SectionId,
        file: FileId,
        var: Var,
        kinds: PairKinds,
    ) -> SymbolId {
        if let Some(&d) = self.descriptors.get(&(file, var)) {
            return d;
        }
        let pair = self.pair(g, names, got, file, var, kinds);
        let resolver = self.resolver(g, names, file);
        let b = g.add_block(got, Content::Borrowed(&PAIR_BYTES), PAIR_SIZE, 8);
        g.blocks[b.index()].edges.push(edge(0, resolver, kinds.pointer64, 0));
        g.blocks[b.index()].edges.push(edge(8, pair, kinds.pointer64, 0));
        let sym = g.add_anonymous(b, 0, file);
        g.symbols[sym.index()].size = PAIR_SIZE;
        self.descriptors.insert((file, var), sym);
        sym
    }

    /// A GOT entry of `file` holding `DTPREL(var)`, the variable's offset
    /// in the block (PPC64 `R_PPC64_GOT_DTPREL16_*`): an 8-byte block in
    /// `got` with a `kinds.dtprel64` edge to the variable.
    pub fn dtprel_entry(
        &mut self,
        g: &mut LinkGraph<'_>,
        got: SectionId,
        file: FileId,
        var: Var,
        kinds: PairKinds,
    ) -> SymbolId {
        if let Some(&e) = self.dtprel_entries.get(&(file, var)) {
            return e;
        }
        let b = g.add_block(got, Content::Borrowed(&PAIR_BYTES[..8]), 8, 8);
        match var {
            (Some(t), a) => g.blocks[b.index()].edges.push(edge(0, t, kinds.dtprel64, a)),
            (None, 0) => {}
            (None, a) => {
                let v = g.add_absolute(file, a as u64);
                g.blocks[b.index()].edges.push(edge(0, v, kinds.pointer64, 0));
            }
        }
        let sym = g.add_anonymous(b, 0, file);
        g.symbols[sym.index()].size = 8;
        self.dtprel_entries.insert((file, var), sym);
        sym
    }

    /// The [`TLSDESC_RESOLVER`] symbol: the global of that name, made a
    /// strong reference when this creates it, so that a link nobody binds
    /// the resolver for fails with an undefined symbol rather than calling
    /// address 0.
    fn resolver(&mut self, g: &mut LinkGraph<'_>, names: &mut Interner, file: FileId) -> SymbolId {
        if let Some(r) = self.resolver {
            return r;
        }
        let name = names.intern(TLSDESC_RESOLVER.as_bytes());
        let existed = g.globals.contains_key(&name);
        let sym = g.global_ref(name, file);
        if !existed {
            g.symbols[sym.index()].linkage = Linkage::Strong;
        }
        self.resolver = Some(sym);
        sym
    }
}

/// Where a link's TLS template lies and how it must be aligned.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Template {
    /// Its first byte: the lowest live `.tdata`/`.tbss` block's address
    /// rounded down to `align`, so that every variable keeps its
    /// alignment in a thread's block allocated at `align` (the at most
    /// `align - 1` bytes before the first TLS block are copied but never
    /// addressed). 0 when the link has no TLS block.
    pub start: u64,
    /// Bytes from `start` to the end of the last TLS block.
    pub size: u64,
    /// The largest alignment of a TLS block (1 when there is none).
    pub align: u64,
}

/// The template of the live `.tdata`/`.tbss` blocks of `g` (after
/// allocation).
pub fn template(g: &LinkGraph<'_>) -> Template {
    let mut lo = u64::MAX;
    let (mut end, mut align) = (0u64, 1u64);
    for s in g.sections.iter().filter(|s| matches!(s.role, SectionRole::TlsData | SectionRole::TlsBss)) {
        for blk in s.blocks.iter().map(|&b| &g.blocks[b.index()]).filter(|b| b.live) {
            lo = lo.min(blk.addr);
            end = end.max(blk.addr.saturating_add(blk.size));
            align = align.max(blk.align);
        }
    }
    if lo == u64::MAX {
        return Template { start: 0, size: 0, align: 1 };
    }
    let align = align.next_power_of_two();
    let start = lo & !(align - 1);
    Template { start, size: end - start, align }
}

/// The pre-fixup part of TLS, after allocation and resolution: computes
/// the [`template`], rewrites every live edge whose kind `lower` maps to
/// `Some(k)` (the DTPREL requests) to kind `k` with the template's start
/// subtracted from its addend (so `S + A` becomes the offset in the
/// block), and fills the module descriptor (if the link has one) with
/// `{start, size, align, 0}` through `pointer64` edges.
pub fn pre_fixup(g: &mut LinkGraph<'_>, pointer64: EdgeKind, lower: impl Fn(EdgeKind) -> Option<EdgeKind>) -> Template {
    let t = template(g);
    for blk in g.blocks.iter_mut().filter(|b| b.live) {
        for e in blk.edges.iter_mut() {
            if let Some(k) = lower(e.kind) {
                e.kind = k;
                e.addend = e.addend.wrapping_sub(t.start as i64);
            }
        }
    }
    let module =
        g.sections.iter().find(|s| s.role == SectionRole::TlsModule).and_then(|s| Some((*s.blocks.first()?, s.file)));
    if let Some((b, file)) = module {
        for (i, v) in [t.start, t.size, t.align].into_iter().enumerate() {
            let sym = g.add_absolute(file, v);
            g.blocks[b.index()].edges.push(edge(8 * i as u32, sym, pointer64, 0));
        }
    }
    t
}

/// Helpers for the architectures' unit tests of their TLS lowering.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::graph::BlockId;

    /// A graph with one file: a 64-byte zero `.text` block, a 16-byte
    /// `.tdata` and a 32-byte `.tbss` block, and `var` at `.tbss + 8`.
    pub struct Fixture {
        pub g: LinkGraph<'static>,
        pub names: Interner,
        pub file: FileId,
        pub text: BlockId,
        pub var: SymbolId,
    }

    pub fn fixture(little_endian: bool) -> Fixture {
        let mut names = Interner::new();
        let mut g = LinkGraph::new(8, little_endian);
        let file = g.add_file("t.o".into());
        let text = g.add_section(names.intern(b".text"), file, Prot::ReadExec, SectionRole::Regular);
        let td = g.add_section(names.intern(b".tdata"), file, Prot::Read, SectionRole::TlsData);
        let tb = g.add_section(names.intern(b".tbss"), file, Prot::Read, SectionRole::TlsBss);
        static DATA: [u8; 16] = [7; 16];
        let text = g.add_block(text, Content::Zero, 64, 4);
        g.add_block(td, Content::Borrowed(&DATA), 16, 8);
        let bss = g.add_block(tb, Content::Zero, 32, 8);
        let var = g.add_anonymous(bss, 8, file);
        Fixture { g, names, file, text, var }
    }

    /// What an edge's target is.
    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    pub enum Class {
        /// A `{module, offset}` pair of the variable (symbol, addend).
        Pair(SymbolId, i64),
        /// The module's `{module, 0}` pair.
        ModulePair,
        /// A descriptor whose pair is of the variable.
        Descriptor(SymbolId, i64),
        /// An 8-byte GOT entry holding the variable's offset.
        DtprelEntry(SymbolId, i64),
        /// The module descriptor.
        Module,
        /// Anything else (the symbol itself).
        Other(SymbolId),
    }

    pub fn classify(g: &LinkGraph<'_>, names: &Interner, s: SymbolId) -> Class {
        let Some(b) = g.symbols[s.index()].block else { return Class::Other(s) };
        let blk = &g.blocks[b.index()];
        let role = g.block_section(b).role;
        let target_role = |e: &Edge| g.symbols[e.target.index()].block.map(|b| g.block_section(b).role);
        match (role, blk.size, blk.edges.as_slice()) {
            (SectionRole::TlsModule, _, _) => Class::Module,
            (_, 8, [e]) => Class::DtprelEntry(e.target, e.addend),
            (_, 16, [m]) if target_role(m) == Some(SectionRole::TlsModule) => Class::ModulePair,
            (_, 16, [m, v]) if target_role(m) == Some(SectionRole::TlsModule) => Class::Pair(v.target, v.addend),
            (_, 16, [r, p])
                if g.symbols[r.target.index()].name.map(|n| names.bytes(n)) == Some(TLSDESC_RESOLVER.as_bytes()) =>
            {
                match classify(g, names, p.target) {
                    Class::Pair(v, a) => Class::Descriptor(v, a),
                    _ => Class::Other(s),
                }
            }
            _ => Class::Other(s),
        }
    }

    /// Gives every block an address, in order from 0x10000, aligned.
    pub fn place(g: &mut LinkGraph<'_>) {
        let mut at = 0x10000u64;
        for b in g.blocks.iter_mut() {
            at = at.next_multiple_of(b.align);
            b.addr = at;
            at += b.size.max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P64: EdgeKind = EdgeKind(1);
    const DTP: EdgeKind = EdgeKind(99);
    const KINDS: PairKinds = PairKinds { pointer64: P64, dtprel64: DTP };

    struct T {
        g: LinkGraph<'static>,
        names: Interner,
        f: FileId,
        got: SectionId,
        tdata: crate::graph::BlockId,
        tbss: crate::graph::BlockId,
    }

    fn setup() -> T {
        let mut names = Interner::new();
        let mut g = LinkGraph::new(8, true);
        let f = g.add_file("t.o".into());
        let td = g.add_section(names.intern(b".tdata"), f, Prot::Read, SectionRole::TlsData);
        let tb = g.add_section(names.intern(b".tbss"), f, Prot::Read, SectionRole::TlsBss);
        let got = g.add_section(names.intern(b"$__GOT"), f, Prot::Read, SectionRole::Got);
        static D: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
        let tdata = g.add_block(td, Content::Borrowed(&D), 8, 4);
        let tbss = g.add_block(tb, Content::Zero, 24, 16);
        T { g, names, f, got, tdata, tbss }
    }

    #[test]
    fn template_is_aligned_and_spans_every_tls_block() {
        let mut t = setup();
        t.g.blocks[t.tdata.index()].addr = 0x1004;
        t.g.blocks[t.tbss.index()].addr = 0x1010;
        assert_eq!(template(&t.g), Template { start: 0x1000, size: 0x28, align: 16 });
        t.g.blocks[t.tdata.index()].live = false;
        t.g.blocks[t.tbss.index()].live = false;
        assert_eq!(template(&t.g), Template { start: 0, size: 0, align: 1 });
    }

    #[test]
    fn pairs_and_descriptors_are_shared_per_file_and_variable() {
        let mut t = setup();
        let v = t.g.add_anonymous(t.tbss, 8, t.f);
        let mut b = TlsBuilder::default();
        assert_eq!(b.variable(&mut t.g, &t.names, t.f, v, 4), Some((Some(v), 4)));
        let p1 = b.pair(&mut t.g, &mut t.names, t.got, t.f, (Some(v), 4), KINDS);
        let p2 = b.pair(&mut t.g, &mut t.names, t.got, t.f, (Some(v), 4), KINDS);
        let d = b.descriptor(&mut t.g, &mut t.names, t.got, t.f, (Some(v), 4), KINDS);
        let m = b.pair(&mut t.g, &mut t.names, t.got, t.f, (None, 0), KINDS);
        assert_eq!(p1, p2);
        let edges = |s: SymbolId| t.g.blocks[t.g.symbols[s.index()].block.unwrap().index()].edges.clone();
        let module = b.module.unwrap();
        let pe = edges(p1);
        assert_eq!((pe[0].offset, pe[0].kind, pe[0].target), (0, P64, module));
        assert_eq!((pe[1].offset, pe[1].kind, pe[1].target, pe[1].addend), (8, DTP, v, 4));
        let de = edges(d);
        assert_eq!((de[0].offset, de[0].kind), (0, P64));
        assert_eq!(t.names.bytes(t.g.symbols[de[0].target.index()].name.unwrap()), TLSDESC_RESOLVER.as_bytes());
        assert_eq!(t.g.symbols[de[0].target.index()].linkage, Linkage::Strong);
        assert_eq!((de[1].offset, de[1].kind, de[1].target), (8, P64, p1));
        assert_eq!(edges(m).len(), 1, "the module's pair has offset 0: no second edge");
        assert!(t.g.sections.iter().any(|s| s.role == SectionRole::TlsModule && s.prot == Prot::ReadWrite));
    }

    #[test]
    fn only_tls_variables_and_the_module_base_are_accepted() {
        let mut t = setup();
        let text = t.g.add_section(t.names.intern(b".text"), t.f, Prot::ReadExec, SectionRole::Regular);
        let tb = t.g.add_block(text, Content::Zero, 4, 4);
        let code = t.g.add_anonymous(tb, 0, t.f);
        let base = t.g.global_ref(t.names.intern(TLS_MODULE_BASE.as_bytes()), t.f);
        let ext = t.g.global_ref(t.names.intern(b"tv_elsewhere"), t.f);
        let mut b = TlsBuilder::default();
        assert_eq!(b.variable(&mut t.g, &t.names, t.f, base, 0), Some((None, 0)));
        assert_eq!(b.variable(&mut t.g, &t.names, t.f, code, 0), None);
        let e = b.error.take().unwrap().to_string();
        assert!(e.contains("t.o") && e.contains("not in a .tdata or .tbss section"), "{e}");
        assert_eq!(b.variable(&mut t.g, &t.names, t.f, ext, 0), None);
        let e = b.error.take().unwrap().to_string();
        assert!(e.contains("tv_elsewhere is not defined in this link"), "{e}");
    }

    #[test]
    fn pre_fixup_folds_the_template_start_and_fills_the_module() {
        let mut t = setup();
        let v = t.g.add_anonymous(t.tbss, 8, t.f);
        let mut b = TlsBuilder::default();
        let p = b.pair(&mut t.g, &mut t.names, t.got, t.f, (Some(v), 2), KINDS);
        t.g.blocks[t.tdata.index()].addr = 0x2000;
        t.g.blocks[t.tbss.index()].addr = 0x2010;
        let tpl = pre_fixup(&mut t.g, P64, |k| (k == DTP).then_some(P64));
        assert_eq!(tpl, Template { start: 0x2000, size: 0x28, align: 16 });
        let pe = &t.g.blocks[t.g.symbols[p.index()].block.unwrap().index()].edges;
        assert_eq!((pe[1].kind, pe[1].addend), (P64, 2 - 0x2000));
        // S + A = 0x2018 + 2 - 0x2000 = 0x1a: the offset in the block.
        assert_eq!(t.g.symbol_addr(v) as i64 + pe[1].addend, 0x1a);
        let m = t.g.symbols[b.module.unwrap().index()].block.unwrap();
        let vals: Vec<(u32, u64)> =
            t.g.blocks[m.index()].edges.iter().map(|e| (e.offset, t.g.symbol_addr(e.target))).collect();
        assert_eq!(vals, [(0, 0x2000), (8, 0x28), (16, 16)]);
    }
}
