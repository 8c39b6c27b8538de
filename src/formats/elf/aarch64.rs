//! ELF AArch64 relocation types and their mapping to AArch64 edge kinds
//! ("ELF for the Arm 64-bit Architecture (AArch64)", AAELF64 §5.7,
//! tables "Static Data relocations" through "Dynamic relocations"; PLT32
//! and GOTPCREL32 from the 2023Q3 and later releases).
//!
//! Every static relocation of LP64 is mapped. Thread-local storage
//! (AAELF64 §5.7.11) is served for the general dynamic (TLSGD_*), local
//! dynamic (TLSLD_*, including the DTPREL ones) and descriptor (TLSDESC_*)
//! models through the link's pairs and descriptors
//! ([`crate::arch::tls`]); initial exec (TLSIE_*) and local exec
//! (TLSLE_*) need the process's static TLS block and are refused with the
//! model and the way out ([`crate::arch::tls::INITIAL_EXEC`],
//! [`crate::arch::tls::LOCAL_EXEC`]). Dynamic relocations cannot appear in
//! a relocatable object; ILP32 (`R_AARCH64_P32_*`) relocations belong to
//! ELFCLASS32 objects, which are not linked.
//!
//! Instruction relocations are meant for SHT_RELA (every AArch64
//! toolchain emits RELA): an SHT_REL section would make the builder read
//! the instruction word as the implicit addend.

use crate::arch::aarch64::edges::*;
use crate::graph::EdgeKind;
use std::borrow::Cow;

pub use super::{Mapping, Target};

const fn m(kind: EdgeKind, width: u8, signed: bool, target: Target) -> Mapping {
    Mapping { kind, width, signed, target }
}

/// An instruction relocation (a 4-byte field) against the symbol.
const fn insn(kind: EdgeKind) -> Mapping {
    m(kind, 4, true, Target::Symbol)
}

/// An instruction relocation whose formula uses the file's GOT base.
const fn insn_got(kind: EdgeKind) -> Mapping {
    m(kind, 4, true, Target::SymbolNeedsGot)
}

