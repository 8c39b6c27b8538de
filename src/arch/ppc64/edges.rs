//! PPC64 (ELFv2) edge kinds.
//!
//! Formulas use the ABI's names (64-bit ELF V2 ABI Specification, §3.5.3
//! "Relocation Types"): S the target's address, A the addend, P the address
//! of the relocated field (for a half16 the halfword itself, for a branch
//! or prefixed instruction the first word), `.TOC.` the link's TOC base
//! (the file's GOT base, [`crate::arch::FixupInput::got`]). The ABI's field
//! transforms are, on the 64-bit value `x`:
//!
//! | name | value | overflow check (binutils `elf64-ppc.c` howtos) |
//! | --- | --- | --- |
//! | `#lo` | `x & 0xffff` | none |
//! | `#hi` | `(x >> 16) & 0xffff` | `x` fits signed 32 bits |
//! | `#ha` | `((x + 0x8000) >> 16) & 0xffff` | `x + 0x8000` fits signed 32 bits |
//! | `#high` / `#higha` | as `#hi` / `#ha` | none |
//! | `#higher` / `#highera` | `(x >> 32)`, `((x + 0x8000) >> 32)` | none |
//! | `#highest` / `#highesta` | `(x >> 48)`, `((x + 0x8000) >> 48)` | none |
//! | `#higher34` / `#highera34` | `(x >> 34)`, `((x + 2^33) >> 34)` | none |
//! | `#highest34` / `#highesta34` | `(x >> 50)`, `((x + 2^33) >> 50)` | none |
//!
//! Half16 kinds are numbered `base + transform` (see [`half16_form`]).
//! `REQ_*` kinds are requests that the GOT/stub pass ([`super::got_plt`])
//! lowers before fixup; they never reach [`super::fixup::apply_fixup`].

use crate::graph::EdgeKind;

/// Keeps the target alive; no fixup (R_PPC64_NONE and the marker types
/// TOCSAVE, ENTRY, PLTSEQ, PLTCALL, PCREL_OPT).
pub const KEEP_ALIVE: EdgeKind = EdgeKind::KEEP_ALIVE;
/// doubleword64 `S + A` (R_PPC64_ADDR64, UADDR64; R_PPC64_TOC against `.TOC.`;
/// GOT entries).
pub const POINTER64: EdgeKind = EdgeKind(1);
/// word32 `S + A`, bitfield check `-2^31..2^32` (R_PPC64_ADDR32, UADDR32).
pub const POINTER32: EdgeKind = EdgeKind(2);
/// doubleword64 `S + A - P` (R_PPC64_REL64).
pub const DELTA64: EdgeKind = EdgeKind(3);
/// word32 `S + A - P`, signed 32 bits (R_PPC64_REL32).
pub const DELTA32: EdgeKind = EdgeKind(4);
/// word30 `(S + A - P) >> 2` in the word's upper 30 bits, the low 2 bits
/// kept; no check (R_PPC64_ADDR30, binutils' REL30).
pub const DELTA30: EdgeKind = EdgeKind(5);
/// `b`/`bl` low24: `S + A - P`, a multiple of 4 in `-2^25..2^25`
/// (R_PPC64_REL24 to a function in the link's TOC; A includes the target's
/// local entry offset).
pub const BRANCH24: EdgeKind = EdgeKind(6);
/// `b`/`bl` to a veneer ([`super::stubs`]): straight to the veneer's final
/// target (`bypass + A - P`, A including the local entry offset) when that
/// is in range, else to the veneer (`S - P`, the veneer carries its own
/// addend).
pub const BRANCH24_TO_VENEER_BYPASSABLE: EdgeKind = EdgeKind(7);
/// `bl` to a TOC-saving call stub (`S - P`), and the `nop` after it
/// rewritten to `ld r2,24(r1)` (0xe8410018) to restore the caller's TOC
/// pointer (ELFv2 ABI §2.3.6 "Function Calls", R_PPC64_REL24 to a function
/// in another TOC).
pub const BRANCH24_TO_TOC_STUB: EdgeKind = EdgeKind(8);
/// `ba`/`bla` low24: `S + A`, a multiple of 4 in `-2^25..2^25` (R_PPC64_ADDR24).
pub const ABS_BRANCH24: EdgeKind = EdgeKind(9);
/// `bc` low14: `S + A - P`, a multiple of 4 in `-2^15..2^15` (R_PPC64_REL14;
/// A includes the local entry offset of a target in the link, as for every
/// branch kind).
pub const BRANCH14: EdgeKind = EdgeKind(10);
/// As [`BRANCH14`], the branch predicted taken (R_PPC64_REL14_BRTAKEN).
pub const BRANCH14_BRTAKEN: EdgeKind = EdgeKind(11);
/// As [`BRANCH14`], predicted not taken (R_PPC64_REL14_BRNTAKEN).
pub const BRANCH14_BRNTAKEN: EdgeKind = EdgeKind(12);
/// `bca` low14: `S + A` (R_PPC64_ADDR14).
pub const ABS_BRANCH14: EdgeKind = EdgeKind(13);
/// As [`ABS_BRANCH14`], predicted taken (R_PPC64_ADDR14_BRTAKEN).
pub const ABS_BRANCH14_BRTAKEN: EdgeKind = EdgeKind(14);
/// As [`ABS_BRANCH14`], predicted not taken (R_PPC64_ADDR14_BRNTAKEN).
pub const ABS_BRANCH14_BRNTAKEN: EdgeKind = EdgeKind(15);
/// prefix34 `S + A`, signed 34 bits: bits 16–33 in the prefix word's low 18
/// bits, bits 0–15 in the suffix's low 16 (R_PPC64_D34).
pub const D34: EdgeKind = EdgeKind(16);
/// prefix34 `#lo34(S + A)`, no check (R_PPC64_D34_LO).
pub const D34_LO: EdgeKind = EdgeKind(17);
/// prefix34 `(S + A) >> 34`, no check (R_PPC64_D34_HI30).
pub const D34_HI30: EdgeKind = EdgeKind(18);
/// prefix34 `(S + A + 2^33) >> 34`, no check (R_PPC64_D34_HA30).
pub const D34_HA30: EdgeKind = EdgeKind(19);
/// prefix34 `S + A - P`, signed 34 bits (R_PPC64_PCREL34; GOT_PCREL34 and
/// PLT_PCREL34 once lowered to a GOT entry).
pub const PCREL34: EdgeKind = EdgeKind(20);
/// prefix28 `S + A`, signed 28 bits: bits 16–27 in the prefix's low 12
/// bits (R_PPC64_D28).
pub const D28: EdgeKind = EdgeKind(21);
/// prefix28 `S + A - P`, signed 28 bits (R_PPC64_PCREL28).
pub const PCREL28: EdgeKind = EdgeKind(22);
/// `addpcis` split field (d0 bits 6–15, d1 bits 16–20, d2 bit 31 of the
/// word): `#ha(S + A - P)`, checked as `#ha` (R_PPC64_REL16DX_HA).
pub const REL16DX_HA: EdgeKind = EdgeKind(23);

