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

/// The pthread key's destructor: frees a thread's block.
///
/// # Safety
/// `p` must be a block allocated by [`block`] (pthread calls this with the
/// thread's value of the key, once, at thread exit).
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

// --- Mach-O thread-local variables ---
//
// A Mach-O object reaches a thread-local variable through its descriptor
// in `__thread_vars` (dyld's `threadLocalVariables.c`): `{thunk, key,
// offset}`, called as `movq _v@TLVP(%rip), %rdi; callq *(%rdi)` on
// x86-64. The linker points `key` at the link's [`TlsModule`] (the
// template is the link's `__thread_data`/`__thread_bss`) and makes
// `offset` the variable's offset in the template; `thunk` is
// `__tlv_bootstrap`, bound to [`macho_tlv_bootstrap`]'s routine.

/// A Mach-O thread-local variable descriptor as the linker leaves it.
#[repr(C)]
pub struct TlvDescriptor {
    /// The routine called with the descriptor's address (`__tlv_bootstrap`).
    pub thunk: u64,
    /// Mach-O's pthread key word: the link's [`TlsModule`].
    pub key: *const TlsModule,
    /// Offset of the variable in the thread's block.
    pub offset: u64,
}

/// The address of `d`'s variable in this thread's block of `d.key`
/// (created from the template on the thread's first access).
///
/// # Safety
/// `d` must point at a descriptor the linker filled: `key` points at the
/// link's live module descriptor.
pub unsafe extern "C" fn macho_tlv_get_addr(d: *const TlvDescriptor) -> *mut u8 {
    // SAFETY: the caller's descriptor was written by the linker.
    let (m, off) = unsafe { (&*(*d).key, (*d).offset) };
    block(m).wrapping_add(off as usize)
}

/// The XSAVE feature mask the Mach-O thunk saves and restores (x87, SSE,
/// AVX and AVX-512 state, as enabled in XCR0), or 0 to use FXSAVE (x87
/// and SSE only) where XSAVE is unavailable or its layout is not the
/// standard one. Set by [`macho_tlv_bootstrap`] before any code can call
/// the thunk.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
static MACHO_TLV_XSAVE_MASK: AtomicU64 = AtomicU64::new(0);

/// Bytes of the thunk's XSAVE area: the standard format up to the end of
/// the AVX-512 `Hi16_ZMM` component (offset 1664, 1024 bytes).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
const XSAVE_AREA: u32 = 2688;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn xsave_mask() -> u64 {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    if !std::arch::is_x86_feature_detected!("xsave") {
        return 0;
    }
    let max_leaf = __cpuid(0).eax;
    // SAFETY: XGETBV exists when XSAVE is supported and enabled by the
    // operating system (checked above: the detection requires OSXSAVE).
    let xcr0 = unsafe { std::arch::x86_64::_xgetbv(0) };
    if max_leaf < 0xd {
        return 0;
    }
    // x87 (0), SSE (1), AVX (2), opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7):
    // the registers compiled code uses (MPX, PKRU and AMX state are left
    // alone, as glibc's lazy-binding trampoline does).
    let mask = xcr0 & 0xe7;
    for c in (2..8).filter(|c| mask & (1 << c) != 0) {
        // Leaf 0xD sub-leaf c: size (eax) and offset (ebx) of component c.
        let r = __cpuid_count(0xd, c);
        if r.ebx.checked_add(r.eax).is_none_or(|end| end > XSAVE_AREA) {
            return 0;
        }
    }
    mask
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
core::arch::global_asm!(
    ".globl jitlink_x86_64_macho_tlv_bootstrap",
    ".hidden jitlink_x86_64_macho_tlv_bootstrap",
    ".type jitlink_x86_64_macho_tlv_bootstrap,@function",
    "jitlink_x86_64_macho_tlv_bootstrap:",
    // Mach-O TLV convention: rdi = the descriptor; the variable's address
    // is returned in rax; every other register is preserved (rdi
    // included, which callers may not rely on), vector state too.
    "push rbp",
    "mov rbp, rsp",
    "and rsp, -64",
    "sub rsp, {frame}",
    "mov [rsp + 0], rdi",
    "mov [rsp + 8], rsi",
    "mov [rsp + 16], rdx",
    "mov [rsp + 24], rcx",
    "mov [rsp + 32], r8",
    "mov [rsp + 40], r9",
    "mov [rsp + 48], r10",
    "mov [rsp + 56], r11",
    "mov rax, [rip + {mask}]",
    "test rax, rax",
    "jz 2f",
    // XRSTOR faults on a header with reserved bits set: clear it.
    "xor edx, edx",
    "mov [rsp + 128 + 512], rdx",
    "mov [rsp + 128 + 520], rdx",
    "mov [rsp + 128 + 528], rdx",
    "mov [rsp + 128 + 536], rdx",
    "mov [rsp + 128 + 544], rdx",
    "mov [rsp + 128 + 552], rdx",
    "mov [rsp + 128 + 560], rdx",
    "mov [rsp + 128 + 568], rdx",
    "mov rdx, rax",
    "shr rdx, 32",
    "xsave64 [rsp + 128]",
    "jmp 3f",
    "2:",
    "fxsave64 [rsp + 128]",
    "3:",
    "call {get}",
    "mov [rsp + 64], rax",
    "mov rax, [rip + {mask}]",
    "test rax, rax",
    "jz 4f",
    "mov rdx, rax",
    "shr rdx, 32",
    "xrstor64 [rsp + 128]",
    "jmp 5f",
    "4:",
    "fxrstor64 [rsp + 128]",
    "5:",
    "mov rax, [rsp + 64]",
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
    ".size jitlink_x86_64_macho_tlv_bootstrap, . - jitlink_x86_64_macho_tlv_bootstrap",
    frame = const 128 + XSAVE_AREA,
    mask = sym MACHO_TLV_XSAVE_MASK,
    get = sym macho_tlv_get_addr,
);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
extern "C" {
    fn jitlink_x86_64_macho_tlv_bootstrap();
}

/// The host routine a Mach-O x86-64 link binds `__tlv_bootstrap` to, on an
/// x86-64 Linux host: called with a descriptor's address in `rdi`, it
/// returns the address of the variable in this thread's block in `rax`
/// (taking the descriptor's `key` word as the link's [`TlsModule`] and
/// its `offset` word as the offset in the block) and preserves every other
/// register, x87/SSE/AVX/AVX-512 state included.
pub fn macho_tlv_bootstrap() -> Option<u64> {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        static INIT: std::sync::Once = std::sync::Once::new();
        INIT.call_once(|| MACHO_TLV_XSAVE_MASK.store(xsave_mask(), Ordering::Release));
        Some(jitlink_x86_64_macho_tlv_bootstrap as *const () as u64)
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        None
    }
}

