//! Compiler-flag matrix, archive formats and initialiser order, each
//! compared with the same objects linked natively by the compiler.
//!
//! Sources: `tests/programs/variants/`. The matrix covers what changes the
//! relocations a compiler emits for C: -O0..-O3 × -fPIE / -fPIC / -fno-pic
//! × -mcmodel=small/medium/large × -ffunction-sections/-fdata-sections,
//! with GCC and (when installed) Clang.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const JITLINK: &str = env!("CARGO_BIN_EXE_jitlink");
const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/variants");

fn work_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("variants").join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.env_remove("RUST_BACKTRACE").output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    out
}

fn check(cmd: &mut Command) {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Runs the native executable and `jitlink run FILES -- ARGS`; returns an
/// error text if stdout or the exit status differ.
fn compare(native: &Path, files: &[PathBuf], args: &[&str]) -> Result<(), String> {
    let n = run(Command::new(native).args(args));
    let j = run(Command::new(JITLINK).arg("run").args(files).arg("--").args(args));
    if n.stdout != j.stdout || n.status.code() != j.status.code() {
        return Err(format!(
            "{native:?}: native status {:?} vs jitlink {:?}\n--- native\n{}--- jitlink\n{}--- jitlink stderr\n{}",
            n.status.code(),
            j.status.code(),
            String::from_utf8_lossy(&n.stdout),
            String::from_utf8_lossy(&j.stdout),
            String::from_utf8_lossy(&j.stderr)
        ));
    }
    Ok(())
}

fn build_variant(cc: &str, flags: &[&str], dir: &Path) -> Result<(), String> {
    let objs: Vec<PathBuf> = ["main", "util"].iter().map(|n| dir.join(format!("{n}.o"))).collect();
    for (n, o) in ["main", "util"].iter().zip(&objs) {
        let out =
            run(Command::new(cc).args(flags).arg("-fcommon").arg("-c").arg(format!("{SRC}/{n}.c")).arg("-o").arg(o));
        if !out.status.success() {
            return Err(format!("{cc} {flags:?} {n}.c: {}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    let native = dir.join("native");
    let mut link = Command::new(cc);
    if flags.contains(&"-fno-pic") {
        link.arg("-no-pie");
    }
    let out = run(link.args(&objs).arg("-o").arg(&native));
    if !out.status.success() {
        return Err(format!("native link {cc} {flags:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    compare(&native, &objs, &["an argument"]).map_err(|e| format!("{cc} {flags:?}: {e}"))
}

#[test]
fn flag_matrix_matches_native() {
    let mut ccs = vec!["gcc"];
    if have("clang") {
        ccs.push("clang");
    } else {
        eprintln!("clang not installed: GCC only");
    }
    let models: &[&[&str]] = &[
        &["-fPIE"],
        &["-fPIC"],
        &["-fno-pic"],
        &["-fPIE", "-mcmodel=medium"],
        &["-fPIC", "-mcmodel=medium"],
        &["-fno-pic", "-mcmodel=medium"],
        &["-fPIE", "-mcmodel=large"],
        &["-fPIC", "-mcmodel=large"],
        &["-fno-pic", "-mcmodel=large"],
        &["-fPIE", "-ffunction-sections", "-fdata-sections"],
        &["-fno-pic", "-ffunction-sections", "-fdata-sections"],
    ];
    let mut jobs: Vec<(String, Vec<String>)> = Vec::new();
    for cc in &ccs {
        for opt in ["-O0", "-O1", "-O2", "-O3"] {
            for m in models {
                let mut f = vec![opt.to_string()];
                f.extend(m.iter().map(|s| s.to_string()));
                jobs.push((cc.to_string(), f));
            }
        }
    }
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((cc, flags)) = jobs.get(i) else {
                    break;
                };
                let dir = work_dir(&format!("{cc}{}", flags.join("")));
                let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
                if let Err(e) = build_variant(cc, &flags, &dir) {
                    failures.lock().unwrap().push(e);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of {} variants differ:\n{}", failures.len(), jobs.len(), failures.join("\n"));
}

/// GNU, BSD, thin and index-less archives all load their members on demand.
#[test]
fn archive_formats() {
    let dir = work_dir("archives");
    let main = dir.join("main.o");
    let util = dir.join("util.o");
    check(Command::new("gcc").args(["-O2", "-fcommon", "-c", &format!("{SRC}/main.c"), "-o"]).arg(&main));
    check(Command::new("gcc").args(["-O2", "-fcommon", "-c", &format!("{SRC}/util.c"), "-o"]).arg(&util));
    let native = dir.join("native");
    check(Command::new("gcc").arg(&main).arg(&util).arg("-o").arg(&native));
    let mut kinds: Vec<(&str, Vec<&str>)> =
        vec![("gnu", vec!["ar", "rcs"]), ("thin", vec!["ar", "rcsT"]), ("noindex", vec!["ar", "rcS"])];
    if have("llvm-ar") {
        kinds.push(("bsd", vec!["llvm-ar", "--format=bsd", "rcs"]));
        kinds.push(("llvm-thin", vec!["llvm-ar", "--thin", "rcs"]));
    } else {
        eprintln!("llvm-ar not installed: BSD archives not tested");
    }
    for (name, cmd) in kinds {
        let lib = dir.join(format!("libutil-{name}.a"));
        let _ = std::fs::remove_file(&lib);
        check(Command::new(cmd[0]).args(&cmd[1..]).arg(&lib).arg(&util));
        compare(&native, &[main.clone(), lib.clone()], &["x"]).unwrap_or_else(|e| panic!("{name} archive: {e}"));
    }
}

/// `.preinit_array`, prioritised and plain constructors across two files,
/// destructors and atexit handlers run in the native order.
#[test]
fn initialiser_and_finaliser_order() {
    let dir = work_dir("order");
    let mut objs = Vec::new();
    for n in ["order", "order2"] {
        let o = dir.join(format!("{n}.o"));
        check(Command::new("gcc").args(["-O1", "-c", &format!("{SRC}/{n}.c"), "-o"]).arg(&o));
        objs.push(o);
    }
    let native = dir.join("native");
    check(Command::new("gcc").args(&objs).arg("-o").arg(&native));
    compare(&native, &objs, &[]).unwrap();
}

/// Removing a link unmaps its memory: no growth in mappings over many
/// load/run/remove cycles of the same object through the library API.
#[test]
fn remove_unmaps_link_memory() {
    let dir = work_dir("remove");
    let src = dir.join("f.c");
    std::fs::write(&src, "int value = 41; int get(void) { return value + 1; }\n").unwrap();
    let obj = dir.join("f.o");
    check(Command::new("gcc").args(["-O2", "-c"]).arg(&src).arg("-o").arg(&obj));
    let maps = || std::fs::read_to_string("/proc/self/maps").unwrap().lines().count();
    let mut s = jitlink::Session::in_process();
    let mut baseline = 0;
    for i in 0..200 {
        s.add_file(&obj).unwrap();
        let id = s.link(&jitlink::LinkOptions::default()).unwrap();
        let get = s.lookup("get").unwrap();
        // SAFETY: `get` is `int get(void)` compiled above for this host.
        let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(get as usize) };
        assert_eq!(f(), 42);
        s.remove(id).unwrap();
        assert!(s.lookup("get").is_none());
        if i == 10 {
            baseline = maps();
        }
        if i > 10 {
            assert!(maps() <= baseline + 2, "mappings grew from {baseline} to {}", maps());
        }
    }
}
