//! AArch64 encodings for redirection: patchable call sites, redirectable
//! stubs, lazy re-entry trampolines, the shared re-entry routine and the
//! instruction-cache maintenance sequence.
//!
//! A call site is a whole `B` or `BL` instruction word (imm26, a signed
//! word offset from the instruction itself, so ±128 MiB; Arm ARM (DDI
//! 0487) A64 `B` and `BL`). A64 instruction fetches are little-endian even
//! on big-endian (`aarch64_be`) targets (Arm ARM, "Endian support"), so
//! nothing here takes a byte-order parameter.
//!
//! Registers (AAPCS64, "General-purpose registers"): stubs and trampolines
//! only use `x16`/`x17` (IP0/IP1, the intra-procedure-call scratch
//! registers a veneer or PLT may clobber). A stub loads its target into `x16` and branches to it. A
//! trampoline loads its context pointer into `x16` and jumps to the shared
//! re-entry routine through `x17`. The routine saves the argument registers
//! (`x0`–`x7`, `x8` indirect result, `q0`–`q7`), calls the resolver with
//! `x0` = the context, and branches to the returned address through `x16`.
//!
//! Slots are 8-byte RW words holding absolute addresses; every encoder
//! requires 8-byte-aligned slots (the scaled `LDR` offset is in 8-byte
//! units). No BTI landing pads are emitted: JIT pages must be mapped
//! without `PROT_BTI`.

/// The instruction a call site is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SiteKind {
    /// `B imm26` (opcode `000101`), a tail call.
    Branch,
    /// `BL imm26` (opcode `100101`), a call (writes `x30`).
    Call,
}

impl SiteKind {
    fn opcode(self) -> u32 {
        match self {
            SiteKind::Branch => 0x1400_0000,
            SiteKind::Call => 0x9400_0000,
        }
    }
}

/// Bits of a `B`/`BL` word that are not the imm26 offset.
const BRANCH_OPCODE_MASK: u32 = 0xfc00_0000;

/// Smallest branch displacement in bytes, `target - site` (imm26 × 4,
/// Arm ARM A64 `B`/`BL`): −128 MiB.
pub const BRANCH_MIN: i64 = -(1 << 27);
/// Largest branch displacement in bytes: 128 MiB − 4.
pub const BRANCH_MAX: i64 = (1 << 27) - 4;

