//! Redirection and lazy compilation out of process (protocol version 2),
//! through the library, in the Rust and C executors on this host and in the
//! C executor built by `aarch64-linux-gnu-gcc` under `qemu-aarch64`:
//!
//! - a lazy function's first call goes through its re-entry trampoline in
//!   the executor, which asks the controller (`LAZY`); the body is linked
//!   then, the call continues with its arguments intact (six integers;
//!   eight floating-point values), later calls go straight to the body
//!   (the caller's `BL`/`call` was patched, read back with `READ`);
//! - a lazy body whose initialiser calls another lazy function: a `LAZY`
//!   served while the executor serves the first one (reentrancy);
//! - `redirect` to a body in range patches the `BL`/`call` in place (the
//!   executor's memory checked with `READ`), to a body placed beyond the
//!   branch's range (a page reserved below 2 GiB) falls back to the stub,
//!   whose slot is checked too; each version is executed;
//! - a failing materializer makes the call return 0, the executor lives on;
//! - an executor speaking version 1 (`JITLINK_EXECUTOR_MAX_VERSION=1`)
//!   still serves plain out-of-process sessions and is refused, with a
//!   clear message, for redirecting ones;
//! - a removed link is deallocated in the executor (`DEALLOCATE`) and its
//!   pages finalized again for the next link.
//!
//! The command line (`jitlink run --oop --lazy`, `--oop-executor ... --lazy`)
//! is in `tests/oop_lazy_programs.rs`.

mod oop_common;

use jitlink::oop::client::{self, ExecutorClient};
use jitlink::oop::memory::RemoteOptions;
use jitlink::oop::{self, SharedExecutor};
use jitlink::redirect::{Binding, RedirectOptions, SiteForm};
use jitlink::session::{LinkOptions, SessionOptions};
use jitlink::Error;
use object::{Object, ObjectSection};
use oop_common::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const CALLERS: &str = r#"
long lazy_sum(long, long, long, long, long, long);
double lazy_fp(double, double, double, double, double, double, double, double);
long lazy_a(long);
long lazy_fail(long);
long target(long);
long t_int(long a, long b, long c, long d, long e, long f) { return 2 * lazy_sum(a, b, c, d, e, f); }
long t_fp(long k) { return (long)(1000.0 * lazy_fp(1.5, 2.25, 3.0, 4.0, 5.0, 6.0, 7.0, 0.125 * (double)k)); }
long t_a(long x) { return lazy_a(x) + 1; }
long t_fail(long x) { return lazy_fail(x) + 7; }
long call_target(long x) { return target(x) + 1; }
"#;

const LAZY_BODIES: &str = r#"
long lazy_sum(long a, long b, long c, long d, long e, long f) {
    return a + 10 * b + 100 * c + 1000 * d + 10000 * e + 100000 * f;
}
double lazy_fp(double a, double b, double c, double d, double e, double f, double g, double h) {
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;
}
"#;

/// Linked when `lazy_a` is first called: its initialiser calls `lazy_b`,
/// lazy too, while the executor is serving the `LAZY` of `lazy_a`.
const LAZY_A: &str = r#"
long lazy_b(long);
static long seen;
__attribute__((constructor)) static void init_a(void) { seen = lazy_b(5); }
long lazy_a(long x) { return x + seen; }
"#;

const EAGER: &str = r#"
long target(long x) { return 2 * x; }
long target_v2(long x) { return 3 * x; }
long b_impl(long x) { return x + 100; }
"#;

const FAR: &str = "long far_target(long x) { return 7 * x; }\n";

struct Target {
    cc: String,
    executor: Vec<String>,
    /// Reach of a direct call (bytes either way).
    reach: u64,
    call_form: SiteForm,
}

fn host(executor: PathBuf) -> Target {
    Target {
        cc: "gcc".into(),
        executor: vec![executor.display().to_string()],
        reach: 1 << 31,
        call_form: SiteForm::X86Call,
    }
}

fn aarch64() -> Option<Target> {
    if !tools_present(&["aarch64-linux-gnu-gcc", "qemu-aarch64"]) {
        return None;
    }
    let exe = c_executor("aarch64-linux-gnu-gcc");
    Some(Target {
        cc: "aarch64-linux-gnu-gcc".into(),
        executor: vec!["qemu-aarch64".into(), "-L".into(), "/usr/aarch64-linux-gnu".into(), exe.display().to_string()],
        reach: 128 << 20,
        call_form: SiteForm::A64Call,
    })
}

