//! The session: symbol table, inputs, definition generators (static
//! archives, the dynamic loader), memory, passes, and the links it made.
//!
//! A session owns everything its links created; two sessions in one
//! process do not see each other.

pub mod archive;
pub mod dylib;
pub mod units;

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::formats::{self, FileKind};
use crate::graph::{Interner, LinkGraph, Linkage, NameId, SectionRole, SymbolKind};
use crate::link::{self, Pass, PassConfig, PassPoint};
use crate::memory::ArenaMemoryManager;
use crate::memory::{Allocation, InProcessMemoryManager, MemoryManager};
use crate::redirect::{Materializer, RedirectOptions, RedirectReport, Redirector};
use archive::Archive;
use dylib::Libraries;
use hashbrown::HashMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Input bytes: a read-only mapping of a file, or bytes the caller owns.
pub enum InputData {
    /// A file mapped read-only.
    Mapped(memmap2::Mmap),
    /// Bytes in memory.
    Owned(Vec<u8>),
}

impl InputData {
    /// Maps `path` read-only.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path.
    pub fn open(path: &Path) -> Result<InputData> {
        let io = |e| Error::Io { path: path.display().to_string(), source: e };
        let f = std::fs::File::open(path).map_err(io)?;
        let len = f.metadata().map_err(io)?.len();
        if len == 0 {
            return Ok(InputData::Owned(Vec::new()));
        }
        // SAFETY: the mapping is read-only and private; like every linker we
        // assume inputs are not truncated while we link them.
        let m = unsafe { memmap2::Mmap::map(&f) }.map_err(io)?;
        Ok(InputData::Mapped(m))
    }
}

impl Deref for InputData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            InputData::Mapped(m) => m,
            InputData::Owned(v) => v,
        }
    }
}

/// Options that hold for every link of a session.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Resolve every still-undefined external to 0 instead of failing
    /// (and without asking the host process).
    pub phony_externals: bool,
    /// Say what is being done, phase by phase, on stderr.
    pub verbose: bool,
    /// Register every link with the debugger (GDB JIT interface).
    pub debugger_support: bool,
    /// Append every linked function to `/tmp/perf-PID.map` for `perf`.
    pub perf_map: bool,
}

/// Options of one link.
#[derive(Clone, Debug, Default)]
pub struct LinkOptions {
    /// Write the `jitlink-dump/1` JSON here after fixups.
    pub dump_json: Option<PathBuf>,
    /// Print symbol addresses on stderr.
    pub show_addrs: bool,
    /// Print the whole graph on stderr.
    pub show_graph: bool,
}

/// Names a link of a session.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkId(pub u32);

/// A symbol in the session's table.
#[derive(Copy, Clone, Debug)]
pub struct SessionSymbol {
    /// Address in the target address space.
    pub addr: u64,
    /// Size in bytes (0 if unknown).
    pub size: u64,
    /// Weak definitions may be overridden by later strong ones.
    pub weak: bool,
    /// True for functions.
    pub callable: bool,
    /// The link that defined it (`None` for absolute definitions).
    pub link: Option<LinkId>,
    /// Index of the defining file's name in the session's file list.
    pub file: u32,
    /// A placeholder (a lazy symbol) that a link may define.
    pub provisional: bool,
}

/// What a finished link left behind.
pub struct LinkedObject {
    alloc: Box<dyn Allocation>,
    /// Initialiser addresses in the order they must run
    /// (`.preinit_array`, then `.init_array`/`.ctors` by priority).
    pub init: Vec<u64>,
    /// Finaliser addresses in the order they must run.
    pub fini: Vec<u64>,
    /// Names this link added to the session table.
    pub symbols: Vec<NameId>,
    /// Numbers for `--stats`/benchmarks: (blocks, edges, GOT entries, stubs).
    pub counts: (usize, usize, usize, usize),
    finis_ran: bool,
    /// Start of the `.eh_frame` run registered with the host's unwinder.
    eh_frame: Option<u64>,
    /// The link's own `__dso_handle`, if its code referenced one.
    dso_handle: Option<u64>,
    /// The COMDAT signatures this link took (released when it goes).
    comdat: (formats::elf::ElfCheckpoint, formats::elf::ElfCheckpoint),
    /// What redirecting earlier callers to this link's definitions did
    /// (new versions of redirectable symbols, lazy bodies).
    pub redirects: RedirectReport,
    /// Debugger registrations, dropped (unregistered) with the link.
    _debug: Vec<crate::runtime::debugger::Registration>,
}

/// A host function looked up by name (libgcc / libc runtime entry points).
fn host_fn(name: &std::ffi::CStr) -> Option<usize> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p as usize)
}

/// The host unwinder's (register, deregister) entry points for a whole
/// `.eh_frame` run: LLVM libunwind's dynamic-section API when the process
/// uses libunwind, else libgcc's `__register_frame`/`__deregister_frame`.
fn eh_frame_api() -> Option<(usize, usize)> {
    let unw = host_fn(c"__unw_add_dynamic_eh_frame_section").zip(host_fn(c"__unw_remove_dynamic_eh_frame_section"));
    unw.or_else(|| host_fn(c"__register_frame").zip(host_fn(c"__deregister_frame")))
}

impl Drop for LinkedObject {
    fn drop(&mut self) {
        if let (Some(start), Some((_, f))) = (self.eh_frame, eh_frame_api()) {
            // SAFETY: `start` was registered with __register_frame by this
            // link and its memory is still mapped (the allocation is
            // dropped after this).
            let dereg: extern "C" fn(*const u8) = unsafe { std::mem::transmute::<usize, extern "C" fn(*const u8)>(f) };
            dereg(start as *const u8);
        }
    }
}