/// Reads the little-endian instruction word at `offset` of `code`.
fn word_at(code: &[u8], offset: usize) -> Option<u32> {
    let bytes = code.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// The patchable form of the instruction at byte `offset` of `code` (the
/// start of the 4-byte word, not a field inside it), if any: `B` or `BL`.
pub fn site_kind(code: &[u8], offset: usize) -> Option<SiteKind> {
    match word_at(code, offset)? & BRANCH_OPCODE_MASK {
        0x1400_0000 => Some(SiteKind::Branch),
        0x9400_0000 => Some(SiteKind::Call),
        _ => None,
    }
}

/// The instruction word `insn_word` (a `kind` branch at `site_addr`) with
/// its imm26 changed to reach `target`; the opcode and link bit are kept.
///
/// `None` when `insn_word` is not of `kind`, when `target` is not 4-byte
/// aligned relative to the site, or when `target - site_addr` is outside
/// [`BRANCH_MIN`]`..=`[`BRANCH_MAX`] (the caller must then use a stub).
pub fn encode_branch(kind: SiteKind, insn_word: u32, site_addr: u64, target: u64) -> Option<u32> {
    if insn_word & BRANCH_OPCODE_MASK != kind.opcode() {
        return None;
    }
    let d = target as i128 - site_addr as i128;
    if d & 3 != 0 || d < i128::from(BRANCH_MIN) || d > i128::from(BRANCH_MAX) {
        return None;
    }
    Some(kind.opcode() | ((d >> 2) as u32 & 0x03ff_ffff))
}

/// The target of the `kind` branch `insn_word` at `site_addr`, or `None`
/// when the word is not of that kind.
pub fn decode_branch(kind: SiteKind, insn_word: u32, site_addr: u64) -> Option<u64> {
    if insn_word & BRANCH_OPCODE_MASK != kind.opcode() {
        return None;
    }
    let imm = ((insn_word << 6) as i32 >> 6) as i64;
    Some(site_addr.wrapping_add((imm * 4) as u64))
}

// --- Instruction encoders (Arm ARM, A64 base and SIMD&FP instruction descriptions). ---

const X16: u32 = 16;
const X17: u32 = 17;
const FP: u32 = 29;
const LR: u32 = 30;
const SP: u32 = 31;
const XZR: u32 = 31;

/// `ADRP Xd, target` at `pc` (A64 `ADRP`): page delta in ±4 GiB.
fn adrp(rd: u32, pc: u64, target: u64) -> Option<u32> {
    let pages = ((target & !0xfff) as i128 - (pc & !0xfff) as i128) >> 12;
    if !(-(1i128 << 20)..(1i128 << 20)).contains(&pages) {
        return None;
    }
    let imm = pages as u32;
    Some(0x9000_0000 | (imm & 3) << 29 | ((imm >> 2) & 0x7ffff) << 5 | rd)
}

/// `LDR Xt, [Xn, #off]`, unsigned scaled offset (A64 `LDR (immediate)`): `off` a
/// multiple of 8 below 32 KiB.
fn ldr_x_uimm(rt: u32, rn: u32, off: u64) -> u32 {
    debug_assert!(off % 8 == 0 && off < 1 << 15);
    0xf940_0000 | ((off / 8) as u32) << 10 | rn << 5 | rt
}

/// `STR Xt, [Xn, #off]`, unsigned scaled offset (A64 `STR (immediate)`).
fn str_x_uimm(rt: u32, rn: u32, off: u64) -> u32 {
    debug_assert!(off % 8 == 0 && off < 1 << 15);
    0xf900_0000 | ((off / 8) as u32) << 10 | rn << 5 | rt
}

/// `LDR Xt, label` at `pc` (A64 `LDR (literal)`): ±1 MiB, word-aligned.
fn ldr_x_literal(rt: u32, pc: u64, target: u64) -> Option<u32> {
    let d = target as i128 - pc as i128;
    if d & 3 != 0 || !(-(1i128 << 20)..(1i128 << 20)).contains(&d) {
        return None;
    }
    Some(0x5800_0000 | (((d >> 2) as u32) & 0x7ffff) << 5 | rt)
}

/// `STP`/`LDP` of two X registers (A64 `STP`/`LDP`). `base` selects
/// the form: signed offset `0xa900_0000`, pre-index `0xa980_0000`,
/// post-index `0xa880_0000`, or'ed with `1 << 22` for a load.
fn pair_x(base: u32, rt: u32, rt2: u32, rn: u32, off: i32) -> u32 {
    debug_assert!(off % 8 == 0 && (-512..512).contains(&off));
    base | (((off / 8) as u32) & 0x7f) << 15 | rt2 << 10 | rn << 5 | rt
}

/// `STP`/`LDP Qt, Qt2, [Xn, #off]` signed offset (A64 SIMD&FP `STP`/`LDP`):
/// `off` a multiple of 16 in −1024..1008.
fn pair_q(load: bool, rt: u32, rt2: u32, rn: u32, off: i32) -> u32 {
    debug_assert!(off % 16 == 0 && (-1024..1024).contains(&off));
    let base = if load { 0xad40_0000 } else { 0xad00_0000 };
    base | (((off / 16) as u32) & 0x7f) << 15 | rt2 << 10 | rn << 5 | rt
}

const STP_PRE: u32 = 0xa980_0000;
const STP_OFF: u32 = 0xa900_0000;
const LDP_OFF: u32 = 0xa940_0000;
const LDP_POST: u32 = 0xa8c0_0000;

/// `MOV Xd, Xm` = `ORR Xd, XZR, Xm` (A64 `MOV (register)`).
fn mov(rd: u32, rm: u32) -> u32 {
    0xaa00_0000 | rm << 16 | XZR << 5 | rd
}

/// `BR Xn` (A64 `BR`).
fn br(rn: u32) -> u32 {
    0xd61f_0000 | rn << 5
}

/// `BLR Xn` (A64 `BLR`).
fn blr(rn: u32) -> u32 {
    0xd63f_0000 | rn << 5
}

/// `BRK #0` (A64 `BRK`): fills unused words, so a stray jump traps.
const BRK0: u32 = 0xd420_0000;

/// The words loading the 8-byte slot at `slot` into `rd`, for code at
/// `pc`: `LDR rd, slot` when within ±1 MiB and `literal` allows it, else
/// `ADRP rd, slot; LDR rd, [rd, :lo12:slot]`.
fn load_slot(rd: u32, pc: u64, slot: u64, literal: bool) -> Option<Vec<u32>> {
    if slot % 8 != 0 {
        return None;
    }
    if literal {
        if let Some(w) = ldr_x_literal(rd, pc, slot) {
            return Some(vec![w]);
        }
    }
    Some(vec![adrp(rd, pc, slot)?, ldr_x_uimm(rd, rd, slot & 0xfff)])
}

/// Pads `words` with `BRK #0` to `N` words and lays them out little-endian.
fn to_bytes<const N: usize>(words: &[u32]) -> [u8; N] {
    debug_assert!(N % 4 == 0 && words.len() * 4 <= N);
    let mut out = [0u8; N];
    for (i, chunk) in out.chunks_exact_mut(4).enumerate() {
        chunk.copy_from_slice(&words.get(i).copied().unwrap_or(BRK0).to_le_bytes());
    }
    out
}

/// Bytes of a stub: three instruction words.
pub const STUB_SIZE: usize = 12;

/// Encodes the stub at `stub_addr` that jumps through the 8-byte slot at
/// `slot_addr`: `LDR x16, slot; BR x16; BRK #0` when the slot is within
/// ±1 MiB of the stub, else `ADRP x16, slot; LDR x16, [x16, :lo12:slot];
/// BR x16`. Only `x16` (IP0) is clobbered.
///
/// `None` when the slot is not 8-byte aligned or beyond ADRP's ±4 GiB.
pub fn encode_stub(stub_addr: u64, slot_addr: u64) -> Option<[u8; STUB_SIZE]> {
    let mut w = load_slot(X16, stub_addr, slot_addr, true)?;
    w.push(br(X16));
    Some(to_bytes(&w))
}

/// Bytes of a lazy re-entry trampoline: five instruction words.
pub const TRAMPOLINE_SIZE: usize = 20;

/// Encodes the per-symbol trampoline at `tramp_addr`: loads the context
/// pointer from `ctx_slot` into `x16`, the re-entry routine's address from
/// `reentry_slot` into `x17`, and `BR x17`. Each load is `LDR literal` when
/// in ±1 MiB, else `ADRP`+`LDR`; unused words are `BRK #0`.
///
/// `None` when a slot is not 8-byte aligned or beyond ±4 GiB.
pub fn encode_trampoline(tramp_addr: u64, ctx_slot: u64, reentry_slot: u64) -> Option<[u8; TRAMPOLINE_SIZE]> {
    let mut w = load_slot(X16, tramp_addr, ctx_slot, true)?;
    w.extend(load_slot(X17, tramp_addr + 4 * w.len() as u64, reentry_slot, true)?);
    w.push(br(X17));
    Some(to_bytes(&w))
}

/// Bytes of the frame the re-entry routine allocates: `x29`/`x30` (16),
/// `x0`–`x7` (64), `x8` and a pad word (16), `q0`–`q7` (128); a multiple of
/// 16 so `sp` stays 16-aligned (AAPCS64 "The stack": `sp` mod 16 = 0 at
/// public interfaces).
pub const REENTRY_FRAME: i32 = 224;

/// Bytes of the shared re-entry routine: 27 instruction words.
pub const REENTRY_SIZE: usize = 108;

/// Index (in words) within the routine of the `ADRP` that addresses the
/// resolver slot.
const REENTRY_ADRP_INDEX: usize = 12;

/// Encodes the shared lazy re-entry routine at `routine_addr`.
///
/// Entered by `BR x17` from a trampoline with `x16` = the context and the
/// registers as at the lazy function's entry. It builds a frame record
/// (`x29`, `x30`), saves `x0`–`x8` and `q0`–`q7` (the argument and
/// indirect-result registers, AAPCS64 "Parameter passing"), calls the
/// resolver whose address is in the 8-byte slot `resolver_slot`
/// (`extern "C" fn(ctx) -> target`,
/// through `ADRP x17`/`LDR x17`/`BLR x17`), restores everything and
/// `BR x16` to the returned address. SVE `z`/`p` argument registers are not
/// preserved (no SVE-PCS callees).
///
/// `None` when `resolver_slot` is not 8-byte aligned or beyond ±4 GiB.
pub fn encode_reentry(routine_addr: u64, resolver_slot: u64) -> Option<[u8; REENTRY_SIZE]> {
    let f = REENTRY_FRAME;
    let mut w = vec![pair_x(STP_PRE, FP, LR, SP, -f), 0x9100_0000 | SP << 5 | FP]; // mov x29, sp
    for i in 0..4 {
        w.push(pair_x(STP_OFF, 2 * i, 2 * i + 1, SP, 16 + 16 * i as i32));
    }
    w.push(str_x_uimm(8, SP, 80));
    for i in 0..4 {
        w.push(pair_q(false, 2 * i, 2 * i + 1, SP, 96 + 32 * i as i32));
    }
    w.push(mov(0, X16));
    debug_assert_eq!(w.len(), REENTRY_ADRP_INDEX);
    let pc = routine_addr + 4 * w.len() as u64;
    w.extend(load_slot(X17, pc, resolver_slot, false)?);
    w.push(blr(X17));
    w.push(mov(X16, 0));
    for i in (0..4).rev() {
        w.push(pair_q(true, 2 * i, 2 * i + 1, SP, 96 + 32 * i as i32));
    }
    w.push(ldr_x_uimm(8, SP, 80));
    for i in (0..4).rev() {
        w.push(pair_x(LDP_OFF, 2 * i, 2 * i + 1, SP, 16 + 16 * i as i32));
    }
    w.push(pair_x(LDP_POST, FP, LR, SP, f));
    w.push(br(X16));
    debug_assert_eq!(w.len() * 4, REENTRY_SIZE);
    Some(to_bytes(&w))
}

/// Instruction-cache maintenance for the cache line holding the address
/// in `x0` after code there was written: `DC CVAU, x0; DSB ISH;
/// IC IVAU, x0; DSB ISH; ISB` (Arm ARM, "Concurrent modification
/// and execution of instructions"). For a range, the `DC`/`IC` pair is
/// repeated per line (line sizes from `CTR_EL0`); the `ISB` only
/// synchronises this core, so other threads that may run the code need a
/// `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)` afterwards.
/// A single patched `B`/`BL` word is one of the instructions the
/// architecture allows to be modified concurrently with execution.
pub const ICACHE_SYNC: [u8; 20] = {
    let words: [u32; 5] = [0xd50b_7b20, 0xd503_3b9f, 0xd50b_7520, 0xd503_3b9f, 0xd503_3fdf];
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        out[i] = (words[i / 4] >> (8 * (i % 4))) as u8;
        i += 1;
    }
    out
};

