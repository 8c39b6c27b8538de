//! Out-of-process execution: the controller links here, an executor
//! process (`jitlink-executor`, or the portable C one under `qemu-user`
//! for another architecture) runs the code. Protocol:
//! `docs/executor-protocol.md`.
//!
//! - [`protocol`]: the codec (frames, requests, replies, the handshake).
//! - [`client::ExecutorClient`]: spawning or connecting, bounded requests,
//!   how the executor ended.
//! - [`memory::RemoteMemoryManager`]: link memory reserved in the executor,
//!   written here, copied over with protections and runtime actions
//!   (eh_frame registration, initialisers, finalisers at exit) in one
//!   `FINALIZE`.
//! - [`remote_session`]: a [`Session`] wired to an executor: remote memory,
//!   externals resolved by the executor's dynamic loader in one `LOOKUP`
//!   per link, the runtime pass.
//! - [`remote_redirect_session`] (protocol version 2): the same with
//!   patchable call sites, redirection and lazy compilation: links, stubs
//!   and the re-entry routine live in one JIT arena reserved in the
//!   executor; patches and slot stores travel as `WRITE`s, and a lazy
//!   function's first call in the executor comes back as a `LAZY` request,
//!   served by [`client::run_main`], [`client::call`] and
//!   [`client::shutdown`] while the code runs.
//!
//! ```no_run
//! use jitlink::oop::{self, client::{ExecutorClient, RunOutcome}};
//! use jitlink::session::{LinkOptions, SessionOptions};
//! let exec = oop::shared(ExecutorClient::spawn_host()?);
//! let mut s = oop::remote_session(&exec, vec!["m".into()], SessionOptions::default(), Default::default())?;
//! s.add_file("main.o".as_ref())?;
//! oop::check_target(&exec, s.arch())?;
//! s.link(&LinkOptions::default())?;           // RESERVE, LOOKUP, FINALIZE (initialisers run)
//! let main = s.lookup("main").expect("main");
//! let outcome = oop::client::run_main(&exec, main, &["main".into()])?;
//! if let RunOutcome::Returned(status) = outcome {
//!     oop::client::shutdown(&exec, status)?;   // finalisers, atexit handlers
//! }
//! # Ok::<(), jitlink::Error>(())
//! ```

pub mod client;
pub mod memory;
pub mod protocol;

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::graph::SectionRole;
use crate::link::PassPoint;
use crate::memory::JitArena;
use crate::redirect::{RedirectOptions, Redirector};
use crate::session::{Session, SessionOptions};
use client::ExecutorClient;
use memory::{ArenaSink, LinkRuntime, RemoteArenaMemoryManager, RemoteMemoryManager, RemoteOptions, RuntimeSlot};
use std::sync::{Arc, Mutex};

/// An executor connection shared by the memory manager, the resolver and
/// the caller.
pub type SharedExecutor = Arc<Mutex<ExecutorClient>>;

/// Wraps a client for sharing.
pub fn shared(client: ExecutorClient) -> SharedExecutor {
    Arc::new(Mutex::new(client))
}

/// The architecture a target triple names (`x86_64-...`, `aarch64-...`,
/// `riscv64-...`, `powerpc64le-...`, `powerpc64-...`).
pub fn arch_of_triple(triple: &str) -> Option<Arch> {
    match triple.split('-').next()? {
        "x86_64" | "amd64" => Some(Arch::X86_64),
        "aarch64" | "arm64" => Some(Arch::Aarch64),
        "riscv64" | "riscv64gc" => Some(Arch::Riscv64),
        "powerpc64le" | "ppc64le" => Some(Arch::Ppc64Le),
        "powerpc64" | "ppc64" => Some(Arch::Ppc64Be),
        _ => None,
    }
}

