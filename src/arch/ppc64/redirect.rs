//! PPC64 (ELFv2, little- and big-endian) encodings for redirection:
//! patchable call sites, redirectable stubs, lazy re-entry trampolines, the
//! shared re-entry routine and the instruction-cache maintenance sequence.
//!
//! Rules are from the Power ISA v3.1 (Book I "Branch Instructions": `b`,
//! `bl`, `bcl`, `bcctr`; Book II "Instruction Storage": `dcbst`, `icbi`,
//! `isync`) and the 64-bit ELF V2 ABI (OpenPOWER, chapter 2: "Function Calling
//! Sequence", global and local entry points, stack frame layout).
//!
//! A call site is a whole `b`/`bl` word: primary opcode 18, LI a 24-bit
//! signed word offset from the instruction (±32 MiB), AA = 0 (relative),
//! LK the link bit. Instruction words are stored in the target's byte
//! order, so the readers and encoders take `big_endian`.
//!
//! ELFv2 calling conventions shape everything here:
//! - A global entry point expects `r12` = its own address (it derives the
//!   TOC pointer `r2` from it), so a stub ends with `mtctr r12; bctr` with
//!   the target in `r12`, and saves the caller's TOC pointer to `24(r1)`
//!   (the TOC save slot; the call site's `nop` after `bl` must be the
//!   `ld r2, 24(r1)` restore, as for a PLT stub).
//! - A direct `bl` leaves `r12` undefined and saves no TOC pointer, so an
//!   in-place patch may only target a *local* entry point that uses the
//!   caller's TOC (or none), at a site whose next word is `nop`. A site
//!   whose next word is the `ld r2, 24(r1)` restore relies on a stub having
//!   saved `r2`: it keeps calling the stub, and only the stub's slot
//!   changes.
//! - The stub is reached by `bl`, so it finds its own address with the
//!   `mflr r0; bcl 20,31,$+4; mflr r12; mtlr r0` idiom (POWER8-compatible,
//!   no Power10 `pld`); `bcl 20,31,$+4` is special-cased by the hardware
//!   not to unbalance the link stack. A trampoline and the re-entry routine
//!   are only reached by `bctr` with `r12` = their address (they are
//!   global entry points), so they address their slots from `r12`.
//! - Scratch registers: `r0`, `r11` (context) and `r12` (target), none of
//!   which carries an argument (`r3`–`r10`, `f1`–`f13`, `v2`–`v13`). `r11`
//!   is also the environment pointer of nested functions, which are never
//!   lazy or redirected symbols.
//!
//! Slots are 8-byte aligned RW doublewords addressed `addis`+`ld` (DS-form,
//! so the low part must be a multiple of 4), ±2 GiB from the code.

/// The instruction a call site is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SiteKind {
    /// `b target` (opcode 18, AA = 0, LK = 0), a tail call.
    Branch,
    /// `bl target` (opcode 18, AA = 0, LK = 1), a call.
    Call,
}

impl SiteKind {
    fn lk(self) -> u32 {
        match self {
            SiteKind::Branch => 0,
            SiteKind::Call => 1,
        }
    }
}

/// Smallest branch displacement in bytes, `target - site` (LI × 4): −32 MiB.
pub const BRANCH_MIN: i64 = -(1 << 25);
/// Largest branch displacement in bytes: 32 MiB − 4.
pub const BRANCH_MAX: i64 = (1 << 25) - 4;
/// Smallest displacement an `addis`+`ld` pair reaches:
/// −2 GiB − 32 KiB (ha = −2¹⁵, lo = −32768).
pub const PAIR_MIN: i64 = -(1 << 31) - 0x8000;
/// Largest displacement an `addis`+`ld` pair reaches: 2 GiB − 32 KiB − 1.
pub const PAIR_MAX: i64 = (1 << 31) - 0x8001;

/// The instruction word in `bytes` in the target's byte order.
pub fn read_word(bytes: [u8; 4], big_endian: bool) -> u32 {
    if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    }
}

/// The bytes of instruction word `w` in the target's byte order.
pub fn word_bytes(w: u32, big_endian: bool) -> [u8; 4] {
    if big_endian {
        w.to_be_bytes()
    } else {
        w.to_le_bytes()
    }
}

/// The patchable form of the instruction at byte `offset` of `code` (the
/// start of the word), read in the target's byte order, if any: a
/// relative `b` or `bl` (absolute `ba`/`bla` are not call sites).
pub fn site_kind(code: &[u8], offset: usize, big_endian: bool) -> Option<SiteKind> {
    let bytes = code.get(offset..offset.checked_add(4)?)?;
    let w = read_word(bytes.try_into().ok()?, big_endian);
    if w >> 26 != 18 || w & 2 != 0 {
        return None;
    }
    Some(if w & 1 != 0 { SiteKind::Call } else { SiteKind::Branch })
}

fn is_kind(kind: SiteKind, w: u32) -> bool {
    w >> 26 == 18 && w & 3 == kind.lk()
}

