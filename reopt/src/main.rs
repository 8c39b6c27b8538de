//! `jitlink-reopt run [OPTIONS] FILE.bc... [-- ARG...]`

#![warn(clippy::undocumented_unsafe_blocks)]

use clap::{Parser, Subcommand};
use jitlink_reopt::driver::{self, Shared};
use jitlink_reopt::{Level, Options};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Parser)]
#[command(name = "jitlink-reopt", version, about = "Tiered re-optimising JIT for LLVM IR programs, on jitlink")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load LLVM IR modules (.ll/.bc) and run their main.
    Run(RunArgs),
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s).ok_or_else(|| format!("{s}: expected O0, O1, O2 or O3"))
}

#[derive(clap::Args)]
struct RunArgs {
    /// Entry count at which a function is recompiled at tier 1.
    #[arg(long, default_value_t = driver::DEFAULT_THRESHOLD)]
    threshold: u64,
    /// Loop back edges (at tier 0) at which a function is recompiled
    /// [default: threshold × 160, rounded up to a power of two].
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    backedge_threshold: u64,
    /// Tier-0 level: O0 or O1.
    #[arg(long, default_value = "O0", value_parser = parse_level)]
    tier0: Level,
    /// Tier-1 level: O2 or O3.
    #[arg(long, default_value = "O2", value_parser = parse_level)]
    tier1: Level,
    /// Background compile threads.
    #[arg(long, default_value_t = 1)]
    compile_threads: usize,
    /// Compile the whole program up front at this level (no tiers), for comparison.
    #[arg(long, value_parser = parse_level)]
    eager: Option<Level>,
    /// When a function tiers up, compile its warm callees too.
    #[arg(long)]
    speculate: bool,
    /// Do not copy hot callees into tier-1 partitions for inlining.
    #[arg(long)]
    no_inline_callees: bool,
    /// Print per-tier-up statistics on stderr at exit.
    #[arg(long)]
    stats: bool,
    /// Milliseconds without tier-0 compilation before tier-1 work starts
    /// [default: 0 when there is a core for each compile thread besides
    /// the program's, else 50].
    #[arg(long)]
    tier_up_delay: Option<u64>,
    /// Do not compile tier-0 batches ahead of their first call on the
    /// compile threads (callees of code just compiled).
    #[arg(long)]
    no_prefetch: bool,
    /// Recompile on the thread that crossed the threshold before it goes on
    /// (testing: every function runs at tier 1 from its next call).
    #[arg(long)]
    sync_tier_up: bool,
    /// Link against libNAME (through the dynamic loader), e.g. -l m.
    #[arg(short = 'l', value_name = "NAME")]
    libs: Vec<String>,
    /// Search DIR for -l libraries.
    #[arg(short = 'L', value_name = "DIR")]
    lib_dirs: Vec<PathBuf>,
    /// IR modules.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Arguments for the program (after --).
    #[arg(last = true)]
    args: Vec<String>,
}

/// What the exit handler needs.
static AT_EXIT: Mutex<Option<(Arc<Shared>, jitlink::session::LinkId, bool)>> = Mutex::new(None);

extern "C" {
    /// glibc: like atexit, with the exit status.
    fn on_exit(f: extern "C" fn(libc::c_int, *mut libc::c_void), arg: *mut libc::c_void) -> libc::c_int;
}

/// Runs when the program exits (returning from main or calling exit),
/// after the handlers it registered: stops the compile threads, runs the
/// data finalisers, flushes stdio, prints the statistics and ends the
/// process with `_exit`, so no LLVM static destructor runs while a
/// compile thread may still be inside LLVM.
extern "C" fn at_exit(status: libc::c_int, _: *mut libc::c_void) {
    // CPU time of the thread running the program (usually the main thread).
    let program_cpu = driver::thread_cpu_ns();
    let state = AT_EXIT.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some((shared, data, stats)) = state {
        shared.finish(data);
        // SAFETY: flushes every stdio stream of the process.
        unsafe { libc::fflush(std::ptr::null_mut()) };
        if stats {
            shared.print_stats();
            eprintln!("jitlink-reopt: program thread: cpu={:.1}ms", program_cpu as f64 / 1e6);
        }
    }
    // SAFETY: flushes stdio once more and ends the process.
    unsafe {
        libc::fflush(std::ptr::null_mut());
        libc::_exit(status)
    }
}

fn run(a: RunArgs) -> Result<i32, jitlink_reopt::Error> {
    let opts = Options {
        threshold: a.threshold.max(1),
        backedge_threshold: a.backedge_threshold,
        tier0: a.tier0,
        tier1: a.tier1,
        compile_threads: a.compile_threads.max(1),
        eager: a.eager,
        speculate: a.speculate,
        stats: a.stats,
        inline_callees: !a.no_inline_callees,
        sync_tier_up: a.sync_tier_up,
        prefetch: !a.no_prefetch,
        tier_up_delay_ms: a.tier_up_delay,
        libs: a.libs,
        lib_dirs: a.lib_dirs,
    };
    let prepared = jitlink_reopt::prepare(&a.files, &opts)?;
    *AT_EXIT.lock().unwrap_or_else(|e| e.into_inner()) =
        Some((prepared.shared().clone(), prepared.data_link(), opts.stats));
    // SAFETY: registers a plain extern "C" fn; it runs before the
    // destructors of everything loaded before this point (LLVM's).
    unsafe { on_exit(at_exit, std::ptr::null_mut()) };
    let mut argv = vec![a.files[0].display().to_string()];
    argv.extend(a.args);
    Ok(prepared.run_main(&argv))
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(a) => match run(a) {
            // Like __libc_start_main: exit(main(...)).
            // SAFETY: libc exit runs the handlers (ours last) and ends the process.
            Ok(status) => unsafe { libc::exit(status) },
            Err(e) => {
                eprintln!("jitlink-reopt: {e}");
                std::process::exit(1);
            }
        },
    }
}
