//! The library API as a JIT author uses it: objects from memory, host
//! callbacks through absolute symbols, user passes at every pipeline
//! point, matchable errors, shared libraries through `-L`/`-l`, and the
//! slab options of the command line.

use jitlink::graph::SymbolKind;
use jitlink::link::PassPoint;
use jitlink::{Error, LinkOptions, Session};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const JITLINK: &str = env!("CARGO_BIN_EXE_jitlink");

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("api").join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles C source `src` with gcc and `flags`; returns the object bytes.
fn compile(name: &str, src: &str, flags: &[&str]) -> PathBuf {
    let d = dir(name);
    let c = d.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let o = d.join(format!("{name}.o"));
    let out = Command::new("gcc").args(flags).arg("-c").arg(&c).arg("-o").arg(&o).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    o
}

extern "C" fn host_twice(x: i32) -> i32 {
    2 * x
}

#[test]
fn object_bytes_host_callback_and_passes() {
    let obj = compile(
        "callback",
        "extern int host_twice(int); int calls; int use_host(int x) { calls++; return host_twice(x) + 1; }",
        &["-O2"],
    );
    let mut s = Session::in_process();
    s.add_object_bytes("callback.o", std::fs::read(&obj).unwrap()).unwrap();
    s.define_absolute("host_twice", host_twice as *const () as u64).unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    for point in [
        PassPoint::PrePrune,
        PassPoint::PostPrune,
        PassPoint::PostAllocation,
        PassPoint::PreFixup,
        PassPoint::PostFixup,
    ] {
        let seen = seen.clone();
        s.add_pass(
            point,
            Box::new(move |g, names| {
                let use_host = g
                    .symbols
                    .iter()
                    .find(|sym| sym.name.is_some_and(|n| names.bytes(n) == b"use_host"))
                    .expect("use_host in graph");
                assert_eq!(use_host.kind, SymbolKind::Defined);
                let addr = g.blocks[use_host.block.unwrap().index()].addr;
                seen.lock().unwrap().push(format!("{point:?}:{}", addr != 0));
                Ok(())
            }),
        );
    }
    let id = s.link(&LinkOptions::default()).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        ["PrePrune:false", "PostPrune:false", "PostAllocation:true", "PreFixup:true", "PostFixup:true"]
    );
    let f = s.lookup("use_host").unwrap();
    // SAFETY: use_host is `int use_host(int)`, compiled for this host.
    let f: extern "C" fn(i32) -> i32 = unsafe { std::mem::transmute(f as usize) };
    assert_eq!(f(20), 41);
    assert_eq!(f(1), 3);
    let calls = s.lookup("calls").unwrap() as *const i32;
    // SAFETY: `calls` is an int in the link's RW memory, alive until remove.
    assert_eq!(unsafe { *calls }, 2);
    assert!(s.linked(id).unwrap().counts.1 > 0);
    s.remove(id).unwrap();
}

#[test]
fn errors_are_matchable() {
    let obj = compile(
        "undef_api",
        "extern int nowhere_a(void), nowhere_b(void); int f(void) { return nowhere_a() + nowhere_b(); }",
        &["-O2"],
    );
    let mut s = Session::in_process();
    s.add_file(&obj).unwrap();
    match s.link(&LinkOptions::default()) {
        Err(Error::UndefinedSymbols { missing }) => {
            let names: Vec<&str> = missing.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["nowhere_a", "nowhere_b"]);
            assert!(missing.iter().all(|(_, f)| f == "undef_api.o"));
        }
        other => panic!("expected UndefinedSymbols, got {other:?}"),
    }
    // A second link of the same name in the same session is a duplicate.
    let a = compile("dup_api", "int twice_defined = 1;", &["-O2"]);
    let mut s = Session::in_process();
    s.add_file(&a).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    s.add_file(&a).unwrap();
    assert!(matches!(s.link(&LinkOptions::default()), Err(Error::DuplicateDefinition { .. })));
}

#[test]
fn shared_library_through_l_and_big_l() {
    let d = dir("shlib");
    let lib_c = d.join("greet.c");
    std::fs::write(&lib_c, "int greet_value(int x) { return x * 3 + 1; }\n").unwrap();
    let so = d.join("libgreet.so");
    let out = Command::new("gcc").args(["-shared", "-fPIC", "-O2"]).arg(&lib_c).arg("-o").arg(&so).output().unwrap();
    assert!(out.status.success());
    let main = compile(
        "shmain",
        "#include <stdio.h>\nextern int greet_value(int);\nint main(void) { printf(\"greet %d\\n\", greet_value(4)); return greet_value(1); }",
        &["-O2"],
    );
    let out = Command::new(JITLINK).arg("run").arg(&main).arg("-L").arg(&d).args(["-l", "greet"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "greet 13\n", "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(4));
    // --name=value spellings and the slab options.
    let out = Command::new(JITLINK)
        .arg(&main)
        .arg(format!("-L{}", d.display()))
        .arg("-lgreet")
        .arg("--slab-allocate=1Mb")
        .arg("--slab-page-size=0x1000")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "greet 13\n", "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(JITLINK).arg(&main).args(["-l", "no_such_library_anywhere"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_library_anywhere"));
}

#[test]
fn slab_too_small_is_an_error() {
    let main = compile("slabsmall", "static char big[1 << 20] = {1}; int main(void) { return big[0]; }", &["-O0"]);
    let out = Command::new(JITLINK).arg("run").arg(&main).arg("--slab-allocate").arg("64").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("slab exhausted") && err.lines().count() == 1, "{err}");
}

#[test]
fn noexec_slab_address_is_reproducible() {
    let obj = compile("repro", "int g = 5; int *pg = &g; int f(void) { return *pg; }", &["-O2"]);
    let d = dir("repro");
    let dumps: Vec<String> = (0..2)
        .map(|i| {
            let p = d.join(format!("d{i}.json"));
            let out = Command::new(JITLINK)
                .args(["link", "--noexec", "--slab-address", "0x40000000", "--dump-json"])
                .arg(&p)
                .arg(&obj)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            std::fs::read_to_string(p).unwrap()
        })
        .collect();
    assert_eq!(dumps[0], dumps[1]);
    let v: serde_json::Value = serde_json::from_str(&dumps[0]).unwrap();
    assert_eq!(v["triple"], "x86_64-unknown-linux-gnu");
    let g = v["symbols"].as_array().unwrap().iter().find(|s| s["name"] == "g").unwrap();
    assert!(g["address"].as_str().unwrap().starts_with("0x4000"));
}
