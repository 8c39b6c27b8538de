//! `jitlink run --oop --lazy` (protocol version 2): every object and
//! archive member without data or initialisers is linked in the executor's
//! JIT arena on the first call of one of its functions, which the executor
//! asks the controller for (`LAZY`). The real programs of
//! `tests/programs.rs` (zlib and Lua 5.4, built by
//! `scripts/build-programs.sh`) must print exactly what their natively
//! linked executables print and exit with the same status, in the Rust
//! executor and in the C one; and a small multi-object program, compiled
//! by `aarch64-linux-gnu-gcc`, runs lazily in the C executor under
//! `qemu-aarch64` as its cross-linked executable does.

mod oop_common;

use oop_common::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const RUN_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Clone, Copy)]
enum Program {
    Lua,
    Zlib,
}

impl Program {
    fn inputs(self) -> &'static [&'static str] {
        match self {
            Program::Lua => &["lua_driver.o", "liblua.a"],
            Program::Zlib => &["zlib_driver.o", "libz.a"],
        }
    }
    fn native(self) -> &'static str {
        match self {
            Program::Lua => "lua_native",
            Program::Zlib => "zlib_native",
        }
    }
    fn args(self) -> Vec<String> {
        let mut v = Vec::new();
        if let Program::Lua = self {
            v.push(lua_script());
        }
        v.extend(ARGS.iter().map(|s| s.to_string()));
        v
    }
}

/// Builds (once per test process and level) with `scripts/build-programs.sh`.
fn build(opt: &str) -> PathBuf {
    type Cells = Mutex<HashMap<String, Arc<OnceLock<Result<PathBuf, String>>>>>;
    static BUILDS: OnceLock<Cells> = OnceLock::new();
    let cell = BUILDS.get_or_init(Default::default).lock().unwrap().entry(opt.to_string()).or_default().clone();
    let r = cell.get_or_init(|| {
        let dir = target_dir().join("programs").join(format!("gcc{opt}"));
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("scripts/build-programs.sh")).arg(&dir).arg(opt).env("CC", "gcc").current_dir(ROOT);
        if let Some(cargo) = option_env!("CARGO") {
            if std::env::var_os("CARGO").is_none() {
                cmd.env("CARGO", cargo);
            }
        }
        let out = run_with_timeout(&mut cmd, Duration::from_secs(1800));
        if out.status.success() && !out.timed_out {
            Ok(dir)
        } else {
            Err(format!("build-programs.sh gcc {opt} failed:\n{}", tail(&out.stderr, 4000)))
        }
    });
    r.clone().unwrap_or_else(|e| panic!("{e}"))
}

fn same(what: &str, expected: &RunOutput, got: &RunOutput) {
    assert!(!got.timed_out, "{what}: timed out; stderr:\n{}", tail(&got.stderr, 3000));
    assert_eq!(
        status_value(expected.status),
        status_value(got.status),
        "{what}: exit status differs; stderr:\n{}",
        tail(&got.stderr, 3000)
    );
    assert!(
        expected.stdout == got.stdout,
        "{what}: stdout differs ({}); stderr:\n{}",
        first_difference(&expected.stdout, &got.stdout),
        tail(&got.stderr, 3000)
    );
}

