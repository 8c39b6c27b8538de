//! The compute kernels of `tests/fixtures/macho_kernels/kernels.c`, called
//! through function pointers of a given calling convention, with fixed
//! inputs; the answers are lines of text so two builds compare as strings.
#![allow(dead_code)]

use std::path::PathBuf;

/// Builds the Linux reference: kernels.c as a shared library, with `cc`.
pub fn native_library(tag: &str) -> PathBuf {
    let src = super::fixture("macho_kernels", "kernels.c");
    let out = super::tmp(&format!("libkernels-{tag}.so"));
    let st = std::process::Command::new("cc")
        .args(["-O2", "-shared", "-fPIC", "-fno-builtin", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("cc (the C compiler building the Linux reference) must be installed");
    assert!(st.success(), "cc failed on {}", src.display());
    out
}

/// `dlopen`s `path` (kept open) and returns a symbol lookup.
pub fn open(path: &std::path::Path) -> impl Fn(&str) -> u64 {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: dlopen of a library we just built; it has no initialisers with effects.
    let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!h.is_null(), "dlopen {}", path.display());
    let h = h as usize;
    move |name: &str| {
        let n = std::ffi::CString::new(name).unwrap();
        // SAFETY: dlsym on a live handle.
        let p = unsafe { libc::dlsym(h as *mut libc::c_void, n.as_ptr()) };
        assert!(!p.is_null(), "dlsym {name}");
        p as u64
    }
}

pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed)
    }
    pub fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
}

/// The interpreter's programs (opcodes as kernels.c numbers them).
pub fn programs() -> Vec<(Vec<i32>, i64)> {
    const PUSH: i32 = 0;
    const ARG: i32 = 1;
    const ADD: i32 = 2;
    const SUB: i32 = 3;
    const MUL: i32 = 4;
    const DIV: i32 = 5;
    const MOD: i32 = 6;
    const DUP: i32 = 7;
    const SWAP: i32 = 8;
    const JNZ: i32 = 9;
    const DEC: i32 = 10;
    const HALT: i32 = 11;
    const NEG: i32 = 12;
    const SHL: i32 = 13;
    vec![
        (vec![ARG, DUP, MUL, ARG, PUSH, 3, MUL, ADD, PUSH, 7, SUB, HALT], 12345),
        (vec![PUSH, 1, ARG, SHL, HALT], 40),
        (vec![PUSH, 0, ARG, SWAP, PUSH, 3, ADD, SWAP, DEC, DUP, JNZ, 3, SWAP, HALT], 1000),
        (vec![ARG, PUSH, 7, MOD, ARG, PUSH, 3, DIV, ADD, NEG, HALT], -100),
        (vec![ARG, 99], 1),
    ]
}

/// Defines `run(lookup) -> Vec<String>` calling the kernels through
/// `extern $abi` pointers found by `lookup(name)`.
#[macro_export]
macro_rules! kernel_runner {
    ($abi:literal) => {
        /// Calls every kernel with the fixed inputs; one line per answer.
        ///
        /// # Safety
        /// `lookup` must return the kernels' addresses in executable memory.
        pub unsafe fn run(lookup: &dyn Fn(&str) -> u64) -> Vec<String> {
            use $crate::common::kernels::{programs, Lcg};
            type Crc = unsafe extern $abi fn(*const u8, usize) -> u32;
            type Sort = unsafe extern $abi fn(*mut i32, i32);
            type MatMul = unsafe extern $abi fn(*const f64, *const f64, *mut f64, i32);
            type Interp = unsafe extern $abi fn(*const i32, i32, i64) -> i64;
            type Horner = unsafe extern $abi fn(*const f64, i32, f64) -> f64;
            type Sqrt = unsafe extern $abi fn(f64) -> f64;
            type Vowels = unsafe extern $abi fn(i32) -> i32;
            type Stack = unsafe extern $abi fn(i32) -> i64;
            type Acc = unsafe extern $abi fn(f64) -> f64;
            let f = |n: &str| lookup(n) as usize;
            // SAFETY (all calls): the caller vouches for the addresses; the
            // types are those of kernels.c.
            let crc: Crc = unsafe { std::mem::transmute(f("k_crc32")) };
            let sort: Sort = unsafe { std::mem::transmute(f("k_sort")) };
            let matmul: MatMul = unsafe { std::mem::transmute(f("k_matmul")) };
            let interp: Interp = unsafe { std::mem::transmute(f("k_interp")) };
            let horner: Horner = unsafe { std::mem::transmute(f("k_horner")) };
            let sqrt: Sqrt = unsafe { std::mem::transmute(f("k_sqrt")) };
            let vowels: Vowels = unsafe { std::mem::transmute(f("k_vowels")) };
            let stack: Stack = unsafe { std::mem::transmute(f("k_stack")) };
            let acc: Acc = unsafe { std::mem::transmute(f("k_accumulate")) };
            let mut out = Vec::new();
            let mut rng = Lcg::new(42);
            let mut bytes: Vec<u8> = (0..=255u8).collect();
            bytes.extend_from_slice(b"The quick brown fox jumps over the lazy dog");
            out.push(format!("crc32 all = {:08x}", unsafe { crc(bytes.as_ptr(), bytes.len()) }));
            out.push(format!("crc32 fox = {:08x}", unsafe { crc(bytes[256..].as_ptr(), bytes.len() - 256) }));
            out.push(format!("crc32 empty = {:08x}", unsafe { crc(bytes.as_ptr(), 0) }));
            let mut v: Vec<i32> = (0..1000).map(|_| (rng.next() % 100000) as i32 - 50000).collect();
            unsafe { sort(v.as_mut_ptr(), v.len() as i32) };
            let sorted = v.windows(2).all(|w| w[0] <= w[1]);
            let sum: i64 = v.iter().map(|&x| x as i64).sum();
            out.push(format!("sort: sorted={sorted} first={} last={} sum={sum}", v[0], v[999]));
            let n = 8;
            let a: Vec<f64> = (0..n * n).map(|_| rng.next() as f64 / 1e6 - 2000.0).collect();
            let b: Vec<f64> = (0..n * n).map(|_| (rng.next() % 1000) as f64 * 0.125).collect();
            let mut c = vec![0.0f64; n * n];
            unsafe { matmul(a.as_ptr(), b.as_ptr(), c.as_mut_ptr(), n as i32) };
            out.push(format!("matmul: {:?}", c.iter().map(|x| x.to_bits()).collect::<Vec<_>>()));
            for (code, arg) in programs() {
                out.push(format!("interp({arg}) = {}", unsafe { interp(code.as_ptr(), code.len() as i32, arg) }));
            }
            let coef = [1.5, -2.0, 0.25, 3.0];
            for x in [0.5, -1.25, 3.0] {
                out.push(format!("horner({x}) = {:e}", unsafe { horner(coef.as_ptr(), 4, x) }));
            }
            for x in [2.0, 10.0, 1e-3, 12345.678, -1.0] {
                out.push(format!("sqrt({x}) = {:e}", unsafe { sqrt(x) }));
            }
            for i in 0..7 {
                out.push(format!("vowels({i}) = {}", unsafe { vowels(i) }));
            }
            for n in [1, 5] {
                out.push(format!("stack({n}) = {}", unsafe { stack(n) }));
            }
            for x in [0.5, 1.0, 2.0] {
                out.push(format!("accumulate({x}) = {:e}", unsafe { acc(x) }));
            }
            // SAFETY: k_counter is an int of the image.
            out.push(format!("counter = {}", unsafe { *(f("k_counter") as *const i32) }));
            out
        }
    };
}
