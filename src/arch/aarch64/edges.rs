//! AArch64 edge kinds.
//!
//! Formulas use the names of "ELF for the Arm 64-bit Architecture
//! (AArch64)" (AAELF64, §5.7 "Relocation"): S the target's address, A the
//! addend, P the address of the fixed-up place, GOT the address of the
//! file's GOT base (`_GLOBAL_OFFSET_TABLE_`), `Page(x)` = `x & !0xfff`,
//! `G(GDAT(S+A))` the address of a GOT entry holding `S + A`. Instruction
//! fields are in the A64 encodings of the Arm ARM (DDI 0487).
//!
//! `REQ_*` kinds are requests that the GOT/PLT pass ([`super::got_plt`])
//! lowers to fixup kinds before fixup (they need a GOT entry, or may be
//! relaxed); they never reach [`super::fixup::apply_fixup`].
//!
//! Branches and [`PLT32`] are *bypassable*: when the GOT/PLT pass points
//! one at a stub (a PLT stub or a veneer), the stub already includes the
//! edge's addend, and the fixup goes straight to the final target
//! (`bypass + A - P`) when that fits the field, else to the stub (`S - P`).
//! An edge to an ordinary symbol is `S + A - P`.

use crate::graph::EdgeKind;

/// Keeps the target alive; no fixup (R_AARCH64_NONE).
pub const KEEP_ALIVE: EdgeKind = EdgeKind::KEEP_ALIVE;

// --- Data ---

/// 64-bit `S + A`, no check (R_AARCH64_ABS64).
pub const POINTER64: EdgeKind = EdgeKind(1);
/// 32-bit `S + A`, check `-2^31 <= X < 2^32` (R_AARCH64_ABS32).
pub const POINTER32: EdgeKind = EdgeKind(2);
/// 16-bit `S + A`, check `-2^15 <= X < 2^16` (R_AARCH64_ABS16).
pub const POINTER16: EdgeKind = EdgeKind(3);
/// 64-bit `S + A - P`, no check (R_AARCH64_PREL64).
pub const DELTA64: EdgeKind = EdgeKind(4);
/// 32-bit `S + A - P`, check `-2^31 <= X < 2^32` (R_AARCH64_PREL32).
pub const DELTA32: EdgeKind = EdgeKind(5);
/// 16-bit `S + A - P`, check `-2^15 <= X < 2^16` (R_AARCH64_PREL16).
pub const DELTA16: EdgeKind = EdgeKind(6);
/// 32-bit `S + A - P`, check `-2^31 <= X < 2^31` (R_AARCH64_GOTPCREL32
/// once lowered: S is the GOT entry, A is 0).
pub const DELTA32_SIGNED: EdgeKind = EdgeKind(7);
/// 32-bit `S + A - P`, check `-2^31 <= X < 2^31`, bypassable
/// (R_AARCH64_PLT32; `L + A - P` through a PLT stub for externals).
pub const PLT32: EdgeKind = EdgeKind(8);
/// 64-bit `S + A - GOT`, no check (R_AARCH64_GOTREL64).
pub const DELTA64_FROM_GOT: EdgeKind = EdgeKind(9);
/// 32-bit `S + A - GOT`, check `-2^31 <= X < 2^31` (R_AARCH64_GOTREL32).
pub const DELTA32_FROM_GOT: EdgeKind = EdgeKind(10);

// --- Branches and PC-relative instruction fields ---

/// `B`/`BL` imm26: `S + A - P`, check `-2^27 <= X < 2^27`, word aligned;
/// bypassable; a call site (R_AARCH64_JUMP26, R_AARCH64_CALL26).
pub const BRANCH26: EdgeKind = EdgeKind(11);
/// `B.cond`/`CBZ`/`CBNZ` imm19: `S + A - P`, check `-2^20 <= X < 2^20`,
/// word aligned; bypassable (R_AARCH64_CONDBR19).
pub const BRANCH19: EdgeKind = EdgeKind(12);
/// `TBZ`/`TBNZ` imm14: `S + A - P`, check `-2^15 <= X < 2^15`, word
/// aligned; bypassable (R_AARCH64_TSTBR14).
pub const BRANCH14: EdgeKind = EdgeKind(13);
/// `LDR (literal)` imm19: `S + A - P`, check `-2^20 <= X < 2^20`, word
/// aligned (R_AARCH64_LD_PREL_LO19; R_AARCH64_GOT_LD_PREL19 once lowered).
pub const LDR_LITERAL19: EdgeKind = EdgeKind(14);
/// `ADR` immhi:immlo: `S + A - P`, check `-2^20 <= X < 2^20`
/// (R_AARCH64_ADR_PREL_LO21).
pub const ADR21: EdgeKind = EdgeKind(15);
/// `ADRP` immhi:immlo: `Page(S + A) - Page(P)`, bits [32:12], check
/// `-2^32 <= X < 2^32` (R_AARCH64_ADR_PREL_PG_HI21; R_AARCH64_ADR_GOT_PAGE
/// once lowered).
pub const PAGE21: EdgeKind = EdgeKind(16);
/// As [`PAGE21`] with no check (R_AARCH64_ADR_PREL_PG_HI21_NC).
pub const PAGE21_NC: EdgeKind = EdgeKind(17);

// --- Absolute low-12-bit page offsets ---

/// `ADD (immediate)` imm12: `(S + A) & 0xfff` (R_AARCH64_ADD_ABS_LO12_NC).
pub const ADD_LO12: EdgeKind = EdgeKind(18);
/// Load/store imm12 of a 1-byte access: `(S + A) & 0xfff`
/// (R_AARCH64_LDST8_ABS_LO12_NC).
pub const LDST8_LO12: EdgeKind = EdgeKind(19);
/// 2-byte access: `((S + A) & 0xfff) >> 1`; `S + A` must be 2-aligned
/// (R_AARCH64_LDST16_ABS_LO12_NC).
pub const LDST16_LO12: EdgeKind = EdgeKind(20);
/// 4-byte access: `((S + A) & 0xfff) >> 2`; `S + A` must be 4-aligned
/// (R_AARCH64_LDST32_ABS_LO12_NC).
pub const LDST32_LO12: EdgeKind = EdgeKind(21);
/// 8-byte access: `((S + A) & 0xfff) >> 3`; `S + A` must be 8-aligned
/// (R_AARCH64_LDST64_ABS_LO12_NC; R_AARCH64_LD64_GOT_LO12_NC once lowered).
pub const LDST64_LO12: EdgeKind = EdgeKind(22);
/// 16-byte access: `((S + A) & 0xfff) >> 4`; `S + A` must be 16-aligned
/// (R_AARCH64_LDST128_ABS_LO12_NC).
pub const LDST128_LO12: EdgeKind = EdgeKind(23);

