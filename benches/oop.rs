//! Out-of-process benchmark: link + run of SQLite (and Lua) with
//! `jitlink run --oop` against the in-process `jitlink run`, in one run,
//! and the executor round trips each link costs.
//!
//! Run with `cargo bench --bench oop`. Builds the programs with
//! `scripts/build-programs.sh <target>/programs/gcc-O2 -O2` (CC=gcc) and the
//! release `jitlink` and `jitlink-executor`; each workload gets 2 warm-up
//! runs per mode, then 11 measured runs with the modes taking turns (wall
//! time from spawn to reap, stdout discarded). Target: SQLite out of
//! process within 10% of in process (median). The report goes to stdout
//! and to `<target>/bench-oop.txt`. std only.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 11;
const WARMUPS: usize = 2;
/// Target: median out-of-process time at most this times in-process.
const TARGET_RATIO: f64 = 1.10;
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| Path::new(ROOT).join("target"), PathBuf::from)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn check(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} failed:\n{}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

struct Workload {
    name: &'static str,
    inputs: &'static [&'static str],
    lua: bool,
}

fn command(jitlink: &Path, dir: &Path, w: &Workload, oop: bool, verbose: bool) -> Command {
    let mut c = Command::new(jitlink);
    c.arg("run");
    if oop {
        c.arg("--oop");
    }
    if verbose {
        c.arg("-v");
    }
    for i in w.inputs {
        c.arg(dir.join(i));
    }
    c.args(["-l", "m", "--"]);
    if w.lua {
        c.arg(Path::new(ROOT).join("tests/programs/test.lua"));
    }
    c.args(["alpha", "two words", "3"]).stdin(Stdio::null()).stdout(Stdio::null());
    c
}

fn time(mut c: Command) -> Result<Duration, String> {
    let t = Instant::now();
    let s = c.stderr(Stdio::null()).status().map_err(|e| e.to_string())?;
    let d = t.elapsed();
    if s.code().is_none() {
        return Err(format!("killed: {s:?}"));
    }
    Ok(d)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn run() -> Result<bool, String> {
    let t = target_dir();
    let dir = t.join("programs").join("gcc-O2");
    check(
        Command::new("bash")
            .arg(Path::new(ROOT).join("scripts/build-programs.sh"))
            .arg(&dir)
            .arg("-O2")
            .env("CC", "gcc")
            .current_dir(ROOT),
        "build-programs.sh",
    )?;
    check(Command::new(cargo()).args(["build", "--release", "-q", "--bin", "jitlink"]).current_dir(ROOT), "cargo")?;
    check(
        Command::new(cargo()).args(["build", "--release", "-q", "-p", "jitlink-executor"]).current_dir(ROOT),
        "cargo",
    )?;
    let jitlink = t.join("release").join("jitlink");
    let mut report = String::new();
    let mut met = true;
    let workloads = [
        Workload { name: "sqlite", inputs: &["sqlite_driver.o", "sqlite3.o"], lua: false },
        Workload { name: "lua", inputs: &["lua_driver.o", "liblua.a"], lua: true },
    ];
    let _ = writeln!(report, "link + run, {RUNS} runs each (median), release build, gcc -O2 inputs");
    let _ = writeln!(
        report,
        "{:<8} {:>12} {:>12} {:>8} {:>12} {:>14}",
        "workload", "in-process", "--oop", "ratio", "round trips", "request bytes"
    );
    for w in &workloads {
        for _ in 0..WARMUPS {
            time(command(&jitlink, &dir, w, false, false))?;
            time(command(&jitlink, &dir, w, true, false))?;
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            a.push(time(command(&jitlink, &dir, w, false, false))?);
            b.push(time(command(&jitlink, &dir, w, true, false))?);
        }
        let (ma, mb) = (median(&mut a), median(&mut b));
        let ratio = mb.as_secs_f64() / ma.as_secs_f64();
        // Round trips: the link's own, and the whole session's.
        let out = command(&jitlink, &dir, w, true, true).stderr(Stdio::piped()).output().map_err(|e| e.to_string())?;
        let err = String::from_utf8_lossy(&out.stderr);
        let link_trips = err
            .lines()
            .find_map(|l| l.strip_prefix("jitlink: link took ")?.split(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0);
        let (total, bytes) = err
            .lines()
            .find_map(|l| {
                let rest = l.strip_prefix("jitlink: ")?;
                let (n, rest) = rest.split_once(" round trips, ")?;
                Some((n.parse::<u64>().ok()?, rest.split(' ').next()?.parse::<u64>().ok()?))
            })
            .unwrap_or((0, 0));
        let _ = writeln!(
            report,
            "{:<8} {:>10.1}ms {:>10.1}ms {:>8.3} {:>5} ({:>2} link) {:>14}",
            w.name,
            ma.as_secs_f64() * 1e3,
            mb.as_secs_f64() * 1e3,
            ratio,
            total,
            link_trips,
            bytes
        );
        if w.name == "sqlite" {
            met &= ratio <= TARGET_RATIO;
            let _ = writeln!(
                report,
                "target: sqlite --oop within {:.0}% of in-process: {}",
                (TARGET_RATIO - 1.0) * 100.0,
                if ratio <= TARGET_RATIO { "met" } else { "NOT met" }
            );
        }
    }
    print!("{report}");
    let _ = std::fs::write(t.join("bench-oop.txt"), &report);
    Ok(met)
}

fn main() -> ExitCode {
    match run() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench oop: {e}");
            ExitCode::FAILURE
        }
    }
}
