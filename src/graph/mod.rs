//! The LinkGraph: sections, blocks, symbols and edges.
//!
//! Everything lives in arenas inside [`LinkGraph`] and is named by small
//! copyable ids ([`SectionId`], [`BlockId`], [`SymbolId`], [`FileId`]).
//! Block content is borrowed from the input bytes (lifetime `'a`) until a
//! pass writes it. The graph knows no file format and no architecture: an
//! [`EdgeKind`] is an opaque number whose meaning `crate::arch` gives.

pub mod interner;

pub use interner::{Interner, NameId};
use smallvec::SmallVec;
use std::borrow::Cow;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            /// The arena index.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// Names a [`Section`] of a [`LinkGraph`].
    SectionId
);
id_type!(
    /// Names a [`Block`] of a [`LinkGraph`].
    BlockId
);
id_type!(
    /// Names a [`Symbol`] of a [`LinkGraph`].
    SymbolId
);
id_type!(
    /// Names an input file of a [`LinkGraph`] (an object or an archive member).
    FileId
);

/// Memory protection a section needs once finalized. W^X: nothing is ever
/// both writable and executable.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prot {
    /// Read and execute (code, stubs).
    ReadExec,
    /// Read only (constants, GOT after fixup).
    Read,
    /// Read and write (data, zero-fill).
    ReadWrite,
}

impl Prot {
    /// All protections, in the order segments are laid out.
    pub const ALL: [Prot; 3] = [Prot::ReadExec, Prot::Read, Prot::ReadWrite];
    /// Index into per-protection arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What a section is for, beyond its bytes. Runtime plugins act on these.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SectionRole {
    /// Ordinary code or data.
    Regular,
    /// `.preinit_array`: pointers run before initialisers.
    PreinitArray,
    /// `.init_array[.PRIO]`: pointers run in order before the entry point.
    InitArray(u16),
    /// `.ctors[.PRIO]`: legacy pointers run in reverse order.
    Ctors(u16),
    /// `.fini_array[.PRIO]`: pointers run in reverse order at exit.
    FiniArray(u16),
    /// `.dtors[.PRIO]`: legacy pointers run in order at exit.
    Dtors(u16),
    /// The GOT the link created for a file (`$__GOT`).
    Got,
    /// The stubs the link created for a file (`$__STUBS`).
    Stubs,
    /// Zero-fill storage for common symbols.
    Common,
    /// `.eh_frame`: CIEs and FDEs, split one block per record.
    EhFrame,
    /// `.tdata`: the initialised part of the thread-local template.
    TlsData,
    /// `.tbss`: the zero-filled part of the thread-local template.
    TlsBss,
    /// The link's thread-local module descriptor (see `crate::runtime::tls`).
    TlsModule,
}

/// A section: a named group of blocks from one file with one protection.
#[derive(Debug)]
pub struct Section {
    /// Name, interned in the session (e.g. `.text`, `$__GOT`).
    pub name: NameId,
    /// The file it came from (or was created for).
    pub file: FileId,
    /// Protection once finalized.
    pub prot: Prot,
    /// Role for runtime plugins.
    pub role: SectionRole,
    /// Blocks in layout order.
    pub blocks: SmallVec<[BlockId; 1]>,
    /// The block must stay even if nothing references it
    /// (`SHF_GNU_RETAIN`, init/fini arrays, `__start_`/`__stop_` users).
    pub keep: bool,
    /// Index of the section in its input file's section table
    /// (`u32::MAX` for sections a pass created).
    pub input_index: u32,
    /// Lay this section out right after that block (a stub island next to
    /// the branches that need it), not in name order.
    pub follows: Option<BlockId>,
}

/// The bytes of a block.
#[derive(Debug, Clone)]
pub enum Content<'a> {
    /// Borrowed from the input; copied to working memory at allocation.
    Borrowed(&'a [u8]),
    /// Written by a pass (GOT entries, stubs, relaxed code).
    Owned(Vec<u8>),
    /// Zero-fill of the block's size; nothing stored.
    Zero,
}

/// A block: the unit of layout, with its alignment, content and edges.
#[derive(Debug)]
pub struct Block<'a> {
    /// The section it belongs to.
    pub section: SectionId,
    /// Offset of this block within its input section (bytes); used in
    /// error locations.
    pub section_offset: u64,
    /// Size in bytes (content length, or zero-fill size).
    pub size: u64,
    /// Alignment in bytes (a power of two).
    pub align: u64,
    /// Content (see [`Content`]).
    pub content: Content<'a>,
    /// Edges (fixups) that apply within this block, in any order.
    pub edges: SmallVec<[Edge; 1]>,
    /// Target address once allocated (0 before).
    pub addr: u64,
    /// False once dead-stripped.
    pub live: bool,
}

