//! ELF x86-64 relocation types and their mapping to x86-64 edge kinds
//! (System V AMD64 psABI §4.4, Table 4.9 "Relocation Types").

use crate::arch::x86_64::edges::*;
use crate::graph::EdgeKind;
use std::borrow::Cow;

pub use super::{Mapping, Target};

const fn m(kind: EdgeKind, width: u8, signed: bool, target: Target) -> Mapping {
    Mapping { kind, width, signed, target }
}

/// Maps an `r_type` to an edge; `Err` gives why it is not supported.
pub fn map(r_type: u32) -> Result<Mapping, &'static str> {
    use Target::*;
    Ok(match r_type {
        0 => m(KEEP_ALIVE, 0, false, None),
        1 => m(POINTER64, 8, true, Symbol),
        2 => m(DELTA32, 4, true, Symbol),
        3 => m(REQ_GOT_OFFSET32, 4, true, SymbolNeedsGot),
        4 => m(REQ_PLT_BRANCH32, 4, true, Symbol),
        9 => m(REQ_GOT_DELTA32, 4, true, Symbol),
        10 => m(POINTER32, 4, false, Symbol),
        11 => m(POINTER32_SIGNED, 4, true, Symbol),
        12 => m(POINTER16, 2, false, Symbol),
        13 => m(DELTA16, 2, true, Symbol),
        14 => m(POINTER8, 1, false, Symbol),
        15 => m(DELTA8, 1, true, Symbol),
        24 => m(DELTA64, 8, true, Symbol),
        25 => m(DELTA64_FROM_GOT, 8, true, SymbolNeedsGot),
        26 => m(DELTA32, 4, true, GotBase),
        27 | 30 => m(REQ_GOT_OFFSET64, 8, true, SymbolNeedsGot),
        28 => m(REQ_GOT_DELTA64, 8, true, Symbol),
        29 => m(DELTA64, 8, true, GotBase),
        31 => m(REQ_PLT_OFFSET64, 8, true, SymbolNeedsGot),
        32 => m(SIZE32, 4, false, Symbol),
        33 => m(SIZE64, 8, true, Symbol),
        41 => m(REQ_GOT_LOAD_RELAXABLE, 4, true, Symbol),
        42 => m(REQ_GOT_LOAD_REX_RELAXABLE, 4, true, Symbol),
        16 => m(TLS_MODULE64, 8, true, Symbol),
        17 => m(DTPOFF64, 8, true, Symbol),
        19 => m(REQ_TLSGD, 4, true, Symbol),
        20 => m(REQ_TLSLD, 4, true, Symbol),
        21 => m(DTPOFF32, 4, true, Symbol),
        34 => m(REQ_TLSDESC, 4, true, Symbol),
        35 => m(KEEP_ALIVE, 0, false, Symbol),
        22 => {
            return Err("initial-exec TLS needs the process's static TLS block, which a JIT cannot extend; \
                        recompile with -fPIC or -ftls-model=global-dynamic")
        }
        18 | 23 => {
            return Err("local-exec TLS needs the process's static TLS block, which a JIT cannot extend; \
                        recompile with -fPIC or -ftls-model=global-dynamic")
        }
        36 => return Err("R_X86_64_TLSDESC is a dynamic relocation, not expected in a relocatable object"),
        5..=8 | 37 | 38 => return Err("dynamic relocation in a relocatable object"),
        _ => return Err("unknown relocation type"),
    })
}

/// The psABI name of an x86-64 relocation type (`type N` if unknown).
pub fn reloc_name(r_type: u16) -> Cow<'static, str> {
    const NAMES: [&str; 43] = [
        "R_X86_64_NONE",
        "R_X86_64_64",
        "R_X86_64_PC32",
        "R_X86_64_GOT32",
        "R_X86_64_PLT32",
        "R_X86_64_COPY",
        "R_X86_64_GLOB_DAT",
        "R_X86_64_JUMP_SLOT",
        "R_X86_64_RELATIVE",
        "R_X86_64_GOTPCREL",
        "R_X86_64_32",
        "R_X86_64_32S",
        "R_X86_64_16",
        "R_X86_64_PC16",
        "R_X86_64_8",
        "R_X86_64_PC8",
        "R_X86_64_DTPMOD64",
        "R_X86_64_DTPOFF64",
        "R_X86_64_TPOFF64",
        "R_X86_64_TLSGD",
        "R_X86_64_TLSLD",
        "R_X86_64_DTPOFF32",
        "R_X86_64_GOTTPOFF",
        "R_X86_64_TPOFF32",
        "R_X86_64_PC64",
        "R_X86_64_GOTOFF64",
        "R_X86_64_GOTPC32",
        "R_X86_64_GOT64",
        "R_X86_64_GOTPCREL64",
        "R_X86_64_GOTPC64",
        "R_X86_64_GOTPLT64",
        "R_X86_64_PLTOFF64",
        "R_X86_64_SIZE32",
        "R_X86_64_SIZE64",
        "R_X86_64_GOTPC32_TLSDESC",
        "R_X86_64_TLSDESC_CALL",
        "R_X86_64_TLSDESC",
        "R_X86_64_IRELATIVE",
        "R_X86_64_RELATIVE64",
        "type 39",
        "type 40",
        "R_X86_64_GOTPCRELX",
        "R_X86_64_REX_GOTPCRELX",
    ];
    match NAMES.get(r_type as usize) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(format!("type {r_type}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_required_type_maps() {
        for t in [0u32, 1, 2, 4, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 31, 32, 33, 41, 42] {
            assert!(map(t).is_ok(), "{}", reloc_name(t as u16));
        }
        assert!(map(200).is_err());
        assert_eq!(reloc_name(42), "R_X86_64_REX_GOTPCRELX");
        assert_eq!(reloc_name(200), "type 200");
    }
}
