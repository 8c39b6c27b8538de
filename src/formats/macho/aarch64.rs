//! Mach-O arm64 relocation types (`<mach-o/arm64/reloc.h>`) and their
//! mapping onto AArch64 edge kinds.
//!
//! The header's rules, as the assemblers apply them:
//! * instruction relocations (`BRANCH26`, `PAGE21`, `PAGEOFF12`, the GOT
//!   and TLVP loads) are extern and carry no addend in the instruction; an
//!   addend comes from an `ARM64_RELOC_ADDEND` just before the relocation
//!   ("must be followed by PAGE21 or PAGEOFF12", and BRANCH26), whose
//!   `r_symbolnum` is the 24-bit signed addend;
//! * `ARM64_RELOC_PAGEOFF12` serves both `ADD` and loads/stores: the
//!   instruction says which, and a load/store's access size scales it;
//! * `ARM64_RELOC_UNSIGNED` holds its addend (extern) or the target's
//!   address (non-extern) in the 4- or 8-byte field;
//! * `ARM64_RELOC_SUBTRACTOR` "must be followed by a ARM64_RELOC_UNSIGNED":
//!   `A - B + content`;
//! * `ARM64_RELOC_POINTER_TO_GOT` is "for pointers to GOT slots": 32-bit
//!   pc-relative (`.long _sym@GOT - .`, `G - P`) or a 64-bit pointer
//!   (`.quad _sym@GOT`, `G`); the field's content is not an addend;
//! * `ARM64_RELOC_TLVP_LOAD_PAGE21` / `TLVP_LOAD_PAGEOFF12` are the pair
//!   `adrp`, `ldr x` that loads the address of a thread-local variable's
//!   descriptor (`_v@TLVPPAGE`, `_v@TLVPPAGEOFF`), mapped as the GOT loads:
//!   ld64 relaxes the `ldr` to an `add` when the descriptor is in the image
//!   and otherwise loads it from a `__thread_ptrs` slot, which is what the
//!   GOT pass does with the descriptor's address (see [`super`] for the
//!   descriptors themselves);
//! * `ARM64_RELOC_AUTHENTICATED_POINTER` (arm64e) is refused.

use super::{Plan, RelocInfo, Spec};
use crate::arch::aarch64::edges::*;
use crate::arch::aarch64::fixup::{ldst_scale, pageoff12_kind};
use std::borrow::Cow;

/// `ARM64_RELOC_UNSIGNED`: for pointers.
pub const UNSIGNED: u8 = 0;
/// `ARM64_RELOC_SUBTRACTOR`: must be followed by a `ARM64_RELOC_UNSIGNED`.
pub const SUBTRACTOR: u8 = 1;
/// `ARM64_RELOC_BRANCH26`: a B/BL instruction with 26-bit displacement.
pub const BRANCH26: u8 = 2;
/// `ARM64_RELOC_PAGE21`: pc-rel distance to page of target.
pub const PAGE21: u8 = 3;
/// `ARM64_RELOC_PAGEOFF12`: offset within page, scaled by r_length.
pub const PAGEOFF12: u8 = 4;
/// `ARM64_RELOC_GOT_LOAD_PAGE21`: pc-rel distance to page of GOT slot.
pub const GOT_LOAD_PAGE21: u8 = 5;
/// `ARM64_RELOC_GOT_LOAD_PAGEOFF12`: offset within page of GOT slot.
pub const GOT_LOAD_PAGEOFF12: u8 = 6;
/// `ARM64_RELOC_POINTER_TO_GOT`: for pointers to GOT slots.
pub const POINTER_TO_GOT: u8 = 7;
/// `ARM64_RELOC_TLVP_LOAD_PAGE21`: pc-rel distance to page of TLVP slot.
pub const TLVP_LOAD_PAGE21: u8 = 8;
/// `ARM64_RELOC_TLVP_LOAD_PAGEOFF12`: offset within page of TLVP slot.
pub const TLVP_LOAD_PAGEOFF12: u8 = 9;
/// `ARM64_RELOC_ADDEND`: must be followed by PAGE21 or PAGEOFF12.
pub const ADDEND: u8 = 10;
/// `ARM64_RELOC_AUTHENTICATED_POINTER`: arm64e signed pointer.
pub const AUTHENTICATED_POINTER: u8 = 11;

/// The `<mach-o/arm64/reloc.h>` name of a relocation type.
pub fn reloc_name(t: u16) -> Cow<'static, str> {
    const NAMES: [&str; 12] = [
        "ARM64_RELOC_UNSIGNED",
        "ARM64_RELOC_SUBTRACTOR",
        "ARM64_RELOC_BRANCH26",
        "ARM64_RELOC_PAGE21",
        "ARM64_RELOC_PAGEOFF12",
        "ARM64_RELOC_GOT_LOAD_PAGE21",
        "ARM64_RELOC_GOT_LOAD_PAGEOFF12",
        "ARM64_RELOC_POINTER_TO_GOT",
        "ARM64_RELOC_TLVP_LOAD_PAGE21",
        "ARM64_RELOC_TLVP_LOAD_PAGEOFF12",
        "ARM64_RELOC_ADDEND",
        "ARM64_RELOC_AUTHENTICATED_POINTER",
    ];
    match NAMES.get(t as usize) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(format!("type {t}")),
    }
}

