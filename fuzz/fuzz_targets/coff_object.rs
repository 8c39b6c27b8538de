//! COFF reader: `formats::identify`, then `formats::coff::build` into a
//! fresh LinkGraph with a fresh per-link `coff::LinkState`, and
//! `formats::coff::finish` (what a session does for a link's COFF
//! objects). When the object builds, the same bytes are built again into
//! the same graph and state as a second file of the link, so COMDAT
//! selection (NODUPLICATES, ANY, SAME_SIZE, EXACT_MATCH, LARGEST,
//! ASSOCIATIVE) and duplicate definitions run against a kept definition.
//! Every input must give a graph or a one-line error, never a panic, and
//! in time and memory linear in its size.
#![no_main]

use jitlink::arch::Arch;
use jitlink::formats::{self, coff, FileKind};
use jitlink::graph::{Interner, LinkGraph};
use libfuzzer_sys::fuzz_target;

fn one_line(e: &jitlink::Error) {
    assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
}

fuzz_target!(|data: &[u8]| {
    let kind = formats::identify("fuzz.obj", data);
    if let Err(e) = &kind {
        one_line(e);
    }
    if !coff::is_coff(data) {
        return;
    }
    let arch = match kind {
        Ok(FileKind::CoffObject(a)) => a,
        _ => Arch::X86_64,
    };
    let mut g = LinkGraph::new(arch.pointer_size(), arch.little_endian());
    let mut names = Interner::new();
    let mut state = coff::LinkState::default();
    let mut built = false;
    for name in ["fuzz.obj", "again.obj"] {
        match coff::build(&mut g, &mut names, &mut state, name.into(), data) {
            Ok(_) => built = true,
            Err(e) => {
                one_line(&e);
                break;
            }
        }
    }
    if built {
        coff::finish(&mut g, &mut names, &mut state, &|_| false);
    }
});
