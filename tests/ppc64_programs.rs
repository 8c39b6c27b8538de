//! Real programs for PPC64: Lua 5.4 and the SQLite amalgamation (sources
//! from the `lua-src` and `libsqlite3-sys` crates, located with `cargo
//! metadata` on `tests/sources/`, as `scripts/build-programs.sh` does),
//! cross-compiled by this test with the Debian cross GCC
//! (`powerpc64le-linux-gnu-gcc`, `powerpc64-linux-gnu-gcc -mabi=elfv2`) at
//! -O2 and -O0 into `target/programs-ppc64/<endian>-<opt>/` (rebuilt only
//! when a source, the compiler or the flags change).
//!
//! Each program is linked with `jitlink link --noexec --phony-externals`
//! (libc resolves to 0), which must succeed; then GNU ld links the same
//! objects with every section placed at jitlink's address (see
//! `harness::placement_script`) and every relocated word jitlink wrote
//! must equal ld's, except where the two legitimately differ: calls to
//! symbols outside the link (jitlink: its own call stub; ld: whatever it
//! does with an unresolved symbol) with the TOC restore after them,
//! GOT-indirect relocations (each linker has its own GOT), and references
//! into mergeable (SHF_MERGE) sections, whose strings and constants ld
//! merges while jitlink keeps each section whole. The number of sites
//! compared is asserted to be large.

#[path = "fixtures/ppc64/harness.rs"]
mod harness;

use harness::*;
use object::{Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SymbolSection};
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const SQLITE_FLAGS: &[&str] = &["-DSQLITE_THREADSAFE=0", "-DSQLITE_OMIT_LOAD_EXTENSION"];
const LUA_FLAGS: &[&str] = &["-DLUA_USE_LINUX"];

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| "target".into())
}

/// (lua source dir, sqlite source dir) from `cargo metadata`.
fn sources() -> (PathBuf, PathBuf) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sources/Cargo.toml");
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir = |name: &str| -> PathBuf {
        let p = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("cargo metadata did not locate {name}"));
        Path::new(p["manifest_path"].as_str().unwrap()).parent().unwrap().to_path_buf()
    };
    (dir("lua-src").join("lua-5.4.7"), dir("libsqlite3-sys").join("sqlite3"))
}