/// The value a half16 kind starts from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Base {
    /// `S + A`.
    Abs,
    /// `S + A - P`.
    Rel,
    /// `S + A - .TOC.`.
    Toc,
}

/// The transform and check a half16 kind applies (see the module table).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Half {
    /// The value itself, signed 16-bit check (TOC16, REL16, GOT16).
    Signed16,
    /// The value itself, bitfield check `-2^15..2^16` (ADDR16).
    Bitfield16,
    /// `#lo`.
    Lo,
    /// `#hi`, checked.
    Hi,
    /// `#ha`, checked.
    Ha,
    /// `#high`.
    High,
    /// `#higha`.
    Higha,
    /// `#higher`.
    Higher,
    /// `#highera`.
    Highera,
    /// `#highest`.
    Highest,
    /// `#highesta`.
    Highesta,
    /// DS-form: signed 16-bit check, a multiple of 4 (16 for DQ-form
    /// `lq`/`lxv`/`stxv`), the low 2 (4) bits of the field kept.
    Ds,
    /// DS-form `#lo`: a multiple of 4 (16 for DQ-form), low bits kept.
    LoDs,
    /// `#higher34`.
    Higher34,
    /// `#highera34`.
    Highera34,
    /// `#highest34`.
    Highest34,
    /// `#highesta34`.
    Highesta34,
}

const HALVES: [Half; 17] = [
    Half::Signed16,
    Half::Bitfield16,
    Half::Lo,
    Half::Hi,
    Half::Ha,
    Half::High,
    Half::Higha,
    Half::Higher,
    Half::Highera,
    Half::Highest,
    Half::Highesta,
    Half::Ds,
    Half::LoDs,
    Half::Higher34,
    Half::Highera34,
    Half::Highest34,
    Half::Highesta34,
];

const STRIDE: u8 = 20;
const ABS_BASE: u8 = 32;
const REL_BASE: u8 = ABS_BASE + STRIDE;
const TOC_BASE: u8 = REL_BASE + STRIDE;
const REQ_GOT16_BASE: u8 = 160;

const fn half(base: u8, h: Half) -> EdgeKind {
    EdgeKind(base + h as u8)
}

/// The base and transform of a half16 kind, `None` for other kinds.
pub fn half16_form(k: EdgeKind) -> Option<(Base, Half)> {
    let (base, off) = match k.0 {
        x if (ABS_BASE..ABS_BASE + STRIDE).contains(&x) => (Base::Abs, x - ABS_BASE),
        x if (REL_BASE..REL_BASE + STRIDE).contains(&x) => (Base::Rel, x - REL_BASE),
        x if (TOC_BASE..TOC_BASE + STRIDE).contains(&x) => (Base::Toc, x - TOC_BASE),
        _ => return None,
    };
    HALVES.get(off as usize).map(|&h| (base, h))
}

/// The half16 kind of `base` and `h` (used by the GOT pass to lower
/// requests and to build stubs).
pub fn half16_kind(base: Base, h: Half) -> EdgeKind {
    let b = match base {
        Base::Abs => ABS_BASE,
        Base::Rel => REL_BASE,
        Base::Toc => TOC_BASE,
    };
    half(b, h)
}

