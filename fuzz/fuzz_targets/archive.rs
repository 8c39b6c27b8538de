//! Archive reader: `Archive::from_bytes`, then each member identified and,
//! when it is an object, built into a graph (what a link does on demand).
#![no_main]

use jitlink::formats::{self, elf, FileKind};
use jitlink::graph::{Interner, LinkGraph};
use jitlink::session::archive::Archive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut names = Interner::new();
    let ar = match Archive::from_bytes("fuzz.a", data.to_vec(), &mut names) {
        Ok(ar) => ar,
        Err(e) => {
            assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
            return;
        }
    };
    let mut g = LinkGraph::new(8, true);
    let mut state = elf::ElfState::default();
    for i in 0..ar.members.len() {
        let bytes = ar.member_bytes(i);
        let name = ar.members[i].name.clone();
        if let Ok(FileKind::ElfObject(_)) = formats::identify(&name, bytes) {
            if let Err(e) = elf::build(&mut g, &mut names, &mut state, name, bytes) {
                assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
            }
        }
    }
});
