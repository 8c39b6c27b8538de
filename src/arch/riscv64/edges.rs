//! RISC-V 64 edge kinds.
//!
//! Formulas use the RISC-V ELF psABI names ("Relocations"): S the target's
//! address, A the addend, P the address of the fixed-up field (for the
//! `AUIPC`+`JALR` pair: of the `AUIPC`), G + GOT the address of the
//! target's GOT entry, L the address of its stub. Displacements are in
//! bytes. Instruction fields follow "The RISC-V Instruction Set Manual,
//! Volume I" (base formats B/J/U/I/S, compressed formats CB/CJ);
//! instructions are always little-endian.
//!
//! `REQ_*` kinds are requests that the post-prune pass
//! ([`super::got_plt::build`]) or the pre-fixup pass
//! ([`super::got_plt::pre_fixup`]) lowers; they never reach
//! [`super::fixup::apply_fixup`]. [`RELAX`] and [`ALIGN`] are markers the
//! relaxation pass ([`super::relax`]) consumes.

use crate::graph::EdgeKind;

/// Keeps the target alive; no fixup (R_RISCV_NONE).
pub const KEEP_ALIVE: EdgeKind = EdgeKind::KEEP_ALIVE;
/// 64-bit `S + A` (R_RISCV_64).
pub const POINTER64: EdgeKind = EdgeKind(1);
/// 32-bit `S + A`, must fit `-2^31..2^32` (R_RISCV_32; the check is lld's).
pub const POINTER32: EdgeKind = EdgeKind(2);
/// 32-bit signed `S + A - P` (R_RISCV_32_PCREL; R_RISCV_PLT32 and
/// R_RISCV_GOT32_PCREL once lowered to a stub or GOT entry).
pub const DELTA32: EdgeKind = EdgeKind(3);
/// Conditional branch (B-type imm12): `S + A - P`, even, `-4096..=4094`
/// (R_RISCV_BRANCH).
pub const BRANCH: EdgeKind = EdgeKind(4);
/// `JAL` (J-type imm20): `S + A - P`, even, `-2^20..=2^20 - 2`
/// (R_RISCV_JAL); a call site.
pub const JAL: EdgeKind = EdgeKind(5);
/// `AUIPC rX; JALR rd, rX` pair, 8 bytes: `S + A - P` split into hi20
/// (`(v + 0x800) >> 12`) and lo12, `v` in `-2^31 - 2^11..=2^31 - 2^11 - 1`
/// (R_RISCV_CALL / R_RISCV_CALL_PLT to a target in the link); a call site.
pub const CALL: EdgeKind = EdgeKind(6);
/// `AUIPC` hi20 of `S + A - P` (R_RISCV_PCREL_HI20; R_RISCV_GOT_HI20
/// once lowered, with S the GOT entry).
pub const PCREL_HI20: EdgeKind = EdgeKind(7);
/// I-type lo12 of `S + A - P` where S and A were rewritten by
/// [`super::got_plt::pre_fixup`] so that the value is the partner
/// `PCREL_HI20`'s (R_RISCV_PCREL_LO12_I, resolved).
pub const PCREL_LO12_I: EdgeKind = EdgeKind(8);
/// S-type lo12 of the partner's value (R_RISCV_PCREL_LO12_S, resolved).
pub const PCREL_LO12_S: EdgeKind = EdgeKind(9);
/// `LUI` hi20 of `S + A` (R_RISCV_HI20), `S + A` within `±2^31` after
/// rounding.
pub const HI20: EdgeKind = EdgeKind(10);
/// I-type lo12 of `S + A` (R_RISCV_LO12_I); no check.
pub const LO12_I: EdgeKind = EdgeKind(11);
/// S-type lo12 of `S + A` (R_RISCV_LO12_S); no check.
pub const LO12_S: EdgeKind = EdgeKind(12);
/// `C.BEQZ`/`C.BNEZ` (CB-type): `S + A - P`, even, `-256..=254`
/// (R_RISCV_RVC_BRANCH).
pub const RVC_BRANCH: EdgeKind = EdgeKind(13);
/// `C.J` (CJ-type): `S + A - P`, even, `-2048..=2046` (R_RISCV_RVC_JUMP;
/// also a relaxed tail call).
pub const RVC_JUMP: EdgeKind = EdgeKind(14);
/// 8-bit `V + S + A`, wrapping (R_RISCV_ADD8).
pub const ADD8: EdgeKind = EdgeKind(15);
/// 16-bit `V + S + A`, wrapping (R_RISCV_ADD16).
pub const ADD16: EdgeKind = EdgeKind(16);
/// 32-bit `V + S + A`, wrapping (R_RISCV_ADD32).
pub const ADD32: EdgeKind = EdgeKind(17);
/// 64-bit `V + S + A`, wrapping (R_RISCV_ADD64).
pub const ADD64: EdgeKind = EdgeKind(18);
/// 8-bit `V - S - A`, wrapping (R_RISCV_SUB8).
pub const SUB8: EdgeKind = EdgeKind(19);
/// 16-bit `V - S - A`, wrapping (R_RISCV_SUB16).
pub const SUB16: EdgeKind = EdgeKind(20);
/// 32-bit `V - S - A`, wrapping (R_RISCV_SUB32).
pub const SUB32: EdgeKind = EdgeKind(21);
/// 64-bit `V - S - A`, wrapping (R_RISCV_SUB64).
pub const SUB64: EdgeKind = EdgeKind(22);
/// Low 6 bits of a byte: `V - S - A`, upper 2 bits kept (R_RISCV_SUB6).
pub const SUB6: EdgeKind = EdgeKind(23);
/// Low 6 bits of a byte: `S + A`, upper 2 bits kept (R_RISCV_SET6).
pub const SET6: EdgeKind = EdgeKind(24);
/// 8-bit `S + A`, truncated (R_RISCV_SET8).
pub const SET8: EdgeKind = EdgeKind(25);
/// 16-bit `S + A`, truncated (R_RISCV_SET16).
pub const SET16: EdgeKind = EdgeKind(26);
/// 32-bit `S + A`, truncated (R_RISCV_SET32).
pub const SET32: EdgeKind = EdgeKind(27);
/// ULEB128 `S + A` (mod 2^64) in the field's existing encoded length,
/// which must hold it (R_RISCV_SET_ULEB128; its R_RISCV_SUB_ULEB128
/// partner is folded into A by [`super::got_plt::pre_fixup`]).
pub const SET_ULEB128: EdgeKind = EdgeKind(28);
/// R_RISCV_SUB_ULEB128: only valid right after a [`SET_ULEB128`] at the
/// same offset, into which the pre-fixup pass folds it.
pub const SUB_ULEB128: EdgeKind = EdgeKind(29);
/// Marker (R_RISCV_RELAX): the instruction at this offset may be relaxed.
pub const RELAX: EdgeKind = EdgeKind(30);
/// Marker (R_RISCV_ALIGN): A bytes of NOPs here, of which the relaxation
/// pass keeps only what aligns the next instruction to the power of two
/// above A.
pub const ALIGN: EdgeKind = EdgeKind(31);