/// half16 `S + A`, bitfield (R_PPC64_ADDR16, UADDR16).
pub const ADDR16: EdgeKind = half(ABS_BASE, Half::Bitfield16);
/// half16 `#lo(S + A)` (R_PPC64_ADDR16_LO).
pub const ADDR16_LO: EdgeKind = half(ABS_BASE, Half::Lo);
/// half16 `#hi(S + A)`, checked (R_PPC64_ADDR16_HI).
pub const ADDR16_HI: EdgeKind = half(ABS_BASE, Half::Hi);
/// half16 `#ha(S + A)`, checked (R_PPC64_ADDR16_HA).
pub const ADDR16_HA: EdgeKind = half(ABS_BASE, Half::Ha);
/// half16 `#high(S + A)` (R_PPC64_ADDR16_HIGH).
pub const ADDR16_HIGH: EdgeKind = half(ABS_BASE, Half::High);
/// half16 `#higha(S + A)` (R_PPC64_ADDR16_HIGHA).
pub const ADDR16_HIGHA: EdgeKind = half(ABS_BASE, Half::Higha);
/// half16 `#higher(S + A)` (R_PPC64_ADDR16_HIGHER).
pub const ADDR16_HIGHER: EdgeKind = half(ABS_BASE, Half::Higher);
/// half16 `#highera(S + A)` (R_PPC64_ADDR16_HIGHERA).
pub const ADDR16_HIGHERA: EdgeKind = half(ABS_BASE, Half::Highera);
/// half16 `#highest(S + A)` (R_PPC64_ADDR16_HIGHEST).
pub const ADDR16_HIGHEST: EdgeKind = half(ABS_BASE, Half::Highest);
/// half16 `#highesta(S + A)` (R_PPC64_ADDR16_HIGHESTA).
pub const ADDR16_HIGHESTA: EdgeKind = half(ABS_BASE, Half::Highesta);
/// half16ds `S + A`, signed, multiple of 4 (R_PPC64_ADDR16_DS).
pub const ADDR16_DS: EdgeKind = half(ABS_BASE, Half::Ds);
/// half16ds `#lo(S + A)`, multiple of 4 (R_PPC64_ADDR16_LO_DS).
pub const ADDR16_LO_DS: EdgeKind = half(ABS_BASE, Half::LoDs);
/// half16 `#higher34(S + A)` (R_PPC64_ADDR16_HIGHER34).
pub const ADDR16_HIGHER34: EdgeKind = half(ABS_BASE, Half::Higher34);
/// half16 `#highera34(S + A)` (R_PPC64_ADDR16_HIGHERA34).
pub const ADDR16_HIGHERA34: EdgeKind = half(ABS_BASE, Half::Highera34);
/// half16 `#highest34(S + A)` (R_PPC64_ADDR16_HIGHEST34).
pub const ADDR16_HIGHEST34: EdgeKind = half(ABS_BASE, Half::Highest34);
/// half16 `#highesta34(S + A)` (R_PPC64_ADDR16_HIGHESTA34).
pub const ADDR16_HIGHESTA34: EdgeKind = half(ABS_BASE, Half::Highesta34);

/// half16 `S + A - P`, signed 16 (R_PPC64_REL16).
pub const REL16: EdgeKind = half(REL_BASE, Half::Signed16);
/// half16 `#lo(S + A - P)` (R_PPC64_REL16_LO).
pub const REL16_LO: EdgeKind = half(REL_BASE, Half::Lo);
/// half16 `#hi(S + A - P)`, checked (R_PPC64_REL16_HI).
pub const REL16_HI: EdgeKind = half(REL_BASE, Half::Hi);
/// half16 `#ha(S + A - P)`, checked (R_PPC64_REL16_HA).
pub const REL16_HA: EdgeKind = half(REL_BASE, Half::Ha);
/// half16 `#high(S + A - P)` (R_PPC64_REL16_HIGH).
pub const REL16_HIGH: EdgeKind = half(REL_BASE, Half::High);
/// half16 `#higha(S + A - P)` (R_PPC64_REL16_HIGHA).
pub const REL16_HIGHA: EdgeKind = half(REL_BASE, Half::Higha);
/// half16 `#higher(S + A - P)` (R_PPC64_REL16_HIGHER).
pub const REL16_HIGHER: EdgeKind = half(REL_BASE, Half::Higher);
/// half16 `#highera(S + A - P)` (R_PPC64_REL16_HIGHERA).
pub const REL16_HIGHERA: EdgeKind = half(REL_BASE, Half::Highera);
/// half16 `#highest(S + A - P)` (R_PPC64_REL16_HIGHEST).
pub const REL16_HIGHEST: EdgeKind = half(REL_BASE, Half::Highest);
/// half16 `#highesta(S + A - P)` (R_PPC64_REL16_HIGHESTA).
pub const REL16_HIGHESTA: EdgeKind = half(REL_BASE, Half::Highesta);
/// half16ds `#lo(S + A - P)`, multiple of 4 (no ELF type: the `ld` of a
/// PC-relative stub).
pub const REL16_LO_DS: EdgeKind = half(REL_BASE, Half::LoDs);
/// half16 `#higher34(S + A - P)` (R_PPC64_REL16_HIGHER34).
pub const REL16_HIGHER34: EdgeKind = half(REL_BASE, Half::Higher34);
/// half16 `#highera34(S + A - P)` (R_PPC64_REL16_HIGHERA34).
pub const REL16_HIGHERA34: EdgeKind = half(REL_BASE, Half::Highera34);
/// half16 `#highest34(S + A - P)` (R_PPC64_REL16_HIGHEST34).
pub const REL16_HIGHEST34: EdgeKind = half(REL_BASE, Half::Highest34);
/// half16 `#highesta34(S + A - P)` (R_PPC64_REL16_HIGHESTA34).
pub const REL16_HIGHESTA34: EdgeKind = half(REL_BASE, Half::Highesta34);

/// half16 `S + A - .TOC.`, signed 16 (R_PPC64_TOC16; GOT16 lowered).
pub const TOC16: EdgeKind = half(TOC_BASE, Half::Signed16);
/// half16 `#lo(S + A - .TOC.)` (R_PPC64_TOC16_LO; GOT16_LO, PLT16_LO lowered).
pub const TOC16_LO: EdgeKind = half(TOC_BASE, Half::Lo);
/// half16 `#hi(S + A - .TOC.)`, checked (R_PPC64_TOC16_HI; GOT16_HI lowered).
pub const TOC16_HI: EdgeKind = half(TOC_BASE, Half::Hi);
/// half16 `#ha(S + A - .TOC.)`, checked (R_PPC64_TOC16_HA; GOT16_HA,
/// PLT16_HA lowered).
pub const TOC16_HA: EdgeKind = half(TOC_BASE, Half::Ha);
/// half16ds `S + A - .TOC.`, signed, multiple of 4 (R_PPC64_TOC16_DS).
pub const TOC16_DS: EdgeKind = half(TOC_BASE, Half::Ds);
/// half16ds `#lo(S + A - .TOC.)`, multiple of 4 (R_PPC64_TOC16_LO_DS;
/// GOT16_LO_DS, PLT16_LO_DS lowered).
pub const TOC16_LO_DS: EdgeKind = half(TOC_BASE, Half::LoDs);

