//! C++ programs and the runtime they need (issue 3): exceptions through
//! registered `.eh_frame`, static initialisation and destruction, COMDAT,
//! thread-local storage per model, and removal.
//!
//! Objects are compiled with `-fPIC`: a JIT can serve general-dynamic,
//! local-dynamic and TLSDESC thread-local storage, not initial-exec or
//! local-exec (what `-fPIE` code uses), which the `tls_models` test checks
//! are rejected with a clear message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const JITLINK: &str = env!("CARGO_BIN_EXE_jitlink");
const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/cpp");

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cpp").join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> Output {
    cmd.env_remove("RUST_BACKTRACE").output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn check(cmd: &mut Command) {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?}:\n{}", String::from_utf8_lossy(&out.stderr));
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn compare(native: &Path, jit_args: &[&std::ffi::OsStr], args: &[&str]) {
    let n = run(Command::new(native).args(args));
    let j = run(Command::new(JITLINK).arg("run").args(jit_args).arg("--").args(args));
    assert!(
        n.stdout == j.stdout && n.status.code() == j.status.code(),
        "native {:?} vs jitlink {:?}\n--- native\n{}--- jitlink\n{}--- jitlink stderr\n{}",
        n.status.code(),
        j.status.code(),
        String::from_utf8_lossy(&n.stdout),
        String::from_utf8_lossy(&j.stdout),
        String::from_utf8_lossy(&j.stderr)
    );
}

fn cpp_program(cxx: &str, opt: &str) {
    if !have(cxx) {
        eprintln!("skipped: {cxx} not installed");
        return;
    }
    let cc = if cxx == "g++" { "gcc" } else { "clang" };
    let d = dir(&format!("{cxx}{opt}"));
    let obj = |n: &str| d.join(format!("{n}.o"));
    for n in ["main", "shapes", "thrower"] {
        check(Command::new(cxx).args([opt, "-fPIC", "-c", &format!("{SRC}/{n}.cpp"), "-o"]).arg(obj(n)));
    }
    check(
        Command::new(cc)
            .args([opt, "-fPIC", "-fexceptions", "-c", &format!("{SRC}/cframe.c"), "-o"])
            .arg(obj("cframe")),
    );
    let lib = d.join("libshapes.a");
    let _ = std::fs::remove_file(&lib);
    check(Command::new("ar").arg("rcs").arg(&lib).arg(obj("shapes")));
    let native = d.join("native");
    check(
        Command::new(cxx)
            .args([obj("main"), obj("thrower"), obj("cframe"), lib.clone()])
            .args(["-o"])
            .arg(&native)
            .arg("-lpthread"),
    );
    let (m, t, c) = (obj("main"), obj("thrower"), obj("cframe"));
    compare(
        &native,
        &[m.as_os_str(), t.as_os_str(), c.as_os_str(), lib.as_os_str(), "-l".as_ref(), "stdc++".as_ref()],
        &["an arg"],
    );
}

#[test]
fn cpp_program_gcc_o0() {
    cpp_program("g++", "-O0");
}

#[test]
fn cpp_program_gcc_o2() {
    cpp_program("g++", "-O2");
}

#[test]
fn cpp_program_clang_o0() {
    cpp_program("clang++", "-O0");
}

#[test]
fn cpp_program_clang_o2() {
    cpp_program("clang++", "-O2");
}

/// Many functions, each throwing; inline functions and a template
/// instantiated in two objects (so one copy of each is a dropped COMDAT
/// group with its FDE); an exception from every function is caught.
fn throwers(d: &Path) -> (PathBuf, PathBuf) {
    const N: usize = 150;
    let mut a = String::from("#include <stdexcept>\ntemplate <int K> __attribute__((noinline)) int tpl(int x) { if (x > K) throw K; return x; }\ninline __attribute__((noinline)) int shared_inline(int x) { if (x) throw x * 3; return 0; }\n");
    for i in 0..N {
        a.push_str(&format!("__attribute__((noinline)) int f{i}(int x) {{ if (x >= 0) throw {i}; return x; }}\n"));
    }
    a.push_str("int use_a(int x) { return tpl<5>(x) + shared_inline(x); }\n");
    let mut b = String::from("#include <cstdio>\ntemplate <int K> __attribute__((noinline)) int tpl(int x) { if (x > K) throw K; return x; }\ninline __attribute__((noinline)) int shared_inline(int x) { if (x) throw x * 3; return 0; }\n");
    for i in 0..N {
        b.push_str(&format!("int f{i}(int);\n"));
    }
    b.push_str("int use_a(int);\nint main() { int caught = 0, sum = 0;\n");
    for i in 0..N {
        b.push_str(&format!("  try {{ f{i}(1); }} catch (int e) {{ caught++; sum += e; }}\n"));
    }
    b.push_str("  try { tpl<5>(9); } catch (int e) { caught++; sum += e; }\n  try { shared_inline(2); } catch (int e) { caught++; sum += e; }\n  try { use_a(7); } catch (int e) { caught++; sum += e; }\n");
    b.push_str("  std::printf(\"caught %d sum %d\\n\", caught, sum); return caught == 153 ? 0 : 1; }\n");
    let (ca, cb) = (d.join("ta.cpp"), d.join("tb.cpp"));
    std::fs::write(&ca, a).unwrap();
    std::fs::write(&cb, b).unwrap();
    let (oa, ob) = (d.join("ta.o"), d.join("tb.o"));
    check(Command::new("g++").args(["-O2", "-fPIC", "-c"]).arg(&ca).arg("-o").arg(&oa));
    check(Command::new("g++").args(["-O2", "-fPIC", "-c"]).arg(&cb).arg("-o").arg(&ob));
    (oa, ob)
}