/// Maps an `r_type` to an edge; `Err` gives why it is not supported.
pub fn map(r_type: u32) -> Result<Mapping, &'static str> {
    use Target::*;
    Ok(match r_type {
        // R_AARCH64_NONE, and 256, its withdrawn alias.
        0 | 256 => m(KEEP_ALIVE, 0, false, None),
        // Static data.
        257 => m(POINTER64, 8, true, Symbol),
        258 => m(POINTER32, 4, false, Symbol),
        259 => m(POINTER16, 2, false, Symbol),
        260 => m(DELTA64, 8, true, Symbol),
        261 => m(DELTA32, 4, true, Symbol),
        262 => m(DELTA16, 2, true, Symbol),
        314 => m(PLT32, 4, true, Symbol),
        315 => m(REQ_GOT_DELTA32, 4, true, Symbol),
        307 => m(DELTA64_FROM_GOT, 8, true, SymbolNeedsGot),
        308 => m(DELTA32_FROM_GOT, 4, true, SymbolNeedsGot),
        // Group relocations for MOVZ/MOVN/MOVK.
        263 => insn(MOVW_UABS_G0),
        264 => insn(MOVW_UABS_G0_NC),
        265 => insn(MOVW_UABS_G1),
        266 => insn(MOVW_UABS_G1_NC),
        267 => insn(MOVW_UABS_G2),
        268 => insn(MOVW_UABS_G2_NC),
        269 => insn(MOVW_UABS_G3),
        270 => insn(MOVW_SABS_G0),
        271 => insn(MOVW_SABS_G1),
        272 => insn(MOVW_SABS_G2),
        287 => insn(MOVW_PREL_G0),
        288 => insn(MOVW_PREL_G0_NC),
        289 => insn(MOVW_PREL_G1),
        290 => insn(MOVW_PREL_G1_NC),
        291 => insn(MOVW_PREL_G2),
        292 => insn(MOVW_PREL_G2_NC),
        293 => insn(MOVW_PREL_G3),
        300 => insn_got(REQ_MOVW_GOTOFF_G0),
        301 => insn_got(REQ_MOVW_GOTOFF_G0_NC),
        302 => insn_got(REQ_MOVW_GOTOFF_G1),
        303 => insn_got(REQ_MOVW_GOTOFF_G1_NC),
        304 => insn_got(REQ_MOVW_GOTOFF_G2),
        305 => insn_got(REQ_MOVW_GOTOFF_G2_NC),
        306 => insn_got(REQ_MOVW_GOTOFF_G3),
        // PC-relative addresses and loads.
        273 => insn(LDR_LITERAL19),
        274 => insn(ADR21),
        275 => insn(PAGE21),
        276 => insn(PAGE21_NC),
        277 => insn(ADD_LO12),
        278 => insn(LDST8_LO12),
        284 => insn(LDST16_LO12),
        285 => insn(LDST32_LO12),
        286 => insn(LDST64_LO12),
        299 => insn(LDST128_LO12),
        // Control flow.
        279 => insn(BRANCH14),
        280 => insn(BRANCH19),
        282 | 283 => insn(BRANCH26),
        // GOT.
        309 => insn(REQ_GOT_LDR_LITERAL19),
        310 => insn_got(REQ_GOT_OFFSET_LO15),
        311 => insn(REQ_GOT_PAGE21),
        312 => insn(REQ_GOT_LO12),
        313 => insn_got(REQ_GOT_PAGE_LO15),
        // Thread-local storage: general dynamic.
        512 => insn(REQ_TLSGD_ADR21),
        513 => insn(REQ_TLSGD_PAGE21),
        514 => insn(REQ_TLSGD_ADD_LO12),
        515 => insn_got(REQ_TLSGD_MOVW_G1),
        516 => insn_got(REQ_TLSGD_MOVW_G0_NC),
        // Local dynamic: the module's pair, then offsets in the block.
        517 => insn(REQ_TLSLD_ADR21),
        518 => insn(REQ_TLSLD_PAGE21),
        519 => insn(REQ_TLSLD_ADD_LO12),
        520 => insn_got(REQ_TLSLD_MOVW_G1),
        521 => insn_got(REQ_TLSLD_MOVW_G0_NC),
        522 => insn(REQ_TLSLD_LDR_LITERAL19),
        523 => insn(REQ_DTPREL_MOVW_G2),
        524 => insn(REQ_DTPREL_MOVW_G1),
        525 => insn(REQ_DTPREL_MOVW_G1_NC),
        526 => insn(REQ_DTPREL_MOVW_G0),
        527 => insn(REQ_DTPREL_MOVW_G0_NC),
        528 => insn(REQ_DTPREL_ADD_HI12),
        529 => insn(REQ_DTPREL_ADD_LO12),
        530 => insn(REQ_DTPREL_ADD_LO12_NC),
        531 => insn(REQ_DTPREL_LDST8_LO12),
        532 => insn(REQ_DTPREL_LDST8_LO12_NC),
        533 => insn(REQ_DTPREL_LDST16_LO12),
        534 => insn(REQ_DTPREL_LDST16_LO12_NC),
        535 => insn(REQ_DTPREL_LDST32_LO12),
        536 => insn(REQ_DTPREL_LDST32_LO12_NC),
        537 => insn(REQ_DTPREL_LDST64_LO12),
        538 => insn(REQ_DTPREL_LDST64_LO12_NC),
        572 => insn(REQ_DTPREL_LDST128_LO12),
        573 => insn(REQ_DTPREL_LDST128_LO12_NC),
        // Descriptors; LDR, ADD and CALL only mark the sequence for
        // relaxation, which a JIT does not do.
        560 => insn(REQ_TLSDESC_LDR_LITERAL19),
        561 => insn(REQ_TLSDESC_ADR21),
        562 => insn(REQ_TLSDESC_PAGE21),
        563 => insn(REQ_TLSDESC_LD64_LO12),
        564 => insn(REQ_TLSDESC_ADD_LO12),
        565 => insn_got(REQ_TLSDESC_MOVW_G1),
        566 => insn_got(REQ_TLSDESC_MOVW_G0_NC),
        567..=569 => m(KEEP_ALIVE, 0, false, Symbol),
        // Initial exec and local exec: the static TLS block.
        539..=543 => return Err(crate::arch::tls::INITIAL_EXEC),
        544..=559 | 570 | 571 => return Err(crate::arch::tls::LOCAL_EXEC),
        1024..=1032 => return Err("dynamic relocation in a relocatable object"),
        0x244 | 0x411 => return Err("pointer authentication (PAuth ABI) relocations are not supported"),
        1..=255 => return Err("ILP32 relocation in an LP64 (ELFCLASS64) object"),
        _ => return Err("unknown relocation type"),
    })
}