#[cfg(test)]
mod tests {
    use super::*;

    fn words(bytes: &[u8]) -> Vec<u32> {
        bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect()
    }

    /// The address an `ADRP` at `pc` computes.
    fn adrp_target(w: u32, pc: u64) -> u64 {
        assert_eq!(w & 0x9f00_0000, 0x9000_0000, "not ADRP: {w:#x}");
        let imm = ((w >> 29) & 3) | ((w >> 5) & 0x7ffff) << 2;
        let pages = ((imm << 11) as i32 >> 11) as i64;
        (pc & !0xfff).wrapping_add((pages << 12) as u64)
    }

    /// `(rt, rn, byte offset)` of an `LDR Xt, [Xn, #imm]`.
    fn ldr_uimm_fields(w: u32) -> (u32, u32, u64) {
        assert_eq!(w & 0xffc0_0000, 0xf940_0000, "not LDR (unsigned offset): {w:#x}");
        (w & 31, (w >> 5) & 31, u64::from((w >> 10) & 0xfff) * 8)
    }

    /// `(rt, target)` of an `LDR Xt, literal` at `pc`.
    fn ldr_lit_fields(w: u32, pc: u64) -> (u32, u64) {
        assert_eq!(w & 0xff00_0000, 0x5800_0000, "not LDR (literal): {w:#x}");
        let imm = (((w >> 5) & 0x7ffff) << 13) as i32 >> 13;
        (w & 31, pc.wrapping_add((i64::from(imm) * 4) as u64))
    }