/// [`CALL`] whose target is a stub (PLT entry or veneer): to the stub's
/// final target (`bypass`) when that is in range, else to the stub (L).
pub const CALL_VIA_STUB: EdgeKind = EdgeKind(40);
/// [`JAL`] whose target is a veneer, bypassed when the final target is in range.
pub const JAL_VIA_STUB: EdgeKind = EdgeKind(41);
/// [`BRANCH`] whose target is a veneer, bypassed when in range.
pub const BRANCH_VIA_STUB: EdgeKind = EdgeKind(42);
/// [`RVC_BRANCH`] whose target is a veneer, bypassed when in range.
pub const RVC_BRANCH_VIA_STUB: EdgeKind = EdgeKind(43);
/// [`RVC_JUMP`] whose target is a veneer, bypassed when in range.
pub const RVC_JUMP_VIA_STUB: EdgeKind = EdgeKind(44);

/// Request: R_RISCV_CALL / R_RISCV_CALL_PLT (`S + A - P`, or `L + A - P`).
pub const REQ_CALL: EdgeKind = EdgeKind(64);
/// Request: R_RISCV_JAL.
pub const REQ_JAL: EdgeKind = EdgeKind(65);
/// Request: R_RISCV_BRANCH.
pub const REQ_BRANCH: EdgeKind = EdgeKind(66);
/// Request: R_RISCV_RVC_BRANCH.
pub const REQ_RVC_BRANCH: EdgeKind = EdgeKind(67);
/// Request: R_RISCV_RVC_JUMP.
pub const REQ_RVC_JUMP: EdgeKind = EdgeKind(68);
/// Request: R_RISCV_GOT_HI20 (`G + GOT + A - P`, hi20).
pub const REQ_GOT_HI20: EdgeKind = EdgeKind(69);
/// Request: R_RISCV_PCREL_LO12_I, target the label of its `AUIPC`.
pub const REQ_PCREL_LO12_I: EdgeKind = EdgeKind(70);
/// Request: R_RISCV_PCREL_LO12_S, target the label of its `AUIPC`.
pub const REQ_PCREL_LO12_S: EdgeKind = EdgeKind(71);
/// Request: R_RISCV_PLT32 (`L + A - P`, 32-bit).
pub const REQ_PLT32: EdgeKind = EdgeKind(72);
/// Request: R_RISCV_GOT32_PCREL (`G + GOT + A - P`, 32-bit).
pub const REQ_GOT32_PCREL: EdgeKind = EdgeKind(73);

