//! Thread-local storage for JIT'd code (x86-64 Linux host).
//!
//! A link's `.tdata`/`.tbss` sections form a template in its read-only
//! memory; a [`TlsModule`] descriptor (RW data of the link) names it. Each
//! thread gets its own copy of the template on first access, found through
//! a pthread key and freed when the thread exits.
//!
//! Models served (System V x86-64 psABI, "ELF Handling for Thread-Local
//! Storage"): general dynamic and local dynamic (`__tls_get_addr` on a
//! `{module, offset}` pair: the link's references to `__tls_get_addr` bind
//! to [`tls_get_addr`] here, never to the C library's), and TLS
//! descriptors (`-mtls-dialect=gnu2`: the pair `{resolver, &{module,
//! offset}}` whose resolver returns the variable's offset from the thread
//! pointer). Initial exec and local exec need the process's static TLS
//! block, which cannot grow after startup, and are rejected at link time.

use std::sync::atomic::{AtomicU64, Ordering};

/// The thread-local module descriptor of a link, 32 bytes in its RW data.
#[repr(C)]
pub struct TlsModule {
    /// Address of the template (`.tdata` then `.tbss`).
    pub image: u64,
    /// Template size in bytes (each thread's block size).
    pub size: u64,
    /// Block alignment in bytes.
    pub align: u64,
    /// `pthread_key_t + 1` once created; 0 before.
    pub key: AtomicU64,
}

/// `tls_index` of the psABI: `{module, offset}`.
#[repr(C)]
pub struct TlsIndex {
    /// The link's [`TlsModule`].
    pub module: *const TlsModule,
    /// Offset of the variable within the block.
    pub offset: u64,
}

unsafe extern "C" fn free_block(p: *mut libc::c_void) {
    // SAFETY: p was allocated with posix_memalign by `block`.
    unsafe { libc::free(p) };
}

fn key_of(m: &TlsModule) -> libc::pthread_key_t {
    let k = m.key.load(Ordering::Acquire);
    if k != 0 {
        return (k - 1) as libc::pthread_key_t;
    }
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: creating a key with a destructor that frees our blocks.
    let rc = unsafe { libc::pthread_key_create(&mut key, Some(free_block)) };
    if rc != 0 {
        eprintln!("jitlink: pthread_key_create failed for thread-local storage");
        std::process::abort();
    }
    match m.key.compare_exchange(0, u64::from(key) + 1, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => key,
        Err(won) => {
            // SAFETY: our key was never used.
            unsafe { libc::pthread_key_delete(key) };
            (won - 1) as libc::pthread_key_t
        }
    }
}

/// This thread's block of module `m`, created from the template on first use.
fn block(m: &TlsModule) -> *mut u8 {
    let key = key_of(m);
    // SAFETY: key is a valid pthread key.
    let p = unsafe { libc::pthread_getspecific(key) };
    if !p.is_null() {
        return p.cast();
    }
    let size = m.size.max(1) as usize;
    let align = m.align.max(16).next_power_of_two() as usize;
    let mut out: *mut libc::c_void = std::ptr::null_mut();
    // SAFETY: posix_memalign with a power-of-two alignment.
    if unsafe { libc::posix_memalign(&mut out, align, size) } != 0 {
        eprintln!("jitlink: out of memory for a thread-local block of {size} bytes");
        std::process::abort();
    }
    // SAFETY: `image` is the link's template of `size` readable bytes
    // (.tbss part zero-filled); `out` has room for them.
    unsafe {
        std::ptr::copy_nonoverlapping(m.image as *const u8, out.cast::<u8>(), m.size as usize);
        libc::pthread_setspecific(key, out);
    }
    out.cast()
}

/// The link's `__tls_get_addr`: the address of `ti.offset` in this
/// thread's block of `ti.module`.
///
/// # Safety
/// `ti` must point at a `{module, offset}` pair built by the linker.
pub unsafe extern "C" fn tls_get_addr(ti: *const TlsIndex) -> *mut u8 {
    // SAFETY: the caller's pair was written by the linker: module points at
    // the link's live descriptor.
    let (m, off) = unsafe { (&*(*ti).module, (*ti).offset) };
    block(m).wrapping_add(off as usize)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
core::arch::global_asm!(
    ".globl jitlink_x86_64_tlsdesc_resolver",
    ".hidden jitlink_x86_64_tlsdesc_resolver",
    ".type jitlink_x86_64_tlsdesc_resolver,@function",
    "jitlink_x86_64_tlsdesc_resolver:",
    // TLS descriptor calling convention: rax = &{resolver, arg}; return the
    // variable's offset from the thread pointer in rax; every other
    // register (and flags are free) is preserved, x87/SSE included.
    "push rbp",
    "mov rbp, rsp",
    "and rsp, -64",
    "sub rsp, 832",
    "mov [rsp + 0], rdi",
    "mov [rsp + 8], rsi",
    "mov [rsp + 16], rdx",
    "mov [rsp + 24], rcx",
    "mov [rsp + 32], r8",
    "mov [rsp + 40], r9",
    "mov [rsp + 48], r10",
    "mov [rsp + 56], r11",
    "fxsave64 [rsp + 64]",
    "mov rdi, [rax + 8]",
    "call {get}",
    "sub rax, fs:0",
    "fxrstor64 [rsp + 64]",
    "mov r11, [rsp + 56]",
    "mov r10, [rsp + 48]",
    "mov r9, [rsp + 40]",
    "mov r8, [rsp + 32]",
    "mov rcx, [rsp + 24]",
    "mov rdx, [rsp + 16]",
    "mov rsi, [rsp + 8]",
    "mov rdi, [rsp + 0]",
    "mov rsp, rbp",
    "pop rbp",
    "ret",
    ".size jitlink_x86_64_tlsdesc_resolver, . - jitlink_x86_64_tlsdesc_resolver",
    get = sym tls_get_addr,
);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
extern "C" {
    fn jitlink_x86_64_tlsdesc_resolver();
}

/// Host addresses the linker binds TLS references to:
/// `(__tls_get_addr replacement, TLSDESC resolver)`, on an x86-64 Linux host.
pub fn host_entry_points() -> Option<(u64, u64)> {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        Some((tls_get_addr as *const () as u64, jitlink_x86_64_tlsdesc_resolver as *const () as u64))
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        None
    }
}