/// Resolves the external symbols a link needs, in one batch: given their
/// names, their addresses (`None`: not defined there). Set with
/// [`Session::set_resolver`] to resolve against another process (an
/// out-of-process executor) instead of this one.
pub type ExternalResolver = Box<dyn FnMut(&[&[u8]]) -> Result<Vec<Option<u64>>> + Send>;

/// A JIT link session.
pub struct Session {
    names: Interner,
    memory: Box<dyn MemoryManager>,
    passes: PassConfig,
    table: HashMap<NameId, SessionSymbol>,
    files: Vec<String>,
    abs: Vec<NameId>,
    archives: Vec<Archive>,
    loaded: Vec<Vec<bool>>,
    libraries: Libraries,
    search_dirs: Vec<PathBuf>,
    pending: Vec<(String, InputData)>,
    links: Vec<Option<LinkedObject>>,
    elf_state: formats::elf::ElfState,
    options: SessionOptions,
    arch: Option<Arch>,
    redirector: Option<Arc<Redirector>>,
    resolver: Option<ExternalResolver>,
}

fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

impl Session {
    /// A session whose links get memory from `memory`.
    pub fn new(memory: Box<dyn MemoryManager>, options: SessionOptions) -> Session {
        Session {
            names: Interner::new(),
            memory,
            passes: PassConfig::default(),
            table: HashMap::new(),
            files: vec![String::new()],
            abs: Vec::new(),
            archives: Vec::new(),
            loaded: Vec::new(),
            libraries: Libraries::default(),
            search_dirs: Vec::new(),
            pending: Vec::new(),
            links: Vec::new(),
            elf_state: Default::default(),
            options,
            arch: None,
            redirector: None,
            resolver: None,
        }
    }

    /// A session linking into this process with patchable call sites: every
    /// link, stub and trampoline comes from one JIT arena near libc under
    /// `redirect.policy`, and call sites are recorded for
    /// [`Session::redirect`].
    ///
    /// # Errors
    /// [`Error::Memory`] when the arena cannot be reserved.
    pub fn with_redirection(redirect: RedirectOptions, options: SessionOptions) -> Result<Session> {
        let r = Redirector::new(redirect)?;
        let memory = Box::new(ArenaMemoryManager::new(r.arena().clone()));
        Ok(Session::with_redirector(r, memory, options))
    }

    /// A session with patchable call sites over a redirector the caller
    /// made ([`Redirector::with_arena`]), whose links get memory from
    /// `memory`, which must carve them out of the redirector's arena (as
    /// the out-of-process sessions of `crate::oop` do).
    pub fn with_redirector(r: Arc<Redirector>, memory: Box<dyn MemoryManager>, options: SessionOptions) -> Session {
        let mut s = Session::new(memory, options);
        s.arch = Some(r.code().arch);
        s.redirector = Some(r);
        s
    }

    /// The redirection machinery, for sessions made with
    /// [`Session::with_redirection`].
    pub fn redirector(&self) -> Option<&Arc<Redirector>> {
        self.redirector.as_ref()
    }

    fn need_redirector(&self) -> Result<&Arc<Redirector>> {
        self.redirector
            .as_ref()
            .ok_or_else(|| Error::Usage("this session was not made with Session::with_redirection".into()))
    }

    /// Makes `name` redirectable before the code that calls it is linked;
    /// returns its identity (stub address). See [`Redirector::make_redirectable`].
    ///
    /// # Errors
    /// [`Error::Usage`] without redirection; [`Error::Memory`] for stubs.
    pub fn make_redirectable(&mut self, name: &str) -> Result<u64> {
        let id = self.need_redirector()?.make_redirectable(name)?;
        let n = self.names.intern(name.as_bytes());
        if let Some(e) = self.table.get_mut(&n) {
            e.addr = id;
        }
        Ok(id)
    }

    /// Defines `name` lazily (see [`Redirector::define_lazy`]): links that
    /// reference it resolve to its stub; its first call runs `materializer`.
    ///
    /// # Errors
    /// [`Error::Usage`] without redirection or if `name` is defined;
    /// [`Error::Memory`] for stubs.
    pub fn define_lazy(&mut self, name: &str, materializer: Materializer) -> Result<u64> {
        let n = self.names.intern(name.as_bytes());
        if self.table.contains_key(&n) {
            return Err(Error::DuplicateDefinition {
                symbol: name.into(),
                first: "session".into(),
                second: "lazy".into(),
            });
        }
        let id = self.need_redirector()?.define_lazy(name, materializer)?;
        self.table.insert(
            n,
            SessionSymbol { addr: id, size: 0, weak: false, callable: true, link: None, file: 0, provisional: true },
        );
        Ok(id)
    }

    /// Redirects every call to `names` to `new_address`; see
    /// [`Redirector::redirect`].
    ///
    /// # Errors
    /// As [`Redirector::redirect`]; [`Error::Usage`] without redirection.
    pub fn redirect(&self, names: &[&str], new_address: u64) -> Result<RedirectReport> {
        self.need_redirector()?.redirect(names, new_address)
    }