fn lock(e: &SharedExecutor) -> std::sync::MutexGuard<'_, ExecutorClient> {
    e.lock().unwrap_or_else(|p| p.into_inner())
}

/// The `.text` bytes of a leaf function compiled alone (no relocations).
fn text_of(obj: &Path) -> Vec<u8> {
    let bytes = std::fs::read(obj).unwrap();
    let f = object::File::parse(&*bytes).unwrap();
    let text = f.section_by_name(".text").expect(".text");
    assert_eq!(text.relocations().count(), 0, "the far body must not need relocations");
    text.data().unwrap().to_vec()
}

fn u64_le(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().unwrap())
}

fn exercise(t: &Target) {
    let started = Instant::now();
    let dir = scratch(&format!("lazy-{}", t.cc));
    let flags = ["-O2", "-fPIC", "-fno-inline", "-fno-optimize-sibling-calls"];
    let callers = compile(&t.cc, &dir, "callers", CALLERS, &flags);
    let bodies = compile(&t.cc, &dir, "bodies", LAZY_BODIES, &flags);
    let lazy_a_obj = compile(&t.cc, &dir, "lazy_a", LAZY_A, &flags);
    let eager = compile(&t.cc, &dir, "eager", EAGER, &flags);
    let far = text_of(&compile(&t.cc, &dir, "far", FAR, &["-O2", "-fno-pic"]));
    let extra = compile(&t.cc, &dir, "extra", "long extra_fn(long x) { return x ^ 0x55; }\n", &flags);
    let extra2 = compile(&t.cc, &dir, "extra2", "long extra_fn2(long x) { return x + 1000; }\n", &flags);

    let exec = oop::shared(ExecutorClient::spawn(&t.executor).unwrap());
    assert_eq!(lock(&exec).hello().version, 2);
    let s = oop::remote_redirect_session(
        &exec,
        Vec::new(),
        SessionOptions::default(),
        RemoteOptions::default(),
        RedirectOptions::default(),
    )
    .unwrap();
    let r = s.redirector().unwrap().clone();
    let session = Arc::new(Mutex::new(s));
    let sess = || session.lock().unwrap_or_else(|p| p.into_inner());

    // lazy_sum and lazy_fp: linked from one object on the first call of either.
    let linked = Arc::new(Mutex::new(false));
    for name in ["lazy_sum", "lazy_fp"] {
        let (weak, linked, obj) = (Arc::downgrade(&session), linked.clone(), bodies.clone());
        let materialize = move || {
            let session = weak.upgrade().ok_or_else(|| Error::Usage("session gone".into()))?;
            let mut s = session.lock().unwrap_or_else(|p| p.into_inner());
            let mut done = linked.lock().unwrap();
            if !*done {
                s.add_file(&obj)?;
                s.link(&LinkOptions::default())?;
                *done = true;
            }
            Ok(s.redirector().and_then(|r| r.current(name)).unwrap())
        };
        sess().define_lazy(name, Box::new(materialize)).unwrap();
    }
    // lazy_b: its body is eager code (b_impl), known once linked.
    let b_body = Arc::new(Mutex::new(0u64));
    let b = b_body.clone();
    sess().define_lazy("lazy_b", Box::new(move || Ok(*b.lock().unwrap()))).unwrap();
    // lazy_a: linking it runs its initialiser, which calls lazy_b.
    let (weak, obj) = (Arc::downgrade(&session), lazy_a_obj.clone());
    let materialize = move || {
        let session = weak.upgrade().ok_or_else(|| Error::Usage("session gone".into()))?;
        let mut s = session.lock().unwrap_or_else(|p| p.into_inner());
        s.add_file(&obj)?;
        s.link(&LinkOptions::default())?;
        Ok(s.redirector().and_then(|r| r.current("lazy_a")).unwrap())
    };
    sess().define_lazy("lazy_a", Box::new(materialize)).unwrap();
    sess().define_lazy("lazy_fail", Box::new(|| Err(Error::Usage("this body cannot be made".into())))).unwrap();
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let e = errors.clone();
    r.set_error_callback(Box::new(move |name, err| e.lock().unwrap().push(format!("{name}: {err}"))));

    sess().add_file(&callers).unwrap();
    sess().add_file(&eager).unwrap();
    sess().link(&LinkOptions::default()).unwrap();
    let look = |name: &str| sess().lookup(name).unwrap_or_else(|| panic!("{name} undefined"));
    *b_body.lock().unwrap() = look("b_impl");
    let lazy_requests = || lock(&exec).lazy_requests();
    let read = |addr: u64, len: u64| lock(&exec).read(addr, len).unwrap();
    // (site address, where the executor's bytes branch, through the stub?)
    let site_target = |name: &str| -> (u64, u64, bool) {
        let sites = r.call_sites(name);
        assert_eq!(sites.len(), 1, "{name}: one call site expected, got {sites:?}");
        let site = sites[0];
        assert_eq!(site.kind, t.call_form, "{name}: the caller's call instruction");
        let bytes: [u8; 4] = read(site.addr, 4).try_into().unwrap();
        let remote = r.code().decode(site.kind, bytes, site.addr).unwrap();
        assert_eq!(remote, r.site_target(&site), "{name}: the executor's bytes differ from the working copy");
        (site.addr, remote, site.binding != Binding::Direct)
    };

    // 1. A lazy function's first call: through its trampoline, one LAZY,
    // arguments intact; then the caller goes straight to the body.
    let stub = r.stub("lazy_sum").unwrap();
    let (_, first, stubbed) = site_target("lazy_sum");
    // (an x86-64 rel32 that no atomic store can rewrite stays on the stub)
    assert_eq!(first, if stubbed { stub.addr } else { stub.trampoline }, "before its first call");
    assert_eq!(u64_le(&read(stub.slot, 8)), stub.trampoline, "the stub leads to the trampoline");
    assert_eq!(lazy_requests(), 0);
    let args = [1, 2, 3, 4, 5, 6];
    let want = 2 * (1 + 20 + 300 + 4000 + 50000 + 600000);
    assert_eq!(client::call(&exec, look("t_int"), &args).unwrap(), want);
    assert_eq!(lazy_requests(), 1, "one LAZY request");
    let body = r.current("lazy_sum").unwrap();
    assert_ne!(body, stub.trampoline);
    assert_eq!(u64_le(&read(stub.slot, 8)), body, "the stub leads to the body");
    let (_, now, stubbed) = site_target("lazy_sum");
    assert_eq!(now, if stubbed { stub.addr } else { body }, "the caller's call now reaches the body");
    assert_eq!(client::call(&exec, look("t_int"), &[6, 5, 4, 3, 2, 1]).unwrap(), 2 * 123456);
    assert_eq!(lazy_requests(), 1, "no LAZY once materialized");
    // lazy_fp came with the same object: no LAZY, floating-point arguments.
    assert_eq!(client::call(&exec, look("t_fp"), &[8]).unwrap(), 149_000);
    assert_eq!(lazy_requests(), 1);
    // The identity (stub) of a materialized lazy function reaches the body.
    assert_eq!(client::call(&exec, r.identity("lazy_sum").unwrap(), &args).unwrap(), want / 2);

    // 2. Reentrancy: lazy_a's initialiser calls lazy_b during lazy_a's LAZY.
    assert_eq!(client::call(&exec, look("t_a"), &[1]).unwrap(), 1 + 105 + 1);
    assert_eq!(lazy_requests(), 3, "LAZY lazy_a, then LAZY lazy_b inside it");
    assert_eq!(r.current("lazy_b"), Some(look("b_impl")));

    // 3. A failed materialization: the call returns 0, reported once per call.
    assert_eq!(client::call(&exec, look("t_fail"), &[1]).unwrap(), 7);
    assert!(errors.lock().unwrap().iter().any(|e| e.contains("this body cannot be made")), "{errors:?}");
    assert_eq!(client::call(&exec, look("call_target"), &[5]).unwrap(), 11, "the executor is still usable");

    // 4. Redirect in range: the BL/call is patched in place.
    let (site, before, stubbed) = site_target("target");
    assert_eq!((before, stubbed), (look("target"), false));
    let v2 = look("target_v2");
    let rep = sess().redirect(&["target"], v2).unwrap();
    assert_eq!((rep.sites, rep.patched, rep.stubbed), (1, 1, 0), "{rep:?}");
    assert_eq!(site_target("target"), (site, v2, false), "patched in the executor's memory");
    assert_eq!(client::call(&exec, look("call_target"), &[5]).unwrap(), 16);

    // 5. Redirect beyond the branch's reach: through the stub.
    let page = lock(&exec).hello().page_size;
    let far_page = lock(&exec).reserve(page, page, jitlink::oop::protocol::RESERVE_LOW_2GIB).unwrap();
    lock(&exec).finalize(far_page, &[(far_page, page, 1 | 4, &far)], &[]).unwrap();
    assert!(far_page.abs_diff(site) > t.reach, "the far page {far_page:#x} is within reach of {site:#x}");
    let rep = sess().redirect(&["target"], far_page).unwrap();
    assert_eq!((rep.sites, rep.patched, rep.stubbed, rep.out_of_range), (1, 0, 1, 1), "{rep:?}");
    let stub = r.stub("target").unwrap();
    assert_eq!(site_target("target"), (site, stub.addr, true), "the caller now calls the stub");
    assert_eq!(u64_le(&read(stub.slot, 8)), far_page, "the stub's slot in the executor");
    assert_eq!(client::call(&exec, look("call_target"), &[5]).unwrap(), 36);
    // Back in range: patched in place again.
    let rep = sess().redirect(&["target"], v2).unwrap();
    assert_eq!((rep.patched, rep.stubbed), (1, 0), "{rep:?}");
    assert_eq!(site_target("target"), (site, v2, false));
    assert_eq!(u64_le(&read(stub.slot, 8)), v2, "the slot follows too");
    assert_eq!(client::call(&exec, look("call_target"), &[5]).unwrap(), 16);

    // 6. A removed link is deallocated in the executor; its pages serve
    // the next link.
    sess().add_file(&extra).unwrap();
    let id = sess().link(&LinkOptions::default()).unwrap();
    let first = look("extra_fn");
    assert_eq!(client::call(&exec, first, &[0x0f]).unwrap(), 0x5a);
    sess().remove(id).unwrap();
    sess().add_file(&extra2).unwrap();
    sess().link(&LinkOptions::default()).unwrap();
    let second = look("extra_fn2");
    assert_eq!(second & !(page - 1), first & !(page - 1), "the freed range is reused");
    assert_eq!(client::call(&exec, second, &[1]).unwrap(), 1001);

    let stats = r.stats();
    assert_eq!(stats.materialized, 3, "lazy_sum (lazy_fp came with it), lazy_a, lazy_b: {stats:?}");
    let ended = client::shutdown(&exec, 0).unwrap();
    assert_eq!(ended.status(), 0, "{ended}");
    drop(session);
    eprintln!("{}: {:.1}s", t.cc, started.elapsed().as_secs_f64());
}