/// Request: R_PPC64_REL24 (`b`/`bl` from TOC-using code).
pub const REQ_BRANCH24: EdgeKind = EdgeKind(128);
/// Request: R_PPC64_REL24_NOTOC / REL24_P9NOTOC (`b`/`bl` from code where
/// r2 is not a TOC pointer).
pub const REQ_BRANCH24_NOTOC: EdgeKind = EdgeKind(129);
/// Request: R_PPC64_ADDR64_LOCAL (`S + A` + the target's local entry offset).
pub const REQ_POINTER64_LOCAL: EdgeKind = EdgeKind(130);
/// Request: R_PPC64_REL14, lowered to [`BRANCH14`] + local entry offset.
pub const REQ_BRANCH14: EdgeKind = EdgeKind(132);
/// Request: R_PPC64_REL14_BRTAKEN.
pub const REQ_BRANCH14_BRTAKEN: EdgeKind = EdgeKind(133);
/// Request: R_PPC64_REL14_BRNTAKEN.
pub const REQ_BRANCH14_BRNTAKEN: EdgeKind = EdgeKind(134);
/// Request: R_PPC64_ADDR24.
pub const REQ_ABS_BRANCH24: EdgeKind = EdgeKind(135);
/// Request: R_PPC64_ADDR14.
pub const REQ_ABS_BRANCH14: EdgeKind = EdgeKind(136);
/// Request: R_PPC64_ADDR14_BRTAKEN.
pub const REQ_ABS_BRANCH14_BRTAKEN: EdgeKind = EdgeKind(137);
/// Request: R_PPC64_ADDR14_BRNTAKEN.
pub const REQ_ABS_BRANCH14_BRNTAKEN: EdgeKind = EdgeKind(138);

/// For requests that only add the target's local entry offset to the
/// addend when the target is defined in the link (a direct branch from
/// the link's TOC enters there, ELFv2 ABI §3.4.1; R_PPC64_ADDR64_LOCAL asks
/// for it explicitly): the kind they become.
pub fn local_entry_request(k: EdgeKind) -> Option<EdgeKind> {
    Some(match k {
        REQ_POINTER64_LOCAL => POINTER64,
        REQ_BRANCH14 => BRANCH14,
        REQ_BRANCH14_BRTAKEN => BRANCH14_BRTAKEN,
        REQ_BRANCH14_BRNTAKEN => BRANCH14_BRNTAKEN,
        REQ_ABS_BRANCH24 => ABS_BRANCH24,
        REQ_ABS_BRANCH14 => ABS_BRANCH14,
        REQ_ABS_BRANCH14_BRTAKEN => ABS_BRANCH14_BRTAKEN,
        REQ_ABS_BRANCH14_BRNTAKEN => ABS_BRANCH14_BRNTAKEN,
        _ => return None,
    })
}
/// Request: R_PPC64_GOT_PCREL34, PLT_PCREL34(_NOTOC): `G - P` where G is a
/// GOT entry holding `S + A`.
pub const REQ_GOT_PCREL34: EdgeKind = EdgeKind(131);
/// Request: R_PPC64_GOT16 (`G - .TOC.`, signed 16).
pub const REQ_GOT16: EdgeKind = half(REQ_GOT16_BASE, Half::Signed16);
/// Request: R_PPC64_GOT16_LO, PLT16_LO.
pub const REQ_GOT16_LO: EdgeKind = half(REQ_GOT16_BASE, Half::Lo);
/// Request: R_PPC64_GOT16_HI, PLT16_HI.
pub const REQ_GOT16_HI: EdgeKind = half(REQ_GOT16_BASE, Half::Hi);
/// Request: R_PPC64_GOT16_HA, PLT16_HA.
pub const REQ_GOT16_HA: EdgeKind = half(REQ_GOT16_BASE, Half::Ha);
/// Request: R_PPC64_GOT16_DS.
pub const REQ_GOT16_DS: EdgeKind = half(REQ_GOT16_BASE, Half::Ds);
/// Request: R_PPC64_GOT16_LO_DS, PLT16_LO_DS.
pub const REQ_GOT16_LO_DS: EdgeKind = half(REQ_GOT16_BASE, Half::LoDs);

// --- Thread-local storage (`crate::arch::tls`; ELFv2 ABI §3.7) ---
//
// `GOT_TLSGD16*` address the variable's `{module, offset}` pair (the ABI's
// `tls_index` in the GOT) TOC-relatively, `GOT_TLSLD16*` the file's
// `{module, 0}` pair, `GOT_DTPREL16*` a GOT entry holding the variable's
// offset in the block; the post-prune pass lowers them to TOC16 half16
// kinds (or [`PCREL34`] for the Power10 forms) against that entry, addend
// 0. `DTPREL*` are offsets of `S + A` from the start of the link's TLS
// template, unbiased (no TLS_DTV_OFFSET of 0x8000): the pre-fixup pass
// lowers them to the ADDR kind of the same field ([`dtprel_request`]) with
// the template's start subtracted from the addend.

const REQ_TLSGD16_BASE: u8 = 180;
const REQ_TLSLD16_BASE: u8 = 185;
const REQ_GOT_DTPREL16_BASE: u8 = 190;
const REQ_DTPREL16_BASE: u8 = 203;