// --- Wide moves (MOVZ/MOVN/MOVK imm16) ---

/// `MOVZ` imm16 = `(S + A)` bits [15:0], check `0 <= X < 2^16`
/// (R_AARCH64_MOVW_UABS_G0).
pub const MOVW_UABS_G0: EdgeKind = EdgeKind(24);
/// `MOVK` imm16 = `(S + A)` bits [15:0], no check (R_AARCH64_MOVW_UABS_G0_NC).
pub const MOVW_UABS_G0_NC: EdgeKind = EdgeKind(25);
/// Bits [31:16], check `0 <= X < 2^32` (R_AARCH64_MOVW_UABS_G1).
pub const MOVW_UABS_G1: EdgeKind = EdgeKind(26);
/// Bits [31:16], no check (R_AARCH64_MOVW_UABS_G1_NC).
pub const MOVW_UABS_G1_NC: EdgeKind = EdgeKind(27);
/// Bits [47:32], check `0 <= X < 2^48` (R_AARCH64_MOVW_UABS_G2).
pub const MOVW_UABS_G2: EdgeKind = EdgeKind(28);
/// Bits [47:32], no check (R_AARCH64_MOVW_UABS_G2_NC).
pub const MOVW_UABS_G2_NC: EdgeKind = EdgeKind(29);
/// Bits [63:48], no check (R_AARCH64_MOVW_UABS_G3).
pub const MOVW_UABS_G3: EdgeKind = EdgeKind(30);
/// `MOVZ`/`MOVN` by the sign of `S + A` (MOVN takes `!X`), bits [15:0],
/// check `-2^16 <= X < 2^16` (R_AARCH64_MOVW_SABS_G0).
pub const MOVW_SABS_G0: EdgeKind = EdgeKind(31);
/// As [`MOVW_SABS_G0`], bits [31:16], check `-2^32 <= X < 2^32`
/// (R_AARCH64_MOVW_SABS_G1).
pub const MOVW_SABS_G1: EdgeKind = EdgeKind(32);
/// As [`MOVW_SABS_G0`], bits [47:32], check `-2^48 <= X < 2^48`
/// (R_AARCH64_MOVW_SABS_G2).
pub const MOVW_SABS_G2: EdgeKind = EdgeKind(33);
/// `MOVZ`/`MOVN` of `S + A - P` bits [15:0], check `-2^16 <= X < 2^16`
/// (R_AARCH64_MOVW_PREL_G0).
pub const MOVW_PREL_G0: EdgeKind = EdgeKind(34);
/// `MOVK` of `S + A - P` bits [15:0], no check (R_AARCH64_MOVW_PREL_G0_NC).
pub const MOVW_PREL_G0_NC: EdgeKind = EdgeKind(35);
/// `MOVZ`/`MOVN`, bits [31:16], check `-2^32 <= X < 2^32` (R_AARCH64_MOVW_PREL_G1).
pub const MOVW_PREL_G1: EdgeKind = EdgeKind(36);
/// `MOVK`, bits [31:16], no check (R_AARCH64_MOVW_PREL_G1_NC).
pub const MOVW_PREL_G1_NC: EdgeKind = EdgeKind(37);
/// `MOVZ`/`MOVN`, bits [47:32], check `-2^48 <= X < 2^48` (R_AARCH64_MOVW_PREL_G2).
pub const MOVW_PREL_G2: EdgeKind = EdgeKind(38);
/// `MOVK`, bits [47:32], no check (R_AARCH64_MOVW_PREL_G2_NC).
pub const MOVW_PREL_G2_NC: EdgeKind = EdgeKind(39);
/// `MOVZ`/`MOVN`, bits [63:48], no check (R_AARCH64_MOVW_PREL_G3).
pub const MOVW_PREL_G3: EdgeKind = EdgeKind(40);
/// `MOVZ`/`MOVN` of `S + A - GOT` bits [15:0], check `-2^16 <= X < 2^16`
/// (R_AARCH64_MOVW_GOTOFF_G0 once lowered: S is the GOT entry).
pub const MOVW_GOTREL_G0: EdgeKind = EdgeKind(41);
/// `MOVK`, bits [15:0], no check (R_AARCH64_MOVW_GOTOFF_G0_NC once lowered).
pub const MOVW_GOTREL_G0_NC: EdgeKind = EdgeKind(42);
/// `MOVZ`/`MOVN`, bits [31:16], check `-2^32 <= X < 2^32` (MOVW_GOTOFF_G1).
pub const MOVW_GOTREL_G1: EdgeKind = EdgeKind(43);
/// `MOVK`, bits [31:16], no check (MOVW_GOTOFF_G1_NC).
pub const MOVW_GOTREL_G1_NC: EdgeKind = EdgeKind(44);
/// `MOVZ`/`MOVN`, bits [47:32], check `-2^48 <= X < 2^48` (MOVW_GOTOFF_G2).
pub const MOVW_GOTREL_G2: EdgeKind = EdgeKind(45);
/// `MOVK`, bits [47:32], no check (MOVW_GOTOFF_G2_NC).
pub const MOVW_GOTREL_G2_NC: EdgeKind = EdgeKind(46);
/// `MOVZ`/`MOVN`, bits [63:48], no check (MOVW_GOTOFF_G3).
pub const MOVW_GOTREL_G3: EdgeKind = EdgeKind(47);

// --- GOT-relative loads, relaxation, stubs ---