#[test]
fn host_rust_executor() {
    exercise(&host(rust_executor()));
}

#[test]
fn host_c_executor() {
    exercise(&host(c_executor("gcc")));
}

#[test]
fn aarch64_c_executor_under_qemu() {
    if let Some(t) = aarch64() {
        exercise(&t);
    }
}

#[test]
fn version_1_executor() {
    let dir = scratch("v1");
    let eager = compile("gcc", &dir, "eager", EAGER, &["-O2", "-fPIC"]);
    for exe in [rust_executor(), c_executor("gcc")] {
        // Testing aid of both executors: behave as version 1 (refuse HELLO 2).
        let argv = ["env".to_string(), "JITLINK_EXECUTOR_MAX_VERSION=1".into(), exe.display().to_string()];
        let exec = oop::shared(ExecutorClient::spawn(&argv).unwrap());
        assert_eq!(lock(&exec).hello().version, 1, "the handshake falls back to version 1");
        let err = oop::remote_redirect_session(
            &exec,
            Vec::new(),
            SessionOptions::default(),
            RemoteOptions::default(),
            RedirectOptions::default(),
        )
        .err()
        .expect("a version-1 executor cannot redirect");
        assert!(err.to_string().contains("protocol version 1"), "{err}");
        let mut s =
            oop::remote_session(&exec, Vec::new(), SessionOptions::default(), RemoteOptions::default()).unwrap();
        s.add_file(&eager).unwrap();
        s.link(&LinkOptions::default()).unwrap();
        assert_eq!(client::call(&exec, s.lookup("target_v2").unwrap(), &[7]).unwrap(), 21);
        assert!(lock(&exec).deallocate(0x1000, 0x1000).is_err(), "DEALLOCATE is refused on a version-1 connection");
        assert_eq!(client::shutdown(&exec, 0).unwrap().status(), 0);
    }
}
