//! `jitlink`: link objects and archives in memory and run them, or link
//! for any target with `--noexec` and dump the result. Contract:
//! `shared/spec/cli-and-link-dump.md`.

use clap::{Args, Parser, Subcommand};
use jitlink::memory::{InProcessMemoryManager, MemoryManager, SimulatedMemoryManager};
use jitlink::session::{LinkId, LinkOptions, Session, SessionOptions};
use jitlink::Error;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Parser)]
#[command(name = "jitlink", version, about = "A JIT linker: link relocatable objects in memory and run them")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Link FILEs into this process and run the entry point.
    Run(Opts),
    /// Link FILEs (with --noexec: for any target, running nothing).
    Link(Opts),
}

#[derive(Args)]
struct Opts {
    /// Object files (.o) and static archives (.a).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Arguments passed to the entry point as argv[1..].
    #[arg(last = true)]
    args: Vec<String>,
    /// Stop after fixups; run nothing.
    #[arg(long)]
    noexec: bool,
    /// Entry point symbol.
    #[arg(long, default_value = "main")]
    entry: String,
    /// Define NAME as an absolute symbol at ADDR (hex 0x.. or decimal).
    #[arg(long = "abs", value_name = "NAME=ADDR")]
    abs: Vec<String>,
    /// Resolve every still-undefined external to address 0.
    #[arg(long)]
    phony_externals: bool,
    /// Search DIR for -l libraries.
    #[arg(short = 'L', value_name = "DIR")]
    lib_dirs: Vec<PathBuf>,
    /// Link libNAME.a / libNAME.so.
    #[arg(short = 'l', value_name = "NAME")]
    libs: Vec<String>,
    /// Target triple (names the target when no object does).
    #[arg(long)]
    triple: Option<String>,
    /// Allocate all link memory from one slab of SIZE (100Kb, 1Mb; a bare number means KiB).
    #[arg(long, value_name = "SIZE")]
    slab_allocate: Option<String>,
    /// With --noexec, pretend the slab starts at ADDR.
    #[arg(long, value_name = "ADDR")]
    slab_address: Option<String>,
    /// Page size for the slab allocator (decimal or 0x hex).
    #[arg(long, value_name = "N")]
    slab_page_size: Option<String>,
    /// Write the link dump (jitlink-dump/1 JSON) after fixups.
    #[arg(long, value_name = "PATH")]
    dump_json: Option<PathBuf>,
    /// Print symbol addresses on stderr.
    #[arg(long)]
    show_addrs: bool,
    /// Print the link graph on stderr.
    #[arg(long)]
    show_graph: bool,
    /// Say what is being done, phase by phase.
    #[arg(short, long)]
    verbose: bool,
}

fn parse_int(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let l = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = l.strip_suffix("kb") {
        (n, 1u64 << 10)
    } else if let Some(n) = l.strip_suffix("mb") {
        (n, 1 << 20)
    } else if let Some(n) = l.strip_suffix("gb") {
        (n, 1 << 30)
    } else {
        (l.as_str(), 1 << 10)
    };
    parse_int(num)?.checked_mul(mult)
}

static FINI: Mutex<Option<(usize, LinkId)>> = Mutex::new(None);

extern "C" fn run_finalizers_at_exit() {
    let taken = FINI.lock().ok().and_then(|mut g| g.take());
    if let Some((session, id)) = taken {
        // SAFETY: `session` is the leaked Session of `run`, alive for the
        // rest of the process; exit handlers run on one thread.
        let session = unsafe { &mut *(session as *mut Session) };
        // SAFETY: the link was made for this process and its code was
        // already trusted to run main.
        let _ = unsafe { session.run_finalizers(id) };
    }
}

fn usage(msg: String) -> Error {
    Error::Usage(msg)
}