/// Request: R_PPC64_GOT_TLSGD16 (`G(tls_index of S + A) - .TOC.`, signed 16).
pub const REQ_GOT_TLSGD16: EdgeKind = half(REQ_TLSGD16_BASE, Half::Signed16);
/// Request: R_PPC64_GOT_TLSGD16_LO (`#lo`).
pub const REQ_GOT_TLSGD16_LO: EdgeKind = half(REQ_TLSGD16_BASE, Half::Lo);
/// Request: R_PPC64_GOT_TLSGD16_HI (`#hi`, checked).
pub const REQ_GOT_TLSGD16_HI: EdgeKind = half(REQ_TLSGD16_BASE, Half::Hi);
/// Request: R_PPC64_GOT_TLSGD16_HA (`#ha`, checked).
pub const REQ_GOT_TLSGD16_HA: EdgeKind = half(REQ_TLSGD16_BASE, Half::Ha);
/// Request: R_PPC64_GOT_TLSLD16 (`G(tls_index of the module, offset 0) -
/// .TOC.`, signed 16).
pub const REQ_GOT_TLSLD16: EdgeKind = half(REQ_TLSLD16_BASE, Half::Signed16);
/// Request: R_PPC64_GOT_TLSLD16_LO.
pub const REQ_GOT_TLSLD16_LO: EdgeKind = half(REQ_TLSLD16_BASE, Half::Lo);
/// Request: R_PPC64_GOT_TLSLD16_HI.
pub const REQ_GOT_TLSLD16_HI: EdgeKind = half(REQ_TLSLD16_BASE, Half::Hi);
/// Request: R_PPC64_GOT_TLSLD16_HA.
pub const REQ_GOT_TLSLD16_HA: EdgeKind = half(REQ_TLSLD16_BASE, Half::Ha);
/// Request: R_PPC64_GOT_DTPREL16_DS (`G(DTPREL(S + A)) - .TOC.`, DS).
pub const REQ_GOT_DTPREL16_DS: EdgeKind = half(REQ_GOT_DTPREL16_BASE, Half::Ds);
/// Request: R_PPC64_GOT_DTPREL16_LO_DS.
pub const REQ_GOT_DTPREL16_LO_DS: EdgeKind = half(REQ_GOT_DTPREL16_BASE, Half::LoDs);
/// Request: R_PPC64_GOT_DTPREL16_HI.
pub const REQ_GOT_DTPREL16_HI: EdgeKind = half(REQ_GOT_DTPREL16_BASE, Half::Hi);
/// Request: R_PPC64_GOT_DTPREL16_HA.
pub const REQ_GOT_DTPREL16_HA: EdgeKind = half(REQ_GOT_DTPREL16_BASE, Half::Ha);
/// Request: R_PPC64_DTPREL16 (`DTPREL(S + A)`, signed 16; [`Base::Abs`]
/// `Signed16` at pre-fixup).
pub const REQ_DTPREL16: EdgeKind = half(REQ_DTPREL16_BASE, Half::Signed16);
/// Request: R_PPC64_DTPREL16_LO (`#lo`).
pub const REQ_DTPREL16_LO: EdgeKind = half(REQ_DTPREL16_BASE, Half::Lo);
/// Request: R_PPC64_DTPREL16_HI (`#hi`, checked).
pub const REQ_DTPREL16_HI: EdgeKind = half(REQ_DTPREL16_BASE, Half::Hi);
/// Request: R_PPC64_DTPREL16_HA (`#ha`, checked).
pub const REQ_DTPREL16_HA: EdgeKind = half(REQ_DTPREL16_BASE, Half::Ha);
/// Request: R_PPC64_DTPREL16_HIGH (`#high`).
pub const REQ_DTPREL16_HIGH: EdgeKind = half(REQ_DTPREL16_BASE, Half::High);
/// Request: R_PPC64_DTPREL16_HIGHA (`#higha`).
pub const REQ_DTPREL16_HIGHA: EdgeKind = half(REQ_DTPREL16_BASE, Half::Higha);
/// Request: R_PPC64_DTPREL16_HIGHER (`#higher`).
pub const REQ_DTPREL16_HIGHER: EdgeKind = half(REQ_DTPREL16_BASE, Half::Higher);
/// Request: R_PPC64_DTPREL16_HIGHERA (`#highera`).
pub const REQ_DTPREL16_HIGHERA: EdgeKind = half(REQ_DTPREL16_BASE, Half::Highera);
/// Request: R_PPC64_DTPREL16_HIGHEST (`#highest`).
pub const REQ_DTPREL16_HIGHEST: EdgeKind = half(REQ_DTPREL16_BASE, Half::Highest);
/// Request: R_PPC64_DTPREL16_HIGHESTA (`#highesta`).
pub const REQ_DTPREL16_HIGHESTA: EdgeKind = half(REQ_DTPREL16_BASE, Half::Highesta);
/// Request: R_PPC64_DTPREL16_DS (signed 16, multiple of 4).
pub const REQ_DTPREL16_DS: EdgeKind = half(REQ_DTPREL16_BASE, Half::Ds);
/// Request: R_PPC64_DTPREL16_LO_DS (`#lo`, multiple of 4).
pub const REQ_DTPREL16_LO_DS: EdgeKind = half(REQ_DTPREL16_BASE, Half::LoDs);
/// Request: R_PPC64_DTPMOD64 (doubleword64, the module: lowered to
/// [`POINTER64`] to the link's module descriptor).
pub const REQ_TLS_DTPMOD64: EdgeKind = EdgeKind(216);
/// Request: R_PPC64_DTPREL64 (doubleword64 `DTPREL(S + A)`; also a pair's
/// offset word): [`POINTER64`] at pre-fixup.
pub const REQ_DTPREL64: EdgeKind = EdgeKind(217);
/// Request: R_PPC64_DTPREL34 (prefix34 `DTPREL(S + A)`, signed 34 bits):
/// [`D34`] at pre-fixup.
pub const REQ_DTPREL34: EdgeKind = EdgeKind(218);
/// Request: R_PPC64_GOT_TLSGD_PCREL34 (prefix34 `G(tls_index of S + A) -
/// P`): [`PCREL34`] to the pair.
pub const REQ_GOT_TLSGD_PCREL34: EdgeKind = EdgeKind(219);
/// Request: R_PPC64_GOT_TLSLD_PCREL34 (prefix34 `G(tls_index of the
/// module) - P`): [`PCREL34`] to the module's pair.
pub const REQ_GOT_TLSLD_PCREL34: EdgeKind = EdgeKind(220);
/// Request: R_PPC64_GOT_DTPREL_PCREL34 (prefix34 `G(DTPREL(S + A)) - P`):
/// [`PCREL34`] to the DTPREL GOT entry.
pub const REQ_GOT_DTPREL_PCREL34: EdgeKind = EdgeKind(221);