    #[test]
    fn branch_range_limits() {
        let p = 0x7f00_1000_0000u64;
        // (kind, original word, target, expected new word or None)
        // `bl #134217724` = [0xff,0xff,0xff,0x95] and `bl #-134217728` =
        // [0x00,0x00,0x00,0x96] from
        // `echo 'bl #134217724' | llvm-mc -triple=aarch64 -show-encoding`.
        let table: &[(SiteKind, u32, u64, Option<u32>)] = &[
            (SiteKind::Call, 0x9400_0000, p + BRANCH_MAX as u64, Some(0x95ff_ffff)),
            (SiteKind::Call, 0x9400_0000, p + BRANCH_MAX as u64 + 4, None),
            (SiteKind::Call, 0x9400_0000, p - (1 << 27), Some(0x9600_0000)),
            (SiteKind::Call, 0x9400_0000, p - (1 << 27) - 4, None),
            (SiteKind::Branch, 0x1400_0001, p + BRANCH_MAX as u64, Some(0x15ff_ffff)),
            (SiteKind::Branch, 0x1400_0001, p + BRANCH_MAX as u64 + 4, None),
            (SiteKind::Branch, 0x1400_0001, p - (1 << 27), Some(0x1600_0000)),
            (SiteKind::Branch, 0x1400_0001, p - (1 << 27) - 4, None),
            // `b #-4` = [0xff,0xff,0xff,0x17] (llvm-mc -triple=aarch64).
            (SiteKind::Branch, 0x1400_0001, p - 4, Some(0x17ff_ffff)),
            // `bl #8` = [0x02,0x00,0x00,0x94] (llvm-mc -triple=aarch64).
            (SiteKind::Call, 0x9400_1234, p + 8, Some(0x9400_0002)),
            (SiteKind::Call, 0x9400_0000, p, Some(0x9400_0000)),
            // Misaligned targets.
            (SiteKind::Call, 0x9400_0000, p + 2, None),
            (SiteKind::Branch, 0x1400_0000, p - 1, None),
            // The word is not of the kind.
            (SiteKind::Call, 0x1400_0000, p + 8, None),
            (SiteKind::Branch, 0xd61f_0200, p + 8, None),
        ];
        for &(kind, insn, target, want) in table {
            let got = encode_branch(kind, insn, p, target);
            assert_eq!(got, want, "{kind:?} {insn:#x} -> {target:#x}");
            if let Some(w) = got {
                assert_eq!(decode_branch(kind, w, p), Some(target));
                assert_eq!(site_kind(&w.to_le_bytes(), 0), Some(kind));
            }
        }
        assert_eq!(decode_branch(SiteKind::Call, 0x1400_0000, p), None);
    }

