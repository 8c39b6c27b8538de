//! The whole link of arbitrary bytes as one object: a Session with a
//! SimulatedMemoryManager at 0x10000000 (64 MiB limit) and phony externals,
//! through prune, GOT/PLT, layout, allocation, resolution and fixup.
#![no_main]

use jitlink::memory::SimulatedMemoryManager;
use jitlink::{LinkOptions, Session, SessionOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = Session::new(
        Box::new(SimulatedMemoryManager::new(0x1000_0000, Some(64 << 20), 4096)),
        SessionOptions { phony_externals: true, ..Default::default() },
    );
    let r = s.add_object_bytes("fuzz.o", data.to_vec()).and_then(|()| s.link(&LinkOptions::default()));
    if let Err(e) = r {
        assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
    }
});
