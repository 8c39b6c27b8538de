//! The C++ shim (`shim/reopt_shim.cpp`): the LLVM operations the C API
//! lacks, wrapped for inkwell types.

use crate::error::{Error, Result};
use inkwell::module::Module;
use inkwell::values::{AsValueRef, FunctionValue, GlobalValue};
use llvm_sys::prelude::{LLVMMemoryBufferRef, LLVMModuleRef, LLVMValueRef};
use std::os::raw::c_uint;

extern "C" {
    fn reopt_prepare(m: LLVMModuleRef) -> c_uint;
    fn reopt_clone_globals(m: LLVMModuleRef) -> LLVMModuleRef;
    fn reopt_inst_count(f: LLVMValueRef) -> c_uint;
    fn reopt_has_address_taken_blocks(f: LLVMValueRef) -> std::os::raw::c_int;
    fn reopt_callees(f: LLVMValueRef, out: *mut LLVMValueRef, cap: c_uint) -> c_uint;
    fn reopt_extract_module(
        m: LLVMModuleRef,
        defs: *const LLVMValueRef,
        ndefs: c_uint,
        avail: *const LLVMValueRef,
        navail: c_uint,
        const_limit: u64,
    ) -> LLVMModuleRef;
    fn reopt_write_bitcode(m: LLVMModuleRef) -> LLVMMemoryBufferRef;
    fn reopt_instrument(
        f: LLVMValueRef,
        counters: LLVMValueRef,
        edges: LLVMValueRef,
        hook: LLVMValueRef,
        enter: LLVMValueRef,
        ctx: u64,
        index: u32,
        threshold: u64,
        backedge_mask: u64,
        callees: *const LLVMValueRef,
        edge_index: *const u64,
        ncallees: c_uint,
    ) -> c_uint;
}

/// Makes every definition of a whole-program module visible across
/// partitions (see the shim). Fails on aliases and ifuncs.
///
/// # Errors
/// [`Error::Usage`] when the module has aliases or ifuncs.
pub fn prepare(m: &Module<'_>) -> Result<()> {
    // SAFETY: m is a valid module owned by the caller, used by this thread only.
    let unsupported = unsafe { reopt_prepare(m.as_mut_ptr()) };
    if unsupported > 0 {
        return Err(Error::Usage(format!("{unsupported} global aliases/ifuncs: not supported")));
    }
    Ok(())
}

/// A module (same context) with every global variable of `m` defined and
/// every function declared.
pub fn clone_globals<'ctx>(m: &Module<'ctx>) -> Module<'ctx> {
    // SAFETY: m is valid; the shim returns a new module in m's context that
    // nothing else owns, which Module::new takes ownership of.
    unsafe { Module::new(reopt_clone_globals(m.as_mut_ptr())) }
}

/// Instructions in `f`.
pub fn inst_count(f: FunctionValue<'_>) -> u32 {
    // SAFETY: f is a valid function value.
    unsafe { reopt_inst_count(f.as_value_ref()) }
}

/// True if `f`'s block addresses are taken (computed goto).
pub fn has_address_taken_blocks(f: FunctionValue<'_>) -> bool {
    // SAFETY: f is a valid function value.
    unsafe { reopt_has_address_taken_blocks(f.as_value_ref()) != 0 }
}

/// The distinct functions defined in `f`'s module that `f` calls directly.
pub fn callees<'ctx>(f: FunctionValue<'ctx>) -> Vec<FunctionValue<'ctx>> {
    // SAFETY: f is valid; with a null buffer and capacity 0 the shim only counts.
    let n = unsafe { reopt_callees(f.as_value_ref(), std::ptr::null_mut(), 0) };
    let mut out: Vec<LLVMValueRef> = vec![std::ptr::null_mut(); n as usize];
    // SAFETY: out has room for n values.
    let m = unsafe { reopt_callees(f.as_value_ref(), out.as_mut_ptr(), n) };
    debug_assert_eq!(m, n);
    // SAFETY: the shim wrote function values.
    out.into_iter().filter_map(|v| unsafe { FunctionValue::new(v) }).collect()
}

/// A new module (in `m`'s context) holding `defs` as definitions and
/// `avail` as `available_externally` copies, everything else they
/// reference declared (constant globals up to `const_limit` bytes copied
/// `available_externally`).
pub fn extract<'ctx>(
    m: &Module<'ctx>,
    defs: &[FunctionValue<'ctx>],
    avail: &[FunctionValue<'ctx>],
    const_limit: u64,
) -> Module<'ctx> {
    let d: Vec<LLVMValueRef> = defs.iter().map(|f| f.as_value_ref()).collect();
    let a: Vec<LLVMValueRef> = avail.iter().map(|f| f.as_value_ref()).collect();
    // SAFETY: m and the functions (which belong to m) are valid and used by
    // this thread only (the caller holds the program's lock); the module
    // returned is new and owned by the Module wrapper.
    unsafe {
        Module::new(reopt_extract_module(
            m.as_mut_ptr(),
            d.as_ptr(),
            d.len() as c_uint,
            a.as_ptr(),
            a.len() as c_uint,
            const_limit,
        ))
    }
}

/// `m` as bitcode.
pub fn bitcode(m: &Module<'_>) -> Vec<u8> {
    // SAFETY: m is valid and used by this thread only; the buffer returned is
    // ours to dispose of, after copying it.
    unsafe {
        let buf = reopt_write_bitcode(m.as_mut_ptr());
        let start = llvm_sys::core::LLVMGetBufferStart(buf) as *const u8;
        let len = llvm_sys::core::LLVMGetBufferSize(buf);
        let bytes = std::slice::from_raw_parts(start, len).to_vec();
        llvm_sys::core::LLVMDisposeMemoryBuffer(buf);
        bytes
    }
}

/// Where tier-0 instrumentation counts and whom it tells.
pub struct Probes<'a, 'ctx> {
    /// `[N*8 x i64]` entry (slot 0) and back-edge (slot 1) counters.
    pub counters: GlobalValue<'ctx>,
    /// `[E x i64]` call-edge counters.
    pub edges: GlobalValue<'ctx>,
    /// `void(i64 ctx, i32 index, i32 reason)`.
    pub hook: FunctionValue<'ctx>,
    /// `void(i32 index)`: counts an entry (atomically), calls the hook at the threshold.
    pub enter: FunctionValue<'ctx>,
    /// Passed to the hook.
    pub ctx: u64,
    /// The function's index.
    pub index: u32,
    /// Entry count that calls the hook.
    pub threshold: u64,
    /// Back-edge counts that are multiples of `backedge_mask + 1` call the hook.
    pub backedge_mask: u64,
    /// Direct callees to count, with their edge-counter index.
    pub callees: &'a [(FunctionValue<'ctx>, u64)],
}

/// Instruments `f` (see the shim); returns the number of loop headers.
pub fn instrument(f: FunctionValue<'_>, p: &Probes<'_, '_>) -> u32 {
    let callees: Vec<LLVMValueRef> = p.callees.iter().map(|(c, _)| c.as_value_ref()).collect();
    let index: Vec<u64> = p.callees.iter().map(|&(_, e)| e).collect();
    // SAFETY: every value belongs to f's module, which this thread owns.
    unsafe {
        reopt_instrument(
            f.as_value_ref(),
            p.counters.as_value_ref(),
            p.edges.as_value_ref(),
            p.hook.as_value_ref(),
            p.enter.as_value_ref(),
            p.ctx,
            p.index,
            p.threshold.max(1),
            p.backedge_mask,
            callees.as_ptr(),
            index.as_ptr(),
            callees.len() as c_uint,
        )
    }
}
