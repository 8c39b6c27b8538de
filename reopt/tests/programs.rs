//! End-to-end tests of `jitlink-reopt run`: real programs compiled to LLVM
//! IR by clang-14 (SQLite with its driver, Lua running the foundation
//! tests' script, an n-body simulation, a pthreads program) must print
//! exactly what their native builds print and exit with the same status,
//! tiered (with tier-ups and call sites patched in place seen in
//! `--stats`), eager, and at the threshold extremes.
//!
//! The IR and the native references are built once by
//! `scripts/build-ir.sh` into `target/tmp/reopt-ir` and reused while their
//! sources are unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn ir_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reopt-ir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-ir.sh");
        let st = Command::new("bash").arg(&script).arg(&out).status().expect("run build-ir.sh");
        assert!(st.success(), "scripts/build-ir.sh failed (needs clang-14: apt-get install clang-14)");
        out
    })
}

struct Run {
    stdout: String,
    stderr: String,
    status: Option<i32>,
}

impl Run {
    /// `--stats` lines of tier-ups.
    fn tier_ups(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.starts_with("jitlink-reopt: tier-up ")).collect()
    }

    /// Sum of a `key=N` field over the tier-up lines.
    fn sum(&self, key: &str) -> u64 {
        self.tier_ups()
            .iter()
            .flat_map(|l| l.split_whitespace())
            .filter_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .filter_map(|v| v.parse::<u64>().ok())
            .sum()
    }
}

impl Run {
    /// A `key=N` (or `key=N/M`: N) field of the `--stats` summary line.
    fn summary(&self, key: &str) -> u64 {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("jitlink-reopt: summary: "))
            .flat_map(|l| l.split_whitespace())
            .filter_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .filter_map(|v| v.split('/').next().and_then(|n| n.parse::<u64>().ok()))
            .next()
            .unwrap_or_else(|| panic!("no {key} in the summary:\n{}", self.stderr))
    }
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("spawn");
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status.code(),
    }
}

fn native(name: &str, args: &[&str]) -> Run {
    run(Command::new(ir_dir().join(name)).args(args))
}

fn bitcode(sub: &str) -> Vec<PathBuf> {
    let d = ir_dir().join(sub);
    if d.is_file() {
        return vec![d];
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .expect("IR dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bc"))
        .collect();
    v.sort();
    v
}

fn reopt(files: &[PathBuf], opts: &[&str], args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jitlink-reopt"));
    c.arg("run").arg("--stats").args(opts).args(files).args(["-l", "m"]).arg("--").args(args);
    run(&mut c)
}

/// Same stdout and exit status as the native build.
fn check_same(what: &str, got: &Run, want: &Run) {
    assert_eq!(got.status, want.status, "{what}: exit status\nstderr:\n{}", got.stderr);
    if got.stdout != want.stdout {
        let first = got.stdout.lines().zip(want.stdout.lines()).position(|(a, b)| a != b);
        panic!(
            "{what}: output differs from the native build (first differing line: {first:?}; {} vs {} lines)\n\
             stderr:\n{}",
            got.stdout.lines().count(),
            want.stdout.lines().count(),
            got.stderr
        );
    }
}

/// Tier-ups happened and at least one caller was patched in place.
fn check_tiered(what: &str, r: &Run) {
    assert!(!r.tier_ups().is_empty(), "{what}: no tier-up\n{}", r.stderr);
    assert!(r.sum("patched") >= 1, "{what}: no call site patched in place\n{}", r.stderr);
    assert!(!r.stderr.contains("tier-up failed"), "{what}: {}", r.stderr);
}

const NBODY_STEPS: &str = "300000";