#[test]
fn exception_from_every_function_and_a_valid_eh_frame_run() {
    let d = dir("throwers");
    let (oa, ob) = throwers(&d);
    let native = d.join("native");
    check(Command::new("g++").arg(&ob).arg(&oa).arg("-o").arg(&native));
    compare(&native, &[ob.as_os_str(), oa.as_os_str(), "-l".as_ref(), "stdc++".as_ref()], &[]);

    // The laid-out .eh_frame: one gap-free run of CIEs and FDEs ending in
    // a zero terminator, each FDE pointing at a CIE of the run and at a
    // live function, and no FDE for the dropped COMDAT copies.
    let dump = d.join("dump.json");
    let out = run(Command::new(JITLINK)
        .args(["link", "--noexec", "--dump-json"])
        .arg(&dump)
        .args([&ob, &oa])
        .args(["-l", "stdc++"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    let hex = |s: &serde_json::Value| u64::from_str_radix(s.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let mem: Vec<(u64, Vec<u8>)> = v["memory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let b = m["bytes"].as_str().unwrap();
            (
                hex(&m["address"]),
                (0..b.len() / 2).map(|i| u8::from_str_radix(&b[2 * i..2 * i + 2], 16).unwrap()).collect(),
            )
        })
        .collect();
    let read = |addr: u64, n: usize| -> Vec<u8> {
        let (base, bytes) =
            mem.iter().find(|(a, b)| addr >= *a && addr + n as u64 <= a + b.len() as u64).expect("in memory");
        bytes[(addr - base) as usize..(addr - base) as usize + n].to_vec()
    };
    let u32_at = |a: u64| u32::from_le_bytes(read(a, 4).try_into().unwrap());
    let sections = v["sections"].as_array().unwrap();
    let eh: Vec<(u64, u64)> = sections
        .iter()
        .filter(|s| s["name"] == ".eh_frame")
        .map(|s| (hex(&s["address"]), s["size"].as_u64().unwrap()))
        .collect();
    let texts: Vec<(u64, u64)> = sections
        .iter()
        .filter(|s| s["name"].as_str().unwrap().starts_with(".text"))
        .map(|s| (hex(&s["address"]), hex(&s["address"]) + s["size"].as_u64().unwrap()))
        .collect();
    let start = eh.iter().map(|e| e.0).min().unwrap();
    let end = eh.iter().map(|e| e.0 + e.1).max().unwrap();
    let (mut at, mut cies, mut fdes) = (start, Vec::new(), Vec::new());
    loop {
        let len = u32_at(at) as u64;
        if len == 0 {
            break;
        }
        let id = u32_at(at + 4) as u64;
        if id == 0 {
            cies.push(at);
        } else {
            let cie = at + 4 - id;
            assert!(cies.contains(&cie), "FDE at {at:#x} points at {cie:#x}, not a CIE of the run");
            let pc = (at + 8).wrapping_add(u32_at(at + 8) as i32 as i64 as u64);
            assert!(texts.iter().any(|&(a, b)| pc >= a && pc < b), "FDE at {at:#x} covers {pc:#x}, outside code");
            fdes.push(pc);
        }
        at += 4 + len;
    }
    assert_eq!(at + 4, end, "the run is gap-free and its terminator is the last 4 bytes");
    let mut distinct = fdes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), fdes.len(), "one FDE per function: dropped COMDAT copies lost theirs");
    assert!(fdes.len() >= 150, "{} FDEs", fdes.len());
}

fn tls_sources(d: &Path) -> (PathBuf, PathBuf) {
    let (a, b) = (d.join("tls.c"), d.join("tls2.c"));
    std::fs::write(
        &a,
        "#include <pthread.h>\n#include <stdio.h>\n__thread int counter = 5;\n__thread long big[64];\n\
         static __thread int local_one = 7;\nextern __thread int other;\n\
         int bump(int by) { counter += by; big[3] += by; local_one += 1; other += 2;\n\
           return counter * 1000 + (int)big[3] * 10 + local_one + other; }\n\
         static void *worker(void *arg) { long id = (long)arg, r = 0; for (int i = 0; i < 1000; i++) r = bump((int)id); return (void *)r; }\n\
         int main(void) { pthread_t t[4]; for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, (void *)(i + 1));\n\
           for (int i = 0; i < 4; i++) { void *r; pthread_join(t[i], &r); printf(\"thread %d -> %ld\\n\", i + 1, (long)r); }\n\
           printf(\"main %d %ld %d %d\\n\", counter, big[3], local_one, other); return 0; }\n",
    )
    .unwrap();
    std::fs::write(&b, "__thread int other = 100;\n").unwrap();
    (a, b)
}

#[test]
fn tls_models() {
    let d = dir("tls");
    let (a, b) = tls_sources(&d);
    // Served: general dynamic (and local dynamic for the static variable)
    // through __tls_get_addr, and TLS descriptors.
    for (name, flags) in [
        ("gd", &["-O0", "-fPIC"][..]),
        ("gd-ld-O2", &["-O2", "-fPIC"][..]),
        ("tlsdesc", &["-O2", "-fPIC", "-mtls-dialect=gnu2"][..]),
    ] {
        let (oa, ob) = (d.join(format!("{name}-a.o")), d.join(format!("{name}-b.o")));
        check(Command::new("gcc").args(flags).arg("-c").arg(&a).arg("-o").arg(&oa));
        check(Command::new("gcc").args(flags).arg("-c").arg(&b).arg("-o").arg(&ob));
        let native = d.join(format!("{name}-native"));
        check(Command::new("gcc").arg(&oa).arg(&ob).arg("-o").arg(&native).arg("-lpthread"));
        compare(&native, &[oa.as_os_str(), ob.as_os_str()], &[]);
        let out = run(&mut Command::new(&native));
        let text = String::from_utf8_lossy(&out.stdout);
        let per_thread: Vec<&str> = text.lines().filter(|l| l.starts_with("thread")).collect();
        assert_eq!(per_thread.len(), 4);
        let mut values: Vec<&str> = per_thread.iter().map(|l| l.split("-> ").nth(1).unwrap()).collect();
        values.dedup();
        assert_eq!(values.len(), 4, "each thread saw its own value: {per_thread:?}");
    }
    // Rejected, with the model and the way out.
    for (flags, model) in [(&["-fPIC", "-ftls-model=initial-exec"][..], "initial-exec"), (&["-fPIE"][..], "local-exec")]
    {
        let (oa, ob) = (d.join("rej-a.o"), d.join("rej-b.o"));
        check(Command::new("gcc").args(flags).arg("-c").arg(&a).arg("-o").arg(&oa));
        check(Command::new("gcc").args(flags).arg("-c").arg(&b).arg("-o").arg(&ob));
        let out = run(Command::new(JITLINK).arg("run").arg(&oa).arg(&ob));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(model) && err.contains("-ftls-model=global-dynamic") && err.lines().count() == 1, "{err}");
    }
}

