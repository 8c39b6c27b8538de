//! Link-only benchmark: `jitlink link --noexec` against LLVM's `llvm-jitlink -noexec`.
//!
//! Run with `cargo bench --bench link`.  See `benches/README.md`.
//!
//! For each workload (SQLite, Lua; built by `scripts/build-programs.sh` with
//! gcc -O2) both tools are spawned as child processes, alternately, and each
//! run's wall time (`Instant`) and peak RSS (`wait4`'s `ru_maxrss`) are
//! recorded.  The report goes to stdout and to `<target>/bench-link.txt`.
//!
//! std only: no dependencies, `wait4` is declared by hand.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Measured runs per tool and workload.
const RUNS: usize = 15;
/// Unmeasured runs per tool and workload before the measured ones.
const WARMUPS: usize = 2;
/// LLVM versions looked for, newest first.
const LLVM_VERSIONS: [u32; 9] = [22, 21, 20, 19, 18, 17, 16, 15, 14];
/// The llvm-jitlink version the targets are stated against.
const TARGET_LLVM: u32 = 22;
/// Target: SQLite link-only at least this many times faster than llvm-jitlink.
const TARGET_SPEEDUP: f64 = 4.0;
/// Target: SQLite link-only peak RSS under this many MiB.
const TARGET_RSS_MIB: f64 = 16.0;
/// At most this many lines of a failing tool's stderr go into the report.
const MAX_FAILURE_LINES: usize = 20;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("bench link: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Everything printed goes to stdout and is kept for `<target>/bench-link.txt`.
struct Report {
    text: String,
}

impl Report {
    fn line(&mut self, s: impl AsRef<str>) {
        let s = s.as_ref();
        println!("{s}");
        self.text.push_str(s);
        self.text.push('\n');
    }
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                std::env::current_dir().unwrap_or_else(|_| PathBuf::from(ROOT)).join(dir)
            }
        }
        _ => Path::new(ROOT).join("target"),
    }
}

fn cargo() -> String {
    std::env::var("CARGO")
        .ok()
        .or_else(|| option_env!("CARGO").map(str::to_owned))
        .unwrap_or_else(|| "cargo".to_owned())
}

/// Runs a preparatory command to completion, failing with its output.
fn prepare(what: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("bench link: {what} ...");
    let started = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("{what}: cannot run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    eprintln!("bench link: {what}: done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

/// The newest llvm-jitlink: `llvm-jitlink-N` on PATH or
/// `/usr/lib/llvm-N/bin/llvm-jitlink`, N from 22 down to 14, then a plain
/// `llvm-jitlink` on PATH.  Returns the path and its major version, if known.
fn find_llvm_jitlink() -> Option<(PathBuf, Option<u32>)> {
    for n in LLVM_VERSIONS {
        if let Some(p) = which(&format!("llvm-jitlink-{n}")) {
            return Some((p, Some(n)));
        }
        let p = PathBuf::from(format!("/usr/lib/llvm-{n}/bin/llvm-jitlink"));
        if is_executable(&p) {
            return Some((p, Some(n)));
        }
    }
    let p = which("llvm-jitlink")?;
    let version = Command::new(&p)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| parse_llvm_major(&String::from_utf8_lossy(&o.stdout)));
    Some((p, version))
}

/// "LLVM version 22.1.8" -> 22.
fn parse_llvm_major(version_text: &str) -> Option<u32> {
    let rest = &version_text[version_text.find("version ")? + "version ".len()..];
    rest.split('.').next()?.trim().parse().ok()
}

fn first_line_of(cmd: &mut Command) -> String {
    cmd.stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_owned)
        })
        .unwrap_or_else(|| "?".to_owned())
}

// ------------------------------------------------------------------ wait4

/// Linux's `struct rusage` on 64-bit targets: two `struct timeval`s, then
/// 14 `long`s of which `ru_maxrss` (KiB) is the first.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[repr(C)]
#[derive(Default)]
struct Rusage {
    ru_utime: [i64; 2],
    ru_stime: [i64; 2],
    ru_maxrss: i64,
    ru_rest: [i64; 13],
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
extern "C" {
    fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
}

/// How a child ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Exit {
    Code(i32),
    Signal(i32),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// Reaps `pid` (which must be our child, not yet waited for) and returns how
/// it ended and its peak RSS in KiB.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn wait_child(child: std::process::Child) -> Result<(Exit, Option<u64>), String> {
    let pid = i32::try_from(child.id()).map_err(|_| "child pid out of range".to_owned())?;
    let mut status: i32 = 0;
    let mut usage = Rusage::default();
    loop {
        // SAFETY: `pid` is a child of this process that nothing else waits
        // for (the `Child` handle is never waited on, and dropping it does not
        // wait); `status` and `usage` are valid, writable and, for `usage`,
        // laid out as the kernel's `struct rusage` on 64-bit Linux.
        let r = unsafe { wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if r == -1 && err.kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return Err(format!("wait4({pid}) failed: {err}"));
    }
    drop(child);
    let exit = if status & 0x7f == 0 { Exit::Code((status >> 8) & 0xff) } else { Exit::Signal(status & 0x7f) };
    Ok((exit, u64::try_from(usage.ru_maxrss).ok()))
}

/// Fallback elsewhere: no peak RSS.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn wait_child(mut child: std::process::Child) -> Result<(Exit, Option<u64>), String> {
    let status = child.wait().map_err(|e| format!("wait failed: {e}"))?;
    let exit = match status.code() {
        Some(c) => Exit::Code(c),
        None => Exit::Signal(-1),
    };
    Ok((exit, None))
}

