//! Real programs for RISC-V 64: the SQLite amalgamation and Lua 5.4
//! (with their drivers from `tests/programs/`), cross-compiled by
//! `scripts/build-programs.sh` with `CC=riscv64-linux-gnu-gcc` (Debian's
//! `gcc-riscv64-linux-gnu`, the compiler's defaults: PIE, relaxation) at
//! -O2 and -O0 into `<target>/programs-riscv64/gcc-<opt>/` (rebuilt only
//! when the sources, compiler or script change).
//!
//! Each program is linked for RISC-V on this host:
//! 1. `jitlink link --noexec --phony-externals` (libc at 0), with linker
//!    relaxation: no error, and every relocation of every loaded object
//!    checked against its psABI formula at the offsets relaxation moved
//!    it to (the checker of `riscv64_common`, which reconstructs the
//!    deleted bytes by walking the object's and the link's instructions
//!    side by side);
//! 2. through the library with the R_RISCV_RELAX markers removed, and by
//!    GNU ld `--no-relax` with every input section at the same address:
//!    every byte of every section must agree, except instructions
//!    addressing GOT entries (each linker has its own GOT; the checker
//!    follows ours) and which NOPs fill R_RISCV_ALIGN padding.

mod riscv64_common;

use riscv64_common::*;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CC: &str = "riscv64-linux-gnu-gcc";
const AR: &str = "riscv64-linux-gnu-ar";

fn target_dir() -> PathBuf {
    match Path::new(env!("CARGO_TARGET_TMPDIR")).parent() {
        Some(p) => p.to_path_buf(),
        None => Path::new(ROOT).join("target"),
    }
}