impl<'a> Block<'a> {
    /// The content bytes, or `None` for zero-fill.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.content {
            Content::Borrowed(b) => Some(b),
            Content::Owned(v) => Some(v),
            Content::Zero => None,
        }
    }

    /// Mutable content; a borrowed block is copied on first write.
    /// Zero-fill blocks become owned zeros of their size.
    pub fn bytes_mut(&mut self) -> &mut Vec<u8> {
        match &mut self.content {
            Content::Owned(_) => {}
            Content::Borrowed(b) => self.content = Content::Owned(b.to_vec()),
            Content::Zero => self.content = Content::Owned(vec![0; self.size as usize]),
        }
        match &mut self.content {
            Content::Owned(v) => v,
            _ => unreachable!(),
        }
    }

    /// True for zero-fill blocks.
    pub fn is_zero_fill(&self) -> bool {
        matches!(self.content, Content::Zero)
    }
}

/// An edge kind: an architecture-defined fixup, opaque to the graph.
/// Kind 0 is [`EdgeKind::KEEP_ALIVE`] on every architecture.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct EdgeKind(pub u8);

impl EdgeKind {
    /// Keeps the target alive; no fixup.
    pub const KEEP_ALIVE: EdgeKind = EdgeKind(0);
}

/// [`Symbol::target_flags`] of the sentinel a format builder points an
/// `.eh_frame` relocation at when its symbol lies in a discarded COMDAT
/// group or an unloaded section: the FDE holding it is dropped.
pub const DISCARDED_TARGET: u8 = 0xff;

/// A fixup: at `offset` in its block, write a value computed from the
/// `target` symbol's address and `addend` as `kind` says.
/// 24 bytes, `Copy`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Byte offset within the block.
    pub offset: u32,
    /// The symbol whose address the fixup uses.
    pub target: SymbolId,
    /// What to compute and where to put it.
    pub kind: EdgeKind,
    /// The container's relocation type this edge came from (for error
    /// messages; e.g. an ELF `r_type`); 0 for edges a pass created.
    pub origin: u16,
    /// Constant added to the target address (psABI "A").
    pub addend: i64,
}

/// A symbol's binding strength.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Linkage {
    /// One definition allowed.
    Strong,
    /// May be overridden by a strong definition; unresolved weak
    /// references are 0.
    Weak,
}

/// Who can see a symbol.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Exported: visible to other links and to lookups.
    Default,
    /// Visible within the link only (ELF `STV_HIDDEN`/`STV_INTERNAL`).
    Hidden,
    /// Visible within its file only (ELF `STB_LOCAL`).
    Local,
}

/// Whether and how a symbol is defined.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    /// Defined at `offset` within `block`.
    Defined,
    /// Has the fixed address `value`.
    Absolute,
    /// Common: zero-fill storage of `size` bytes allocated at link time
    /// (becomes `Defined` in a [`SectionRole::Common`] block).
    Common,
    /// Defined outside the graph; `value` is its address once resolved.
    External,
}

/// A symbol. Named ones are unique per name among non-local symbols of a
/// graph (references and definitions of a global name share one id).
#[derive(Debug, Clone)]
pub struct Symbol {
    /// Interned name; `None` for anonymous (section) symbols.
    pub name: Option<NameId>,
    /// File that defines it (or first referenced it).
    pub file: FileId,
    /// Defining block for `Defined`.
    pub block: Option<BlockId>,
    /// Offset in `block` (`Defined`), or the address (`Absolute`,
    /// resolved `External`), or the alignment (`Common`).
    pub value: u64,
    /// Size in bytes (ELF `st_size`).
    pub size: u64,
    /// Strong or weak.
    pub linkage: Linkage,
    /// Visibility.
    pub scope: Scope,
    /// Definition state.
    pub kind: SymbolKind,
    /// True for functions (calls to it may be redirected).
    pub callable: bool,
    /// True once an external has been given an address.
    pub resolved: bool,
    /// Target-specific bits from the container (ELF `st_other`; PPC64
    /// ELFv2 keeps the local entry point offset in bits 5-7).
    pub target_flags: u8,
}