/// `LDR Xt, [Xn, #imm]` imm12 = bits [14:3] of `S + A - Page(GOT)`, check
/// `0 <= X < 2^15`, 8-aligned (R_AARCH64_LD64_GOTPAGE_LO15 once lowered).
pub const GOT_PAGE_LO15: EdgeKind = EdgeKind(48);
/// `LDR Xt, [Xn, #imm]` imm12 = bits [14:3] of `S + A - GOT`, check
/// `0 <= X < 2^15`, 8-aligned (R_AARCH64_LD64_GOTOFF_LO15 once lowered).
pub const GOT_OFFSET_LO15: EdgeKind = EdgeKind(49);
/// A relaxed GOT load: the `LDR Xt, [Xn, #:got_lo12:sym]` of an
/// `ADRP`+`LDR` pair whose target is defined in the link becomes
/// `ADD Xt, Xn, #:lo12:(S + A)` (the `ADRP` becomes a [`PAGE21`] to
/// `S + A`); R_AARCH64_LD64_GOT_LO12_NC relaxed.
pub const GOT_LOAD_RELAXED_LO12: EdgeKind = EdgeKind(50);
/// The whole 12-byte PLT stub at P jumping through the GOT entry S (+A):
/// `LDR x16, S; BR x16; BRK #0` when S is within ±1 MiB, else
/// `ADRP x16, S; LDR x16, [x16, :lo12:S]; BR x16`
/// ([`super::redirect::encode_stub`]); S must be 8-aligned and within
/// ±4 GiB (pages).
pub const PLT_STUB: EdgeKind = EdgeKind(51);
/// The whole 16-byte veneer at P jumping to `S + A`:
/// `ADRP x16, T; ADD x16, x16, :lo12:T; BR x16; BRK #0` when T's page is
/// within ±4 GiB, else `LDR x16, .+8; BR x16; .xword T` (reaches any
/// address). Only `x16` (IP0) is clobbered (AAPCS64 §6.1.1, "veneers").
pub const VENEER: EdgeKind = EdgeKind(52);

// --- Requests (lowered by the GOT/PLT pass) ---

/// Request: R_AARCH64_ADR_GOT_PAGE (`Page(G(GDAT(S+A))) - Page(P)`).
pub const REQ_GOT_PAGE21: EdgeKind = EdgeKind(64);
/// Request: R_AARCH64_LD64_GOT_LO12_NC (`G(GDAT(S+A))` bits [11:3]).
pub const REQ_GOT_LO12: EdgeKind = EdgeKind(65);
/// Request: R_AARCH64_GOT_LD_PREL19 (`G(GDAT(S+A)) - P`, LDR literal).
pub const REQ_GOT_LDR_LITERAL19: EdgeKind = EdgeKind(66);
/// Request: R_AARCH64_LD64_GOTPAGE_LO15 (`G(GDAT(S+A)) - Page(GOT)`).
pub const REQ_GOT_PAGE_LO15: EdgeKind = EdgeKind(67);
/// Request: R_AARCH64_LD64_GOTOFF_LO15 (`G(GDAT(S+A)) - GOT`).
pub const REQ_GOT_OFFSET_LO15: EdgeKind = EdgeKind(68);
/// Request: R_AARCH64_GOTPCREL32 (`G(GDAT(S+A)) - P`, 32-bit data).
pub const REQ_GOT_DELTA32: EdgeKind = EdgeKind(69);
/// Request: R_AARCH64_MOVW_GOTOFF_G0 (`G(GDAT(S+A)) - GOT`).
pub const REQ_MOVW_GOTOFF_G0: EdgeKind = EdgeKind(70);
/// Request: R_AARCH64_MOVW_GOTOFF_G0_NC.
pub const REQ_MOVW_GOTOFF_G0_NC: EdgeKind = EdgeKind(71);
/// Request: R_AARCH64_MOVW_GOTOFF_G1.
pub const REQ_MOVW_GOTOFF_G1: EdgeKind = EdgeKind(72);
/// Request: R_AARCH64_MOVW_GOTOFF_G1_NC.
pub const REQ_MOVW_GOTOFF_G1_NC: EdgeKind = EdgeKind(73);
/// Request: R_AARCH64_MOVW_GOTOFF_G2.
pub const REQ_MOVW_GOTOFF_G2: EdgeKind = EdgeKind(74);
/// Request: R_AARCH64_MOVW_GOTOFF_G2_NC.
pub const REQ_MOVW_GOTOFF_G2_NC: EdgeKind = EdgeKind(75);
/// Request: R_AARCH64_MOVW_GOTOFF_G3.
pub const REQ_MOVW_GOTOFF_G3: EdgeKind = EdgeKind(76);

/// The first request kind; every kind at or above it is a request.
pub const FIRST_REQUEST: EdgeKind = REQ_GOT_PAGE21;

// --- Kinds for the Mach-O and COFF containers (numbered from 80 up) ---
//
// These follow the request range but only [`SUBTRAHEND`] and
// [`REQ_GOT_POINTER64`] are requests. Formulas with a second symbol B take
// it from a [`SUBTRAHEND`] edge at the same offset of the same block;
// `super::got_plt::pre_fixup` folds B into the paired edge's addend (A
// becomes `A - B`) once every address is known, so the fixups compute
// `S + A` with their own field and range.

/// The B of the edge of a pair kind ([`is_pair_kind`]) at the same offset:
/// its target's address plus its addend is subtracted from that edge's
/// value. Mach-O `ARM64_RELOC_SUBTRACTOR` names B (`<mach-o/arm64/reloc.h>`:
/// "must be followed by a ARM64_RELOC_UNSIGNED"); for COFF it is
/// `__ImageBase` or the start of the target's section. Folded before fixup (it then becomes
/// [`KEEP_ALIVE`]); it keeps B alive until then.
pub const SUBTRAHEND: EdgeKind = EdgeKind(80);
/// 64-bit `S - B + A`, no check: `ARM64_RELOC_SUBTRACTOR` followed by
/// `ARM64_RELOC_UNSIGNED`, `r_length` 3.
pub const DELTA64_PAIR: EdgeKind = EdgeKind(81);
/// 32-bit `S - B + A`, check `-2^31 <= X < 2^31`: the same pair, `r_length` 2.
pub const DELTA32_PAIR: EdgeKind = EdgeKind(82);
/// 32-bit `S + A - ImageBase` (B is `__ImageBase`), check `0 <= X < 2^32`:
/// IMAGE_REL_ARM64_ADDR32NB, "the 32-bit address without an image base
/// (RVA)" (Microsoft PE/COFF specification, "ARM64 Processors").
pub const IMAGE_REL32: EdgeKind = EdgeKind(83);
/// 32-bit `S + A - SectionBase`, check `0 <= X < 2^32`:
/// IMAGE_REL_ARM64_SECREL, "the 32-bit offset of the target from the
/// beginning of its section" (PE/COFF, "ARM64 Processors").
pub const SECREL32: EdgeKind = EdgeKind(84);
/// `ADD (immediate)` imm12 = `(S + A - SectionBase) & 0xfff`:
/// IMAGE_REL_ARM64_SECREL_LOW12A, "bit 0:11 of section offset of the target,
/// for instruction ADD/ADDS (immediate) with zero shift" (PE/COFF).
pub const SECREL_ADD_LO12: EdgeKind = EdgeKind(85);
/// `ADD (immediate)` imm12 = bits `[23:12]` of `S + A - SectionBase`, check
/// `0 <= X < 2^24`: IMAGE_REL_ARM64_SECREL_HIGH12A, "bit 12:23 of section
/// offset of the target, for instruction ADD/ADDS (immediate) with zero
/// shift" (PE/COFF; the instruction carries `LSL #12`).
pub const SECREL_ADD_HI12: EdgeKind = EdgeKind(86);
/// Load/store (unsigned immediate) imm12 =
/// `((S + A - SectionBase) & 0xfff) >> size`, the access size read from
/// the instruction, which it must divide: IMAGE_REL_ARM64_SECREL_LOW12L, "bit 0:11 of section offset of
/// the target, for instruction LDR (indexed, unsigned immediate)" (PE/COFF).
pub const SECREL_LDST_LO12: EdgeKind = EdgeKind(87);
/// 16-bit `A`: the 1-based number of the target's section in its object,
/// put in the addend by the builder (IMAGE_REL_ARM64_SECTION, "the 16-bit
/// section index of the section that contains the target", PE/COFF).
pub const SECTION_INDEX16: EdgeKind = EdgeKind(88);
/// Request: a 64-bit pointer to the GOT entry holding `S + A`
/// (`G(GDAT(S+A))`): Mach-O `ARM64_RELOC_POINTER_TO_GOT` with `r_length` 3
/// and `r_pcrel` 0 (`.quad _sym@GOT`); lowered to [`POINTER64`] at the entry.
pub const REQ_GOT_POINTER64: EdgeKind = EdgeKind(89);

