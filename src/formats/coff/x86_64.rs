//! COFF x86-64 relocation types (Microsoft PE/COFF specification, "Type
//! Indicators", "x64 Processors") and their mapping onto x86-64 edge kinds.
//!
//! COFF addends are implicit: the field holds them. The spec's rules:
//! * `ADDR64` / `ADDR32`: "the 64-bit VA" / "the 32-bit VA of the target";
//! * `ADDR32NB`: "the 32-bit address without an image base (RVA)":
//!   `S + A - __ImageBase`;
//! * `REL32`, `REL32_1`..`REL32_5`: "the 32-bit relative address from the
//!   byte following the relocation", plus 1..5 more bytes (an immediate
//!   follows the field): `S + A - (P + 4 + k)`. A `call`/`jmp`/`jcc` REL32
//!   to a symbol the link does not define goes through a stub, as a PLT32
//!   does on ELF;
//! * `SECTION`: "the 16-bit section index of the section that contains the
//!   target"; `SECREL`: "the 32-bit offset of the target from the beginning
//!   of its section"; `SECREL7`: "a 7-bit unsigned offset from the base of
//!   the section that contains the target";
//! * `TOKEN`, `SREL32`, `PAIR`, `SSPAN32` and later types (CLR tokens,
//!   span-dependent values, CFG/import hints) are refused.

use super::{Extra, Plan};
use crate::arch::x86_64::edges::*;
use crate::arch::x86_64::fixup::is_rel32_branch;
use std::borrow::Cow;

/// The PE/COFF name of an `IMAGE_REL_AMD64_*` type.
pub fn reloc_name(t: u16) -> Cow<'static, str> {
    const NAMES: [&str; 17] = [
        "IMAGE_REL_AMD64_ABSOLUTE",
        "IMAGE_REL_AMD64_ADDR64",
        "IMAGE_REL_AMD64_ADDR32",
        "IMAGE_REL_AMD64_ADDR32NB",
        "IMAGE_REL_AMD64_REL32",
        "IMAGE_REL_AMD64_REL32_1",
        "IMAGE_REL_AMD64_REL32_2",
        "IMAGE_REL_AMD64_REL32_3",
        "IMAGE_REL_AMD64_REL32_4",
        "IMAGE_REL_AMD64_REL32_5",
        "IMAGE_REL_AMD64_SECTION",
        "IMAGE_REL_AMD64_SECREL",
        "IMAGE_REL_AMD64_SECREL7",
        "IMAGE_REL_AMD64_TOKEN",
        "IMAGE_REL_AMD64_SREL32",
        "IMAGE_REL_AMD64_PAIR",
        "IMAGE_REL_AMD64_SSPAN32",
    ];
    match NAMES.get(t as usize) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(format!("type {t:#x}")),
    }
}

fn le(b: &[u8]) -> i64 {
    match b.len() {
        1 => i64::from(b[0]),
        2 => i64::from(u16::from_le_bytes([b[0], b[1]])),
        4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        _ => i64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
    }
}

/// Width of the field of type `t` in bytes (0 for ABSOLUTE), or why the
/// type is not supported.
pub fn width(t: u16) -> Result<u8, &'static str> {
    Ok(match t {
        0 => 0,
        1 => 8,
        2..=9 | 0xb => 4,
        0xa => 2,
        0xc => 1,
        0xd => return Err("CLR token relocations are not supported"),
        0xe..=0x10 => return Err("span-dependent relocations (SREL32, PAIR, SSPAN32) are not supported"),
        _ => return Err("unknown relocation type"),
    })
}

/// Maps relocation type `t` at `offset` of section bytes `sec` (the field
/// is in bounds: checked against [`width`]) to an edge.
///
/// # Errors
/// Why the type is not supported.
pub fn map(t: u16, sec: &[u8], offset: usize) -> Result<Plan, &'static str> {
    let w = width(t)?;
    let field = &sec[offset..offset + w as usize];
    let a = if w == 0 { 0 } else { le(field) };
    Ok(match t {
        0 => Plan { kind: KEEP_ALIVE, width: 0, addend: 0, extra: Extra::None },
        1 => Plan { kind: POINTER64, width: 8, addend: a, extra: Extra::None },
        2 => Plan { kind: POINTER32, width: 4, addend: a, extra: Extra::None },
        3 => Plan { kind: IMAGE_REL32, width: 4, addend: a, extra: Extra::ImageBase(SUBTRAHEND) },
        4 if is_rel32_branch(sec, offset) => {
            Plan { kind: REQ_PLT_BRANCH32, width: 4, addend: a - 4, extra: Extra::None }
        }
        4..=9 => Plan { kind: DELTA32, width: 4, addend: a - 4 - (i64::from(t) - 4), extra: Extra::None },
        0xa => Plan { kind: SECTION_INDEX16, width: 2, addend: a, extra: Extra::SectionIndex },
        0xb => Plan { kind: SECREL32, width: 4, addend: a, extra: Extra::SectionBase(SUBTRAHEND) },
        _ => Plan { kind: SECREL7, width: 1, addend: a & 0x7f, extra: Extra::SectionBase(SUBTRAHEND) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings() {
        let call = [0xe8, 0xfc, 0xff, 0xff, 0xff];
        assert_eq!(map(4, &call, 1).unwrap().kind, REQ_PLT_BRANCH32);
        let lea = [0x48, 0x8d, 0x05, 0x10, 0, 0, 0];
        let p = map(4, &lea, 3).unwrap();
        assert_eq!((p.kind, p.addend), (DELTA32, 0x10 - 4));
        let p = map(9, &lea, 3).unwrap();
        assert_eq!((p.kind, p.addend), (DELTA32, 0x10 - 9));
        let p = map(3, &lea, 3).unwrap();
        assert_eq!((p.kind, p.extra), (IMAGE_REL32, Extra::ImageBase(SUBTRAHEND)));
        assert_eq!(map(0xc, &[0x85], 0).unwrap().addend, 5);
        assert!(map(0xd, &lea, 0).is_err() && map(0x11, &lea, 0).is_err());
        assert_eq!(reloc_name(3), "IMAGE_REL_AMD64_ADDR32NB");
    }
}
