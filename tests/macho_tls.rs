//! Mach-O thread-local variables (dyld's `threadLocalVariables.c` model),
//! x86-64 and arm64, and the dump's triple per container.
//!
//! Fixtures: `tests/fixtures/macho_tls/` (`*.s` assembled by llvm-mc for
//! `x86_64-apple-macos` / `arm64-apple-macos`, `vars.c` and `vars_b.c`
//! compiled by clang 14 at -O0 and -O2; `regen.sh` rebuilds them).
//!
//! Byte for byte, in `jitlink link --noexec --slab-address 0x10000000`
//! dumps, against values computed here from the objects (read with the
//! `object` crate) and the dump's section addresses:
//! * the TLS template is the link's `__thread_data` and `__thread_bss`
//!   sections: from the lowest one's address rounded down to the largest
//!   section alignment, to the end of the highest; the module descriptor
//!   (`$__TLS_MODULE`) holds `{start, size, align, 0}`; `__thread_data`
//!   keeps the object's bytes, `__thread_bss` is zero;
//! * every 24-byte descriptor of `__thread_vars` is `{__tlv_bootstrap,
//!   module descriptor, initial value - template start}`;
//! * `X86_64_RELOC_TLV`: when the descriptor D is in the link the `movq`
//!   became `leaq` with `D - (P + 4)`, else it loads a GOT entry holding D;
//!   `ARM64_RELOC_TLVP_LOAD_PAGE21/PAGEOFF12`: `adrp` of `Page(D)` and the
//!   `ldr` turned into `add` of `D & 0xfff`, else `adrp`+`ldr` of a GOT
//!   entry holding D;
//! * every other byte no relocation touches equals the object's.
//!
//! Executed (x86-64 hosts), through the library API: several threads each
//! see the initialisers first and then only their own values, in
//! hand-written code (registers preserved across the access, its slow
//! first-access path included) and in clang's.

#[path = "macho_common/mod.rs"]
mod common;

use common::*;
use object::macho;
use object::read::macho::{MachHeader, MachOFile64, Nlist};
use object::{Endianness, Object, ObjectSection};
use std::path::PathBuf;

const BOOTSTRAP: u64 = 0x1009_0000;
/// Out of a 32-bit displacement's reach: accesses keep their GOT load.
const EXT_TLV: u64 = 0x7f00_0000_0000;

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Cpu {
    X86,
    Arm,
}

struct RI {
    address: u64,
    symbolnum: u32,
    ext: bool,
    rtype: u8,
    length: u8,
}

struct Sec {
    label: String,
    stype: u32,
    addr: u64,
    size: u64,
    align: u64,
    data: Vec<u8>,
    relocs: Vec<RI>,
}

struct Sym {
    name: String,
    defined: bool,
    sect: u8,
    value: u64,
}

struct Obj {
    file: String,
    cpu: Cpu,
    secs: Vec<Sec>,
    syms: Vec<Sym>,
}

fn dir() -> &'static str {
    "macho_tls"
}

fn load(path: &PathBuf) -> Obj {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e} (run regen.sh)", path.display()));
    let f = MachOFile64::<Endianness>::parse(&*data).expect("a 64-bit Mach-O");
    let endian = f.endian();
    let cpu = match f.macho_header().cputype(endian) {
        macho::CPU_TYPE_X86_64 => Cpu::X86,
        macho::CPU_TYPE_ARM64 => Cpu::Arm,
        c => panic!("cputype {c}"),
    };
    let mut secs = Vec::new();
    for s in f.sections() {
        let seg = s.segment_name().unwrap().unwrap_or("").to_string();
        let relocs = s
            .macho_relocations()
            .unwrap()
            .iter()
            .map(|r| {
                let i = r.info(endian);
                RI {
                    address: u64::from(i.r_address),
                    symbolnum: i.r_symbolnum,
                    ext: i.r_extern,
                    rtype: i.r_type,
                    length: i.r_length,
                }
            })
            .collect();
        let ms = s.macho_section();
        let stype = ms.flags.get(endian) & macho::SECTION_TYPE;
        let data = if matches!(stype, macho::S_ZEROFILL | macho::S_THREAD_LOCAL_ZEROFILL) {
            vec![0; s.size() as usize]
        } else {
            s.data().unwrap().to_vec()
        };
        secs.push(Sec {
            label: format!("{seg},{}", s.name().unwrap()),
            stype,
            addr: s.address(),
            size: s.size(),
            align: s.align(),
            data,
            relocs,
        });
    }
    let mut syms = Vec::new();
    for n in f.macho_symbol_table().iter() {
        let t = n.n_type();
        syms.push(Sym {
            name: String::from_utf8_lossy(n.name(endian, f.macho_symbol_table().strings()).unwrap()).into_owned(),
            defined: t & macho::N_STAB == 0 && t & macho::N_TYPE == macho::N_SECT,
            sect: n.n_sect(),
            value: n.n_value(endian),
        });
    }
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    Obj { file, cpu, secs, syms }
}

