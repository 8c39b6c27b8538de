//! Mach-O code executed on Linux: `tests/fixtures/macho_kernels/kernels.c`
//! compiled by clang for `x86_64-apple-macos` (System V ABI, as Linux) at
//! -O0 and -O2 (`-ffreestanding -fno-stack-protector`), JIT-linked in this
//! process through the library API and called through `extern "C"`
//! pointers; every answer must equal the same C built for Linux by `cc`.

#![cfg(target_arch = "x86_64")]

#[path = "macho_common/mod.rs"]
mod common;

mod sysv {
    crate::kernel_runner!("C");
}

use common::kernels as kernels_mod;
use jitlink::session::{LinkOptions, Session};

#[test]
fn kernels_match_the_linux_build() {
    let native = kernels_mod::open(&kernels_mod::native_library("macho"));
    // SAFETY: the library's kernels, called with their C types.
    let want = unsafe { sysv::run(&|n| native(n)) };
    for opt in ["O0", "O2"] {
        let mut s = Session::in_process();
        s.add_file(&common::fixture("macho_x86_64", &format!("kernels-{opt}.o"))).unwrap();
        let id = s.link(&LinkOptions::default()).unwrap_or_else(|e| panic!("kernels-{opt}.o: {e}"));
        // SAFETY: the link was made for this process; it has no initialisers.
        unsafe { s.run_initializers(id).unwrap() };
        let lookup = |n: &str| s.lookup(&format!("_{n}")).unwrap_or_else(|| panic!("_{n} not defined"));
        // SAFETY: the JIT'd kernels, System V like Linux.
        let got = unsafe { sysv::run(&lookup) };
        assert_eq!(got, want, "kernels-{opt}.o (x86_64-apple-macos) differs from the Linux build");
        s.remove(id).unwrap();
    }
}

/// The universal file's x86-64 slice (picked for the host) runs too.
#[test]
fn universal_slice_runs() {
    let native = kernels_mod::open(&kernels_mod::native_library("macho-fat"));
    // SAFETY: as above.
    let want = unsafe { sysv::run(&|n| native(n)) };
    let mut s = Session::in_process();
    s.add_file(&common::fixture("macho_universal", "kernels.o")).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    let lookup = |n: &str| s.lookup(&format!("_{n}")).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { sysv::run(&lookup) }, want);
}

/// `jitlink run` finds a Mach-O program's `_main` for `--entry main`.
#[test]
fn jitlink_run_calls_a_mach_o_main() {
    let obj = common::fixture("macho_x86_64", "entry.o");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_jitlink"))
        .arg("run")
        .arg(&obj)
        .args(["--", "a", "bb", "ccc"])
        .output()
        .unwrap();
    // main returns argc * 10 + the lengths of argv[1..]: 40 + 6.
    assert_eq!(o.status.code(), Some(46), "stderr: {}", String::from_utf8_lossy(&o.stderr));
}