    /// Retires a link whose code has been superseded: its symbols leave the
    /// table, its call sites are forgotten, and its memory is freed once
    /// every thread registered with [`Redirector::register_thread`] has
    /// passed a quiescent point (at once when none is registered).
    ///
    /// # Errors
    /// [`Error::Usage`] for an unknown link, or when a tracked symbol's
    /// calls still go into the link (redirect them first).
    pub fn retire(&mut self, id: LinkId) -> Result<()> {
        let r = self.need_redirector()?.clone();
        let l = self.linked(id).ok_or_else(|| Error::Usage("unknown link".into()))?;
        let ranges: Vec<(u64, u64)> = crate::graph::Prot::ALL
            .iter()
            .map(|&p| l.alloc.segment(p))
            .filter(|s| s.size > 0)
            .map(|s| (s.target, s.target + s.size))
            .collect();
        if let Some(name) = r.targets_into(&ranges) {
            return Err(Error::Usage(format!("cannot retire link {}: calls to {name} still go into it", id.0)));
        }
        let l = self.take_link(id)?;
        r.epochs().retire(Box::new(l));
        Ok(())
    }

    /// A session linking into this process (one mapping per link).
    pub fn in_process() -> Session {
        Session::new(Box::new(InProcessMemoryManager::new()), SessionOptions::default())
    }

    /// What a link's definitions redirected (see [`LinkedObject::redirects`]).
    pub fn link_report(&self, id: LinkId) -> Option<RedirectReport> {
        self.linked(id).map(|l| l.redirects)
    }

    /// Call sites to `name` are not recorded by later links; see
    /// [`Redirector::set_untracked`].
    ///
    /// # Errors
    /// [`Error::Usage`] without redirection.
    pub fn set_untracked(&self, name: &str) -> Result<()> {
        self.need_redirector()?.set_untracked(name);
        Ok(())
    }

    /// Claims lazy symbols a materializer is about to define in one link;
    /// see [`Redirector::claim_lazy`].
    ///
    /// # Errors
    /// [`Error::Usage`] without redirection.
    pub fn claim_lazy(&self, names: &[&str]) -> Result<Vec<bool>> {
        Ok(self.need_redirector()?.claim_lazy(names))
    }

    /// Gives claimed lazy symbols no link defined back to their own
    /// materializers; see [`Redirector::release_claimed`].
    ///
    /// # Errors
    /// [`Error::Usage`] without redirection.
    pub fn release_claimed(&self, names: &[&str]) -> Result<()> {
        self.need_redirector()?.release_claimed(names);
        Ok(())
    }

    /// Gives up claimed lazy symbols (their calls return 0); see
    /// [`Redirector::fail_claimed`].
    ///
    /// # Errors
    /// [`Error::Usage`] without redirection.
    pub fn fail_claimed(&self, names: &[&str]) -> Result<()> {
        self.need_redirector()?.fail_claimed(names);
        Ok(())
    }

    /// Turns debugger registration (GDB JIT interface) on or off for later
    /// links; off by default.
    pub fn set_debugger_support(&mut self, on: bool) {
        self.options.debugger_support = on;
    }

    /// Turns `/tmp/perf-PID.map` entries on or off for later links; off by default.
    pub fn set_perf_map(&mut self, on: bool) {
        self.options.perf_map = on;
    }

    /// Resolves externals that no link or absolute definition provides
    /// with `resolver` (one call per link, every name at once) instead of
    /// the host's dynamic loader: for links whose code runs in another
    /// process, of any target.
    pub fn set_resolver(&mut self, resolver: ExternalResolver) {
        self.resolver = Some(resolver);
    }

    /// The session's interned names.
    pub fn names(&self) -> &Interner {
        &self.names
    }

    /// Adds a pass that runs at `point` in every later link.
    pub fn add_pass(&mut self, point: PassPoint, pass: Pass) {
        self.passes.add(point, pass);
    }

