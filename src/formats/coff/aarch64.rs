//! COFF ARM64 relocation types (Microsoft PE/COFF specification, "Type
//! Indicators", "ARM64 Processors") and their mapping onto AArch64 edge
//! kinds.
//!
//! Addends are implicit, in the field: data fields hold them; an
//! instruction holds its addend in the immediate the relocation fills (as
//! LLVM and LLD read them): `B`/`BL`, `B.cond`/`CBZ`, `TBZ` the branch
//! offset, `ADRP` (PAGEBASE_REL21) and `ADR` (REL21) a byte offset in
//! immhi:immlo, `ADD` its imm12, a load/store its scaled imm12. The spec's
//! formulas:
//! * `ADDR32` / `ADDR64`: "the 32-bit / 64-bit VA of the target";
//!   `ADDR32NB`: "the 32-bit RVA" (`S + A - __ImageBase`);
//! * `BRANCH26` / `BRANCH19` / `BRANCH14`: "the 26/19/14-bit offset to the
//!   relocation target" of B/BL, B.cond/CBZ/CBNZ, TBZ/TBNZ;
//! * `PAGEBASE_REL21`: "the page base of the target, for ADRP";
//!   `REL21`: "the 12-bit relative displacement to the target, for
//!   instruction ADR"; `PAGEOFFSET_12A`: "the 12-bit page offset of the
//!   target, for instructions ADD/ADDS (immediate) with zero shift";
//!   `PAGEOFFSET_12L`: "the 12-bit page offset of the target, for
//!   instruction LDR (indexed, unsigned immediate)";
//! * `SECREL`, `SECREL_LOW12A`, `SECREL_HIGH12A`, `SECREL_LOW12L`: offsets
//!   from the start of the target's section; `SECTION`: its 16-bit index;
//! * `REL32`: "the 32-bit relative address from the byte following the
//!   relocation" (`S + A - (P + 4)`);
//! * `TOKEN` (CLR) is refused.

use super::{Extra, Plan};
use crate::arch::aarch64::edges::*;
use crate::arch::aarch64::fixup::{instruction_immediate, ldst_scale};
use std::borrow::Cow;

/// The PE/COFF name of an `IMAGE_REL_ARM64_*` type.
pub fn reloc_name(t: u16) -> Cow<'static, str> {
    const NAMES: [&str; 18] = [
        "IMAGE_REL_ARM64_ABSOLUTE",
        "IMAGE_REL_ARM64_ADDR32",
        "IMAGE_REL_ARM64_ADDR32NB",
        "IMAGE_REL_ARM64_BRANCH26",
        "IMAGE_REL_ARM64_PAGEBASE_REL21",
        "IMAGE_REL_ARM64_REL21",
        "IMAGE_REL_ARM64_PAGEOFFSET_12A",
        "IMAGE_REL_ARM64_PAGEOFFSET_12L",
        "IMAGE_REL_ARM64_SECREL",
        "IMAGE_REL_ARM64_SECREL_LOW12A",
        "IMAGE_REL_ARM64_SECREL_HIGH12A",
        "IMAGE_REL_ARM64_SECREL_LOW12L",
        "IMAGE_REL_ARM64_TOKEN",
        "IMAGE_REL_ARM64_SECTION",
        "IMAGE_REL_ARM64_ADDR64",
        "IMAGE_REL_ARM64_BRANCH19",
        "IMAGE_REL_ARM64_BRANCH14",
        "IMAGE_REL_ARM64_REL32",
    ];
    match NAMES.get(t as usize) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(format!("type {t:#x}")),
    }
}

/// Width of the field of type `t` in bytes (0 for ABSOLUTE), or why the
/// type is not supported.
pub fn width(t: u16) -> Result<u8, &'static str> {
    Ok(match t {
        0 => 0,
        0xe => 8,
        0xd => 2,
        0xc => return Err("CLR token relocations are not supported"),
        1..=0x11 => 4,
        _ => return Err("unknown relocation type"),
    })
}

