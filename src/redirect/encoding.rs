//! The architecture-specific half of redirection, behind one interface:
//! which instructions are call sites, how a site is retargeted in place
//! (and when it cannot be), and the stub-pool entry (stub + lazy
//! trampoline) and re-entry routine encodings. The encoders themselves are
//! each architecture's `redirect.rs` in `crate::arch`.

use super::StubReason;
use crate::arch::{aarch64, ppc64, riscv64, x86_64, Arch};
use crate::graph::EdgeKind;
use crate::memory::code_write::atomic_width;

/// The instruction form of a recorded call site.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SiteForm {
    /// x86-64 `call rel32`; the site address is the rel32 field's.
    X86Call,
    /// x86-64 `jmp rel32` (tail call).
    X86Jump,
    /// AArch64 `BL imm26`; the site address is the instruction's.
    A64Call,
    /// AArch64 `B imm26` (tail call).
    A64Branch,
    /// RISC-V `JAL` (±1 MiB).
    RvJal,
    /// RISC-V `AUIPC+JALR` pair: a call site, never patched in place.
    RvCallPair,
    /// PPC64 `bl` (always through the TOC-saving stub across links).
    PpcCall,
    /// PPC64 `b`.
    PpcBranch,
}

/// The x86-64 re-entry routine at `addr`, the same as the one compiled
/// into this crate for the host (`jitlink_x86_64_lazy_reentry`) but
/// calling through `resolver_slot`: entered by jump from a trampoline with
/// `%r11` = the context and the stack as at the lazy function's entry, it
/// saves the argument registers (`%rax` for variadic calls, `%rdi`..`%r9`,
/// `%xmm0`..`%xmm7`), calls `u64 resolver(u64 context)` with the stack
/// 16-byte aligned, restores them and jumps to the address returned.
fn x86_64_reentry(addr: u64, resolver_slot: u64) -> Option<Vec<u8>> {
    let mut c: Vec<u8> = vec![0x55, 0x48, 0x89, 0xe5]; // push %rbp; mov %rsp,%rbp
    c.extend_from_slice(&[0x50, 0x57, 0x56, 0x52, 0x51, 0x41, 0x50, 0x41, 0x51]); // push rax,rdi,rsi,rdx,rcx,r8,r9
    c.extend_from_slice(&[0x48, 0x81, 0xec, 0x88, 0, 0, 0]); // sub $136,%rsp
    let xmm = |c: &mut Vec<u8>, op: u8, i: u8| {
        // movdqu %xmmI,16*I(%rsp) (op 0x7f) / movdqu 16*I(%rsp),%xmmI (op 0x6f)
        if i == 0 {
            c.extend_from_slice(&[0xf3, 0x0f, op, 0x04, 0x24]);
        } else {
            c.extend_from_slice(&[0xf3, 0x0f, op, 0x44 | (i << 3), 0x24, 16 * i]);
        }
    };
    for i in 0..8 {
        xmm(&mut c, 0x7f, i);
    }
    c.extend_from_slice(&[0x4c, 0x89, 0xdf]); // mov %r11,%rdi
    let call = addr + c.len() as u64;
    c.extend_from_slice(&[0xff, 0x15]); // call *resolver_slot(%rip)
    c.extend_from_slice(&x86_64::redirect::encode_rel32(call + 2, resolver_slot)?);
    c.extend_from_slice(&[0x49, 0x89, 0xc3]); // mov %rax,%r11
    for i in 0..8 {
        xmm(&mut c, 0x6f, i);
    }
    c.extend_from_slice(&[0x48, 0x81, 0xc4, 0x88, 0, 0, 0]); // add $136,%rsp
    c.extend_from_slice(&[0x41, 0x59, 0x41, 0x58, 0x59, 0x5a, 0x5e, 0x5f, 0x58, 0x5d]); // pop r9..rax, rbp
    c.extend_from_slice(&[0x41, 0xff, 0xe3]); // jmp *%r11
    Some(c)
}

