//! x86-64 edge kinds.
//!
//! Formulas use the psABI names (System V AMD64 psABI, §4.4 "Relocation
//! Types"): S the target's address, A the addend, P the address of the
//! fixed-up field, GOT the address of the file's GOT base, Z the target's
//! size. `REQ_*` kinds are requests that the GOT/PLT pass
//! ([`super::got_plt`]) lowers before fixup; they never reach
//! [`super::fixup::apply_fixup`].

use crate::graph::EdgeKind;

/// Keeps the target alive; no fixup (R_X86_64_NONE).
pub const KEEP_ALIVE: EdgeKind = EdgeKind::KEEP_ALIVE;
/// 64-bit `S + A` (R_X86_64_64).
pub const POINTER64: EdgeKind = EdgeKind(1);
/// 32-bit `S + A`, zero-extended: must fit `0..2^32` (R_X86_64_32).
pub const POINTER32: EdgeKind = EdgeKind(2);
/// 32-bit `S + A`, sign-extended: must fit `i32` (R_X86_64_32S).
pub const POINTER32_SIGNED: EdgeKind = EdgeKind(3);
/// 16-bit `S + A`, bitfield check `-2^15..2^16` (R_X86_64_16).
pub const POINTER16: EdgeKind = EdgeKind(4);
/// 8-bit `S + A`, bitfield check `-2^7..2^8` (R_X86_64_8).
pub const POINTER8: EdgeKind = EdgeKind(5);
/// 64-bit `S + A - P` (R_X86_64_PC64, GOTPC64 against the GOT base).
pub const DELTA64: EdgeKind = EdgeKind(6);
/// 32-bit signed `S + A - P` (R_X86_64_PC32, GOTPC32 against the GOT base).
pub const DELTA32: EdgeKind = EdgeKind(7);
/// 16-bit signed `S + A - P` (R_X86_64_PC16).
pub const DELTA16: EdgeKind = EdgeKind(8);
/// 8-bit signed `S + A - P` (R_X86_64_PC8).
pub const DELTA8: EdgeKind = EdgeKind(9);
/// `call`/`jmp rel32`: 32-bit signed `S + A - P` to a function; a call site
/// (R_X86_64_PLT32 to a symbol defined in the link).
pub const BRANCH32: EdgeKind = EdgeKind(10);
/// `call`/`jmp rel32` whose target is a PLT stub: goes straight to the
/// stub's final target when that is in range, else to the stub.
pub const BRANCH32_TO_STUB_BYPASSABLE: EdgeKind = EdgeKind(11);
/// 64-bit `S + A - GOT` (R_X86_64_GOTOFF64; GOT64 and PLTOFF64 once
/// lowered to a GOT entry or stub).
pub const DELTA64_FROM_GOT: EdgeKind = EdgeKind(12);
/// 32-bit signed `S + A - GOT` (R_X86_64_GOT32 once lowered).
pub const DELTA32_FROM_GOT: EdgeKind = EdgeKind(13);
/// 32-bit `Z + A` (R_X86_64_SIZE32).
pub const SIZE32: EdgeKind = EdgeKind(14);
/// 64-bit `Z + A` (R_X86_64_SIZE64).
pub const SIZE64: EdgeKind = EdgeKind(15);
/// `mov foo@GOTPCREL(%rip)` (or `call/jmp *`), target a GOT entry: relaxed
/// to `lea`/direct call/jmp when the entry's target is within ±2 GiB,
/// else `G + GOT + A - P` (R_X86_64_GOTPCRELX once lowered).
pub const GOT_LOAD_RELAXABLE: EdgeKind = EdgeKind(16);
/// As [`GOT_LOAD_RELAXABLE`] with a REX prefix (R_X86_64_REX_GOTPCRELX).
pub const GOT_LOAD_REX_RELAXABLE: EdgeKind = EdgeKind(17);
/// A relaxable GOT load whose target is defined in the link: always
/// rewritten to `lea`/direct call/jmp with `S + A - P`; no GOT entry.
pub const GOT_LOAD_RELAXED: EdgeKind = EdgeKind(18);

/// 32-bit signed `P - S + A`: an `.eh_frame` FDE's CIE pointer (the
/// distance back from the field to its CIE; DWARF `CIE_pointer`).
pub const NEG_DELTA32: EdgeKind = EdgeKind(19);

