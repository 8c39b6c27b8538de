//! End-to-end "real program" tests for `jitlink run`.
//!
//! Three real C code bases -- Lua 5.4.7, the SQLite amalgamation and zlib --
//! are compiled by `scripts/build-programs.sh` (sources from crates.io
//! packages located with `cargo metadata` on `tests/sources`) into objects
//! and static archives under `<target>/programs/<cc>-<opt>/`.  The same
//! script links native reference executables from the very same objects.
//! Each test runs the native executable and
//! `jitlink run <objects/archives> -l m -- <args>` and requires the same
//! stdout and the same exit status.
//!
//! Uses only std.  The C build runs once per (compiler, optimisation level)
//! per test process, however the tests are scheduled.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const JITLINK: &str = env!("CARGO_BIN_EXE_jitlink");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Arguments passed to every program (after the Lua script path for Lua).
const ARGS: &[&str] = &["alpha", "two words", "3"];

/// Generous: the slowest program runs in well under a second natively.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);

#[derive(Clone, Copy)]
enum Program {
    Lua,
    Sqlite,
    Zlib,
}

impl Program {
    fn name(self) -> &'static str {
        match self {
            Program::Lua => "lua",
            Program::Sqlite => "sqlite",
            Program::Zlib => "zlib",
        }
    }

    /// The files given to `jitlink run`, relative to the build directory.
    fn link_inputs(self) -> &'static [&'static str] {
        match self {
            Program::Lua => &["lua_driver.o", "liblua.a"],
            Program::Sqlite => &["sqlite_driver.o", "sqlite3.o"],
            Program::Zlib => &["zlib_driver.o", "libz.a"],
        }
    }

    fn native_exe(self) -> &'static str {
        match self {
            Program::Lua => "lua_native",
            Program::Sqlite => "sqlite_native",
            Program::Zlib => "zlib_native",
        }
    }

    /// argv[1..] for the program.
    fn args(self) -> Vec<String> {
        let mut v = Vec::new();
        if let Program::Lua = self {
            v.push(format!("{ROOT}/tests/programs/test.lua"));
        }
        v.extend(ARGS.iter().map(|s| s.to_string()));
        v
    }

    /// What the native reference must do, so that a broken reference build
    /// is reported as such rather than as a jitlink bug.
    fn expected_native_status(self) -> i32 {
        match self {
            Program::Lua => 3, // test.lua ends with os.exit(3)
            Program::Sqlite | Program::Zlib => 0,
        }
    }

    fn expected_native_marker(self) -> &'static str {
        match self {
            Program::Lua => "exiting with status 3\n",
            Program::Sqlite => "sqlite_driver: done\n",
            Program::Zlib => "zlib_driver: all round trips ok\n",
        }
    }
}

fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp`; honour CARGO_TARGET_DIR that way.
    match Path::new(env!("CARGO_TARGET_TMPDIR")).parent() {
        Some(p) => p.to_path_buf(),
        None => Path::new(ROOT).join("target"),
    }
}

type BuildResult = Result<PathBuf, String>;

/// Builds (once per test process) the programs for compiler `cc` at `opt`
/// and returns the output directory.  Panics with the build log on failure.
fn build(cc: &str, opt: &str) -> PathBuf {
    static BUILDS: OnceLock<Mutex<HashMap<String, Arc<OnceLock<BuildResult>>>>> = OnceLock::new();
    let key = format!("{cc}{opt}"); // e.g. "gcc-O2"
    let cell = {
        let mut map = BUILDS.get_or_init(|| Mutex::new(HashMap::new())).lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key.clone()).or_default().clone()
    };
    // Different keys build concurrently; the same key builds once (the
    // script also holds a lock on its output directory).
    let result = cell.get_or_init(|| run_build(cc, opt, &target_dir().join("programs").join(&key)));
    match result {
        Ok(dir) => dir.clone(),
        Err(msg) => panic!("{msg}"),
    }
}

fn run_build(cc: &str, opt: &str, dir: &Path) -> BuildResult {
    let script = Path::new(ROOT).join("scripts").join("build-programs.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg(dir).arg(opt).env("CC", cc).current_dir(ROOT);
    if let Some(cargo) = option_env!("CARGO") {
        if std::env::var_os("CARGO").is_none() {
            cmd.env("CARGO", cargo);
        }
    }
    let started = Instant::now();
    let out = run_with_timeout(&mut cmd, BUILD_TIMEOUT).map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    eprintln!("built programs with {cc} {opt} in {:.1}s: {}", started.elapsed().as_secs_f64(), dir.display());
    if !out.status.success() || out.timed_out {
        return Err(format!(
            "{} {} {opt} failed ({}{}):\n--- stdout\n{}\n--- stderr\n{}",
            script.display(),
            dir.display(),
            describe(out.status),
            if out.timed_out { ", timed out" } else { "" },
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(dir.to_path_buf())
}

struct RunOutput {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    timed_out: bool,
}

/// Runs `cmd` with stdin closed and stdout/stderr captured, killing it after
/// `timeout`.
fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> std::io::Result<RunOutput> {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut out_pipe = child.stdout.take().expect("stdout is piped");
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // A killed process's own children might keep the pipes open; the
    // programs here do not fork, so joining is fine.
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    Ok(RunOutput { status, stdout, stderr, timed_out })
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}{}", signal_name(sig)),
        _ => format!("{status:?}"),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        4 => " (SIGILL)",
        6 => " (SIGABRT)",
        7 => " (SIGBUS)",
        8 => " (SIGFPE)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        _ => "",
    }
}

/// Status as a comparable value: exit code, or 128 + signal number.
fn status_value(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        _ => -1,
    }
}

fn shell_quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:+,".contains(&b)) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(shell_quote).collect::<Vec<_>>().join(" ")
}

/// The end of `bytes` (at most `max` bytes, from a line start), lossily decoded.
fn tail(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut start = bytes.len() - max;
    while start < bytes.len() && bytes[start - 1] != b'\n' {
        start += 1;
    }
    format!("[... {} bytes omitted ...]\n{}", start, String::from_utf8_lossy(&bytes[start..]))
}

/// A short line diff: the first differing line with a little context.
fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let e: Vec<&[u8]> = expected.split(|&b| b == b'\n').collect();
    let a: Vec<&[u8]> = actual.split(|&b| b == b'\n').collect();
    let n = e.len().max(a.len());
    for i in 0..n {
        if e.get(i) != a.get(i) {
            let mut s = format!("first difference at line {}:\n", i + 1);
            for j in i.saturating_sub(3)..(i + 4).min(n) {
                let show = |v: &Vec<&[u8]>| match v.get(j) {
                    Some(l) => String::from_utf8_lossy(l).into_owned(),
                    None => "<end of output>".to_string(),
                };
                if e.get(j) == a.get(j) {
                    s.push_str(&format!("    {}\n", show(&e)));
                } else {
                    s.push_str(&format!("  - {}\n  + {}\n", show(&e), show(&a)));
                }
            }
            return s;
        }
    }
    "outputs are equal".to_string()
}

fn check_program(program: Program, cc: &str, opt: &str) {
    check_program_with(program, cc, opt, &[]);
}

/// As [`check_program`], with extra `jitlink run` options (e.g. `--lazy`).
fn check_program_with(program: Program, cc: &str, opt: &str, extra: &[&str]) {
    let dir = build(cc, opt);
    let name = program.name();
    let args = program.args();

    // Native reference.
    let mut native = Command::new(dir.join(program.native_exe()));
    native.args(&args).current_dir(ROOT);
    let native_cmd = command_line(&native);
    let n = run_with_timeout(&mut native, RUN_TIMEOUT).unwrap_or_else(|e| panic!("cannot run {native_cmd}: {e}"));
    let native_stdout = String::from_utf8_lossy(&n.stdout);
    assert!(
        !n.timed_out
            && status_value(n.status) == program.expected_native_status()
            && native_stdout.ends_with(program.expected_native_marker()),
        "the native reference is broken (not a jitlink bug): {native_cmd}\n{}{}\n\
         --- stdout\n{}\n--- stderr\n{}",
        describe(n.status),
        if n.timed_out { ", timed out" } else { "" },
        tail(&n.stdout, 4000),
        tail(&n.stderr, 4000)
    );

    // The same objects under jitlink.
    let mut jit = Command::new(JITLINK);
    jit.arg("run").args(extra);
    for input in program.link_inputs() {
        jit.arg(dir.join(input));
    }
    jit.args(["-l", "m", "--"]).args(&args).current_dir(ROOT);
    let jit_cmd = command_line(&jit);
    let started = Instant::now();
    let j = run_with_timeout(&mut jit, RUN_TIMEOUT).unwrap_or_else(|e| panic!("cannot run {jit_cmd}: {e}"));
    let elapsed = started.elapsed();

    let same_stdout = j.stdout == n.stdout;
    let same_status = !j.timed_out && status_value(j.status) == status_value(n.status);
    if !(same_stdout && same_status) {
        // Keep both outputs for inspection.
        let native_file = dir.join(format!("{name}.native.stdout"));
        let jit_file = dir.join(format!("{name}.jitlink.stdout"));
        let _ = std::fs::write(&native_file, &n.stdout);
        let _ = std::fs::write(&jit_file, &j.stdout);
        panic!(
            "`jitlink run` differs from the native program ({name}, {cc} {opt})\n\
             native:  {native_cmd}\n         -> {}, {} bytes of stdout\n\
             jitlink: {jit_cmd}\n         -> {}{}, {} bytes of stdout, {:.2}s\n\
             stdout {}\n{}\n\
             --- jitlink stderr\n{}\n\
             --- jitlink stdout\n{}\n\
             --- native stdout\n{}\n\
             (full outputs: diff -u {} {})",
            describe(n.status),
            n.stdout.len(),
            describe(j.status),
            if j.timed_out { format!(", TIMED OUT after {}s", RUN_TIMEOUT.as_secs()) } else { String::new() },
            j.stdout.len(),
            elapsed.as_secs_f64(),
            if same_stdout { "is the same" } else { "differs" },
            if same_stdout { String::new() } else { first_difference(&n.stdout, &j.stdout) },
            tail(&j.stderr, 6000),
            tail(&j.stdout, 3000),
            tail(&n.stdout, 3000),
            native_file.display(),
            jit_file.display(),
        );
    }
    eprintln!(
        "{name} ({cc} {opt}): jitlink run matches native ({}, {} bytes of stdout, {:.2}s)",
        describe(j.status),
        j.stdout.len(),
        elapsed.as_secs_f64()
    );
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
        .unwrap_or(false)
}

fn check_with_clang(program: Program) {
    if !on_path("clang") {
        eprintln!("skipped: clang not installed");
        return;
    }
    check_program(program, "clang", "-O2");
}

#[test]
fn lua_o0() {
    check_program(Program::Lua, "gcc", "-O0");
}

#[test]
fn lua_o2() {
    check_program(Program::Lua, "gcc", "-O2");
}

#[test]
fn sqlite_o0() {
    check_program(Program::Sqlite, "gcc", "-O0");
}

#[test]
fn sqlite_o2() {
    check_program(Program::Sqlite, "gcc", "-O2");
}

#[test]
fn zlib_o0() {
    check_program(Program::Zlib, "gcc", "-O0");
}

#[test]
fn zlib_o2() {
    check_program(Program::Zlib, "gcc", "-O2");
}

#[test]
fn lua_clang_o2() {
    check_with_clang(Program::Lua);
}

#[test]
fn sqlite_clang_o2() {
    check_with_clang(Program::Sqlite);
}

#[test]
fn zlib_clang_o2() {
    check_with_clang(Program::Zlib);
}

#[test]
fn lua_lazy_o2() {
    check_program_with(Program::Lua, "gcc", "-O2", &["--lazy", "--stats"]);
}

#[test]
fn sqlite_lazy_o2() {
    check_program_with(Program::Sqlite, "gcc", "-O2", &["--lazy"]);
}

#[test]
fn zlib_lazy_o2() {
    check_program_with(Program::Zlib, "gcc", "-O2", &["--lazy", "--stats"]);
}

#[test]
fn lua_lazy_o0() {
    check_program_with(Program::Lua, "gcc", "-O0", &["--lazy"]);
}

#[test]
fn zlib_lazy_strict_wx_o0() {
    check_program_with(Program::Zlib, "gcc", "-O0", &["--lazy", "--memory-policy", "strict-wx"]);
}