// ------------------------------------------------------------- measuring

struct Sample {
    wall: Duration,
    maxrss_kib: Option<u64>,
}

/// One run of `argv` as a child: stdout discarded, stderr to `stderr_file`.
/// Returns the sample, or the failure with the tool's stderr.
fn run_once(argv: &[String], stderr_file: &Path) -> Result<Sample, String> {
    let err = File::create(stderr_file).map_err(|e| format!("cannot create {}: {e}", stderr_file.display()))?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::from(err));
    let started = Instant::now();
    let child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    let (exit, maxrss_kib) = wait_child(child)?;
    let wall = started.elapsed();
    if exit != Exit::Code(0) {
        let text = fs::read(stderr_file).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        let mut msg = format!("{exit}");
        for l in lines.iter().take(MAX_FAILURE_LINES) {
            msg.push_str("\n    ");
            msg.push_str(l);
        }
        if lines.len() > MAX_FAILURE_LINES {
            let _ = write!(msg, "\n    ... ({} more lines)", lines.len() - MAX_FAILURE_LINES);
        }
        return Err(msg);
    }
    Ok(Sample { wall, maxrss_kib })
}

struct Tool {
    name: String,
    argv: Vec<String>,
    samples: Vec<Sample>,
    failure: Option<String>,
}

impl Tool {
    fn new(name: &str, argv: Vec<String>) -> Tool {
        Tool { name: name.to_owned(), argv, samples: Vec::new(), failure: None }
    }

    fn run(&mut self, measured: bool, stderr_file: &Path) {
        if self.failure.is_some() {
            return;
        }
        match run_once(&self.argv, stderr_file) {
            Ok(s) if measured => self.samples.push(s),
            Ok(_) => {}
            Err(msg) => self.failure = Some(msg),
        }
    }

    fn median_ms(&self) -> Option<f64> {
        let ms: Vec<f64> = self.samples.iter().map(|s| s.wall.as_secs_f64() * 1e3).collect();
        median(ms)
    }

    fn min_ms(&self) -> Option<f64> {
        self.samples.iter().map(|s| s.wall.as_secs_f64() * 1e3).min_by(f64::total_cmp)
    }