#[test]
fn nbody_tiered_eager_and_speculative() {
    let want = native("nbody_native", &[NBODY_STEPS]);
    assert_eq!(want.status, Some(0));
    let files = bitcode("nbody.bc");
    let tiered = reopt(&files, &[], &[NBODY_STEPS]);
    check_same("nbody tiered", &tiered, &want);
    check_tiered("nbody tiered", &tiered);
    // Calls are emitted within aligned 16-byte blocks: every caller of a
    // function that tiered up was patched in place, none left on the stub.
    assert_eq!(tiered.sum("unaligned"), 0, "{}", tiered.stderr);
    assert_eq!(tiered.sum("stubbed"), 0, "{}", tiered.stderr);
    // The hot path was inlined across partitions: advance got callee bodies.
    assert!(
        tiered.tier_ups().iter().any(|l| l.contains(" advance ") && !l.contains("inlinees=0")),
        "advance tiered up with its callees available:\n{}",
        tiered.stderr
    );
    for eager in ["O0", "O2"] {
        check_same(&format!("nbody --eager {eager}"), &reopt(&files, &["--eager", eager], &[NBODY_STEPS]), &want);
    }
    let spec = reopt(&files, &["--speculate", "--tier1", "O3", "--compile-threads", "2"], &[NBODY_STEPS]);
    check_same("nbody --speculate", &spec, &want);
    check_tiered("nbody --speculate", &spec);
}

#[test]
fn nbody_threshold_extremes() {
    let want = native("nbody_native", &["20000"]);
    let files = bitcode("nbody.bc");
    let all = reopt(&files, &["--threshold", "1", "--sync-tier-up"], &["20000"]);
    check_same("nbody threshold 1", &all, &want);
    // Every function that ran more than once ran at tier 1.
    for f in ["advance", "energy", "v_dot"] {
        assert!(all.tier_ups().iter().any(|l| l.contains(&format!(" {f}"))), "{f} not recompiled:\n{}", all.stderr);
    }
    let none = reopt(&files, &["--threshold", "1000000"], &["20000"]);
    check_same("nbody threshold 1e6", &none, &want);
    assert!(none.tier_ups().is_empty(), "nothing should tier up:\n{}", none.stderr);
}

#[test]
fn lua_runs_test_script() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/programs/test.lua");
    let script = script.to_str().expect("utf-8 path");
    let want = native("lua_native", &[script]);
    let files = bitcode("lua");
    let tiered = reopt(&files, &["--threshold", "20", "--tier-up-delay", "0"], &[script]);
    check_same("lua tiered", &tiered, &want);
    check_tiered("lua tiered", &tiered);
    let all = reopt(&files, &["--threshold", "1", "--sync-tier-up"], &[script]);
    check_same("lua threshold 1", &all, &want);
    assert!(all.tier_ups().len() > 300, "threshold 1 recompiles everything called twice:\n{}", all.stderr);
    let none = reopt(&files, &["--threshold", "1000000"], &[script]);
    check_same("lua threshold 1e6", &none, &want);
    assert!(none.tier_ups().is_empty(), "nothing should tier up:\n{}", none.stderr);
    // With no tier-1 work, the compile thread compiles tier-0 batches ahead
    // of the program (callees of what it just compiled); without that,
    // the program thread compiles every batch itself.
    assert!(none.summary("tier0_prefetched") > 0, "batches compiled ahead:\n{}", none.stderr);
    let alone = reopt(&files, &["--threshold", "1000000", "--no-prefetch"], &[script]);
    check_same("lua --no-prefetch", &alone, &want);
    assert_eq!(alone.summary("tier0_prefetched"), 0, "{}", alone.stderr);
}

#[test]
fn sqlite_driver() {
    let want = native("sqlite_native", &[]);
    assert_eq!(want.status, Some(0));
    let files = bitcode("sqlite");
    // No startup delay: tier-ups must complete within this short run.
    let tiered = reopt(&files, &["--tier-up-delay", "0"], &[]);
    check_same("sqlite tiered", &tiered, &want);
    check_tiered("sqlite tiered", &tiered);
}

#[test]
fn threads_share_a_function_that_tiers_up() {
    let want = native("threads_native", &["5000000"]);
    assert_eq!(want.status, Some(0));
    let files = bitcode("threads.bc");
    for opts in [&[][..], &["--threshold", "1", "--compile-threads", "2"][..]] {
        let r = reopt(&files, opts, &["5000000"]);
        check_same(&format!("threads {opts:?}"), &r, &want);
        check_tiered(&format!("threads {opts:?}"), &r);
        assert!(r.tier_ups().iter().any(|l| l.contains(" step ")), "step tiered up:\n{}", r.stderr);
    }
}