/// The word `insn_word` (a `kind` branch at `site_addr`) with its LI field
/// changed to reach `target`; opcode, AA and LK are kept. The word is a
/// value, not bytes: see [`read_word`]/[`word_bytes`].
///
/// `None` when the word is not of `kind`, when `target - site_addr` is not
/// a multiple of 4, or outside [`BRANCH_MIN`]`..=`[`BRANCH_MAX`] (the caller
/// must then use a stub).
pub fn encode_branch(kind: SiteKind, insn_word: u32, site_addr: u64, target: u64) -> Option<u32> {
    if !is_kind(kind, insn_word) {
        return None;
    }
    let d = target as i128 - site_addr as i128;
    if d & 3 != 0 || d < i128::from(BRANCH_MIN) || d > i128::from(BRANCH_MAX) {
        return None;
    }
    Some((insn_word & 0xfc00_0003) | (d as u32 & 0x03ff_fffc))
}

/// The target of the `kind` branch `insn_word` at `site_addr`, or `None`
/// when the word is not of that kind.
pub fn decode_branch(kind: SiteKind, insn_word: u32, site_addr: u64) -> Option<u64> {
    if !is_kind(kind, insn_word) {
        return None;
    }
    let d = (((insn_word & 0x03ff_fffc) << 6) as i32 >> 6) as i64;
    Some(site_addr.wrapping_add(d as u64))
}

/// Splits `delta` into `(ha, lo)` with `(ha << 16) + lo == delta` and `lo`
/// the sign-extended low half (`@ha`/`@l`, ELFv2 ABI "Relocation Types"),
/// or `None` outside [`PAIR_MIN`]`..=`[`PAIR_MAX`].
pub fn split_ha_lo(delta: i64) -> Option<(i16, i16)> {
    if !(PAIR_MIN..=PAIR_MAX).contains(&delta) {
        return None;
    }
    let ha = (delta + 0x8000) >> 16;
    Some((ha as i16, (delta - (ha << 16)) as i16))
}

// --- Instruction encoders (Power ISA v3.1, Book I). ---

const R0: u32 = 0;
const R1: u32 = 1;
const R2: u32 = 2;
const R3: u32 = 3;
const R11: u32 = 11;
const R12: u32 = 12;

fn dform(opcd: u32, rt: u32, ra: u32, imm: i32) -> u32 {
    debug_assert!((-0x8000..0x8000).contains(&imm));
    opcd << 26 | rt << 21 | ra << 16 | (imm as u32 & 0xffff)
}

fn addis(rt: u32, ra: u32, imm: i16) -> u32 {
    dform(15, rt, ra, i32::from(imm))
}

fn addi(rt: u32, ra: u32, imm: i32) -> u32 {
    dform(14, rt, ra, imm)
}

/// `li rt, imm` = `addi rt, 0, imm`.
fn li(rt: u32, imm: i32) -> u32 {
    addi(rt, R0, imm)
}

/// DS-form (`ld` xo 0, `std` xo 0, `stdu` xo 1): `ds` a multiple of 4.
fn dsform(opcd: u32, rt: u32, ra: u32, ds: i32, xo: u32) -> u32 {
    debug_assert!(ds % 4 == 0 && (-0x8000..0x8000).contains(&ds));
    opcd << 26 | rt << 21 | ra << 16 | (ds as u32 & 0xfffc) | xo
}

fn ld(rt: u32, ra: u32, ds: i32) -> u32 {
    dsform(58, rt, ra, ds, 0)
}

fn std(rs: u32, ra: u32, ds: i32) -> u32 {
    dsform(62, rs, ra, ds, 0)
}

fn stdu(rs: u32, ra: u32, ds: i32) -> u32 {
    dsform(62, rs, ra, ds, 1)
}

fn stfd(frs: u32, ra: u32, d: i32) -> u32 {
    dform(54, frs, ra, d)
}

fn lfd(frt: u32, ra: u32, d: i32) -> u32 {
    dform(50, frt, ra, d)
}

/// X-form `stvx`/`lvx vrt, ra, rb` (EA = (ra|0) + rb, low 4 bits ignored).
fn vx(xo: u32, vrt: u32, ra: u32, rb: u32) -> u32 {
    31 << 26 | vrt << 21 | ra << 16 | rb << 11 | xo << 1
}

fn stvx(vrs: u32, ra: u32, rb: u32) -> u32 {
    vx(231, vrs, ra, rb)
}

fn lvx(vrt: u32, ra: u32, rb: u32) -> u32 {
    vx(103, vrt, ra, rb)
}

/// `mr ra, rs` = `or ra, rs, rs`.
fn mr(ra: u32, rs: u32) -> u32 {
    31 << 26 | rs << 21 | ra << 16 | rs << 11 | 444 << 1
}

/// `mflr rt` = `mfspr rt, 8`.
fn mflr(rt: u32) -> u32 {
    0x7c08_02a6 | rt << 21
}

/// `mtlr rs` = `mtspr 8, rs`.
fn mtlr(rs: u32) -> u32 {
    0x7c08_03a6 | rs << 21
}

/// `mtctr rs` = `mtspr 9, rs`.
fn mtctr(rs: u32) -> u32 {
    0x7c09_03a6 | rs << 21
}

/// `bctr` = `bcctr 20, 0`.
const BCTR: u32 = 0x4e80_0420;
/// `bctrl` = `bcctrl 20, 0`.
const BCTRL: u32 = 0x4e80_0421;
/// `bcl 20, 31, $+4`: LR = address of the next instruction.
const BCL_NEXT: u32 = 0x429f_0005;