/// The encodings of one target architecture.
#[derive(Copy, Clone, Debug)]
pub struct ArchCode {
    /// The architecture.
    pub arch: Arch,
}

impl ArchCode {
    fn be(self) -> bool {
        !self.arch.little_endian()
    }

    /// Bytes per stub-pool entry.
    pub fn entry_size(self) -> usize {
        match self.arch {
            Arch::X86_64 => x86_64::redirect::ENTRY_SIZE,
            Arch::Aarch64 | Arch::Riscv64 => 48,
            Arch::Ppc64Le | Arch::Ppc64Be => 96,
        }
    }

    /// Offset of the lazy trampoline within an entry.
    pub fn trampoline_offset(self) -> usize {
        match self.arch {
            Arch::X86_64 => x86_64::redirect::TRAMPOLINE_OFFSET,
            Arch::Aarch64 | Arch::Riscv64 => 16,
            Arch::Ppc64Le | Arch::Ppc64Be => 48,
        }
    }

    /// Size of the stub at the start of an entry.
    pub fn stub_size(self) -> usize {
        match self.arch {
            Arch::X86_64 => 6,
            Arch::Aarch64 => aarch64::redirect::STUB_SIZE,
            Arch::Riscv64 => riscv64::redirect::STUB_SIZE,
            Arch::Ppc64Le | Arch::Ppc64Be => ppc64::redirect::STUB_SIZE,
        }
    }

    /// Size of a lazy trampoline.
    pub fn trampoline_size(self) -> usize {
        match self.arch {
            Arch::X86_64 => 13,
            Arch::Aarch64 => aarch64::redirect::TRAMPOLINE_SIZE,
            Arch::Riscv64 => riscv64::redirect::TRAMPOLINE_SIZE,
            Arch::Ppc64Le | Arch::Ppc64Be => ppc64::redirect::TRAMPOLINE_SIZE,
        }
    }

    /// One pool entry at `entry`: its stub jumps through `slot`; its
    /// trampoline loads `ctx_slot` and jumps through `reentry_slot`.
    /// Padding is the architecture's trap.
    pub fn encode_entry(self, entry: u64, slot: u64, ctx_slot: u64, reentry_slot: u64) -> Option<Vec<u8>> {
        let t = entry + self.trampoline_offset() as u64;
        let mut out = vec![0u8; self.entry_size()];
        match self.arch {
            Arch::X86_64 => {
                return x86_64::redirect::encode_entry(entry, slot, ctx_slot, reentry_slot).map(|e| e.to_vec())
            }
            Arch::Aarch64 => {
                out.copy_from_slice(&[0x00, 0x00, 0x20, 0xd4].repeat(12)); // brk #0
                out[..12].copy_from_slice(&aarch64::redirect::encode_stub(entry, slot)?);
                out[16..36].copy_from_slice(&aarch64::redirect::encode_trampoline(t, ctx_slot, reentry_slot)?);
            }
            Arch::Riscv64 => {
                out.copy_from_slice(&[0x73, 0x00, 0x10, 0x00].repeat(12)); // ebreak
                out[..12].copy_from_slice(&riscv64::redirect::encode_stub(entry, slot)?);
                out[16..36].copy_from_slice(&riscv64::redirect::encode_trampoline(t, ctx_slot, reentry_slot)?);
            }
            Arch::Ppc64Le | Arch::Ppc64Be => {
                let trap = ppc64::redirect::word_bytes(0x7fe0_0008, self.be()); // trap
                out.copy_from_slice(&trap.repeat(24));
                out[..36].copy_from_slice(&ppc64::redirect::encode_stub(entry, slot, self.be())?);
                out[48..72].copy_from_slice(&ppc64::redirect::encode_trampoline(t, ctx_slot, reentry_slot, self.be())?);
            }
        }
        Some(out)
    }