// --- Thread-local storage (`crate::arch::tls`) ---
//
// The psABI ("Thread Local Storage") keeps a variable's `{module, offset}`
// pair (`tls_index`) or its TLS descriptor in the GOT; here they are the
// file's pair and descriptor blocks, and offsets are from the start of the
// link's TLS template, unbiased (no TLS_DTV_OFFSET).

/// Request: R_RISCV_TLS_GD_HI20 (`%tls_gd_pcrel_hi`: hi20 of `G + A - P`
/// with G the `{module, offset}` pair of the variable `S + A`); lowered to
/// [`PCREL_HI20`] to the pair, addend 0, so its R_RISCV_PCREL_LO12_I
/// partner resolves through it as for R_RISCV_PCREL_HI20.
pub const REQ_TLS_GD_HI20: EdgeKind = EdgeKind(74);
/// Request: R_RISCV_TLSDESC_HI20 (`%tlsdesc_hi`: hi20 of the descriptor of
/// `S + A` minus P); lowered to [`PCREL_HI20`] to the descriptor, addend 0.
/// Its R_RISCV_TLSDESC_LOAD_LO12 / TLSDESC_ADD_LO12 partners (`S - P`, S
/// the `AUIPC`'s label) map to [`REQ_PCREL_LO12_I`].
pub const REQ_TLSDESC_HI20: EdgeKind = EdgeKind(75);
/// Request: R_RISCV_TLS_DTPMOD64 (64-bit `TLSMODULE`): lowered to
/// [`POINTER64`] to the link's module descriptor.
pub const REQ_TLS_DTPMOD64: EdgeKind = EdgeKind(76);
/// Request: R_RISCV_TLS_DTPREL32 (32-bit offset of `S + A` in the TLS
/// block): [`POINTER32`] with the template's start folded into A at
/// pre-fixup.
pub const REQ_DTPREL32: EdgeKind = EdgeKind(77);
/// Request: R_RISCV_TLS_DTPREL64 (64-bit offset of `S + A` in the TLS
/// block; also a pair's offset word): [`POINTER64`] with the template's
/// start folded into A at pre-fixup.
pub const REQ_DTPREL64: EdgeKind = EdgeKind(78);

/// For a DTPREL request (lowered at pre-fixup): the kind it becomes.
pub fn dtprel_request(k: EdgeKind) -> Option<EdgeKind> {
    match k {
        REQ_DTPREL32 => Some(POINTER32),
        REQ_DTPREL64 => Some(POINTER64),
        _ => None,
    }
}