/// `addis rt, base, ha; ld rt, lo(rt)` loading the slot at `slot` from a
/// base register holding `base_addr`.
fn load_slot(rt: u32, base: u32, base_addr: u64, slot: u64) -> Option<[u32; 2]> {
    if slot % 8 != 0 || base_addr % 4 != 0 {
        return None;
    }
    let (ha, lo) = split_ha_lo(i64::try_from(slot as i128 - base_addr as i128).ok()?)?;
    Some([addis(rt, base, ha), ld(rt, rt, i32::from(lo))])
}

fn to_bytes<const N: usize>(words: &[u32], big_endian: bool) -> [u8; N] {
    debug_assert_eq!(words.len() * 4, N);
    let mut out = [0u8; N];
    for (chunk, &w) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word_bytes(w, big_endian));
    }
    out
}

/// Bytes of a stub: nine instruction words.
pub const STUB_SIZE: usize = 36;

/// Encodes the stub at `stub_addr` (4-byte aligned) jumping through the
/// 8-byte slot at `slot_addr`:
///
/// ```text
/// std r2, 24(r1)        # the caller's TOC pointer to its save slot
/// mflr r0
/// bcl 20, 31, $+4
/// mflr r12              # r12 = stub_addr + 12
/// mtlr r0
/// addis r12, r12, (slot - (stub_addr + 12))@ha
/// ld r12, (slot - (stub_addr + 12))@l(r12)
/// mtctr r12             # r12 = target: its global entry point
/// bctr
/// ```
///
/// Clobbers `r0`, `r12` and CTR. `None` when the slot is not 8-byte
/// aligned, the stub not 4-byte aligned, or the slot beyond ±2 GiB.
pub fn encode_stub(stub_addr: u64, slot_addr: u64, big_endian: bool) -> Option<[u8; STUB_SIZE]> {
    let [a, l] = load_slot(R12, R12, stub_addr.checked_add(12)?, slot_addr)?;
    let w = [std(R2, R1, 24), mflr(R0), BCL_NEXT, mflr(R12), mtlr(R0), a, l, mtctr(R12), BCTR];
    Some(to_bytes(&w, big_endian))
}

/// Bytes of a lazy re-entry trampoline: six instruction words.
pub const TRAMPOLINE_SIZE: usize = 24;

/// Encodes the per-symbol trampoline at `tramp_addr`, entered by a stub's
/// `bctr` with `r12` = `tramp_addr` (ELFv2 global entry): loads the context
/// from `ctx_slot` into `r11` and the re-entry routine's address from
/// `reentry_slot` into `r12`, then `mtctr r12; bctr` (so the routine is
/// entered with `r12` = its own address):
///
/// ```text
/// addis r11, r12, (ctx_slot - tramp_addr)@ha
/// ld r11, (ctx_slot - tramp_addr)@l(r11)
/// addis r12, r12, (reentry_slot - tramp_addr)@ha
/// ld r12, (reentry_slot - tramp_addr)@l(r12)
/// mtctr r12
/// bctr
/// ```
///
/// `None` when a slot is not 8-byte aligned, the trampoline not 4-byte
/// aligned, or a slot beyond ±2 GiB.
pub fn encode_trampoline(
    tramp_addr: u64,
    ctx_slot: u64,
    reentry_slot: u64,
    big_endian: bool,
) -> Option<[u8; TRAMPOLINE_SIZE]> {
    let [a0, l0] = load_slot(R11, R12, tramp_addr, ctx_slot)?;
    let [a1, l1] = load_slot(R12, R12, tramp_addr, reentry_slot)?;
    Some(to_bytes(&[a0, l0, a1, l1, mtctr(R12), BCTR], big_endian))
}

/// Frame offset of the saved `r3`–`r10` (after the 32-byte ELFv2 header
/// and a 64-byte parameter save area for the resolver).
const SAVE_GPR: i32 = 96;
/// Frame offset of the saved `f1`–`f13`.
const SAVE_FPR: i32 = SAVE_GPR + 8 * 8;
/// Frame offset of the saved TOC pointer `r2`.
const SAVE_TOC: i32 = SAVE_FPR + 13 * 8;
/// Frame offset of the saved `v2`–`v13` (16-byte aligned).
const SAVE_VR: i32 = SAVE_TOC + 8;

/// Bytes of the re-entry routine's stack frame (a multiple of 16, ELFv2
/// ABI "The Stack Frame"): header (back chain, CR, LR, TOC save: 32),
/// parameter save area (64), `r3`–`r10` (64), `f1`–`f13` (104), `r2` (8),
/// and, with `save_vrs`, `v2`–`v13` (192): 464 or 272.
pub const fn reentry_frame(save_vrs: bool) -> i32 {
    if save_vrs {
        SAVE_VR + 12 * 16
    } else {
        SAVE_VR
    }
}

/// Bytes of the re-entry routine [`encode_reentry`] builds: 58
/// instruction words, plus 48 (`li`+`stvx` and `li`+`lvx` per vector
/// register) with `save_vrs`.
pub const fn reentry_size(save_vrs: bool) -> usize {
    if save_vrs {
        (58 + 48) * 4
    } else {
        58 * 4
    }
}

