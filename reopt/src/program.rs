//! The whole program as one LLVM module (the "master"), prepared for
//! per-function partitions, and its static call graph.

use crate::compile::{self, Level};
use crate::error::{Error, Result};
use crate::ffi;
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::{Linkage, Module};
use inkwell::values::FunctionValue;
use inkwell::AddressSpace;
use std::collections::HashMap;
use std::path::Path;

/// Name of the counter array in the data partition: per function 8 × i64
/// (one cache line): `[0]` entries, `[1]` loop back edges.
pub const COUNTERS: &str = "__reopt_counters";
/// Name of the call-edge counter array (one i64 per static call edge).
pub const EDGES: &str = "__reopt_edges";
/// Name of the host hook tier-0 code calls when a counter crosses its threshold.
pub const HOOK: &str = "__reopt_hot";
/// Name of the entry-counting helper in the data partition.
pub const ENTER: &str = "__reopt_enter";

/// What the driver knows about one function, outside LLVM.
#[derive(Clone, Debug)]
pub struct FnInfo {
    /// Symbol name (after local symbols were renamed apart).
    pub name: String,
    /// Instructions (of the unoptimised IR).
    pub size: u32,
    /// Direct callees defined by the program: (function index, edge index).
    pub callees: Vec<(u32, u32)>,
    /// Its block addresses are taken (computed goto): never copied elsewhere.
    pub blockaddress: bool,
}

/// The linked, prepared whole-program module.
pub struct Program {
    module: Module<'static>,
    fns: Vec<FunctionValue<'static>>,
    /// Per defined function, in index order.
    pub info: Vec<FnInfo>,
    /// Static call edges between defined functions.
    pub n_edges: usize,
}

// SAFETY: the program's LLVM context is used by one thread at a time: the
// driver keeps the Program behind a Mutex and never hands out its values.
unsafe impl Send for Program {}

impl Program {
    /// Parses `.ll`/`.bc` files, links them into one module and prepares it.
    ///
    /// # Errors
    /// [`Error::Io`]/[`Error::Llvm`] for unreadable, invalid or conflicting
    /// modules; [`Error::Usage`] for unsupported constructs.
    pub fn load(files: &[&Path]) -> Result<Program> {
        compile::init();
        // The master context lives as long as the process (its code may be
        // re-extracted at any time).
        let ctx: &'static Context = Box::leak(Box::new(Context::create()));
        let mut master: Option<Module<'static>> = None;
        for f in files {
            let buf = MemoryBuffer::create_from_file(f).map_err(|e| Error::Io {
                path: f.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })?;
            let m = ctx.create_module_from_ir(buf).map_err(|e| Error::Llvm(format!("{}: {e}", f.display())))?;
            match &master {
                None => master = Some(m),
                Some(into) => into.link_in_module(m).map_err(|e| Error::Llvm(format!("{}: {e}", f.display())))?,
            }
        }
        let module = master.ok_or_else(|| Error::Usage("no input modules".into()))?;
        ffi::prepare(&module)?;
        compile::maybe_verify(&module, "prepared program")?;
        let fns: Vec<FunctionValue<'static>> =
            module.get_functions().filter(|f| f.get_first_basic_block().is_some()).collect();
        let index: HashMap<FunctionValue<'static>, u32> = fns.iter().enumerate().map(|(i, f)| (*f, i as u32)).collect();
        let mut n_edges = 0usize;
        let info = fns
            .iter()
            .map(|&f| {
                let callees = ffi::callees(f)
                    .into_iter()
                    .filter_map(|c| index.get(&c).copied())
                    .map(|c| {
                        n_edges += 1;
                        (c, (n_edges - 1) as u32)
                    })
                    .collect();
                FnInfo {
                    name: f.get_name().to_string_lossy().into_owned(),
                    size: ffi::inst_count(f),
                    callees,
                    blockaddress: ffi::has_address_taken_blocks(f),
                }
            })
            .collect();
        Ok(Program { module, fns, info, n_edges })
    }

    /// Number of defined functions.
    pub fn len(&self) -> usize {
        self.fns.len()
    }

    /// True when the program defines no function.
    pub fn is_empty(&self) -> bool {
        self.fns.is_empty()
    }