/// Name of a RISC-V edge kind, for `--show-graph` and messages.
pub fn kind_name(k: EdgeKind) -> &'static str {
    match k {
        KEEP_ALIVE => "KeepAlive",
        POINTER64 => "Pointer64",
        POINTER32 => "Pointer32",
        DELTA32 => "Delta32",
        BRANCH => "Branch",
        JAL => "Jal",
        CALL => "Call",
        PCREL_HI20 => "PCRelHi20",
        PCREL_LO12_I => "PCRelLo12I",
        PCREL_LO12_S => "PCRelLo12S",
        HI20 => "Hi20",
        LO12_I => "Lo12I",
        LO12_S => "Lo12S",
        RVC_BRANCH => "RVCBranch",
        RVC_JUMP => "RVCJump",
        ADD8 => "Add8",
        ADD16 => "Add16",
        ADD32 => "Add32",
        ADD64 => "Add64",
        SUB8 => "Sub8",
        SUB16 => "Sub16",
        SUB32 => "Sub32",
        SUB64 => "Sub64",
        SUB6 => "Sub6",
        SET6 => "Set6",
        SET8 => "Set8",
        SET16 => "Set16",
        SET32 => "Set32",
        SET_ULEB128 => "SetULEB128",
        SUB_ULEB128 => "SubULEB128",
        RELAX => "Relax",
        ALIGN => "Align",
        CALL_VIA_STUB => "CallViaStubBypassable",
        JAL_VIA_STUB => "JalViaStubBypassable",
        BRANCH_VIA_STUB => "BranchViaStubBypassable",
        RVC_BRANCH_VIA_STUB => "RVCBranchViaStubBypassable",
        RVC_JUMP_VIA_STUB => "RVCJumpViaStubBypassable",
        REQ_CALL => "RequestCall",
        REQ_JAL => "RequestJal",
        REQ_BRANCH => "RequestBranch",
        REQ_RVC_BRANCH => "RequestRVCBranch",
        REQ_RVC_JUMP => "RequestRVCJump",
        REQ_GOT_HI20 => "RequestGOTHi20",
        REQ_PCREL_LO12_I => "RequestPCRelLo12I",
        REQ_PCREL_LO12_S => "RequestPCRelLo12S",
        REQ_PLT32 => "RequestPLT32",
        REQ_GOT32_PCREL => "RequestGOT32PCRel",
        REQ_TLS_GD_HI20 => "RequestTLSGDHi20",
        REQ_TLSDESC_HI20 => "RequestTLSDescHi20",
        REQ_TLS_DTPMOD64 => "RequestTLSDTPMod64",
        REQ_DTPREL32 => "RequestDTPRel32",
        REQ_DTPREL64 => "RequestDTPRel64",
        _ => "Unknown",
    }
}

/// True for direct call/jump edges (call sites): `JAL` and the
/// `AUIPC`+`JALR` pair, direct or through a stub (see
/// [`super::redirect::SiteKind`]).
pub fn is_branch(k: EdgeKind) -> bool {
    matches!(k, JAL | CALL | JAL_VIA_STUB | CALL_VIA_STUB)
}

/// True for edges to a stub that the fixup may bypass (the driver then
/// passes the stub's final target in [`crate::arch::FixupInput::bypass`]).
pub fn has_bypass(k: EdgeKind) -> bool {
    matches!(k, CALL_VIA_STUB | JAL_VIA_STUB | BRANCH_VIA_STUB | RVC_BRANCH_VIA_STUB | RVC_JUMP_VIA_STUB)
}

/// True for edge kinds that hold an absolute address in a 32-bit
/// sign-extended field (`LUI` hi20, R_RISCV_32), so a link using them on
/// its own symbols must live within ±2 GiB of address 0 (the medlow code
/// model). For `Arch::needs_low_address`.
pub fn needs_low_address(k: EdgeKind) -> bool {
    matches!(k, HI20 | POINTER32)
}

/// True for request kinds (lowered before fixup).
pub fn is_request(k: EdgeKind) -> bool {
    k.0 >= REQ_CALL.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_kinds_are_requests_with_names() {
        for k in [REQ_TLS_GD_HI20, REQ_TLSDESC_HI20, REQ_TLS_DTPMOD64, REQ_DTPREL32, REQ_DTPREL64] {
            assert!(is_request(k) && kind_name(k).starts_with("Request"), "{}", k.0);
        }
        assert_eq!(dtprel_request(REQ_DTPREL32), Some(POINTER32));
        assert_eq!(dtprel_request(REQ_DTPREL64), Some(POINTER64));
        assert_eq!(dtprel_request(REQ_TLS_GD_HI20), None);
        let mut seen = std::collections::HashSet::new();
        for k in 0..=u8::MAX {
            let n = kind_name(EdgeKind(k));
            assert!(n == "Unknown" || seen.insert(n), "duplicate name {n}");
        }
    }
}