/// Encodes the shared lazy re-entry routine at `routine_addr` (4-byte
/// aligned), entered by a trampoline's `bctr` with `r11` = the context,
/// `r12` = `routine_addr`, and the rest as at the lazy function's entry
/// (LR = the caller's return address, `24(r1)` = the caller's TOC pointer).
///
/// It saves LR to `16(r1)`, allocates a frame with `stdu` (back chain at
/// `0(r1)`, size [`reentry_frame`]), saves `r2`, the argument registers
/// `r3`–`r10` and `f1`–`f13`, and with `save_vrs` the vector argument
/// registers `v2`–`v13` (`stvx`; needs AltiVec, present on every ELFv2
/// POWER8+ target); then calls the resolver whose global entry is in the
/// 8-byte slot `resolver_slot` (`extern "C" fn(ctx) -> target`: `r3` =
/// context, `r12` = CTR = resolver, `bctrl`), restores everything, and
/// `bctr`s to the returned address with `r12` = that address, as a global
/// entry point requires. CR fields need no saving: the argument-carrying
/// state is all in the registers above, and cr2–cr4 are callee-saved.
///
/// `None` when `resolver_slot` is not 8-byte aligned or beyond ±2 GiB.
pub fn encode_reentry(routine_addr: u64, resolver_slot: u64, save_vrs: bool, big_endian: bool) -> Option<Vec<u8>> {
    let f = reentry_frame(save_vrs);
    let mut w = vec![mflr(R0), std(R0, R1, 16), stdu(R1, R1, -f), std(R2, R1, SAVE_TOC)];
    for i in 0..8 {
        w.push(std(R3 + i, R1, SAVE_GPR + 8 * i as i32));
    }
    for i in 0..13 {
        w.push(stfd(1 + i, R1, SAVE_FPR + 8 * i as i32));
    }
    if save_vrs {
        for i in 0..12 {
            w.extend([li(R0, SAVE_VR + 16 * i as i32), stvx(2 + i, R1, R0)]);
        }
    }
    w.push(mr(R3, R11));
    w.extend(load_slot(R12, R12, routine_addr, resolver_slot)?);
    w.extend([mtctr(R12), BCTRL, mr(R12, R3), mtctr(R12)]);
    if save_vrs {
        for i in 0..12 {
            w.extend([li(R0, SAVE_VR + 16 * i as i32), lvx(2 + i, R1, R0)]);
        }
    }
    for i in 0..13 {
        w.push(lfd(1 + i, R1, SAVE_FPR + 8 * i as i32));
    }
    for i in 0..8 {
        w.push(ld(R3 + i, R1, SAVE_GPR + 8 * i as i32));
    }
    w.extend([ld(R2, R1, SAVE_TOC), addi(R1, R1, f), ld(R0, R1, 16), mtlr(R0), BCTR]);
    debug_assert_eq!(w.len() * 4, reentry_size(save_vrs));
    Some(w.iter().flat_map(|&x| word_bytes(x, big_endian)).collect())
}