fn is_tls(s: &Sec) -> bool {
    matches!(s.stype, macho::S_THREAD_LOCAL_REGULAR | macho::S_THREAD_LOCAL_ZEROFILL)
}

struct Ctx<'a> {
    d: &'a Dump,
    objs: &'a [Obj],
    abs: &'a [(&'a str, u64)],
}

impl Ctx<'_> {
    /// The dump address of section `si` of `o` (kept whole: same size).
    fn base(&self, o: &Obj, si: usize) -> u64 {
        let s = &o.secs[si];
        let ds = self
            .d
            .section(&o.file, &s.label)
            .unwrap_or_else(|| panic!("{}: section {} not in the dump", o.file, s.label));
        assert_eq!(ds.size, s.size, "{}: section {} not kept whole", o.file, s.label);
        ds.address
    }

    /// The dump address of object address `a` of `o`.
    fn obj_addr(&self, o: &Obj, a: u64) -> u64 {
        let si = o
            .secs
            .iter()
            .position(|s| a >= s.addr && a < s.addr + s.size.max(1))
            .unwrap_or_else(|| panic!("{}: address {a:#x} in no section", o.file));
        self.base(o, si) + (a - o.secs[si].addr)
    }

    /// Where `name` is: defined in an object (this one first), or `--abs`.
    fn lookup(&self, o: &Obj, name: &str) -> Option<u64> {
        let mine = std::iter::once(o).chain(self.objs.iter().filter(|x| x.file != o.file));
        for x in mine {
            if let Some(s) = x.syms.iter().find(|s| s.defined && s.name == name) {
                assert!(s.sect > 0);
                return Some(self.obj_addr(x, s.value));
            }
        }
        self.abs.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    fn defined_in_link(&self, name: &str) -> bool {
        self.objs.iter().any(|o| o.syms.iter().any(|s| s.defined && s.name == name))
    }

    /// The value a relocation's target stands for: an extern symbol's
    /// address plus `content`, or (non-extern) object address `content`.
    fn target(&self, o: &Obj, r: &RI, content: u64) -> u64 {
        if r.ext {
            let name = &o.syms[r.symbolnum as usize].name;
            self.lookup(o, name).unwrap_or_else(|| panic!("{}: {name} undefined", o.file)).wrapping_add(content)
        } else {
            self.obj_addr(o, content)
        }
    }

    /// The GOT entry the link made for `o`'s references to `name`.
    fn got_entry(&self, o: &Obj, name: &str) -> u64 {
        self.d
            .got
            .iter()
            .find(|g| g.file == o.file && g.target == name)
            .unwrap_or_else(|| panic!("{}: no GOT entry for {name}", o.file))
            .address
    }
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Checks one link's dump (see the module documentation), returning the
/// number of thread-local accesses checked.
fn check(tag: &str, d: &Dump, objs: &[Obj], abs: &[(&str, u64)]) -> usize {
    let ctx = Ctx { d, objs, abs };
    // The template and the module descriptor.
    let mut tls: Vec<(u64, u64, u64)> = Vec::new();
    for o in objs {
        for (si, s) in o.secs.iter().enumerate().filter(|(_, s)| is_tls(s) && s.size > 0) {
            let at = ctx.base(o, si);
            tls.push((at, at + s.size, s.align));
            assert_eq!(d.bytes(at, s.size as usize), &s.data[..], "{tag}: {} {}: template bytes", o.file, s.label);
        }
    }
    assert!(!tls.is_empty(), "{tag}: no thread-local section");
    let align = tls.iter().map(|t| t.2).max().unwrap();
    let start = tls.iter().map(|t| t.0).min().unwrap() & !(align - 1);
    let end = tls.iter().map(|t| t.1).max().unwrap();
    let module = d.sections.iter().find(|s| s.name == "$__TLS_MODULE").expect("module descriptor in the dump");
    let m = module.address;
    assert_eq!(
        [d.u64(m), d.u64(m + 8), d.u64(m + 16), d.u64(m + 24)],
        [start, end - start, align, 0],
        "{tag}: module descriptor {{image, size, align, key}}"
    );
    let bootstrap = ctx.lookup(&objs[0], "__tlv_bootstrap").expect("__tlv_bootstrap");
    let mut accesses = 0;
    for o in objs {
        for (si, s) in o.secs.iter().enumerate() {
            let base = ctx.base(o, si);
            let mut touched = vec![false; s.size as usize];
            let text = s.label == "__TEXT,__text";
            if s.stype == macho::S_THREAD_LOCAL_VARIABLES {
                for at in (0..s.size).step_by(24) {
                    let reloc = |w: u64| s.relocs.iter().find(|r| r.address == at + w).expect("descriptor relocation");
                    let (thunk, init) = (reloc(0), reloc(16));
                    assert_eq!(d.u64(base + at), bootstrap, "{tag}: {} descriptor +{at:#x}: thunk", o.file);
                    assert_eq!(d.u64(base + at + 8), m, "{tag}: {} descriptor +{at:#x}: key", o.file);
                    let value = ctx.target(o, init, le64(&s.data, (at + 16) as usize));
                    assert!(value >= start && value < end.max(start + 1), "{tag}: initial value outside the template");
                    assert_eq!(d.u64(base + at + 16), value - start, "{tag}: {} descriptor +{at:#x}: offset", o.file);
                    assert_eq!(thunk.length, 3);
                    touched[at as usize..(at + 24) as usize].iter_mut().for_each(|t| *t = true);
                }
            }
            for r in &s.relocs {
                let p = base + r.address;
                let a = r.address as usize;
                let tlv = match o.cpu {
                    Cpu::X86 => r.rtype == macho::X86_64_RELOC_TLV,
                    Cpu::Arm => {
                        matches!(r.rtype, macho::ARM64_RELOC_TLVP_LOAD_PAGE21 | macho::ARM64_RELOC_TLVP_LOAD_PAGEOFF12)
                    }
                };
                if !tlv {
                    // Checked by tests/macho_relocs.rs: only excluded here.
                    touched[a..a + (1 << r.length)].iter_mut().for_each(|t| *t = true);
                    continue;
                }
                assert!(text && r.ext, "{tag}: {}: TLV relocation outside __text or not extern", o.file);
                accesses += 1;
                let name = &o.syms[r.symbolnum as usize].name;
                let desc = ctx.lookup(o, name).unwrap_or_else(|| panic!("{}: {name} undefined", o.file));
                let here = ctx.defined_in_link(name);
                let what = format!("{tag}: {} __text+{:#x} ({name})", o.file, r.address);
                match o.cpu {
                    Cpu::X86 => {
                        assert_eq!(d.bytes(p - 3, 1), &s.data[a - 3..a - 2], "{what}: REX prefix");
                        let disp = i64::from(d.u32(p) as i32);
                        let points = (p + 4).wrapping_add(disp as u64);
                        // A descriptor outside the link may be reached
                        // directly too when in range (the GOT load relaxed).
                        let near = (desc.wrapping_sub(p + 4) as i64) == i64::from(desc.wrapping_sub(p + 4) as i32);
                        if here || (near && d.bytes(p - 2, 1) == [0x8d]) {
                            assert_eq!(d.bytes(p - 2, 1), &[0x8d], "{what}: movq not relaxed to leaq");
                            assert_eq!(points, desc, "{what}: leaq target");
                        } else {
                            assert_eq!(d.bytes(p - 2, 1), &[0x8b], "{what}: movq kept");
                            assert!(
                                d.is_got_entry_for(points, desc),
                                "{what}: {points:#x} is no GOT entry for {desc:#x}"
                            );
                        }
                        touched[a - 2..a + 4].iter_mut().for_each(|t| *t = true);
                    }
                    Cpu::Arm => {
                        let w = d.u32(p);
                        let orig = u32::from_le_bytes(s.data[a..a + 4].try_into().unwrap());
                        let goal = if here { desc } else { ctx.got_entry(o, name) };
                        if !here {
                            assert!(d.is_got_entry_for(goal, desc), "{what}: GOT entry");
                        }
                        if r.rtype == macho::ARM64_RELOC_TLVP_LOAD_PAGE21 {
                            assert_eq!(w & 0x9f00_001f, orig & 0x9f00_001f, "{what}: not the object's adrp");
                            let page = (p & !0xfff).wrapping_add((adr_imm(w) << 12) as u64);
                            assert_eq!(page, goal & !0xfff, "{what}: adrp page");
                        } else if here {
                            let (rn, rd) = ((orig >> 5) & 31, orig & 31);
                            let want = 0x9100_0000 | ((desc & 0xfff) as u32) << 10 | rn << 5 | rd;
                            assert_eq!(w, want, "{what}: ldr not relaxed to add of the descriptor's page offset");
                        } else {
                            assert_eq!(w & !(0xfff << 10), orig & !(0xfff << 10), "{what}: not the object's ldr");
                            assert_eq!(u64::from((w >> 10) & 0xfff) * 8, goal & 0xfff, "{what}: ldr page offset");
                        }
                        touched[a..a + 4].iter_mut().for_each(|t| *t = true);
                    }
                }
            }
            if is_tls(s) {
                continue;
            }
            let now = d.bytes(base, s.size as usize);
            for (i, t) in touched.iter().enumerate() {
                if !t {
                    assert_eq!(now[i], s.data[i], "{tag}: {} {}+{i:#x}: untouched byte changed", o.file, s.label);
                }
            }
        }
    }
    accesses
}

fn paths(names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| fixture(dir(), n)).collect()
}