    #[test]
    fn site_forms() {
        // b #8; bl #-4; br x16; a truncated bl.
        let mut code = Vec::new();
        for w in [0x1400_0002u32, 0x97ff_ffff, 0xd61f_0200] {
            code.extend_from_slice(&w.to_le_bytes());
        }
        code.extend_from_slice(&[0x00, 0x00, 0x94]);
        assert_eq!(site_kind(&code, 0), Some(SiteKind::Branch));
        assert_eq!(site_kind(&code, 4), Some(SiteKind::Call));
        assert_eq!(site_kind(&code, 8), None);
        assert_eq!(site_kind(&code, 12), None, "word past the end");
        assert_eq!(site_kind(&code, usize::MAX), None);
    }

    #[test]
    fn stub_literal_form() {
        // printf 'ldr x16, #0x800\nbr x16\nbrk #0\n' | llvm-mc -triple=aarch64 -show-encoding
        const WANT: [u8; 12] = [0x10, 0x40, 0x00, 0x58, 0x00, 0x02, 0x1f, 0xd6, 0x00, 0x00, 0x20, 0xd4];
        let stub = 0x4000_0000u64;
        assert_eq!(encode_stub(stub, stub + 0x800), Some(WANT));
        let w = words(&WANT);
        assert_eq!(ldr_lit_fields(w[0], stub), (16, stub + 0x800));
        // Literal limits: -1 MiB and +1 MiB - 8 (8-aligned) stay one LDR.
        for slot in [stub + (1 << 20) - 8, stub - (1 << 20)] {
            let w = words(&encode_stub(stub, slot).unwrap());
            assert_eq!(ldr_lit_fields(w[0], stub), (16, slot));
            assert_eq!(w[1], br(16));
        }
    }

