//! ELF RISC-V 64 relocation types and their mapping to RISC-V edge kinds
//! (RISC-V ELF psABI, "Relocations", table "Relocation types").
//!
//! Relocations that need a GOT entry, a stub, a partner relocation or
//! relaxation map to request kinds (`REQ_*`) that
//! [`crate::arch::riscv64::got_plt`] lowers; `R_RISCV_RELAX` and
//! `R_RISCV_ALIGN` (whose symbol is index 0) become marker edges that the
//! relaxation pass ([`crate::arch::riscv64::relax`]) consumes.
//!
//! Thread-local storage ([`crate::arch::tls`]): general dynamic
//! (`R_RISCV_TLS_GD_HI20` with its `%pcrel_lo` partner and a call to
//! `__tls_get_addr`; RISC-V has no separate local dynamic code) and TLS
//! descriptors (`R_RISCV_TLSDESC_*`) are served, as are the DTPMOD64 and
//! DTPREL32/64 data words; initial exec (`R_RISCV_TLS_GOT_HI20`) and local
//! exec (`R_RISCV_TPREL_*`) need the process's static TLS block and are
//! refused naming the model and the way out.

use crate::arch::riscv64::edges::*;
use crate::graph::EdgeKind;
use std::borrow::Cow;

pub use super::{Mapping, Target};

const fn m(kind: EdgeKind, width: u8, signed: bool, target: Target) -> Mapping {
    Mapping { kind, width, signed, target }
}

/// Maps an `r_type` to an edge; `Err` gives why it is not supported.
///
/// Widths are the bytes the relocation touches: 8 for the `AUIPC`+`JALR`
/// pair of `R_RISCV_CALL[_PLT]`, 2 for the compressed forms, 1 for the
/// ULEB128 pair (whose real length is read at fixup), 0 for markers.
pub fn map(r_type: u32) -> Result<Mapping, &'static str> {
    use Target::*;
    Ok(match r_type {
        0 => m(KEEP_ALIVE, 0, false, None),
        1 => m(POINTER32, 4, false, Symbol),
        2 => m(POINTER64, 8, true, Symbol),
        16 => m(REQ_BRANCH, 4, true, Symbol),
        17 => m(REQ_JAL, 4, true, Symbol),
        18 | 19 => m(REQ_CALL, 8, true, Symbol),
        20 => m(REQ_GOT_HI20, 4, true, Symbol),
        23 => m(PCREL_HI20, 4, true, Symbol),
        24 => m(REQ_PCREL_LO12_I, 4, true, Symbol),
        25 => m(REQ_PCREL_LO12_S, 4, true, Symbol),
        26 => m(HI20, 4, true, Symbol),
        27 => m(LO12_I, 4, true, Symbol),
        28 => m(LO12_S, 4, true, Symbol),
        33 => m(ADD8, 1, false, Symbol),
        34 => m(ADD16, 2, false, Symbol),
        35 => m(ADD32, 4, false, Symbol),
        36 => m(ADD64, 8, false, Symbol),
        37 => m(SUB8, 1, false, Symbol),
        38 => m(SUB16, 2, false, Symbol),
        39 => m(SUB32, 4, false, Symbol),
        40 => m(SUB64, 8, false, Symbol),
        41 => m(REQ_GOT32_PCREL, 4, true, Symbol),
        // The symbol of ALIGN and RELAX is index 0: `Symbol` keeps the
        // edge (against an absolute 0) where `None` would drop it.
        43 => m(ALIGN, 0, false, Symbol),
        44 => m(REQ_RVC_BRANCH, 2, true, Symbol),
        45 => m(REQ_RVC_JUMP, 2, true, Symbol),
        51 => m(RELAX, 0, false, Symbol),
        52 => m(SUB6, 1, false, Symbol),
        53 => m(SET6, 1, false, Symbol),
        54 => m(SET8, 1, false, Symbol),
        55 => m(SET16, 2, false, Symbol),
        56 => m(SET32, 4, false, Symbol),
        57 => m(DELTA32, 4, true, Symbol),
        59 => m(REQ_PLT32, 4, true, Symbol),
        60 => m(SET_ULEB128, 1, false, Symbol),
        61 => m(SUB_ULEB128, 1, false, Symbol),
        // Thread-local storage.
        7 => m(REQ_TLS_DTPMOD64, 8, true, Symbol),
        8 => m(REQ_DTPREL32, 4, false, Symbol),
        9 => m(REQ_DTPREL64, 8, true, Symbol),
        22 => m(REQ_TLS_GD_HI20, 4, true, Symbol),
        62 => m(REQ_TLSDESC_HI20, 4, true, Symbol),
        63 | 64 => m(REQ_PCREL_LO12_I, 4, true, Symbol),
        // Marks the `JALR` to the resolver for relaxation only.
        65 => m(KEEP_ALIVE, 0, false, Symbol),
        21 => return Err(crate::arch::tls::INITIAL_EXEC),
        10 | 11 | 29..=32 | 49 | 50 => return Err(crate::arch::tls::LOCAL_EXEC),
        6 => return Err("R_RISCV_TLS_DTPMOD32 is an RV32 relocation in an RV64 (ELFCLASS64) object"),
        3..=5 | 12 | 58 => return Err("dynamic relocation in a relocatable object"),
        46..=48 => return Err("obsolete relocation type (removed from the psABI)"),
        191 => return Err("vendor-specific relocations (R_RISCV_VENDOR) are not supported"),
        _ => return Err("unknown relocation type"),
    })
}