    /// Queues an object file, or opens an archive or shared library, by
    /// what its bytes say it is.
    ///
    /// # Errors
    /// I/O errors and unknown formats, naming the path.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let data = InputData::open(path)?;
        let name = display_name(path);
        match formats::identify(&name, &data)? {
            FileKind::ElfObject(arch) | FileKind::MachObject(arch) | FileKind::CoffObject(arch) => {
                self.set_arch(arch, &name)?;
                self.pending.push((name, data));
            }
            FileKind::MachUniversal => {
                let slice = self.universal_slice(&name, &data)?;
                self.pending.push((name, InputData::Owned(slice)));
            }
            FileKind::Archive => self.add_archive_data(path, data)?,
            FileKind::SharedLibrary | FileKind::LinkerScript => {
                for a in self.libraries.open(path)? {
                    self.add_archive(&a)?;
                }
            }
        }
        Ok(())
    }

    /// Queues an object held in memory for the next link.
    ///
    /// # Errors
    /// [`Error::Malformed`]/[`Error::Unsupported`] if it is not an object
    /// of a supported target.
    pub fn add_object_bytes(&mut self, name: &str, bytes: Vec<u8>) -> Result<()> {
        match formats::identify(name, &bytes)? {
            FileKind::ElfObject(arch) | FileKind::MachObject(arch) | FileKind::CoffObject(arch) => {
                self.set_arch(arch, name)?;
                self.pending.push((name.to_string(), InputData::Owned(bytes)));
                Ok(())
            }
            FileKind::MachUniversal => {
                let slice = self.universal_slice(name, &bytes)?;
                self.pending.push((name.to_string(), InputData::Owned(slice)));
                Ok(())
            }
            _ => Err(Error::Unsupported { file: name.into(), detail: "not a relocatable object".into() }),
        }
    }

    /// The slice of universal Mach-O file `data` for the session's target
    /// (named by `--triple` or earlier objects, else the host's), which
    /// becomes the session's target.
    fn universal_slice(&mut self, name: &str, data: &[u8]) -> Result<Vec<u8>> {
        let arch = self.arch().ok_or_else(|| Error::Usage(format!("{name}: no target to pick a slice for")))?;
        let slice = formats::macho::select_slice(name, data, arch)?.to_vec();
        self.set_arch(arch, name)?;
        Ok(slice)
    }

    /// Names the target (`--triple`): it picks the slice of universal
    /// Mach-O files, and every object must be for it.
    ///
    /// # Errors
    /// [`Error::Usage`] for a triple naming no supported architecture;
    /// [`Error::Unsupported`] when queued objects are for another target.
    pub fn set_triple(&mut self, triple: &str) -> Result<()> {
        let arch = formats::macho::triple_arch(triple)
            .ok_or_else(|| Error::Usage(format!("--triple {triple}: unsupported target")))?;
        self.set_arch(arch, &format!("--triple {triple}"))
    }

    fn set_arch(&mut self, arch: Arch, name: &str) -> Result<()> {
        match self.arch {
            Some(a) if a != arch => Err(Error::Unsupported {
                file: name.into(),
                detail: format!("target {} differs from the session's {}", arch.triple(), a.triple()),
            }),
            _ => {
                self.arch = Some(arch);
                Ok(())
            }
        }
    }

    /// Adds a static archive; its members join a link when one of their
    /// symbols is first needed.
    ///
    /// # Errors
    /// I/O errors and corrupt archives.
    pub fn add_archive(&mut self, path: &Path) -> Result<()> {
        let data = InputData::open(path)?;
        self.add_archive_data(path, data)
    }

    fn add_archive_data(&mut self, path: &Path, data: InputData) -> Result<()> {
        let ar = Archive::open(path, data, &mut self.names)?;
        self.loaded.push(vec![false; ar.members.len()]);
        self.archives.push(ar);
        Ok(())
    }

    /// Adds a directory that [`Session::add_library`] searches before the
    /// system's.
    pub fn add_search_dir(&mut self, dir: &Path) {
        self.search_dirs.push(dir.to_path_buf());
    }

    /// `-l NAME`: finds `libNAME.so` or `libNAME.a` in the search
    /// directories and opens it (shared: through the dynamic loader;
    /// archive: as a definition generator).
    ///
    /// # Errors
    /// [`Error::Usage`] when no such library exists.
    pub fn add_library(&mut self, name: &str) -> Result<()> {
        let mut dirs = self.search_dirs.clone();
        dirs.extend(dylib::default_search_dirs());
        match dylib::find_library(name, &dirs) {
            Some(dylib::Found::Archive(p)) => self.add_archive(&p),
            Some(dylib::Found::Shared(p)) => {
                for a in self.libraries.open(&p)? {
                    self.add_archive(&a)?;
                }
                Ok(())
            }
            None => Err(Error::Usage(format!("library -l{name} not found (searched {} directories)", dirs.len()))),
        }
    }

    /// Defines `name` as an absolute symbol at `addr` (target address).
    ///
    /// # Errors
    /// [`Error::DuplicateDefinition`] if the session already defines it.
    pub fn define_absolute(&mut self, name: &str, addr: u64) -> Result<()> {
        let n = self.names.intern(name.as_bytes());
        if self.table.contains_key(&n) {
            return Err(Error::DuplicateDefinition {
                symbol: name.into(),
                first: "--abs".into(),
                second: "--abs".into(),
            });
        }
        self.table.insert(
            n,
            SessionSymbol { addr, size: 0, weak: false, callable: false, link: None, file: 0, provisional: false },
        );
        self.abs.push(n);
        Ok(())
    }

    /// The address of a symbol the session defines (links or absolutes).
    pub fn lookup(&self, name: &str) -> Option<u64> {
        self.names.get(name.as_bytes()).and_then(|n| self.table.get(&n)).map(|s| s.addr)
    }

    /// The session table entry of a symbol.
    pub fn symbol(&self, name: &str) -> Option<SessionSymbol> {
        self.names.get(name.as_bytes()).and_then(|n| self.table.get(&n)).copied()
    }

    /// A finished link.
    pub fn linked(&self, id: LinkId) -> Option<&LinkedObject> {
        self.links.get(id.0 as usize).and_then(|l| l.as_ref())
    }

    /// The target of the queued objects (or the host's).
    pub fn arch(&self) -> Option<Arch> {
        self.arch.or_else(Arch::host)
    }

    /// Links every queued object, plus the archive members they need, into
    /// one allocation: build, prune, GOT/PLT, allocate, resolve, fixup,
    /// finalize, with the session's passes at each point. On success the
    /// link's global symbols join the session table.
    ///
    /// # Errors
    /// Any error of the stages: malformed input, unsupported relocations,
    /// undefined symbols (all of them in one error), duplicate definitions,
    /// out-of-range fixups, memory.
    pub fn link(&mut self, opts: &LinkOptions) -> Result<LinkId> {
        let inputs = std::mem::take(&mut self.pending);
        let archives = std::mem::take(&mut self.archives);
        let loaded = self.loaded.clone();
        let cp = self.elf_state.checkpoint();
        let result = self.link_inputs(&inputs, &archives, opts);
        self.archives = archives;
        match &result {
            Ok(id) => {
                let end = self.elf_state.checkpoint();
                if let Some(Some(l)) = self.links.get_mut(id.0 as usize) {
                    l.comdat = (cp, end);
                }
            }
            Err(_) => {
                // A failed link leaves nothing behind: its COMDAT groups and
                // archive members may be taken by the next one.
                self.elf_state.rollback(cp);
                self.loaded = loaded;
            }
        }
        result
    }

    fn link_inputs(
        &mut self,
        inputs: &[(String, InputData)],
        archives: &[Archive],
        opts: &LinkOptions,
    ) -> Result<LinkId> {
        let arch = self.arch().ok_or_else(|| Error::Usage("no input objects".into()))?;
        let verbose = self.options.verbose;
        let t0 = Instant::now();
        let phase = |what: &str| {
            if verbose {
                eprintln!("jitlink: [{:>8.3} ms] {what}", t0.elapsed().as_secs_f64() * 1e3);
            }
        };
        let Session { names, loaded, elf_state, table, .. } = self;
        let mut g = LinkGraph::new(arch.pointer_size(), arch.little_endian());
        let mut file_bytes: Vec<(crate::graph::FileId, &[u8])> = Vec::new();
        // COFF per-link state: __ImageBase, COMDATs kept, weak externals.
        let mut coff = formats::coff::LinkState::default();
        for (name, data) in inputs {
            let f = match formats::identify(name, data)? {
                FileKind::MachObject(_) => formats::macho::build(&mut g, names, name.clone(), data)?,
                FileKind::CoffObject(_) => formats::coff::build(&mut g, names, &mut coff, name.clone(), data)?,
                _ => formats::elf::build(&mut g, names, elf_state, name.clone(), data)?,
            };
            file_bytes.push((f, data));
        }
        phase(&format!("built graph from {} objects", inputs.len()));
        // Archive members, on demand, until nothing new is needed.
        loop {
            let mut want: Vec<(usize, usize)> = Vec::new();
            for (&n, &s) in g.globals.iter() {
                let sym = &g.symbols[s.index()];
                if sym.kind != SymbolKind::External || sym.linkage != Linkage::Strong || table.contains_key(&n) {
                    continue;
                }
                for (ai, ar) in archives.iter().enumerate() {
                    if let Some(mi) = ar.find(n) {
                        if !loaded[ai][mi] {
                            loaded[ai][mi] = true;
                            want.push((ai, mi));
                        }
                        break;
                    }
                }
            }
            if want.is_empty() {
                break;
            }
            want.sort_unstable();
            for (ai, mi) in want {
                let ar = &archives[ai];
                let bytes = ar.member_bytes(mi);
                let mname = ar.members[mi].name.clone();
                match formats::identify(&mname, bytes)? {
                    FileKind::MachObject(a) if a == arch => {
                        let f = formats::macho::build(&mut g, names, mname, bytes)?;
                        file_bytes.push((f, bytes));
                    }
                    FileKind::CoffObject(a) if a == arch => {
                        let f = formats::coff::build(&mut g, names, &mut coff, mname, bytes)?;
                        file_bytes.push((f, bytes));
                    }
                    FileKind::ElfObject(a) if a == arch => {
                        let f = formats::elf::build(&mut g, names, elf_state, mname, bytes)?;
                        file_bytes.push((f, bytes));
                    }
                    _ => {
                        return Err(Error::Unsupported {
                            file: mname,
                            detail: format!("archive member is not a {} object", arch.triple()),
                        })
                    }
                }
            }
        }
        phase(&format!("loaded archive members; {} files in graph", g.files.len()));
        formats::macho::finish(&mut g, names);
        formats::coff::finish(&mut g, names, &mut coff, &|n| table.contains_key(&n));
        link::allocate_commons(&mut g, names);
        link::define_start_stop(&mut g, names);
        link::define_runtime_symbols(&mut g, names);
        link::eh_frame::split(&mut g, names, arch)?;
        // Definitions against the session table.
        for (&n, &s) in g.globals.iter() {
            let sym = &mut g.symbols[s.index()];
            let Some(ex) = table.get(&n) else { continue };
            let redirectable = self.redirector.as_ref().is_some_and(|r| r.identity(&names.str(n)).is_some());
            if !matches!(sym.kind, SymbolKind::Defined | SymbolKind::Absolute) || ex.provisional || redirectable {
                // A redirectable symbol may be defined again: the new
                // definition becomes its body and its callers follow.
                continue;
            }
            if sym.linkage == Linkage::Weak {
                sym.kind = SymbolKind::External;
                sym.block = None;
                sym.resolved = false;
            } else if !ex.weak {
                return Err(Error::DuplicateDefinition {
                    symbol: names.str(n).into_owned(),
                    first: self.files[ex.file as usize].clone(),
                    second: g.files[sym.file.index()].name.clone(),
                });
            }
        }
        self.passes.run(PassPoint::PrePrune, &mut g, &self.names)?;
        link::prune(&mut g);
        phase("pruned");
        let gotplt = arch.build_got_and_stubs(&mut g, &mut self.names)?;
        self.passes.run(PassPoint::PostPrune, &mut g, &self.names)?;
        phase(&format!("GOT/PLT: {} GOT entries, {} stubs", gotplt.got.len(), gotplt.stubs.len()));
        let lay = link::layout(&g, arch);
        let mut alloc = link::allocate(&mut g, &lay, self.memory.as_mut())?;
        phase(&format!(
            "allocated RX {} / R {} / RW {} bytes",
            lay.request.segments[0].size, lay.request.segments[1].size, lay.request.segments[2].size
        ));
        self.passes.run(PassPoint::PostAllocation, &mut g, &self.names)?;
        self.resolve_externals(&mut g)?;
        phase("resolved externals");
        arch.pre_fixup(&mut g, &self.names)?;
        let next_id = self.links.len() as u32;
        let pending = match &self.redirector {
            Some(r) => Some(r.bind_link(&mut g, &self.names, arch, next_id)?),
            None => None,
        };
        self.passes.run(PassPoint::PreFixup, &mut g, &self.names)?;
        link::apply_fixups(&g, &self.names, arch, alloc.as_mut())?;
        phase(&format!("applied {} fixups", g.edge_count()));
        self.passes.run(PassPoint::PostFixup, &mut g, &self.names)?;
        if let Some(path) = &opts.dump_json {
            let abs: Vec<(String, u64)> =
                self.abs.iter().map(|&n| (self.names.str(n).into_owned(), self.table[&n].addr)).collect();
            let rd = self.redirector.as_ref().map(|r| r.dump_info());
            crate::dump::write_file(path, &g, &self.names, arch, alloc.as_ref(), &gotplt, &abs, rd.as_ref())?;
            phase("wrote link dump");
        }
        if opts.show_graph {
            crate::dump::show_graph(&g, &self.names, arch);
        }
        if opts.show_addrs {
            crate::dump::show_addrs(&g, &self.names, &gotplt);
        }
        alloc.finalize()?;
        phase("finalized memory");
        let mut eh_frame = None;
        if alloc.executable_here() && Some(arch) == Arch::host() {
            if let (Some(start), Some((f, _))) = (link::eh_frame::start_address(&g), eh_frame_api()) {
                // SAFETY: `start` is the first record of a complete, zero
                // terminated .eh_frame run in finalized memory of this link,
                // which stays mapped until LinkedObject deregisters it.
                let reg: extern "C" fn(*const u8) =
                    unsafe { std::mem::transmute::<usize, extern "C" fn(*const u8)>(f) };
                reg(start as *const u8);
                eh_frame = Some(start);
            }
        }
        let mut debug = Vec::new();
        if self.options.debugger_support && alloc.executable_here() {
            for &(f, bytes) in &file_bytes {
                let addrs: Vec<(u32, u64)> = g
                    .sections
                    .iter()
                    .filter(|s| s.file == f && s.input_index != u32::MAX)
                    .filter_map(|s| {
                        let lo =
                            s.blocks.iter().map(|&b| &g.blocks[b.index()]).filter(|b| b.live).map(|b| b.addr).min()?;
                        Some((s.input_index, lo))
                    })
                    .collect();
                if let Some(image) = crate::runtime::debugger::patch_section_addresses(bytes, &addrs) {
                    debug.push(crate::runtime::debugger::register(image));
                }
            }
            phase(&format!("registered {} objects with the debugger", debug.len()));
        }
        if self.options.perf_map && alloc.executable_here() {
            let entries: Vec<(u64, u64, String)> = g
                .symbols
                .iter()
                .enumerate()
                .filter(|(_, s)| s.callable && s.size > 0 && s.name.is_some())
                .filter(|(_, s)| s.block.is_some_and(|b| g.blocks[b.index()].live) && s.kind == SymbolKind::Defined)
                .map(|(i, s)| {
                    (
                        g.symbol_addr(crate::graph::SymbolId(i as u32)),
                        s.size,
                        self.names.str(s.name.expect("named")).into_owned(),
                    )
                })
                .collect();
            crate::runtime::perf::append(&entries)
                .map_err(|e| Error::Io { path: format!("/tmp/perf-{}.map", std::process::id()), source: e })?;
        }
        let dso_handle = self
            .names
            .get(b"__dso_handle")
            .and_then(|n| g.globals.get(&n))
            .filter(|&&s| g.is_defined_here(s))
            .map(|&s| g.symbol_addr(s));
        let id = LinkId(self.links.len() as u32);
        let (init, fini) = collect_init_fini(&g, alloc.as_ref());
        let mut symbols = Vec::new();
        for (&n, &s) in g.globals.iter() {
            let sym = &g.symbols[s.index()];
            let defined = match sym.kind {
                SymbolKind::Defined => sym.block.is_some_and(|b| g.blocks[b.index()].live),
                SymbolKind::Absolute => true,
                _ => false,
            };
            if !defined {
                continue;
            }
            let file_index = self.files.len() as u32;
            self.files.push(g.files[sym.file.index()].name.clone());
            let identity = self.redirector.as_ref().and_then(|r| r.identity(&self.names.str(n)));
            self.table.insert(
                n,
                SessionSymbol {
                    provisional: false,
                    addr: identity.unwrap_or_else(|| g.symbol_addr(s)),
                    size: sym.size,
                    weak: sym.linkage == Linkage::Weak,
                    callable: sym.callable,
                    link: Some(id),
                    file: file_index,
                },
            );
            symbols.push(n);
        }
        let counts = (g.blocks.iter().filter(|b| b.live).count(), g.edge_count(), gotplt.got.len(), gotplt.stubs.len());
        self.links.push(Some(LinkedObject {
            alloc,
            init,
            fini,
            symbols,
            counts,
            finis_ran: false,
            eh_frame,
            dso_handle,
            comdat: (self.elf_state.checkpoint(), self.elf_state.checkpoint()),
            _debug: debug,
            redirects: RedirectReport::default(),
        }));
        if let (Some(r), Some(p)) = (&self.redirector, pending) {
            let report = r.commit_link(p);
            if let Some(Some(l)) = self.links.last_mut() {
                l.redirects = report;
            }
        }
        phase("done");
        Ok(id)
    }

    fn resolve_externals(&mut self, g: &mut LinkGraph<'_>) -> Result<()> {
        let mut used = vec![false; g.symbols.len()];
        for b in g.blocks.iter().filter(|b| b.live) {
            for e in b.edges.iter() {
                used[e.target.index()] = true;
            }
        }
        // A resolver answers every name the host would be asked, at once.
        let mut resolved: HashMap<NameId, Option<u64>> = HashMap::new();
        if let (Some(resolve), false) = (self.resolver.as_mut(), self.options.phony_externals) {
            let mut want: Vec<NameId> = Vec::new();
            for (i, sym) in g.symbols.iter().enumerate() {
                let Some(n) = sym.name else { continue };
                if sym.kind == SymbolKind::External
                    && !sym.resolved
                    && used[i]
                    && !self.table.contains_key(&n)
                    && resolved.insert(n, None).is_none()
                {
                    want.push(n);
                }
            }
            if !want.is_empty() {
                let names: Vec<&[u8]> = want.iter().map(|&n| self.names.bytes(n)).collect();
                let addrs = resolve(&names)?;
                for (&n, a) in want.iter().zip(addrs) {
                    resolved.insert(n, a);
                }
            }
        }
        let mut missing: Vec<(String, String)> = Vec::new();
        for (i, sym) in g.symbols.iter_mut().enumerate() {
            if sym.kind != SymbolKind::External || sym.resolved {
                continue;
            }
            let Some(n) = sym.name else { continue };
            let addr = if let Some(s) = self.table.get(&n) {
                Some(s.addr)
            } else if !used[i] {
                continue;
            } else if self.options.phony_externals {
                Some(0)
            } else if self.resolver.is_some() {
                resolved.get(&n).copied().flatten()
            } else if self.arch() == Arch::host() {
                self.libraries.lookup(self.names.bytes(n))
            } else {
                // The host process's symbols mean nothing for another target.
                None
            };
            match addr {
                Some(a) => sym.value = a,
                None if sym.linkage == Linkage::Weak => sym.value = 0,
                None => {
                    missing.push((self.names.str(n).into_owned(), g.files[sym.file.index()].name.clone()));
                    continue;
                }
            }
            sym.resolved = true;
        }
        if !missing.is_empty() {
            missing.sort();
            return Err(Error::UndefinedSymbols { missing });
        }
        Ok(())
    }

    /// Runs a link's initialisers (`.preinit_array`, `.init_array`,
    /// `.ctors`) in order.
    ///
    /// # Safety
    /// Runs JIT'd code: the link must be for this process
    /// ([`Allocation::executable_here`]) and its code trusted.
    ///
    /// # Errors
    /// [`Error::Usage`] for an unknown link or non-executable memory.
    pub unsafe fn run_initializers(&self, id: LinkId) -> Result<()> {
        let l = self.linked(id).ok_or_else(|| Error::Usage("unknown link".into()))?;
        if !l.alloc.executable_here() {
            return Err(Error::Usage("link memory is not executable in this process".into()));
        }
        for &f in &l.init {
            // SAFETY: the caller vouches for the code; f is an initialiser
            // address from the link's init arrays, of type void(void).
            let func: extern "C" fn() = unsafe { std::mem::transmute::<usize, extern "C" fn()>(f as usize) };
            func();
        }
        Ok(())
    }

    /// Runs a link's finalisers (`.fini_array` in reverse, `.dtors`) once.
    ///
    /// # Safety
    /// As [`Session::run_initializers`].
    ///
    /// # Errors
    /// [`Error::Usage`] for an unknown link.
    pub unsafe fn run_finalizers(&mut self, id: LinkId) -> Result<()> {
        let l = self
            .links
            .get_mut(id.0 as usize)
            .and_then(|l| l.as_mut())
            .ok_or_else(|| Error::Usage("unknown link".into()))?;
        if l.finis_ran || !l.alloc.executable_here() {
            return Ok(());
        }
        l.finis_ran = true;
        for &f in &l.fini {
            // SAFETY: as in run_initializers.
            let func: extern "C" fn() = unsafe { std::mem::transmute::<usize, extern "C" fn()>(f as usize) };
            func();
        }
        Ok(())
    }

    /// Calls `main` at `addr`; see [`call_main`].
    ///
    /// # Safety
    /// As [`call_main`].
    pub unsafe fn run_main(&self, addr: u64, args: &[String]) -> i32 {
        // SAFETY: forwarded to the caller.
        unsafe { call_main(addr, args) }
    }

    /// Removes a link: its symbols leave the table and its memory is
    /// unmapped. Finalisers are not run (call
    /// [`Session::run_finalizers`] first if they should).
    ///
    /// # Errors
    /// [`Error::Usage`] for an unknown link.
    pub fn remove(&mut self, id: LinkId) -> Result<()> {
        let l = self.take_link(id)?;
        // Destructors the link's code registered with __cxa_atexit (static
        // objects of C++) run now, once: the code is about to go.
        if let (Some(dso), Some(f), true) = (l.dso_handle, host_fn(c"__cxa_finalize"), l.alloc.executable_here()) {
            // SAFETY: __cxa_finalize(void *dso) runs the handlers registered
            // for this link's own __dso_handle, whose code is still mapped.
            let fin: extern "C" fn(*const u8) = unsafe { std::mem::transmute::<usize, extern "C" fn(*const u8)>(f) };
            fin(dso as *const u8);
        }
        drop(l);
        Ok(())
    }

    fn take_link(&mut self, id: LinkId) -> Result<LinkedObject> {
        let l = self
            .links
            .get_mut(id.0 as usize)
            .and_then(|l| l.take())
            .ok_or_else(|| Error::Usage("unknown link".into()))?;
        for n in &l.symbols {
            if self.table.get(n).is_some_and(|s| s.link == Some(id)) {
                self.table.remove(n);
            }
        }
        if let Some(r) = &self.redirector {
            r.forget_link(id.0);
        }
        // Its COMDAT groups can be defined again by a later link.
        self.elf_state.release(l.comdat.0, l.comdat.1);
        Ok(l)
    }
}