    #[test]
    fn stub_adrp_form() {
        // (stub, slot, expected bytes or None). Each constant holds the
        // bytes of `printf '%s\n' "adrp x16, #PAGES" "ldr x16, [x16, #LO12]" 'br x16'
        //   | llvm-mc -triple=aarch64 -show-encoding` with the operands in its comment.
        // adrp x16, #0x1234000; ldr x16, [x16, #0x568]
        const FWD: [u8; 12] = [0xb0, 0x91, 0x00, 0x90, 0x10, 0xb6, 0x42, 0xf9, 0x00, 0x02, 0x1f, 0xd6];
        // adrp x16, #-1048576; ldr x16, [x16, #8]
        const BACK: [u8; 12] = [0x10, 0xf8, 0xff, 0x90, 0x10, 0x06, 0x40, 0xf9, 0x00, 0x02, 0x1f, 0xd6];
        // adrp x16, #0xfffff000; ldr x16, [x16, #0xff8] (largest page delta)
        const MAX: [u8; 12] = [0xf0, 0xff, 0x7f, 0xf0, 0x10, 0xfe, 0x47, 0xf9, 0x00, 0x02, 0x1f, 0xd6];
        // adrp x16, #-4294967296; ldr x16, [x16, #8] (smallest page delta);
        // llvm-mc rejects `adrp x16, #0x100000000` (one page beyond).
        const MIN: [u8; 12] = [0x10, 0x00, 0x80, 0x90, 0x10, 0x06, 0x40, 0xf9, 0x00, 0x02, 0x1f, 0xd6];
        let table: &[(u64, u64, Option<[u8; 12]>)] = &[
            (0x4000_0ff8, 0x4123_4568, Some(FWD)),
            // 1 MiB + 8 below: just past the literal range.
            (0x20_0010, 0x10_0008, Some(BACK)),
            (0x1000, 0x1_0000_0ff8, Some(MAX)),
            (0x1000, 0x1_0000_1000, None),
            (0x1_0000_0000, 0x8, Some(MIN)),
            (0x1_0000_1000, 0x8, None),
            // Slot not 8-byte aligned.
            (0x4000_0000, 0x4123_4564, None),
        ];
        for &(stub, slot, want) in table {
            let got = encode_stub(stub, slot);
            assert_eq!(got, want, "stub {stub:#x} slot {slot:#x}");
            if let Some(bytes) = got {
                let w = words(&bytes);
                let (rt, rn, off) = ldr_uimm_fields(w[1]);
                assert_eq!((rt, rn, adrp_target(w[0], stub) + off), (16, 16, slot));
                assert_eq!(w[0] & 31, 16);
                assert_eq!(w[2], 0xd61f_0200);
            }
        }
    }

