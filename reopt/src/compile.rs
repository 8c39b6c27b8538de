//! IR to object code: optimisation pipelines and code generation.
//!
//! Code is generated for the generic `x86-64` CPU (as a native `clang`
//! build without `-march` would), position independent (external data
//! through the GOT, thread-locals general-dynamic: what a JIT link of code
//! that is not part of the executable needs), small code model.

use crate::error::{Error, Result};
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple};
use inkwell::OptimizationLevel;
use std::cell::RefCell;
use std::sync::Once;

/// An optimisation level.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// No IR passes, fast instruction selection.
    O0,
    /// `-O1`: light IR passes, no inliner.
    O1,
    /// `-O2`.
    O2,
    /// `-O3`.
    O3,
}

impl Level {
    /// Parses `O0`..`O3` (a leading `-` is accepted).
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim_start_matches('-') {
            "O0" | "0" => Some(Level::O0),
            "O1" | "1" => Some(Level::O1),
            "O2" | "2" => Some(Level::O2),
            "O3" | "3" => Some(Level::O3),
            _ => None,
        }
    }

    fn codegen(self) -> OptimizationLevel {
        match self {
            Level::O0 => OptimizationLevel::None,
            Level::O1 => OptimizationLevel::Less,
            Level::O2 => OptimizationLevel::Default,
            Level::O3 => OptimizationLevel::Aggressive,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

static INIT: Once = Once::new();

/// Initialises LLVM's x86 target (once per process).
pub fn init() {
    INIT.call_once(|| {
        Target::initialize_x86(&InitializationConfig::default());
        // Calls never cross (or end at) a 16-byte boundary, so jitlink can
        // patch every direct call site in place with one aligned 16-byte
        // compare-and-swap instead of leaving ~1 in 5 on the stub (LLVM's
        // padding for the JCC erratum, pointed at calls). REOPT_LLVM_ARGS
        // adds options (space or comma separated; a debugging aid).
        let extra = std::env::var("REOPT_LLVM_ARGS").unwrap_or_default();
        let owned: Vec<std::ffi::CString> = ["reopt", "-x86-align-branch-boundary=16", "-x86-align-branch=call"]
            .into_iter()
            .chain(extra.split([' ', ',']).filter(|a| !a.is_empty()))
            .filter_map(|a| std::ffi::CString::new(a).ok())
            .collect();
        let argv: Vec<*const std::ffi::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        // SAFETY: argc matches argv, an array of NUL-terminated strings
        // that outlive the call; LLVM copies what it keeps.
        unsafe { llvm_sys::support::LLVMParseCommandLineOptions(argv.len() as i32, argv.as_ptr(), std::ptr::null()) };
    });
}

thread_local! {
    /// Target machines are not shared between threads; each thread keeps one per level.
    static MACHINES: RefCell<Vec<(Level, TargetMachine)>> = const { RefCell::new(Vec::new()) };
}

fn with_machine<R>(level: Level, f: impl FnOnce(&TargetMachine) -> R) -> Result<R> {
    init();
    MACHINES.with(|m| {
        let mut m = m.borrow_mut();
        if !m.iter().any(|(l, _)| *l == level) {
            let triple = TargetTriple::create("x86_64-pc-linux-gnu");
            let target = Target::from_triple(&triple).map_err(|e| Error::Llvm(e.to_string()))?;
            let tm = target
                .create_target_machine(&triple, "x86-64", "", level.codegen(), RelocMode::PIC, CodeModel::Small)
                .ok_or_else(|| Error::Llvm("cannot create an x86-64 target machine".into()))?;
            m.push((level, tm));
        }
        let tm = &m.iter().find(|(l, _)| *l == level).expect("just added").1;
        Ok(f(tm))
    })
}

/// Runs LLVM's standard `level` pipeline (the new pass manager's
/// `default<On>`, as `clang -On`, inliner included from -O2 on) on `module`.
///
/// # Errors
/// [`Error::Llvm`] when the pipeline fails.
pub fn optimize(module: &Module<'_>, level: Level) -> Result<()> {
    let pipeline = match level {
        Level::O0 => return Ok(()),
        Level::O1 => "default<O1>",
        Level::O2 => "default<O2>",
        Level::O3 => "default<O3>",
    };
    with_machine(level, |tm| {
        module.set_data_layout(&tm.get_target_data().get_data_layout());
        module.run_passes(pipeline, tm, PassBuilderOptions::create()).map_err(|e| Error::Llvm(e.to_string()))
    })?
}

/// Generates an ELF relocatable object for `module` at `level`.
///
/// # Errors
/// [`Error::Llvm`] when code generation fails.
pub fn emit(module: &Module<'_>, level: Level) -> Result<Vec<u8>> {
    with_machine(level, |tm| {
        module.set_data_layout(&tm.get_target_data().get_data_layout());
        tm.write_to_memory_buffer(module, FileType::Object)
            .map(|b| b.as_slice().to_vec())
            .map_err(|e| Error::Llvm(e.to_string()))
    })?
}

/// Loads bitcode into `ctx`.
///
/// # Errors
/// [`Error::Llvm`] when it does not parse.
pub fn load<'ctx>(ctx: &'ctx Context, bitcode: &[u8], name: &str) -> Result<Module<'ctx>> {
    let buf = MemoryBuffer::create_from_memory_range_copy(bitcode, name);
    ctx.create_module_from_ir(buf).map_err(|e| Error::Llvm(format!("{name}: {e}")))
}

/// Verifies `module` when `REOPT_VERIFY` is set (a debugging aid).
///
/// # Errors
/// [`Error::Llvm`] naming what is wrong.
pub fn maybe_verify(module: &Module<'_>, what: &str) -> Result<()> {
    if std::env::var_os("REOPT_VERIFY").is_some() {
        module.verify().map_err(|e| Error::Llvm(format!("{what}: {e}")))?;
    }
    Ok(())
}

/// Optimises and compiles a tiny module at `level` on this thread, so the
/// first real compilation does not pay for LLVM's one-time setup.
///
/// # Errors
/// [`Error::Llvm`] when that fails.
pub fn warm_up(level: Level) -> Result<()> {
    let ctx = Context::create();
    let m = ctx.create_module("warm-up");
    let i64t = ctx.i64_type();
    let f = m.add_function("warm_up", i64t.fn_type(&[i64t.into()], false), None);
    let b = ctx.create_builder();
    b.position_at_end(ctx.append_basic_block(f, "entry"));
    let x = f.get_nth_param(0).expect("one parameter").into_int_value();
    let y = b.build_int_mul(x, x, "y").map_err(|e| Error::Llvm(e.to_string()))?;
    b.build_return(Some(&y)).map_err(|e| Error::Llvm(e.to_string()))?;
    optimize(&m, level)?;
    emit(&m, level).map(|_| ())
}