fn need(ok: bool, why: &'static str) -> Result<(), &'static str> {
    if ok {
        Ok(())
    } else {
        Err(why)
    }
}

/// Maps the relocation `r` (with the relocation after it, `next`, for an
/// `ADDEND` prefix or a `SUBTRACTOR` pair) to an edge. `content` is the
/// field's value (sign-extended; for instructions the word), `p` the
/// field's address in the object.
///
/// # Errors
/// Why the combination is not supported.
pub fn map(r: &RelocInfo, next: Option<&RelocInfo>, content: i64, p: u64) -> Result<Plan, &'static str> {
    if r.rtype == ADDEND {
        let n = next.ok_or("ARM64_RELOC_ADDEND must be followed by ARM64_RELOC_PAGE21, PAGEOFF12 or BRANCH26")?;
        need(
            n.address == r.address && matches!(n.rtype, PAGE21 | PAGEOFF12 | BRANCH26),
            "ARM64_RELOC_ADDEND must be followed by ARM64_RELOC_PAGE21, PAGEOFF12 or BRANCH26 of the same field",
        )?;
        let addend = (i64::from(r.symbolnum) << 40) >> 40;
        let mut plan = map_one(n, content, p, addend)?;
        plan.used = 2;
        return Ok(plan);
    }
    if r.rtype == SUBTRACTOR {
        need(
            !r.pcrel && (r.length == 2 || r.length == 3),
            "ARM64_RELOC_SUBTRACTOR must be 4 or 8 bytes, not pc-relative",
        )?;
        need(r.ext, "ARM64_RELOC_SUBTRACTOR must be extern (r_extern 1)")?;
        let u = next.ok_or("ARM64_RELOC_SUBTRACTOR must be followed by a ARM64_RELOC_UNSIGNED")?;
        need(
            u.rtype == UNSIGNED && u.address == r.address && u.length == r.length && !u.pcrel,
            "ARM64_RELOC_SUBTRACTOR must be followed by a ARM64_RELOC_UNSIGNED of the same field",
        )?;
        let kind = if r.length == 3 { DELTA64_PAIR } else { DELTA32_PAIR };
        let (target, addend) = if u.ext {
            (Spec::Symbol(u.symbolnum), content)
        } else {
            let addr = if r.length == 2 { content as u32 as u64 } else { content as u64 };
            (Spec::Address { section: u.symbolnum, addr, slack: 0 }, 0)
        };
        return Ok(Plan {
            kind,
            target,
            addend,
            width: r.width(),
            subtrahend: Some((SUBTRAHEND, Spec::Symbol(r.symbolnum))),
            used: 2,
        });
    }
    map_one(r, content, p, 0)
}