// --- Thread-local storage (numbered from 112 up) ---
//
// AAELF64 §5.7.11 "Thread-local storage relocations", with `GLDM(S)` the
// module's `{module, 0}` pair, `GTLSIDX(S,A)` the variable's `{module,
// offset}` pair and `GTLSDESC(S+A)` its descriptor `{resolver, &pair}`,
// all in the file's GOT (`crate::arch::tls`), and `DTPREL(S+A)` the offset
// of `S + A` from the start of the link's TLS template (unbiased). The
// requests are lowered by [`super::got_plt`]: the pair and descriptor ones
// at post-prune (to the instruction kinds above, pointed at the pair or
// descriptor with addend 0), the `REQ_DTPREL_*` ones at pre-fixup, once
// the template's address is known (to the kind named, with the template's
// start subtracted from the addend, so that `S + A` is `DTPREL(S+A)`).

/// `ADD (immediate)` imm12 = bits \[23:12\] of `S + A`, check
/// `0 <= X < 2^24` (R_AARCH64_TLSLD_ADD_DTPREL_HI12 once lowered: X =
/// `DTPREL(S+A)`; the instruction carries `LSL #12`).
pub const TLS_ADD_HI12: EdgeKind = EdgeKind(112);
/// `ADD (immediate)` imm12 = `S + A`, check `0 <= X < 2^12`
/// (R_AARCH64_TLSLD_ADD_DTPREL_LO12 once lowered).
pub const TLS_ADD_LO12: EdgeKind = EdgeKind(113);
/// Load/store imm12 of a 1-byte access = `S + A`, check `0 <= X < 2^12`
/// (R_AARCH64_TLSLD_LDST8_DTPREL_LO12 once lowered).
pub const TLS_LDST8_LO12: EdgeKind = EdgeKind(114);
/// 2-byte access: imm12 = `(S + A) >> 1`, check `0 <= X < 2^12`, 2-aligned
/// (R_AARCH64_TLSLD_LDST16_DTPREL_LO12 once lowered).
pub const TLS_LDST16_LO12: EdgeKind = EdgeKind(115);
/// 4-byte access: imm12 = `(S + A) >> 2`, check `0 <= X < 2^12`, 4-aligned
/// (R_AARCH64_TLSLD_LDST32_DTPREL_LO12 once lowered).
pub const TLS_LDST32_LO12: EdgeKind = EdgeKind(116);
/// 8-byte access: imm12 = `(S + A) >> 3`, check `0 <= X < 2^12`, 8-aligned
/// (R_AARCH64_TLSLD_LDST64_DTPREL_LO12 once lowered).
pub const TLS_LDST64_LO12: EdgeKind = EdgeKind(117);
/// 16-byte access: imm12 = `(S + A) >> 4`, check `0 <= X < 2^12`,
/// 16-aligned (R_AARCH64_TLSLD_LDST128_DTPREL_LO12 once lowered).
pub const TLS_LDST128_LO12: EdgeKind = EdgeKind(118);