/// An input file of the graph.
#[derive(Debug, Clone)]
pub struct FileInfo {
    /// Name as given (no directories; `lib.a(member.o)` for members).
    pub name: String,
    /// The file's GOT base symbol (`_GLOBAL_OFFSET_TABLE_`), created when
    /// the file references it; defined by the architecture's GOT pass.
    pub got_base: Option<SymbolId>,
    /// Names the container's relocation type stored in [`Edge::origin`].
    pub reloc_name: fn(u16) -> Cow<'static, str>,
    /// The object format the file came in (set by its builder; the graph
    /// does not interpret it: `crate::formats::triple` names the target).
    pub container: Container,
}

/// The object file format of an input file.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Container {
    /// ELF (the default for files a pass creates).
    #[default]
    Elf,
    /// Mach-O.
    MachO,
    /// COFF.
    Coff,
}

fn no_reloc_name(t: u16) -> Cow<'static, str> {
    Cow::Owned(format!("type {t}"))
}

/// The graph of one link: all objects and archive members linked together.
pub struct LinkGraph<'a> {
    /// Input files.
    pub files: Vec<FileInfo>,
    /// Section arena.
    pub sections: Vec<Section>,
    /// Block arena.
    pub blocks: Vec<Block<'a>>,
    /// Symbol arena.
    pub symbols: Vec<Symbol>,
    /// Non-local symbols by name.
    pub globals: hashbrown::HashMap<NameId, SymbolId>,
    /// Pointer size of the target in bytes.
    pub pointer_size: u8,
    /// True for little-endian targets.
    pub little_endian: bool,
}

impl<'a> LinkGraph<'a> {
    /// An empty graph for a target with the given pointer size and byte order.
    pub fn new(pointer_size: u8, little_endian: bool) -> Self {
        LinkGraph {
            files: Vec::new(),
            sections: Vec::new(),
            blocks: Vec::new(),
            symbols: Vec::new(),
            globals: hashbrown::HashMap::new(),
            pointer_size,
            little_endian,
        }
    }

    /// Adds an input file.
    pub fn add_file(&mut self, name: String) -> FileId {
        self.files.push(FileInfo { name, got_base: None, reloc_name: no_reloc_name, container: Container::Elf });
        FileId(self.files.len() as u32 - 1)
    }

    /// Adds an empty section.
    pub fn add_section(&mut self, name: NameId, file: FileId, prot: Prot, role: SectionRole) -> SectionId {
        self.sections.push(Section {
            name,
            file,
            prot,
            role,
            blocks: SmallVec::new(),
            keep: false,
            input_index: u32::MAX,
            follows: None,
        });
        SectionId(self.sections.len() as u32 - 1)
    }

    /// Adds a block at the end of `section`.
    pub fn add_block(&mut self, section: SectionId, content: Content<'a>, size: u64, align: u64) -> BlockId {
        let id = BlockId(self.blocks.len() as u32);
        self.blocks.push(Block {
            section,
            section_offset: 0,
            size,
            align: align.max(1),
            content,
            edges: SmallVec::new(),
            addr: 0,
            live: true,
        });
        self.sections[section.index()].blocks.push(id);
        id
    }

    /// Adds a symbol (not entered in `globals`; see [`LinkGraph::add_global`]).
    pub fn add_symbol(&mut self, sym: Symbol) -> SymbolId {
        self.symbols.push(sym);
        SymbolId(self.symbols.len() as u32 - 1)
    }

    /// An anonymous local symbol at `offset` of `block` (section symbols,
    /// GOT entries, stubs).
    pub fn add_anonymous(&mut self, block: BlockId, offset: u64, file: FileId) -> SymbolId {
        self.add_symbol(Symbol {
            name: None,
            file,
            block: Some(block),
            value: offset,
            size: 0,
            linkage: Linkage::Strong,
            scope: Scope::Local,
            kind: SymbolKind::Defined,
            callable: false,
            resolved: false,
            target_flags: 0,
        })
    }

    /// The id of the non-local symbol `name`, creating an external
    /// reference if the graph has none.
    pub fn global_ref(&mut self, name: NameId, file: FileId) -> SymbolId {
        if let Some(&id) = self.globals.get(&name) {
            return id;
        }
        let id = self.add_symbol(Symbol {
            name: Some(name),
            file,
            block: None,
            value: 0,
            size: 0,
            linkage: Linkage::Weak,
            scope: Scope::Default,
            kind: SymbolKind::External,
            callable: false,
            resolved: false,
            target_flags: 0,
        });
        self.globals.insert(name, id);
        id
    }

    /// Section of a block.
    #[inline]
    pub fn block_section(&self, b: BlockId) -> &Section {
        &self.sections[self.blocks[b.index()].section.index()]
    }