fn map_one(r: &RelocInfo, content: i64, _p: u64, addend: i64) -> Result<Plan, &'static str> {
    let insn = content as u32;
    let target = || -> Result<Spec, &'static str> {
        need(r.ext, "arm64 instruction relocations must be extern (r_extern 1)")?;
        Ok(Spec::Symbol(r.symbolnum))
    };
    let insn_field =
        |pcrel: bool| need(r.length == 2 && r.pcrel == pcrel, "wrong r_length or r_pcrel for an instruction");
    Ok(match r.rtype {
        UNSIGNED => {
            need(!r.pcrel, "ARM64_RELOC_UNSIGNED must not be pc-relative")?;
            let kind = match r.length {
                3 => POINTER64,
                2 => POINTER32,
                _ => return Err("ARM64_RELOC_UNSIGNED must be 4 or 8 bytes (r_length 2 or 3)"),
            };
            if r.ext {
                Plan::one(kind, Spec::Symbol(r.symbolnum), content, r.width())
            } else {
                let addr = if r.length == 2 { content as u32 as u64 } else { content as u64 };
                Plan::one(kind, Spec::Address { section: r.symbolnum, addr, slack: 0 }, 0, r.width())
            }
        }
        BRANCH26 => {
            insn_field(true)?;
            Plan::one(crate::arch::aarch64::edges::BRANCH26, target()?, addend, 4)
        }
        PAGE21 => {
            insn_field(true)?;
            Plan::one(crate::arch::aarch64::edges::PAGE21, target()?, addend, 4)
        }
        PAGEOFF12 => {
            insn_field(false)?;
            let kind = pageoff12_kind(insn)
                .ok_or("ARM64_RELOC_PAGEOFF12 on an instruction that is neither ADD (immediate) nor a load/store")?;
            Plan::one(kind, target()?, addend, 4)
        }
        GOT_LOAD_PAGE21 => {
            insn_field(true)?;
            need(addend == 0, "a GOT load takes no addend")?;
            Plan::one(REQ_GOT_PAGE21, target()?, 0, 4)
        }
        GOT_LOAD_PAGEOFF12 => {
            insn_field(false)?;
            need(addend == 0, "a GOT load takes no addend")?;
            need(
                ldst_scale(insn) == Some(3),
                "ARM64_RELOC_GOT_LOAD_PAGEOFF12 on an instruction that is not a 64-bit load",
            )?;
            Plan::one(REQ_GOT_LO12, target()?, 0, 4)
        }
        POINTER_TO_GOT => {
            need(r.ext, "ARM64_RELOC_POINTER_TO_GOT must be extern (r_extern 1)")?;
            match (r.pcrel, r.length) {
                // The field's content is no addend (llvm-mc leaves the
                // place's offset in its section there); ld64 and LLVM
                // JITLink take the GOT slot itself.
                (true, 2) => Plan::one(REQ_GOT_DELTA32, Spec::Symbol(r.symbolnum), 0, 4),
                (false, 3) => Plan::one(REQ_GOT_POINTER64, Spec::Symbol(r.symbolnum), 0, 8),
                _ => return Err("ARM64_RELOC_POINTER_TO_GOT must be 32-bit pc-relative or a 64-bit pointer"),
            }
        }
        TLVP_LOAD_PAGE21 => {
            insn_field(true)?;
            need(addend == 0, "a thread-local variable load takes no addend")?;
            Plan::one(REQ_GOT_PAGE21, target()?, 0, 4)
        }
        TLVP_LOAD_PAGEOFF12 => {
            insn_field(false)?;
            need(addend == 0, "a thread-local variable load takes no addend")?;
            need(
                ldst_scale(insn) == Some(3),
                "ARM64_RELOC_TLVP_LOAD_PAGEOFF12 on an instruction that is not a 64-bit load",
            )?;
            Plan::one(REQ_GOT_LO12, target()?, 0, 4)
        }
        AUTHENTICATED_POINTER => return Err("arm64e authenticated pointers are not supported"),
        ADDEND => return Err("ARM64_RELOC_ADDEND must be followed by ARM64_RELOC_PAGE21, PAGEOFF12 or BRANCH26"),
        SUBTRACTOR => return Err("ARM64_RELOC_SUBTRACTOR must be followed by a ARM64_RELOC_UNSIGNED"),
        _ => return Err("unknown relocation type"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(rtype: u8, pcrel: bool, length: u8, ext: bool, symbolnum: u32) -> RelocInfo {
        RelocInfo { address: 0x10, symbolnum, pcrel, length, ext, rtype }
    }

    #[test]
    fn addend_prefix_and_pageoff_forms() {
        let add = r(ADDEND, false, 2, false, 0xff_fff0); // -16
        let page = r(PAGE21, true, 2, true, 4);
        let p = map(&add, Some(&page), 0x9000_0000, 0).unwrap();
        assert_eq!((p.kind, p.addend, p.used), (crate::arch::aarch64::edges::PAGE21, -16, 2));
        let off = r(PAGEOFF12, false, 2, true, 4);
        assert_eq!(map(&off, None, 0xf940_0001, 0).unwrap().kind, LDST64_LO12);
        assert_eq!(map(&off, None, 0x9100_0000, 0).unwrap().kind, ADD_LO12);
        assert_eq!(map(&off, None, 0x3dc0_0001, 0).unwrap().kind, LDST128_LO12);
        assert!(map(&off, None, 0x9400_0000, 0).is_err());
        assert!(map(&add, None, 0, 0).is_err());
        let got = r(POINTER_TO_GOT, false, 3, true, 4);
        assert_eq!(map(&got, None, 0, 0).unwrap().kind, REQ_GOT_POINTER64);
        let got = r(POINTER_TO_GOT, true, 2, true, 4);
        assert_eq!(map(&got, None, 0, 0).unwrap().kind, REQ_GOT_DELTA32);
        assert_eq!(map(&r(TLVP_LOAD_PAGE21, true, 2, true, 4), None, 0, 0).unwrap().kind, REQ_GOT_PAGE21);
        let tlvp = r(TLVP_LOAD_PAGEOFF12, false, 2, true, 4);
        assert_eq!(map(&tlvp, None, 0xf940_0000, 0).unwrap().kind, REQ_GOT_LO12);
        assert!(map(&tlvp, None, 0xb940_0000, 0).is_err(), "ldr w is not a descriptor load");
        assert!(map(&r(TLVP_LOAD_PAGE21, true, 2, false, 4), None, 0, 0).is_err());
        assert_eq!(reloc_name(10), "ARM64_RELOC_ADDEND");
    }
}