/// Maps relocation type `t` at `offset` of section bytes `sec` (the field
/// is in bounds: checked against [`width`]) to an edge.
///
/// # Errors
/// Why the type is not supported, or the instruction does not fit it.
pub fn map(t: u16, sec: &[u8], offset: usize) -> Result<Plan, &'static str> {
    let w = width(t)?;
    let field = &sec[offset..offset + w as usize];
    let data = match w {
        2 => i64::from(u16::from_le_bytes([field[0], field[1]])),
        4 => i64::from(i32::from_le_bytes([field[0], field[1], field[2], field[3]])),
        8 => i64::from_le_bytes(field.try_into().expect("8 bytes")),
        _ => 0,
    };
    let word = data as u32;
    let plan = |kind, addend| Plan { kind, width: w, addend, extra: Extra::None };
    let imm = |kind| instruction_immediate(kind, word).unwrap_or(0);
    let scale = || ldst_scale(word).ok_or("PAGEOFFSET_12L / SECREL_LOW12L on an instruction that is not a load/store");
    Ok(match t {
        0 => plan(KEEP_ALIVE, 0),
        1 => plan(POINTER32, data),
        2 => Plan { extra: Extra::ImageBase(SUBTRAHEND), ..plan(IMAGE_REL32, data) },
        3 => plan(BRANCH26, imm(BRANCH26) * 4),
        4 => plan(PAGE21, imm(PAGE21)),
        5 => plan(ADR21, imm(ADR21)),
        6 => plan(ADD_LO12, imm(ADD_LO12)),
        7 => {
            let s = scale()?;
            let kind = [LDST8_LO12, LDST16_LO12, LDST32_LO12, LDST64_LO12, LDST128_LO12][s as usize];
            plan(kind, imm(kind) << s)
        }
        8 => Plan { extra: Extra::SectionBase(SUBTRAHEND), ..plan(SECREL32, data) },
        9 => Plan { extra: Extra::SectionBase(SUBTRAHEND), ..plan(SECREL_ADD_LO12, imm(SECREL_ADD_LO12)) },
        0xa => Plan { extra: Extra::SectionBase(SUBTRAHEND), ..plan(SECREL_ADD_HI12, imm(SECREL_ADD_HI12) << 12) },
        0xb => {
            let s = scale()?;
            Plan { extra: Extra::SectionBase(SUBTRAHEND), ..plan(SECREL_LDST_LO12, imm(SECREL_LDST_LO12) << s) }
        }
        0xd => Plan { extra: Extra::SectionIndex, ..plan(SECTION_INDEX16, data) },
        0xe => plan(POINTER64, data),
        0xf => plan(BRANCH19, imm(BRANCH19) * 4),
        0x10 => plan(BRANCH14, imm(BRANCH14) * 4),
        _ => plan(DELTA32, data - 4),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implicit_addends() {
        let bl = 0x9400_0002u32.to_le_bytes(); // bl .+8
        assert_eq!(map(3, &bl, 0).unwrap().addend, 8);
        let adrp = (0x9000_0000u32 | (16 >> 2) << 5).to_le_bytes(); // immhi:immlo = 16
        assert_eq!(map(4, &adrp, 0).unwrap().addend, 16);
        let ldr_q = 0x3dc0_0400u32.to_le_bytes(); // ldr q0, [x0, #16]
        let p = map(7, &ldr_q, 0).unwrap();
        assert_eq!((p.kind, p.addend), (LDST128_LO12, 16));
        let hi = (0x9140_0000u32 | 2 << 10).to_le_bytes();
        assert_eq!(map(0xa, &hi, 0).unwrap().addend, 0x2000);
        assert_eq!(map(0x11, &[8, 0, 0, 0], 0).unwrap().addend, 4);
        assert!(map(7, &bl, 0).is_err());
        assert!(map(0xc, &bl, 0).is_err());
        assert_eq!(reloc_name(0x11), "IMAGE_REL_ARM64_REL32");
    }
}