    /// Target address of a symbol: block address + offset for defined
    /// symbols, `value` otherwise. Meaningful after allocation/resolution.
    #[inline]
    pub fn symbol_addr(&self, s: SymbolId) -> u64 {
        let sym = &self.symbols[s.index()];
        match (sym.kind, sym.block) {
            (SymbolKind::Defined, Some(b)) => self.blocks[b.index()].addr.wrapping_add(sym.value),
            _ => sym.value,
        }
    }

    /// True if the symbol is defined in a live block of this graph.
    pub fn is_defined_here(&self, s: SymbolId) -> bool {
        let sym = &self.symbols[s.index()];
        sym.kind == SymbolKind::Defined && sym.block.is_some()
    }

    /// Follows GOT entries and stubs (edge 0 of their blocks) to the symbol
    /// they finally reach; `s` itself when it is neither.
    pub fn final_target(&self, mut s: SymbolId) -> SymbolId {
        for _ in 0..2 {
            let Some(b) = self.symbols[s.index()].block else { break };
            if !matches!(self.block_section(b).role, SectionRole::Got | SectionRole::Stubs) {
                break;
            }
            match self.blocks[b.index()].edges.first() {
                Some(e) => s = e.target,
                None => break,
            }
        }
        s
    }

    /// Adds an anonymous, local, resolved absolute symbol of address `value`
    /// (target space) owned by `file`: the target of a fixup whose value is
    /// a constant (a runtime entry point, a TLS offset, relocation symbol 0).
    pub fn add_absolute(&mut self, file: FileId, value: u64) -> SymbolId {
        self.add_symbol(Symbol {
            name: None,
            file,
            block: None,
            value,
            size: 0,
            linkage: Linkage::Strong,
            scope: Scope::Local,
            kind: SymbolKind::Absolute,
            callable: false,
            resolved: true,
            target_flags: 0,
        })
    }

    /// The file's GOT base symbol, named `_GLOBAL_OFFSET_TABLE_` (PPC64's
    /// `.TOC.` references map to it too), created on first use as an
    /// unresolved local; the architecture's GOT pass defines it.
    pub fn got_base(&mut self, file: FileId, names: &mut Interner) -> SymbolId {
        if let Some(s) = self.files[file.index()].got_base {
            return s;
        }
        let s = self.add_symbol(Symbol {
            name: Some(names.intern(b"_GLOBAL_OFFSET_TABLE_")),
            file,
            block: None,
            value: 0,
            size: 0,
            linkage: Linkage::Strong,
            scope: Scope::Local,
            kind: SymbolKind::External,
            callable: false,
            resolved: false,
            target_flags: 0,
        });
        self.files[file.index()].got_base = Some(s);
        s
    }

    /// Number of edges in live blocks.
    pub fn edge_count(&self) -> usize {
        self.blocks.iter().filter(|b| b.live).map(|b| b.edges.len()).sum()
    }

    /// Display name of a symbol for messages.
    pub fn symbol_display(&self, s: SymbolId, names: &Interner) -> String {
        let sym = &self.symbols[s.index()];
        match sym.name {
            Some(n) => names.str(n).into_owned(),
            None => match sym.block {
                Some(b) => {
                    let sec = self.block_section(b);
                    format!("{}+{:#x}", names.str(sec.name), sym.value)
                }
                None => "<anonymous>".to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_is_small() {
        assert_eq!(std::mem::size_of::<Edge>(), 24);
    }

    #[test]
    fn global_refs_unify() {
        let mut names = Interner::new();
        let mut g = LinkGraph::new(8, true);
        let f = g.add_file("a.o".into());
        let n = names.intern(b"printf");
        let a = g.global_ref(n, f);
        let b = g.global_ref(n, f);
        assert_eq!(a, b);
        let text = g.add_section(names.intern(b".text"), f, Prot::ReadExec, SectionRole::Regular);
        let blk = g.add_block(text, Content::Borrowed(&[0x90; 16]), 16, 16);
        g.blocks[blk.index()].addr = 0x1000;
        let s = g.add_anonymous(blk, 4, f);
        assert_eq!(g.symbol_addr(s), 0x1004);
        assert_eq!(g.symbol_display(s, &names), ".text+0x4");
        let mut_bytes = g.blocks[blk.index()].bytes_mut();
        mut_bytes[0] = 0xcc;
        assert_eq!(g.blocks[blk.index()].bytes().unwrap()[0], 0xcc);
    }
}