/// Request: R_AARCH64_TLSGD_ADR_PREL21 (`G(GTLSIDX(S,A)) - P`, `ADR`;
/// lowered to [`ADR21`] to the pair).
pub const REQ_TLSGD_ADR21: EdgeKind = EdgeKind(120);
/// Request: R_AARCH64_TLSGD_ADR_PAGE21 (`Page(G(GTLSIDX(S,A))) - Page(P)`;
/// lowered to [`PAGE21`] to the pair).
pub const REQ_TLSGD_PAGE21: EdgeKind = EdgeKind(121);
/// Request: R_AARCH64_TLSGD_ADD_LO12_NC (`G(GTLSIDX(S,A))` bits \[11:0\];
/// lowered to [`ADD_LO12`] to the pair).
pub const REQ_TLSGD_ADD_LO12: EdgeKind = EdgeKind(122);
/// Request: R_AARCH64_TLSGD_MOVW_G1 (`G(GTLSIDX(S,A)) - GOT` bits
/// \[31:16\]; lowered to [`MOVW_GOTREL_G1`] to the pair).
pub const REQ_TLSGD_MOVW_G1: EdgeKind = EdgeKind(123);
/// Request: R_AARCH64_TLSGD_MOVW_G0_NC (`G(GTLSIDX(S,A)) - GOT` bits
/// \[15:0\]; lowered to [`MOVW_GOTREL_G0_NC`] to the pair).
pub const REQ_TLSGD_MOVW_G0_NC: EdgeKind = EdgeKind(124);
/// Request: R_AARCH64_TLSLD_ADR_PREL21 (`G(GLDM(S)) - P`; [`ADR21`] to the
/// module's pair).
pub const REQ_TLSLD_ADR21: EdgeKind = EdgeKind(125);
/// Request: R_AARCH64_TLSLD_ADR_PAGE21 (`Page(G(GLDM(S))) - Page(P)`;
/// [`PAGE21`] to the module's pair).
pub const REQ_TLSLD_PAGE21: EdgeKind = EdgeKind(126);
/// Request: R_AARCH64_TLSLD_ADD_LO12_NC (`G(GLDM(S))` bits \[11:0\];
/// [`ADD_LO12`] to the module's pair).
pub const REQ_TLSLD_ADD_LO12: EdgeKind = EdgeKind(127);
/// Request: R_AARCH64_TLSLD_MOVW_G1 (`G(GLDM(S)) - GOT` bits \[31:16\];
/// [`MOVW_GOTREL_G1`] to the module's pair).
pub const REQ_TLSLD_MOVW_G1: EdgeKind = EdgeKind(128);
/// Request: R_AARCH64_TLSLD_MOVW_G0_NC (`G(GLDM(S)) - GOT` bits \[15:0\];
/// [`MOVW_GOTREL_G0_NC`] to the module's pair).
pub const REQ_TLSLD_MOVW_G0_NC: EdgeKind = EdgeKind(129);
/// Request: R_AARCH64_TLSLD_LD_PREL19 (`G(GLDM(S)) - P`, `LDR (literal)`;
/// [`LDR_LITERAL19`] to the module's pair).
pub const REQ_TLSLD_LDR_LITERAL19: EdgeKind = EdgeKind(130);
/// Request: R_AARCH64_TLSDESC_LD_PREL19 (`G(GTLSDESC(S+A)) - P`, `LDR
/// (literal)`; [`LDR_LITERAL19`] to the descriptor).
pub const REQ_TLSDESC_LDR_LITERAL19: EdgeKind = EdgeKind(131);
/// Request: R_AARCH64_TLSDESC_ADR_PREL21 (`G(GTLSDESC(S+A)) - P`, `ADR`;
/// [`ADR21`] to the descriptor).
pub const REQ_TLSDESC_ADR21: EdgeKind = EdgeKind(132);
/// Request: R_AARCH64_TLSDESC_ADR_PAGE21 (`Page(G(GTLSDESC(S+A))) -
/// Page(P)`; [`PAGE21`] to the descriptor).
pub const REQ_TLSDESC_PAGE21: EdgeKind = EdgeKind(133);
/// Request: R_AARCH64_TLSDESC_LD64_LO12 (`G(GTLSDESC(S+A))` bits \[11:3\],
/// `LDR`; [`LDST64_LO12`] to the descriptor).
pub const REQ_TLSDESC_LD64_LO12: EdgeKind = EdgeKind(134);
/// Request: R_AARCH64_TLSDESC_ADD_LO12 (`G(GTLSDESC(S+A))` bits \[11:0\],
/// `ADD`; [`ADD_LO12`] to the descriptor).
pub const REQ_TLSDESC_ADD_LO12: EdgeKind = EdgeKind(135);
/// Request: R_AARCH64_TLSDESC_OFF_G1 (`G(GTLSDESC(S+A)) - GOT` bits
/// \[31:16\]; [`MOVW_GOTREL_G1`] to the descriptor).
pub const REQ_TLSDESC_MOVW_G1: EdgeKind = EdgeKind(136);
/// Request: R_AARCH64_TLSDESC_OFF_G0_NC (`G(GTLSDESC(S+A)) - GOT` bits
/// \[15:0\]; [`MOVW_GOTREL_G0_NC`] to the descriptor).
pub const REQ_TLSDESC_MOVW_G0_NC: EdgeKind = EdgeKind(137);

/// Request: R_AARCH64_TLSLD_MOVW_DTPREL_G2 (`DTPREL(S+A)` bits \[47:32\],
/// MOVZ/MOVN, check `-2^48 <= X < 2^48`; [`MOVW_SABS_G2`] at pre-fixup).
pub const REQ_DTPREL_MOVW_G2: EdgeKind = EdgeKind(140);
/// Request: R_AARCH64_TLSLD_MOVW_DTPREL_G1 (bits \[31:16\], MOVZ/MOVN, check
/// `-2^32 <= X < 2^32`; [`MOVW_SABS_G1`]).
pub const REQ_DTPREL_MOVW_G1: EdgeKind = EdgeKind(141);
/// Request: R_AARCH64_TLSLD_MOVW_DTPREL_G1_NC (bits \[31:16\], MOVK;
/// [`MOVW_UABS_G1_NC`]).
pub const REQ_DTPREL_MOVW_G1_NC: EdgeKind = EdgeKind(142);
/// Request: R_AARCH64_TLSLD_MOVW_DTPREL_G0 (bits \[15:0\], MOVZ/MOVN, check
/// `-2^16 <= X < 2^16`; [`MOVW_SABS_G0`]).
pub const REQ_DTPREL_MOVW_G0: EdgeKind = EdgeKind(143);
/// Request: R_AARCH64_TLSLD_MOVW_DTPREL_G0_NC (bits \[15:0\], MOVK;
/// [`MOVW_UABS_G0_NC`]).
pub const REQ_DTPREL_MOVW_G0_NC: EdgeKind = EdgeKind(144);
/// Request: R_AARCH64_TLSLD_ADD_DTPREL_HI12 ([`TLS_ADD_HI12`]).
pub const REQ_DTPREL_ADD_HI12: EdgeKind = EdgeKind(145);
/// Request: R_AARCH64_TLSLD_ADD_DTPREL_LO12 ([`TLS_ADD_LO12`]).
pub const REQ_DTPREL_ADD_LO12: EdgeKind = EdgeKind(146);
/// Request: R_AARCH64_TLSLD_ADD_DTPREL_LO12_NC (bits \[11:0\], no check;
/// [`ADD_LO12`]).
pub const REQ_DTPREL_ADD_LO12_NC: EdgeKind = EdgeKind(147);
/// Request: R_AARCH64_TLSLD_LDST8_DTPREL_LO12 ([`TLS_LDST8_LO12`]).
pub const REQ_DTPREL_LDST8_LO12: EdgeKind = EdgeKind(148);
/// Request: R_AARCH64_TLSLD_LDST16_DTPREL_LO12 ([`TLS_LDST16_LO12`]).
pub const REQ_DTPREL_LDST16_LO12: EdgeKind = EdgeKind(149);
/// Request: R_AARCH64_TLSLD_LDST32_DTPREL_LO12 ([`TLS_LDST32_LO12`]).
pub const REQ_DTPREL_LDST32_LO12: EdgeKind = EdgeKind(150);
/// Request: R_AARCH64_TLSLD_LDST64_DTPREL_LO12 ([`TLS_LDST64_LO12`]).
pub const REQ_DTPREL_LDST64_LO12: EdgeKind = EdgeKind(151);
/// Request: R_AARCH64_TLSLD_LDST128_DTPREL_LO12 ([`TLS_LDST128_LO12`]).
pub const REQ_DTPREL_LDST128_LO12: EdgeKind = EdgeKind(152);
/// Request: R_AARCH64_TLSLD_LDST8_DTPREL_LO12_NC ([`LDST8_LO12`]).
pub const REQ_DTPREL_LDST8_LO12_NC: EdgeKind = EdgeKind(153);
/// Request: R_AARCH64_TLSLD_LDST16_DTPREL_LO12_NC ([`LDST16_LO12`]).
pub const REQ_DTPREL_LDST16_LO12_NC: EdgeKind = EdgeKind(154);
/// Request: R_AARCH64_TLSLD_LDST32_DTPREL_LO12_NC ([`LDST32_LO12`]).
pub const REQ_DTPREL_LDST32_LO12_NC: EdgeKind = EdgeKind(155);
/// Request: R_AARCH64_TLSLD_LDST64_DTPREL_LO12_NC ([`LDST64_LO12`]).
pub const REQ_DTPREL_LDST64_LO12_NC: EdgeKind = EdgeKind(156);
/// Request: R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC ([`LDST128_LO12`]).
pub const REQ_DTPREL_LDST128_LO12_NC: EdgeKind = EdgeKind(157);
/// Request: 64-bit `DTPREL(S+A)` ([`POINTER64`] at pre-fixup): the offset
/// word of a `{module, offset}` pair (what R_AARCH64_TLS_DTPREL64 fills
/// in a dynamic linker's GOT).
pub const REQ_DTPREL64: EdgeKind = EdgeKind(158);

