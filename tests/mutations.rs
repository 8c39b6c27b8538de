//! Deterministic mutations of real objects through the whole `--noexec`
//! link (simulated memory, phony externals): every result is a link or an
//! error, never a panic. A cheap, always-on companion to the fuzz targets.

use jitlink::memory::SimulatedMemoryManager;
use jitlink::{LinkOptions, Session, SessionOptions};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/x86_64");

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn link_bytes(name: &str, bytes: Vec<u8>) -> Result<(), String> {
    let mut s = Session::new(
        Box::new(SimulatedMemoryManager::new(0x1000_0000, Some(64 << 20), 4096)),
        SessionOptions { phony_externals: true, ..Default::default() },
    );
    s.add_object_bytes(name, bytes).map_err(|e| e.to_string())?;
    s.link(&LinkOptions::default()).map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn mutated_objects_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut errors = 0;
    let mut links = 0;
    for f in ["basic.o", "got.o", "rel_basic.o", "comdat_a.o"] {
        let orig = std::fs::read(format!("{FIXTURES}/{f}")).unwrap();
        assert!(link_bytes(f, orig.clone()).is_ok(), "{f} links unmutated");
        let rounds: usize = std::env::var("JITLINK_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(1500);
        for i in 0..rounds {
            let mut m = orig.clone();
            let flips = 1 + (rng.next() % 4) as usize;
            for _ in 0..flips {
                let at = (rng.next() as usize) % m.len();
                m[at] = match rng.next() % 4 {
                    0 => rng.next() as u8,
                    1 => 0xff,
                    2 => 0,
                    _ => m[at] ^ (1 << (rng.next() % 8)),
                };
            }
            if i % 50 == 0 {
                m.truncate((rng.next() as usize) % m.len());
            }
            let result = std::panic::catch_unwind(|| link_bytes(f, m));
            match result {
                Ok(Ok(())) => links += 1,
                Ok(Err(e)) => {
                    assert!(!e.contains('\n'), "error is one line: {e}");
                    errors += 1;
                }
                Err(_) => panic!("{f} mutation {i} panicked"),
            }
        }
    }
    eprintln!("mutations: {links} linked, {errors} errors");
    assert!(errors > 0 && links > 0);
}