/// Checks that objects for `arch` can run in the executor.
///
/// # Errors
/// [`Error::Unsupported`] naming both targets when they differ.
pub fn check_target(exec: &SharedExecutor, arch: Option<Arch>) -> Result<()> {
    let e = exec.lock().unwrap_or_else(|p| p.into_inner());
    let h = e.hello();
    let Some(arch) = arch else {
        return Err(Error::Usage("no input objects".into()));
    };
    let theirs = arch_of_triple(&h.triple);
    if theirs != Some(arch) || h.pointer_size != arch.pointer_size() || h.big_endian == arch.little_endian() {
        return Err(Error::Unsupported {
            file: e.label().to_string(),
            detail: format!(
                "the objects are for {} but the executor runs {} ({}-bit, {}-endian): use an executor for the \
                 objects' target (e.g. --oop-executor 'qemu-aarch64 -L /usr/aarch64-linux-gnu ./jitlink-executor')",
                arch.triple(),
                h.triple,
                h.pointer_size as u32 * 8,
                if h.big_endian { "big" } else { "little" }
            ),
        });
    }
    Ok(())
}

/// A session whose links live and run in `exec`: memory from a
/// [`RemoteMemoryManager`], externals resolved in the executor (after
/// opening `libraries`, `-l` names or paths), and a pass that gives each
/// `FINALIZE` its runtime actions (eh_frame registration where the target
/// registers it, `__cxa_finalize` at release, and, with
/// `remote.run_initializers`, the initialisers now and the finalisers at
/// the executor's exit). Links with thread-local storage are refused.
///
/// # Errors
/// [`Error::Unsupported`] when the executor's triple names no supported
/// target.
pub fn remote_session(
    exec: &SharedExecutor,
    libraries: Vec<String>,
    options: SessionOptions,
    remote: RemoteOptions,
) -> Result<Session> {
    let (triple, label) = {
        let e = exec.lock().unwrap_or_else(|p| p.into_inner());
        (e.hello().triple.clone(), e.label().to_string())
    };
    let arch = arch_of_triple(&triple).ok_or_else(|| Error::Unsupported {
        file: label,
        detail: format!("the executor runs {triple}, which jitlink does not link for"),
    })?;
    let slot: RuntimeSlot = Arc::new(Mutex::new(None));
    let mm = RemoteMemoryManager::new(exec.clone(), slot.clone(), remote);
    let mut s = Session::new(Box::new(mm), options);
    add_remote_passes(&mut s, exec, libraries, slot, arch);
    Ok(s)
}

/// The passes and resolver every out-of-process session has: thread-local
/// storage refused, the runtime pass, externals looked up in the executor.
fn add_remote_passes(s: &mut Session, exec: &SharedExecutor, libraries: Vec<String>, slot: RuntimeSlot, arch: Arch) {
    s.add_pass(
        PassPoint::PostPrune,
        Box::new(|g, names| {
            let tls = g.sections.iter().find(|sec| {
                matches!(sec.role, SectionRole::TlsData | SectionRole::TlsBss | SectionRole::TlsModule)
                    && sec.blocks.iter().any(|&b| g.blocks[b.index()].live)
            });
            match tls {
                Some(sec) => Err(Error::Unsupported {
                    file: g.files.get(sec.file.index()).map_or_else(String::new, |f| f.name.clone()),
                    detail: format!(
                        "section {}: thread-local storage is not supported out of process",
                        names.str(sec.name)
                    ),
                }),
                None => Ok(()),
            }
        }),
    );
    let register_eh_frame = arch.eh_frame_cie_kind().is_some();
    s.add_pass(
        PassPoint::PostFixup,
        Box::new(move |g, names| {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(LinkRuntime::from_graph(g, names, register_eh_frame));
            Ok(())
        }),
    );
    let e = exec.clone();
    s.set_resolver(Box::new(move |names| e.lock().unwrap_or_else(|p| p.into_inner()).lookup(&libraries, names)));
}