fn abs_args(abs: &[(&str, u64)]) -> Vec<String> {
    abs.iter().flat_map(|(n, v)| ["--abs".to_string(), format!("{n}={v:#x}")]).collect()
}

fn link_and_check(tag: &str, names: &[&str], abs: &[(&str, u64)], triple: &str) -> usize {
    let files = paths(names);
    let args = abs_args(abs);
    let extra: Vec<&str> = args.iter().map(String::as_str).collect();
    let d = link(tag, &files, &extra);
    assert_eq!(d.triple, triple, "{tag}");
    let objs: Vec<Obj> = files.iter().map(load).collect();
    check(tag, &d, &objs, abs)
}

#[test]
fn x86_64_assembly_descriptors_template_and_accesses() {
    let abs = [("_ext_tlv", EXT_TLV), ("__tlv_bootstrap", BOOTSTRAP)];
    let n = link_and_check("tls-x86-s", &["tls_x86_64.o", "tls2_x86_64.o"], &abs, "x86_64-apple-macosx");
    assert_eq!(n, 10, "accesses checked");
}

#[test]
fn arm64_assembly_descriptors_template_and_accesses() {
    let abs = [("_ext_tlv", EXT_TLV), ("__tlv_bootstrap", BOOTSTRAP)];
    let n = link_and_check("tls-arm-s", &["tls_arm64.o", "tls2_arm64.o"], &abs, "arm64-apple-macosx");
    assert_eq!(n, 16, "accesses checked (adrp and ldr each)");
}

