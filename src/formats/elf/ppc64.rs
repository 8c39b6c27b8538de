//! ELF PPC64 relocation types and their mapping to PPC64 edge kinds
//! (64-bit ELF V2 ABI Specification, Power Architecture, §3.5 "Relocation
//! Types", Table 3.2; numbering as in glibc's and binutils' `elf/ppc64.h`,
//! which add the Power10 prefixed-instruction types 128–151 of ABI v1.5).
//!
//! The same table serves little- and big-endian objects: byte order only
//! matters to the fixups ([`crate::arch::ppc64::fixup`]).

use crate::arch::ppc64::edges::*;
use crate::graph::EdgeKind;
use std::borrow::Cow;

pub use super::{Mapping, Target};

/// `R_PPC64_NONE`.
pub const R_PPC64_NONE: u32 = 0;
/// `R_PPC64_ADDR32`: word32, `S + A`.
pub const R_PPC64_ADDR32: u32 = 1;
/// `R_PPC64_ADDR24`: low24, `(S + A) >> 2` (absolute `ba`/`bla`).
pub const R_PPC64_ADDR24: u32 = 2;
/// `R_PPC64_ADDR16`: half16, `S + A`.
pub const R_PPC64_ADDR16: u32 = 3;
/// `R_PPC64_ADDR16_LO`: half16, `#lo(S + A)`.
pub const R_PPC64_ADDR16_LO: u32 = 4;
/// `R_PPC64_ADDR16_HI`: half16, `#hi(S + A)`.
pub const R_PPC64_ADDR16_HI: u32 = 5;
/// `R_PPC64_ADDR16_HA`: half16, `#ha(S + A)`.
pub const R_PPC64_ADDR16_HA: u32 = 6;
/// `R_PPC64_ADDR14`: low14, `(S + A) >> 2`.
pub const R_PPC64_ADDR14: u32 = 7;
/// `R_PPC64_ADDR14_BRTAKEN`.
pub const R_PPC64_ADDR14_BRTAKEN: u32 = 8;
/// `R_PPC64_ADDR14_BRNTAKEN`.
pub const R_PPC64_ADDR14_BRNTAKEN: u32 = 9;
/// `R_PPC64_REL24`: low24, `(S + A - P) >> 2` (`b`/`bl`).
pub const R_PPC64_REL24: u32 = 10;
/// `R_PPC64_REL14`: low14, `(S + A - P) >> 2` (`bc`).
pub const R_PPC64_REL14: u32 = 11;
/// `R_PPC64_REL14_BRTAKEN`.
pub const R_PPC64_REL14_BRTAKEN: u32 = 12;
/// `R_PPC64_REL14_BRNTAKEN`.
pub const R_PPC64_REL14_BRNTAKEN: u32 = 13;
/// `R_PPC64_GOT16`: half16, `G`.
pub const R_PPC64_GOT16: u32 = 14;
/// `R_PPC64_GOT16_LO`.
pub const R_PPC64_GOT16_LO: u32 = 15;
/// `R_PPC64_GOT16_HI`.
pub const R_PPC64_GOT16_HI: u32 = 16;
/// `R_PPC64_GOT16_HA`.
pub const R_PPC64_GOT16_HA: u32 = 17;
/// `R_PPC64_COPY` (dynamic).
pub const R_PPC64_COPY: u32 = 19;
/// `R_PPC64_GLOB_DAT` (dynamic).
pub const R_PPC64_GLOB_DAT: u32 = 20;
/// `R_PPC64_JMP_SLOT` (dynamic).
pub const R_PPC64_JMP_SLOT: u32 = 21;
/// `R_PPC64_RELATIVE` (dynamic).
pub const R_PPC64_RELATIVE: u32 = 22;
/// `R_PPC64_UADDR32`: unaligned word32, `S + A`.
pub const R_PPC64_UADDR32: u32 = 24;
/// `R_PPC64_UADDR16`: unaligned half16, `S + A`.
pub const R_PPC64_UADDR16: u32 = 25;
/// `R_PPC64_REL32`: word32, `S + A - P`.
pub const R_PPC64_REL32: u32 = 26;
/// `R_PPC64_PLT32`.
pub const R_PPC64_PLT32: u32 = 27;
/// `R_PPC64_PLTREL32`.
pub const R_PPC64_PLTREL32: u32 = 28;
/// `R_PPC64_PLT16_LO`: half16, `#lo(M)` (inline PLT sequences).
pub const R_PPC64_PLT16_LO: u32 = 29;
/// `R_PPC64_PLT16_HI`.
pub const R_PPC64_PLT16_HI: u32 = 30;
/// `R_PPC64_PLT16_HA`.
pub const R_PPC64_PLT16_HA: u32 = 31;
/// `R_PPC64_SECTOFF`.
pub const R_PPC64_SECTOFF: u32 = 33;
/// `R_PPC64_SECTOFF_LO`.
pub const R_PPC64_SECTOFF_LO: u32 = 34;
/// `R_PPC64_SECTOFF_HI`.
pub const R_PPC64_SECTOFF_HI: u32 = 35;
/// `R_PPC64_SECTOFF_HA`.
pub const R_PPC64_SECTOFF_HA: u32 = 36;
/// `R_PPC64_ADDR30`: word30, `(S + A - P) >> 2` (binutils: `R_PPC64_REL30`).
pub const R_PPC64_ADDR30: u32 = 37;
/// `R_PPC64_ADDR64`: doubleword64, `S + A`.
pub const R_PPC64_ADDR64: u32 = 38;
/// `R_PPC64_ADDR16_HIGHER`: half16, `#higher(S + A)`.
pub const R_PPC64_ADDR16_HIGHER: u32 = 39;
/// `R_PPC64_ADDR16_HIGHERA`: half16, `#highera(S + A)`.
pub const R_PPC64_ADDR16_HIGHERA: u32 = 40;
/// `R_PPC64_ADDR16_HIGHEST`: half16, `#highest(S + A)`.
pub const R_PPC64_ADDR16_HIGHEST: u32 = 41;
/// `R_PPC64_ADDR16_HIGHESTA`: half16, `#highesta(S + A)`.
pub const R_PPC64_ADDR16_HIGHESTA: u32 = 42;
/// `R_PPC64_UADDR64`: unaligned doubleword64, `S + A`.
pub const R_PPC64_UADDR64: u32 = 43;
/// `R_PPC64_REL64`: doubleword64, `S + A - P`.
pub const R_PPC64_REL64: u32 = 44;
/// `R_PPC64_PLT64`.
pub const R_PPC64_PLT64: u32 = 45;
/// `R_PPC64_PLTREL64`.
pub const R_PPC64_PLTREL64: u32 = 46;
/// `R_PPC64_TOC16`: half16, `S + A - .TOC.`.
pub const R_PPC64_TOC16: u32 = 47;
/// `R_PPC64_TOC16_LO`.
pub const R_PPC64_TOC16_LO: u32 = 48;
/// `R_PPC64_TOC16_HI`.
pub const R_PPC64_TOC16_HI: u32 = 49;
/// `R_PPC64_TOC16_HA`.
pub const R_PPC64_TOC16_HA: u32 = 50;
/// `R_PPC64_TOC`: doubleword64, `.TOC.`.
pub const R_PPC64_TOC: u32 = 51;
/// `R_PPC64_PLTGOT16`.
pub const R_PPC64_PLTGOT16: u32 = 52;
/// `R_PPC64_PLTGOT16_LO`.
pub const R_PPC64_PLTGOT16_LO: u32 = 53;
/// `R_PPC64_PLTGOT16_HI`.
pub const R_PPC64_PLTGOT16_HI: u32 = 54;
/// `R_PPC64_PLTGOT16_HA`.
pub const R_PPC64_PLTGOT16_HA: u32 = 55;
/// `R_PPC64_ADDR16_DS`: half16ds, `S + A`.
pub const R_PPC64_ADDR16_DS: u32 = 56;
/// `R_PPC64_ADDR16_LO_DS`: half16ds, `#lo(S + A)`.
pub const R_PPC64_ADDR16_LO_DS: u32 = 57;
/// `R_PPC64_GOT16_DS`.
pub const R_PPC64_GOT16_DS: u32 = 58;
/// `R_PPC64_GOT16_LO_DS`.
pub const R_PPC64_GOT16_LO_DS: u32 = 59;
/// `R_PPC64_PLT16_LO_DS`.
pub const R_PPC64_PLT16_LO_DS: u32 = 60;
/// `R_PPC64_SECTOFF_DS`.
pub const R_PPC64_SECTOFF_DS: u32 = 61;
/// `R_PPC64_SECTOFF_LO_DS`.
pub const R_PPC64_SECTOFF_LO_DS: u32 = 62;
/// `R_PPC64_TOC16_DS`.
pub const R_PPC64_TOC16_DS: u32 = 63;
/// `R_PPC64_TOC16_LO_DS`.
pub const R_PPC64_TOC16_LO_DS: u32 = 64;
/// `R_PPC64_PLTGOT16_DS`.
pub const R_PPC64_PLTGOT16_DS: u32 = 65;
/// `R_PPC64_PLTGOT16_LO_DS`.
pub const R_PPC64_PLTGOT16_LO_DS: u32 = 66;
/// `R_PPC64_TLS`: marker on an initial-exec access (`add r9,r9,x@tls`).
pub const R_PPC64_TLS: u32 = 67;
/// `R_PPC64_DTPMOD64`: doubleword64, the module of `S`.
pub const R_PPC64_DTPMOD64: u32 = 68;
/// `R_PPC64_TPREL16`: half16, `S + A - tp` (local exec; 69–72 its #lo, #hi, #ha).
pub const R_PPC64_TPREL16: u32 = 69;
/// `R_PPC64_TPREL16_HA`.
pub const R_PPC64_TPREL16_HA: u32 = 72;
/// `R_PPC64_TPREL64`: doubleword64, `S + A - tp` (a TOC entry of initial exec).
pub const R_PPC64_TPREL64: u32 = 73;
/// `R_PPC64_DTPREL16`: half16, `DTPREL(S + A)`.
pub const R_PPC64_DTPREL16: u32 = 74;
/// `R_PPC64_DTPREL16_LO`.
pub const R_PPC64_DTPREL16_LO: u32 = 75;
/// `R_PPC64_DTPREL16_HI`.
pub const R_PPC64_DTPREL16_HI: u32 = 76;
/// `R_PPC64_DTPREL16_HA`.
pub const R_PPC64_DTPREL16_HA: u32 = 77;
/// `R_PPC64_DTPREL64`: doubleword64, `DTPREL(S + A)`.
pub const R_PPC64_DTPREL64: u32 = 78;
/// `R_PPC64_GOT_TLSGD16`: half16, the `tls_index` of `S + A` - `.TOC.`.
pub const R_PPC64_GOT_TLSGD16: u32 = 79;
/// `R_PPC64_GOT_TLSGD16_LO`.
pub const R_PPC64_GOT_TLSGD16_LO: u32 = 80;
/// `R_PPC64_GOT_TLSGD16_HI`.
pub const R_PPC64_GOT_TLSGD16_HI: u32 = 81;
/// `R_PPC64_GOT_TLSGD16_HA`.
pub const R_PPC64_GOT_TLSGD16_HA: u32 = 82;
/// `R_PPC64_GOT_TLSLD16`: half16, the module's `tls_index` - `.TOC.`.
pub const R_PPC64_GOT_TLSLD16: u32 = 83;
/// `R_PPC64_GOT_TLSLD16_LO`.
pub const R_PPC64_GOT_TLSLD16_LO: u32 = 84;
/// `R_PPC64_GOT_TLSLD16_HI`.
pub const R_PPC64_GOT_TLSLD16_HI: u32 = 85;
/// `R_PPC64_GOT_TLSLD16_HA`.
pub const R_PPC64_GOT_TLSLD16_HA: u32 = 86;
/// `R_PPC64_GOT_TPREL16_DS`: initial exec (87–90 its forms).
pub const R_PPC64_GOT_TPREL16_DS: u32 = 87;
/// `R_PPC64_GOT_TPREL16_HA`.
pub const R_PPC64_GOT_TPREL16_HA: u32 = 90;
/// `R_PPC64_GOT_DTPREL16_DS`: half16ds, a GOT entry holding `DTPREL(S + A)` - `.TOC.`.
pub const R_PPC64_GOT_DTPREL16_DS: u32 = 91;
/// `R_PPC64_GOT_DTPREL16_LO_DS`.
pub const R_PPC64_GOT_DTPREL16_LO_DS: u32 = 92;
/// `R_PPC64_GOT_DTPREL16_HI`.
pub const R_PPC64_GOT_DTPREL16_HI: u32 = 93;
/// `R_PPC64_GOT_DTPREL16_HA`.
pub const R_PPC64_GOT_DTPREL16_HA: u32 = 94;
/// `R_PPC64_TPREL16_DS`: local exec (95–100: DS, LO_DS, HIGHER, HIGHERA, HIGHEST, HIGHESTA).
pub const R_PPC64_TPREL16_DS: u32 = 95;
/// `R_PPC64_TPREL16_HIGHESTA`.
pub const R_PPC64_TPREL16_HIGHESTA: u32 = 100;
/// `R_PPC64_DTPREL16_DS`.
pub const R_PPC64_DTPREL16_DS: u32 = 101;
/// `R_PPC64_DTPREL16_LO_DS`.
pub const R_PPC64_DTPREL16_LO_DS: u32 = 102;
/// `R_PPC64_DTPREL16_HIGHER`.
pub const R_PPC64_DTPREL16_HIGHER: u32 = 103;
/// `R_PPC64_DTPREL16_HIGHERA`.
pub const R_PPC64_DTPREL16_HIGHERA: u32 = 104;
/// `R_PPC64_DTPREL16_HIGHEST`.
pub const R_PPC64_DTPREL16_HIGHEST: u32 = 105;
/// `R_PPC64_DTPREL16_HIGHESTA`.
pub const R_PPC64_DTPREL16_HIGHESTA: u32 = 106;
/// `R_PPC64_TLSGD`: marker on the `bl __tls_get_addr` of a general dynamic access.
pub const R_PPC64_TLSGD: u32 = 107;
/// `R_PPC64_TLSLD`: marker on the `bl __tls_get_addr` of a local dynamic access.
pub const R_PPC64_TLSLD: u32 = 108;
/// `R_PPC64_TOCSAVE`: marker on the prologue's `std r2,24(r1)`.
pub const R_PPC64_TOCSAVE: u32 = 109;
/// `R_PPC64_ADDR16_HIGH`: half16, `#high(S + A)` (unchecked `#hi`).
pub const R_PPC64_ADDR16_HIGH: u32 = 110;
/// `R_PPC64_ADDR16_HIGHA`: half16, `#higha(S + A)` (unchecked `#ha`).
pub const R_PPC64_ADDR16_HIGHA: u32 = 111;
/// `R_PPC64_TPREL16_HIGH` (local exec).
pub const R_PPC64_TPREL16_HIGH: u32 = 112;
/// `R_PPC64_TPREL16_HIGHA` (local exec).
pub const R_PPC64_TPREL16_HIGHA: u32 = 113;
/// `R_PPC64_DTPREL16_HIGH`: half16, `#high(DTPREL(S + A))`.
pub const R_PPC64_DTPREL16_HIGH: u32 = 114;
/// `R_PPC64_DTPREL16_HIGHA`: half16, `#higha(DTPREL(S + A))`.
pub const R_PPC64_DTPREL16_HIGHA: u32 = 115;
/// `R_PPC64_REL24_NOTOC`: like REL24 from code where r2 is not the TOC pointer.
pub const R_PPC64_REL24_NOTOC: u32 = 116;
/// `R_PPC64_ADDR64_LOCAL`: doubleword64, `S + A` at the local entry point.
pub const R_PPC64_ADDR64_LOCAL: u32 = 117;
/// `R_PPC64_ENTRY`: marker on a global entry point's TOC setup.
pub const R_PPC64_ENTRY: u32 = 118;
/// `R_PPC64_PLTSEQ`: marker on an inline PLT sequence.
pub const R_PPC64_PLTSEQ: u32 = 119;
/// `R_PPC64_PLTCALL`: marker on an inline PLT call.
pub const R_PPC64_PLTCALL: u32 = 120;
/// `R_PPC64_PLTSEQ_NOTOC`.
pub const R_PPC64_PLTSEQ_NOTOC: u32 = 121;
/// `R_PPC64_PLTCALL_NOTOC`.
pub const R_PPC64_PLTCALL_NOTOC: u32 = 122;
/// `R_PPC64_PCREL_OPT`: optimisation hint for a `pld` + access pair.
pub const R_PPC64_PCREL_OPT: u32 = 123;
/// `R_PPC64_REL24_P9NOTOC`: REL24_NOTOC whose stubs avoid Power10 insns.
pub const R_PPC64_REL24_P9NOTOC: u32 = 124;
/// `R_PPC64_D34`: prefix34, `S + A`.
pub const R_PPC64_D34: u32 = 128;
/// `R_PPC64_D34_LO`: prefix34, `#lo34(S + A)`.
pub const R_PPC64_D34_LO: u32 = 129;
/// `R_PPC64_D34_HI30`: prefix34, `#hi30(S + A)`.
pub const R_PPC64_D34_HI30: u32 = 130;
/// `R_PPC64_D34_HA30`: prefix34, `#ha30(S + A)`.
pub const R_PPC64_D34_HA30: u32 = 131;
/// `R_PPC64_PCREL34`: prefix34, `S + A - P`.
pub const R_PPC64_PCREL34: u32 = 132;
/// `R_PPC64_GOT_PCREL34`: prefix34, `G - P`.
pub const R_PPC64_GOT_PCREL34: u32 = 133;
/// `R_PPC64_PLT_PCREL34`: prefix34, `M - P`.
pub const R_PPC64_PLT_PCREL34: u32 = 134;
/// `R_PPC64_PLT_PCREL34_NOTOC`.
pub const R_PPC64_PLT_PCREL34_NOTOC: u32 = 135;
/// `R_PPC64_ADDR16_HIGHER34`: half16, `#higher34(S + A)`.
pub const R_PPC64_ADDR16_HIGHER34: u32 = 136;
/// `R_PPC64_ADDR16_HIGHERA34`.
pub const R_PPC64_ADDR16_HIGHERA34: u32 = 137;
/// `R_PPC64_ADDR16_HIGHEST34`.
pub const R_PPC64_ADDR16_HIGHEST34: u32 = 138;
/// `R_PPC64_ADDR16_HIGHESTA34`.
pub const R_PPC64_ADDR16_HIGHESTA34: u32 = 139;
/// `R_PPC64_REL16_HIGHER34`: half16, `#higher34(S + A - P)`.
pub const R_PPC64_REL16_HIGHER34: u32 = 140;
/// `R_PPC64_REL16_HIGHERA34`.
pub const R_PPC64_REL16_HIGHERA34: u32 = 141;
/// `R_PPC64_REL16_HIGHEST34`.
pub const R_PPC64_REL16_HIGHEST34: u32 = 142;
/// `R_PPC64_REL16_HIGHESTA34`.
pub const R_PPC64_REL16_HIGHESTA34: u32 = 143;
/// `R_PPC64_D28`: prefix28, `S + A`.
pub const R_PPC64_D28: u32 = 144;
/// `R_PPC64_PCREL28`: prefix28, `S + A - P`.
pub const R_PPC64_PCREL28: u32 = 145;
/// `R_PPC64_TPREL34`: prefix34, `S + A - tp` (local exec).
pub const R_PPC64_TPREL34: u32 = 146;
/// `R_PPC64_DTPREL34`: prefix34, `DTPREL(S + A)`.
pub const R_PPC64_DTPREL34: u32 = 147;
/// `R_PPC64_GOT_TLSGD_PCREL34`: prefix34, the `tls_index` of `S + A` - P.
pub const R_PPC64_GOT_TLSGD_PCREL34: u32 = 148;
/// `R_PPC64_GOT_TLSLD_PCREL34`: prefix34, the module's `tls_index` - P.
pub const R_PPC64_GOT_TLSLD_PCREL34: u32 = 149;
/// `R_PPC64_GOT_TPREL_PCREL34`: prefix34, initial exec.
pub const R_PPC64_GOT_TPREL_PCREL34: u32 = 150;
/// `R_PPC64_GOT_DTPREL_PCREL34`: prefix34, a GOT entry holding `DTPREL(S + A)` - P.
pub const R_PPC64_GOT_DTPREL_PCREL34: u32 = 151;
/// `R_PPC64_REL16_HIGH`: half16, `#high(S + A - P)`.
pub const R_PPC64_REL16_HIGH: u32 = 240;
/// `R_PPC64_REL16_HIGHA`.
pub const R_PPC64_REL16_HIGHA: u32 = 241;
/// `R_PPC64_REL16_HIGHER`.
pub const R_PPC64_REL16_HIGHER: u32 = 242;
/// `R_PPC64_REL16_HIGHERA`.
pub const R_PPC64_REL16_HIGHERA: u32 = 243;
/// `R_PPC64_REL16_HIGHEST`.
pub const R_PPC64_REL16_HIGHEST: u32 = 244;
/// `R_PPC64_REL16_HIGHESTA`.
pub const R_PPC64_REL16_HIGHESTA: u32 = 245;
/// `R_PPC64_REL16DX_HA`: the split 16-bit field of `addpcis`, `#ha(S + A - P)`.
pub const R_PPC64_REL16DX_HA: u32 = 246;
/// `R_PPC64_JMP_IREL` (dynamic).
pub const R_PPC64_JMP_IREL: u32 = 247;
/// `R_PPC64_IRELATIVE` (dynamic).
pub const R_PPC64_IRELATIVE: u32 = 248;
/// `R_PPC64_REL16`: half16, `S + A - P`.
pub const R_PPC64_REL16: u32 = 249;
/// `R_PPC64_REL16_LO`.
pub const R_PPC64_REL16_LO: u32 = 250;
/// `R_PPC64_REL16_HI`.
pub const R_PPC64_REL16_HI: u32 = 251;
/// `R_PPC64_REL16_HA`: half16, `#ha(S + A - P)` (`addis r2,r12,.TOC.-f@ha`).
pub const R_PPC64_REL16_HA: u32 = 252;
/// `R_PPC64_GNU_VTINHERIT` (C++ vtable GC marker).
pub const R_PPC64_GNU_VTINHERIT: u32 = 253;
/// `R_PPC64_GNU_VTENTRY` (C++ vtable GC marker).
pub const R_PPC64_GNU_VTENTRY: u32 = 254;

