//! COFF code executed on Linux: `tests/fixtures/macho_kernels/kernels.c`
//! compiled by clang for `x86_64-pc-windows-msvc` (Microsoft x64 ABI) at
//! -O0 and -O2 (`-ffreestanding -fno-stack-protector`: the code needs
//! `_fltused` and `__chkstk`, which the linker supplies), JIT-linked in this
//! process through the library API and called through `extern "win64"`
//! pointers; every answer must equal the same C built for Linux by `cc`.
//! And `jitlink run` calls a COFF `main` with the Microsoft x64 convention.

#![cfg(target_arch = "x86_64")]

#[path = "macho_common/mod.rs"]
mod common;

mod win64 {
    crate::kernel_runner!("win64");
}
mod sysv {
    crate::kernel_runner!("C");
}

use common::kernels;
use jitlink::session::{LinkOptions, Session};

#[test]
fn kernels_match_the_linux_build() {
    let native = kernels::open(&kernels::native_library("coff"));
    // SAFETY: the library's kernels, called with their C types.
    let want = unsafe { sysv::run(&|n| native(n)) };
    for opt in ["O0", "O2"] {
        let mut s = Session::in_process();
        s.add_file(&common::fixture("coff_x86_64", &format!("kernels-{opt}.obj"))).unwrap();
        let id = s.link(&LinkOptions::default()).unwrap_or_else(|e| panic!("kernels-{opt}.obj: {e}"));
        assert!(s.lookup("__chkstk").is_some(), "kernels-{opt}.obj: __chkstk supplied");
        let lookup = |n: &str| s.lookup(n).unwrap_or_else(|| panic!("{n} not defined"));
        // SAFETY: the JIT'd kernels, Microsoft x64 ABI.
        let got = unsafe { win64::run(&lookup) };
        assert_eq!(got, want, "kernels-{opt}.obj (x86_64-pc-windows-msvc) differs from the Linux build");
        s.remove(id).unwrap();
    }
}

/// The supplied `__chkstk` probes every page of a large frame and keeps
/// the registers it must (called directly here with RAX = 64 KiB).
#[test]
fn chkstk_probes_and_preserves() {
    let mut s = Session::in_process();
    s.add_file(&common::fixture("coff_x86_64", "kernels-O2.obj")).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    let chkstk = s.lookup("__chkstk").unwrap();
    let (rax, rcx): (u64, u64);
    // SAFETY: __chkstk reads pages below RSP (this thread's stack, 64 KiB
    // of the 2 MiB a test thread has) and restores RAX and RCX.
    unsafe {
        std::arch::asm!(
            "sub rsp, 8",
            "call {f}",
            "add rsp, 8",
            f = in(reg) chkstk,
            inout("rax") 0x10000u64 => rax,
            inout("rcx") 0x1234u64 => rcx,
            out("r10") _, out("r11") _,
        );
    }
    assert_eq!((rax, rcx), (0x10000, 0x1234));
}

#[test]
fn jitlink_run_calls_a_coff_main_with_the_win64_convention() {
    let obj = common::fixture("coff_x86_64", "entry.obj");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_jitlink"))
        .arg("run")
        .arg(&obj)
        .args(["--", "a", "bb", "ccc"])
        .output()
        .unwrap();
    // main returns argc * 10 + the lengths of argv[1..]: 40 + 6.
    assert_eq!(o.status.code(), Some(46), "stderr: {}", String::from_utf8_lossy(&o.stderr));
}
