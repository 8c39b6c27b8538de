//! Compiles the C++ shim (`shim/reopt_shim.cpp`) against LLVM 14's headers.
//!
//! LLVM is found as `llvm-sys` finds it: `$LLVM_SYS_140_PREFIX/bin/llvm-config`
//! when that variable is set, else `llvm-config-14`, else `llvm-config`.

use std::path::PathBuf;
use std::process::Command;

fn llvm_config(args: &[&str]) -> Option<String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("LLVM_SYS_140_PREFIX") {
        candidates.push(PathBuf::from(p).join("bin").join("llvm-config"));
    }
    candidates.push("llvm-config-14".into());
    candidates.push("/usr/lib/llvm-14/bin/llvm-config".into());
    candidates.push("llvm-config".into());
    for c in candidates {
        let Ok(out) = Command::new(&c).arg("--version").output() else { continue };
        if !out.status.success() || !String::from_utf8_lossy(&out.stdout).starts_with("14.") {
            continue;
        }
        let out = Command::new(&c).args(args).output().ok()?;
        return Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    None
}

fn main() {
    println!("cargo:rerun-if-changed=shim/reopt_shim.cpp");
    println!("cargo:rerun-if-env-changed=LLVM_SYS_140_PREFIX");
    let include = llvm_config(&["--includedir"]).unwrap_or_else(|| {
        panic!("jitlink-reopt needs LLVM 14 (llvm-config-14 or $LLVM_SYS_140_PREFIX; Debian: llvm-14-dev)")
    });
    cc::Build::new()
        .cpp(true)
        .file("shim/reopt_shim.cpp")
        .include(include)
        .flag("-std=c++14")
        .flag("-fno-rtti")
        .flag("-fno-exceptions")
        .warnings(false)
        .define("_GNU_SOURCE", None)
        .define("__STDC_CONSTANT_MACROS", None)
        .define("__STDC_FORMAT_MACROS", None)
        .define("__STDC_LIMIT_MACROS", None)
        .compile("reopt_shim");
}