/// What a TLS GOT request addresses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TlsGot {
    /// The variable's `{module, offset}` pair.
    Pair,
    /// The file's `{module, 0}` pair.
    ModulePair,
    /// A GOT entry holding the variable's offset in the block.
    DtprelEntry,
}

/// For a TLS GOT request: what it addresses and the kind it becomes
/// (against that entry, addend 0).
pub fn tls_got_request(k: EdgeKind) -> Option<(TlsGot, EdgeKind)> {
    let family =
        |base: u8, halves: &[Half]| halves.iter().find(|&&h| k == half(base, h)).map(|&h| half16_kind(Base::Toc, h));
    let gd16 = family(REQ_TLSGD16_BASE, &[Half::Signed16, Half::Lo, Half::Hi, Half::Ha]);
    let ld16 = family(REQ_TLSLD16_BASE, &[Half::Signed16, Half::Lo, Half::Hi, Half::Ha]);
    let dtp16 = family(REQ_GOT_DTPREL16_BASE, &[Half::Ds, Half::LoDs, Half::Hi, Half::Ha]);
    Some(match (gd16, ld16, dtp16) {
        (Some(l), _, _) => (TlsGot::Pair, l),
        (_, Some(l), _) => (TlsGot::ModulePair, l),
        (_, _, Some(l)) => (TlsGot::DtprelEntry, l),
        _ => match k {
            REQ_GOT_TLSGD_PCREL34 => (TlsGot::Pair, PCREL34),
            REQ_GOT_TLSLD_PCREL34 => (TlsGot::ModulePair, PCREL34),
            REQ_GOT_DTPREL_PCREL34 => (TlsGot::DtprelEntry, PCREL34),
            _ => return None,
        },
    })
}

/// The half16 transforms of the DTPREL16 relocations.
const DTPREL16_HALVES: [Half; 12] = [
    Half::Signed16,
    Half::Lo,
    Half::Hi,
    Half::Ha,
    Half::High,
    Half::Higha,
    Half::Higher,
    Half::Highera,
    Half::Highest,
    Half::Highesta,
    Half::Ds,
    Half::LoDs,
];

/// For a DTPREL request (lowered at pre-fixup): the kind it becomes.
pub fn dtprel_request(k: EdgeKind) -> Option<EdgeKind> {
    match k {
        REQ_DTPREL64 => Some(POINTER64),
        REQ_DTPREL34 => Some(D34),
        _ => DTPREL16_HALVES.iter().find(|&&h| k == half(REQ_DTPREL16_BASE, h)).map(|&h| half16_kind(Base::Abs, h)),
    }
}

/// The transform of a `REQ_GOT16*` request, `None` for other kinds.
pub fn got16_request(k: EdgeKind) -> Option<Half> {
    if (REQ_GOT16_BASE..REQ_GOT16_BASE + STRIDE).contains(&k.0) {
        HALVES.get((k.0 - REQ_GOT16_BASE) as usize).copied()
    } else {
        None
    }
}

/// True for request kinds (the GOT pass must lower them).
pub fn is_request(k: EdgeKind) -> bool {
    k.0 >= REQ_BRANCH24.0
}