const fn m(kind: EdgeKind, width: u8, signed: bool, target: Target) -> Mapping {
    Mapping { kind, width, signed, target }
}

/// A half16 field (2 bytes at `r_offset`, the ABI's relocation offset of
/// the instruction's immediate halfword).
const fn h(kind: EdgeKind, target: Target) -> Mapping {
    m(kind, 2, true, target)
}

/// Maps an `r_type` to an edge; `Err` gives why it is not supported.
///
/// TOC-relative types (`TOC16*`) target the symbol and need the file's
/// GOT base (`.TOC.`); GOT/PLT types are requests the GOT pass
/// ([`crate::arch::ppc64::got_plt`]) lowers to TOC- or PC-relative fixups
/// against a GOT entry; `REL24` is a request lowered to a direct branch, a
/// branch through a TOC-saving call stub, or a branch through a veneer.
///
/// Thread-local storage (ELFv2 ABI §3.7, [`crate::arch::tls`]): general
/// dynamic (`GOT_TLSGD16*`, `GOT_TLSGD_PCREL34`, the `TLSGD` marker on the
/// `bl __tls_get_addr`, which is an ordinary external call), local dynamic
/// (`GOT_TLSLD16*`, `GOT_TLSLD_PCREL34`, `TLSLD`, `DTPREL*`,
/// `GOT_DTPREL*`) and `DTPMOD64` are served; initial exec
/// (`GOT_TPREL16*`, `GOT_TPREL_PCREL34`, the `TLS` marker, `TPREL64`) and
/// local exec (`TPREL16*`, `TPREL34`) are refused naming the model and the
/// way out.
pub fn map(r_type: u32) -> Result<Mapping, &'static str> {
    use Target::*;
    Ok(match r_type {
        R_PPC64_NONE
        | R_PPC64_TOCSAVE
        | R_PPC64_ENTRY
        | R_PPC64_PLTSEQ
        | R_PPC64_PLTCALL
        | R_PPC64_PLTSEQ_NOTOC
        | R_PPC64_PLTCALL_NOTOC
        | R_PPC64_PCREL_OPT
        | R_PPC64_GNU_VTINHERIT
        | R_PPC64_GNU_VTENTRY => m(KEEP_ALIVE, 0, false, None),
        R_PPC64_ADDR32 | R_PPC64_UADDR32 => m(POINTER32, 4, false, Symbol),
        R_PPC64_ADDR24 => m(REQ_ABS_BRANCH24, 4, true, Symbol),
        R_PPC64_ADDR16 | R_PPC64_UADDR16 => h(ADDR16, Symbol),
        R_PPC64_ADDR16_LO => h(ADDR16_LO, Symbol),
        R_PPC64_ADDR16_HI => h(ADDR16_HI, Symbol),
        R_PPC64_ADDR16_HA => h(ADDR16_HA, Symbol),
        R_PPC64_ADDR14 => m(REQ_ABS_BRANCH14, 4, true, Symbol),
        R_PPC64_ADDR14_BRTAKEN => m(REQ_ABS_BRANCH14_BRTAKEN, 4, true, Symbol),
        R_PPC64_ADDR14_BRNTAKEN => m(REQ_ABS_BRANCH14_BRNTAKEN, 4, true, Symbol),
        R_PPC64_REL24 => m(REQ_BRANCH24, 4, true, Symbol),
        R_PPC64_REL24_NOTOC | R_PPC64_REL24_P9NOTOC => m(REQ_BRANCH24_NOTOC, 4, true, Symbol),
        R_PPC64_REL14 => m(REQ_BRANCH14, 4, true, Symbol),
        R_PPC64_REL14_BRTAKEN => m(REQ_BRANCH14_BRTAKEN, 4, true, Symbol),
        R_PPC64_REL14_BRNTAKEN => m(REQ_BRANCH14_BRNTAKEN, 4, true, Symbol),
        R_PPC64_GOT16 => h(REQ_GOT16, SymbolNeedsGot),
        R_PPC64_GOT16_LO => h(REQ_GOT16_LO, SymbolNeedsGot),
        R_PPC64_GOT16_HI => h(REQ_GOT16_HI, SymbolNeedsGot),
        R_PPC64_GOT16_HA | R_PPC64_PLT16_HA => h(REQ_GOT16_HA, SymbolNeedsGot),
        R_PPC64_GOT16_DS => h(REQ_GOT16_DS, SymbolNeedsGot),
        R_PPC64_GOT16_LO_DS | R_PPC64_PLT16_LO_DS => h(REQ_GOT16_LO_DS, SymbolNeedsGot),
        R_PPC64_PLT16_LO => h(REQ_GOT16_LO, SymbolNeedsGot),
        R_PPC64_PLT16_HI => h(REQ_GOT16_HI, SymbolNeedsGot),
        R_PPC64_REL32 => m(DELTA32, 4, true, Symbol),
        R_PPC64_ADDR30 => m(DELTA30, 4, true, Symbol),
        R_PPC64_ADDR64 | R_PPC64_UADDR64 => m(POINTER64, 8, true, Symbol),
        R_PPC64_ADDR16_HIGHER => h(ADDR16_HIGHER, Symbol),
        R_PPC64_ADDR16_HIGHERA => h(ADDR16_HIGHERA, Symbol),
        R_PPC64_ADDR16_HIGHEST => h(ADDR16_HIGHEST, Symbol),
        R_PPC64_ADDR16_HIGHESTA => h(ADDR16_HIGHESTA, Symbol),
        R_PPC64_REL64 => m(DELTA64, 8, true, Symbol),
        R_PPC64_TOC16 => h(TOC16, SymbolNeedsGot),
        R_PPC64_TOC16_LO => h(TOC16_LO, SymbolNeedsGot),
        R_PPC64_TOC16_HI => h(TOC16_HI, SymbolNeedsGot),
        R_PPC64_TOC16_HA => h(TOC16_HA, SymbolNeedsGot),
        R_PPC64_TOC => m(POINTER64, 8, true, GotBase),
        R_PPC64_ADDR16_DS => h(ADDR16_DS, Symbol),
        R_PPC64_ADDR16_LO_DS => h(ADDR16_LO_DS, Symbol),
        R_PPC64_TOC16_DS => h(TOC16_DS, SymbolNeedsGot),
        R_PPC64_TOC16_LO_DS => h(TOC16_LO_DS, SymbolNeedsGot),
        R_PPC64_ADDR16_HIGH => h(ADDR16_HIGH, Symbol),
        R_PPC64_ADDR16_HIGHA => h(ADDR16_HIGHA, Symbol),
        R_PPC64_ADDR64_LOCAL => m(REQ_POINTER64_LOCAL, 8, true, Symbol),
        R_PPC64_D34 => m(D34, 8, true, Symbol),
        R_PPC64_D34_LO => m(D34_LO, 8, true, Symbol),
        R_PPC64_D34_HI30 => m(D34_HI30, 8, true, Symbol),
        R_PPC64_D34_HA30 => m(D34_HA30, 8, true, Symbol),
        R_PPC64_PCREL34 => m(PCREL34, 8, true, Symbol),
        R_PPC64_GOT_PCREL34 | R_PPC64_PLT_PCREL34 | R_PPC64_PLT_PCREL34_NOTOC => m(REQ_GOT_PCREL34, 8, true, Symbol),
        R_PPC64_ADDR16_HIGHER34 => h(ADDR16_HIGHER34, Symbol),
        R_PPC64_ADDR16_HIGHERA34 => h(ADDR16_HIGHERA34, Symbol),
        R_PPC64_ADDR16_HIGHEST34 => h(ADDR16_HIGHEST34, Symbol),
        R_PPC64_ADDR16_HIGHESTA34 => h(ADDR16_HIGHESTA34, Symbol),
        R_PPC64_REL16_HIGHER34 => h(REL16_HIGHER34, Symbol),
        R_PPC64_REL16_HIGHERA34 => h(REL16_HIGHERA34, Symbol),
        R_PPC64_REL16_HIGHEST34 => h(REL16_HIGHEST34, Symbol),
        R_PPC64_REL16_HIGHESTA34 => h(REL16_HIGHESTA34, Symbol),
        R_PPC64_D28 => m(D28, 8, true, Symbol),
        R_PPC64_PCREL28 => m(PCREL28, 8, true, Symbol),
        R_PPC64_REL16_HIGH => h(REL16_HIGH, Symbol),
        R_PPC64_REL16_HIGHA => h(REL16_HIGHA, Symbol),
        R_PPC64_REL16_HIGHER => h(REL16_HIGHER, Symbol),
        R_PPC64_REL16_HIGHERA => h(REL16_HIGHERA, Symbol),
        R_PPC64_REL16_HIGHEST => h(REL16_HIGHEST, Symbol),
        R_PPC64_REL16_HIGHESTA => h(REL16_HIGHESTA, Symbol),
        R_PPC64_REL16DX_HA => m(REL16DX_HA, 4, true, Symbol),
        R_PPC64_REL16 => h(REL16, Symbol),
        R_PPC64_REL16_LO => h(REL16_LO, Symbol),
        R_PPC64_REL16_HI => h(REL16_HI, Symbol),
        R_PPC64_REL16_HA => h(REL16_HA, Symbol),
        R_PPC64_DTPMOD64 => m(REQ_TLS_DTPMOD64, 8, true, Symbol),
        R_PPC64_DTPREL64 => m(REQ_DTPREL64, 8, true, Symbol),
        R_PPC64_DTPREL16 => h(REQ_DTPREL16, Symbol),
        R_PPC64_DTPREL16_LO => h(REQ_DTPREL16_LO, Symbol),
        R_PPC64_DTPREL16_HI => h(REQ_DTPREL16_HI, Symbol),
        R_PPC64_DTPREL16_HA => h(REQ_DTPREL16_HA, Symbol),
        R_PPC64_DTPREL16_DS => h(REQ_DTPREL16_DS, Symbol),
        R_PPC64_DTPREL16_LO_DS => h(REQ_DTPREL16_LO_DS, Symbol),
        R_PPC64_DTPREL16_HIGHER => h(REQ_DTPREL16_HIGHER, Symbol),
        R_PPC64_DTPREL16_HIGHERA => h(REQ_DTPREL16_HIGHERA, Symbol),
        R_PPC64_DTPREL16_HIGHEST => h(REQ_DTPREL16_HIGHEST, Symbol),
        R_PPC64_DTPREL16_HIGHESTA => h(REQ_DTPREL16_HIGHESTA, Symbol),
        R_PPC64_DTPREL16_HIGH => h(REQ_DTPREL16_HIGH, Symbol),
        R_PPC64_DTPREL16_HIGHA => h(REQ_DTPREL16_HIGHA, Symbol),
        R_PPC64_GOT_TLSGD16 => h(REQ_GOT_TLSGD16, SymbolNeedsGot),
        R_PPC64_GOT_TLSGD16_LO => h(REQ_GOT_TLSGD16_LO, SymbolNeedsGot),
        R_PPC64_GOT_TLSGD16_HI => h(REQ_GOT_TLSGD16_HI, SymbolNeedsGot),
        R_PPC64_GOT_TLSGD16_HA => h(REQ_GOT_TLSGD16_HA, SymbolNeedsGot),
        R_PPC64_GOT_TLSLD16 => h(REQ_GOT_TLSLD16, SymbolNeedsGot),
        R_PPC64_GOT_TLSLD16_LO => h(REQ_GOT_TLSLD16_LO, SymbolNeedsGot),
        R_PPC64_GOT_TLSLD16_HI => h(REQ_GOT_TLSLD16_HI, SymbolNeedsGot),
        R_PPC64_GOT_TLSLD16_HA => h(REQ_GOT_TLSLD16_HA, SymbolNeedsGot),
        R_PPC64_GOT_DTPREL16_DS => h(REQ_GOT_DTPREL16_DS, SymbolNeedsGot),
        R_PPC64_GOT_DTPREL16_LO_DS => h(REQ_GOT_DTPREL16_LO_DS, SymbolNeedsGot),
        R_PPC64_GOT_DTPREL16_HI => h(REQ_GOT_DTPREL16_HI, SymbolNeedsGot),
        R_PPC64_GOT_DTPREL16_HA => h(REQ_GOT_DTPREL16_HA, SymbolNeedsGot),
        // Mark the `bl __tls_get_addr` (whose REL24 is at the same offset)
        // for the linker's TLS optimisations, which a JIT does not do.
        R_PPC64_TLSGD | R_PPC64_TLSLD => m(KEEP_ALIVE, 0, false, Symbol),
        R_PPC64_DTPREL34 => m(REQ_DTPREL34, 8, true, Symbol),
        R_PPC64_GOT_TLSGD_PCREL34 => m(REQ_GOT_TLSGD_PCREL34, 8, true, Symbol),
        R_PPC64_GOT_TLSLD_PCREL34 => m(REQ_GOT_TLSLD_PCREL34, 8, true, Symbol),
        R_PPC64_GOT_DTPREL_PCREL34 => m(REQ_GOT_DTPREL_PCREL34, 8, true, Symbol),
        R_PPC64_TLS | R_PPC64_TPREL64 | R_PPC64_GOT_TPREL16_DS..=R_PPC64_GOT_TPREL16_HA | R_PPC64_GOT_TPREL_PCREL34 => {
            return Err(crate::arch::tls::INITIAL_EXEC)
        }
        R_PPC64_TPREL16..=R_PPC64_TPREL16_HA
        | R_PPC64_TPREL16_DS..=R_PPC64_TPREL16_HIGHESTA
        | R_PPC64_TPREL16_HIGH
        | R_PPC64_TPREL16_HIGHA
        | R_PPC64_TPREL34 => return Err(crate::arch::tls::LOCAL_EXEC),
        R_PPC64_COPY | R_PPC64_GLOB_DAT | R_PPC64_JMP_SLOT | R_PPC64_RELATIVE | R_PPC64_JMP_IREL
        | R_PPC64_IRELATIVE => return Err("dynamic relocation in a relocatable object"),
        R_PPC64_SECTOFF..=R_PPC64_SECTOFF_HA | R_PPC64_SECTOFF_DS | R_PPC64_SECTOFF_LO_DS => {
            return Err("section-relative (SECTOFF) relocations are not supported")
        }
        R_PPC64_PLT32 | R_PPC64_PLTREL32 | R_PPC64_PLT64 | R_PPC64_PLTREL64 => {
            return Err("PLT-address data relocations are not supported (no ELFv2 compiler emits them)")
        }
        R_PPC64_PLTGOT16..=R_PPC64_PLTGOT16_HA | R_PPC64_PLTGOT16_DS | R_PPC64_PLTGOT16_LO_DS => {
            return Err("PLTGOT16 relocations are not supported (not defined for ELFv2)")
        }
        _ => return Err("unknown relocation type"),
    })
}