/// The psABI name of a RISC-V relocation type (`type N` if unknown).
pub fn reloc_name(r_type: u16) -> Cow<'static, str> {
    const NAMES: [&str; 66] = [
        "R_RISCV_NONE",
        "R_RISCV_32",
        "R_RISCV_64",
        "R_RISCV_RELATIVE",
        "R_RISCV_COPY",
        "R_RISCV_JUMP_SLOT",
        "R_RISCV_TLS_DTPMOD32",
        "R_RISCV_TLS_DTPMOD64",
        "R_RISCV_TLS_DTPREL32",
        "R_RISCV_TLS_DTPREL64",
        "R_RISCV_TLS_TPREL32",
        "R_RISCV_TLS_TPREL64",
        "R_RISCV_TLSDESC",
        "type 13",
        "type 14",
        "type 15",
        "R_RISCV_BRANCH",
        "R_RISCV_JAL",
        "R_RISCV_CALL",
        "R_RISCV_CALL_PLT",
        "R_RISCV_GOT_HI20",
        "R_RISCV_TLS_GOT_HI20",
        "R_RISCV_TLS_GD_HI20",
        "R_RISCV_PCREL_HI20",
        "R_RISCV_PCREL_LO12_I",
        "R_RISCV_PCREL_LO12_S",
        "R_RISCV_HI20",
        "R_RISCV_LO12_I",
        "R_RISCV_LO12_S",
        "R_RISCV_TPREL_HI20",
        "R_RISCV_TPREL_LO12_I",
        "R_RISCV_TPREL_LO12_S",
        "R_RISCV_TPREL_ADD",
        "R_RISCV_ADD8",
        "R_RISCV_ADD16",
        "R_RISCV_ADD32",
        "R_RISCV_ADD64",
        "R_RISCV_SUB8",
        "R_RISCV_SUB16",
        "R_RISCV_SUB32",
        "R_RISCV_SUB64",
        "R_RISCV_GOT32_PCREL",
        "type 42",
        "R_RISCV_ALIGN",
        "R_RISCV_RVC_BRANCH",
        "R_RISCV_RVC_JUMP",
        "R_RISCV_RVC_LUI",
        "R_RISCV_GPREL_I",
        "R_RISCV_GPREL_S",
        "R_RISCV_TPREL_I",
        "R_RISCV_TPREL_S",
        "R_RISCV_RELAX",
        "R_RISCV_SUB6",
        "R_RISCV_SET6",
        "R_RISCV_SET8",
        "R_RISCV_SET16",
        "R_RISCV_SET32",
        "R_RISCV_32_PCREL",
        "R_RISCV_IRELATIVE",
        "R_RISCV_PLT32",
        "R_RISCV_SET_ULEB128",
        "R_RISCV_SUB_ULEB128",
        "R_RISCV_TLSDESC_HI20",
        "R_RISCV_TLSDESC_LOAD_LO12",
        "R_RISCV_TLSDESC_ADD_LO12",
        "R_RISCV_TLSDESC_CALL",
    ];
    match NAMES.get(r_type as usize) {
        Some(n) if !n.starts_with("type ") => Cow::Borrowed(n),
        _ if r_type == 191 => Cow::Borrowed("R_RISCV_VENDOR"),
        _ => Cow::Owned(format!("type {r_type}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_required_type_maps() {
        let required = [
            0u32, 1, 2, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27, 28, 33, 34, 35, 36, 37, 38, 39, 40, 41, 43, 44, 45, 51,
            52, 53, 54, 55, 56, 57, 59, 60, 61,
        ];
        for t in required {
            assert!(map(t).is_ok(), "{}", reloc_name(t as u16));
        }
        assert!(map(3).is_err() && map(58).is_err() && map(46).is_err() && map(200).is_err());
        assert_eq!(reloc_name(19), "R_RISCV_CALL_PLT");
        assert_eq!(reloc_name(65), "R_RISCV_TLSDESC_CALL");
        assert_eq!(reloc_name(191), "R_RISCV_VENDOR");
        assert_eq!(reloc_name(42), "type 42");
        assert_eq!(reloc_name(200), "type 200");
    }

    #[test]
    fn tls_types_map_or_name_the_model() {
        use crate::arch::tls::{INITIAL_EXEC, LOCAL_EXEC};
        let served: &[(u32, EdgeKind)] = &[
            (7, REQ_TLS_DTPMOD64),
            (8, REQ_DTPREL32),
            (9, REQ_DTPREL64),
            (22, REQ_TLS_GD_HI20),
            (62, REQ_TLSDESC_HI20),
            (63, REQ_PCREL_LO12_I),
            (64, REQ_PCREL_LO12_I),
            (65, KEEP_ALIVE),
        ];
        for &(t, k) in served {
            assert_eq!(map(t).map(|mp| mp.kind), Ok(k), "{}", reloc_name(t as u16));
        }
        assert_eq!(map(21), Err(INITIAL_EXEC), "R_RISCV_TLS_GOT_HI20");
        for t in [10u32, 11, 29, 30, 31, 32, 49, 50] {
            assert_eq!(map(t), Err(LOCAL_EXEC), "{}", reloc_name(t as u16));
        }
        for e in [INITIAL_EXEC, LOCAL_EXEC] {
            assert!(e.contains("static TLS block") && e.contains("-fPIC") && e.contains("-ftls-model=global-dynamic"));
        }
        assert!(map(6).unwrap_err().contains("RV32"));
        assert_eq!(map(12), Err("dynamic relocation in a relocatable object"));
    }

    #[test]
    fn names_match_object_crate_constants() {
        use object::elf::*;
        for (t, n) in [
            (R_RISCV_BRANCH, "R_RISCV_BRANCH"),
            (R_RISCV_PCREL_LO12_S, "R_RISCV_PCREL_LO12_S"),
            (R_RISCV_SUB64, "R_RISCV_SUB64"),
            (R_RISCV_ALIGN, "R_RISCV_ALIGN"),
            (R_RISCV_RELAX, "R_RISCV_RELAX"),
            (R_RISCV_32_PCREL, "R_RISCV_32_PCREL"),
            (R_RISCV_SET_ULEB128, "R_RISCV_SET_ULEB128"),
            (R_RISCV_TLSDESC_CALL, "R_RISCV_TLSDESC_CALL"),
        ] {
            assert_eq!(reloc_name(t as u16), n);
        }
    }
}
