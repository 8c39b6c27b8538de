//! Architectures: edge kinds, fixups, GOT/PLT/stub building and relaxation.
//!
//! Each architecture is one module with the same file names
//! (`edges.rs`, `fixup.rs`, `got_plt.rs`), so a reader who knows one knows
//! all. [`Arch`] dispatches to them.

pub mod aarch64;
pub mod ppc64;
pub mod riscv64;
pub mod tls;
pub mod x86_64;

use crate::error::Result;
use crate::graph::{EdgeKind, FileId, Interner, LinkGraph, SymbolId};

/// The values a fixup is computed from. Addresses are in the target's
/// address space.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FixupInput {
    /// P: address of the field being fixed up.
    pub p: u64,
    /// S: address of the edge's target symbol.
    pub s: u64,
    /// A: the addend.
    pub a: i64,
    /// GOT: address of the GOT base of the edge's file (0 if none).
    pub got: u64,
    /// Z: size of the target symbol in bytes.
    pub size: u64,
    /// For edges to a GOT entry or stub: the final target's address, so
    /// the fixup may bypass the indirection when it is in range.
    pub bypass: Option<u64>,
}

/// Why a fixup could not be applied.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FixupError {
    /// The value does not fit the field.
    OutOfRange {
        /// The computed value.
        value: i128,
        /// The field's range in words.
        range: &'static str,
    },
    /// The field extends past the end of its block.
    OutsideBlock,
    /// The edge kind is a request that was not lowered, or unknown.
    Unlowered,
}

/// What an architecture's post-prune pass created, per file and target.
#[derive(Default, Debug)]
pub struct GotPlt {
    /// `(file, target, entry symbol)` for every GOT entry created.
    pub got: Vec<(FileId, SymbolId, SymbolId)>,
    /// `(file, target, stub symbol, flavour)` for every stub created; the
    /// flavour names the kind where an architecture has several (empty
    /// otherwise), e.g. `veneer`.
    pub stubs: Vec<(FileId, SymbolId, SymbolId, &'static str)>,
}

/// A target architecture.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Arch {
    /// x86-64 (AMD64), System V psABI.
    X86_64,
    /// AArch64 (A64), little endian, AAPCS64.
    Aarch64,
    /// RISC-V 64 (RV64GC), LP64D.
    Riscv64,
    /// PPC64 ELFv2, little endian.
    Ppc64Le,
    /// PPC64 ELFv2, big endian.
    Ppc64Be,
}

macro_rules! dispatch {
    ($self:expr, $m:ident :: $($path:ident)::+ ( $($arg:expr),* )) => {
        match $self {
            Arch::X86_64 => x86_64::$m::$($path)::+($($arg),*),
            Arch::Aarch64 => aarch64::$m::$($path)::+($($arg),*),
            Arch::Riscv64 => riscv64::$m::$($path)::+($($arg),*),
            Arch::Ppc64Le | Arch::Ppc64Be => ppc64::$m::$($path)::+($($arg),*),
        }
    };
}

impl Arch {
    /// The canonical target triple for Linux/ELF.
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
            Arch::Riscv64 => "riscv64-unknown-linux-gnu",
            Arch::Ppc64Le => "powerpc64le-unknown-linux-gnu",
            Arch::Ppc64Be => "powerpc64-unknown-linux-gnu",
        }
    }

    /// Pointer size in bytes.
    pub fn pointer_size(self) -> u8 {
        8
    }

    /// True for little-endian targets.
    pub fn little_endian(self) -> bool {
        self != Arch::Ppc64Be
    }

    /// The host's architecture, if supported.
    pub fn host() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else if cfg!(target_arch = "riscv64") {
            Some(Arch::Riscv64)
        } else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
            Some(Arch::Ppc64Le)
        } else if cfg!(all(target_arch = "powerpc64", target_endian = "big")) {
            Some(Arch::Ppc64Be)
        } else {
            None
        }
    }

    /// Name of an edge kind.
    pub fn kind_name(self, k: EdgeKind) -> &'static str {
        dispatch!(self, edges::kind_name(k))
    }

    /// Applies one fixup; see each architecture's `fixup::apply_fixup`.
    ///
    /// # Errors
    /// As the architecture's `apply_fixup`.
    #[inline]
    pub fn apply_fixup(self, k: EdgeKind, block: &mut [u8], offset: usize, v: &FixupInput) -> Result<(), FixupError> {
        match self {
            Arch::X86_64 => x86_64::fixup::apply_fixup(k, block, offset, v),
            Arch::Aarch64 => aarch64::fixup::apply_fixup(k, block, offset, v, false),
            Arch::Riscv64 => riscv64::fixup::apply_fixup(k, block, offset, v, false),
            Arch::Ppc64Le => ppc64::fixup::apply_fixup(k, block, offset, v, false),
            Arch::Ppc64Be => ppc64::fixup::apply_fixup(k, block, offset, v, true),
        }
    }

    /// True for edge kinds whose target may be a GOT entry or stub that the
    /// fixup can bypass (so the driver computes [`FixupInput::bypass`]).
    #[inline]
    pub fn has_bypass(self, k: EdgeKind) -> bool {
        match self {
            Arch::X86_64 => matches!(
                k,
                x86_64::edges::BRANCH32_TO_STUB_BYPASSABLE
                    | x86_64::edges::GOT_LOAD_RELAXABLE
                    | x86_64::edges::GOT_LOAD_REX_RELAXABLE
            ),
            Arch::Aarch64 => aarch64::edges::has_bypass(k),
            Arch::Riscv64 => riscv64::edges::has_bypass(k),
            Arch::Ppc64Le | Arch::Ppc64Be => ppc64::edges::has_bypass(k),
        }
    }

    /// True for edge kinds that hold an absolute address in 32 bits, so
    /// a link using them on its own symbols must live below 2 GiB.
    pub fn needs_low_address(self, k: EdgeKind) -> bool {
        match self {
            Arch::X86_64 => matches!(k, x86_64::edges::POINTER32 | x86_64::edges::POINTER32_SIGNED),
            Arch::Aarch64 => aarch64::edges::needs_low_address(k),
            Arch::Ppc64Le | Arch::Ppc64Be => ppc64::edges::needs_low_address(k),
            Arch::Riscv64 => riscv64::edges::needs_low_address(k),
        }
    }

    /// The edge kind of an `.eh_frame` FDE's CIE pointer (`P - S`), when
    /// this architecture's `.eh_frame` is split per CIE/FDE and registered.
    pub fn eh_frame_cie_kind(self) -> Option<EdgeKind> {
        match self {
            Arch::X86_64 => Some(x86_64::edges::NEG_DELTA32),
            _ => None,
        }
    }

    /// True for direct call/jump edges (call sites).
    pub fn is_branch(self, k: EdgeKind) -> bool {
        dispatch!(self, edges::is_branch(k))
    }

    /// The post-prune pass: GOT entries, PLT stubs, veneers, relaxation.
    ///
    /// # Errors
    /// As the architecture's pass.
    pub fn build_got_and_stubs(self, g: &mut LinkGraph<'_>, names: &mut Interner) -> Result<GotPlt> {
        dispatch!(self, got_plt::build(g, names))
    }

    /// The architecture's pass after allocation and resolution, before
    /// fixups (e.g. RISC-V pairing `%pcrel_lo` with its `%pcrel_hi`).
    ///
    /// # Errors
    /// As the architecture's pass.
    pub fn pre_fixup(self, g: &mut LinkGraph<'_>, names: &Interner) -> Result<()> {
        dispatch!(self, got_plt::pre_fixup(g, names))
    }
}
