//! Tiered vs eager benchmark: `cargo bench -p jitlink-reopt --bench tiers`.
//!
//! For SQLite, Lua and n-body, a short run (~0.2 s native) and a long run
//! (~5 s native): wall time of the native -O2 build, `--eager O0`,
//! `--eager O2`, tiered, and tiered with `--speculate`, side by side, with
//! the compile time each spent (CPU ms, from `--stats`), and whether tiered
//! ≤ 1.05 × the better eager mode. Each configuration runs
//! `REOPT_BENCH_REPS` times (default 1) and the fastest run counts.
//! `REOPT_BENCH_ONLY=sqlite,lua,nbody` and `REOPT_BENCH_LENGTH=short|long`
//! select; `REOPT_BENCH_ARGS` adds options to the tiered runs. The table
//! is printed and written to `target/tmp/reopt-bench.md`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

struct Workload {
    name: &'static str,
    files: Vec<PathBuf>,
    native: PathBuf,
    short: Vec<String>,
    long: Vec<String>,
}

fn stat(stderr: &str, key: &str) -> f64 {
    stderr
        .split_whitespace()
        .filter_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .filter_map(|v| v.trim_end_matches("ms").parse::<f64>().ok())
        .next_back()
        .unwrap_or(0.0)
}

/// CPU seconds (user + system) of this process's waited-for children so far.
fn children_cpu() -> f64 {
    let mut ru: libc::rusage = unsafe_zeroed();
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn unsafe_zeroed() -> libc::rusage {
    // SAFETY: rusage is plain old data; all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

/// One configuration's best run.
struct Sample {
    /// Wall seconds.
    wall: f64,
    /// CPU seconds of the whole process (every thread).
    cpu: f64,
    /// CPU seconds of the thread that ran the program (with its compiles);
    /// what the wall time is on an otherwise idle 2-core machine, as the
    /// compile thread has the other core.
    program: f64,
    /// Compile CPU ms (eager, or tier 0 + tier 1).
    compile: f64,
    /// Tier-ups.
    tierups: f64,
    stdout: String,
}

/// The run with the least wall time of `reps`.
fn time(cmd: &[String], reps: usize) -> Sample {
    let mut best: Option<Sample> = None;
    for _ in 0..reps {
        let c0 = children_cpu();
        let t = Instant::now();
        let out = Command::new(&cmd[0]).args(&cmd[1..]).stdin(Stdio::null()).output().expect("spawn");
        let wall = t.elapsed().as_secs_f64();
        let cpu = children_cpu() - c0;
        let err = String::from_utf8_lossy(&out.stderr);
        let compile = stat(&err, "eager_cpu") + stat(&err, "tier0_cpu") + stat(&err, "tier1_cpu");
        let tierups = stat(&err, "tier1");
        let program = if err.contains("program thread:") { stat(&err, "cpu") / 1e3 } else { cpu };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if best.as_ref().is_none_or(|b| wall < b.wall) {
            best = Some(Sample { wall, cpu, program, compile, tierups, stdout });
        }
    }
    best.expect("reps >= 1")
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reopt-ir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-ir.sh");
    assert!(Command::new("bash").arg(&script).arg(&dir).arg("bench").status().expect("build-ir.sh").success());
    let bc = |sub: &str| -> Vec<PathBuf> {
        let d = dir.join(sub);
        let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
            .expect("IR")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "bc"))
            .collect();
        v.sort();
        v
    };
    let lua_script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/bench.lua").display().to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let workloads = vec![
        Workload {
            name: "sqlite",
            files: vec![dir.join("sqlite_bench.bc"), dir.join("sqlite/sqlite3.bc")],
            native: dir.join("sqlite_bench_native"),
            short: s(&["20000", "12"]),
            long: s(&["100000", "64"]),
        },
        Workload {
            name: "lua",
            files: bc("lua"),
            native: dir.join("lua_native"),
            short: vec![lua_script.clone(), "35".into()],
            long: vec![lua_script, "800".into()],
        },
        Workload {
            name: "nbody",
            files: vec![dir.join("nbody.bc")],
            native: dir.join("nbody_native"),
            short: s(&["3000000"]),
            long: s(&["80000000"]),
        },
    ];
    let reps: usize = std::env::var("REOPT_BENCH_REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let only = std::env::var("REOPT_BENCH_ONLY").unwrap_or_default();
    let length = std::env::var("REOPT_BENCH_LENGTH").unwrap_or_default();
    let extra: Vec<String> =
        std::env::var("REOPT_BENCH_ARGS").unwrap_or_default().split_whitespace().map(String::from).collect();
    let bin = env!("CARGO_BIN_EXE_jitlink-reopt").to_string();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut table = format!(
        "Each cell: program-thread CPU s (wall s, all-thread CPU s) [compile CPU ms]. Load average at start: {}\n\n\
         | program | run | native | eager O0 | eager O2 | tiered (tier-ups) | tiered --speculate | \
         tiered / best eager (wall; program CPU) |\n|---|---|---|---|---|---|---|---|\n",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!("{}", table.trim_end());
    for w in &workloads {
        if !only.is_empty() && !only.split(',').any(|o| o == w.name) {
            continue;
        }
        for (len, args) in [("short", &w.short), ("long", &w.long)] {
            if !length.is_empty() && length != len {
                continue;
            }
            let native: Vec<String> =
                std::iter::once(w.native.display().to_string()).chain(args.iter().cloned()).collect();
            let jit = |opts: &[String]| -> Vec<String> {
                let mut c = vec![bin.clone(), "run".into(), "--stats".into()];
                c.extend(opts.iter().cloned());
                c.extend(w.files.iter().map(|f| f.display().to_string()));
                c.extend(["-l".into(), "m".into(), "--".into()]);
                c.extend(args.iter().cloned());
                c
            };
            let n = time(&native, reps);
            let o0 = time(&jit(&s(&["--eager", "O0"])), reps);
            let o2 = time(&jit(&s(&["--eager", "O2"])), reps);
            let tiered = time(&jit(&extra), reps);
            let mut spec_opts = extra.clone();
            spec_opts.push("--speculate".into());
            let spec = time(&jit(&spec_opts), reps);
            for (what, r) in [("eager O0", &o0), ("eager O2", &o2), ("tiered", &tiered), ("speculate", &spec)] {
                assert_eq!(r.stdout, n.stdout, "{} {len}: {what} printed something else than the native build", w.name);
            }
            let cell = |r: &Sample| format!("{:.2} ({:.2}, {:.2}) [{:.0}]", r.program, r.wall, r.cpu, r.compile);
            let ratio = tiered.program / o0.program.min(o2.program);
            let wall_ratio = tiered.wall / o0.wall.min(o2.wall);
            let row = format!(
                "| {} | {len} | {:.2} ({:.2}) | {} | {} | {} ({:.0}) | {} | {:.2} {}; {:.2} |\n",
                w.name,
                n.program,
                n.wall,
                cell(&o0),
                cell(&o2),
                cell(&tiered),
                tiered.tierups,
                cell(&spec),
                wall_ratio,
                if wall_ratio <= 1.05 { "✓" } else { "✗" },
                ratio
            );
            print!("{row}");
            table.push_str(&row);
        }
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reopt-bench.md");
    let _ = std::fs::write(&out, &table);
    println!("(written to {})", out.display());
}