/// The number of lazy symbols `--stats` says were materialized.
fn materialized(stderr: &str) -> usize {
    let line = stderr.lines().find(|l| l.contains("jitlink: stats:")).unwrap_or_else(|| panic!("no stats in {stderr}"));
    let before = line.split(" lazy symbols materialized").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

fn check(p: Program, opt: &str, executor: &[&str], extra: &[&str]) {
    let dir = build(opt);
    let native = run_with_timeout(Command::new(dir.join(p.native())).args(p.args()).current_dir(ROOT), RUN_TIMEOUT);
    assert!(!native.timed_out && !native.stdout.is_empty(), "the native program failed: {}", native.stderr_str());
    let mut cmd = Command::new(JITLINK);
    cmd.arg("run").args(executor).args(["--lazy", "--stats"]).args(extra);
    for i in p.inputs() {
        cmd.arg(dir.join(i));
    }
    cmd.args(["-l", "m", "--"]).args(p.args()).env("JITLINK_EXECUTOR", rust_executor()).current_dir(ROOT);
    let got = run_with_timeout(&mut cmd, RUN_TIMEOUT);
    same(&format!("jitlink run {} --lazy", executor.join(" ")), &native, &got);
    let n = materialized(&got.stderr_str());
    assert!(n > 0, "nothing was linked lazily:\n{}", got.stderr_str());
    eprintln!("{opt}: {n} lazy symbols materialized in {:.2}s", got.elapsed.as_secs_f64());
}

#[test]
fn zlib_lazy_o2() {
    check(Program::Zlib, "-O2", &["--oop"], &[]);
}

#[test]
fn lua_lazy_o2() {
    check(Program::Lua, "-O2", &["--oop"], &[]);
}

/// The C executor on this host, every call site through its stub.
#[test]
fn lua_lazy_o0_c_executor_strict_wx() {
    let exe = c_executor("gcc");
    check(Program::Lua, "-O0", &["--oop-executor", exe.to_str().unwrap()], &["--memory-policy", "strict-wx"]);
}

const MAIN: &str = r#"
#include <stdio.h>
long fib(long);
double mean(const double *, int);
const char *greet(const char *);
int main(int argc, char **argv) {
    double xs[4] = {1.5, 2.5, 3.0, (double)argc};
    printf("%s\n", greet(argc > 1 ? argv[1] : "nobody"));
    for (long i = 0; i < 12; i++) printf("fib(%ld) = %ld\n", i, fib(i));
    printf("mean = %.4f\n", mean(xs, 4));
    return (int)(fib(10) % 7);
}
"#;

const FIB: &str = r#"
long fib(long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
"#;

const STATS: &str = r#"
#include <math.h>
#include <stdio.h>
static char buf[64];
double mean(const double *x, int n) { double s = 0; for (int i = 0; i < n; i++) s += x[i]; return floor(s / n * 1e4) / 1e4; }
const char *greet(const char *who) { snprintf(buf, sizeof buf, "hello, %s", who); return buf; }
"#;

/// A program of three objects compiled by the AArch64 cross GCC: `fib`
/// and `mean`/`greet` linked lazily in the C executor under qemu.
#[test]
fn aarch64_lazy_under_qemu() {
    let cc = "aarch64-linux-gnu-gcc";
    if !tools_present(&[cc, "qemu-aarch64"]) {
        return;
    }
    let dir = scratch("lazy-aarch64");
    let objs: Vec<PathBuf> = [("main", MAIN), ("fib", FIB), ("stats", STATS)]
        .iter()
        .map(|(n, src)| compile(cc, &dir, n, src, &["-O2"]))
        .collect();
    let native = dir.join("native");
    let out = run_with_timeout(Command::new(cc).arg("-o").arg(&native).args(&objs).arg("-lm"), RUN_TIMEOUT);
    assert!(out.status.success(), "{}", out.stderr_str());
    let qemu = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"];
    let reference = run_with_timeout(Command::new(qemu[0]).args(&qemu[1..]).arg(&native).arg("arm"), RUN_TIMEOUT);
    assert!(!reference.timed_out && !reference.stdout.is_empty(), "{}", reference.stderr_str());
    let exe = c_executor(cc);
    let executor = format!("{} {}", qemu.join(" "), exe.display());
    let mut cmd = Command::new(JITLINK);
    cmd.args(["run", "--oop-executor", &executor, "--lazy", "--stats"]).args(&objs).args(["-l", "m", "--", "arm"]);
    let got = run_with_timeout(&mut cmd, RUN_TIMEOUT);
    same("jitlink run --oop-executor <qemu-aarch64 C executor> --lazy", &reference, &got);
    assert_eq!(materialized(&got.stderr_str()), 2, "greet (mean comes with it) and fib");
}