/// What a TLS request of the post-prune pass needs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TlsObject {
    /// The variable's `{module, offset}` pair (`GTLSIDX(S,A)`).
    Pair,
    /// The module's `{module, 0}` pair (`GLDM(S)`).
    ModulePair,
    /// The variable's descriptor (`GTLSDESC(S+A)`).
    Descriptor,
}

/// For a request lowered to a pair or descriptor at post-prune: what it
/// needs and the kind it becomes (pointed at it, addend 0).
pub fn tls_request(k: EdgeKind) -> Option<(TlsObject, EdgeKind)> {
    use TlsObject::*;
    Some(match k {
        REQ_TLSGD_ADR21 => (Pair, ADR21),
        REQ_TLSGD_PAGE21 => (Pair, PAGE21),
        REQ_TLSGD_ADD_LO12 => (Pair, ADD_LO12),
        REQ_TLSGD_MOVW_G1 => (Pair, MOVW_GOTREL_G1),
        REQ_TLSGD_MOVW_G0_NC => (Pair, MOVW_GOTREL_G0_NC),
        REQ_TLSLD_ADR21 => (ModulePair, ADR21),
        REQ_TLSLD_PAGE21 => (ModulePair, PAGE21),
        REQ_TLSLD_ADD_LO12 => (ModulePair, ADD_LO12),
        REQ_TLSLD_MOVW_G1 => (ModulePair, MOVW_GOTREL_G1),
        REQ_TLSLD_MOVW_G0_NC => (ModulePair, MOVW_GOTREL_G0_NC),
        REQ_TLSLD_LDR_LITERAL19 => (ModulePair, LDR_LITERAL19),
        REQ_TLSDESC_LDR_LITERAL19 => (Descriptor, LDR_LITERAL19),
        REQ_TLSDESC_ADR21 => (Descriptor, ADR21),
        REQ_TLSDESC_PAGE21 => (Descriptor, PAGE21),
        REQ_TLSDESC_LD64_LO12 => (Descriptor, LDST64_LO12),
        REQ_TLSDESC_ADD_LO12 => (Descriptor, ADD_LO12),
        REQ_TLSDESC_MOVW_G1 => (Descriptor, MOVW_GOTREL_G1),
        REQ_TLSDESC_MOVW_G0_NC => (Descriptor, MOVW_GOTREL_G0_NC),
        _ => return None,
    })
}

/// For a DTPREL request (lowered at pre-fixup): the kind it becomes.
pub fn dtprel_request(k: EdgeKind) -> Option<EdgeKind> {
    Some(match k {
        REQ_DTPREL_MOVW_G2 => MOVW_SABS_G2,
        REQ_DTPREL_MOVW_G1 => MOVW_SABS_G1,
        REQ_DTPREL_MOVW_G1_NC => MOVW_UABS_G1_NC,
        REQ_DTPREL_MOVW_G0 => MOVW_SABS_G0,
        REQ_DTPREL_MOVW_G0_NC => MOVW_UABS_G0_NC,
        REQ_DTPREL_ADD_HI12 => TLS_ADD_HI12,
        REQ_DTPREL_ADD_LO12 => TLS_ADD_LO12,
        REQ_DTPREL_ADD_LO12_NC => ADD_LO12,
        REQ_DTPREL_LDST8_LO12 => TLS_LDST8_LO12,
        REQ_DTPREL_LDST16_LO12 => TLS_LDST16_LO12,
        REQ_DTPREL_LDST32_LO12 => TLS_LDST32_LO12,
        REQ_DTPREL_LDST64_LO12 => TLS_LDST64_LO12,
        REQ_DTPREL_LDST128_LO12 => TLS_LDST128_LO12,
        REQ_DTPREL_LDST8_LO12_NC => LDST8_LO12,
        REQ_DTPREL_LDST16_LO12_NC => LDST16_LO12,
        REQ_DTPREL_LDST32_LO12_NC => LDST32_LO12,
        REQ_DTPREL_LDST64_LO12_NC => LDST64_LO12,
        REQ_DTPREL_LDST128_LO12_NC => LDST128_LO12,
        REQ_DTPREL64 => POINTER64,
        _ => return None,
    })
}

/// True for the kinds whose B comes from a [`SUBTRAHEND`] edge.
pub fn is_pair_kind(k: EdgeKind) -> bool {
    matches!(
        k,
        DELTA64_PAIR | DELTA32_PAIR | IMAGE_REL32 | SECREL32 | SECREL_ADD_LO12 | SECREL_ADD_HI12 | SECREL_LDST_LO12
    )
}