#[test]
fn clang_objects_descriptors_template_and_accesses() {
    let abs = [("__tlv_bootstrap", BOOTSTRAP)];
    for opt in ["O0", "O2"] {
        for (cpu, triple) in [("x86_64", "x86_64-apple-macosx"), ("arm64", "arm64-apple-macosx")] {
            let (a, b) = (format!("vars-{cpu}-{opt}.o"), format!("vars_b-{cpu}-{opt}.o"));
            let n = link_and_check(&format!("tls-c-{cpu}-{opt}"), &[&a, &b], &abs, triple);
            assert!(n >= 8, "{a}: only {n} thread-local accesses");
        }
    }
}

/// Without `--abs`, x86-64 descriptors get the host's thunk (on an x86-64
/// Linux host); arm64 ones need whoever runs the code to name it.
#[test]
fn tlv_bootstrap_binding() {
    let files = paths(&["tls_x86_64.o", "tls2_x86_64.o"]);
    let (ok, err) = link_err(&paths(&["tls_arm64.o", "tls2_arm64.o"]), &["--abs", "_ext_tlv=0x7f0000000000"]);
    assert!(!ok && err.contains("__tlv_bootstrap") && err.lines().count() == 1, "{err}");
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        return;
    }
    let d = link("tls-x86-host", &files, &["--abs", "_ext_tlv=0x7f0000000000"]);
    let b = d.symbols.iter().find(|s| s.name == "__tlv_bootstrap").expect("__tlv_bootstrap listed");
    assert_eq!((b.kind.as_str(), b.linkage.as_str()), ("absolute", "weak"));
    assert!(b.address != 0);
    let objs: Vec<Obj> = files.iter().map(load).collect();
    check("tls-x86-host", &d, &objs, &[("_ext_tlv", EXT_TLV), ("__tlv_bootstrap", b.address)]);
}