    #[test]
    fn trampoline_forms() {
        // printf 'ldr x16, #0x100\nldr x17, #0x1ffc\nbr x17\nbrk #0\nbrk #0\n' | llvm-mc -triple=aarch64 -show-encoding
        const NEAR: [u8; 20] = [
            0x10, 0x08, 0x00, 0x58, 0xf1, 0xff, 0x00, 0x58, 0x20, 0x02, 0x1f, 0xd6, 0x00, 0x00, 0x20, 0xd4, 0x00, 0x00,
            0x20, 0xd4,
        ];
        // printf '%s\n' 'adrp x16, #0x10000000' 'ldr x16, [x16, #0x10]' 'adrp x17, #0x10000000' \
        //   'ldr x17, [x17, #0xff8]' 'br x17' \
        //   | llvm-mc -triple=aarch64 -show-encoding
        const FAR: [u8; 20] = [
            0x10, 0x00, 0x08, 0x90, 0x10, 0x0a, 0x40, 0xf9, 0x11, 0x00, 0x08, 0x90, 0x31, 0xfe, 0x47, 0xf9, 0x20, 0x02,
            0x1f, 0xd6,
        ];
        assert_eq!(encode_trampoline(0x10000, 0x10100, 0x12000), Some(NEAR));
        assert_eq!(encode_trampoline(0x4000_0000, 0x5000_0010, 0x5000_0ff8), Some(FAR));
        let w = words(&FAR);
        assert_eq!(ldr_uimm_fields(w[1]), (16, 16, 0x10));
        assert_eq!(adrp_target(w[0], 0x4000_0000) + 0x10, 0x5000_0010);
        assert_eq!(adrp_target(w[2], 0x4000_0008) + ldr_uimm_fields(w[3]).2, 0x5000_0ff8);
        assert_eq!(ldr_uimm_fields(w[3]).0, 17);
        // Mixed: context near (literal), re-entry slot far (ADRP pair).
        let t = 0x4000_0000u64;
        let w = words(&encode_trampoline(t, t + 0x100, t + 0x1000_0000).unwrap());
        assert_eq!(ldr_lit_fields(w[0], t), (16, t + 0x100));
        assert_eq!(adrp_target(w[1], t + 4) + ldr_uimm_fields(w[2]).2, t + 0x1000_0000);
        assert_eq!((w[3], w[4]), (br(17), BRK0));
        assert_eq!(encode_trampoline(t, t + 4, t + 0x100), None, "misaligned context slot");
        assert_eq!(encode_trampoline(t, t + 0x100, t + (8 << 30)), None, "re-entry slot beyond 4 GiB");
    }

