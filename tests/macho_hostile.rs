//! Corrupted Mach-O and COFF objects (and universal files): truncated at
//! many lengths and with bytes overwritten at random, each linked through
//! the library API. Every one must give an error or a link, never a panic.

#[path = "macho_common/mod.rs"]
mod common;

use jitlink::memory::SimulatedMemoryManager;
use jitlink::session::{LinkOptions, Session, SessionOptions};

fn try_link(name: &str, bytes: Vec<u8>) {
    let opts = SessionOptions { phony_externals: true, ..Default::default() };
    let mut s = Session::new(Box::new(SimulatedMemoryManager::new(0x1000_0000, Some(64 << 20), 4096)), opts);
    if s.add_object_bytes(name, bytes).is_ok() {
        let _ = s.link(&LinkOptions::default());
    }
}

fn mutate(dir: &str, file: &str, seed: u64) {
    let orig = std::fs::read(common::fixture(dir, file)).unwrap();
    let mut rng = common::kernels::Lcg::new(seed);
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for k in 0..64 {
        let cut = orig.len() * k / 64 + (rng.next() as usize % 7);
        cases.push(orig[..cut.min(orig.len())].to_vec());
    }
    for _ in 0..400 {
        let mut m = orig.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = rng.next() as usize % m.len();
            m[at] = match rng.next() % 4 {
                0 => 0,
                1 => 0xff,
                2 => m[at] ^ (1 << (rng.next() % 8)),
                _ => rng.next() as u8,
            };
        }
        cases.push(m);
    }
    for (i, c) in cases.into_iter().enumerate() {
        let r = std::panic::catch_unwind(|| try_link(file, c));
        assert!(r.is_ok(), "{dir}/{file}: mutant {i} (seed {seed}) panicked");
    }
}

#[test]
fn corrupted_macho_objects_never_panic() {
    for (dir, file) in [
        ("macho_x86_64", "relocs.o"),
        ("macho_x86_64", "unwind.o"),
        ("macho_x86_64", "kernels-O2.o"),
        ("macho_arm64", "relocs.o"),
        ("macho_arm64", "unwind.o"),
        ("macho_universal", "kernels.o"),
    ] {
        mutate(dir, file, 7);
    }
}

#[test]
fn corrupted_coff_objects_never_panic() {
    for (dir, file) in [
        ("coff_x86_64", "relocs.obj"),
        ("coff_x86_64", "relocs-bigobj.obj"),
        ("coff_x86_64", "kernels-O2.obj"),
        ("coff_arm64", "relocs.obj"),
        ("coff_arm64", "relocs-bigobj.obj"),
    ] {
        mutate(dir, file, 11);
    }
}
