//! ELF reader: `formats::identify`, then `formats::elf::build` into a fresh
//! LinkGraph. Every input must give a graph or a one-line error, never a
//! panic, and in time and memory linear in its size.
#![no_main]

use jitlink::formats::{self, elf};
use jitlink::graph::{Interner, LinkGraph};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = formats::identify("fuzz.o", data) {
        assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
    }
    // The builder checks what it needs itself: run it on anything that
    // starts like an ELF file, whatever identify said about e_type.
    if data.starts_with(b"\x7fELF") {
        let mut g = LinkGraph::new(8, true);
        let mut names = Interner::new();
        let mut state = elf::ElfState::default();
        if let Err(e) = elf::build(&mut g, &mut names, &mut state, "fuzz.o".into(), data) {
            assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
        }
    }
});
