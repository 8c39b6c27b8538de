//! Redirection for other targets, in simulated (`--noexec`) sessions:
//! call sites of AArch64 and PPC64 objects are recorded, `redirect`
//! rewrites them in place or routes them through the stub as each
//! architecture allows, and lazy trampolines and the re-entry routine are
//! laid out in the dump with the encodings `src/arch/<arch>/redirect.rs`
//! gives (executing them is later work, under qemu).

use jitlink::arch::Arch;
use jitlink::redirect::{Binding, RedirectOptions, SiteForm, StubReason};
use jitlink::{LinkOptions, Session, SessionOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

const JITLINK: &str = env!("CARGO_BIN_EXE_jitlink");
const BASE: u64 = 0x1000_0000;

const CALLERS: &str = "long f(long x);\nlong lazy_fn(long x);\n\
    __attribute__((noinline)) long c1(long x) { return f(x) + 1; }\n\
    __attribute__((noinline)) long c2(long x) { return f(x + 1) * 3; }\n\
    __attribute__((noinline)) long c3(long x) { return lazy_fn(x) + 2; }\n";
const FG: &str = "__attribute__((noinline)) long f(long x) { return x + 1; }\n\
    __attribute__((noinline)) long g(long x) { return 2 * x; }\n";
const LAZY: &str = "long lazy_fn(long x) { return x * 7; }\n";

fn cross(arch: Arch) -> Option<(&'static str, &'static [&'static str])> {
    let r = match arch {
        Arch::Aarch64 => ("aarch64-linux-gnu-gcc", &[][..]),
        Arch::Ppc64Le => ("powerpc64le-linux-gnu-gcc", &[][..]),
        Arch::Ppc64Be => ("powerpc64-linux-gnu-gcc", &["-mabi=elfv2"][..]),
        Arch::Riscv64 => ("riscv64-linux-gnu-gcc", &[][..]),
        _ => return None,
    };
    if Command::new(r.0).arg("--version").output().is_ok_and(|o| o.status.success()) {
        Some(r)
    } else if std::env::var_os("JITLINK_REQUIRE_CROSS").is_some() {
        panic!("{} is required (JITLINK_REQUIRE_CROSS is set)", r.0)
    } else {
        eprintln!("skipped: {} not installed", r.0);
        None
    }
}

fn objects(arch: Arch, tag: &str) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let (cc, flags) = cross(arch)?;
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("redirect_cross").join(format!("{arch:?}-{tag}"));
    std::fs::create_dir_all(&d).unwrap();
    let mut out = Vec::new();
    for (name, src) in [("callers", CALLERS), ("fg", FG), ("lazy", LAZY)] {
        let c = d.join(format!("{name}.c"));
        std::fs::write(&c, src).unwrap();
        let o = d.join(format!("{name}.o"));
        let r = Command::new(cc).args(["-O2", "-fPIC", "-c"]).args(flags).arg(&c).arg("-o").arg(&o).output().unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        out.push(o);
    }
    Some((out[0].clone(), out[1].clone(), out[2].clone()))
}

fn session(arch: Arch) -> Session {
    Session::with_redirection(
        RedirectOptions { arch: Some(arch), simulate_at: Some(BASE), arena_size: 512 << 20, ..Default::default() },
        SessionOptions { phony_externals: true, ..Default::default() },
    )
    .unwrap()
}

fn sites_and_redirects(arch: Arch) {
    let Some((callers, fg, _)) = objects(arch, "sites") else { return };
    let mut s = session(arch);
    let f_id = s.make_redirectable("f").unwrap();
    s.define_lazy("lazy_fn", Box::new(|| Err(jitlink::Error::Usage("not executed in a simulated session".into()))))
        .unwrap();
    s.add_file(&callers).unwrap();
    s.add_file(&fg).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    let r = s.redirector().unwrap().clone();
    let sites = r.call_sites("f");
    assert!(sites.len() >= 2, "{arch:?}: {sites:?}");
    let ppc = matches!(arch, Arch::Ppc64Le | Arch::Ppc64Be);
    for c in &sites {
        match arch {
            Arch::Aarch64 => assert!(matches!(c.kind, SiteForm::A64Call | SiteForm::A64Branch)),
            Arch::Riscv64 => assert!(matches!(c.kind, SiteForm::RvJal | SiteForm::RvCallPair)),
            _ => assert_eq!(c.kind, SiteForm::PpcCall),
        }
        if arch == Arch::Riscv64 && c.kind == SiteForm::RvCallPair {
            // AUIPC+JALR cannot be rewritten atomically: bound to the stub.
            assert_eq!(c.binding, Binding::Stub(StubReason::InstructionPair));
            continue;
        }
        if ppc {
            assert_eq!(c.binding, Binding::Stub(StubReason::Toc), "PPC64 calls across TOCs go through the stub");
            assert_eq!(r.site_target(c), f_id);
        } else {
            assert_eq!(c.binding, Binding::Direct);
            assert_eq!(r.site_target(c), r.current("f").unwrap(), "bound straight to f's body");
        }
    }
    let g = s.symbol("g").unwrap().addr;
    let rep = s.redirect(&["f"], g).unwrap();
    let stub = r.stub("f").unwrap();
    assert_eq!(r.slot_value(stub.slot), g, "the stub follows");
    let pairs = sites.iter().filter(|c| c.kind == SiteForm::RvCallPair).count();
    if ppc {
        assert_eq!((rep.patched, rep.by_design), (0, sites.len()));
    } else if pairs == sites.len() {
        assert_eq!((rep.patched, rep.by_design), (0, pairs), "{rep:?}");
    } else {
        assert_eq!(rep.patched, sites.len(), "{rep:?}");
        for c in r.call_sites("f") {
            assert_eq!(r.site_target(&c), g, "patched in place to g");
        }
        // Just beyond B/BL's ±128 MiB: through the stub, and back.
        let far = sites.iter().map(|c| c.addr).max().unwrap() + (128 << 20) + 4096;
        let rep = s.redirect(&["f"], far).unwrap();
        assert_eq!(rep.out_of_range, sites.len(), "{rep:?}");
        for c in r.call_sites("f") {
            assert_eq!(r.site_target(&c), f_id);
        }
        assert_eq!(r.slot_value(stub.slot), far);
        let rep = s.redirect(&["f"], g).unwrap();
        assert_eq!(rep.patched, sites.len());
    }
    // The lazy symbol's caller reaches its trampoline (directly, or
    // through its stub whose slot holds the trampoline).
    let lazy = r.stub("lazy_fn").unwrap();
    assert_eq!(r.slot_value(lazy.slot), lazy.trampoline);
    for c in r.call_sites("lazy_fn") {
        let t = r.site_target(&c);
        assert!(t == lazy.trampoline || t == lazy.addr, "{arch:?}: {c:?} -> {t:#x}");
    }
}

#[test]
fn aarch64_sites_and_redirects() {
    sites_and_redirects(Arch::Aarch64);
}

#[test]
fn ppc64le_sites_and_redirects() {
    sites_and_redirects(Arch::Ppc64Le);
}

#[test]
fn ppc64be_sites_and_redirects() {
    sites_and_redirects(Arch::Ppc64Be);
}

/// `jitlink link --noexec --lazy`: the lazy object's functions get stubs
/// and trampolines in the dump, with the architecture's encodings.
fn lazy_dump(arch: Arch) {
    let Some((callers, fg, lazy)) = objects(arch, "dump") else { return };
    let dump = callers.with_file_name("lazy-dump.json");
    let out = Command::new(JITLINK)
        .args(["link", "--noexec", "--lazy", "--phony-externals", "--slab-address", "0x10000000", "--dump-json"])
        .arg(&dump)
        .args([&callers, &fg, &lazy])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    assert_eq!(v["triple"], arch.triple());
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
            mem.iter().find(|(a, b)| addr >= *a && addr + n as u64 <= a + b.len() as u64).expect("in dump memory");
        bytes[(addr - base) as usize..(addr - base) as usize + n].to_vec()
    };
    let stubs = v["stubs"].as_array().unwrap();
    let find = |target: &str, kind: &str| {
        stubs.iter().find(|s| s["target"] == target && s["kind"] == kind).map(|s| hex(&s["address"]))
    };
    let tramp = find("lazy_fn", "lazy-trampoline").expect("lazy_fn's trampoline is in the dump");
    let stub = find("lazy_fn", "redirect").expect("lazy_fn's stub is in the dump");
    let reentry = find("", "reentry").expect("the re-entry routine is in the dump");
    // Pool layout: a code page of entries, then a data page of
    // (slot, ctx) pairs whose last word is the re-entry slot.
    let code = jitlink::redirect::ArchCode { arch };
    let page = 4096u64;
    let chunk = stub & !(page - 1);
    let i = (stub - chunk) / code.entry_size() as u64;
    let slot = chunk + page + 16 * i;
    let reentry_slot = chunk + 2 * page - 8;
    let be = !arch.little_endian();
    let word = |a: u64| {
        let b: [u8; 8] = read(a, 8).try_into().unwrap();
        if be {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        }
    };
    assert_eq!(word(slot), tramp, "the stub's slot points at the trampoline");
    assert_eq!(word(reentry_slot), reentry, "trampolines reach the re-entry routine");
    let expect_entry = code.encode_entry(stub, slot, slot + 8, reentry_slot).unwrap();
    assert_eq!(read(stub, code.entry_size()), expect_entry, "stub and trampoline bytes");
    let expect_routine = code.encode_reentry(reentry, reentry + page).unwrap();
    assert_eq!(read(reentry, expect_routine.len()), expect_routine, "re-entry routine bytes");
}

#[test]
fn riscv64_sites_and_redirects() {
    sites_and_redirects(Arch::Riscv64);
}

#[test]
fn riscv64_lazy_trampolines_in_dump() {
    lazy_dump(Arch::Riscv64);
}

#[test]
fn aarch64_lazy_trampolines_in_dump() {
    lazy_dump(Arch::Aarch64);
}

#[test]
fn ppc64le_lazy_trampolines_in_dump() {
    lazy_dump(Arch::Ppc64Le);
}

#[test]
fn ppc64be_lazy_trampolines_in_dump() {
    lazy_dump(Arch::Ppc64Be);
}