/// Reads the init/fini pointer arrays of a finished link and orders them
/// as GNU ld's default script does (SORT_BY_INIT_PRIORITY; `.ctors.N` has
/// priority 65535 - N and runs in reverse; `.fini_array` runs in reverse).
fn collect_init_fini(g: &LinkGraph<'_>, alloc: &dyn Allocation) -> (Vec<u64>, Vec<u64>) {
    let words = |si: usize| -> Vec<u64> {
        let s = &g.sections[si];
        let seg = alloc.segment(s.prot);
        let work = alloc.working(s.prot);
        let mut out = Vec::new();
        for &b in &s.blocks {
            let blk = &g.blocks[b.index()];
            if !blk.live {
                continue;
            }
            let off = (blk.addr - seg.target) as usize;
            for chunk in work[off..off + blk.size as usize].chunks_exact(8) {
                let v = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
                if v != 0 && v != u64::MAX {
                    out.push(v);
                }
            }
        }
        out
    };
    let mut preinit = Vec::new();
    let mut init: Vec<(u16, u8, usize)> = Vec::new();
    let mut fini: Vec<(u16, u8, usize)> = Vec::new();
    for (i, s) in g.sections.iter().enumerate() {
        match s.role {
            SectionRole::PreinitArray => preinit.extend(words(i)),
            SectionRole::InitArray(p) => init.push((p, 0, i)),
            SectionRole::Ctors(p) => init.push((if p == 65535 { p } else { 65535 - p }, 1, i)),
            SectionRole::FiniArray(p) => fini.push((p, 0, i)),
            SectionRole::Dtors(p) => fini.push((if p == 65535 { p } else { 65535 - p }, 1, i)),
            _ => {}
        }
    }
    init.sort_by_key(|&(p, k, i)| (p, k, i));
    fini.sort_by_key(|&(p, k, i)| (p, k, i));
    let mut run_init = preinit;
    let mut ctors: Vec<u64> = Vec::new();
    let mut last_prio = None;
    for &(p, k, i) in &init {
        if last_prio != Some(p) {
            run_init.extend(ctors.drain(..).rev());
            last_prio = Some(p);
        }
        if k == 0 {
            run_init.extend(words(i));
        } else {
            ctors.extend(words(i));
        }
    }
    run_init.extend(ctors.drain(..).rev());
    let mut array: Vec<u64> = Vec::new();
    for &(_, k, i) in &fini {
        let w = words(i);
        if k == 0 {
            array.extend(w);
        } else {
            array.extend(w.into_iter().rev());
        }
    }
    array.reverse();
    (run_init, array)
}