    /// The shared re-entry routine at `addr`, calling the resolver whose
    /// address is in `resolver_slot` (an in-process x86-64 session uses the
    /// routine compiled into this crate instead; this encoding serves
    /// simulated and out-of-process arenas).
    pub fn encode_reentry(self, addr: u64, resolver_slot: u64) -> Option<Vec<u8>> {
        match self.arch {
            Arch::X86_64 => x86_64_reentry(addr, resolver_slot),
            Arch::Aarch64 => aarch64::redirect::encode_reentry(addr, resolver_slot).map(|r| r.to_vec()),
            Arch::Riscv64 => riscv64::redirect::encode_reentry(addr, resolver_slot).map(|r| r.to_vec()),
            Arch::Ppc64Le | Arch::Ppc64Be => ppc64::redirect::encode_reentry(addr, resolver_slot, true, self.be()),
        }
    }

    /// The call-site form of a branch edge at `offset` of `code` (the
    /// relocated field for x86-64, the instruction for the others).
    pub fn site_form(self, code: &[u8], offset: usize) -> Option<SiteForm> {
        match self.arch {
            Arch::X86_64 => x86_64::redirect::site_kind(code, offset).map(|k| match k {
                x86_64::redirect::SiteKind::Call => SiteForm::X86Call,
                x86_64::redirect::SiteKind::Jump => SiteForm::X86Jump,
            }),
            Arch::Aarch64 => aarch64::redirect::site_kind(code, offset).map(|k| match k {
                aarch64::redirect::SiteKind::Call => SiteForm::A64Call,
                aarch64::redirect::SiteKind::Branch => SiteForm::A64Branch,
            }),
            Arch::Riscv64 => riscv64::redirect::site_kind(code, offset).map(|k| match k {
                riscv64::redirect::SiteKind::Jal => SiteForm::RvJal,
                riscv64::redirect::SiteKind::AuipcJalr => SiteForm::RvCallPair,
            }),
            Arch::Ppc64Le | Arch::Ppc64Be => ppc64::redirect::site_kind(code, offset, self.be()).map(|k| match k {
                ppc64::redirect::SiteKind::Call => SiteForm::PpcCall,
                ppc64::redirect::SiteKind::Branch => SiteForm::PpcBranch,
            }),
        }
    }

    /// Why a site at `addr` can never be rewritten in place, if so.
    pub fn unpatchable(self, form: SiteForm, addr: u64) -> Option<StubReason> {
        match form {
            SiteForm::X86Call | SiteForm::X86Jump => atomic_width(addr).err().map(|_| StubReason::Unaligned),
            SiteForm::A64Call | SiteForm::A64Branch => (addr % 4 != 0).then_some(StubReason::Unaligned),
            SiteForm::RvJal => (addr % 4 != 0).then_some(StubReason::Unaligned),
            SiteForm::RvCallPair => Some(StubReason::InstructionPair),
            // A new body may use another TOC: only the TOC-saving stub can
            // reach it (ELFv2 ABI §2.3.2.1).
            SiteForm::PpcCall | SiteForm::PpcBranch => Some(StubReason::Toc),
        }
    }

    /// The site's bytes (4 at `addr`) rewritten to branch to `target`, or
    /// `None` when out of range.
    pub fn retarget(self, form: SiteForm, current: [u8; 4], addr: u64, target: u64) -> Option<[u8; 4]> {
        let le = |w: u32| w.to_le_bytes();
        let word = u32::from_le_bytes(current);
        match form {
            SiteForm::X86Call | SiteForm::X86Jump => x86_64::redirect::encode_rel32(addr, target),
            SiteForm::A64Call | SiteForm::A64Branch => {
                let k = if form == SiteForm::A64Call {
                    aarch64::redirect::SiteKind::Call
                } else {
                    aarch64::redirect::SiteKind::Branch
                };
                aarch64::redirect::encode_branch(k, word, addr, target).map(le)
            }
            SiteForm::RvJal => {
                riscv64::redirect::encode_branch(riscv64::redirect::SiteKind::Jal, word, addr, target).map(le)
            }
            SiteForm::RvCallPair => None,
            SiteForm::PpcCall | SiteForm::PpcBranch => {
                let k = if form == SiteForm::PpcCall {
                    ppc64::redirect::SiteKind::Call
                } else {
                    ppc64::redirect::SiteKind::Branch
                };
                let w = ppc64::redirect::read_word(current, self.be());
                ppc64::redirect::encode_branch(k, w, addr, target).map(|w| ppc64::redirect::word_bytes(w, self.be()))
            }
        }
    }