#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
mod macho_tests {
    use super::*;

    /// Calls the Mach-O thunk as compiled code does: descriptor in rdi,
    /// `call *(%rdi)`, address back in rax.
    fn access(d: &TlvDescriptor) -> *mut u8 {
        let r: *mut u8;
        // SAFETY: the descriptor names a live module; the thunk preserves
        // every register but rax (and rdi, declared clobbered).
        unsafe {
            core::arch::asm!("call qword ptr [rdi]", inout("rdi") d as *const TlvDescriptor => _, lateout("rax") r);
        }
        r
    }

    #[test]
    fn thunk_returns_this_threads_copy() {
        static TEMPLATE: [u8; 32] = {
            let mut t = [0u8; 32];
            let mut i = 0;
            while i < 32 {
                t[i] = i as u8 + 1;
                i += 1;
            }
            t
        };
        let m: &'static TlsModule = Box::leak(Box::new(TlsModule {
            image: TEMPLATE.as_ptr() as u64,
            size: 32,
            align: 16,
            key: AtomicU64::new(0),
        }));
        let thunk = macho_tlv_bootstrap().expect("an x86-64 Linux host has the thunk");
        if std::arch::is_x86_feature_detected!("xsave") {
            let mask = MACHO_TLV_XSAVE_MASK.load(Ordering::Acquire);
            assert!(mask == 0 || mask & 3 == 3, "x87 and SSE state saved: {mask:#x}");
        }
        let d: &'static TlvDescriptor = Box::leak(Box::new(TlvDescriptor { thunk, key: m, offset: 4 }));
        let here = access(d);
        // SAFETY: `here` is this thread's copy of the 32-byte template, at 4.
        unsafe {
            assert_eq!(*here, 5);
            assert_eq!(here.sub(4) as usize % 16, 0);
            *here = 99;
        }
        assert_eq!(access(d), here, "one block per thread");
        let at = d as *const TlvDescriptor as usize;
        let there = std::thread::spawn(move || {
            // SAFETY: the leaked descriptor lives for the whole test.
            let p = access(unsafe { &*(at as *const TlvDescriptor) });
            // SAFETY: that thread's copy.
            (p as usize, unsafe { *p })
        })
        .join()
        .unwrap();
        assert_ne!(there.0, here as usize);
        assert_eq!(there.1, 5, "a new thread starts from the template");
        // SAFETY: still this thread's block.
        assert_eq!(unsafe { *here }, 99);
    }
}