/// The psABI name of a PPC64 relocation type (`type N` if unknown).
pub fn reloc_name(r_type: u16) -> Cow<'static, str> {
    const LOW: [&str; 125] = [
        "R_PPC64_NONE",
        "R_PPC64_ADDR32",
        "R_PPC64_ADDR24",
        "R_PPC64_ADDR16",
        "R_PPC64_ADDR16_LO",
        "R_PPC64_ADDR16_HI",
        "R_PPC64_ADDR16_HA",
        "R_PPC64_ADDR14",
        "R_PPC64_ADDR14_BRTAKEN",
        "R_PPC64_ADDR14_BRNTAKEN",
        "R_PPC64_REL24",
        "R_PPC64_REL14",
        "R_PPC64_REL14_BRTAKEN",
        "R_PPC64_REL14_BRNTAKEN",
        "R_PPC64_GOT16",
        "R_PPC64_GOT16_LO",
        "R_PPC64_GOT16_HI",
        "R_PPC64_GOT16_HA",
        "",
        "R_PPC64_COPY",
        "R_PPC64_GLOB_DAT",
        "R_PPC64_JMP_SLOT",
        "R_PPC64_RELATIVE",
        "",
        "R_PPC64_UADDR32",
        "R_PPC64_UADDR16",
        "R_PPC64_REL32",
        "R_PPC64_PLT32",
        "R_PPC64_PLTREL32",
        "R_PPC64_PLT16_LO",
        "R_PPC64_PLT16_HI",
        "R_PPC64_PLT16_HA",
        "",
        "R_PPC64_SECTOFF",
        "R_PPC64_SECTOFF_LO",
        "R_PPC64_SECTOFF_HI",
        "R_PPC64_SECTOFF_HA",
        "R_PPC64_ADDR30",
        "R_PPC64_ADDR64",
        "R_PPC64_ADDR16_HIGHER",
        "R_PPC64_ADDR16_HIGHERA",
        "R_PPC64_ADDR16_HIGHEST",
        "R_PPC64_ADDR16_HIGHESTA",
        "R_PPC64_UADDR64",
        "R_PPC64_REL64",
        "R_PPC64_PLT64",
        "R_PPC64_PLTREL64",
        "R_PPC64_TOC16",
        "R_PPC64_TOC16_LO",
        "R_PPC64_TOC16_HI",
        "R_PPC64_TOC16_HA",
        "R_PPC64_TOC",
        "R_PPC64_PLTGOT16",
        "R_PPC64_PLTGOT16_LO",
        "R_PPC64_PLTGOT16_HI",
        "R_PPC64_PLTGOT16_HA",
        "R_PPC64_ADDR16_DS",
        "R_PPC64_ADDR16_LO_DS",
        "R_PPC64_GOT16_DS",
        "R_PPC64_GOT16_LO_DS",
        "R_PPC64_PLT16_LO_DS",
        "R_PPC64_SECTOFF_DS",
        "R_PPC64_SECTOFF_LO_DS",
        "R_PPC64_TOC16_DS",
        "R_PPC64_TOC16_LO_DS",
        "R_PPC64_PLTGOT16_DS",
        "R_PPC64_PLTGOT16_LO_DS",
        "R_PPC64_TLS",
        "R_PPC64_DTPMOD64",
        "R_PPC64_TPREL16",
        "R_PPC64_TPREL16_LO",
        "R_PPC64_TPREL16_HI",
        "R_PPC64_TPREL16_HA",
        "R_PPC64_TPREL64",
        "R_PPC64_DTPREL16",
        "R_PPC64_DTPREL16_LO",
        "R_PPC64_DTPREL16_HI",
        "R_PPC64_DTPREL16_HA",
        "R_PPC64_DTPREL64",
        "R_PPC64_GOT_TLSGD16",
        "R_PPC64_GOT_TLSGD16_LO",
        "R_PPC64_GOT_TLSGD16_HI",
        "R_PPC64_GOT_TLSGD16_HA",
        "R_PPC64_GOT_TLSLD16",
        "R_PPC64_GOT_TLSLD16_LO",
        "R_PPC64_GOT_TLSLD16_HI",
        "R_PPC64_GOT_TLSLD16_HA",
        "R_PPC64_GOT_TPREL16_DS",
        "R_PPC64_GOT_TPREL16_LO_DS",
        "R_PPC64_GOT_TPREL16_HI",
        "R_PPC64_GOT_TPREL16_HA",
        "R_PPC64_GOT_DTPREL16_DS",
        "R_PPC64_GOT_DTPREL16_LO_DS",
        "R_PPC64_GOT_DTPREL16_HI",
        "R_PPC64_GOT_DTPREL16_HA",
        "R_PPC64_TPREL16_DS",
        "R_PPC64_TPREL16_LO_DS",
        "R_PPC64_TPREL16_HIGHER",
        "R_PPC64_TPREL16_HIGHERA",
        "R_PPC64_TPREL16_HIGHEST",
        "R_PPC64_TPREL16_HIGHESTA",
        "R_PPC64_DTPREL16_DS",
        "R_PPC64_DTPREL16_LO_DS",
        "R_PPC64_DTPREL16_HIGHER",
        "R_PPC64_DTPREL16_HIGHERA",
        "R_PPC64_DTPREL16_HIGHEST",
        "R_PPC64_DTPREL16_HIGHESTA",
        "R_PPC64_TLSGD",
        "R_PPC64_TLSLD",
        "R_PPC64_TOCSAVE",
        "R_PPC64_ADDR16_HIGH",
        "R_PPC64_ADDR16_HIGHA",
        "R_PPC64_TPREL16_HIGH",
        "R_PPC64_TPREL16_HIGHA",
        "R_PPC64_DTPREL16_HIGH",
        "R_PPC64_DTPREL16_HIGHA",
        "R_PPC64_REL24_NOTOC",
        "R_PPC64_ADDR64_LOCAL",
        "R_PPC64_ENTRY",
        "R_PPC64_PLTSEQ",
        "R_PPC64_PLTCALL",
        "R_PPC64_PLTSEQ_NOTOC",
        "R_PPC64_PLTCALL_NOTOC",
        "R_PPC64_PCREL_OPT",
        "R_PPC64_REL24_P9NOTOC",
    ];
    const PREFIXED: [&str; 24] = [
        "R_PPC64_D34",
        "R_PPC64_D34_LO",
        "R_PPC64_D34_HI30",
        "R_PPC64_D34_HA30",
        "R_PPC64_PCREL34",
        "R_PPC64_GOT_PCREL34",
        "R_PPC64_PLT_PCREL34",
        "R_PPC64_PLT_PCREL34_NOTOC",
        "R_PPC64_ADDR16_HIGHER34",
        "R_PPC64_ADDR16_HIGHERA34",
        "R_PPC64_ADDR16_HIGHEST34",
        "R_PPC64_ADDR16_HIGHESTA34",
        "R_PPC64_REL16_HIGHER34",
        "R_PPC64_REL16_HIGHERA34",
        "R_PPC64_REL16_HIGHEST34",
        "R_PPC64_REL16_HIGHESTA34",
        "R_PPC64_D28",
        "R_PPC64_PCREL28",
        "R_PPC64_TPREL34",
        "R_PPC64_DTPREL34",
        "R_PPC64_GOT_TLSGD_PCREL34",
        "R_PPC64_GOT_TLSLD_PCREL34",
        "R_PPC64_GOT_TPREL_PCREL34",
        "R_PPC64_GOT_DTPREL_PCREL34",
    ];
    const HIGH: [&str; 15] = [
        "R_PPC64_REL16_HIGH",
        "R_PPC64_REL16_HIGHA",
        "R_PPC64_REL16_HIGHER",
        "R_PPC64_REL16_HIGHERA",
        "R_PPC64_REL16_HIGHEST",
        "R_PPC64_REL16_HIGHESTA",
        "R_PPC64_REL16DX_HA",
        "R_PPC64_JMP_IREL",
        "R_PPC64_IRELATIVE",
        "R_PPC64_REL16",
        "R_PPC64_REL16_LO",
        "R_PPC64_REL16_HI",
        "R_PPC64_REL16_HA",
        "R_PPC64_GNU_VTINHERIT",
        "R_PPC64_GNU_VTENTRY",
    ];
    let t = r_type as usize;
    let name = match t {
        0..=124 => LOW[t],
        128..=151 => PREFIXED[t - 128],
        240..=254 => HIGH[t - 240],
        _ => "",
    };
    if name.is_empty() {
        Cow::Owned(format!("type {r_type}"))
    } else {
        Cow::Borrowed(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_numbers() {
        let pairs = [
            (R_PPC64_ADDR30, "R_PPC64_ADDR30"),
            (R_PPC64_TOC, "R_PPC64_TOC"),
            (R_PPC64_TOC16_LO_DS, "R_PPC64_TOC16_LO_DS"),
            (R_PPC64_TLSLD, "R_PPC64_TLSLD"),
            (R_PPC64_REL24_NOTOC, "R_PPC64_REL24_NOTOC"),
            (R_PPC64_REL24_P9NOTOC, "R_PPC64_REL24_P9NOTOC"),
            (R_PPC64_PCREL34, "R_PPC64_PCREL34"),
            (R_PPC64_GOT_DTPREL_PCREL34, "R_PPC64_GOT_DTPREL_PCREL34"),
            (R_PPC64_REL16_HIGH, "R_PPC64_REL16_HIGH"),
            (R_PPC64_REL16DX_HA, "R_PPC64_REL16DX_HA"),
            (R_PPC64_REL16_HA, "R_PPC64_REL16_HA"),
            (R_PPC64_GNU_VTENTRY, "R_PPC64_GNU_VTENTRY"),
        ];
        for (t, n) in pairs {
            assert_eq!(reloc_name(t as u16), n);
        }
        assert_eq!(reloc_name(18), "type 18");
        assert_eq!(reloc_name(125), "type 125");
        assert_eq!(reloc_name(255), "type 255");
        // Cross-check against the `object` crate where it has the constant.
        use object::elf;
        for (t, n) in [
            (elf::R_PPC64_ADDR16_HIGHESTA, "R_PPC64_ADDR16_HIGHESTA"),
            (elf::R_PPC64_TOC16_DS, "R_PPC64_TOC16_DS"),
            (elf::R_PPC64_TOCSAVE, "R_PPC64_TOCSAVE"),
            (elf::R_PPC64_ADDR16_HIGHA, "R_PPC64_ADDR16_HIGHA"),
            (elf::R_PPC64_IRELATIVE, "R_PPC64_IRELATIVE"),
            (elf::R_PPC64_REL16_HA, "R_PPC64_REL16_HA"),
            (elf::R_PPC64_DTPREL16_HIGHA, "R_PPC64_DTPREL16_HIGHA"),
        ] {
            assert_eq!(reloc_name(t as u16), n);
        }
    }

    #[test]
    fn every_emitted_type_maps() {
        for t in [
            0u32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 24, 25, 26, 29, 30, 31, 37, 38, 39, 40,
            41, 42, 43, 44, 47, 48, 49, 50, 51, 56, 57, 58, 59, 60, 63, 64, 109, 110, 111, 116, 117, 118, 119, 120,
            121, 122, 123, 124, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144,
            145, 240, 241, 242, 243, 244, 245, 246, 249, 250, 251, 252, 253, 254,
        ] {
            assert!(map(t).is_ok(), "{}", reloc_name(t as u16));
        }
        use crate::arch::tls::{INITIAL_EXEC, LOCAL_EXEC};
        // TLS: initial exec and local exec refused by model, the rest served.
        for t in (67..=108).chain(112..=115).chain(146..=151) {
            let name = reloc_name(t as u16);
            let ie = name.contains("GOT_TPREL") || name == "R_PPC64_TLS" || name == "R_PPC64_TPREL64";
            let le = !ie && name.contains("TPREL") && !name.contains("DTPREL");
            match map(t) {
                Ok(mp) => {
                    assert!(!ie && !le, "{name} must be refused");
                    let k = mp.kind;
                    let served = tls_got_request(k).is_some() || dtprel_request(k).is_some();
                    assert!(served || k == REQ_TLS_DTPMOD64 || k == KEEP_ALIVE, "{name}: {}", kind_name(k));
                    assert_eq!(k == KEEP_ALIVE, name == "R_PPC64_TLSGD" || name == "R_PPC64_TLSLD", "{name}");
                    let width = if k == KEEP_ALIVE {
                        0
                    } else if t >= 146 || matches!(t, 68 | 78) {
                        8
                    } else {
                        2
                    };
                    assert_eq!(mp.width, width, "{name}");
                    let toc_relative = name.contains("GOT_") && !name.contains("PCREL34");
                    assert_eq!(mp.target == Target::SymbolNeedsGot, toc_relative, "{name}");
                }
                Err(e) => assert_eq!(e, if ie { INITIAL_EXEC } else { LOCAL_EXEC }, "{name}"),
            }
        }
        assert_eq!(map(R_PPC64_GOT_TLSGD16_HA).unwrap().kind, REQ_GOT_TLSGD16_HA);
        assert_eq!(map(R_PPC64_DTPREL16_LO).unwrap().kind, REQ_DTPREL16_LO);
        assert_eq!(map(R_PPC64_GOT_TLSLD_PCREL34).unwrap().kind, REQ_GOT_TLSLD_PCREL34);
        for t in [19, 20, 21, 22, 27, 28, 33, 45, 46, 52, 61, 65, 247, 248, 18, 125, 200, 255, 1000] {
            assert!(map(t).is_err(), "{}", reloc_name(t as u16));
        }
    }
}