    fn median_rss_mib(&self) -> Option<f64> {
        let kib: Option<Vec<f64>> = self.samples.iter().map(|s| s.maxrss_kib.map(|k| k as f64 / 1024.0)).collect();
        median(kib?)
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

// ------------------------------------------------------- counting relocs

const SHT_RELA: u32 = 4;

fn read_u16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn read_u32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn read_u64(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// Sum of `sh_size / sh_entsize` over the SHT_RELA sections of a 64-bit
/// little-endian ELF relocatable object.
fn count_elf_relocs(b: &[u8]) -> Option<u64> {
    // e_ident: magic, ELFCLASS64, ELFDATA2LSB.
    if b.get(0..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
        return None;
    }
    let shoff = usize::try_from(read_u64(b, 0x28)?).ok()?;
    let shentsize = usize::from(read_u16(b, 0x3a)?);
    let mut shnum = u64::from(read_u16(b, 0x3c)?);
    if shoff == 0 {
        return Some(0);
    }
    if shentsize < 64 {
        return None;
    }
    if shnum == 0 {
        // More than 0xff00 sections: the count is section 0's sh_size.
        shnum = read_u64(b, shoff + 32)?;
    }
    let mut total = 0;
    for i in 0..usize::try_from(shnum).ok()? {
        let sh = shoff.checked_add(i.checked_mul(shentsize)?)?;
        if read_u32(b, sh + 4)? != SHT_RELA {
            continue;
        }
        let size = read_u64(b, sh + 32)?;
        let entsize = read_u64(b, sh + 56)?;
        total += size.checked_div(entsize).unwrap_or(0);
    }
    Some(total)
}

/// Relocations of every member of a `!<arch>` archive (symbol table and
/// long-name table skipped).
fn count_archive_relocs(b: &[u8]) -> Result<u64, String> {
    const MAGIC: &[u8] = b"!<arch>\n";
    let mut off = MAGIC.len();
    let mut total = 0;
    while off + 60 <= b.len() {
        let hdr = &b[off..off + 60];
        let name = String::from_utf8_lossy(&hdr[0..16]);
        let name = name.trim_end();
        let size: usize = String::from_utf8_lossy(&hdr[48..58])
            .trim()
            .parse()
            .map_err(|_| format!("bad archive member size at offset {off}"))?;
        let data = off + 60;
        let end = data
            .checked_add(size)
            .filter(|&e| e <= b.len())
            .ok_or_else(|| format!("archive member at offset {off} runs past the end"))?;
        if name != "/" && name != "//" && name != "/SYM64/" {
            total += count_elf_relocs(&b[data..end])
                .ok_or_else(|| format!("member {name} (offset {off}) is not ELF64 LE"))?;
        }
        off = end + (end & 1);
    }
    Ok(total)
}

fn count_relocs(path: &Path) -> Result<u64, String> {
    let b = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if b.starts_with(b"!<arch>\n") {
        count_archive_relocs(&b).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        count_elf_relocs(&b).ok_or_else(|| format!("{}: not an ELF64 LE object", path.display()))
    }
}

// ------------------------------------------------------------------ misc

/// "YYYY-MM-DD HH:MM UTC" from the system clock.
fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The first three fields of `/proc/loadavg` (others' work skews timings).
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |x| format!("{x:.prec$}"))
}

fn shell_words(argv: &[String]) -> String {
    argv.join(" ")
}

// ------------------------------------------------------------------ main

struct Workload {
    name: &'static str,
    files: Vec<PathBuf>,
    relocs: u64,
    tools: Vec<Tool>,
}

fn run() -> Result<(), String> {
    let target = target_dir();
    let programs = target.join("programs").join("gcc-O2");
    let jitlink = target.join("release").join("jitlink");

    // 1. Inputs and the release jitlink.
    let mut build = Command::new("bash");
    build
        .arg(Path::new(ROOT).join("scripts").join("build-programs.sh"))
        .arg(&programs)
        .arg("-O2")
        .env("CC", "gcc")
        .current_dir(ROOT);
    if std::env::var_os("CARGO").is_none() {
        build.env("CARGO", cargo());
    }
    prepare("scripts/build-programs.sh (gcc -O2)", &mut build)?;
    let mut cargo_build = Command::new(cargo());
    cargo_build
        .args(["build", "--release", "--bin", "jitlink", "--manifest-path"])
        .arg(Path::new(ROOT).join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(ROOT);
    prepare("cargo build --release --bin jitlink", &mut cargo_build)?;
    if !is_executable(&jitlink) {
        return Err(format!("{} was not built", jitlink.display()));
    }

    let mut rep = Report { text: String::new() };
    rep.line(format!(
        "jitlink link-only benchmark, {} on {} ({} CPUs)",
        utc_now(),
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    rep.line(format!("inputs:       {} ({})", programs.display(), first_line_of(Command::new("gcc").arg("--version"))));
    rep.line(format!("jitlink:      {}", jitlink.display()));
    rep.line(format!("load avg:     {} (1/5/15 min, before measuring)", load_average()));

    // 2. llvm-jitlink.
    let llvm = find_llvm_jitlink();
    let llvm_name = match &llvm {
        Some((path, version)) => {
            let v = first_line_of(Command::new(path).arg("--version"));
            rep.line(format!("llvm-jitlink: {} ({v})", path.display()));
            match version {
                Some(n) => format!("llvm-jitlink-{n}"),
                None => "llvm-jitlink".to_owned(),
            }
        }
        None => {
            rep.line(
                "llvm-jitlink: not found (looked for llvm-jitlink-22 .. -14 and llvm-jitlink \
                 on PATH and in /usr/lib/llvm-N/bin); measuring jitlink alone",
            );
            String::new()
        }
    };
    rep.line(format!("runs:         {RUNS} measured (+{WARMUPS} warm-ups) per tool and workload, tools alternating"));

    // 3./4. Workloads.
    let p = |f: &str| programs.join(f);
    let mut workloads = vec![
        Workload { name: "sqlite", files: vec![p("sqlite_driver.o"), p("sqlite3.o")], relocs: 0, tools: Vec::new() },
        Workload { name: "lua", files: vec![p("lua_driver.o"), p("liblua.a")], relocs: 0, tools: Vec::new() },
    ];
    for w in &mut workloads {
        for f in &w.files {
            w.relocs += count_relocs(f)?;
        }
        let files: Vec<String> = w.files.iter().map(|f| f.display().to_string()).collect();
        let mut argv = vec![jitlink.display().to_string(), "link".into(), "--noexec".into()];
        argv.extend(files.iter().cloned());
        argv.extend(["-l".into(), "m".into()]);
        w.tools.push(Tool::new("jitlink", argv));
        if let Some((path, _)) = &llvm {
            let mut argv = vec![path.display().to_string(), "-noexec".into()];
            argv.extend(files);
            w.tools.push(Tool::new(&llvm_name, argv));
        }
    }
    rep.line("");
    rep.line("command lines:");
    for w in &workloads {
        for t in &w.tools {
            rep.line(format!("  {:<7} {}", w.name, shell_words(&t.argv)));
        }
    }

    let stderr_file = target.join("bench-link.stderr");
    for w in &mut workloads {
        eprintln!("bench link: measuring {} ...", w.name);
        for i in 0..WARMUPS + RUNS {
            for t in &mut w.tools {
                t.run(i >= WARMUPS, &stderr_file);
            }
        }
    }
    let _ = fs::remove_file(&stderr_file);

    // 5. Table.
    rep.line("");
    rep.line(format!(
        "{:<8} {:<16} {:>10} {:>9} {:>13} {:>8} {:>10} {:>13}",
        "workload", "tool", "median ms", "min ms", "RSS MiB (med)", "relocs", "Mrelocs/s", "llvm/jitlink"
    ));
    let mut failures = Vec::new();
    for w in &workloads {
        let jit_median = w.tools[0].median_ms();
        let llvm_median = w.tools.get(1).and_then(Tool::median_ms);
        for (i, t) in w.tools.iter().enumerate() {
            if let Some(f) = &t.failure {
                let first = f.lines().next().unwrap_or("");
                rep.line(format!("{:<8} {:<16} FAILED ({first}), see below", w.name, t.name));
                failures.push(format!("{} / {}: {f}", w.name, t.name));
                continue;
            }
            let med = t.median_ms();
            let rate = med.map(|m| w.relocs as f64 / (m / 1e3) / 1e6);
            let ratio = match (i, jit_median, llvm_median) {
                (0, Some(j), Some(l)) => format!("{:.2}x", l / j),
                _ => "-".to_owned(),
            };
            rep.line(format!(
                "{:<8} {:<16} {:>10} {:>9} {:>13} {:>8} {:>10} {:>13}",
                w.name,
                t.name,
                fmt_opt(med, 2),
                fmt_opt(t.min_ms(), 2),
                fmt_opt(t.median_rss_mib(), 1),
                w.relocs,
                fmt_opt(rate, 2),
                ratio
            ));
        }
    }
    if !failures.is_empty() {
        rep.line("");
        rep.line("failures:");
        for f in &failures {
            rep.line(format!("  {f}"));
        }
    }

    // Targets (SQLite).
    rep.line("");
    let sqlite = &workloads[0];
    let jit = &sqlite.tools[0];
    let speed = match (jit.median_ms(), sqlite.tools.get(1).and_then(Tool::median_ms)) {
        (Some(j), Some(l)) => {
            let speedup = l / j;
            let vs = if llvm_name == format!("llvm-jitlink-{TARGET_LLVM}") {
                String::new()
            } else {
                format!(" (measured against {llvm_name}, not llvm-jitlink-{TARGET_LLVM})")
            };
            format!("{} ({speedup:.2}x){vs}", if speedup >= TARGET_SPEEDUP { "MET" } else { "NOT MET" })
        }
        _ if jit.failure.is_some() => "NOT MET (jitlink failed)".to_owned(),
        _ => "UNKNOWN (no llvm-jitlink measurement)".to_owned(),
    };
    rep.line(format!("target: SQLite link-only >= {TARGET_SPEEDUP}x faster than llvm-jitlink-{TARGET_LLVM}: {speed}"));
    let rss = match jit.median_rss_mib() {
        Some(m) => format!("{} ({m:.1} MiB)", if m < TARGET_RSS_MIB { "MET" } else { "NOT MET" }),
        None if jit.failure.is_some() => "NOT MET (jitlink failed)".to_owned(),
        None => "UNKNOWN (no RSS measurement)".to_owned(),
    };
    rep.line(format!("target: SQLite link-only peak RSS < {TARGET_RSS_MIB} MiB: {rss}"));

    let out = target.join("bench-link.txt");
    fs::write(&out, &rep.text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!("bench link: report written to {}", out.display());
    Ok(())
}
