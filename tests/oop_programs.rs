//! The real programs of `tests/programs.rs` (SQLite, Lua 5.4, zlib; GCC at
//! -O0 and -O2, built by `scripts/build-programs.sh` into the same
//! directories) run out of process: `jitlink run --oop` must print exactly
//! what the in-process `jitlink run` prints and exit with the same status.
//! Also: the portable C executor on the host, and `--connect` to an
//! executor listening on a Unix socket.

mod oop_common;

use oop_common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const RUN_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Clone, Copy)]
enum Program {
    Lua,
    Sqlite,
    Zlib,
}

impl Program {
    fn inputs(self) -> &'static [&'static str] {
        match self {
            Program::Lua => &["lua_driver.o", "liblua.a"],
            Program::Sqlite => &["sqlite_driver.o", "sqlite3.o"],
            Program::Zlib => &["zlib_driver.o", "libz.a"],
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

/// `jitlink run [extra...] inputs -l m -- args` in `dir`.
fn jitlink(dir: &Path, p: Program, extra: &[&str]) -> RunOutput {
    let mut cmd = Command::new(JITLINK);
    cmd.arg("run").args(extra);
    for i in p.inputs() {
        cmd.arg(dir.join(i));
    }
    cmd.args(["-l", "m", "--"]).args(p.args()).env("JITLINK_EXECUTOR", rust_executor());
    run_with_timeout(&mut cmd, RUN_TIMEOUT)
}

fn same(what: &str, expected: &RunOutput, got: &RunOutput) {
    assert!(!got.timed_out, "{what}: timed out");
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

fn check(p: Program, opt: &str) {
    let dir = build(opt);
    let inproc = jitlink(&dir, p, &[]);
    assert!(!inproc.timed_out && !inproc.stdout.is_empty(), "in-process run failed: {}", inproc.stderr_str());
    let oop = jitlink(&dir, p, &["--oop"]);
    same("jitlink run --oop", &inproc, &oop);
}

#[test]
fn sqlite_gcc_o2() {
    check(Program::Sqlite, "-O2");
}

#[test]
fn lua_gcc_o2() {
    check(Program::Lua, "-O2");
}

#[test]
fn zlib_gcc_o2() {
    check(Program::Zlib, "-O2");
}

#[test]
fn sqlite_gcc_o0() {
    check(Program::Sqlite, "-O0");
}

#[test]
fn lua_gcc_o0() {
    check(Program::Lua, "-O0");
}

#[test]
fn zlib_gcc_o0() {
    check(Program::Zlib, "-O0");
}

/// Lua (static archive, `os.exit(3)` from JIT'd code) in the C executor
/// built by the host's C compiler.
#[test]
fn lua_in_the_c_executor() {
    let dir = build("-O2");
    let inproc = jitlink(&dir, Program::Lua, &[]);
    let exe = c_executor("gcc");
    let oop = jitlink(&dir, Program::Lua, &["--oop-executor", exe.to_str().unwrap()]);
    same("jitlink run --oop-executor <C executor>", &inproc, &oop);
}

/// zlib over `--connect unix:PATH` to `jitlink-executor --listen`, for the
/// Rust and the C executor.
#[test]
fn zlib_over_a_unix_socket() {
    let dir = build("-O2");
    let inproc = jitlink(&dir, Program::Zlib, &[]);
    for exe in [rust_executor(), c_executor("gcc")] {
        let tmp = scratch("socket");
        let sock = tmp.join("exec.sock");
        let out_path = tmp.join("program.out");
        // The program's output goes where the executor's does.
        let mut server = Command::new(&exe)
            .arg("--listen")
            .arg(format!("unix:{}", sock.display()))
            .stdout(std::fs::File::create(&out_path).unwrap())
            .spawn()
            .unwrap();
        for _ in 0..500 {
            if sock.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let oop = jitlink(&dir, Program::Zlib, &["--connect", &format!("unix:{}", sock.display())]);
        let status = server.wait().unwrap();
        assert_eq!(status_value(status), status_value(inproc.status), "executor status; {}", oop.stderr_str());
        assert_eq!(status_value(oop.status), status_value(inproc.status), "{}", oop.stderr_str());
        let printed = std::fs::read(&out_path).unwrap();
        assert!(
            printed == inproc.stdout,
            "{}: output differs ({})",
            exe.display(),
            first_difference(&inproc.stdout, &printed)
        );
    }
}