/// The psABI names of the static relocations 257..=315 (`None` for
/// unallocated numbers).
const STATIC_NAMES: [Option<&str>; 59] = [
    Some("R_AARCH64_ABS64"),
    Some("R_AARCH64_ABS32"),
    Some("R_AARCH64_ABS16"),
    Some("R_AARCH64_PREL64"),
    Some("R_AARCH64_PREL32"),
    Some("R_AARCH64_PREL16"),
    Some("R_AARCH64_MOVW_UABS_G0"),
    Some("R_AARCH64_MOVW_UABS_G0_NC"),
    Some("R_AARCH64_MOVW_UABS_G1"),
    Some("R_AARCH64_MOVW_UABS_G1_NC"),
    Some("R_AARCH64_MOVW_UABS_G2"),
    Some("R_AARCH64_MOVW_UABS_G2_NC"),
    Some("R_AARCH64_MOVW_UABS_G3"),
    Some("R_AARCH64_MOVW_SABS_G0"),
    Some("R_AARCH64_MOVW_SABS_G1"),
    Some("R_AARCH64_MOVW_SABS_G2"),
    Some("R_AARCH64_LD_PREL_LO19"),
    Some("R_AARCH64_ADR_PREL_LO21"),
    Some("R_AARCH64_ADR_PREL_PG_HI21"),
    Some("R_AARCH64_ADR_PREL_PG_HI21_NC"),
    Some("R_AARCH64_ADD_ABS_LO12_NC"),
    Some("R_AARCH64_LDST8_ABS_LO12_NC"),
    Some("R_AARCH64_TSTBR14"),
    Some("R_AARCH64_CONDBR19"),
    None,
    Some("R_AARCH64_JUMP26"),
    Some("R_AARCH64_CALL26"),
    Some("R_AARCH64_LDST16_ABS_LO12_NC"),
    Some("R_AARCH64_LDST32_ABS_LO12_NC"),
    Some("R_AARCH64_LDST64_ABS_LO12_NC"),
    Some("R_AARCH64_MOVW_PREL_G0"),
    Some("R_AARCH64_MOVW_PREL_G0_NC"),
    Some("R_AARCH64_MOVW_PREL_G1"),
    Some("R_AARCH64_MOVW_PREL_G1_NC"),
    Some("R_AARCH64_MOVW_PREL_G2"),
    Some("R_AARCH64_MOVW_PREL_G2_NC"),
    Some("R_AARCH64_MOVW_PREL_G3"),
    None,
    None,
    None,
    None,
    None,
    Some("R_AARCH64_LDST128_ABS_LO12_NC"),
    Some("R_AARCH64_MOVW_GOTOFF_G0"),
    Some("R_AARCH64_MOVW_GOTOFF_G0_NC"),
    Some("R_AARCH64_MOVW_GOTOFF_G1"),
    Some("R_AARCH64_MOVW_GOTOFF_G1_NC"),
    Some("R_AARCH64_MOVW_GOTOFF_G2"),
    Some("R_AARCH64_MOVW_GOTOFF_G2_NC"),
    Some("R_AARCH64_MOVW_GOTOFF_G3"),
    Some("R_AARCH64_GOTREL64"),
    Some("R_AARCH64_GOTREL32"),
    Some("R_AARCH64_GOT_LD_PREL19"),
    Some("R_AARCH64_LD64_GOTOFF_LO15"),
    Some("R_AARCH64_ADR_GOT_PAGE"),
    Some("R_AARCH64_LD64_GOT_LO12_NC"),
    Some("R_AARCH64_LD64_GOTPAGE_LO15"),
    Some("R_AARCH64_PLT32"),
    Some("R_AARCH64_GOTPCREL32"),
];

