//! Mach-O x86-64 relocation types (`<mach-o/x86_64/reloc.h>`) and their
//! mapping onto x86-64 edge kinds.
//!
//! The header's rules, as the assemblers apply them:
//! * pc-relative fields are 4 bytes and relative to the end of the field
//!   (`P + 4`): an extern `X86_64_RELOC_SIGNED*`, `BRANCH`, `GOT_LOAD` or `GOT`
//!   computes `S + content - (P + 4)` (the assembler already folded the bytes
//!   of an immediate that follows the field into the content);
//! * a non-extern relocation names a section (`r_symbolnum` is its ordinal)
//!   and its content is the target's address in the object's address space:
//!   `UNSIGNED` holds it, a pc-relative field holds `target - (P + 4 + N)`
//!   with N = 0, 1, 2, 4 for `SIGNED`, `SIGNED_1`, `SIGNED_2`, `SIGNED_4`;
//! * `X86_64_RELOC_SUBTRACTOR` "must be followed by a X86_64_RELOC_UNSIGNED":
//!   the pair computes `A - B + content` in 32 or 64 bits, B the
//!   subtractor's (extern) symbol, A the `UNSIGNED`'s;
//! * `GOT_LOAD` is "a MOVQ load of a GOT entry" (relaxed to `leaq` when the
//!   target is defined in the link), `GOT` any other GOT reference, both
//!   32-bit pc-relative and extern;
//! * `X86_64_RELOC_TLV` is "for thread local variables": the `movq
//!   _v@TLVP(%rip), %rdi` that loads the address of `_v`'s descriptor
//!   (32-bit pc-relative, extern, no addend), mapped as a `GOT_LOAD`: ld64
//!   rewrites it to `leaq` when the descriptor is in the image and
//!   otherwise loads it from a `__thread_ptrs` slot, which is what the GOT
//!   pass does with the descriptor's address (see [`super`] for the
//!   descriptors themselves).

use super::{Plan, RelocInfo, Spec};
use crate::arch::x86_64::edges::*;
use std::borrow::Cow;

/// `X86_64_RELOC_UNSIGNED`: absolute address.
pub const UNSIGNED: u8 = 0;
/// `X86_64_RELOC_SIGNED`: signed 32-bit displacement.
pub const SIGNED: u8 = 1;
/// `X86_64_RELOC_BRANCH`: a CALL/JMP instruction with 32-bit displacement.
pub const BRANCH: u8 = 2;
/// `X86_64_RELOC_GOT_LOAD`: a MOVQ load of a GOT entry.
pub const GOT_LOAD: u8 = 3;
/// `X86_64_RELOC_GOT`: other GOT references.
pub const GOT: u8 = 4;
/// `X86_64_RELOC_SUBTRACTOR`: must be followed by a `X86_64_RELOC_UNSIGNED`.
pub const SUBTRACTOR: u8 = 5;
/// `X86_64_RELOC_SIGNED_1`: signed 32-bit displacement with a -1 addend.
pub const SIGNED_1: u8 = 6;
/// `X86_64_RELOC_SIGNED_2`: signed 32-bit displacement with a -2 addend.
pub const SIGNED_2: u8 = 7;
/// `X86_64_RELOC_SIGNED_4`: signed 32-bit displacement with a -4 addend.
pub const SIGNED_4: u8 = 8;
/// `X86_64_RELOC_TLV`: for thread local variables.
pub const TLV: u8 = 9;

