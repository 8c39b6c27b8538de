//! RISC-V 64 encodings for redirection: patchable call sites, the
//! `AUIPC`+`JALR` call pair, redirectable stubs, lazy re-entry trampolines,
//! the shared re-entry routine and the instruction-fetch fence.
//!
//! Rules are from "The RISC-V Instruction Set Manual, Volume I:
//! Unprivileged ISA" (JAL/JALR/AUIPC in "Control Transfer Instructions"
//! and "Integer Computational Instructions", `fence.i` in the Zifencei
//! chapter) and the RISC-V ELF psABI (register convention, PLT, `R_RISCV_JAL`
//! and `R_RISCV_CALL_PLT`). Instructions are always little-endian.
//!
//! A patchable call site is a `JAL` word (imm20, a signed offset in 2-byte
//! units from the instruction, ±1 MiB). A `call`/`tail` pair
//! (`AUIPC rX, hi20; JALR rd, lo12(rX)`, ±2 GiB) is also a call site but is
//! never patched in place: its two words cannot be replaced atomically, so
//! it is redirected through a stub (or by patching a stub's slot).
//! A `JAL` is only patched atomically if it is 4-byte aligned; with the C
//! extension a 4-byte instruction may sit at a 2-byte boundary.
//!
//! Registers (psABI "Integer Register Convention" and the PLT sequence
//! `auipc t3; l[w|d] t3; jalr t1, t3`): a stub loads its target into `t3`
//! (`x28`) and jumps with `jr t3`, as a PLT entry does. A trampoline loads
//! its context into `t0` (`x5`, where the PLT header passes the link map to
//! the resolver) and jumps to the re-entry routine through `t3`. Neither is
//! an argument register, and `t2` (`x7`, GCC's static chain and the Zicfilp
//! landing-pad label register) is left alone. Nothing ever jumps through
//! `t0`, since `jr t0` is a return hint. All sequences use 4-byte forms
//! only (no C extension needed); slots are 8-byte aligned RW words.

/// The instruction a call site is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SiteKind {
    /// `JAL rd, imm20` (opcode `1101111`): `rd = ra` for a call, `zero`
    /// for a tail jump. Patchable in place.
    Jal,
    /// `AUIPC rX, hi20` followed by `JALR rd, lo12(rX)` (`R_RISCV_CALL_PLT`).
    /// A call site, never patched in place: [`encode_branch`] refuses it.
    AuipcJalr,
}

const OP_JAL: u32 = 0x6f;
const OP_JALR: u32 = 0x67;
const OP_AUIPC: u32 = 0x17;
const OP_LOAD: u32 = 0x03;
const OP_STORE: u32 = 0x23;
const OP_LOAD_FP: u32 = 0x07;
const OP_STORE_FP: u32 = 0x27;
const OP_IMM: u32 = 0x13;

const ZERO: u32 = 0;
const RA: u32 = 1;
const SP: u32 = 2;
const T0: u32 = 5;
const S0: u32 = 8;
const A0: u32 = 10;
const T3: u32 = 28;

/// Smallest `JAL` displacement in bytes, `target - site` (imm20 × 2): −1 MiB.
pub const JAL_MIN: i64 = -(1 << 20);
/// Largest `JAL` displacement in bytes: 1 MiB − 2.
pub const JAL_MAX: i64 = (1 << 20) - 2;
/// Smallest `AUIPC`+`JALR` (or `AUIPC`+load) displacement in bytes:
/// −2 GiB − 2 KiB (hi20 = −2¹⁹, lo12 = −2048).
pub const PAIR_MIN: i64 = -(1 << 31) - 0x800;
/// Largest `AUIPC`+`JALR` displacement in bytes: 2 GiB − 2 KiB − 1
/// (hi20 = 2¹⁹ − 1, lo12 = 2047).
pub const PAIR_MAX: i64 = (1 << 31) - 0x801;

