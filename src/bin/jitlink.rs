//! `jitlink`: link objects and archives in memory and run them, or link
//! for any target with `--noexec` and dump the result. Contract:
//! `shared/spec/cli-and-link-dump.md`.

use clap::{Args, Parser, Subcommand};
use jitlink::memory::MemoryPolicy;
use jitlink::memory::{InProcessMemoryManager, MemoryManager, SimulatedMemoryManager};
use jitlink::redirect::{RedirectOptions, Redirector};
use jitlink::session::{LinkId, LinkOptions, Session, SessionOptions};
use jitlink::Error;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
    /// Target triple: picks the slice of universal Mach-O files, and names
    /// the target when no object does.
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
    /// Link each object and archive member only when one of its functions
    /// is first called, through lazy re-entry stubs.
    #[arg(long)]
    lazy: bool,
    /// Print stub and call-site statistics on stderr at exit.
    #[arg(long)]
    stats: bool,
    /// Register linked objects with the debugger (GDB JIT interface).
    #[arg(long)]
    debugger_support: bool,
    /// Append linked functions to /tmp/perf-PID.map for perf.
    #[arg(long)]
    perf_map: bool,
    /// Memory policy for patching code: double-mapped (default) or strict-wx.
    #[arg(long, value_name = "POLICY", default_value = "double-mapped")]
    memory_policy: String,
    /// Run the program out of process, in jitlink-executor (next to jitlink, or $JITLINK_EXECUTOR).
    #[arg(long)]
    oop: bool,
    /// Run the program in the executor started by CMD (implies --oop), e.g.
    /// 'qemu-aarch64 -L /usr/aarch64-linux-gnu ./jitlink-executor'.
    #[arg(long, value_name = "CMD")]
    oop_executor: Option<String>,
    /// Run the program in the executor listening at ADDR (implies --oop):
    /// HOST:PORT or unix:PATH (`jitlink-executor --listen ADDR`).
    #[arg(long, value_name = "ADDR")]
    connect: Option<String>,
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

/// What the exit handler needs: the session (shared) and the link whose
/// finalisers run at exit.
static FINI: Mutex<Option<(Arc<Mutex<Session>>, LinkId)>> = Mutex::new(None);
static STATS: Mutex<Option<Arc<Redirector>>> = Mutex::new(None);

extern "C" fn run_finalizers_at_exit() {
    let taken = FINI.lock().ok().and_then(|mut g| g.take());
    if let Some((session, id)) = taken {
        // Finalisers run without the session lock held by this thread only
        // through their own re-entry, so take the list first.
        let fini = session.lock().ok().and_then(|s| s.linked(id).map(|l| l.fini.clone())).unwrap_or_default();
        for f in fini {
            // SAFETY: f is a finaliser address of a link made for this
            // process, whose code was already trusted to run main.
            let func: extern "C" fn() = unsafe { std::mem::transmute::<usize, extern "C" fn()>(f as usize) };
            func();
        }
    }
    if let Some(r) = STATS.lock().ok().and_then(|mut g| g.take()) {
        print_stats(&r);
    }
}

fn print_stats(r: &Redirector) {
    let s = r.stats();
    let d = s.redirects;
    eprintln!(
        "jitlink: stats: {} stubs created; {} call sites recorded: {} bound direct, {} through stubs \
         (out of range {}, unaligned {}, policy {}); redirects over {} sites: {} patched in place, {} through stubs \
         (out of range {}, unaligned {}, policy {}), {} stub pointers updated; {} lazy symbols materialized",
        s.stubs,
        s.sites,
        s.linked_direct,
        s.linked_stub.iter().sum::<usize>(),
        s.linked_stub[0],
        s.linked_stub[1],
        s.linked_stub[2],
        d.sites,
        d.patched,
        d.stubbed,
        d.out_of_range,
        d.unaligned,
        d.policy,
        d.stubs_updated,
        s.materialized
    );
}

