//! Cross-architecture execution: SQLite and Lua 5.4 compiled here by the
//! AArch64, RISC-V 64 and PPC64LE cross GCCs at -O0 and -O2, linked by
//! `jitlink` on this (x86-64) host and run in the portable C executor
//! (built by the same cross GCC) under `qemu-<arch> -L /usr/<triple>`:
//! stdout and exit status must equal those of the same objects linked by
//! the cross GCC and run under qemu.
//!
//! Objects go to `<target>/oop-cross/<triple>-gcc<opt>/` and are rebuilt
//! only when missing or older than their source (or when the compiler or
//! flags change). Skipped with a message when the tools are missing,
//! unless `JITLINK_REQUIRE_CROSS` is set (CI).

mod oop_common;

use oop_common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

const RUN_TIMEOUT: Duration = Duration::from_secs(900);

#[derive(Clone, Copy)]
struct Target {
    triple: &'static str,
    qemu: &'static str,
}

const AARCH64: Target = Target { triple: "aarch64-linux-gnu", qemu: "qemu-aarch64" };
const RISCV64: Target = Target { triple: "riscv64-linux-gnu", qemu: "qemu-riscv64" };
const PPC64LE: Target = Target { triple: "powerpc64le-linux-gnu", qemu: "qemu-ppc64le" };

impl Target {
    fn cc(self) -> String {
        format!("{}-gcc", self.triple)
    }
    fn qemu_prefix(self) -> Vec<String> {
        vec![self.qemu.into(), "-L".into(), format!("/usr/{}", self.triple)]
    }
}

/// At most two compilers at once in this test process (the machine has
/// two cores).
struct Slots {
    free: Mutex<usize>,
    cv: Condvar,
}

static SLOTS: Slots = Slots { free: Mutex::new(2), cv: Condvar::new() };

fn with_slot<T>(f: impl FnOnce() -> T) -> T {
    {
        let mut n = SLOTS.free.lock().unwrap_or_else(|e| e.into_inner());
        while *n == 0 {
            n = SLOTS.cv.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n -= 1;
    }
    let r = f();
    *SLOTS.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    SLOTS.cv.notify_one();
    r
}

fn newer(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a).and_then(|m| m.modified()), std::fs::metadata(b).and_then(|m| m.modified())) {
        (Ok(x), Ok(y)) => x >= y,
        _ => false,
    }
}

struct Built {
    dir: PathBuf,
}

fn run_tool(cmd: &mut Command, what: &str) {
    let out = run_with_timeout(cmd, Duration::from_secs(1200));
    assert!(out.status.success() && !out.timed_out, "{what} failed:\n{}", tail(&out.stderr, 4000));
}

/// Compiles both programs for `t` at `opt` (once per test process).
fn build(t: Target, opt: &str) -> Arc<Built> {
    type Cells = Mutex<HashMap<String, Arc<OnceLock<Arc<Built>>>>>;
    static BUILDS: OnceLock<Cells> = OnceLock::new();
    let key = format!("{}-gcc{opt}", t.triple);
    let cell = BUILDS.get_or_init(Default::default).lock().unwrap().entry(key.clone()).or_default().clone();
    cell.get_or_init(|| {
        let src = sources();
        let cc = t.cc();
        let dir = target_dir().join("oop-cross").join(&key);
        let version = Command::new(&cc).arg("--version").output().map(|o| o.stdout).unwrap_or_default();
        let stamp = format!(
            "{}\n{opt}\n{}\n{}\nflags-1\n",
            String::from_utf8_lossy(&version).lines().next().unwrap_or(""),
            src.lua.display(),
            src.sqlite.display()
        );
        if std::fs::read_to_string(dir.join(".stamp")).ok().as_deref() != Some(&stamp) {
            let _ = std::fs::remove_dir_all(&dir);
        }
        std::fs::create_dir_all(dir.join("lua")).unwrap();
        std::fs::write(dir.join(".stamp"), &stamp).unwrap();
        let progs = root().join("tests/programs");
        let sqlite_flags = vec![
            "-DSQLITE_THREADSAFE=0".to_string(),
            "-DSQLITE_OMIT_LOAD_EXTENSION".into(),
            format!("-I{}", src.sqlite.display()),
        ];
        let lua_flags = vec!["-DLUA_USE_LINUX".to_string(), format!("-I{}", src.lua.display())];
        let mut units: Vec<(PathBuf, PathBuf, Vec<String>)> = vec![
            (src.sqlite.join("sqlite3.c"), dir.join("sqlite3.o"), sqlite_flags.clone()),
            (progs.join("sqlite_driver.c"), dir.join("sqlite_driver.o"), sqlite_flags),
            (progs.join("lua_driver.c"), dir.join("lua_driver.o"), lua_flags.clone()),
        ];
        let mut lua_objs = Vec::new();
        let mut lua_srcs: Vec<PathBuf> = std::fs::read_dir(&src.lua)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "c"))
            .filter(|p| !matches!(p.file_stem().and_then(|s| s.to_str()), Some("lua" | "luac")))
            .collect();
        lua_srcs.sort();
        for s in lua_srcs {
            let obj = dir.join("lua").join(s.file_name().unwrap()).with_extension("o");
            lua_objs.push(obj.clone());
            units.push((s, obj, lua_flags.clone()));
        }
        let todo: Vec<_> = units.into_iter().filter(|(s, o, _)| !newer(o, s)).collect();
        let started = Instant::now();
        let n = todo.len();
        let queue = Mutex::new(todo.into_iter());
        std::thread::scope(|sc| {
            for _ in 0..2 {
                sc.spawn(|| loop {
                    let Some((s, o, flags)) = queue.lock().unwrap().next() else { break };
                    let tmp = o.with_extension("o.tmp");
                    with_slot(|| {
                        run_tool(
                            Command::new(&cc).arg(opt).args(&flags).arg("-c").arg(&s).arg("-o").arg(&tmp),
                            &format!("{cc} {opt} {}", s.display()),
                        )
                    });
                    std::fs::rename(&tmp, &o).unwrap();
                });
            }
        });
        if n > 0 {
            eprintln!("compiled {n} files with {cc} {opt} in {:.1}s", started.elapsed().as_secs_f64());
        }
        let lib = dir.join("liblua.a");
        if lua_objs.iter().any(|o| !newer(&lib, o)) {
            let _ = std::fs::remove_file(&lib);
            run_tool(Command::new(format!("{}-ar", t.triple)).arg("rcs").arg(&lib).args(&lua_objs), "ar");
        }
        for (exe, inputs) in
            [("sqlite_ref", vec!["sqlite_driver.o", "sqlite3.o"]), ("lua_ref", vec!["lua_driver.o", "liblua.a"])]
        {
            let out = dir.join(exe);
            if inputs.iter().all(|i| newer(&out, &dir.join(i))) {
                continue;
            }
            let mut cmd = Command::new(&cc);
            cmd.arg("-o").arg(&out);
            for i in &inputs {
                cmd.arg(dir.join(i));
            }
            run_tool(cmd.arg("-lm"), &format!("{cc} -o {exe}"));
        }
        Arc::new(Built { dir })
    })
    .clone()
}

