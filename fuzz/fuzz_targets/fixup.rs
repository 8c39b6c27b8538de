//! x86-64 fixups: any edge kind, addend, P, S, GOT, size, bypass, block
//! bytes and offset. `apply_fixup` returns Ok or Err, never panics; it
//! writes only near `offset` (the field and, for GOT-load relaxation, the
//! opcode bytes before it), and an Err leaves the block unchanged.
#![no_main]

use jitlink::arch::{Arch, FixupInput};
use jitlink::graph::EdgeKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, i64, u64, u64, u64, u64, Option<u64>, u16, Vec<u8>)| {
    let (kind, a, p, s, got, size, bypass, offset, block) = input;
    let offset = offset as usize;
    let v = FixupInput { p, s, a, got, size, bypass };
    let mut work = block.clone();
    match Arch::X86_64.apply_fixup(EdgeKind(kind), &mut work, offset, &v) {
        Ok(()) => {
            assert_eq!(work.len(), block.len());
            let lo = offset.saturating_sub(3);
            let hi = offset.saturating_add(8);
            for (i, (x, y)) in work.iter().zip(&block).enumerate() {
                assert!(x == y || (lo..hi).contains(&i), "kind {kind} wrote byte {i}, field at {offset}");
            }
        }
        Err(_) => assert_eq!(work, block, "kind {kind}: an error changed the block"),
    }
});