/// A session as [`remote_session`] makes, with patchable call sites,
/// redirection and lazy compilation in the executor (protocol version 2):
///
/// - one JIT arena of `redirect.arena_size` bytes (at most 1 GiB) is
///   reserved in the executor (`RESERVE`); every link, stub and the
///   re-entry routine is carved out of it, so every call site reaches
///   every stub;
/// - stub-pool pages travel as a `FINALIZE` of their own, before the
///   link that first needs them; slot stores and call-site patches of a
///   [`Session::redirect`] travel in one `WRITE` (each patch one aligned
///   4-byte store there, each slot one 8-byte store);
/// - the re-entry routine calls the executor's lazy resolver (bootstrap
///   symbol [`protocol::LAZY_RESOLVER`]), which sends `LAZY context` and
///   serves requests until `RESUME address`: [`client::run_main`],
///   [`client::call`] and [`client::shutdown`] (and finalizes that run
///   initialisers) answer it by running the lazy symbol's materializer
///   (linking through this session) and redirecting its callers;
/// - pending stub pages and slots are flushed before code runs (a pre-run
///   hook of the connection).
///
/// `redirect.arch` and `redirect.simulate_at` are ignored (the executor's
/// target, its memory).
///
/// # Errors
/// [`Error::Unsupported`] when the executor speaks protocol version 1 or
/// has no lazy resolver, or runs a target jitlink does not link for;
/// [`Error::Memory`] when the arena cannot be reserved.
pub fn remote_redirect_session(
    exec: &SharedExecutor,
    libraries: Vec<String>,
    options: SessionOptions,
    remote: RemoteOptions,
    redirect: RedirectOptions,
) -> Result<Session> {
    let (hello, label) = {
        let e = exec.lock().unwrap_or_else(|p| p.into_inner());
        (e.hello().clone(), e.label().to_string())
    };
    let arch = arch_of_triple(&hello.triple).ok_or_else(|| Error::Unsupported {
        file: label.clone(),
        detail: format!("the executor runs {}, which jitlink does not link for", hello.triple),
    })?;
    if hello.version < 2 {
        return Err(Error::Unsupported {
            file: label,
            detail: "the executor speaks protocol version 1; redirection and lazy compilation out of process need \
                     version 2 (rebuild the executor)"
                .into(),
        });
    }
    let resolver = hello.symbol(protocol::LAZY_RESOLVER).ok_or_else(|| Error::Unsupported {
        file: label.clone(),
        detail: format!("the executor has no lazy resolver ({})", protocol::LAZY_RESOLVER),
    })?;
    let page = hello.page_size.max(crate::memory::host_page_size());
    let size = crate::memory::align_up(redirect.arena_size.clamp(1 << 20, 1 << 30), page);
    let base =
        exec.lock().unwrap_or_else(|p| p.into_inner()).reserve(size, page, 0).map_err(|e| Error::Memory {
            detail: format!("reserving the {size}-byte JIT arena in the executor: {e}"),
        })?;
    let sink = Arc::new(ArenaSink::new(exec.clone(), base));
    let arena = JitArena::remote(base, size, page, sink)?;
    let opts = RedirectOptions { arch: Some(arch), simulate_at: None, ..redirect };
    let r = Redirector::with_arena(opts, arena.clone(), Some(resolver))?;
    let slot: RuntimeSlot = Arc::new(Mutex::new(None));
    let mm = RemoteArenaMemoryManager::new(exec.clone(), arena, slot.clone(), remote);
    let mut s = Session::with_redirector(r.clone(), Box::new(mm), options);
    add_remote_passes(&mut s, exec, libraries, slot, arch);
    let mut e = exec.lock().unwrap_or_else(|p| p.into_inner());
    let weak = Arc::downgrade(&r);
    e.add_lazy_handler(Arc::new(move |ctx| {
        let r = weak.upgrade()?;
        let addr = r.resolve_context(ctx)?;
        Some(r.flush().map(|()| addr))
    }));
    let weak = Arc::downgrade(&r);
    e.add_pre_run_hook(Arc::new(move || weak.upgrade().map_or(Ok(()), |r| r.flush())));
    Ok(s)
}
