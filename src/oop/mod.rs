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
//! let outcome = exec.lock().unwrap().run_main(main, &["main".into()])?;
//! if let RunOutcome::Returned(status) = outcome {
//!     exec.lock().unwrap().shutdown(status)?;  // finalisers, atexit handlers
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
use crate::session::{Session, SessionOptions};
use client::ExecutorClient;
use memory::{LinkRuntime, RemoteMemoryManager, RemoteOptions, RuntimeSlot};
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
    Ok(s)
}