/// Name of a PPC64 edge kind, for `--show-graph` and messages.
pub fn kind_name(k: EdgeKind) -> &'static str {
    match k {
        KEEP_ALIVE => "KeepAlive",
        POINTER64 => "Pointer64",
        POINTER32 => "Pointer32",
        DELTA64 => "Delta64",
        DELTA32 => "Delta32",
        DELTA30 => "Delta30",
        BRANCH24 => "Branch24",
        BRANCH24_TO_VENEER_BYPASSABLE => "Branch24ToVeneerBypassable",
        BRANCH24_TO_TOC_STUB => "Branch24ToTOCStub",
        ABS_BRANCH24 => "AbsBranch24",
        BRANCH14 => "Branch14",
        BRANCH14_BRTAKEN => "Branch14Taken",
        BRANCH14_BRNTAKEN => "Branch14NotTaken",
        ABS_BRANCH14 => "AbsBranch14",
        ABS_BRANCH14_BRTAKEN => "AbsBranch14Taken",
        ABS_BRANCH14_BRNTAKEN => "AbsBranch14NotTaken",
        D34 => "D34",
        D34_LO => "D34Lo",
        D34_HI30 => "D34Hi30",
        D34_HA30 => "D34Ha30",
        PCREL34 => "PCRel34",
        D28 => "D28",
        PCREL28 => "PCRel28",
        REL16DX_HA => "Rel16DXHa",
        REQ_BRANCH24 => "RequestBranch24",
        REQ_BRANCH24_NOTOC => "RequestBranch24NoTOC",
        REQ_POINTER64_LOCAL => "RequestPointer64Local",
        REQ_GOT_PCREL34 => "RequestGOTPCRel34",
        REQ_BRANCH14 => "RequestBranch14",
        REQ_BRANCH14_BRTAKEN => "RequestBranch14Taken",
        REQ_BRANCH14_BRNTAKEN => "RequestBranch14NotTaken",
        REQ_ABS_BRANCH24 => "RequestAbsBranch24",
        REQ_ABS_BRANCH14 => "RequestAbsBranch14",
        REQ_ABS_BRANCH14_BRTAKEN => "RequestAbsBranch14Taken",
        REQ_ABS_BRANCH14_BRNTAKEN => "RequestAbsBranch14NotTaken",
        REQ_GOT_TLSGD16 => "RequestGOTTLSGD16",
        REQ_GOT_TLSGD16_LO => "RequestGOTTLSGD16Lo",
        REQ_GOT_TLSGD16_HI => "RequestGOTTLSGD16Hi",
        REQ_GOT_TLSGD16_HA => "RequestGOTTLSGD16Ha",
        REQ_GOT_TLSLD16 => "RequestGOTTLSLD16",
        REQ_GOT_TLSLD16_LO => "RequestGOTTLSLD16Lo",
        REQ_GOT_TLSLD16_HI => "RequestGOTTLSLD16Hi",
        REQ_GOT_TLSLD16_HA => "RequestGOTTLSLD16Ha",
        REQ_GOT_DTPREL16_DS => "RequestGOTDTPRel16DS",
        REQ_GOT_DTPREL16_LO_DS => "RequestGOTDTPRel16LoDS",
        REQ_GOT_DTPREL16_HI => "RequestGOTDTPRel16Hi",
        REQ_GOT_DTPREL16_HA => "RequestGOTDTPRel16Ha",
        REQ_DTPREL16 => "RequestDTPRel16",
        REQ_DTPREL16_LO => "RequestDTPRel16Lo",
        REQ_DTPREL16_HI => "RequestDTPRel16Hi",
        REQ_DTPREL16_HA => "RequestDTPRel16Ha",
        REQ_DTPREL16_HIGH => "RequestDTPRel16High",
        REQ_DTPREL16_HIGHA => "RequestDTPRel16Higha",
        REQ_DTPREL16_HIGHER => "RequestDTPRel16Higher",
        REQ_DTPREL16_HIGHERA => "RequestDTPRel16Highera",
        REQ_DTPREL16_HIGHEST => "RequestDTPRel16Highest",
        REQ_DTPREL16_HIGHESTA => "RequestDTPRel16Highesta",
        REQ_DTPREL16_DS => "RequestDTPRel16DS",
        REQ_DTPREL16_LO_DS => "RequestDTPRel16LoDS",
        REQ_TLS_DTPMOD64 => "RequestTLSDTPMod64",
        REQ_DTPREL64 => "RequestDTPRel64",
        REQ_DTPREL34 => "RequestDTPRel34",
        REQ_GOT_TLSGD_PCREL34 => "RequestGOTTLSGDPCRel34",
        REQ_GOT_TLSLD_PCREL34 => "RequestGOTTLSLDPCRel34",
        REQ_GOT_DTPREL_PCREL34 => "RequestGOTDTPRelPCRel34",
        _ => {
            if let Some(h) = got16_request(k) {
                return match h {
                    Half::Signed16 => "RequestGOT16",
                    Half::Lo => "RequestGOT16Lo",
                    Half::Hi => "RequestGOT16Hi",
                    Half::Ha => "RequestGOT16Ha",
                    Half::Ds => "RequestGOT16DS",
                    Half::LoDs => "RequestGOT16LoDS",
                    _ => "Unknown",
                };
            }
            let Some((base, h)) = half16_form(k) else {
                return "Unknown";
            };
            let names: [&'static str; 17] = match base {
                Base::Abs => [
                    "Addr16Signed",
                    "Addr16",
                    "Addr16Lo",
                    "Addr16Hi",
                    "Addr16Ha",
                    "Addr16High",
                    "Addr16Higha",
                    "Addr16Higher",
                    "Addr16Highera",
                    "Addr16Highest",
                    "Addr16Highesta",
                    "Addr16DS",
                    "Addr16LoDS",
                    "Addr16Higher34",
                    "Addr16Highera34",
                    "Addr16Highest34",
                    "Addr16Highesta34",
                ],
                Base::Rel => [
                    "Rel16",
                    "Rel16Bitfield",
                    "Rel16Lo",
                    "Rel16Hi",
                    "Rel16Ha",
                    "Rel16High",
                    "Rel16Higha",
                    "Rel16Higher",
                    "Rel16Highera",
                    "Rel16Highest",
                    "Rel16Highesta",
                    "Rel16DS",
                    "Rel16LoDS",
                    "Rel16Higher34",
                    "Rel16Highera34",
                    "Rel16Highest34",
                    "Rel16Highesta34",
                ],
                Base::Toc => [
                    "TOC16",
                    "TOC16Bitfield",
                    "TOC16Lo",
                    "TOC16Hi",
                    "TOC16Ha",
                    "TOC16High",
                    "TOC16Higha",
                    "TOC16Higher",
                    "TOC16Highera",
                    "TOC16Highest",
                    "TOC16Highesta",
                    "TOC16DS",
                    "TOC16LoDS",
                    "TOC16Higher34",
                    "TOC16Highera34",
                    "TOC16Highest34",
                    "TOC16Highesta34",
                ],
            };
            names[h as usize]
        }
    }
}

/// True for direct `b`/`bl` edges (recorded as call sites).
pub fn is_branch(k: EdgeKind) -> bool {
    matches!(k, BRANCH24 | BRANCH24_TO_VENEER_BYPASSABLE | BRANCH24_TO_TOC_STUB)
}

/// True for edges to a stub that the fixup may bypass: only branches to
/// veneers. A TOC-saving call stub is never bypassed: its target may use
/// another TOC and expects `r12` = its global entry (ELFv2 ABI §2.3.2.1).
pub fn has_bypass(k: EdgeKind) -> bool {
    k == BRANCH24_TO_VENEER_BYPASSABLE
}