/// 64-bit: the address of the link's thread-local module descriptor
/// (R_X86_64_DTPMOD64; the "module id" `__tls_get_addr` receives).
pub const TLS_MODULE64: EdgeKind = EdgeKind(20);
/// 64-bit `S + A - TLS`: offset in the thread-local block
/// (R_X86_64_DTPOFF64); rewritten before fixup into [`POINTER64`] with the
/// template's start folded into the addend.
pub const DTPOFF64: EdgeKind = EdgeKind(21);
/// 32-bit signed `S + A - TLS` (R_X86_64_DTPOFF32); rewritten as [`DTPOFF64`].
pub const DTPOFF32: EdgeKind = EdgeKind(22);
/// Request: R_X86_64_TLSGD (`{module, offset}` pair, `G + GOT + A - P`).
pub const REQ_TLSGD: EdgeKind = EdgeKind(40);
/// Request: R_X86_64_TLSLD (the `{module, 0}` pair).
pub const REQ_TLSLD: EdgeKind = EdgeKind(41);
/// Request: R_X86_64_GOTPC32_TLSDESC (a `{resolver, arg}` descriptor).
pub const REQ_TLSDESC: EdgeKind = EdgeKind(42);

/// Request: R_X86_64_PLT32 (`L + A - P`).
pub const REQ_PLT_BRANCH32: EdgeKind = EdgeKind(32);
/// Request: R_X86_64_GOTPCREL (`G + GOT + A - P`).
pub const REQ_GOT_DELTA32: EdgeKind = EdgeKind(33);
/// Request: R_X86_64_GOTPCRELX.
pub const REQ_GOT_LOAD_RELAXABLE: EdgeKind = EdgeKind(34);
/// Request: R_X86_64_REX_GOTPCRELX.
pub const REQ_GOT_LOAD_REX_RELAXABLE: EdgeKind = EdgeKind(35);
/// Request: R_X86_64_GOTPCREL64 (`G + GOT + A - P`, 64-bit).
pub const REQ_GOT_DELTA64: EdgeKind = EdgeKind(36);
/// Request: R_X86_64_GOT64 / GOTPLT64 (`G + A`, 64-bit).
pub const REQ_GOT_OFFSET64: EdgeKind = EdgeKind(37);
/// Request: R_X86_64_GOT32 (`G + A`, 32-bit).
pub const REQ_GOT_OFFSET32: EdgeKind = EdgeKind(38);
/// Request: R_X86_64_PLTOFF64 (`L - GOT + A`).
pub const REQ_PLT_OFFSET64: EdgeKind = EdgeKind(39);

// --- Kinds for the Mach-O and COFF containers (numbered from 48 up) ---
//
// Formulas with a second symbol B take it from a [`SUBTRAHEND`] edge at the
// same offset of the same block; `super::got_plt::pre_fixup` folds B into
// the paired edge's addend (A becomes `A - B`) once every address is known,
// so the fixups below compute `S + A` with their own field and range.

/// The B of the edge of a pair kind ([`DELTA64_PAIR`], [`DELTA32_PAIR`],
/// [`IMAGE_REL32`], [`SECREL32`], [`SECREL7`]) at the same offset: its
/// target's address plus its addend is subtracted from that edge's value.
/// Mach-O `X86_64_RELOC_SUBTRACTOR` names B, the symbol subtracted
/// (`<mach-o/x86_64/reloc.h>`: "must be followed by a
/// X86_64_RELOC_UNSIGNED"); for COFF it is `__ImageBase` or the start of the
/// target's section. Folded before fixup (it then becomes [`KEEP_ALIVE`]);
/// it keeps B alive until then. An unfolded one is a request.
pub const SUBTRAHEND: EdgeKind = EdgeKind(48);
/// 64-bit `S - B + A`, no check: Mach-O `X86_64_RELOC_SUBTRACTOR` followed
/// by `X86_64_RELOC_UNSIGNED`, `r_length` 3 (`.quad _a - _b + A`).
pub const DELTA64_PAIR: EdgeKind = EdgeKind(49);
/// 32-bit signed `S - B + A`, must fit `i32`: the same pair with
/// `r_length` 2 (`.long _a - _b + A`).
pub const DELTA32_PAIR: EdgeKind = EdgeKind(50);
/// 32-bit unsigned `S + A - ImageBase` (B is `__ImageBase`), must fit
/// `0..2^32`: IMAGE_REL_AMD64_ADDR32NB, "the 32-bit address without an
/// image base (RVA)" (Microsoft PE/COFF specification, "x64 Processors").
pub const IMAGE_REL32: EdgeKind = EdgeKind(51);
/// 32-bit unsigned `S + A - SectionBase` (B is the start of the target's
/// section), must fit `0..2^32`: IMAGE_REL_AMD64_SECREL, "the 32-bit offset
/// of the target from the beginning of its section" (PE/COFF, "x64 Processors").
pub const SECREL32: EdgeKind = EdgeKind(52);
/// 7-bit unsigned `S + A - SectionBase` in bits `[6:0]` of a byte (bit 7 kept),
/// must fit `0..2^7`: IMAGE_REL_AMD64_SECREL7, "a 7-bit unsigned offset from
/// the base of the section that contains the target" (PE/COFF, "x64 Processors").
pub const SECREL7: EdgeKind = EdgeKind(53);
/// 16-bit `A`: the 1-based number of the target's section in its object,
/// which the builder puts in the addend (IMAGE_REL_AMD64_SECTION, "the
/// 16-bit section index of the section that contains the target", PE/COFF,
/// "x64 Processors"; a JIT link has no output section table, so the input
/// section's number is what a debugger reading the object expects).
pub const SECTION_INDEX16: EdgeKind = EdgeKind(54);