/// Instruction-cache maintenance for the cache block holding the address
/// in `r3` after code there was written: `dcbst 0, r3; sync; icbi 0, r3;
/// isync` (Power ISA Book II, "Instruction Storage"). For a range the
/// `dcbst`/`icbi` pair is repeated per block. `icbi` applies to every
/// processor's instruction cache; other threads discard instructions they
/// already fetched only at their next context-synchronising event.
pub fn icache_sync(big_endian: bool) -> [u8; 16] {
    to_bytes(&[0x7c00_186c, 0x7c00_04ac, 0x7c00_1fac, 0x4c00_012c], big_endian)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(bytes: &[u8], big_endian: bool) -> Vec<u32> {
        bytes.chunks_exact(4).map(|c| read_word(c.try_into().unwrap(), big_endian)).collect()
    }

    /// `(rt, ra, address)` of `addis rt, ra, ha; ld rt, lo(rt)` with `ra`
    /// holding `base`.
    fn decode_load_pair(a: u32, l: u32, base: u64) -> (u32, u32, u64) {
        assert_eq!(a >> 26, 15, "not addis: {a:#x}");
        assert_eq!((l >> 26, l & 3), (58, 0), "not ld: {l:#x}");
        let rt = (a >> 21) & 31;
        assert_eq!(((l >> 21) & 31, (l >> 16) & 31), (rt, rt));
        let d = (i64::from(a as i16) << 16) + i64::from((l & 0xfffc) as i16);
        (rt, (a >> 16) & 31, base.wrapping_add(d as u64))
    }

    #[test]
    fn branch_range_limits() {
        let p = 0x7fff_8000_0000u64;
        // (kind, original word, target, expected word or None). Words from
        // printf 'bl 8\nb 33554428\nbl 33554428\n' | llvm-mc -triple=powerpc64le -show-encoding
        // => [0x09,0x00,0x00,0x48] [0xfc,0xff,0xff,0x49] [0xfd,0xff,0xff,0x49]; llvm-mc
        // rejects negative displacements, so 0x4a000000/0x4bfffffc are LI = -2^23 / -1 by hand.
        let table: &[(SiteKind, u32, u64, Option<u32>)] = &[
            (SiteKind::Call, 0x4800_0001, p + 8, Some(0x4800_0009)),
            (SiteKind::Branch, 0x4800_0000, p + BRANCH_MAX as u64, Some(0x49ff_fffc)),
            (SiteKind::Call, 0x4800_0001, p + BRANCH_MAX as u64, Some(0x49ff_fffd)),
            (SiteKind::Call, 0x4800_0001, p + BRANCH_MAX as u64 + 4, None),
            (SiteKind::Branch, 0x4800_0000, p - (1 << 25), Some(0x4a00_0000)),
            (SiteKind::Call, 0x4800_0001, p - (1 << 25), Some(0x4a00_0001)),
            (SiteKind::Call, 0x4800_0001, p - (1 << 25) - 4, None),
            (SiteKind::Branch, 0x4800_0010, p - 4, Some(0x4bff_fffc)),
            // Misaligned targets.
            (SiteKind::Call, 0x4800_0001, p + 2, None),
            (SiteKind::Branch, 0x4800_0000, p - 1, None),
            // Wrong kind, absolute form, not a branch (bctr).
            (SiteKind::Branch, 0x4800_0001, p + 8, None),
            (SiteKind::Call, 0x4800_0003, p + 8, None),
            (SiteKind::Call, BCTR, p + 8, None),
        ];
        for &(kind, insn, target, want) in table {
            let got = encode_branch(kind, insn, p, target);
            assert_eq!(got, want, "{kind:?} {insn:#x} -> {target:#x}");
            if let Some(w) = got {
                assert_eq!(decode_branch(kind, w, p), Some(target));
                for be in [false, true] {
                    assert_eq!(site_kind(&word_bytes(w, be), 0, be), Some(kind));
                }
            }
        }
    }

    #[test]
    fn site_forms_both_byte_orders() {
        // bl .+8 in both byte orders: printf 'bl 8\n' | llvm-mc -triple=powerpc64le -show-encoding
        // and -triple=powerpc64.
        let le = [0x09, 0x00, 0x00, 0x48];
        let be = [0x48, 0x00, 0x00, 0x09];
        assert_eq!(site_kind(&le, 0, false), Some(SiteKind::Call));
        assert_eq!(site_kind(&be, 0, true), Some(SiteKind::Call));
        assert_eq!(site_kind(&le, 0, true), None, "wrong byte order");
        assert_eq!(decode_branch(SiteKind::Call, read_word(be, true), 0x1000), Some(0x1008));
        // bla 8 (absolute) is not a site; a truncated word is not either.
        assert_eq!(site_kind(&[0x0b, 0x00, 0x00, 0x48], 0, false), None);
        assert_eq!(site_kind(&le[..3], 0, false), None);
        let mut code = vec![0x60, 0x00, 0x00, 0x00]; // nop (BE)
        code.extend_from_slice(&[0x48, 0x00, 0x00, 0x04]); // b .+4 (BE)
        assert_eq!(site_kind(&code, 0, true), None);
        assert_eq!(site_kind(&code, 4, true), Some(SiteKind::Branch));
    }

    #[test]
    fn stub_forms() {
        // Stub at 0x1_1000_0000, slot at 0x1_1001_2348: base = stub + 12, delta
        // 0x1233c = (1 << 16) + 0x233c.
        // printf '%s\n' 'std 2, 24(1)' 'mflr 0' 'bcl 20, 31, 4' 'mflr 12' 'mtlr 0' 'addis 12, 12, 1' \
        //   'ld 12, 0x233c(12)' 'mtctr 12' 'bctr' \
        //   | llvm-mc -triple=powerpc64le -show-encoding
        const LE: [u8; 36] = [
            0x18, 0x00, 0x41, 0xf8, 0xa6, 0x02, 0x08, 0x7c, 0x05, 0x00, 0x9f, 0x42, 0xa6, 0x02, 0x88, 0x7d, 0xa6, 0x03,
            0x08, 0x7c, 0x01, 0x00, 0x8c, 0x3d, 0x3c, 0x23, 0x8c, 0xe9, 0xa6, 0x03, 0x89, 0x7d, 0x20, 0x04, 0x80, 0x4e,
        ];
        // The same with -triple=powerpc64.
        const BE: [u8; 36] = [
            0xf8, 0x41, 0x00, 0x18, 0x7c, 0x08, 0x02, 0xa6, 0x42, 0x9f, 0x00, 0x05, 0x7d, 0x88, 0x02, 0xa6, 0x7c, 0x08,
            0x03, 0xa6, 0x3d, 0x8c, 0x00, 0x01, 0xe9, 0x8c, 0x23, 0x3c, 0x7d, 0x89, 0x03, 0xa6, 0x4e, 0x80, 0x04, 0x20,
        ];
        // Slot below with the @ha rounding: delta -0x8004 = (-1 << 16) + 0x7ffc.
        // printf '%s\n' 'std 2, 24(1)' 'mflr 0' 'bcl 20, 31, 4' 'mflr 12' 'mtlr 0' 'addis 12, 12, -1' \
        //   'ld 12, 0x7ffc(12)' 'mtctr 12' 'bctr' \
        //   | llvm-mc -triple=powerpc64le -show-encoding
        const LE_BACK: [u8; 36] = [
            0x18, 0x00, 0x41, 0xf8, 0xa6, 0x02, 0x08, 0x7c, 0x05, 0x00, 0x9f, 0x42, 0xa6, 0x02, 0x88, 0x7d, 0xa6, 0x03,
            0x08, 0x7c, 0xff, 0xff, 0x8c, 0x3d, 0xfc, 0x7f, 0x8c, 0xe9, 0xa6, 0x03, 0x89, 0x7d, 0x20, 0x04, 0x80, 0x4e,
        ];
        let s = 0x1_1000_0000u64;
        let table: &[(u64, bool, Option<[u8; 36]>)] = &[
            (s + 12 + 0x1233c, false, Some(LE)),
            (s + 12 + 0x1233c, true, Some(BE)),
            (s + 12 - 0x8004, false, Some(LE_BACK)),
            (s + 12 + 0x1233c + 4, false, None),
            (s + 12 + PAIR_MAX as u64 + 5, true, None),
        ];
        for &(slot, be, want) in table {
            let got = encode_stub(s, slot, be);
            assert_eq!(got, want, "slot {slot:#x} be {be}");
            if let Some(b) = got {
                let w = words(&b, be);
                assert_eq!(decode_load_pair(w[5], w[6], s + 12), (R12, R12, slot));
                assert_eq!(w[2], BCL_NEXT);
            }
        }
        // The pair limits for 8-aligned slots (the base s + 12 is 4 mod 8):
        // PAIR_MAX - 3 and PAIR_MIN + 4 are the extremes, 8 further is out.
        for (delta, reachable) in
            [(PAIR_MAX - 3, true), (PAIR_MAX + 5, false), (PAIR_MIN + 4, true), (PAIR_MIN - 4, false)]
        {
            let slot = (s as i64 + 12 + delta) as u64;
            assert_eq!(slot % 8, 0);
            let got = encode_stub(s, slot, false);
            assert_eq!(got.is_some(), reachable, "delta {delta:#x}");
            if let Some(b) = got {
                let w = words(&b, false);
                assert_eq!(decode_load_pair(w[5], w[6], s + 12).2, slot);
            }
        }
        assert_eq!(encode_stub(s + 2, s + 0x100, false), None, "misaligned stub");
    }

    #[test]
    fn trampoline_form() {
        // Trampoline at 0x2000_0000, context slot at +0x18010 (ha 2, lo
        // -0x7ff0), re-entry slot at -0x10.
        // printf 'addis 11, 12, 2\nld 11, -32752(11)\naddis 12, 12, 0\nld 12, -16(12)\nmtctr 12\nbctr\n' \
        //   | llvm-mc -triple=powerpc64le -show-encoding
        const LE: [u8; 24] = [
            0x02, 0x00, 0x6c, 0x3d, 0x10, 0x80, 0x6b, 0xe9, 0x00, 0x00, 0x8c, 0x3d, 0xf0, 0xff, 0x8c, 0xe9, 0xa6, 0x03,
            0x89, 0x7d, 0x20, 0x04, 0x80, 0x4e,
        ];
        // The same with -triple=powerpc64.
        const BE: [u8; 24] = [
            0x3d, 0x6c, 0x00, 0x02, 0xe9, 0x6b, 0x80, 0x10, 0x3d, 0x8c, 0x00, 0x00, 0xe9, 0x8c, 0xff, 0xf0, 0x7d, 0x89,
            0x03, 0xa6, 0x4e, 0x80, 0x04, 0x20,
        ];
        let t = 0x2000_0000u64;
        for (be, want) in [(false, LE), (true, BE)] {
            let got = encode_trampoline(t, t + 0x18010, t - 0x10, be).unwrap();
            assert_eq!(got, want, "be {be}");
            let w = words(&got, be);
            assert_eq!(decode_load_pair(w[0], w[1], t), (R11, R12, t + 0x18010));
            assert_eq!(decode_load_pair(w[2], w[3], t), (R12, R12, t - 0x10));
        }
        assert_eq!(encode_trampoline(t, t + 0x18014, t - 0x10, false), None);
        assert_eq!(encode_trampoline(t, t + 0x18010, t + (1 << 31), false), None);
    }

    // The routine at 0x3000_0000 with the resolver slot at 0x3001_0008
    // (ha 1, lo 8 from r12 = the routine). Each `*_ASM` text is the exact
    // input of `printf '%s' "$ASM" | llvm-mc -triple=powerpc64le -show-encoding`,
    // whose bytes read little-endian are the words in the constant below it;
    // `-triple=powerpc64` gives the same words read big-endian.
    const REENTRY_VRS_ASM: &str = "\
mflr 0; std 0, 16(1); stdu 1, -464(1); std 2, 264(1); std 3, 96(1); std 4, 104(1); std 5, 112(1)
std 6, 120(1); std 7, 128(1); std 8, 136(1); std 9, 144(1); std 10, 152(1); stfd 1, 160(1)
stfd 2, 168(1); stfd 3, 176(1); stfd 4, 184(1); stfd 5, 192(1); stfd 6, 200(1); stfd 7, 208(1)
stfd 8, 216(1); stfd 9, 224(1); stfd 10, 232(1); stfd 11, 240(1); stfd 12, 248(1); stfd 13, 256(1)
li 0, 272; stvx 2, 1, 0; li 0, 288; stvx 3, 1, 0; li 0, 304; stvx 4, 1, 0; li 0, 320; stvx 5, 1, 0
li 0, 336; stvx 6, 1, 0; li 0, 352; stvx 7, 1, 0; li 0, 368; stvx 8, 1, 0; li 0, 384; stvx 9, 1, 0
li 0, 400; stvx 10, 1, 0; li 0, 416; stvx 11, 1, 0; li 0, 432; stvx 12, 1, 0; li 0, 448
stvx 13, 1, 0; mr 3, 11; addis 12, 12, 1; ld 12, 8(12); mtctr 12; bctrl; mr 12, 3; mtctr 12
li 0, 272; lvx 2, 1, 0; li 0, 288; lvx 3, 1, 0; li 0, 304; lvx 4, 1, 0; li 0, 320; lvx 5, 1, 0
li 0, 336; lvx 6, 1, 0; li 0, 352; lvx 7, 1, 0; li 0, 368; lvx 8, 1, 0; li 0, 384; lvx 9, 1, 0
li 0, 400; lvx 10, 1, 0; li 0, 416; lvx 11, 1, 0; li 0, 432; lvx 12, 1, 0; li 0, 448; lvx 13, 1, 0
lfd 1, 160(1); lfd 2, 168(1); lfd 3, 176(1); lfd 4, 184(1); lfd 5, 192(1); lfd 6, 200(1)
lfd 7, 208(1); lfd 8, 216(1); lfd 9, 224(1); lfd 10, 232(1); lfd 11, 240(1); lfd 12, 248(1)
lfd 13, 256(1); ld 3, 96(1); ld 4, 104(1); ld 5, 112(1); ld 6, 120(1); ld 7, 128(1); ld 8, 136(1)
ld 9, 144(1); ld 10, 152(1); ld 2, 264(1); addi 1, 1, 464; ld 0, 16(1); mtlr 0; bctr
";
    const REENTRY_VRS: [u32; 106] = [
        0x7c08_02a6,
        0xf801_0010,
        0xf821_fe31,
        0xf841_0108,
        0xf861_0060,
        0xf881_0068,
        0xf8a1_0070,
        0xf8c1_0078,
        0xf8e1_0080,
        0xf901_0088,
        0xf921_0090,
        0xf941_0098,
        0xd821_00a0,
        0xd841_00a8,
        0xd861_00b0,
        0xd881_00b8,
        0xd8a1_00c0,
        0xd8c1_00c8,
        0xd8e1_00d0,
        0xd901_00d8,
        0xd921_00e0,
        0xd941_00e8,
        0xd961_00f0,
        0xd981_00f8,
        0xd9a1_0100,
        0x3800_0110,
        0x7c41_01ce,
        0x3800_0120,
        0x7c61_01ce,
        0x3800_0130,
        0x7c81_01ce,
        0x3800_0140,
        0x7ca1_01ce,
        0x3800_0150,
        0x7cc1_01ce,
        0x3800_0160,
        0x7ce1_01ce,
        0x3800_0170,
        0x7d01_01ce,
        0x3800_0180,
        0x7d21_01ce,
        0x3800_0190,
        0x7d41_01ce,
        0x3800_01a0,
        0x7d61_01ce,
        0x3800_01b0,
        0x7d81_01ce,
        0x3800_01c0,
        0x7da1_01ce,
        0x7d63_5b78,
        0x3d8c_0001,
        0xe98c_0008,
        0x7d89_03a6,
        0x4e80_0421,
        0x7c6c_1b78,
        0x7d89_03a6,
        0x3800_0110,
        0x7c41_00ce,
        0x3800_0120,
        0x7c61_00ce,
        0x3800_0130,
        0x7c81_00ce,
        0x3800_0140,
        0x7ca1_00ce,
        0x3800_0150,
        0x7cc1_00ce,
        0x3800_0160,
        0x7ce1_00ce,
        0x3800_0170,
        0x7d01_00ce,
        0x3800_0180,
        0x7d21_00ce,
        0x3800_0190,
        0x7d41_00ce,
        0x3800_01a0,
        0x7d61_00ce,
        0x3800_01b0,
        0x7d81_00ce,
        0x3800_01c0,
        0x7da1_00ce,
        0xc821_00a0,
        0xc841_00a8,
        0xc861_00b0,
        0xc881_00b8,
        0xc8a1_00c0,
        0xc8c1_00c8,
        0xc8e1_00d0,
        0xc901_00d8,
        0xc921_00e0,
        0xc941_00e8,
        0xc961_00f0,
        0xc981_00f8,
        0xc9a1_0100,
        0xe861_0060,
        0xe881_0068,
        0xe8a1_0070,
        0xe8c1_0078,
        0xe8e1_0080,
        0xe901_0088,
        0xe921_0090,
        0xe941_0098,
        0xe841_0108,
        0x3821_01d0,
        0xe801_0010,
        0x7c08_03a6,
        0x4e80_0420,
    ];
    const REENTRY_NO_VRS_ASM: &str = "\
mflr 0; std 0, 16(1); stdu 1, -272(1); std 2, 264(1); std 3, 96(1); std 4, 104(1); std 5, 112(1)
std 6, 120(1); std 7, 128(1); std 8, 136(1); std 9, 144(1); std 10, 152(1); stfd 1, 160(1)
stfd 2, 168(1); stfd 3, 176(1); stfd 4, 184(1); stfd 5, 192(1); stfd 6, 200(1); stfd 7, 208(1)
stfd 8, 216(1); stfd 9, 224(1); stfd 10, 232(1); stfd 11, 240(1); stfd 12, 248(1); stfd 13, 256(1)
mr 3, 11; addis 12, 12, 1; ld 12, 8(12); mtctr 12; bctrl; mr 12, 3; mtctr 12; lfd 1, 160(1)
lfd 2, 168(1); lfd 3, 176(1); lfd 4, 184(1); lfd 5, 192(1); lfd 6, 200(1); lfd 7, 208(1)
lfd 8, 216(1); lfd 9, 224(1); lfd 10, 232(1); lfd 11, 240(1); lfd 12, 248(1); lfd 13, 256(1)
ld 3, 96(1); ld 4, 104(1); ld 5, 112(1); ld 6, 120(1); ld 7, 128(1); ld 8, 136(1); ld 9, 144(1)
ld 10, 152(1); ld 2, 264(1); addi 1, 1, 272; ld 0, 16(1); mtlr 0; bctr
";
    const REENTRY_NO_VRS: [u32; 58] = [
        0x7c08_02a6,
        0xf801_0010,
        0xf821_fef1,
        0xf841_0108,
        0xf861_0060,
        0xf881_0068,
        0xf8a1_0070,
        0xf8c1_0078,
        0xf8e1_0080,
        0xf901_0088,
        0xf921_0090,
        0xf941_0098,
        0xd821_00a0,
        0xd841_00a8,
        0xd861_00b0,
        0xd881_00b8,
        0xd8a1_00c0,
        0xd8c1_00c8,
        0xd8e1_00d0,
        0xd901_00d8,
        0xd921_00e0,
        0xd941_00e8,
        0xd961_00f0,
        0xd981_00f8,
        0xd9a1_0100,
        0x7d63_5b78,
        0x3d8c_0001,
        0xe98c_0008,
        0x7d89_03a6,
        0x4e80_0421,
        0x7c6c_1b78,
        0x7d89_03a6,
        0xc821_00a0,
        0xc841_00a8,
        0xc861_00b0,
        0xc881_00b8,
        0xc8a1_00c0,
        0xc8c1_00c8,
        0xc8e1_00d0,
        0xc901_00d8,
        0xc921_00e0,
        0xc941_00e8,
        0xc961_00f0,
        0xc981_00f8,
        0xc9a1_0100,
        0xe861_0060,
        0xe881_0068,
        0xe8a1_0070,
        0xe8c1_0078,
        0xe8e1_0080,
        0xe901_0088,
        0xe921_0090,
        0xe941_0098,
        0xe841_0108,
        0x3821_0110,
        0xe801_0010,
        0x7c08_03a6,
        0x4e80_0420,
    ];

    /// Statements in an `*_ASM` text (`;` or newline separated).
    fn statements(asm: &str) -> usize {
        asm.split([';', '\n']).filter(|s| !s.trim().is_empty()).count()
    }

    #[test]
    fn reentry_routine() {
        assert_eq!(statements(REENTRY_VRS_ASM), REENTRY_VRS.len());
        assert_eq!(statements(REENTRY_NO_VRS_ASM), REENTRY_NO_VRS.len());
        let r = 0x3000_0000u64;
        let slot = r + 0x1_0008;
        let got = encode_reentry(r, slot, true, false).unwrap();
        assert_eq!(words(&got, false), REENTRY_VRS);
        let be = encode_reentry(r, slot, true, true).unwrap();
        assert_eq!(words(&be, true), REENTRY_VRS);
        let got = encode_reentry(r, slot, false, false).unwrap();
        assert_eq!(words(&got, false), REENTRY_NO_VRS);
        // Field by field.
        for (vrs, w) in [(true, &REENTRY_VRS[..]), (false, &REENTRY_NO_VRS[..])] {
            let f = reentry_frame(vrs);
            assert_eq!(f % 16, 0);
            assert_eq!(w[2], stdu(R1, R1, -f));
            let i = w.iter().position(|&x| x == mr(R3, R11)).unwrap();
            assert_eq!(decode_load_pair(w[i + 1], w[i + 2], r), (R12, R12, slot));
            assert_eq!(&w[i + 3..i + 7], &[mtctr(R12), BCTRL, mr(R12, R3), mtctr(R12)]);
            assert_eq!(&w[w.len() - 4..], &[addi(R1, R1, f), ld(R0, R1, 16), mtlr(R0), BCTR]);
        }
        assert_eq!(SAVE_VR % 16, 0);
        assert_eq!(reentry_frame(true), 464);
        assert_eq!(reentry_frame(false), 272);
        assert_eq!(reentry_size(true), 4 * REENTRY_VRS.len());
        assert_eq!(reentry_size(false), 4 * REENTRY_NO_VRS.len());
        assert_eq!(encode_reentry(r, slot + 4, true, false), None);
    }

    #[test]
    fn icache_sequence() {
        // printf 'dcbst 0, 3\nsync\nicbi 0, 3\nisync\n' | llvm-mc -triple=powerpc64le -show-encoding
        const LE: [u8; 16] =
            [0x6c, 0x18, 0x00, 0x7c, 0xac, 0x04, 0x00, 0x7c, 0xac, 0x1f, 0x00, 0x7c, 0x2c, 0x01, 0x00, 0x4c];
        // The same with -triple=powerpc64.
        const BE: [u8; 16] =
            [0x7c, 0x00, 0x18, 0x6c, 0x7c, 0x00, 0x04, 0xac, 0x7c, 0x00, 0x1f, 0xac, 0x4c, 0x00, 0x01, 0x2c];
        assert_eq!(icache_sync(false), LE);
        assert_eq!(icache_sync(true), BE);
    }
}