/// Reads the little-endian word at `offset` of `code`.
fn word_at(code: &[u8], offset: usize) -> Option<u32> {
    let bytes = code.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

fn rd(w: u32) -> u32 {
    (w >> 7) & 31
}

fn rs1(w: u32) -> u32 {
    (w >> 15) & 31
}

fn is_jalr(w: u32) -> bool {
    w & 0x707f == OP_JALR
}

/// The patchable form of the instruction at byte `offset` of `code` (the
/// start of the instruction), if any: a `JAL`, or an `AUIPC rX` (rX ≠
/// `zero`) immediately followed by a `JALR` based on `rX`.
pub fn site_kind(code: &[u8], offset: usize) -> Option<SiteKind> {
    let w = word_at(code, offset)?;
    match w & 0x7f {
        OP_JAL => Some(SiteKind::Jal),
        OP_AUIPC => {
            let j = word_at(code, offset.checked_add(4)?)?;
            (rd(w) != ZERO && is_jalr(j) && rs1(j) == rd(w)).then_some(SiteKind::AuipcJalr)
        }
        _ => None,
    }
}

/// The J-type immediate fields for byte displacement `d`.
fn jal_imm(d: i64) -> u32 {
    let d = d as u32;
    ((d >> 20) & 1) << 31 | ((d >> 1) & 0x3ff) << 21 | ((d >> 11) & 1) << 20 | ((d >> 12) & 0xff) << 12
}

/// The byte displacement of a J-type word.
fn jal_offset(w: u32) -> i64 {
    let imm = ((w >> 31) & 1) << 20 | ((w >> 21) & 0x3ff) << 1 | ((w >> 20) & 1) << 11 | ((w >> 12) & 0xff) << 12;
    i64::from(((imm << 11) as i32) >> 11)
}

/// The `JAL` word `insn_word` at `site_addr` with its imm20 changed to
/// reach `target`; `rd` and the opcode are kept.
///
/// `None` for [`SiteKind::AuipcJalr`] (never patched in place), when the
/// word is not a `JAL`, when `target - site_addr` is odd, or outside
/// [`JAL_MIN`]`..=`[`JAL_MAX`] (the caller must then use a stub).
pub fn encode_branch(kind: SiteKind, insn_word: u32, site_addr: u64, target: u64) -> Option<u32> {
    if kind != SiteKind::Jal || insn_word & 0x7f != OP_JAL {
        return None;
    }
    let d = target as i128 - site_addr as i128;
    if d & 1 != 0 || d < i128::from(JAL_MIN) || d > i128::from(JAL_MAX) {
        return None;
    }
    Some((insn_word & 0xfff) | jal_imm(d as i64))
}

/// The target of the `JAL` `insn_word` at `site_addr`; `None` for
/// [`SiteKind::AuipcJalr`] (use [`decode_call_pair`]) or a word that is not
/// a `JAL`.
pub fn decode_branch(kind: SiteKind, insn_word: u32, site_addr: u64) -> Option<u64> {
    if kind != SiteKind::Jal || insn_word & 0x7f != OP_JAL {
        return None;
    }
    Some(site_addr.wrapping_add(jal_offset(insn_word) as u64))
}

/// Splits the byte displacement `delta` into `(hi20, lo12)` with
/// `(hi20 << 12) + lo12 == delta`, where `hi20 = (delta + 0x800) >> 12`
/// rounds so that the sign-extended lo12 (−2048..=2047) corrects it
/// (psABI `R_RISCV_PCREL_HI20`/`_LO12_I`, `R_RISCV_CALL_PLT`). `None` when
/// `delta` is outside [`PAIR_MIN`]`..=`[`PAIR_MAX`].
pub fn split_hi_lo(delta: i64) -> Option<(i32, i32)> {
    if !(PAIR_MIN..=PAIR_MAX).contains(&delta) {
        return None;
    }
    let hi = (delta + 0x800) >> 12;
    Some((hi as i32, (delta - (hi << 12)) as i32))
}

/// `(hi20, lo12)` for an `AUIPC` at `pc` addressing `target`.
fn pcrel(pc: u64, target: u64) -> Option<(i32, i32)> {
    split_hi_lo(i64::try_from(target as i128 - pc as i128).ok()?)
}

/// The `AUIPC rX; JALR rd, lo(rX)` pair at `site_addr` re-encoded to reach
/// `target`, as `(auipc, jalr)` words; registers are kept. For link-time
/// fixups only: a live pair is never rewritten (see [`SiteKind::AuipcJalr`]).
///
/// `None` when the words are not such a pair, when `target - site_addr`
/// is odd, or outside [`PAIR_MIN`]`..=`[`PAIR_MAX`].
pub fn encode_call_pair(auipc: u32, jalr: u32, site_addr: u64, target: u64) -> Option<(u32, u32)> {
    if auipc & 0x7f != OP_AUIPC || !is_jalr(jalr) || rs1(jalr) != rd(auipc) {
        return None;
    }
    if (target ^ site_addr) & 1 != 0 {
        return None;
    }
    let (hi, lo) = pcrel(site_addr, target)?;
    Some(((auipc & 0xfff) | (hi as u32) << 12, (jalr & 0x000f_ffff) | (lo as u32) << 20))
}

/// The target of the `AUIPC`+`JALR` pair at `site_addr` (bit 0 cleared,
/// as `JALR` does), or `None` when the words are not such a pair.
pub fn decode_call_pair(auipc: u32, jalr: u32, site_addr: u64) -> Option<u64> {
    if auipc & 0x7f != OP_AUIPC || !is_jalr(jalr) || rs1(jalr) != rd(auipc) {
        return None;
    }
    let hi = i64::from((auipc & 0xffff_f000) as i32);
    let lo = i64::from((jalr as i32) >> 20);
    Some(site_addr.wrapping_add((hi + lo) as u64) & !1)
}

// --- Instruction encoders (base formats R/I/S/U of the ISA manual). ---

fn itype(op: u32, funct3: u32, rd: u32, rs1: u32, imm: i32) -> u32 {
    debug_assert!((-2048..2048).contains(&imm));
    ((imm as u32) & 0xfff) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | op
}

fn stype(op: u32, funct3: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
    debug_assert!((-2048..2048).contains(&imm));
    let imm = imm as u32;
    ((imm >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | (imm & 31) << 7 | op
}

fn auipc(rd: u32, hi: i32) -> u32 {
    ((hi as u32) & 0xfffff) << 12 | rd << 7 | OP_AUIPC
}

fn ld(rd: u32, rs1: u32, off: i32) -> u32 {
    itype(OP_LOAD, 3, rd, rs1, off)
}

fn sd(rs2: u32, rs1: u32, off: i32) -> u32 {
    stype(OP_STORE, 3, rs1, rs2, off)
}

fn fld(rd: u32, rs1: u32, off: i32) -> u32 {
    itype(OP_LOAD_FP, 3, rd, rs1, off)
}

fn fsd(rs2: u32, rs1: u32, off: i32) -> u32 {
    stype(OP_STORE_FP, 3, rs1, rs2, off)
}

fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    itype(OP_IMM, 0, rd, rs1, imm)
}

fn jalr(rd: u32, rs1: u32, off: i32) -> u32 {
    itype(OP_JALR, 0, rd, rs1, off)
}

/// `AUIPC rd, hi; LD rd, lo(rd)` at `pc`, loading the 8-byte slot `slot`.
fn load_slot(rd: u32, pc: u64, slot: u64) -> Option<[u32; 2]> {
    if slot % 8 != 0 {
        return None;
    }
    let (hi, lo) = pcrel(pc, slot)?;
    Some([auipc(rd, hi), ld(rd, rd, lo)])
}

fn to_bytes<const N: usize>(words: &[u32]) -> [u8; N] {
    debug_assert_eq!(words.len() * 4, N);
    let mut out = [0u8; N];
    for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// Bytes of a stub: three instruction words.
pub const STUB_SIZE: usize = 12;

/// Encodes the stub at `stub_addr` jumping through the 8-byte slot at
/// `slot_addr`: `AUIPC t3, hi; LD t3, lo(t3); JR t3` (the psABI PLT entry's
/// load, without its `t1` link). Only `t3` is clobbered.
///
/// `None` when the slot is not 8-byte aligned or beyond ±2 GiB
/// ([`PAIR_MIN`]..=[`PAIR_MAX`]).
pub fn encode_stub(stub_addr: u64, slot_addr: u64) -> Option<[u8; STUB_SIZE]> {
    let [a, l] = load_slot(T3, stub_addr, slot_addr)?;
    Some(to_bytes(&[a, l, jalr(ZERO, T3, 0)]))
}

/// Bytes of a lazy re-entry trampoline: five instruction words.
pub const TRAMPOLINE_SIZE: usize = 20;

/// Encodes the per-symbol trampoline at `tramp_addr`: `AUIPC t0; LD t0`
/// loads the context from `ctx_slot`, `AUIPC t3; LD t3` the re-entry
/// routine's address from `reentry_slot`, then `JR t3`.
///
/// `None` when a slot is not 8-byte aligned or beyond ±2 GiB.
pub fn encode_trampoline(tramp_addr: u64, ctx_slot: u64, reentry_slot: u64) -> Option<[u8; TRAMPOLINE_SIZE]> {
    let [a0, l0] = load_slot(T0, tramp_addr, ctx_slot)?;
    let [a1, l1] = load_slot(T3, tramp_addr + 8, reentry_slot)?;
    Some(to_bytes(&[a0, l0, a1, l1, jalr(ZERO, T3, 0)]))
}

/// Bytes of the frame the re-entry routine allocates: `ra` and `s0` (16),
/// `a0`–`a7` (64), `fa0`–`fa7` (64); `sp` stays 16-byte aligned (psABI
/// "Integer Calling Convention": the stack pointer is 128-bit aligned).
pub const REENTRY_FRAME: i32 = 144;

/// Bytes of the shared re-entry routine: 45 instruction words.
pub const REENTRY_SIZE: usize = 180;

/// Index of the `AUIPC` addressing the resolver slot in the routine.
const REENTRY_AUIPC_INDEX: usize = 21;

/// Encodes the shared lazy re-entry routine at `routine_addr`.
///
/// Entered by `JR t3` from a trampoline with `t0` = the context and the
/// registers as at the lazy function's entry. It allocates a frame with
/// `ra` at −8 and the caller's `s0` at −16 from the new `s0` (= the
/// entry `sp`), saves `a0`–`a7` and `fa0`–`fa7` (the integer and
/// hardware-float argument registers of LP64D), calls the resolver whose
/// address is in the 8-byte slot `resolver_slot` (`extern "C" fn(ctx) ->
/// target`, `a0` = context, `jalr ra, t3`), restores everything and jumps
/// to the returned address with `JR t3`. Vector argument registers
/// (`v8`–`v23`, vector calling convention) are not preserved. Needs the D
/// extension (`fsd`/`fld`).
///
/// `None` when `resolver_slot` is not 8-byte aligned or beyond ±2 GiB.
pub fn encode_reentry(routine_addr: u64, resolver_slot: u64) -> Option<[u8; REENTRY_SIZE]> {
    let f = REENTRY_FRAME;
    let mut w = vec![addi(SP, SP, -f), sd(RA, SP, f - 8), sd(S0, SP, f - 16), addi(S0, SP, f)];
    for i in 0..8 {
        w.push(sd(A0 + i, SP, 8 * i as i32));
    }
    for i in 0..8 {
        w.push(fsd(A0 + i, SP, 64 + 8 * i as i32));
    }
    w.push(addi(A0, T0, 0)); // mv a0, t0
    debug_assert_eq!(w.len(), REENTRY_AUIPC_INDEX);
    w.extend(load_slot(T3, routine_addr + 4 * w.len() as u64, resolver_slot)?);
    w.push(jalr(RA, T3, 0));
    w.push(addi(T3, A0, 0)); // mv t3, a0
    for i in 0..8 {
        w.push(fld(A0 + i, SP, 64 + 8 * i as i32));
    }
    for i in 0..8 {
        w.push(ld(A0 + i, SP, 8 * i as i32));
    }
    w.extend([ld(S0, SP, f - 16), ld(RA, SP, f - 8), addi(SP, SP, f), jalr(ZERO, T3, 0)]);
    Some(to_bytes(&w))
}

/// `fence.i` (Zifencei): makes this hart's instruction fetches observe
/// its earlier stores to code. It does not reach other harts: after
/// patching code that other threads may run, user space calls
/// `__riscv_flush_icache(start, end, 0)` (the `riscv_flush_icache`
/// syscall), which fences every hart the process runs on.
pub const ICACHE_SYNC: [u8; 4] = 0x0000_100fu32.to_le_bytes();

#[cfg(test)]
mod tests {
    use super::*;

    fn words(bytes: &[u8]) -> Vec<u32> {
        bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect()
    }

    /// `(rd, rs1, address)` of an `AUIPC rd; LD rd, lo(rs1)` pair at `pc`.
    fn decode_load_pair(a: u32, l: u32, pc: u64) -> (u32, u32, u64) {
        assert_eq!(a & 0x7f, OP_AUIPC, "not AUIPC: {a:#x}");
        assert_eq!(l & 0x707f, 0x3003, "not LD: {l:#x}");
        let hi = i64::from((a & 0xffff_f000) as i32);
        let lo = i64::from((l as i32) >> 20);
        (rd(a), rs1(l), pc.wrapping_add((hi + lo) as u64))
    }

    #[test]
    fn jal_range_limits() {
        let p = 0x3f_0000_1000u64;
        // (original word, target, expected word or None). Expected words from
        // printf 'jal ra, 1048574\njal zero, -1048576\njal ra, 2046\njal t0, -2\n' \
        //   | llvm-mc -triple=riscv64 -show-encoding
        // => [0xef,0xf0,0xff,0x7f] [0x6f,0x00,0x00,0x80] [0xef,0x00,0xe0,0x7f] [0xef,0xf2,0xff,0xff]
        let table: &[(u32, u64, Option<u32>)] = &[
            (0x0000_00ef, p + JAL_MAX as u64, Some(0x7fff_f0ef)),
            (0x0000_00ef, p + JAL_MAX as u64 + 2, None),
            (0x0000_006f, p - (1 << 20), Some(0x8000_006f)),
            (0x0000_006f, p - (1 << 20) - 2, None),
            (0x0000_00ef, p + 2046, Some(0x7fe0_00ef)),
            (0x1230_02ef, p - 2, Some(0xffff_f2ef)),
            (0x0000_00ef, p + 3, None),
            (0x0000_00ef, p - 1, None),
            // Not a JAL (jalr ra, 0(t3)).
            (0x000e_00e7, p + 8, None),
        ];
        for &(insn, target, want) in table {
            let got = encode_branch(SiteKind::Jal, insn, p, target);
            assert_eq!(got, want, "{insn:#x} -> {target:#x}");
            if let Some(w) = got {
                assert_eq!(decode_branch(SiteKind::Jal, w, p), Some(target));
                assert_eq!(rd(w), rd(insn), "rd kept");
                assert_eq!(site_kind(&w.to_le_bytes(), 0), Some(SiteKind::Jal));
            }
        }
    }

    #[test]
    fn pair_is_refused_in_place_but_encodes_at_link_time() {
        let p = 0x1_4000_0000u64;
        // call: auipc ra, 0; jalr ra, 0(ra).
        let (a, j) = (0x0000_0097u32, 0x0000_80e7u32);
        let mut code = a.to_le_bytes().to_vec();
        code.extend_from_slice(&j.to_le_bytes());
        assert_eq!(site_kind(&code, 0), Some(SiteKind::AuipcJalr));
        assert_eq!(encode_branch(SiteKind::AuipcJalr, a, p, p + 8), None);
        assert_eq!(decode_branch(SiteKind::AuipcJalr, a, p), None);
        // (target, expected (auipc, jalr) or None). Expected words from
        // printf '%s\n' 'auipc ra, 0x7ffff' 'jalr ra, 2046(ra)' 'auipc ra, 0x80000' 'jalr ra, -2048(ra)' \
        //   'auipc ra, 0x12345' 'jalr ra, 0x678(ra)' 'auipc ra, 2' 'jalr ra, -2048(ra)' \
        //   | llvm-mc -triple=riscv64 -show-encoding
        let table: &[(u64, Option<(u32, u32)>)] = &[
            (p + PAIR_MAX as u64 - 1, Some((0x7fff_f097, 0x7fe0_80e7))),
            (p + PAIR_MAX as u64 + 1, None),
            (p - (1 << 31) - 0x800, Some((0x8000_0097, 0x8000_80e7))),
            (p - (1 << 31) - 0x802, None),
            (p + 0x1234_5678, Some((0x1234_5097, 0x6780_80e7))),
            (p + 0x1800, Some((0x0000_2097, 0x8000_80e7))),
            (p + 0x1801, None),
        ];
        for &(target, want) in table {
            let got = encode_call_pair(a, j, p, target);
            assert_eq!(got, want, "-> {target:#x}");
            if let Some((a2, j2)) = got {
                assert_eq!(decode_call_pair(a2, j2, p), Some(target));
            }
        }
        // PAIR_MAX itself is odd: lo12 = 2047 is the field's limit.
        assert_eq!(split_hi_lo(PAIR_MAX), Some(((1 << 19) - 1, 2047)));
        assert_eq!(split_hi_lo(PAIR_MAX + 1), None);
        assert_eq!(split_hi_lo(PAIR_MIN), Some((-(1 << 19), -2048)));
        assert_eq!(split_hi_lo(PAIR_MIN - 1), None);
        assert_eq!(split_hi_lo(0x7ff), Some((0, 0x7ff)));
        assert_eq!(split_hi_lo(0x800), Some((1, -0x800)));
        // tail: auipc t1, 0; jr t1 (rd = zero) keeps its registers.
        let (a, j) = (0x0000_0317u32, 0x0003_0067u32);
        let (a2, j2) = encode_call_pair(a, j, p, p - 0x10).unwrap();
        assert_eq!((a2 & 0xfff, j2 & 0xfffff), (a & 0xfff, j & 0xfffff));
        assert_eq!(decode_call_pair(a2, j2, p), Some(p - 0x10));
        // A JALR based on another register is not a pair.
        assert_eq!(encode_call_pair(0x0000_0097, 0x0003_00e7, p, p), None);
        let mut code = 0x0000_0097u32.to_le_bytes().to_vec();
        code.extend_from_slice(&0x0003_00e7u32.to_le_bytes());
        assert_eq!(site_kind(&code, 0), None);
        assert_eq!(site_kind(&code[..4], 0), None, "pair cut short");
    }

    #[test]
    fn stub_forms() {
        // printf 'auipc t3, 0x12345\nld t3, 0x678(t3)\njr t3\n' | llvm-mc -triple=riscv64 -show-encoding
        const FAR: [u8; 12] = [0x17, 0x5e, 0x34, 0x12, 0x03, 0x3e, 0x8e, 0x67, 0x67, 0x00, 0x0e, 0x00];
        // printf 'auipc t3, 2\nld t3, -2048(t3)\njr t3\n' | llvm-mc -triple=riscv64 -show-encoding
        const ROUND: [u8; 12] = [0x17, 0x2e, 0x00, 0x00, 0x03, 0x3e, 0x0e, 0x80, 0x67, 0x00, 0x0e, 0x00];
        // printf 'auipc t3, 0\nld t3, -16(t3)\njr t3\n' | llvm-mc -triple=riscv64 -show-encoding
        const BACK: [u8; 12] = [0x17, 0x0e, 0x00, 0x00, 0x03, 0x3e, 0x0e, 0xff, 0x67, 0x00, 0x0e, 0x00];
        let s = 0x10000u64;
        let table: &[(u64, Option<[u8; 12]>)] = &[
            (s + 0x1234_5678, Some(FAR)),
            (s + 0x1800, Some(ROUND)),
            (s - 0x10, Some(BACK)),
            (s + 0x1234_5674, None),
            (s + (1 << 31), None),
        ];
        for &(slot, want) in table {
            let got = encode_stub(s, slot);
            assert_eq!(got, want, "slot {slot:#x}");
            if let Some(b) = got {
                let w = words(&b);
                assert_eq!(decode_load_pair(w[0], w[1], s), (T3, T3, slot));
                assert_eq!(w[2], jalr(ZERO, T3, 0));
            }
        }
    }

    #[test]
    fn trampoline_form() {
        // printf 'auipc t0, 1\nld t0, 16(t0)\nauipc t3, 1\nld t3, -16(t3)\njr t3\n' \
        //   | llvm-mc -triple=riscv64 -show-encoding
        const WANT: [u8; 20] = [
            0x97, 0x12, 0x00, 0x00, 0x83, 0xb2, 0x02, 0x01, 0x17, 0x1e, 0x00, 0x00, 0x03, 0x3e, 0x0e, 0xff, 0x67, 0x00,
            0x0e, 0x00,
        ];
        let t = 0x2000_0000u64;
        let got = encode_trampoline(t, t + 0x1010, t + 0xff8).unwrap();
        assert_eq!(got, WANT);
        let w = words(&got);
        assert_eq!(decode_load_pair(w[0], w[1], t), (T0, T0, t + 0x1010));
        assert_eq!(decode_load_pair(w[2], w[3], t + 8), (T3, T3, t + 0xff8));
        assert_eq!(encode_trampoline(t, t + 0x1014, t + 0xff8), None);
        assert_eq!(encode_trampoline(t, t + 0x1010, t + (1 << 32)), None);
    }

    #[test]
    fn reentry_routine() {
        // The routine at 0x3000_0000 with the resolver slot at 0x3010_0008:
        // the AUIPC is word 21 (pc 0x3000_0054), delta 0xfffb4 = (0x100 << 12) - 76.
        // WANT_ASM is the exact input of
        // `printf '%s' "$WANT_ASM" | llvm-mc -triple=riscv64 -mattr=+d -show-encoding`
        // and WANT its bytes (no +c: it would compress most of these).
        const WANT_ASM: &str = "\
addi sp, sp, -144; sd ra, 136(sp); sd s0, 128(sp); addi s0, sp, 144; sd a0, 0(sp); sd a1, 8(sp)
sd a2, 16(sp); sd a3, 24(sp); sd a4, 32(sp); sd a5, 40(sp); sd a6, 48(sp); sd a7, 56(sp)
fsd fa0, 64(sp); fsd fa1, 72(sp); fsd fa2, 80(sp); fsd fa3, 88(sp); fsd fa4, 96(sp)
fsd fa5, 104(sp); fsd fa6, 112(sp); fsd fa7, 120(sp); mv a0, t0; auipc t3, 0x100; ld t3, -76(t3)
jalr ra, 0(t3); mv t3, a0; fld fa0, 64(sp); fld fa1, 72(sp); fld fa2, 80(sp); fld fa3, 88(sp)
fld fa4, 96(sp); fld fa5, 104(sp); fld fa6, 112(sp); fld fa7, 120(sp); ld a0, 0(sp); ld a1, 8(sp)
ld a2, 16(sp); ld a3, 24(sp); ld a4, 32(sp); ld a5, 40(sp); ld a6, 48(sp); ld a7, 56(sp)
ld s0, 128(sp); ld ra, 136(sp); addi sp, sp, 144; jr t3
";
        const WANT: [u8; REENTRY_SIZE] = [
            0x13, 0x01, 0x01, 0xf7, 0x23, 0x34, 0x11, 0x08, 0x23, 0x30, 0x81, 0x08, 0x13, 0x04, 0x01, 0x09, 0x23, 0x30,
            0xa1, 0x00, 0x23, 0x34, 0xb1, 0x00, 0x23, 0x38, 0xc1, 0x00, 0x23, 0x3c, 0xd1, 0x00, 0x23, 0x30, 0xe1, 0x02,
            0x23, 0x34, 0xf1, 0x02, 0x23, 0x38, 0x01, 0x03, 0x23, 0x3c, 0x11, 0x03, 0x27, 0x30, 0xa1, 0x04, 0x27, 0x34,
            0xb1, 0x04, 0x27, 0x38, 0xc1, 0x04, 0x27, 0x3c, 0xd1, 0x04, 0x27, 0x30, 0xe1, 0x06, 0x27, 0x34, 0xf1, 0x06,
            0x27, 0x38, 0x01, 0x07, 0x27, 0x3c, 0x11, 0x07, 0x13, 0x85, 0x02, 0x00, 0x17, 0x0e, 0x10, 0x00, 0x03, 0x3e,
            0x4e, 0xfb, 0xe7, 0x00, 0x0e, 0x00, 0x13, 0x0e, 0x05, 0x00, 0x07, 0x35, 0x01, 0x04, 0x87, 0x35, 0x81, 0x04,
            0x07, 0x36, 0x01, 0x05, 0x87, 0x36, 0x81, 0x05, 0x07, 0x37, 0x01, 0x06, 0x87, 0x37, 0x81, 0x06, 0x07, 0x38,
            0x01, 0x07, 0x87, 0x38, 0x81, 0x07, 0x03, 0x35, 0x01, 0x00, 0x83, 0x35, 0x81, 0x00, 0x03, 0x36, 0x01, 0x01,
            0x83, 0x36, 0x81, 0x01, 0x03, 0x37, 0x01, 0x02, 0x83, 0x37, 0x81, 0x02, 0x03, 0x38, 0x01, 0x03, 0x83, 0x38,
            0x81, 0x03, 0x03, 0x34, 0x01, 0x08, 0x83, 0x30, 0x81, 0x08, 0x13, 0x01, 0x01, 0x09, 0x67, 0x00, 0x0e, 0x00,
        ];
        let statements = WANT_ASM.split([';', '\n']).filter(|s| !s.trim().is_empty()).count();
        assert_eq!(statements * 4, REENTRY_SIZE);
        let r = 0x3000_0000u64;
        let got = encode_reentry(r, r + 0x10_0008).unwrap();
        assert_eq!(got, WANT);
        let w = words(&got);
        let i = REENTRY_AUIPC_INDEX;
        assert_eq!(decode_load_pair(w[i], w[i + 1], r + 4 * i as u64), (T3, T3, r + 0x10_0008));
        assert_eq!(w[i - 1], addi(A0, T0, 0), "a0 = context");
        assert_eq!(w[i + 2], jalr(RA, T3, 0));
        assert_eq!(w[0], addi(SP, SP, -REENTRY_FRAME));
        assert_eq!(REENTRY_FRAME % 16, 0);
        assert_eq!(*w.last().unwrap(), jalr(ZERO, T3, 0));
        assert_eq!(encode_reentry(r, r + 0x10_0004), None);
    }

    #[test]
    fn icache_sequence() {
        // echo 'fence.i' | llvm-mc -triple=riscv64 -show-encoding
        assert_eq!(ICACHE_SYNC, [0x0f, 0x10, 0x00, 0x00]);
    }
}