/// True for the kinds whose B comes from a [`SUBTRAHEND`] edge.
pub fn is_pair_kind(k: EdgeKind) -> bool {
    matches!(k, DELTA64_PAIR | DELTA32_PAIR | IMAGE_REL32 | SECREL32 | SECREL7)
}

/// Name of an x86-64 edge kind, for `--show-graph` and messages.
pub fn kind_name(k: EdgeKind) -> &'static str {
    match k {
        KEEP_ALIVE => "KeepAlive",
        POINTER64 => "Pointer64",
        POINTER32 => "Pointer32",
        POINTER32_SIGNED => "Pointer32Signed",
        POINTER16 => "Pointer16",
        POINTER8 => "Pointer8",
        DELTA64 => "Delta64",
        DELTA32 => "Delta32",
        DELTA16 => "Delta16",
        DELTA8 => "Delta8",
        BRANCH32 => "Branch32",
        BRANCH32_TO_STUB_BYPASSABLE => "Branch32ToStubBypassable",
        DELTA64_FROM_GOT => "Delta64FromGOT",
        DELTA32_FROM_GOT => "Delta32FromGOT",
        SIZE32 => "Size32",
        SIZE64 => "Size64",
        GOT_LOAD_RELAXABLE => "GOTLoadRelaxable",
        GOT_LOAD_REX_RELAXABLE => "GOTLoadREXRelaxable",
        GOT_LOAD_RELAXED => "GOTLoadRelaxed",
        NEG_DELTA32 => "NegDelta32",
        TLS_MODULE64 => "TLSModule64",
        DTPOFF64 => "DTPOff64",
        DTPOFF32 => "DTPOff32",
        REQ_TLSGD => "RequestTLSGD",
        REQ_TLSLD => "RequestTLSLD",
        REQ_TLSDESC => "RequestTLSDesc",
        REQ_PLT_BRANCH32 => "RequestPLTBranch32",
        REQ_GOT_DELTA32 => "RequestGOTDelta32",
        REQ_GOT_LOAD_RELAXABLE => "RequestGOTLoadRelaxable",
        REQ_GOT_LOAD_REX_RELAXABLE => "RequestGOTLoadREXRelaxable",
        REQ_GOT_DELTA64 => "RequestGOTDelta64",
        REQ_GOT_OFFSET64 => "RequestGOTOffset64",
        REQ_GOT_OFFSET32 => "RequestGOTOffset32",
        REQ_PLT_OFFSET64 => "RequestPLTOffset64",
        SUBTRAHEND => "Subtrahend",
        DELTA64_PAIR => "Delta64Pair",
        DELTA32_PAIR => "Delta32Pair",
        IMAGE_REL32 => "ImageRelative32",
        SECREL32 => "SectionRelative32",
        SECREL7 => "SectionRelative7",
        SECTION_INDEX16 => "SectionIndex16",
        _ => "Unknown",
    }
}

/// True for direct branch edges (recorded as call sites).
pub fn is_branch(k: EdgeKind) -> bool {
    matches!(k, BRANCH32 | BRANCH32_TO_STUB_BYPASSABLE)
}