#[test]
fn malformed_descriptors_are_refused() {
    for (f, want) in [
        ("bad_key_x86_64.o", "none on its key (+8)"),
        ("bad_init_x86_64.o", "must be a 64-bit pointer to the initial value in a __thread_data or __thread_bss"),
    ] {
        let (ok, err) = link_err(&paths(&[f]), &["--abs", "__tlv_bootstrap=0x10090000"]);
        assert!(!ok, "{f}");
        assert!(err.contains(f) && err.contains("__DATA,__thread_vars") && err.contains(want), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// The dump names the target of the container linked.
#[test]
fn dump_triples_name_the_container() {
    let fx = |d: &str, f: &str| fixture(d, f);
    for (file, extra, triple) in [
        (fx("macho_x86_64", "kernels-O2.o"), vec![], "x86_64-apple-macosx"),
        (fx("macho_arm64", "kernels-O2.o"), vec![], "arm64-apple-macosx"),
        (fx("coff_x86_64", "kernels-O2.obj"), vec![], "x86_64-pc-windows-msvc"),
        (fx("coff_arm64", "kernels-O2.obj"), vec![], "aarch64-pc-windows-msvc"),
        (fx("x86_64", "basic.o"), vec!["--phony-externals"], "x86_64-unknown-linux-gnu"),
    ] {
        let tag = format!("triple-{}", triple);
        let d = link(&tag, std::slice::from_ref(&file), &extra);
        assert_eq!(d.triple, triple, "{}", file.display());
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod exec {
    use super::*;
    use jitlink::session::{LinkOptions, Session};
    use std::sync::{Arc, Barrier};

    type Get = extern "C" fn() -> *mut u8;
    type Check = extern "C" fn(*mut *mut u8) -> u32;

    fn func<T: Copy>(s: &Session, name: &str) -> T {
        let a = s.lookup(name).unwrap_or_else(|| panic!("{name} not defined"));
        assert_eq!(std::mem::size_of::<T>(), 8);
        // SAFETY: a function of the link, of the C type the caller names.
        unsafe { std::mem::transmute_copy::<u64, T>(&a) }
    }

    const THREADS: usize = 4;

    /// Hand-written accesses: `_ext_tlv` in a first link, reached from a
    /// second through a GOT entry; every thread starts from the
    /// initialisers, then writes and reads back only its own values.
    #[test]
    fn threads_see_their_own_variables() {
        let mut s = Session::in_process();
        s.add_file(&fixture(dir(), "ext_x86_64.o")).unwrap();
        s.link(&LinkOptions::default()).unwrap();
        for f in ["tls_x86_64.o", "tls2_x86_64.o"] {
            s.add_file(&fixture(dir(), f)).unwrap();
        }
        s.link(&LinkOptions::default()).unwrap();
        let g = |n: &str| func::<Get>(&s, n);
        let (a, b, z, l, other, ext) =
            (g("_get_a"), g("_get_b"), g("_get_z"), g("_get_l"), g("_get_other"), g("_get_ext"));
        let (a2, other2, ext_here) = (g("_get_a2"), g("_get_other2"), g("_get_ext_here"));
        let barrier = Arc::new(Barrier::new(THREADS + 1));
        // Failures are collected, not raised, so no thread leaves the
        // others waiting at a barrier.
        let body = move |t: u64, barrier: Arc<Barrier>| -> (Vec<usize>, Vec<String>) {
            let mut errs = Vec::new();
            let mut chk = |ok: bool, what: &str| {
                if !ok {
                    errs.push(format!("thread {t}: {what}"));
                }
            };
            // SAFETY: each getter returns this thread's copy of its
            // variable, of the type and size the fixture defines.
            unsafe {
                chk(*(a() as *const u64) == 0x0123_4567_89ab_cdef, "_a initialiser");
                chk(*(b() as *const u32) == 42, "_b initialiser");
                chk(*(l() as *const u32) == 7, "_l initialiser");
                chk(std::slice::from_raw_parts(z(), 64) == [0u8; 64], "_z zero-filled");
                chk(z() as usize % 32 == 0, "_z 32-byte aligned");
                chk(std::slice::from_raw_parts(other() as *const u32, 4) == [0x11, 0x22, 0x33, 0x44], "_other");
                chk(other() as usize % 16 == 0, "_other 16-byte aligned");
                chk(*(ext() as *const u32) == 0x5a5a, "_ext_tlv (other link) initialiser");
                chk((a2(), other2(), ext_here()) == (a(), other(), ext()), "one variable, one address");
                *(a() as *mut u64) = t;
                *(b() as *mut u32) = t as u32 * 3;
                *(l() as *mut u32) = t as u32 * 5;
                z().add(63).write(t as u8);
                *(other() as *mut u32).add(3) = t as u32 * 7;
                *(ext() as *mut u32) = t as u32 * 11;
                barrier.wait();
                chk(*(a() as *const u64) == t, "_a is another thread's");
                chk(*(b() as *const u32) == t as u32 * 3, "_b is another thread's");
                chk(*(l() as *const u32) == t as u32 * 5, "_l is another thread's");
                chk(*z().add(63) == t as u8, "_z is another thread's");
                chk(*(other() as *const u32).add(3) == t as u32 * 7, "_other is another thread's");
                chk(*(ext() as *const u32) == t as u32 * 11, "_ext_tlv is another thread's");
                barrier.wait();
            }
            let addrs = [a(), b(), z(), l(), other(), ext()].iter().map(|&p| p as usize).collect();
            (addrs, errs)
        };
        let handles: Vec<_> = (0..THREADS as u64)
            .map(|t| {
                let b = barrier.clone();
                std::thread::spawn(move || body(t + 100, b))
            })
            .collect();
        let mut results = vec![body(7, barrier)];
        results.extend(handles.into_iter().map(|h| h.join().unwrap()));
        let errs: Vec<&String> = results.iter().flat_map(|r| &r.1).collect();
        assert!(errs.is_empty(), "{errs:#?}");
        let mut all: Vec<usize> = results.iter().flat_map(|r| r.0.iter().copied()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "threads share a variable's address");
    }

    /// The thunk keeps rsi, rdx, rcx, r8-r11 and the vector registers, on a
    /// thread's first access (which allocates its block) and later ones.
    #[test]
    fn accesses_preserve_registers() {
        let mut s = Session::in_process();
        s.define_absolute("_ext_tlv", 0).unwrap();
        for f in ["tls_x86_64.o", "tls2_x86_64.o"] {
            s.add_file(&fixture(dir(), f)).unwrap();
        }
        s.link(&LinkOptions::default()).unwrap();
        let get_b = func::<Get>(&s, "_get_b");
        let mut checks = vec![("xmm", func::<Check>(&s, "_check_regs"))];
        if std::arch::is_x86_feature_detected!("avx") {
            checks.push(("ymm", func::<Check>(&s, "_check_ymm")));
        }
        for (what, check) in checks {
            std::thread::spawn(move || {
                for round in ["first access", "second access"] {
                    let mut out = std::ptr::null_mut();
                    let clobbered = check(&mut out);
                    assert_eq!(clobbered, 0, "{what}, {round}: registers changed: mask {clobbered:#x}");
                    assert_eq!(out, get_b(), "{what}, {round}: the access returned another address");
                }
            })
            .join()
            .unwrap();
        }
    }

    fn fingerprint(
        counter: i32,
        big: [i64; 4],
        zero: i32,
        hidden: i32,
        scale4: i64,
        aligned: [u8; 32],
        shared: i32,
    ) -> u64 {
        let step = |f: u64, v: u64| f.wrapping_mul(31).wrapping_add(v);
        let mut f = counter as i64 as u64;
        for v in big {
            f = step(f, v as u64);
        }
        f = step(f, zero as i64 as u64);
        f = step(f, hidden as i64 as u64);
        f = step(f, scale4 as u64);
        for v in aligned {
            f = step(f, u64::from(v));
        }
        step(f, shared as i64 as u64)
    }

    fn seeded(s: i32) -> u64 {
        let big = [0, 1, 2, 3].map(|i| i64::from(s) * 10 + i);
        let aligned: [u8; 32] = std::array::from_fn(|i| (s + i as i32) as u8);
        fingerprint(s, big, s, s + 1, i64::from(s) * 2, aligned, s * 100)
    }

    /// clang's code (`__thread`, `_Thread_local`, static, aligned, zero
    /// initialised, and defined in the other object), at -O0 and -O2.
    #[test]
    fn clang_thread_locals_per_thread() {
        let initial = fingerprint(5, [1, 2, 3, 4], 0, 9, 6, [0; 32], 77);
        for opt in ["O0", "O2"] {
            let mut s = Session::in_process();
            for f in [format!("vars-x86_64-{opt}.o"), format!("vars_b-x86_64-{opt}.o")] {
                s.add_file(&fixture(dir(), &f)).unwrap();
            }
            s.link(&LinkOptions::default()).unwrap();
            let fp = func::<extern "C" fn() -> u64>(&s, "_fingerprint");
            let seed = func::<extern "C" fn(i32)>(&s, "_seed");
            let bump = func::<extern "C" fn(i32) -> i32>(&s, "_bump");
            let aligned_ok = func::<extern "C" fn() -> i32>(&s, "_aligned_ok");
            let big_addr = func::<extern "C" fn() -> *mut i64>(&s, "_big_addr");
            let shared_addr = func::<extern "C" fn() -> *mut i32>(&s, "_shared_addr");
            let barrier = Arc::new(Barrier::new(THREADS + 1));
            let body = move |t: i32, barrier: Arc<Barrier>| -> ((usize, usize), Vec<String>) {
                let mut errs = Vec::new();
                let mut chk = |ok: bool, what: &str| {
                    if !ok {
                        errs.push(format!("{opt}, thread {t}: {what}"));
                    }
                };
                chk(fp() == initial, "does not start from the initialisers");
                chk(aligned_ok() == 1, "_Alignas(32) lost");
                seed(t);
                barrier.wait();
                chk(fp() == seeded(t), "sees another thread's values");
                // SAFETY: this thread's `big` and `shared`.
                unsafe {
                    chk(*big_addr().add(2) == i64::from(t) * 10 + 2, "big[2]");
                    chk(*shared_addr() == t * 100, "shared");
                }
                chk(bump(3) == (t + 3) + (t + 1) + 2 * (t + 1), "bump");
                barrier.wait();
                ((big_addr() as usize, shared_addr() as usize), errs)
            };
            let handles: Vec<_> = (0..THREADS as i32)
                .map(|t| {
                    let b = barrier.clone();
                    std::thread::spawn(move || body(t + 1, b))
                })
                .collect();
            let mut results = vec![body(50, barrier)];
            results.extend(handles.into_iter().map(|h| h.join().unwrap()));
            let errs: Vec<&String> = results.iter().flat_map(|r| &r.1).collect();
            assert!(errs.is_empty(), "{errs:#?}");
            let mut flat: Vec<usize> = results.iter().flat_map(|r| [r.0 .0, r.0 .1]).collect();
            flat.sort_unstable();
            flat.dedup();
            assert_eq!(flat.len(), 2 * (THREADS + 1), "{opt}: threads share storage");
        }
    }
}