/// The psABI names of the TLS relocations 512..=573.
const TLS_NAMES: [&str; 62] = [
    "R_AARCH64_TLSGD_ADR_PREL21",
    "R_AARCH64_TLSGD_ADR_PAGE21",
    "R_AARCH64_TLSGD_ADD_LO12_NC",
    "R_AARCH64_TLSGD_MOVW_G1",
    "R_AARCH64_TLSGD_MOVW_G0_NC",
    "R_AARCH64_TLSLD_ADR_PREL21",
    "R_AARCH64_TLSLD_ADR_PAGE21",
    "R_AARCH64_TLSLD_ADD_LO12_NC",
    "R_AARCH64_TLSLD_MOVW_G1",
    "R_AARCH64_TLSLD_MOVW_G0_NC",
    "R_AARCH64_TLSLD_LD_PREL19",
    "R_AARCH64_TLSLD_MOVW_DTPREL_G2",
    "R_AARCH64_TLSLD_MOVW_DTPREL_G1",
    "R_AARCH64_TLSLD_MOVW_DTPREL_G1_NC",
    "R_AARCH64_TLSLD_MOVW_DTPREL_G0",
    "R_AARCH64_TLSLD_MOVW_DTPREL_G0_NC",
    "R_AARCH64_TLSLD_ADD_DTPREL_HI12",
    "R_AARCH64_TLSLD_ADD_DTPREL_LO12",
    "R_AARCH64_TLSLD_ADD_DTPREL_LO12_NC",
    "R_AARCH64_TLSLD_LDST8_DTPREL_LO12",
    "R_AARCH64_TLSLD_LDST8_DTPREL_LO12_NC",
    "R_AARCH64_TLSLD_LDST16_DTPREL_LO12",
    "R_AARCH64_TLSLD_LDST16_DTPREL_LO12_NC",
    "R_AARCH64_TLSLD_LDST32_DTPREL_LO12",
    "R_AARCH64_TLSLD_LDST32_DTPREL_LO12_NC",
    "R_AARCH64_TLSLD_LDST64_DTPREL_LO12",
    "R_AARCH64_TLSLD_LDST64_DTPREL_LO12_NC",
    "R_AARCH64_TLSIE_MOVW_GOTTPREL_G1",
    "R_AARCH64_TLSIE_MOVW_GOTTPREL_G0_NC",
    "R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21",
    "R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC",
    "R_AARCH64_TLSIE_LD_GOTTPREL_PREL19",
    "R_AARCH64_TLSLE_MOVW_TPREL_G2",
    "R_AARCH64_TLSLE_MOVW_TPREL_G1",
    "R_AARCH64_TLSLE_MOVW_TPREL_G1_NC",
    "R_AARCH64_TLSLE_MOVW_TPREL_G0",
    "R_AARCH64_TLSLE_MOVW_TPREL_G0_NC",
    "R_AARCH64_TLSLE_ADD_TPREL_HI12",
    "R_AARCH64_TLSLE_ADD_TPREL_LO12",
    "R_AARCH64_TLSLE_ADD_TPREL_LO12_NC",
    "R_AARCH64_TLSLE_LDST8_TPREL_LO12",
    "R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC",
    "R_AARCH64_TLSLE_LDST16_TPREL_LO12",
    "R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC",
    "R_AARCH64_TLSLE_LDST32_TPREL_LO12",
    "R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC",
    "R_AARCH64_TLSLE_LDST64_TPREL_LO12",
    "R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC",
    "R_AARCH64_TLSDESC_LD_PREL19",
    "R_AARCH64_TLSDESC_ADR_PREL21",
    "R_AARCH64_TLSDESC_ADR_PAGE21",
    "R_AARCH64_TLSDESC_LD64_LO12",
    "R_AARCH64_TLSDESC_ADD_LO12",
    "R_AARCH64_TLSDESC_OFF_G1",
    "R_AARCH64_TLSDESC_OFF_G0_NC",
    "R_AARCH64_TLSDESC_LDR",
    "R_AARCH64_TLSDESC_ADD",
    "R_AARCH64_TLSDESC_CALL",
    "R_AARCH64_TLSLE_LDST128_TPREL_LO12",
    "R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC",
    "R_AARCH64_TLSLD_LDST128_DTPREL_LO12",
    "R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC",
];