/// Name of an AArch64 edge kind, for `--show-graph` and messages.
pub fn kind_name(k: EdgeKind) -> &'static str {
    match k {
        KEEP_ALIVE => "KeepAlive",
        POINTER64 => "Pointer64",
        POINTER32 => "Pointer32",
        POINTER16 => "Pointer16",
        DELTA64 => "Delta64",
        DELTA32 => "Delta32",
        DELTA16 => "Delta16",
        DELTA32_SIGNED => "Delta32Signed",
        PLT32 => "PLT32",
        DELTA64_FROM_GOT => "Delta64FromGOT",
        DELTA32_FROM_GOT => "Delta32FromGOT",
        BRANCH26 => "Branch26PCRel",
        BRANCH19 => "CondBranch19PCRel",
        BRANCH14 => "TestBranch14PCRel",
        LDR_LITERAL19 => "LDRLiteral19",
        ADR21 => "ADRLiteral21",
        PAGE21 => "Page21",
        PAGE21_NC => "Page21NC",
        ADD_LO12 => "AddPageOffset12",
        LDST8_LO12 => "LoadStore8PageOffset12",
        LDST16_LO12 => "LoadStore16PageOffset12",
        LDST32_LO12 => "LoadStore32PageOffset12",
        LDST64_LO12 => "LoadStore64PageOffset12",
        LDST128_LO12 => "LoadStore128PageOffset12",
        MOVW_UABS_G0 => "MovWUAbsG0",
        MOVW_UABS_G0_NC => "MovWUAbsG0NC",
        MOVW_UABS_G1 => "MovWUAbsG1",
        MOVW_UABS_G1_NC => "MovWUAbsG1NC",
        MOVW_UABS_G2 => "MovWUAbsG2",
        MOVW_UABS_G2_NC => "MovWUAbsG2NC",
        MOVW_UABS_G3 => "MovWUAbsG3",
        MOVW_SABS_G0 => "MovWSAbsG0",
        MOVW_SABS_G1 => "MovWSAbsG1",
        MOVW_SABS_G2 => "MovWSAbsG2",
        MOVW_PREL_G0 => "MovWPRelG0",
        MOVW_PREL_G0_NC => "MovWPRelG0NC",
        MOVW_PREL_G1 => "MovWPRelG1",
        MOVW_PREL_G1_NC => "MovWPRelG1NC",
        MOVW_PREL_G2 => "MovWPRelG2",
        MOVW_PREL_G2_NC => "MovWPRelG2NC",
        MOVW_PREL_G3 => "MovWPRelG3",
        MOVW_GOTREL_G0 => "MovWGOTRelG0",
        MOVW_GOTREL_G0_NC => "MovWGOTRelG0NC",
        MOVW_GOTREL_G1 => "MovWGOTRelG1",
        MOVW_GOTREL_G1_NC => "MovWGOTRelG1NC",
        MOVW_GOTREL_G2 => "MovWGOTRelG2",
        MOVW_GOTREL_G2_NC => "MovWGOTRelG2NC",
        MOVW_GOTREL_G3 => "MovWGOTRelG3",
        GOT_PAGE_LO15 => "GOTPageOffset15",
        GOT_OFFSET_LO15 => "GOTOffset15",
        GOT_LOAD_RELAXED_LO12 => "GOTLoadRelaxedPageOffset12",
        PLT_STUB => "PLTStub",
        VENEER => "Veneer",
        REQ_GOT_PAGE21 => "RequestGOTPage21",
        REQ_GOT_LO12 => "RequestGOTPageOffset12",
        REQ_GOT_LDR_LITERAL19 => "RequestGOTLDRLiteral19",
        REQ_GOT_PAGE_LO15 => "RequestGOTPageOffset15",
        REQ_GOT_OFFSET_LO15 => "RequestGOTOffset15",
        REQ_GOT_DELTA32 => "RequestGOTDelta32",
        REQ_MOVW_GOTOFF_G0 => "RequestMovWGOTOffG0",
        REQ_MOVW_GOTOFF_G0_NC => "RequestMovWGOTOffG0NC",
        REQ_MOVW_GOTOFF_G1 => "RequestMovWGOTOffG1",
        REQ_MOVW_GOTOFF_G1_NC => "RequestMovWGOTOffG1NC",
        REQ_MOVW_GOTOFF_G2 => "RequestMovWGOTOffG2",
        REQ_MOVW_GOTOFF_G2_NC => "RequestMovWGOTOffG2NC",
        REQ_MOVW_GOTOFF_G3 => "RequestMovWGOTOffG3",
        SUBTRAHEND => "Subtrahend",
        DELTA64_PAIR => "Delta64Pair",
        DELTA32_PAIR => "Delta32Pair",
        IMAGE_REL32 => "ImageRelative32",
        SECREL32 => "SectionRelative32",
        SECREL_ADD_LO12 => "SectionRelativeAddLo12",
        SECREL_ADD_HI12 => "SectionRelativeAddHi12",
        SECREL_LDST_LO12 => "SectionRelativeLoadStoreLo12",
        SECTION_INDEX16 => "SectionIndex16",
        REQ_GOT_POINTER64 => "RequestGOTPointer64",
        TLS_ADD_HI12 => "TLSAddHi12",
        TLS_ADD_LO12 => "TLSAddLo12",
        TLS_LDST8_LO12 => "TLSLoadStore8Lo12",
        TLS_LDST16_LO12 => "TLSLoadStore16Lo12",
        TLS_LDST32_LO12 => "TLSLoadStore32Lo12",
        TLS_LDST64_LO12 => "TLSLoadStore64Lo12",
        TLS_LDST128_LO12 => "TLSLoadStore128Lo12",
        REQ_TLSGD_ADR21 => "RequestTLSGDADR21",
        REQ_TLSGD_PAGE21 => "RequestTLSGDPage21",
        REQ_TLSGD_ADD_LO12 => "RequestTLSGDAddLo12",
        REQ_TLSGD_MOVW_G1 => "RequestTLSGDMovWG1",
        REQ_TLSGD_MOVW_G0_NC => "RequestTLSGDMovWG0NC",
        REQ_TLSLD_ADR21 => "RequestTLSLDADR21",
        REQ_TLSLD_PAGE21 => "RequestTLSLDPage21",
        REQ_TLSLD_ADD_LO12 => "RequestTLSLDAddLo12",
        REQ_TLSLD_MOVW_G1 => "RequestTLSLDMovWG1",
        REQ_TLSLD_MOVW_G0_NC => "RequestTLSLDMovWG0NC",
        REQ_TLSLD_LDR_LITERAL19 => "RequestTLSLDLDRLiteral19",
        REQ_TLSDESC_LDR_LITERAL19 => "RequestTLSDescLDRLiteral19",
        REQ_TLSDESC_ADR21 => "RequestTLSDescADR21",
        REQ_TLSDESC_PAGE21 => "RequestTLSDescPage21",
        REQ_TLSDESC_LD64_LO12 => "RequestTLSDescLoad64Lo12",
        REQ_TLSDESC_ADD_LO12 => "RequestTLSDescAddLo12",
        REQ_TLSDESC_MOVW_G1 => "RequestTLSDescMovWG1",
        REQ_TLSDESC_MOVW_G0_NC => "RequestTLSDescMovWG0NC",
        REQ_DTPREL_MOVW_G2 => "RequestDTPRelMovWG2",
        REQ_DTPREL_MOVW_G1 => "RequestDTPRelMovWG1",
        REQ_DTPREL_MOVW_G1_NC => "RequestDTPRelMovWG1NC",
        REQ_DTPREL_MOVW_G0 => "RequestDTPRelMovWG0",
        REQ_DTPREL_MOVW_G0_NC => "RequestDTPRelMovWG0NC",
        REQ_DTPREL_ADD_HI12 => "RequestDTPRelAddHi12",
        REQ_DTPREL_ADD_LO12 => "RequestDTPRelAddLo12",
        REQ_DTPREL_ADD_LO12_NC => "RequestDTPRelAddLo12NC",
        REQ_DTPREL_LDST8_LO12 => "RequestDTPRelLoadStore8Lo12",
        REQ_DTPREL_LDST16_LO12 => "RequestDTPRelLoadStore16Lo12",
        REQ_DTPREL_LDST32_LO12 => "RequestDTPRelLoadStore32Lo12",
        REQ_DTPREL_LDST64_LO12 => "RequestDTPRelLoadStore64Lo12",
        REQ_DTPREL_LDST128_LO12 => "RequestDTPRelLoadStore128Lo12",
        REQ_DTPREL_LDST8_LO12_NC => "RequestDTPRelLoadStore8Lo12NC",
        REQ_DTPREL_LDST16_LO12_NC => "RequestDTPRelLoadStore16Lo12NC",
        REQ_DTPREL_LDST32_LO12_NC => "RequestDTPRelLoadStore32Lo12NC",
        REQ_DTPREL_LDST64_LO12_NC => "RequestDTPRelLoadStore64Lo12NC",
        REQ_DTPREL_LDST128_LO12_NC => "RequestDTPRelLoadStore128Lo12NC",
        REQ_DTPREL64 => "RequestDTPRel64",
        _ => "Unknown",
    }
}

