//! Mach-O reader: `formats::identify`, then `formats::macho::build` into a
//! fresh LinkGraph and `formats::macho::finish` (what a session does for a
//! link's Mach-O objects). A universal file is split as the session splits
//! it (`select_slice`), once per architecture it may hold, and each slice
//! built. Every input must give a graph or a one-line error, never a
//! panic, and in time and memory linear in its size.
#![no_main]

use jitlink::arch::Arch;
use jitlink::formats::{self, macho, FileKind};
use jitlink::graph::{Interner, LinkGraph};
use libfuzzer_sys::fuzz_target;

fn one_line(e: &jitlink::Error) {
    assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
}

fn build(data: &[u8]) {
    // Run the builder on anything that starts like a Mach-O file: it
    // checks what it needs itself (it calls identify again).
    let arch = match macho::identify("fuzz.o", data) {
        Ok(FileKind::MachObject(a)) => a,
        _ => Arch::X86_64,
    };
    let mut g = LinkGraph::new(arch.pointer_size(), arch.little_endian());
    let mut names = Interner::new();
    match macho::build(&mut g, &mut names, "fuzz.o".into(), data) {
        Ok(_) => macho::finish(&mut g, &mut names),
        Err(e) => one_line(&e),
    }
}

fuzz_target!(|data: &[u8]| {
    let kind = formats::identify("fuzz.o", data);
    if let Err(e) = &kind {
        one_line(e);
    }
    if !macho::is_macho(data) {
        return;
    }
    if matches!(kind, Ok(FileKind::MachUniversal)) {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            match macho::select_slice("fuzz.o", data, arch) {
                Ok(slice) => build(slice),
                Err(e) => one_line(&e),
            }
        }
    } else {
        build(data);
    }
});
