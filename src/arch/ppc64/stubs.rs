//! Code templates of the stubs the PPC64 GOT pass creates, as instruction
//! words (Power ISA v3.1 Book I encodings; stub shapes follow the ELFv2 ABI
//! §2.3.6 "Function Calls" and binutils' `plt_call` / `plt_branch` stubs).
//!
//! The variable fields are filled by ordinary edges on the stub's block:
//! [`half_offset`] gives the byte offset of a word's immediate halfword.
//! Every template is POWER8-compatible (no prefixed instructions).

/// `std r2,24(r1)`: saves the caller's TOC pointer in its save slot.
pub const STD_R2_24_R1: u32 = 0xf841_0018;
/// `addis r12,r2,0` (immediate: `(entry - .TOC.)@ha`).
pub const ADDIS_R12_R2: u32 = 0x3d82_0000;
/// `addis r12,r12,0` (immediate: `@ha` of a PC-relative offset).
pub const ADDIS_R12_R12: u32 = 0x3d8c_0000;
/// `ld r12,0(r12)` (DS immediate: `@l` of the entry's offset).
pub const LD_R12_R12: u32 = 0xe98c_0000;
/// `addi r12,r12,0` (immediate: `@l` of a PC-relative offset).
pub const ADDI_R12_R12: u32 = 0x398c_0000;
/// `mtctr r12`.
pub const MTCTR_R12: u32 = 0x7d89_03a6;
/// `bctr`.
pub const BCTR: u32 = 0x4e80_0420;
/// `mflr r0`.
pub const MFLR_R0: u32 = 0x7c08_02a6;
/// `bcl 20,31,$+4`: LR = the next instruction's address (special-cased by
/// the hardware so as not to unbalance the link stack).
pub const BCL_NEXT: u32 = 0x429f_0005;
/// `mflr r12`.
pub const MFLR_R12: u32 = 0x7d88_02a6;
/// `mtlr r0`.
pub const MTLR_R0: u32 = 0x7c08_03a6;

/// A call stub for a caller that keeps its TOC pointer in r2 (R_PPC64_REL24
/// to a function outside the link's TOC: externals, absolutes, and
/// functions with `st_other` local-entry value 1, which do not preserve
/// r2):
///
/// ```text
/// std   r2,24(r1)                   # saved for the ld r2,24(r1) after the bl
/// addis r12,r2,(entry-.TOC.)@ha     # TOC16_HA   -> GOT entry
/// ld    r12,(entry-.TOC.)@l(r12)    # TOC16_LO_DS -> GOT entry
/// mtctr r12                         # r12 = the target's global entry
/// bctr
/// ```
pub const TOC_STUB: [u32; 5] = [STD_R2_24_R1, ADDIS_R12_R2, LD_R12_R12, MTCTR_R12, BCTR];

/// A call stub for a caller whose r2 is not a TOC pointer
/// (R_PPC64_REL24_NOTOC to a function outside the link): loads the GOT
/// entry PC-relatively, saves nothing.
///
/// ```text
/// mflr  r0
/// bcl   20,31,$+4
/// mflr  r12                         # r12 = stub + 12 (the anchor)
/// mtlr  r0
/// addis r12,r12,(entry-anchor)@ha   # REL16_HA    -> GOT entry
/// ld    r12,(entry-anchor)@l(r12)   # REL16_LO_DS -> GOT entry
/// mtctr r12
/// bctr
/// ```
pub const NOTOC_STUB: [u32; 8] = [MFLR_R0, BCL_NEXT, MFLR_R12, MTLR_R0, ADDIS_R12_R12, LD_R12_R12, MTCTR_R12, BCTR];

/// A range-extension veneer to a function in the link (same TOC): computes
/// the target's global entry PC-relatively into r12 (so the global entry
/// re-derives r2, which is the same TOC) and branches there. Saves no TOC
/// pointer; clobbers r0, r12 and CTR, none of which carries an argument.
///
/// ```text
/// mflr  r0
/// bcl   20,31,$+4
/// mflr  r12                         # r12 = veneer + 12 (the anchor)
/// mtlr  r0
/// addis r12,r12,(S+A-anchor)@ha     # REL16_HA -> target
/// addi  r12,r12,(S+A-anchor)@l      # REL16_LO -> target
/// mtctr r12
/// bctr
/// ```
pub const VENEER: [u32; 8] = [MFLR_R0, BCL_NEXT, MFLR_R12, MTLR_R0, ADDIS_R12_R12, ADDI_R12_R12, MTCTR_R12, BCTR];

/// Byte offset of the anchor (the address `mflr r12` yields) in
/// [`NOTOC_STUB`] and [`VENEER`].
pub const ANCHOR: u32 = 12;

/// Byte offset, within a template, of word `index`'s immediate halfword
/// (the low-order half: + 2 on big endian).
pub fn half_offset(index: u32, big_endian: bool) -> u32 {
    index * 4 + if big_endian { 2 } else { 0 }
}

/// The template's bytes in the target's byte order.
pub fn bytes(words: &[u32], big_endian: bool) -> Vec<u8> {
    words.iter().flat_map(|w| if big_endian { w.to_be_bytes() } else { w.to_le_bytes() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_orders() {
        assert_eq!(bytes(&[BCTR], true), [0x4e, 0x80, 0x04, 0x20]);
        assert_eq!(bytes(&[BCTR], false), [0x20, 0x04, 0x80, 0x4e]);
        assert_eq!(half_offset(1, false), 4);
        assert_eq!(half_offset(1, true), 6);
    }
}