/// The target named by the first object among `files` (looking into
/// archives), if any.
fn detect_arch(files: &[PathBuf]) -> Option<jitlink::arch::Arch> {
    use jitlink::formats::{identify, FileKind};
    for f in files {
        let Ok(bytes) = std::fs::read(f) else { continue };
        match identify("", &bytes) {
            Ok(FileKind::ElfObject(a)) => return Some(a),
            Ok(FileKind::Archive) => {
                let Ok(ar) = object::read::archive::ArchiveFile::parse(&*bytes) else { continue };
                for m in ar.members().flatten() {
                    let Ok(data) = m.data(&*bytes) else { continue };
                    if let Ok(FileKind::ElfObject(a)) = identify("", data) {
                        return Some(a);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn usage(msg: String) -> Error {
    Error::Usage(msg)
}

fn run(opts: Opts, exec: bool) -> Result<i32, Error> {
    if opts.oop || opts.oop_executor.is_some() || opts.connect.is_some() {
        return run_oop(opts, exec);
    }
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
    let session_opts = SessionOptions {
        phony_externals: opts.phony_externals,
        verbose: opts.verbose,
        debugger_support: opts.debugger_support,
        perf_map: opts.perf_map,
    };
    let redirecting = opts.lazy || opts.stats;
    let mut session = if redirecting {
        if opts.slab_allocate.is_some() {
            return Err(usage("--lazy and --stats allocate from the session's JIT arena: no --slab-allocate".into()));
        }
        let policy = match opts.memory_policy.as_str() {
            "double-mapped" => MemoryPolicy::DoubleMapped,
            "strict-wx" => MemoryPolicy::StrictWX,
            p => return Err(usage(format!("--memory-policy {p}: expected double-mapped or strict-wx"))),
        };
        drop(memory);
        // With --noexec the arena is simulated, for the objects' own target.
        let (arch, simulate_at) = if opts.noexec {
            let base = match &opts.slab_address {
                Some(a) => parse_int(a).ok_or_else(|| usage(format!("--slab-address {a}: not an address")))?,
                None => 0x1_0000_0000,
            };
            (detect_arch(&opts.files), Some(base))
        } else {
            (None, None)
        };
        Session::with_redirection(RedirectOptions { policy, arch, simulate_at, ..Default::default() }, session_opts)?
    } else {
        Session::new(memory, session_opts)
    };
    if let Some(t) = &opts.triple {
        // Names the target: picks universal Mach-O slices, checked against every object.
        session.set_triple(t)?;
    }
    for a in &opts.abs {
        let (name, addr) = a.split_once('=').ok_or_else(|| usage(format!("--abs {a}: expected NAME=ADDR")))?;
        let addr = parse_int(addr).ok_or_else(|| usage(format!("--abs {a}: bad address")))?;
        session.define_absolute(name, addr)?;
    }
    for d in &opts.lib_dirs {
        session.add_search_dir(d);
    }
    let units = if opts.lazy {
        let files: Vec<&std::path::Path> = opts.files.iter().map(PathBuf::as_path).collect();
        Some(jitlink::session::units::load_units(&files)?)
    } else {
        for f in &opts.files {
            session.add_file(f)?;
        }
        None
    };
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
    let redirector = session.redirector().cloned();
    let session = Arc::new(Mutex::new(session));
    if let Some(units) = units {
        define_lazy_units(&session, units, &opts.entry)?;
    }
    let id = session.lock().unwrap_or_else(|e| e.into_inner()).link(&link_opts)?;
    if opts.noexec || !exec {
        if let (true, Some(r)) = (opts.stats, &redirector) {
            print_stats(r);
        }
        return Ok(0);
    }
    let convention = entry_convention(&opts.files);
    let (entry, init) = {
        let s = session.lock().unwrap_or_else(|e| e.into_inner());
        // Mach-O C names carry a leading underscore (`_main`).
        let entry = s
            .lookup(&opts.entry)
            .or_else(|| (convention == Convention::MachO).then(|| s.lookup(&format!("_{}", opts.entry))).flatten())
            .ok_or_else(|| usage(format!("entry point {} is not defined by any input", opts.entry)))?;
        (entry, s.linked(id).map(|l| l.init.clone()).unwrap_or_default())
    };
    let mut argv = vec![opts.files[0].display().to_string()];
    argv.extend(opts.args.iter().cloned());
    if opts.stats {
        *STATS.lock().unwrap_or_else(|e| e.into_inner()) = redirector;
    }
    *FINI.lock().unwrap_or_else(|e| e.into_inner()) = Some((session.clone(), id));
    // SAFETY: registering a plain extern "C" fn with atexit. It is
    // registered before any initialiser runs, so (as _dl_fini for a native
    // executable) it runs after every handler the program registers.
    unsafe { libc::atexit(run_finalizers_at_exit) };
    // The session lock is not held while JIT code runs: lazy stubs take it
    // to link on first call.
    for f in init {
        // SAFETY: initialiser addresses of the link just made for this
        // process; the user asked us to run these objects.
        let func: extern "C" fn() = unsafe { std::mem::transmute::<usize, extern "C" fn()>(f as usize) };
        func();
    }
    if convention == Convention::Win64 {
        // SAFETY: as above; `entry` is a COFF program's main, which takes
        // its arguments in the Microsoft x64 convention.
        return Ok(unsafe { call_main_win64(entry, &argv) });
    }
    // SAFETY: as above; `entry` is the program's main.
    Ok(unsafe { jitlink::session::call_main(entry, &argv) })
}

/// How `jitlink run` calls the entry point of the objects given.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Convention {
    /// ELF: `main` with the System V convention.
    SysV,
    /// Mach-O: System V as well, the C name is `_main`.
    MachO,
    /// COFF for x86-64: the Microsoft x64 convention (`extern "win64"`).
    Win64,
}

/// The entry convention the first object among `files` names.
fn entry_convention(files: &[PathBuf]) -> Convention {
    use jitlink::formats::{identify, FileKind};
    for f in files {
        let Ok(bytes) = std::fs::read(f) else { continue };
        match identify("", &bytes) {
            Ok(FileKind::CoffObject(jitlink::arch::Arch::X86_64)) => return Convention::Win64,
            Ok(FileKind::MachObject(_) | FileKind::MachUniversal) => return Convention::MachO,
            Ok(FileKind::ElfObject(_)) => return Convention::SysV,
            _ => {}
        }
    }
    Convention::SysV
}

/// Calls `int main(int argc, char **argv, char **envp)` at `addr` with the
/// Microsoft x64 calling convention (argc in ECX, argv in RDX, envp in R8,
/// 32 bytes of shadow space), as a COFF program for Windows expects.
///
/// # Safety
/// `addr` must be such a function in executable memory of this process.
#[cfg(target_arch = "x86_64")]
unsafe fn call_main_win64(addr: u64, args: &[String]) -> i32 {
    let a = jitlink::session::MainArgs::new(args);
    type Main = unsafe extern "win64" fn(i32, *const *const libc::c_char, *const *const libc::c_char) -> i32;
    // SAFETY: the caller guarantees addr is a main-like win64 function.
    let main: Main = unsafe { std::mem::transmute::<usize, Main>(addr as usize) };
    // SAFETY: as above; argv/envp live until main returns.
    unsafe { main(a.argc(), a.argv(), a.envp()) }
}

/// Only x86-64 hosts run COFF x86-64 code.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn call_main_win64(_addr: u64, _args: &[String]) -> i32 {
    eprintln!("jitlink: error: a COFF x86-64 entry point runs only on an x86-64 host");
    1
}

/// `--oop`, `--oop-executor CMD`, `--connect ADDR`: link here, run in an
/// executor process (`docs/executor-protocol.md`). The executor's exit
/// status, or 128 + the signal that killed the program (with a message), is
/// returned.
fn run_oop(opts: Opts, exec: bool) -> Result<i32, Error> {
    use jitlink::oop::client::{self, split_command, Ended, ExecutorClient, RunOutcome};
    use jitlink::session::dylib::{find_library, Found};
    let unsupported = [
        (opts.noexec, "--noexec"),
        (opts.debugger_support, "--debugger-support"),
        (opts.perf_map, "--perf-map"),
        (opts.slab_allocate.is_some(), "--slab-allocate"),
        (opts.slab_address.is_some(), "--slab-address"),
        (opts.slab_page_size.is_some(), "--slab-page-size"),
        (opts.oop_executor.is_some() && opts.connect.is_some(), "--oop-executor with --connect"),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(on, _)| *on) {
        return Err(usage(format!("{what} cannot be used out of process (--oop, --oop-executor, --connect)")));
    }
    let client = match (&opts.oop_executor, &opts.connect) {
        (Some(cmd), _) => {
            let argv = split_command(cmd);
            if argv.is_empty() {
                return Err(usage("--oop-executor: empty command".into()));
            }
            ExecutorClient::spawn(&argv)?
        }
        (None, Some(addr)) => ExecutorClient::connect(addr)?,
        (None, None) => ExecutorClient::spawn_host()?,
    };
    if opts.verbose {
        let h = client.hello();
        eprintln!(
            "jitlink: {}: protocol {}, {}, page size {}, {} bootstrap symbols",
            client.label(),
            h.version,
            h.triple,
            h.page_size,
            h.symbols.len()
        );
    }
    let executor = jitlink::oop::shared(client);
    // `-l NAME`: a static archive in a -L directory links here; anything
    // else is a shared library the executor opens.
    let mut remote_libs = Vec::new();
    let mut archives = Vec::new();
    for l in &opts.libs {
        match find_library(l, &opts.lib_dirs) {
            Some(Found::Archive(p)) => archives.push(p),
            Some(Found::Shared(p)) if std::fs::read(&p).is_ok_and(|b| b.starts_with(b"\x7fELF")) => {
                remote_libs.push(p.display().to_string())
            }
            _ => remote_libs.push(l.clone()),
        }
    }
    let session_opts =
        SessionOptions { phony_externals: opts.phony_externals, verbose: opts.verbose, ..Default::default() };
    // --lazy and --stats: patchable call sites in a JIT arena reserved in
    // the executor (protocol version 2).
    let redirecting = opts.lazy || opts.stats;
    let mut session = if redirecting {
        let policy = match opts.memory_policy.as_str() {
            "double-mapped" => MemoryPolicy::DoubleMapped,
            "strict-wx" => MemoryPolicy::StrictWX,
            p => return Err(usage(format!("--memory-policy {p}: expected double-mapped or strict-wx"))),
        };
        let redirect = RedirectOptions { policy, ..Default::default() };
        jitlink::oop::remote_redirect_session(&executor, remote_libs, session_opts, Default::default(), redirect)?
    } else {
        jitlink::oop::remote_session(&executor, remote_libs, session_opts, Default::default())?
    };
    for a in &opts.abs {
        let (name, addr) = a.split_once('=').ok_or_else(|| usage(format!("--abs {a}: expected NAME=ADDR")))?;
        let addr = parse_int(addr).ok_or_else(|| usage(format!("--abs {a}: bad address")))?;
        session.define_absolute(name, addr)?;
    }
    let units = if opts.lazy {
        let mut files: Vec<&std::path::Path> = opts.files.iter().map(PathBuf::as_path).collect();
        files.extend(archives.iter().map(PathBuf::as_path));
        Some(jitlink::session::units::load_units(&files)?)
    } else {
        for f in &opts.files {
            session.add_file(f)?;
        }
        for a in &archives {
            session.add_archive(a)?;
        }
        None
    };
    if let Some(t) = &opts.triple {
        if jitlink::oop::arch_of_triple(t) != session.arch() {
            return Err(usage(format!("--triple {t} does not name the objects' target")));
        }
    }
    jitlink::oop::check_target(&executor, session.arch())?;
    let link_opts =
        LinkOptions { dump_json: opts.dump_json.clone(), show_addrs: opts.show_addrs, show_graph: opts.show_graph };
    let lock =
        |e: &jitlink::oop::SharedExecutor| e.lock().map_or_else(|p| p.into_inner().round_trips(), |g| g.round_trips());
    let redirector = session.redirector().cloned();
    // Lazy materializers lock the session while the program runs: it is
    // not locked here then.
    let session = Arc::new(Mutex::new(session));
    if let Some(units) = units {
        define_lazy_units(&session, units, &opts.entry)?;
    }
    let before = lock(&executor);
    session.lock().unwrap_or_else(|e| e.into_inner()).link(&link_opts)?;
    if opts.verbose {
        eprintln!("jitlink: link took {} round trips to the executor", lock(&executor) - before);
    }
    let outcome = if exec {
        let entry = session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lookup(&opts.entry)
            .ok_or_else(|| usage(format!("entry point {} is not defined by any input", opts.entry)))?;
        let mut argv = vec![opts.files[0].display().to_string()];
        argv.extend(opts.args.iter().cloned());
        // Serves the executor's LAZY requests while main runs.
        client::run_main(&executor, entry, &argv)?
    } else {
        RunOutcome::Returned(0)
    };
    let ended = match outcome {
        RunOutcome::Returned(status) => client::shutdown(&executor, status)?,
        RunOutcome::Ended(e) => e,
    };
    if opts.verbose {
        let e = executor.lock().unwrap_or_else(|p| p.into_inner());
        eprintln!(
            "jitlink: {} round trips, {} request bytes, {} lazy requests; the executor {ended}",
            e.round_trips(),
            e.bytes_sent(),
            e.lazy_requests()
        );
    }
    if let (true, Some(r)) = (opts.stats, &redirector) {
        print_stats(r);
    }
    drop(redirector);
    drop(session);
    match ended {
        Ended::Exited(status) => Ok(status),
        Ended::Signaled { .. } => {
            let label = executor.lock().map_or_else(|p| p.into_inner().label().to_string(), |g| g.label().to_string());
            eprintln!("jitlink: the program was {ended} (in {label})");
            Ok(ended.status())
        }
        Ended::Lost(why) => Err(Error::Io { path: "executor".into(), source: std::io::Error::other(why) }),
    }
}

/// `--lazy`: objects (and needed archive members) that define only
/// functions and have no initialisers are linked on the first call of one
/// of their functions; the others are linked now.
fn define_lazy_units(
    session: &Arc<Mutex<Session>>,
    units: Vec<jitlink::session::units::Unit>,
    entry: &str,
) -> Result<(), Error> {
    let mut s = session.lock().unwrap_or_else(|e| e.into_inner());
    for u in units {
        let eager = u.has_initializers || !u.data.is_empty() || u.functions.iter().any(|f| f == entry);
        if eager {
            s.add_object_bytes(&u.name, u.bytes.to_vec())?;
            continue;
        }
        let linked = Arc::new(Mutex::new(false));
        let u = Arc::new(u);
        for f in u.functions.iter() {
            if s.lookup(f).is_some() {
                continue;
            }
            let (weak, linked, u, f2) = (Arc::downgrade(session), linked.clone(), u.clone(), f.clone());
            s.define_lazy(
                f,
                Box::new(move || {
                    let session = weak.upgrade().ok_or_else(|| Error::Usage("session gone".into()))?;
                    let mut s = session.lock().unwrap_or_else(|e| e.into_inner());
                    let mut done = linked.lock().unwrap_or_else(|e| e.into_inner());
                    if !*done {
                        s.add_object_bytes(&u.name, u.bytes.to_vec())?;
                        s.link(&LinkOptions::default())?;
                        *done = true;
                    }
                    s.redirector()
                        .and_then(|r| r.current(&f2))
                        .ok_or_else(|| Error::Usage(format!("{f2}: not defined by {}", u.name)))
                }),
            )?;
        }
    }
    Ok(())
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