    #[test]
    fn reentry_routine() {
        // WANT_ASM is the exact input of
        // `printf '%s' "$WANT_ASM" | llvm-mc -triple=aarch64 -show-encoding`
        // and WANT its bytes: the routine at 0x4000_0000 with the resolver
        // slot at 0x4000_2008 (the ADRP at 0x4000_0030, page delta 0x2000).
        const WANT_ASM: &str = "\
stp x29, x30, [sp, #-224]!; mov x29, sp; stp x0, x1, [sp, #16]; stp x2, x3, [sp, #32]
stp x4, x5, [sp, #48]; stp x6, x7, [sp, #64]; str x8, [sp, #80]; stp q0, q1, [sp, #96]
stp q2, q3, [sp, #128]; stp q4, q5, [sp, #160]; stp q6, q7, [sp, #192]; mov x0, x16
adrp x17, #0x2000; ldr x17, [x17, #8]; blr x17; mov x16, x0; ldp q6, q7, [sp, #192]
ldp q4, q5, [sp, #160]; ldp q2, q3, [sp, #128]; ldp q0, q1, [sp, #96]; ldr x8, [sp, #80]
ldp x6, x7, [sp, #64]; ldp x4, x5, [sp, #48]; ldp x2, x3, [sp, #32]; ldp x0, x1, [sp, #16]
ldp x29, x30, [sp], #224; br x16
";
        const WANT: [u8; REENTRY_SIZE] = [
            0xfd, 0x7b, 0xb2, 0xa9, 0xfd, 0x03, 0x00, 0x91, 0xe0, 0x07, 0x01, 0xa9, 0xe2, 0x0f, 0x02, 0xa9, 0xe4, 0x17,
            0x03, 0xa9, 0xe6, 0x1f, 0x04, 0xa9, 0xe8, 0x2b, 0x00, 0xf9, 0xe0, 0x07, 0x03, 0xad, 0xe2, 0x0f, 0x04, 0xad,
            0xe4, 0x17, 0x05, 0xad, 0xe6, 0x1f, 0x06, 0xad, 0xe0, 0x03, 0x10, 0xaa, 0x11, 0x00, 0x00, 0xd0, 0x31, 0x06,
            0x40, 0xf9, 0x20, 0x02, 0x3f, 0xd6, 0xf0, 0x03, 0x00, 0xaa, 0xe6, 0x1f, 0x46, 0xad, 0xe4, 0x17, 0x45, 0xad,
            0xe2, 0x0f, 0x44, 0xad, 0xe0, 0x07, 0x43, 0xad, 0xe8, 0x2b, 0x40, 0xf9, 0xe6, 0x1f, 0x44, 0xa9, 0xe4, 0x17,
            0x43, 0xa9, 0xe2, 0x0f, 0x42, 0xa9, 0xe0, 0x07, 0x41, 0xa9, 0xfd, 0x7b, 0xce, 0xa8, 0x00, 0x02, 0x1f, 0xd6,
        ];
        let statements = WANT_ASM.split([';', '\n']).filter(|s| !s.trim().is_empty()).count();
        assert_eq!(statements * 4, REENTRY_SIZE);
        let r = 0x4000_0000u64;
        let got = encode_reentry(r, r + 0x2008).unwrap();
        assert_eq!(got, WANT);
        let w = words(&got);
        // Field by field: the resolver slot is reached from the ADRP's pc.
        let i = REENTRY_ADRP_INDEX;
        assert_eq!(adrp_target(w[i], r + 4 * i as u64) + ldr_uimm_fields(w[i + 1]).2, r + 0x2008);
        assert_eq!(w[i - 1], mov(0, 16), "x0 = context");
        assert_eq!(w[i + 2], blr(17));
        assert_eq!(w[i + 3], mov(16, 0), "x16 = resolved target");
        // stp x29, x30, [sp, #-224]!: imm7 = -224/8 = -28.
        assert_eq!((w[0] >> 15) & 0x7f, (-28i32 as u32) & 0x7f);
        assert_eq!(REENTRY_FRAME % 16, 0);
        assert_eq!(*w.last().unwrap(), br(16));
        assert_eq!(encode_reentry(r, r + 0x2004), None, "misaligned resolver slot");
        assert_eq!(encode_reentry(r, r + (4 << 30) + 0x1000), None, "beyond 4 GiB");
    }

    #[test]
    fn icache_sequence() {
        // printf 'dc cvau, x0\ndsb ish\nic ivau, x0\ndsb ish\nisb\n' | llvm-mc -triple=aarch64 -show-encoding
        const WANT: [u8; 20] = [
            0x20, 0x7b, 0x0b, 0xd5, 0x9f, 0x3b, 0x03, 0xd5, 0x20, 0x75, 0x0b, 0xd5, 0x9f, 0x3b, 0x03, 0xd5, 0xdf, 0x3f,
            0x03, 0xd5,
        ];
        assert_eq!(ICACHE_SYNC, WANT);
    }
}