    /// The data partition as an object: every global variable, plus the
    /// profile counters (functions are references, resolved to their stubs).
    ///
    /// # Errors
    /// [`Error::Llvm`] when code generation fails.
    pub fn data_object(&self, probes: &Tier0Probes) -> Result<Vec<u8>> {
        let m = ffi::clone_globals(&self.module);
        let ctx = m.get_context();
        let i64t = ctx.i64_type();
        let i32t = ctx.i32_type();
        let mut counters = None;
        for (name, n) in [(COUNTERS, self.fns.len().max(1) * 8), (EDGES, self.n_edges.max(1))] {
            let ty = i64t.array_type(n as u32);
            let g = m.add_global(ty, Some(AddressSpace::default()), name);
            g.set_initializer(&ty.const_zero());
            g.set_alignment(64);
            g.set_linkage(Linkage::External);
            g.set_visibility(inkwell::GlobalVisibility::Hidden);
            counters.get_or_insert(g);
        }
        let counters = counters.expect("made");
        // void __reopt_enter(i32 index): old = atomicrmw add counters[index*8], 1;
        // if old == threshold - 1: __reopt_hot(ctx, index, 0)
        let hook_ty = ctx.void_type().fn_type(&[i64t.into(), i32t.into(), i32t.into()], false);
        let hook = m.add_function(HOOK, hook_ty, Some(Linkage::External));
        let enter = m.add_function(ENTER, ctx.void_type().fn_type(&[i32t.into()], false), Some(Linkage::External));
        enter.as_global_value().set_visibility(inkwell::GlobalVisibility::Hidden);
        let llvm = |e: inkwell::builder::BuilderError| Error::Llvm(e.to_string());
        let b = ctx.create_builder();
        let entry = ctx.append_basic_block(enter, "entry");
        let hot = ctx.append_basic_block(enter, "hot");
        let done = ctx.append_basic_block(enter, "done");
        b.position_at_end(entry);
        let index = enter.get_nth_param(0).expect("one parameter").into_int_value();
        let wide = b.build_int_z_extend(index, i64t, "i").map_err(llvm)?;
        let slot = b.build_int_mul(wide, i64t.const_int(8, false), "slot").map_err(llvm)?;
        // SAFETY: index < number of functions, so the slot is inside the array.
        let p = unsafe { b.build_gep(counters.as_pointer_value(), &[i64t.const_zero(), slot], "p") }.map_err(llvm)?;
        let old = b
            .build_atomicrmw(
                inkwell::AtomicRMWBinOp::Add,
                p,
                i64t.const_int(1, false),
                inkwell::AtomicOrdering::Monotonic,
            )
            .map_err(llvm)?;
        let hit = b
            .build_int_compare(
                inkwell::IntPredicate::EQ,
                old,
                i64t.const_int(probes.threshold.max(1) - 1, false),
                "hit",
            )
            .map_err(llvm)?;
        b.build_conditional_branch(hit, hot, done).map_err(llvm)?;
        b.position_at_end(hot);
        b.build_call(hook, &[i64t.const_int(probes.ctx, false).into(), index.into(), i32t.const_zero().into()], "")
            .map_err(llvm)?;
        b.build_unconditional_branch(done).map_err(llvm)?;
        b.position_at_end(done);
        b.build_return(None).map_err(llvm)?;
        compile::maybe_verify(&m, "data partition")?;
        compile::emit(&m, Level::O2)
    }

    /// The whole program as one object at `level` (eager mode).
    ///
    /// # Errors
    /// [`Error::Llvm`] when code generation fails.
    pub fn whole_object(&self, level: Level) -> Result<Vec<u8>> {
        compile::optimize(&self.module, level)?;
        compile::emit(&self.module, level)
    }

    /// Bitcode of a partition: `defs` defined, `avail` as
    /// `available_externally` copies (and, when `const_limit` > 0, the
    /// constant globals they read up to that size).
    pub fn extract(&self, defs: &[u32], avail: &[u32], const_limit: u64) -> Vec<u8> {
        self.with_partition(defs, avail, const_limit, |m| ffi::bitcode(m))
    }

    /// Runs `f` on a partition (see [`Program::extract`]) built in the
    /// program's own context, which `f` may instrument and compile; the
    /// partition is dropped afterwards.
    pub fn with_partition<R>(
        &self,
        defs: &[u32],
        avail: &[u32],
        const_limit: u64,
        f: impl FnOnce(&Module<'static>) -> R,
    ) -> R {
        let d: Vec<FunctionValue<'_>> = defs.iter().map(|&i| self.fns[i as usize]).collect();
        let a: Vec<FunctionValue<'_>> = avail.iter().map(|&i| self.fns[i as usize]).collect();
        let m = ffi::extract(&self.module, &d, &a, const_limit);
        f(&m)
    }
}

/// Tier-0 instrumentation settings (see `ffi::instrument`).
pub struct Tier0Probes {
    /// Passed to the hook (the driver's state).
    pub ctx: u64,
    /// Entry count that calls the hook.
    pub threshold: u64,
    /// Back-edge counts that are multiples of `backedge_mask + 1` call the hook.
    pub backedge_mask: u64,
}

/// Instruments the functions `batch` of partition `m` (entry, back-edge and
/// call-edge counters, the hook), declaring the counters and the hook.
///
/// # Errors
/// [`Error::Llvm`] when a function of the batch is missing from `m`.
pub fn instrument(m: &Module<'_>, batch: &[u32], info: &[FnInfo], p: &Tier0Probes) -> Result<()> {
    let n_edges: usize = info.iter().map(|f| f.callees.len()).sum();
    let ctx = m.get_context();
    let i64t = ctx.i64_type();
    let declare = |name: &str, n: usize| {
        let g = m.add_global(i64t.array_type(n as u32), Some(AddressSpace::default()), name);
        g.set_linkage(Linkage::External);
        g.set_visibility(inkwell::GlobalVisibility::Hidden);
        g
    };
    let counters = declare(COUNTERS, info.len().max(1) * 8);
    let edges = declare(EDGES, n_edges.max(1));
    let hook_ty = ctx.void_type().fn_type(&[i64t.into(), ctx.i32_type().into(), ctx.i32_type().into()], false);
    let hook = m.add_function(HOOK, hook_ty, Some(Linkage::External));
    let enter =
        m.add_function(ENTER, ctx.void_type().fn_type(&[ctx.i32_type().into()], false), Some(Linkage::External));
    enter.as_global_value().set_visibility(inkwell::GlobalVisibility::Hidden);
    for &index in batch {
        let fi = &info[index as usize];
        let f = m.get_function(&fi.name).ok_or_else(|| Error::Llvm(format!("{} lost in extraction", fi.name)))?;
        let callees: Vec<_> = fi
            .callees
            .iter()
            .filter_map(|&(c, e)| m.get_function(&info[c as usize].name).map(|cf| (cf, u64::from(e))))
            .collect();
        ffi::instrument(
            f,
            &ffi::Probes {
                counters,
                edges,
                hook,
                enter,
                ctx: p.ctx,
                index,
                threshold: p.threshold,
                backedge_mask: p.backedge_mask,
                callees: &callees,
            },
        );
    }
    Ok(())
}