/// Builds the programs at `opt` once per test process.
fn build(opt: &str) -> PathBuf {
    static BUILDS: OnceLock<Mutex<HashMap<String, Result<PathBuf, String>>>> = OnceLock::new();
    let mut map = BUILDS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    let r = map.entry(opt.to_string()).or_insert_with(|| {
        let dir = target_dir().join("programs-riscv64").join(format!("gcc{opt}"));
        let mut cmd = Command::new("bash");
        cmd.arg(Path::new(ROOT).join("scripts/build-programs.sh")).arg(&dir).arg(opt);
        cmd.env("CC", CC).env("AR", AR).current_dir(ROOT);
        if let Some(cargo) = option_env!("CARGO") {
            if std::env::var_os("CARGO").is_none() {
                cmd.env("CARGO", cargo);
            }
        }
        let out = cmd.output().map_err(|e| format!("cannot run build-programs.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "build-programs.sh {} {opt} with CC={CC} failed (needs gcc-riscv64-linux-gnu):\n{}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(dir)
    });
    r.clone().unwrap_or_else(|e| panic!("{e}"))
}

/// The objects a link used, named as in the dump: plain files, and the
/// archive members the dump lists as `lib.a(member.o)`.
fn loaded_objects(files: &[PathBuf], dump: &Dump) -> Vec<(String, Vec<u8>)> {
    let listed: HashSet<&str> = dump.sections.iter().map(|s| s.file.as_str()).collect();
    let mut out = Vec::new();
    for f in files {
        let data = std::fs::read(f).unwrap();
        let name = base_name(f);
        if f.extension().is_some_and(|e| e == "a") {
            let ar = object::read::archive::ArchiveFile::parse(&data[..]).expect("archive");
            for m in ar.members() {
                let m = m.unwrap();
                let mname = format!("{name}({})", String::from_utf8_lossy(m.name()));
                if listed.contains(mname.as_str()) {
                    out.push((mname, m.data(&data[..]).unwrap().to_vec()));
                }
            }
        } else {
            out.push((name, data));
        }
    }
    out
}

/// Undefined globals of `objs` that none of them defines (libc), for
/// ld's `--defsym NAME=0` (jitlink's --phony-externals).
fn externals(objs: &[(String, Vec<u8>)]) -> Vec<(String, u64)> {
    use object::{Object, ObjectSymbol};
    let (mut undef, mut def) = (BTreeSet::new(), HashSet::new());
    for (_, data) in objs {
        let o = object::File::parse(&data[..]).unwrap();
        for s in o.symbols() {
            let Ok(n) = s.name() else { continue };
            if s.is_undefined() && s.is_global() && !n.is_empty() {
                undef.insert(n.to_string());
            } else if s.is_global() && !s.is_undefined() {
                def.insert(n.to_string());
            }
        }
    }
    undef.into_iter().filter(|n| !def.contains(n)).map(|n| (n, 0)).collect()
}

fn program(tag: &str, opt: &str, inputs: &[&str]) {
    let dir = build(opt);
    let files: Vec<PathBuf> = inputs.iter().map(|i| dir.join(i)).collect();
    let t0 = std::time::Instant::now();

    // 1. The command line, relaxing: no error; every relocation checked.
    let dump = link_cli(tag, &files, &[], &["--phony-externals"]).unwrap_or_else(|e| panic!("{e}"));
    let objs = loaded_objects(&files, &dump);
    let ctx = Ctx::new(tag, &dump, &objs, &[]);
    let recs = ctx.check_all();
    ctx.check_symbols();
    let relaxed = recs.iter().filter(|r| matches!(r.how, How::Relaxed(_))).count();
    let deleted: u64 = ctx.dels.values().map(|d| d.total()).sum();
    eprintln!(
        "[{tag}] {} objects, {} relocations checked, {relaxed} calls relaxed, {deleted} bytes deleted ({:.1}s)",
        objs.len(),
        recs.len(),
        t0.elapsed().as_secs_f64()
    );
    assert!(recs.len() > 10_000, "[{tag}] only {} relocations", recs.len());
    assert!(relaxed > 100, "[{tag}] only {relaxed} calls relaxed");

    // 2. Without call relaxation, against GNU ld at the same addresses.
    assert!(have_ld(), "{LD} not found: apt-get install binutils-riscv64-linux-gnu");
    let plain_tag = format!("{tag}-norelax");
    let plain = link_api(&plain_tag, &files, &[], true, true);
    let ctx = Ctx::new(&plain_tag, &plain, &objs, &[]);
    let recs = ctx.check_all();
    assert!(recs.iter().all(|r| !matches!(r.how, How::Relaxed(_))));
    let ld_inputs: Vec<(PathBuf, String)> = files.iter().map(|f| (f.clone(), base_name(f))).collect();
    let out = ld_link(&plain_tag, &ld_inputs, &plain, &externals(&objs), false);
    let got = ctx.got_sites();
    let pad = ctx.padding_sites();
    let skip = |f: &str, s: &str, o: u64| {
        let k = (f.to_string(), s.to_string(), o);
        got.contains(&k) || pad.contains(&k)
    };
    let n = compare_with_ld(&plain_tag, &plain, &out, &skip);
    let total: u64 = plain.sections.iter().filter(|s| !s.name.starts_with("$__")).map(|s| s.size).sum();
    eprintln!("[{tag}] {n} of {total} bytes equal to GNU ld's ({:.1}s)", t0.elapsed().as_secs_f64());
    assert!(n as u64 + (got.len() + pad.len()) as u64 >= total, "[{tag}] not every section was compared");
}

#[test]
fn sqlite_o2() {
    program("sqlite-O2", "-O2", &["sqlite_driver.o", "sqlite3.o"]);
}

#[test]
fn sqlite_o0() {
    program("sqlite-O0", "-O0", &["sqlite_driver.o", "sqlite3.o"]);
}

#[test]
fn lua_o2() {
    program("lua-O2", "-O2", &["lua_driver.o", "liblua.a"]);
}

#[test]
fn lua_o0() {
    program("lua-O0", "-O0", &["lua_driver.o", "liblua.a"]);
}