/// The psABI names of the dynamic relocations 1024..=1032.
const DYNAMIC_NAMES: [&str; 9] = [
    "R_AARCH64_COPY",
    "R_AARCH64_GLOB_DAT",
    "R_AARCH64_JUMP_SLOT",
    "R_AARCH64_RELATIVE",
    "R_AARCH64_TLS_DTPMOD",
    "R_AARCH64_TLS_DTPREL",
    "R_AARCH64_TLS_TPREL",
    "R_AARCH64_TLSDESC",
    "R_AARCH64_IRELATIVE",
];

/// The psABI name of an AArch64 relocation type (`type N` if unknown).
pub fn reloc_name(r_type: u16) -> Cow<'static, str> {
    let t = r_type as usize;
    let name = match r_type {
        0 | 256 => Some("R_AARCH64_NONE"),
        257..=315 => STATIC_NAMES[t - 257],
        512..=573 => Some(TLS_NAMES[t - 512]),
        1024..=1032 => Some(DYNAMIC_NAMES[t - 1024]),
        0x244 => Some("R_AARCH64_AUTH_ABS64"),
        0x411 => Some("R_AARCH64_AUTH_RELATIVE"),
        _ => None,
    };
    match name {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(format!("type {r_type}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::elf;

    /// Every name agrees with the `object` crate's constant of that number.
    #[test]
    fn names_agree_with_object_crate() {
        let known: &[(u32, &str)] = &[
            (elf::R_AARCH64_NONE, "R_AARCH64_NONE"),
            (elf::R_AARCH64_ABS64, "R_AARCH64_ABS64"),
            (elf::R_AARCH64_PREL16, "R_AARCH64_PREL16"),
            (elf::R_AARCH64_MOVW_SABS_G2, "R_AARCH64_MOVW_SABS_G2"),
            (elf::R_AARCH64_CONDBR19, "R_AARCH64_CONDBR19"),
            (elf::R_AARCH64_JUMP26, "R_AARCH64_JUMP26"),
            (elf::R_AARCH64_CALL26, "R_AARCH64_CALL26"),
            (elf::R_AARCH64_LDST64_ABS_LO12_NC, "R_AARCH64_LDST64_ABS_LO12_NC"),
            (elf::R_AARCH64_MOVW_PREL_G3, "R_AARCH64_MOVW_PREL_G3"),
            (elf::R_AARCH64_LDST128_ABS_LO12_NC, "R_AARCH64_LDST128_ABS_LO12_NC"),
            (elf::R_AARCH64_MOVW_GOTOFF_G3, "R_AARCH64_MOVW_GOTOFF_G3"),
            (elf::R_AARCH64_GOTREL32, "R_AARCH64_GOTREL32"),
            (elf::R_AARCH64_LD64_GOTPAGE_LO15, "R_AARCH64_LD64_GOTPAGE_LO15"),
            (elf::R_AARCH64_TLSGD_ADR_PREL21, "R_AARCH64_TLSGD_ADR_PREL21"),
            (elf::R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21, "R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21"),
            (elf::R_AARCH64_TLSDESC_CALL, "R_AARCH64_TLSDESC_CALL"),
            (elf::R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC, "R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC"),
            (elf::R_AARCH64_COPY, "R_AARCH64_COPY"),
            (elf::R_AARCH64_IRELATIVE, "R_AARCH64_IRELATIVE"),
        ];
        for &(t, n) in known {
            assert_eq!(reloc_name(t as u16), n);
        }
        assert_eq!(reloc_name(314), "R_AARCH64_PLT32");
        assert_eq!(reloc_name(315), "R_AARCH64_GOTPCREL32");
        assert_eq!(reloc_name(281), "type 281");
        assert_eq!(reloc_name(700), "type 700");
    }

    #[test]
    fn every_static_type_maps() {
        for t in 257..=315u32 {
            let named = reloc_name(t as u16).starts_with("R_");
            assert_eq!(map(t).is_ok(), named, "{}", reloc_name(t as u16));
            if let Ok(mp) = map(t) {
                let data = matches!(t, 257..=262 | 307 | 308 | 314 | 315);
                assert_eq!(mp.width, if data { mp.width } else { 4 }, "{}", reloc_name(t as u16));
            }
        }
        assert!(map(0).is_ok() && map(256).is_ok());
        assert_eq!(map(1026), Err("dynamic relocation in a relocatable object"));
        assert!(map(281).is_err() && map(5000).is_err());
        assert_eq!(map(283).unwrap().kind, BRANCH26);
        assert_eq!(map(311).unwrap().kind, REQ_GOT_PAGE21);
        assert_eq!(map(313).unwrap().target, Target::SymbolNeedsGot);
    }

    /// Every TLS type: general dynamic, local dynamic and descriptors map
    /// (to requests, or markers), initial exec and local exec are refused
    /// naming the model and the way out.
    #[test]
    fn tls_types_map_or_name_the_model() {
        use crate::arch::tls::{INITIAL_EXEC, LOCAL_EXEC};
        for t in 512..=573u32 {
            let name = reloc_name(t as u16);
            let ie = name.contains("TLSIE_");
            let le = name.contains("TLSLE_");
            match map(t) {
                Ok(mp) => {
                    assert!(!ie && !le, "{name} must be refused");
                    assert_eq!(mp.width, if (567..=569).contains(&t) { 0 } else { 4 }, "{name}");
                    let lowered = tls_request(mp.kind).is_some() || dtprel_request(mp.kind).is_some();
                    assert!(lowered || mp.kind == KEEP_ALIVE, "{name} maps to {}", kind_name(mp.kind));
                    // TLSDESC_LDR, TLSDESC_ADD, TLSDESC_CALL: markers only.
                    assert_eq!(mp.kind == KEEP_ALIVE, (567..=569).contains(&t), "{name}");
                }
                Err(e) => {
                    assert!(ie || le, "{name} must map: {e}");
                    assert_eq!(e, if ie { INITIAL_EXEC } else { LOCAL_EXEC }, "{name}");
                    assert!(e.contains("-fPIC") && e.contains("-ftls-model=global-dynamic"));
                }
            }
        }
        // The psABI formula's pieces, by name.
        assert_eq!(map(elf::R_AARCH64_TLSDESC_ADR_PAGE21).unwrap().kind, REQ_TLSDESC_PAGE21);
        assert_eq!(map(elf::R_AARCH64_TLSDESC_LD64_LO12).unwrap().kind, REQ_TLSDESC_LD64_LO12);
        assert_eq!(map(elf::R_AARCH64_TLSDESC_ADD_LO12).unwrap().kind, REQ_TLSDESC_ADD_LO12);
        assert_eq!(map(elf::R_AARCH64_TLSDESC_CALL).unwrap().kind, KEEP_ALIVE);
        assert_eq!(map(elf::R_AARCH64_TLSGD_ADR_PAGE21).unwrap().kind, REQ_TLSGD_PAGE21);
        assert_eq!(map(elf::R_AARCH64_TLSGD_ADD_LO12_NC).unwrap().kind, REQ_TLSGD_ADD_LO12);
        assert_eq!(map(elf::R_AARCH64_TLSLD_ADD_DTPREL_HI12).unwrap().kind, REQ_DTPREL_ADD_HI12);
        assert_eq!(map(elf::R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC).unwrap().kind, REQ_DTPREL_LDST128_LO12_NC);
        assert_eq!(map(elf::R_AARCH64_TLSGD_MOVW_G1).unwrap().target, Target::SymbolNeedsGot);
        assert_eq!(map(elf::R_AARCH64_TLSDESC_OFF_G0_NC).unwrap().target, Target::SymbolNeedsGot);
    }
}