/// Calls `int main(int argc, char **argv, char **envp)` at `addr` with
/// `args` as argv (argv[0] included) and this process's environment.
///
/// # Safety
/// `addr` must be the address of such a function in executable memory
/// of this process.
pub unsafe fn call_main(addr: u64, args: &[String]) -> i32 {
    let a = MainArgs::new(args);
    type Main = extern "C" fn(libc::c_int, *const *const libc::c_char, *const *const libc::c_char) -> libc::c_int;
    // SAFETY: the caller guarantees addr is a main-like function.
    let main: Main = unsafe { std::mem::transmute::<usize, Main>(addr as usize) };
    main(a.argc(), a.argv(), a.envp())
}

/// The arguments of a C `main(argc, argv, envp)`: owned C strings, a
/// NULL-terminated `argv` over them, and the process's environment. An
/// argument containing NUL is passed as the empty string.
pub struct MainArgs {
    cargs: Vec<std::ffi::CString>,
    argv: Vec<*const libc::c_char>,
}

impl MainArgs {
    /// Builds `argv` from `args` (argv[0] included).
    pub fn new(args: &[String]) -> MainArgs {
        let cargs: Vec<std::ffi::CString> = args
            .iter()
            .map(|a| std::ffi::CString::new(a.as_bytes()).unwrap_or_else(|_| std::ffi::CString::from(c"")))
            .collect();
        let mut argv: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
        argv.push(std::ptr::null());
        MainArgs { cargs, argv }
    }

    /// `argc`.
    pub fn argc(&self) -> libc::c_int {
        self.cargs.len() as libc::c_int
    }

    /// `argv`, valid while `self` lives.
    pub fn argv(&self) -> *const *const libc::c_char {
        self.argv.as_ptr()
    }

    /// `envp`: the process's environment (libc's `environ`).
    pub fn envp(&self) -> *const *const libc::c_char {
        extern "C" {
            static environ: *const *const libc::c_char;
        }
        // SAFETY: environ is libc's environment pointer, valid for the process.
        unsafe { environ }
    }
}
