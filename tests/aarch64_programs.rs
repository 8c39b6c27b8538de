//! Real programs for AArch64: Lua 5.4 and the SQLite amalgamation (the
//! sources `scripts/build-programs.sh` uses, located with `cargo metadata`
//! on `tests/sources`), cross-compiled here by `aarch64-linux-gnu-gcc` at
//! -O2 and -O0 (Debian's default PIE code generation) into
//! `<target>/programs-aarch64/gcc-<opt>/` (rebuilt only when a source,
//! the flags or the compiler change), then
//!
//! * linked by `jitlink link --noexec --phony-externals --slab-address
//!   0x10000000 --dump-json`, which must succeed (libc symbols resolve to
//!   0: nothing runs), and
//! * linked again by GNU ld (`aarch64-linux-gnu-ld`) with every input
//!   section placed where jitlink placed it and every undefined symbol at
//!   0: every byte of every placed section must agree, every relocated
//!   field included, except those `aarch64_common::compare_with_ld`
//!   leaves out (GOT-dependent fields, branches to the undefined libc
//!   symbols, targets in mergeable string sections), and
//! * every relocation (those included) is checked against its psABI
//!   formula as in `tests/aarch64_relocs.rs` (`aarch64_common::formula`).
//!
//! Skipped with a message when the cross tools are not installed (set
//! `JITLINK_REQUIRE_CROSS` to make that a failure).

mod aarch64_common;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use aarch64_common::*;
use object::{Object, ObjectSymbol};

struct Sources {
    lua: PathBuf,
    sqlite: PathBuf,
}

/// The Lua and SQLite source directories (the crates.io packages
/// `lua-src` 547.1.0 and `libsqlite3-sys` 0.30.1, as build-programs.sh).
fn sources() -> Sources {
    let cargo = std::env::var("CARGO").ok().or(option_env!("CARGO").map(String::from)).unwrap_or("cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--manifest-path"])
        .arg(root().join("tests/sources/Cargo.toml"))
        .output()
        .expect("cannot run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir = |name: &str, version: &str| -> PathBuf {
        let p = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name && p["version"] == version)
            .unwrap_or_else(|| panic!("cargo metadata did not locate {name} {version}"));
        Path::new(p["manifest_path"].as_str().unwrap()).parent().unwrap().to_path_buf()
    };
    Sources {
        lua: dir("lua-src", "547.1.0").join("lua-5.4.7"),
        sqlite: dir("libsqlite3-sys", "0.30.1").join("sqlite3"),
    }
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| root().join("target"))
}

/// One compilation: source, object, extra flags.
struct Unit {
    src: PathBuf,
    obj: PathBuf,
    flags: Vec<String>,
}

struct Built {
    lua: Vec<PathBuf>,
    sqlite: Vec<PathBuf>,
}

fn newer(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a).and_then(|m| m.modified()), fs::metadata(b).and_then(|m| m.modified())) {
        (Ok(x), Ok(y)) => x > y,
        _ => false,
    }
}

/// Compiles both programs at `opt` (once per test process per `opt`).
fn build(cc: &Path, opt: &str) -> Arc<Built> {
    type Cells = Mutex<HashMap<String, Arc<OnceLock<Arc<Built>>>>>;
    static BUILDS: OnceLock<Cells> = OnceLock::new();
    let cell = BUILDS.get_or_init(Default::default).lock().unwrap().entry(opt.to_string()).or_default().clone();
    // One optimisation level compiles at a time (two compilers at once):
    // the machine is shared.
    static COMPILING: Mutex<()> = Mutex::new(());
    cell.get_or_init(|| {
        let _one = COMPILING.lock().unwrap_or_else(|e| e.into_inner());
        Arc::new(compile_all(cc, opt))
    })
    .clone()
}

