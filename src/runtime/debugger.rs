//! Debugger registration through the GDB JIT interface ("JIT Compilation
//! Interface", GDB manual): each linked object is handed to the debugger
//! as an in-memory copy of its ELF file whose loaded sections' `sh_addr`
//! hold their final target addresses; GDB relocates the DWARF itself, so
//! breakpoints by name and backtraces with file:line work for objects
//! built with `-g`.

use std::sync::Mutex;

/// `jit_code_entry` of the GDB JIT interface.
#[repr(C)]
pub struct JitCodeEntry {
    /// Next entry in the list.
    pub next: *mut JitCodeEntry,
    /// Previous entry in the list.
    pub prev: *mut JitCodeEntry,
    /// The in-memory object file.
    pub symfile_addr: *const u8,
    /// Its size in bytes.
    pub symfile_size: u64,
}

/// `jit_descriptor` of the GDB JIT interface.
#[repr(C)]
pub struct JitDescriptor {
    /// Interface version (1).
    pub version: u32,
    /// What the debugger should do with `relevant_entry`.
    pub action_flag: u32,
    /// The entry registered or unregistered last.
    pub relevant_entry: *mut JitCodeEntry,
    /// Head of the list of registered objects.
    pub first_entry: *mut JitCodeEntry,
}

const JIT_NOACTION: u32 = 0;
const JIT_REGISTER: u32 = 1;
const JIT_UNREGISTER: u32 = 2;

/// The descriptor GDB reads (by this exact name).
#[no_mangle]
#[used]
pub static mut __jit_debug_descriptor: JitDescriptor = JitDescriptor {
    version: 1,
    action_flag: JIT_NOACTION,
    relevant_entry: std::ptr::null_mut(),
    first_entry: std::ptr::null_mut(),
};

/// GDB puts a breakpoint here and reads the descriptor when it is hit.
#[no_mangle]
#[inline(never)]
pub extern "C" fn __jit_debug_register_code() {
    // SAFETY: an empty asm statement: a compiler barrier, so the call and
    // the function stay.
    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) };
}

/// Serialises updates of the descriptor (the interface has no lock of its own).
static LOCK: Mutex<()> = Mutex::new(());

/// A registered object; unregisters when dropped.
pub struct Registration {
    entry: *mut JitCodeEntry,
    _image: Box<[u8]>,
}

// SAFETY: the entry is only touched under LOCK; the image is owned.
unsafe impl Send for Registration {}

/// Registers `image` (an ELF object whose section addresses are final).
pub fn register(image: Vec<u8>) -> Registration {
    let image = image.into_boxed_slice();
    let entry = Box::into_raw(Box::new(JitCodeEntry {
        next: std::ptr::null_mut(),
        prev: std::ptr::null_mut(),
        symfile_addr: image.as_ptr(),
        symfile_size: image.len() as u64,
    }));
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: the descriptor is only modified under LOCK; entry is a fresh
    // allocation linked at the head of the list.
    unsafe {
        let d = &raw mut __jit_debug_descriptor;
        (*entry).next = (*d).first_entry;
        if !(*d).first_entry.is_null() {
            (*(*d).first_entry).prev = entry;
        }
        (*d).first_entry = entry;
        (*d).relevant_entry = entry;
        (*d).action_flag = JIT_REGISTER;
    }
    __jit_debug_register_code();
    Registration { entry, _image: image }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: entry is in the list (registered above) and only changed
        // under LOCK; it is freed after the debugger was told.
        unsafe {
            let d = &raw mut __jit_debug_descriptor;
            let e = self.entry;
            if !(*e).prev.is_null() {
                (*(*e).prev).next = (*e).next;
            } else {
                (*d).first_entry = (*e).next;
            }
            if !(*e).next.is_null() {
                (*(*e).next).prev = (*e).prev;
            }
            (*d).relevant_entry = e;
            (*d).action_flag = JIT_UNREGISTER;
            __jit_debug_register_code();
            (*d).action_flag = JIT_NOACTION;
            drop(Box::from_raw(e));
        }
    }
}

/// A copy of the ELF object `bytes` with `sh_addr` of each section in
/// `addrs` (`(section index, address)`) set; `None` if the header does not
/// hold (the object already linked, so this does not happen).
pub fn patch_section_addresses(bytes: &[u8], addrs: &[(u32, u64)]) -> Option<Vec<u8>> {
    let mut out = bytes.to_vec();
    if out.len() < 64 || &out[..4] != b"\x7fELF" || out[4] != 2 {
        return None;
    }
    let le = out[5] == 1;
    let rd = |b: &[u8], at: usize, n: usize| -> Option<u64> {
        let s = b.get(at..at + n)?;
        let mut v = [0u8; 8];
        if le {
            v[..n].copy_from_slice(s);
            Some(u64::from_le_bytes(v))
        } else {
            v[8 - n..].copy_from_slice(s);
            Some(u64::from_be_bytes(v))
        }
    };
    let shoff = rd(&out, 0x28, 8)? as usize;
    let shentsize = rd(&out, 0x3a, 2)? as usize;
    if shentsize < 64 {
        return None;
    }
    for &(i, addr) in addrs {
        let at = shoff.checked_add((i as usize).checked_mul(shentsize)?)?.checked_add(16)?;
        let field = out.get_mut(at..at + 8)?;
        field.copy_from_slice(&if le { addr.to_le_bytes() } else { addr.to_be_bytes() });
    }
    Some(out)
}
