//! Helpers shared by the out-of-process tests (`tests/oop_*.rs`): the
//! executors (the Rust one built with cargo, the C one with any C
//! compiler, cross compilers included), running with a timeout, and the
//! third-party sources.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const JITLINK: &str = env!("CARGO_BIN_EXE_jitlink");
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

pub fn root() -> &'static Path {
    Path::new(ROOT)
}

/// `<target dir>` (CARGO_TARGET_TMPDIR is `<target dir>/tmp`).
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| root().join("target"))
}

/// A fresh scratch directory (unique in this test process).
pub fn scratch(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oop").join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// True when the cross tests must not skip (CI sets it).
pub fn require_cross() -> bool {
    std::env::var_os("JITLINK_REQUIRE_CROSS").is_some()
}

/// True when `cmd` can be run.
pub fn have(cmd: &str) -> bool {
    Command::new(cmd).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Skips (returns false, with a message) or fails, when tools are missing.
pub fn tools_present(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(!require_cross(), "JITLINK_REQUIRE_CROSS is set but these tools are missing: {missing:?}");
    eprintln!("skipped: missing {missing:?} (apt-get install qemu-user gcc-aarch64-linux-gnu ...)");
    false
}

pub struct RunOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl RunOutput {
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `cmd` with stdin closed, stdout/stderr captured, killed after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> RunOutput {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out_pipe.read_to_end(&mut b);
        b
    });
    let t2 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err_pipe.read_to_end(&mut b);
        b
    });
    let deadline = started + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    RunOutput {
        status,
        stdout: t1.join().unwrap_or_default(),
        stderr: t2.join().unwrap_or_default(),
        timed_out,
        elapsed,
    }
}

/// Exit code, or 128 + signal.
pub fn status_value(s: ExitStatus) -> i32 {
    match (s.code(), s.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        _ => -1,
    }
}

/// The end of `b` (at most `max` bytes), lossily decoded.
pub fn tail(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[b.len().saturating_sub(max)..]).into_owned()
}

/// The first differing line of two outputs, with its number.
pub fn first_difference(a: &[u8], b: &[u8]) -> String {
    let la: Vec<&[u8]> = a.split(|&c| c == b'\n').collect();
    let lb: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i), lb.get(i));
        if x != y {
            return format!(
                "line {}: expected {:?}, got {:?}",
                i + 1,
                x.map(|l| String::from_utf8_lossy(l)),
                y.map(|l| String::from_utf8_lossy(l))
            );
        }
    }
    "no difference".into()
}

/// The Rust host executor, built once per test process with cargo (a
/// no-op after `cargo build --workspace`), next to the `jitlink` binary.
pub fn rust_executor() -> PathBuf {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    CELL.get_or_init(|| {
        let bin_dir = Path::new(JITLINK).parent().unwrap();
        let cargo = std::env::var("CARGO").ok().or(option_env!("CARGO").map(String::from)).unwrap_or("cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "jitlink-executor"]).current_dir(ROOT);
        if bin_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let out = run_with_timeout(&mut cmd, Duration::from_secs(1200));
        assert!(
            out.status.success() && !out.timed_out,
            "cargo build -p jitlink-executor failed:\n{}",
            out.stderr_str()
        );
        let exe = bin_dir.join("jitlink-executor");
        assert!(exe.is_file(), "{} missing after cargo build", exe.display());
        exe
    })
    .clone()
}

fn newer(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a).and_then(|m| m.modified()), std::fs::metadata(b).and_then(|m| m.modified())) {
        (Ok(x), Ok(y)) => x >= y,
        _ => false,
    }
}

/// The portable C executor built by `cc` (`gcc`, `aarch64-linux-gnu-gcc`,
/// ...) exactly as documented: `$CC -O2 -o jitlink-executor executor-c/*.c -ldl`.
pub fn c_executor(cc: &str) -> PathBuf {
    static CELLS: OnceLock<Mutex<HashMap<String, Arc<OnceLock<PathBuf>>>>> = OnceLock::new();
    let cell = CELLS.get_or_init(Default::default).lock().unwrap().entry(cc.to_string()).or_default().clone();
    cell.get_or_init(|| {
        let dir = target_dir().join("oop-executors").join(cc);
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("jitlink-executor");
        let mut srcs: Vec<PathBuf> = std::fs::read_dir(root().join("executor-c"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "c"))
            .collect();
        srcs.sort();
        if srcs.iter().all(|s| newer(&exe, s)) {
            return exe;
        }
        let tmp = dir.join(format!("jitlink-executor.{}.tmp", std::process::id()));
        let mut cmd = Command::new(cc);
        cmd.arg("-O2").arg("-Wall").arg("-o").arg(&tmp).args(&srcs).arg("-ldl");
        let out = run_with_timeout(&mut cmd, Duration::from_secs(300));
        assert!(out.status.success(), "{cc} failed to build the C executor:\n{}", out.stderr_str());
        std::fs::rename(&tmp, &exe).unwrap();
        exe
    })
    .clone()
}

/// Compiles one C file with `cc` into `dir`, returning the object.
pub fn compile(cc: &str, dir: &Path, name: &str, source: &str, flags: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let obj = dir.join(format!("{name}.o"));
    let out = run_with_timeout(
        Command::new(cc).args(flags).arg("-c").arg(&src).arg("-o").arg(&obj),
        Duration::from_secs(300),
    );
    assert!(out.status.success(), "{cc} {name}.c failed:\n{}", out.stderr_str());
    obj
}

/// The directories of the crates.io packages that ship the C sources
/// (`lua-src` 547.1.0, `libsqlite3-sys` 0.30.1, `libz-sys` 1.1.31), as
/// `scripts/build-programs.sh` locates them.
pub struct Sources {
    pub lua: PathBuf,
    pub sqlite: PathBuf,
}

pub fn sources() -> &'static Sources {
    static S: OnceLock<Sources> = OnceLock::new();
    S.get_or_init(|| {
        let cargo = std::env::var("CARGO").ok().or(option_env!("CARGO").map(String::from)).unwrap_or("cargo".into());
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--locked", "--manifest-path"])
            .arg(root().join("tests/sources/Cargo.toml"))
            .output()
            .expect("cannot run cargo metadata");
        assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let dir = |name: &str, version: &str| -> PathBuf {
            let p = meta["packages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name && p["version"] == version)
                .unwrap_or_else(|| panic!("cargo metadata did not locate {name} {version}"));
            Path::new(p["manifest_path"].as_str().unwrap()).parent().unwrap().to_path_buf()
        };
        Sources {
            lua: dir("lua-src", "547.1.0").join("lua-5.4.7"),
            sqlite: dir("libsqlite3-sys", "0.30.1").join("sqlite3"),
        }
    })
}

/// Arguments every real program gets (after the Lua script for Lua), as in
/// `tests/programs.rs`.
pub const ARGS: &[&str] = &["alpha", "two words", "3"];

pub fn lua_script() -> String {
    format!("{ROOT}/tests/programs/test.lua")
}