static CONSTRUCTED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
static DESTROYED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

#[test]
fn remove_runs_destructors_once_and_reload_100_times() {
    let d = dir("reload");
    let src = d.join("obj.cpp");
    std::fs::write(
        &src,
        "#include <atomic>\n#include <stdexcept>\n#include <string>\n\
         extern \"C\" std::atomic<int> host_constructed, host_destroyed;\n\
         struct Tracker { std::string s; Tracker() : s(\"alive\") { host_constructed++; } ~Tracker() { host_destroyed++; } };\n\
         static Tracker tracker;\n\
         extern \"C\" int work(int x) { try { if (x > 0) throw std::runtime_error(tracker.s); } catch (const std::exception &e) { return (int)std::string(e.what()).size() + x; } return -1; }\n",
    )
    .unwrap();
    let obj = d.join("obj.o");
    check(Command::new("g++").args(["-O2", "-fPIC", "-c"]).arg(&src).arg("-o").arg(&obj));
    let maps = || std::fs::read_to_string("/proc/self/maps").unwrap().lines().count();
    let mut s = jitlink::Session::in_process();
    s.add_library("stdc++").unwrap();
    s.define_absolute("host_constructed", &CONSTRUCTED as *const _ as u64).unwrap();
    s.define_absolute("host_destroyed", &DESTROYED as *const _ as u64).unwrap();
    let mut baseline = 0;
    for i in 1..=100 {
        s.add_file(&obj).unwrap();
        let id = s.link(&jitlink::LinkOptions::default()).unwrap();
        // SAFETY: the link was made for this process from our own source.
        unsafe { s.run_initializers(id).unwrap() };
        let work = s.lookup("work").unwrap();
        // SAFETY: work is `int work(int)` compiled above.
        let f: extern "C" fn(i32) -> i32 = unsafe { std::mem::transmute(work as usize) };
        assert_eq!(f(3), 8, "an exception thrown and caught in the JIT'd code");
        s.remove(id).unwrap();
        assert_eq!(CONSTRUCTED.load(std::sync::atomic::Ordering::SeqCst), i);
        assert_eq!(DESTROYED.load(std::sync::atomic::Ordering::SeqCst), i, "destructor ran once at removal");
        if i == 10 {
            baseline = maps();
        }
        if i > 10 {
            assert!(maps() <= baseline + 2, "mappings grew from {baseline} to {}", maps());
        }
    }
}