/// The `<mach-o/x86_64/reloc.h>` name of a relocation type.
pub fn reloc_name(t: u16) -> Cow<'static, str> {
    const NAMES: [&str; 10] = [
        "X86_64_RELOC_UNSIGNED",
        "X86_64_RELOC_SIGNED",
        "X86_64_RELOC_BRANCH",
        "X86_64_RELOC_GOT_LOAD",
        "X86_64_RELOC_GOT",
        "X86_64_RELOC_SUBTRACTOR",
        "X86_64_RELOC_SIGNED_1",
        "X86_64_RELOC_SIGNED_2",
        "X86_64_RELOC_SIGNED_4",
        "X86_64_RELOC_TLV",
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

/// Maps the relocation `r` (and, for a `SUBTRACTOR`, the `UNSIGNED` that
/// follows it, `next`) to an edge. `content` is the field's value
/// (sign-extended), `p` the field's address in the object.
///
/// # Errors
/// Why the combination is not supported.
pub fn map(r: &RelocInfo, next: Option<&RelocInfo>, content: i64, p: u64) -> Result<Plan, &'static str> {
    let pcrel32 = r.pcrel && r.length == 2;
    Ok(match r.rtype {
        UNSIGNED => {
            need(!r.pcrel, "X86_64_RELOC_UNSIGNED must not be pc-relative")?;
            let kind = match r.length {
                3 => POINTER64,
                2 => POINTER32,
                _ => return Err("X86_64_RELOC_UNSIGNED must be 4 or 8 bytes (r_length 2 or 3)"),
            };
            if r.ext {
                Plan::one(kind, Spec::Symbol(r.symbolnum), content, r.width())
            } else {
                let addr = if r.length == 2 { content as u32 as u64 } else { content as u64 };
                Plan::one(kind, Spec::Address { section: r.symbolnum, addr, slack: 0 }, 0, r.width())
            }
        }
        SIGNED | SIGNED_1 | SIGNED_2 | SIGNED_4 => {
            need(pcrel32, "X86_64_RELOC_SIGNED* must be a 32-bit pc-relative field")?;
            let n = match r.rtype {
                SIGNED => 0,
                SIGNED_1 => 1,
                SIGNED_2 => 2,
                _ => 4,
            };
            if r.ext {
                Plan::one(DELTA32, Spec::Symbol(r.symbolnum), content - 4, 4)
            } else {
                let addr = (p as i64).wrapping_add(4 + n).wrapping_add(content) as u64;
                let slack = 4 - n as u8;
                Plan::one(DELTA32, Spec::Address { section: r.symbolnum, addr, slack }, -4 - n, 4)
            }
        }
        BRANCH => {
            need(pcrel32, "X86_64_RELOC_BRANCH must be a 32-bit pc-relative field")?;
            if r.ext {
                Plan::one(REQ_PLT_BRANCH32, Spec::Symbol(r.symbolnum), content - 4, 4)
            } else {
                let addr = (p as i64).wrapping_add(4).wrapping_add(content) as u64;
                Plan::one(BRANCH32, Spec::Address { section: r.symbolnum, addr, slack: 0 }, -4, 4)
            }
        }
        GOT_LOAD | GOT => {
            need(r.ext, "GOT references must be extern (r_extern 1)")?;
            need(pcrel32, "ld64 accepts GOT references only as 32-bit pc-relative fields (r_pcrel 1, r_length 2)")?;
            let kind = if r.rtype == GOT_LOAD { REQ_GOT_LOAD_REX_RELAXABLE } else { REQ_GOT_DELTA32 };
            Plan::one(kind, Spec::Symbol(r.symbolnum), content - 4, 4)
        }
        SUBTRACTOR => {
            need(
                !r.pcrel && (r.length == 2 || r.length == 3),
                "X86_64_RELOC_SUBTRACTOR must be 4 or 8 bytes, not pc-relative",
            )?;
            need(r.ext, "X86_64_RELOC_SUBTRACTOR must be extern (r_extern 1)")?;
            let u = next.ok_or("X86_64_RELOC_SUBTRACTOR must be followed by a X86_64_RELOC_UNSIGNED")?;
            need(
                u.rtype == UNSIGNED && u.address == r.address && u.length == r.length && !u.pcrel,
                "X86_64_RELOC_SUBTRACTOR must be followed by a X86_64_RELOC_UNSIGNED of the same field",
            )?;
            let kind = if r.length == 3 { DELTA64_PAIR } else { DELTA32_PAIR };
            let (target, addend) = if u.ext {
                (Spec::Symbol(u.symbolnum), content)
            } else {
                let addr = if r.length == 2 { content as u32 as u64 } else { content as u64 };
                (Spec::Address { section: u.symbolnum, addr, slack: 0 }, 0)
            };
            Plan {
                kind,
                target,
                addend,
                width: r.width(),
                subtrahend: Some((SUBTRAHEND, Spec::Symbol(r.symbolnum))),
                used: 2,
            }
        }
        TLV => {
            need(r.ext, "X86_64_RELOC_TLV must be extern (r_extern 1)")?;
            need(pcrel32, "X86_64_RELOC_TLV must be a 32-bit pc-relative field (r_pcrel 1, r_length 2)")?;
            need(content == 0, "X86_64_RELOC_TLV takes no addend")?;
            Plan::one(REQ_GOT_LOAD_REX_RELAXABLE, Spec::Symbol(r.symbolnum), -4, 4)
        }
        _ => return Err("unknown relocation type"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(rtype: u8, pcrel: bool, length: u8, ext: bool) -> RelocInfo {
        RelocInfo { address: 0x10, symbolnum: 3, pcrel, length, ext, rtype }
    }

    #[test]
    fn mappings() {
        let p = map(&r(SIGNED, true, 2, true), None, 7, 0x100).unwrap();
        assert_eq!((p.kind, p.addend), (DELTA32, 3));
        let p = map(&r(SIGNED_4, true, 2, false), None, 4, 0x100).unwrap();
        assert_eq!(p.target, Spec::Address { section: 3, addr: 0x100 + 4 + 4 + 4, slack: 0 });
        assert_eq!(p.addend, -8);
        let p = map(&r(BRANCH, true, 2, true), None, 0, 0).unwrap();
        assert_eq!((p.kind, p.addend), (REQ_PLT_BRANCH32, -4));
        let p = map(&r(GOT_LOAD, true, 2, true), None, 0, 0).unwrap();
        assert_eq!(p.kind, REQ_GOT_LOAD_REX_RELAXABLE);
        assert!(map(&r(GOT, true, 3, true), None, 0, 0).is_err());
        let p = map(&r(TLV, true, 2, true), None, 0, 0).unwrap();
        assert_eq!((p.kind, p.target, p.addend), (REQ_GOT_LOAD_REX_RELAXABLE, Spec::Symbol(3), -4));
        assert!(map(&r(TLV, true, 2, true), None, 8, 0).is_err());
        assert!(map(&r(TLV, true, 2, false), None, 0, 0).is_err());
        assert!(map(&r(TLV, false, 3, true), None, 0, 0).is_err());
        let sub = r(SUBTRACTOR, false, 3, true);
        let uns = RelocInfo { symbolnum: 5, ..r(UNSIGNED, false, 3, true) };
        let p = map(&sub, Some(&uns), 8, 0).unwrap();
        assert_eq!((p.kind, p.target, p.addend, p.used), (DELTA64_PAIR, Spec::Symbol(5), 8, 2));
        assert_eq!(p.subtrahend, Some((SUBTRAHEND, Spec::Symbol(3))));
        assert!(map(&sub, None, 0, 0).is_err());
        assert_eq!(reloc_name(5), "X86_64_RELOC_SUBTRACTOR");
        assert_eq!(reloc_name(12), "type 12");
    }
}