fn run(opts: Opts, exec: bool) -> Result<i32, Error> {
    let page = match &opts.slab_page_size {
        Some(p) => Some(
            parse_int(p)
                .filter(|p| p.is_power_of_two())
                .ok_or_else(|| usage(format!("--slab-page-size {p}: not a power of two")))?,
        ),
        None => None,
    };
    let slab_size = match &opts.slab_allocate {
        Some(s) => Some(parse_size(s).ok_or_else(|| usage(format!("--slab-allocate {s}: not a size")))?),
        None => None,
    };
    let memory: Box<dyn MemoryManager> = match (&opts.slab_address, opts.noexec) {
        (Some(a), true) => {
            let addr = parse_int(a).ok_or_else(|| usage(format!("--slab-address {a}: not an address")))?;
            Box::new(SimulatedMemoryManager::new(addr, slab_size, page.unwrap_or_else(jitlink::memory::host_page_size)))
        }
        (Some(_), false) => return Err(usage("--slab-address is only meaningful with --noexec".into())),
        (None, _) => match slab_size {
            Some(size) => Box::new(InProcessMemoryManager::with_slab(size, page)?),
            None => Box::new(InProcessMemoryManager::new()),
        },
    };
    if let Some(t) = &opts.triple {
        if !t.starts_with("x86_64") {
            return Err(usage(format!("--triple {t}: unsupported target")));
        }
    }
    let mut session =
        Session::new(memory, SessionOptions { phony_externals: opts.phony_externals, verbose: opts.verbose });
    for a in &opts.abs {
        let (name, addr) = a.split_once('=').ok_or_else(|| usage(format!("--abs {a}: expected NAME=ADDR")))?;
        let addr = parse_int(addr).ok_or_else(|| usage(format!("--abs {a}: bad address")))?;
        session.define_absolute(name, addr)?;
    }
    for d in &opts.lib_dirs {
        session.add_search_dir(d);
    }
    for f in &opts.files {
        session.add_file(f)?;
    }
    for l in &opts.libs {
        session.add_library(l)?;
    }
    // As the compiler driver does: the C library last (on glibc its
    // linker script also brings libc_nonshared.a, home of atexit).
    if session.arch() == jitlink::arch::Arch::host() && !opts.libs.iter().any(|l| l == "c") {
        session.add_library("c")?;
    }
    let link_opts =
        LinkOptions { dump_json: opts.dump_json.clone(), show_addrs: opts.show_addrs, show_graph: opts.show_graph };
    let id = session.link(&link_opts)?;
    if opts.noexec || !exec {
        return Ok(0);
    }
    let entry = session
        .lookup(&opts.entry)
        .ok_or_else(|| usage(format!("entry point {} is not defined by any input", opts.entry)))?;
    let mut argv = vec![opts.files[0].display().to_string()];
    argv.extend(opts.args.iter().cloned());
    let session: &'static mut Session = Box::leak(Box::new(session));
    *FINI.lock().unwrap_or_else(|e| e.into_inner()) = Some((session as *mut Session as usize, id));
    // SAFETY: registering a plain extern "C" fn with atexit. It is
    // registered before any initialiser runs, so (as _dl_fini for a native
    // executable) it runs after every handler the program registers.
    unsafe { libc::atexit(run_finalizers_at_exit) };
    // SAFETY: the user asked us to run these objects in this process.
    let status = unsafe {
        session.run_initializers(id)?;
        session.run_main(entry, &argv)
    };
    Ok(status)
}

fn main() {
    std::panic::set_hook(Box::new(|info| {
        let loc = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("jitlink: internal error (a bug, please report): {msg}{loc}");
        std::process::exit(70);
    }));
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(first) = args.get(1).and_then(|a| a.to_str()) {
        if !matches!(first, "run" | "link" | "help" | "-h" | "--help" | "-V" | "--version") {
            args.insert(1, "run".into());
        }
    }
    let cli = Cli::parse_from(args);
    let result = match cli.cmd {
        Cmd::Run(o) => run(o, true),
        Cmd::Link(o) => run(o, false),
    };
    match result {
        Ok(status) => {
            // Like __libc_start_main: exit(main(...)) runs atexit handlers
            // and flushes stdio.
            // SAFETY: libc exit terminates the process.
            unsafe { libc::exit(status) }
        }
        Err(e) => {
            eprintln!("jitlink: error: {e}");
            std::process::exit(1);
        }
    }
}