fn check(t: Target, opt: &str, program: &str) {
    if !tools_present(&[&t.cc(), t.qemu]) {
        return;
    }
    let b = build(t, opt);
    let exe = c_executor(&t.cc());
    let (inputs, mut args): (&[&str], Vec<String>) = match program {
        "sqlite" => (&["sqlite_driver.o", "sqlite3.o"], vec![]),
        _ => (&["lua_driver.o", "liblua.a"], vec![lua_script()]),
    };
    args.extend(ARGS.iter().map(|s| s.to_string()));
    let q = t.qemu_prefix();
    let reference = run_with_timeout(
        Command::new(&q[0]).args(&q[1..]).arg(b.dir.join(format!("{program}_ref"))).args(&args),
        RUN_TIMEOUT,
    );
    assert!(!reference.timed_out && !reference.stdout.is_empty(), "reference run failed: {}", reference.stderr_str());
    let executor_cmd = format!("{} {}", q.join(" "), exe.display());
    let mut cmd = Command::new(JITLINK);
    cmd.arg("run").arg("--oop-executor").arg(&executor_cmd);
    for i in inputs {
        cmd.arg(b.dir.join(i));
    }
    cmd.args(["-l", "m", "--"]).args(&args);
    let started = Instant::now();
    let got = run_with_timeout(&mut cmd, RUN_TIMEOUT);
    eprintln!(
        "{} {opt} {program}: reference {:.1}s, jitlink + executor {:.1}s",
        t.triple,
        reference.elapsed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(!got.timed_out, "timed out; stderr:\n{}", tail(&got.stderr, 3000));
    assert_eq!(
        status_value(reference.status),
        status_value(got.status),
        "exit status differs; stderr:\n{}",
        tail(&got.stderr, 3000)
    );
    assert!(
        reference.stdout == got.stdout,
        "stdout differs ({}); stderr:\n{}",
        first_difference(&reference.stdout, &got.stdout),
        tail(&got.stderr, 3000)
    );
}

#[test]
fn aarch64_o0_sqlite() {
    check(AARCH64, "-O0", "sqlite");
}

#[test]
fn aarch64_o0_lua() {
    check(AARCH64, "-O0", "lua");
}

#[test]
fn aarch64_o2_sqlite() {
    check(AARCH64, "-O2", "sqlite");
}

#[test]
fn aarch64_o2_lua() {
    check(AARCH64, "-O2", "lua");
}

#[test]
fn riscv64_o0_sqlite() {
    check(RISCV64, "-O0", "sqlite");
}

#[test]
fn riscv64_o0_lua() {
    check(RISCV64, "-O0", "lua");
}

#[test]
fn riscv64_o2_sqlite() {
    check(RISCV64, "-O2", "sqlite");
}

#[test]
fn riscv64_o2_lua() {
    check(RISCV64, "-O2", "lua");
}

#[test]
fn ppc64le_o0_sqlite() {
    check(PPC64LE, "-O0", "sqlite");
}

#[test]
fn ppc64le_o0_lua() {
    check(PPC64LE, "-O0", "lua");
}

#[test]
fn ppc64le_o2_sqlite() {
    check(PPC64LE, "-O2", "sqlite");
}

#[test]
fn ppc64le_o2_lua() {
    check(PPC64LE, "-O2", "lua");
}