fn compiler(endian: &str) -> (&'static str, &'static [&'static str]) {
    if endian == "be" {
        ("powerpc64-linux-gnu-gcc", &["-mabi=elfv2"])
    } else {
        ("powerpc64le-linux-gnu-gcc", &[])
    }
}

struct Job {
    src: PathBuf,
    out: PathBuf,
    flags: Vec<String>,
}

/// Compiles `jobs` (two at a time), skipping outputs newer than their
/// source when `stamp` (compiler, version, flags) is unchanged.
fn compile_all(endian: &str, dir: &Path, jobs: Vec<Job>) {
    let (cc, abi) = compiler(endian);
    let version = Command::new(cc).arg("--version").output().unwrap_or_else(|e| {
        panic!("{cc} not found ({e}): install gcc-powerpc64le-linux-gnu and gcc-powerpc64-linux-gnu")
    });
    let stamp = format!("{cc} {abi:?} {}", String::from_utf8_lossy(&version.stdout).lines().next().unwrap_or(""));
    let stamp_path = dir.join(".stamp");
    let fresh_stamp = fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str());
    let todo: Vec<Job> = jobs
        .into_iter()
        .filter(|j| {
            let newer = || -> Option<bool> {
                Some(fs::metadata(&j.out).ok()?.modified().ok()? > fs::metadata(&j.src).ok()?.modified().ok()?)
            };
            !(fresh_stamp && newer() == Some(true))
        })
        .collect();
    let queue = Arc::new(Mutex::new(todo));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (queue, errors) = (queue.clone(), errors.clone());
            std::thread::spawn(move || loop {
                let Some(j) = queue.lock().unwrap().pop() else { return };
                let tmp = j.out.with_extension("o.tmp");
                let out = Command::new(cc).args(abi).args(&j.flags).arg("-c").arg(&j.src).arg("-o").arg(&tmp).output();
                match out {
                    Ok(o) if o.status.success() => fs::rename(&tmp, &j.out).unwrap(),
                    Ok(o) => errors.lock().unwrap().push(format!(
                        "{}: {}",
                        j.src.display(),
                        String::from_utf8_lossy(&o.stderr)
                    )),
                    Err(e) => errors.lock().unwrap().push(format!("{cc}: {e}")),
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let errors = errors.lock().unwrap();
    assert!(errors.is_empty(), "cross compilation failed:\n{}", errors.join("\n"));
    fs::write(stamp_path, stamp).unwrap();
}

/// Debian's big-endian glibc is built for ELFv1 and ships only
/// `gnu/stubs-64-v1.h`; ELFv2 compiles include `gnu/stubs-64-v2.h`. The
/// file only lists unimplemented functions, so a copy of the v1 list in
/// an include directory of our own does.
fn be_include_dir() -> PathBuf {
    let dir = target_dir().join("programs-ppc64").join("include-be");
    let v2 = dir.join("gnu/stubs-64-v2.h");
    if !v2.exists() {
        fs::create_dir_all(dir.join("gnu")).unwrap();
        let v1 = fs::read("/usr/powerpc64-linux-gnu/include/gnu/stubs-64-v1.h").unwrap_or_default();
        fs::write(&v2, v1).unwrap();
    }
    dir
}

/// Builds both programs for (endian, opt); returns (lua objects, sqlite objects).
fn build(endian: &str, opt: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (lua, sqlite) = sources();
    let progs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let dir = target_dir().join("programs-ppc64").join(format!("{endian}{opt}"));
    fs::create_dir_all(&dir).unwrap();
    let be_inc = (endian == "be").then(be_include_dir);
    let flags = |extra: &[&str], inc: Option<&Path>| -> Vec<String> {
        let mut f = vec![opt.to_string()];
        if let Some(d) = &be_inc {
            f.push(format!("-I{}", d.display()));
        }
        f.extend(extra.iter().map(|s| s.to_string()));
        if let Some(i) = inc {
            f.push(format!("-I{}", i.display()));
        }
        f
    };
    let mut jobs = vec![
        Job { src: sqlite.join("sqlite3.c"), out: dir.join("sqlite3.o"), flags: flags(SQLITE_FLAGS, None) },
        Job {
            src: progs.join("sqlite_driver.c"),
            out: dir.join("sqlite_driver.o"),
            flags: flags(SQLITE_FLAGS, Some(&sqlite)),
        },
        Job { src: progs.join("lua_driver.c"), out: dir.join("lua_driver.o"), flags: flags(LUA_FLAGS, Some(&lua)) },
    ];
    let mut lua_objs = vec![dir.join("lua_driver.o")];
    let mut names: Vec<PathBuf> = fs::read_dir(&lua).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for src in names {
        let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
        if src.extension().is_none_or(|e| e != "c") || stem == "lua" || stem == "luac" {
            continue;
        }
        let out = dir.join(format!("lua-{stem}.o"));
        lua_objs.push(out.clone());
        jobs.push(Job { src, out, flags: flags(LUA_FLAGS, None) });
    }
    // The amalgamation is by far the slowest: the queue pops from the end.
    jobs.reverse();
    compile_all(endian, &dir, jobs);
    (lua_objs, vec![dir.join("sqlite_driver.o"), dir.join("sqlite3.o")])
}

/// Relocated words (addresses) jitlink and ld may legitimately disagree on.
fn differing_sites(o: &Objects<'_>) -> (HashSet<u64>, Vec<u64>) {
    let mut skip = HashSet::new();
    let mut sites = Vec::new();
    for i in 0..o.objs.len() {
        for sec in o.objs[i].sections().filter(is_alloc) {
            let Some(base) = o.linked.dump.section(o.name(i), sec.name().unwrap()).map(|s| s.address) else {
                continue;
            };
            for (off, rel) in sec.relocations() {
                let RelocationFlags::Elf { r_type } = rel.flags() else { continue };
                let at = base + off;
                let here = match rel.target() {
                    RelocationTarget::Symbol(idx) => {
                        let sym = o.objs[i].symbol_by_index(idx).unwrap();
                        !matches!(sym.section(), SymbolSection::Undefined)
                            || o.linked.dump.symbols.iter().any(|s| {
                                s.name == sym.name().unwrap_or("") && s.kind == "defined" && !s.section.is_empty()
                            })
                    }
                    _ => true,
                };
                // Into a mergeable (SHF_MERGE) section: ld merges strings and
                // constants, jitlink keeps each file's section as it is.
                let merged = match rel.target() {
                    RelocationTarget::Symbol(idx) => {
                        let sym = o.objs[i].symbol_by_index(idx).unwrap();
                        match sym.section() {
                            SymbolSection::Section(si) => o.objs[i].section_by_index(si).is_ok_and(|t| {
                                matches!(t.flags(), object::SectionFlags::Elf { sh_flags }
                                    if sh_flags & u64::from(object::elf::SHF_MERGE) != 0)
                            }),
                            _ => false,
                        }
                    }
                    _ => false,
                };
                let got = matches!(r_type, 14..=17 | 29..=31 | 58..=60 | 133..=135);
                if merged {
                    skip.insert(at & !3);
                    continue;
                }
                let call = matches!(r_type, 10 | 116 | 124);
                if got || (call && !here) {
                    skip.insert(at & !3);
                    skip.insert((at & !3) + 4);
                    continue;
                }
                if r_type != 0 {
                    sites.push(at);
                }
            }
        }
    }
    (skip, sites)
}

fn check_program(endian: &str, opt: &str, name: &str, objs: &[PathBuf]) {
    let tag = format!("prog-{name}-{endian}{opt}");
    let linked = link(&tag, objs, &[], true, &[]);
    for (n, _, d) in &linked.inputs {
        assert_eq!(abi_version(d), 2, "[{tag}] {n} is not an ELFv2 object");
    }
    let ld_out = {
        let files: Vec<(String, PathBuf)> = linked.inputs.iter().map(|(n, p, _)| (n.clone(), p.clone())).collect();
        let script = placement_script(&linked.dump, &files);
        let extra = ["--unresolved-symbols=ignore-all", "--noinhibit-exec", "--no-check-sections", "--no-multi-toc"];
        ld_link(endian, &tag, &script, objs, &extra)
    };
    let o = Objects::new(&linked);
    let (skip, sites) = differing_sites(&o);
    let ld_sections = output_sections(&ld_out);
    let ld_word = |a: u64| -> Option<&[u8]> {
        ld_sections.iter().find_map(|(_, base, bytes)| {
            let off = a.checked_sub(*base)? as usize;
            bytes.get(off..off + 4)
        })
    };
    let mut compared = 0usize;
    let mut mismatches = Vec::new();
    let mut seen = HashSet::new();
    for at in sites {
        let w = at & !3;
        if skip.contains(&w) || !seen.insert(w) {
            continue;
        }
        for word in [w, w + 4] {
            let (Some(theirs), Some(ours)) = (ld_word(word), linked.dump.read(word, 4)) else { continue };
            compared += 1;
            if theirs != ours && !skip.contains(&word) {
                mismatches.push(format!("{word:#x}: jitlink {ours:02x?}, GNU ld {theirs:02x?}"));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "[{tag}] {} of {compared} relocated words differ from GNU ld, first: {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(10)]
    );
    assert!(compared > 2000, "[{tag}] compared only {compared} words");
    eprintln!("[{tag}] {compared} relocated words agree with GNU ld");
}

/// One variant at a time: the machine has two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run(endian: &str, opt: &str) {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (lua, sqlite) = build(endian, opt);
    check_program(endian, opt, "lua", &lua);
    check_program(endian, opt, "sqlite", &sqlite);
}

#[test]
fn little_endian_o2() {
    run("le", "-O2");
}

#[test]
fn little_endian_o0() {
    run("le", "-O0");
}

#[test]
fn big_endian_o2() {
    run("be", "-O2");
}

#[test]
fn big_endian_o0() {
    run("be", "-O0");
}