    /// Where the site with bytes `current` at `addr` branches.
    pub fn decode(self, form: SiteForm, current: [u8; 4], addr: u64) -> Option<u64> {
        let word = u32::from_le_bytes(current);
        match form {
            SiteForm::X86Call | SiteForm::X86Jump => Some(x86_64::redirect::decode_rel32(addr, current)),
            SiteForm::A64Call => aarch64::redirect::decode_branch(aarch64::redirect::SiteKind::Call, word, addr),
            SiteForm::A64Branch => aarch64::redirect::decode_branch(aarch64::redirect::SiteKind::Branch, word, addr),
            SiteForm::RvJal => riscv64::redirect::decode_branch(riscv64::redirect::SiteKind::Jal, word, addr),
            SiteForm::RvCallPair => None,
            SiteForm::PpcCall | SiteForm::PpcBranch => {
                let k = if form == SiteForm::PpcCall {
                    ppc64::redirect::SiteKind::Call
                } else {
                    ppc64::redirect::SiteKind::Branch
                };
                ppc64::redirect::decode_branch(k, ppc64::redirect::read_word(current, self.be()), addr)
            }
        }
    }

    /// Where a RISC-V `AUIPC+JALR` pair (8 bytes at `addr`) calls.
    pub fn decode_pair(self, bytes: [u8; 8], addr: u64) -> Option<u64> {
        let w = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        riscv64::redirect::decode_call_pair(w(0), w(4), addr)
    }

    /// The edge kind that makes the site branch straight to an absolute
    /// target (`direct`) or to a redirect stub, when the backend has one.
    pub fn branch_kind(self, form: SiteForm, direct: bool) -> Option<EdgeKind> {
        match form {
            SiteForm::X86Call | SiteForm::X86Jump => Some(x86_64::edges::BRANCH32),
            SiteForm::A64Call | SiteForm::A64Branch => Some(aarch64::edges::BRANCH26),
            // A tail call `b` cannot restore r2 after a TOC-saving stub.
            SiteForm::PpcCall if !direct => Some(ppc64::edges::BRANCH24_TO_TOC_STUB),
            SiteForm::RvJal => Some(riscv64::edges::JAL),
            // AUIPC+JALR reaches ±2 GiB: always the stub, never patched.
            SiteForm::RvCallPair => Some(riscv64::edges::CALL),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_64_reentry_calls_through_its_slot() {
        let code = ArchCode { arch: Arch::X86_64 };
        let (addr, slot) = (0x7f00_0000_0000u64, 0x7f00_0000_1000u64);
        let r = code.encode_reentry(addr, slot).unwrap();
        let at = r.windows(2).position(|w| w == [0xff, 0x15]).expect("call *rel32(%rip)");
        let field: [u8; 4] = r[at + 2..at + 6].try_into().unwrap();
        assert_eq!(x86_64::redirect::decode_rel32(addr + at as u64 + 2, field), slot);
        assert_eq!(&r[..4], &[0x55, 0x48, 0x89, 0xe5], "push %rbp; mov %rsp,%rbp");
        assert_eq!(&r[r.len() - 3..], &[0x41, 0xff, 0xe3], "jmp *%r11");
        assert!(code.encode_reentry(addr, addr + (1 << 32)).is_none(), "slot out of rel32 range");
    }
}