fn compile_all(cc: &Path, opt: &str) -> Built {
    let src = sources();
    let dir = target_dir().join("programs-aarch64").join(format!("gcc{opt}"));
    fs::create_dir_all(dir.join("lua")).unwrap();
    let version = Command::new(cc).arg("--version").output().map(|o| o.stdout).unwrap_or_default();
    let stamp = format!(
        "{}\n{opt}\n{}\n{}\n{}\n",
        String::from_utf8_lossy(&version).lines().next().unwrap_or(""),
        src.lua.display(),
        src.sqlite.display(),
        env!("CARGO_MANIFEST_DIR")
    );
    let stamp_path = dir.join(".stamp");
    if fs::read_to_string(&stamp_path).ok().as_deref() != Some(&stamp) {
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("lua")).unwrap();
        fs::write(&stamp_path, &stamp).unwrap();
    }
    let progs = root().join("tests/programs");
    let lua_flags = vec!["-DLUA_USE_LINUX".to_string(), format!("-I{}", src.lua.display())];
    let sqlite_flags = vec![
        "-DSQLITE_THREADSAFE=0".to_string(),
        "-DSQLITE_OMIT_LOAD_EXTENSION".into(),
        format!("-I{}", src.sqlite.display()),
    ];
    // The amalgamation first: by far the slowest.
    let mut units = vec![
        Unit { src: src.sqlite.join("sqlite3.c"), obj: dir.join("sqlite3.o"), flags: sqlite_flags.clone() },
        Unit { src: progs.join("sqlite_driver.c"), obj: dir.join("sqlite_driver.o"), flags: sqlite_flags },
        Unit { src: progs.join("lua_driver.c"), obj: dir.join("lua_driver.o"), flags: lua_flags.clone() },
    ];
    let mut lua_srcs: Vec<PathBuf> = fs::read_dir(&src.lua)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .filter(|p| !matches!(p.file_stem().unwrap().to_str(), Some("lua" | "luac")))
        .collect();
    lua_srcs.sort();
    for s in &lua_srcs {
        let obj = dir.join("lua").join(s.file_name().unwrap()).with_extension("o");
        units.push(Unit { src: s.clone(), obj, flags: lua_flags.clone() });
    }
    let todo: Vec<&Unit> = units.iter().filter(|u| !newer(&u.obj, &u.src)).collect();
    let started = Instant::now();
    let queue = Mutex::new(todo.into_iter());
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..2 {
            sc.spawn(|| loop {
                let Some(u) = queue.lock().unwrap().next() else { break };
                let tmp = u.obj.with_extension("o.tmp");
                let out = Command::new(cc).arg(opt).args(&u.flags).arg("-c").arg(&u.src).arg("-o").arg(&tmp).output();
                match out {
                    Ok(o) if o.status.success() => fs::rename(&tmp, &u.obj).unwrap(),
                    Ok(o) => errors.lock().unwrap().push(format!(
                        "{}: {}",
                        u.src.display(),
                        String::from_utf8_lossy(&o.stderr)
                    )),
                    Err(e) => errors.lock().unwrap().push(format!("{}: {e}", u.src.display())),
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap();
    assert!(errors.is_empty(), "cross compilation failed:\n{}", errors.join("\n"));
    eprintln!("aarch64 programs at {opt}: ready in {:.1}s ({})", started.elapsed().as_secs_f64(), dir.display());
    let mut lua = vec![dir.join("lua_driver.o")];
    lua.extend(units[3..].iter().map(|u| u.obj.clone()));
    Built { lua, sqlite: vec![dir.join("sqlite_driver.o"), dir.join("sqlite3.o")] }
}

/// Global names the objects use and none defines: jitlink's
/// `--phony-externals` puts them at 0, and so does the ld script.
fn undefined_names(files: &[PathBuf]) -> Vec<(String, u64)> {
    let mut defined = BTreeSet::new();
    let mut used = BTreeSet::new();
    for f in files {
        let data = fs::read(f).unwrap();
        let obj = object::File::parse(&data[..]).unwrap();
        for s in obj.symbols() {
            let Ok(n) = s.name() else { continue };
            if n.is_empty() || s.is_local() {
                continue;
            }
            if s.is_undefined() {
                used.insert(n.to_string());
            } else {
                defined.insert(n.to_string());
            }
        }
    }
    used.difference(&defined).filter(|n| *n != "_GLOBAL_OFFSET_TABLE_").map(|n| (n.clone(), 0)).collect()
}

fn check_program(name: &str, opt: &str, pick: fn(&Built) -> &Vec<PathBuf>, min_fields: usize) {
    let Some((cc, ld)) = cross_tools() else { return };
    let built = build(&cc, opt);
    let files = pick(&built);
    let tag = format!("prog-{name}{opt}");
    let t0 = Instant::now();
    let linked = link_paths(&tag, files, &["--phony-externals".to_string()]);
    let link_time = t0.elapsed();
    let undefined = undefined_names(files);
    // Every relocation against the psABI formula, GOT loads and stubs included.
    let recs = formula::Ctx::with_externals(&linked, &undefined).check_all();
    let count = |h: formula::How| recs.iter().filter(|r| r.how == h).count();
    eprintln!(
        "[{tag}] jitlink link {:.2}s; {} relocations checked by formula ({} relaxed GOT loads, {} GOT, {} via stubs)",
        link_time.as_secs_f64(),
        recs.len(),
        count(formula::How::Relaxed),
        count(formula::How::GotLoad),
        count(formula::How::ViaStub)
    );
    let c = compare_with_ld(&ld, &linked, files, &undefined);
    eprintln!("[{tag}] against GNU ld: {c:?}");
    assert!(c.fields >= min_fields, "[{tag}] only {} relocated fields compared: {c:?}", c.fields);
    // The PLT stubs for libc calls were made and reach address 0.
    assert!(linked.dump.stubs.iter().any(|s| s.kind == "plt"), "[{tag}] no PLT stubs");
}

#[test]
fn sqlite_o2_matches_gnu_ld() {
    check_program("sqlite", "-O2", |b| &b.sqlite, 5_000);
}

#[test]
fn sqlite_o0_matches_gnu_ld() {
    check_program("sqlite", "-O0", |b| &b.sqlite, 5_000);
}

#[test]
fn lua_o2_matches_gnu_ld() {
    check_program("lua", "-O2", |b| &b.lua, 3_000);
}

#[test]
fn lua_o0_matches_gnu_ld() {
    check_program("lua", "-O0", |b| &b.lua, 3_000);
}