/// True for kinds that store an absolute address in a checked field of 32
/// bits or less (ADDR32, ADDR16 and its checked #hi/#ha/DS forms, ADDR24,
/// ADDR14*, and the signed 34/28-bit D34/D28), so a link using them on its
/// own symbols must live in low memory. Not yet wired into
/// `Arch::needs_low_address` (a shared file); only matters in-process on a
/// PPC64 host.
pub fn needs_low_address(k: EdgeKind) -> bool {
    matches!(
        k,
        POINTER32
            | ADDR16
            | ADDR16_HI
            | ADDR16_HA
            | ADDR16_DS
            | ABS_BRANCH24
            | ABS_BRANCH14
            | ABS_BRANCH14_BRTAKEN
            | ABS_BRANCH14_BRNTAKEN
            | REQ_ABS_BRANCH24
            | REQ_ABS_BRANCH14
            | REQ_ABS_BRANCH14_BRTAKEN
            | REQ_ABS_BRANCH14_BRNTAKEN
            | D34
            | D28
    )
}

/// The ELFv2 local entry point offset in bytes encoded in a symbol's
/// `st_other` bits 5–7 (ELFv2 ABI §3.4.1 "Symbol Values"): 0 and 1 mean
/// the local and global entry points coincide (1: the function does not
/// preserve r2), 2–6 give `1 << v` bytes (4 to 64), 7 is reserved (`None`).
pub fn local_entry_offset(st_other: u8) -> Option<u64> {
    match st_other >> 5 {
        0 | 1 => Some(0),
        v @ 2..=6 => Some(1 << v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_distinct_and_named() {
        let mut seen = std::collections::HashSet::new();
        for k in 0..=255u8 {
            let k = EdgeKind(k);
            let n = kind_name(k);
            if n != "Unknown" {
                assert!(seen.insert(n), "duplicate name {n}");
            }
        }
        assert_eq!(half16_form(TOC16_LO_DS), Some((Base::Toc, Half::LoDs)));
        assert_eq!(half16_form(REL16_HA), Some((Base::Rel, Half::Ha)));
        assert_eq!(half16_form(ADDR16), Some((Base::Abs, Half::Bitfield16)));
        assert_eq!(half16_form(BRANCH24), None);
        assert_eq!(half16_form(REQ_GOT16_HA), None);
        assert_eq!(got16_request(REQ_GOT16_LO_DS), Some(Half::LoDs));
        assert_eq!(half16_kind(Base::Toc, Half::Ha), TOC16_HA);
        assert!(is_request(REQ_GOT16) && is_request(REQ_BRANCH24) && !is_request(TOC16_LO_DS));
        assert_eq!(kind_name(TOC16_HA), "TOC16Ha");
        assert_eq!(kind_name(REQ_GOT16_DS), "RequestGOT16DS");
    }

    #[test]
    fn tls_requests_lower_to_toc_abs_and_pcrel_kinds() {
        let gd = [REQ_GOT_TLSGD16, REQ_GOT_TLSGD16_LO, REQ_GOT_TLSGD16_HI, REQ_GOT_TLSGD16_HA];
        let ld = [REQ_GOT_TLSLD16, REQ_GOT_TLSLD16_LO, REQ_GOT_TLSLD16_HI, REQ_GOT_TLSLD16_HA];
        let toc = [TOC16, TOC16_LO, TOC16_HI, TOC16_HA];
        for i in 0..4 {
            assert_eq!(tls_got_request(gd[i]), Some((TlsGot::Pair, toc[i])));
            assert_eq!(tls_got_request(ld[i]), Some((TlsGot::ModulePair, toc[i])));
        }
        let dtp = [REQ_GOT_DTPREL16_DS, REQ_GOT_DTPREL16_LO_DS, REQ_GOT_DTPREL16_HI, REQ_GOT_DTPREL16_HA];
        for (k, l) in dtp.into_iter().zip([TOC16_DS, TOC16_LO_DS, TOC16_HI, TOC16_HA]) {
            assert_eq!(tls_got_request(k), Some((TlsGot::DtprelEntry, l)));
        }
        assert_eq!(tls_got_request(REQ_GOT_TLSGD_PCREL34), Some((TlsGot::Pair, PCREL34)));
        assert_eq!(tls_got_request(REQ_GOT_DTPREL_PCREL34), Some((TlsGot::DtprelEntry, PCREL34)));
        assert_eq!(tls_got_request(REQ_GOT16_HA), None);
        assert_eq!(dtprel_request(REQ_DTPREL16_HA), Some(ADDR16_HA));
        assert_eq!(dtprel_request(REQ_DTPREL16_LO_DS), Some(ADDR16_LO_DS));
        assert_eq!(dtprel_request(REQ_DTPREL16_HIGHESTA), Some(ADDR16_HIGHESTA));
        assert_eq!(dtprel_request(REQ_DTPREL16), Some(half16_kind(Base::Abs, Half::Signed16)));
        assert_eq!(dtprel_request(REQ_DTPREL64), Some(POINTER64));
        assert_eq!(dtprel_request(REQ_DTPREL34), Some(D34));
        assert_eq!(dtprel_request(REQ_GOT_TLSGD16), None);
        // Every TLS kind is a request, named, and none is a GOT16 request.
        for k in REQ_TLSGD16_BASE..=REQ_GOT_DTPREL_PCREL34.0 {
            let k = EdgeKind(k);
            let tls = tls_got_request(k).is_some() || dtprel_request(k).is_some() || k == REQ_TLS_DTPMOD64;
            assert_eq!(kind_name(k) != "Unknown", tls, "kind {}", k.0);
            assert!(!tls || (is_request(k) && got16_request(k).is_none()), "kind {}", k.0);
        }
    }

    #[test]
    fn local_entry_offsets() {
        assert_eq!(local_entry_offset(0), Some(0));
        assert_eq!(local_entry_offset(1 << 5), Some(0));
        assert_eq!(local_entry_offset(2 << 5), Some(4));
        assert_eq!(local_entry_offset(3 << 5 | 3), Some(8));
        assert_eq!(local_entry_offset(6 << 5), Some(64));
        assert_eq!(local_entry_offset(7 << 5), None);
    }
}