/// True for direct branch edges recorded as call sites: `B`/`BL`
/// ([`BRANCH26`]), the whole-word forms `super::redirect` patches.
pub fn is_branch(k: EdgeKind) -> bool {
    k == BRANCH26
}

/// True for edges the GOT/PLT pass may point at a stub, whose fixup then
/// goes straight to the stub's final target when it is in range:
/// [`BRANCH26`], [`BRANCH19`], [`BRANCH14`] and [`PLT32`].
pub fn has_bypass(k: EdgeKind) -> bool {
    matches!(k, BRANCH26 | BRANCH19 | BRANCH14 | PLT32)
}

/// True for kinds whose range check needs an absolute address below
/// 4 GiB: R_AARCH64_ABS32 (`X < 2^32`), MOVW_UABS_G1 (`X < 2^32`) and
/// MOVW_SABS_G1 (`-2^32 <= X < 2^32`); a link using them on its own
/// symbols must live low, as x86-64's `Pointer32` (below 2 GiB is enough).
/// `Arch::needs_low_address` does not dispatch here yet. 16-bit absolute
/// fields (ABS16, MOVW group 0) cannot be helped by placement and stay
/// range-checked.
pub fn needs_low_address(k: EdgeKind) -> bool {
    matches!(k, POINTER32 | MOVW_UABS_G1 | MOVW_SABS_G1)
}

/// True for the branch kinds (immediate branches of every width).
pub fn is_any_branch(k: EdgeKind) -> bool {
    matches!(k, BRANCH26 | BRANCH19 | BRANCH14)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_name() {
        for k in 0..=REQ_MOVW_GOTOFF_G3.0 {
            let named = kind_name(EdgeKind(k)) != "Unknown";
            let defined = k <= VENEER.0 || k >= FIRST_REQUEST.0;
            assert_eq!(named, defined, "kind {k}");
        }
        assert_eq!(kind_name(EdgeKind(200)), "Unknown");
    }

    #[test]
    fn tls_kinds_are_named_and_lower_to_fixup_kinds() {
        let mut seen = std::collections::HashSet::new();
        for k in TLS_ADD_HI12.0..=REQ_DTPREL64.0 {
            let k = EdgeKind(k);
            let named = kind_name(k) != "Unknown";
            let known = tls_request(k).is_some() || dtprel_request(k).is_some() || k.0 <= TLS_LDST128_LO12.0;
            assert_eq!(named, known, "kind {}", k.0);
            if named {
                assert!(seen.insert(kind_name(k)), "duplicate name {}", kind_name(k));
            }
            let lowered = tls_request(k).map(|(_, l)| l).or(dtprel_request(k));
            if let Some(l) = lowered {
                assert!(
                    k.0 >= FIRST_REQUEST.0 && l.0 < FIRST_REQUEST.0
                        || l.0 >= TLS_ADD_HI12.0 && l.0 <= TLS_LDST128_LO12.0
                );
                assert_ne!(kind_name(l), "Unknown");
            }
        }
        assert_eq!(tls_request(REQ_TLSDESC_LD64_LO12), Some((TlsObject::Descriptor, LDST64_LO12)));
        assert_eq!(dtprel_request(REQ_DTPREL_ADD_HI12), Some(TLS_ADD_HI12));
        assert_eq!(dtprel_request(PAGE21), None);
    }

    #[test]
    fn classes() {
        assert!(is_branch(BRANCH26) && !is_branch(BRANCH19) && !is_branch(PLT32));
        for k in [BRANCH26, BRANCH19, BRANCH14, PLT32] {
            assert!(has_bypass(k), "{}", kind_name(k));
        }
        assert!(!has_bypass(DELTA32) && !has_bypass(REQ_GOT_PAGE21));
        assert!(needs_low_address(POINTER32) && needs_low_address(MOVW_UABS_G1));
        assert!(!needs_low_address(POINTER64) && !needs_low_address(MOVW_UABS_G0_NC));
    }
}
