//! Fixups of every architecture: any architecture, edge kind, addend, P, S,
//! GOT, size, bypass, block bytes and offset. `apply_fixup` returns Ok or
//! Err, never panics. On x86-64 it also writes only near `offset` (the
//! field and, for GOT-load relaxation, the opcode bytes before it), and an
//! Err leaves the block unchanged; other architectures write whole stubs
//! and veneers at a field, so only the no-panic property is checked there.
#![no_main]

use jitlink::arch::{Arch, FixupInput};
use jitlink::graph::EdgeKind;
use libfuzzer_sys::fuzz_target;

const ARCHES: [Arch; 5] = [Arch::X86_64, Arch::Aarch64, Arch::Riscv64, Arch::Ppc64Le, Arch::Ppc64Be];

fuzz_target!(|input: (u8, u8, i64, u64, u64, u64, u64, Option<u64>, u16, Vec<u8>)| {
    let (which, kind, a, p, s, got, size, bypass, offset, block) = input;
    let arch = ARCHES[which as usize % ARCHES.len()];
    let offset = offset as usize;
    let v = FixupInput { p, s, a, got, size, bypass };
    let mut work = block.clone();
    let r = arch.apply_fixup(EdgeKind(kind), &mut work, offset, &v);
    assert_eq!(work.len(), block.len(), "{arch:?} kind {kind} resized the block");
    if arch != Arch::X86_64 {
        return;
    }
    match r {
        Ok(()) => {
            let lo = offset.saturating_sub(3);
            let hi = offset.saturating_add(8);
            for (i, (x, y)) in work.iter().zip(&block).enumerate() {
                assert!(x == y || (lo..hi).contains(&i), "kind {kind} wrote byte {i}, field at {offset}");
            }
        }
        Err(_) => assert_eq!(work, block, "kind {kind}: an error changed the block"),
    }
});
