//! Patchable call sites, executed: redirect in place or through the stub,
//! the report, StrictWX, concurrency, lazy compilation and reclaiming.

use jitlink::memory::code_write::atomic_width;
use jitlink::memory::MemoryPolicy;
use jitlink::redirect::{Binding, RedirectOptions, StubReason};
use jitlink::{LinkOptions, Session, SessionOptions};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const CALLERS: usize = 1200;

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("redirect").join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn compile(d: &Path, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    let c = d.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let o = d.join(format!("{name}.o"));
    let out = Command::new("gcc").args(flags).arg("-c").arg(&c).arg("-o").arg(&o).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    o
}

/// `f` and `g`, and CALLERS functions calling `f` (calls and tail calls,
/// at whatever alignments GCC gives them), plus `call_all` summing them.
fn objects(d: &Path) -> (PathBuf, PathBuf) {
    let lib = compile(
        d,
        "fg",
        "__attribute__((noinline)) long f(long x) { return x + 1; }\n\
         __attribute__((noinline)) long g(long x) { return 2 * x; }\n",
        &["-O2"],
    );
    let mut src = String::from("long f(long);\n");
    for i in 0..CALLERS {
        if i % 3 == 0 {
            writeln!(src, "__attribute__((noinline)) long caller_{i}(long x) {{ return f(x); }}").unwrap();
        } else {
            writeln!(src, "__attribute__((noinline)) long caller_{i}(long x) {{ return f(x + {i}) - {i}; }}").unwrap();
        }
    }
    src.push_str("long (*callers[])(long) = {");
    for i in 0..CALLERS {
        write!(src, "caller_{i},").unwrap();
    }
    src.push_str("};\nlong call_all(long x) { long s = 0; for (int i = 0; i < ");
    write!(src, "{CALLERS}").unwrap();
    src.push_str("; i++) s += callers[i](x); return s; }\nvoid *f_address(void) { return (void *)f; }\n");
    let callers = compile(d, "callers", &src, &["-O2"]);
    (lib, callers)
}

/// What `call_all(x)` returns when `f` behaves as `h`.
fn expected(x: i64, h: impl Fn(i64) -> i64) -> i64 {
    (0..CALLERS as i64).map(|i| if i % 3 == 0 { h(x) } else { h(x + i) - i }).sum()
}

fn session(policy: MemoryPolicy) -> Session {
    Session::with_redirection(
        RedirectOptions { policy, track_all_calls: true, arena_size: 256 << 20, ..Default::default() },
        SessionOptions::default(),
    )
    .unwrap()
}

fn func<T>(addr: u64) -> T {
    assert_eq!(std::mem::size_of::<T>(), 8);
    // SAFETY: the tests only turn addresses of functions compiled for this
    // host with the matching C signature into function pointers.
    unsafe { std::mem::transmute_copy(&(addr as usize)) }
}

fn no_wx_mapping() {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        let perms = line.split_whitespace().nth(1).unwrap();
        assert!(!(perms.contains('w') && perms.contains('x')), "W+X mapping: {line}");
    }
}

extern "C" fn host_far(x: i64) -> i64 {
    x - 1000
}

#[test]
fn redirect_in_place_and_through_stub() {
    let d = dir("basic");
    let (lib, callers) = objects(&d);
    let mut s = session(MemoryPolicy::DoubleMapped);
    let identity = s.make_redirectable("f").unwrap();
    s.add_file(&lib).unwrap();
    s.add_file(&callers).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    no_wx_mapping();
    let r = s.redirector().unwrap().clone();
    let call_all: extern "C" fn(i64) -> i64 = func(s.lookup("call_all").unwrap());
    let f_address: extern "C" fn() -> u64 = func(s.lookup("f_address").unwrap());
    assert_eq!(s.lookup("f"), Some(identity), "lookup gives the stable identity");
    assert_eq!(f_address(), identity, "&f in C is the identity");
    let n = CALLERS as i64;
    assert_eq!(call_all(10), n * 11);

    let sites = r.call_sites("f");
    assert!(sites.len() >= CALLERS, "{} sites", sites.len());
    let g = s.symbol("g").unwrap().addr;
    let rep = s.redirect(&["f"], g).unwrap();
    let unaligned = sites.iter().filter(|c| atomic_width(c.addr).is_err()).count();
    assert_eq!(rep.sites, sites.len());
    assert_eq!(rep.unaligned, unaligned, "{rep:?}");
    assert_eq!(rep.patched, sites.len() - unaligned, "{rep:?}");
    assert_eq!(rep.stubbed, unaligned);
    assert!(rep.patched > 0 && rep.stubs_updated == 1);
    for c in r.call_sites("f") {
        let want = if atomic_width(c.addr).is_ok() { g } else { identity };
        assert_eq!(r.site_target(&c), want);
    }
    assert_eq!(call_all(10), expected(10, |x| 2 * x), "every call lands in g");
    assert_eq!(func::<extern "C" fn(i64) -> i64>(identity)(21), 42, "the stub follows too");
    assert_eq!(f_address(), identity, "identity unchanged");

    // Beyond rel32 range: every site goes through the stub.
    let far = host_far as *const () as u64;
    let rep = s.redirect(&["f"], far).unwrap();
    assert_eq!(rep.stubbed, sites.len(), "{rep:?}");
    assert_eq!(rep.out_of_range, sites.len() - unaligned);
    assert_eq!(call_all(10), expected(10, |x| x - 1000));
    // And back in range: patched in place again.
    let rep = s.redirect(&["f"], g).unwrap();
    assert_eq!(rep.patched, sites.len() - unaligned);
    assert_eq!(call_all(1), expected(1, |x| 2 * x));
    no_wx_mapping();
}

#[test]
fn range_limits_choose_stub_just_beyond() {
    let d = dir("limits");
    let (lib, callers) = objects(&d);
    let mut s = session(MemoryPolicy::DoubleMapped);
    s.make_redirectable("f").unwrap();
    s.add_file(&lib).unwrap();
    s.add_file(&callers).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    let r = s.redirector().unwrap().clone();
    let site = *r.call_sites("f").iter().filter(|c| atomic_width(c.addr).is_ok()).min_by_key(|c| c.addr).unwrap();
    // The farthest forward target the lowest site reaches, then one beyond.
    let limit = site.addr + 4 + i32::MAX as u64;
    s.redirect(&["f"], limit).unwrap();
    let now = r.call_sites("f").into_iter().find(|c| c.addr == site.addr).unwrap();
    assert_eq!(now.binding, Binding::Direct);
    assert_eq!(r.site_target(&now), limit);
    s.redirect(&["f"], limit + 1).unwrap();
    let now = r.call_sites("f").into_iter().find(|c| c.addr == site.addr).unwrap();
    assert_eq!(now.binding, Binding::Stub(StubReason::OutOfRange));
    assert_eq!(r.site_target(&now), s.lookup("f").unwrap());
    let g = s.symbol("g").unwrap().addr;
    s.redirect(&["f"], g).unwrap();
    let call_all: extern "C" fn(i64) -> i64 = func(s.lookup("call_all").unwrap());
    assert_eq!(call_all(3), expected(3, |x| 2 * x));
}

#[test]
fn strict_wx_binds_everything_to_the_stub() {
    let d = dir("strict");
    let (lib, callers) = objects(&d);
    let mut s = session(MemoryPolicy::StrictWX);
    s.make_redirectable("f").unwrap();
    s.add_file(&lib).unwrap();
    s.add_file(&callers).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    no_wx_mapping();
    let call_all: extern "C" fn(i64) -> i64 = func(s.lookup("call_all").unwrap());
    let code = s.lookup("call_all").unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        let (range, rest) = line.split_once(' ').unwrap();
        let (a, b) = range.split_once('-').unwrap();
        let (a, b) = (u64::from_str_radix(a, 16).unwrap(), u64::from_str_radix(b, 16).unwrap());
        if (a..b).contains(&code) {
            assert!(rest.starts_with("r-x"), "code mapping is {rest}");
        }
    }
    assert_eq!(call_all(1), CALLERS as i64 * 2);
    let g = s.symbol("g").unwrap().addr;
    let rep = s.redirect(&["f"], g).unwrap();
    assert_eq!(rep.patched, 0);
    assert_eq!(rep.policy, rep.sites);
    assert_eq!(call_all(5), expected(5, |x| 2 * x));
    no_wx_mapping();
}

#[test]
fn concurrent_calls_while_redirecting() {
    let d = dir("stress");
    let (lib, callers) = objects(&d);
    let mut s = session(MemoryPolicy::DoubleMapped);
    s.make_redirectable("f").unwrap();
    s.add_file(&lib).unwrap();
    s.add_file(&callers).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    let call_all = s.lookup("call_all").unwrap();
    let f_body = s.redirector().unwrap().current("f").unwrap();
    let g = s.symbol("g").unwrap().addr;
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let n = CALLERS as i64;
    let (lo, hi) = (expected(7, |x| x + 1), expected(7, |x| 2 * x));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (stop, calls) = (stop.clone(), calls.clone());
            std::thread::spawn(move || {
                let call_all: extern "C" fn(i64) -> i64 = func(call_all);
                let mut rounds = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // Each site returns its f value or its g value.
                    let v = call_all(7);
                    assert!(v >= lo && v <= hi, "impossible total {v}");
                    rounds += 1;
                }
                calls.fetch_add(rounds, Ordering::Relaxed);
            })
        })
        .collect();
    for i in 0..100_000 {
        s.redirect(&["f"], if i % 2 == 0 { g } else { f_body }).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(calls.load(Ordering::Relaxed) > 0);
    let call_all: extern "C" fn(i64) -> i64 = func(call_all);
    assert_eq!(call_all(7), n * 8, "ended on f");
    assert_eq!(lo, n * 8);
}

#[test]
fn lazy_compilation_keeps_arguments_and_runs_once() {
    let d = dir("lazy");
    let body = compile(
        &d,
        "body",
        "#include <stdarg.h>\n\
         long lazy_int(long a, long b, long c, long d, long e, long f) { return a + 2*b + 3*c + 4*d + 5*e + 6*f; }\n\
         double lazy_float(double a, float b, double c, double d, double e, double f, double g, double h)\n\
           { return a + b * 2 + c * 3 + d * 4 + e * 5 + f * 6 + g * 7 + h * 8; }\n\
         long lazy_many(long a, long b, long c, long d, long e, long f, long g, long h, double x, long i)\n\
           { return a + b + c + d + e + f + g * 10 + h * 100 + (long)(x * 1000) + i * 10000; }\n\
         long lazy_va(int n, ...) { va_list ap; va_start(ap, n); long s = 0;\n\
           for (int k = 0; k < n; k++) s += (k % 2) ? (long)va_arg(ap, double) : va_arg(ap, long);\n\
           va_end(ap); return s; }\n",
        &["-O2"],
    );
    let caller = compile(
        &d,
        "lazy_callers",
        "long lazy_int(long, long, long, long, long, long);\n\
         double lazy_float(double, float, double, double, double, double, double, double);\n\
         long lazy_many(long, long, long, long, long, long, long, long, double, long);\n\
         long lazy_va(int, ...);\n\
         long t_int(void) { return lazy_int(1, 2, 3, 4, 5, 6); }\n\
         double t_float(void) { return lazy_float(1.5, 2.25f, 3, 4, 5, 6, 7, 8); }\n\
         long t_many(void) { return lazy_many(1, 2, 3, 4, 5, 6, 7, 8, 0.5, 9); }\n\
         long t_va(void) { return lazy_va(4, 10L, 2.0, 30L, 4.0); }\n",
        &["-O0"],
    );
    let s = Arc::new(Mutex::new(session(MemoryPolicy::DoubleMapped)));
    let runs = Arc::new(AtomicUsize::new(0));
    let linked = Arc::new(Mutex::new(false));
    for name in ["lazy_int", "lazy_float", "lazy_many", "lazy_va"] {
        let (s2, runs2, linked2, body2) = (Arc::downgrade(&s), runs.clone(), linked.clone(), body.clone());
        s.lock()
            .unwrap()
            .define_lazy(
                name,
                Box::new(move || {
                    let s = s2.upgrade().expect("session alive");
                    let mut s = s.lock().unwrap();
                    let mut l = linked2.lock().unwrap();
                    if !*l {
                        runs2.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        s.add_file(&body2)?;
                        s.link(&LinkOptions::default())?;
                        *l = true;
                    }
                    s.redirector().unwrap().current(name).ok_or_else(|| jitlink::Error::Usage("no body".into()))
                }),
            )
            .unwrap();
    }
    let (t_int, t_float, t_many, t_va) = {
        let mut g = s.lock().unwrap();
        g.add_file(&caller).unwrap();
        g.link(&LinkOptions::default()).unwrap();
        (
            g.lookup("t_int").unwrap(),
            g.lookup("t_float").unwrap(),
            g.lookup("t_many").unwrap(),
            g.lookup("t_va").unwrap(),
        )
    };
    // 8 threads race on the first call of lazy_int.
    let results: Vec<i64> = (0..8)
        .map(|_| std::thread::spawn(move || func::<extern "C" fn() -> i64>(t_int)()))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(results.iter().all(|&v| v == 1 + 4 + 9 + 16 + 25 + 36), "{results:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "materialized once");
    assert_eq!(func::<extern "C" fn() -> f64>(t_float)(), 1.5 + 4.5 + 9.0 + 16.0 + 25.0 + 36.0 + 49.0 + 64.0);
    assert_eq!(func::<extern "C" fn() -> i64>(t_many)(), 21 + 70 + 800 + 500 + 90000);
    assert_eq!(func::<extern "C" fn() -> i64>(t_va)(), 10 + 2 + 30 + 4);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let r = s.lock().unwrap().redirector().unwrap().clone();
    // One materializer ran; linking the body defined the other three, so
    // their callers were redirected without running theirs.
    assert_eq!(r.stats().materialized, 1);
    // After materialization the caller's site goes straight to the body.
    let site = r.call_sites("lazy_int")[0];
    let want = match site.binding {
        Binding::Direct => r.current("lazy_int").unwrap(),
        Binding::Stub(_) => r.identity("lazy_int").unwrap(),
    };
    assert_eq!(r.site_target(&site), want, "{site:?}");
    assert_ne!(r.current("lazy_int"), Some(r.identity("lazy_int").unwrap() + 8), "no longer the trampoline");
}

#[test]
fn materializer_error_reaches_the_callback() {
    let d = dir("lazyerr");
    let caller = compile(&d, "c", "long broken(long); long t(void) { return broken(5) + 1; }", &["-O2"]);
    let mut s = session(MemoryPolicy::DoubleMapped);
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen2 = seen.clone();
    s.redirector()
        .unwrap()
        .set_error_callback(Box::new(move |name, e| seen2.lock().unwrap().push(format!("{name}: {e}"))));
    s.define_lazy("broken", Box::new(|| Err(jitlink::Error::Usage("compiler exploded".into())))).unwrap();
    s.add_file(&caller).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    let t: extern "C" fn() -> i64 = func(s.lookup("t").unwrap());
    assert_eq!(t(), 1, "the failed call returns 0");
    assert_eq!(*seen.lock().unwrap(), ["broken: compiler exploded"]);
}

#[test]
fn redirect_and_retire_cycles_keep_memory_bounded() {
    let d = dir("retire");
    let callers =
        compile(&d, "callers", "long work(long); long run(long x) { return work(x) + work(x + 1); }", &["-O2"]);
    let versions: Vec<PathBuf> = (0..2)
        .map(|k| {
            compile(&d, &format!("v{k}"), &format!("long work(long x) {{ return x * {} + {k}; }}", k + 2), &["-O2"])
        })
        .collect();
    let mut s = session(MemoryPolicy::DoubleMapped);
    s.make_redirectable("work").unwrap();
    s.add_file(&versions[0]).unwrap();
    let mut old = s.link(&LinkOptions::default()).unwrap();
    s.add_file(&callers).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    let run: extern "C" fn(i64) -> i64 = func(s.lookup("run").unwrap());
    assert_eq!(run(1), 2 + 4);
    let arena = s.redirector().unwrap().arena().clone();
    let maps = || std::fs::read_to_string("/proc/self/maps").unwrap().lines().count();
    let (mut base_maps, mut base_use) = (0, 0);
    // JITLINK_RETIRE_CYCLES shortens the run (e.g. under valgrind).
    let cycles: usize = std::env::var("JITLINK_RETIRE_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    for i in 1..=cycles {
        let k = i % 2;
        s.add_file(&versions[k]).unwrap();
        let new = s.link(&LinkOptions::default()).unwrap();
        let want = (k as i64 + 2) * 5 + k as i64 + (k as i64 + 2) * 6 + k as i64;
        assert_eq!(run(5), want, "cycle {i}");
        s.retire(old).unwrap();
        old = new;
        if i == 100 {
            base_maps = maps();
            base_use = arena.in_use();
        }
        if i > 100 && i % 500 == 0 {
            assert!(maps() <= base_maps + 4, "mappings grew {base_maps} -> {}", maps());
            assert!(arena.in_use() <= base_use, "arena use grew {base_use} -> {}", arena.in_use());
        }
    }
}

#[test]
fn opting_out_tracks_only_redirectable_symbols() {
    let d = dir("optout");
    let (lib, callers) = objects(&d);
    let extra =
        compile(&d, "extra", "long f(long); long g(long); long h(long x) { return g(x) + g(x + 1) + f(x); }", &["-O2"]);
    let mut s = Session::with_redirection(
        RedirectOptions {
            policy: MemoryPolicy::DoubleMapped,
            track_all_calls: false,
            arena_size: 64 << 20,
            ..Default::default()
        },
        SessionOptions::default(),
    )
    .unwrap();
    s.make_redirectable("f").unwrap();
    for o in [&lib, &callers, &extra] {
        s.add_file(o).unwrap();
    }
    s.link(&LinkOptions::default()).unwrap();
    let r = s.redirector().unwrap().clone();
    let f_sites = r.call_sites("f").len();
    assert!(f_sites > CALLERS);
    assert!(r.call_sites("g").is_empty(), "g is not redirectable and not tracked");
    assert_eq!(r.stats().sites, f_sites, "the table holds only f's call sites");
}

/// The API a re-optimising driver uses: the per-link redirect report,
/// claiming lazy symbols for a batch link, untracked helpers, and typed
/// client errors.
#[test]
fn driver_api_link_report_claims_untracked() {
    let d = dir("driver_api");
    let callers = compile(
        &d,
        "callers",
        "long work(long); long hook(long); long a(long); long b(long);\n\
         long run(long x) { return work(x) + hook(x) + a(x) + b(x); }",
        &["-O2"],
    );
    let v0 = compile(&d, "v0", "long work(long x) { return x + 1; }\nlong hook(long x) { return 0 * x; }", &["-O2"]);
    let v1 = compile(&d, "v1", "long work(long x) { return x + 2; }", &["-O2"]);
    let ab = compile(&d, "ab", "long a(long x) { return 10 * x; }\nlong b(long x) { return 100 * x; }", &["-O2"]);
    let mut s = session(MemoryPolicy::DoubleMapped);
    s.make_redirectable("work").unwrap();
    s.set_untracked("hook").unwrap();
    for name in ["a", "b"] {
        s.define_lazy(name, Box::new(|| panic!("a claimed symbol's own materializer must not run"))).unwrap();
    }
    s.add_file(&v0).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    s.add_file(&callers).unwrap();
    s.link(&LinkOptions::default()).unwrap();
    let r = s.redirector().unwrap().clone();
    assert!(r.call_sites("hook").is_empty(), "untracked: no call sites recorded");
    assert!(!r.call_sites("work").is_empty());
    // A batch materializer claims a and b, then links their bodies.
    assert_eq!(s.claim_lazy(&["a", "b", "work"]).unwrap(), [true, true, false]);
    assert_eq!(s.claim_lazy(&["a"]).unwrap(), [false], "already claimed");
    s.add_file(&ab).unwrap();
    let ab_link = s.link(&LinkOptions::default()).unwrap();
    let run: extern "C" fn(i64) -> i64 = func(s.lookup("run").unwrap());
    assert_eq!(run(1), 2 + 10 + 100);
    assert!(s.link_report(ab_link).unwrap().sites >= 2, "a's and b's callers followed their bodies");
    // A new version of work: the report of that link says what moved.
    s.add_file(&v1).unwrap();
    let v1_link = s.link(&LinkOptions::default()).unwrap();
    let rep = s.link_report(v1_link).unwrap();
    assert_eq!(rep.sites, r.call_sites("work").len());
    assert_eq!(rep.patched + rep.stubbed, rep.sites);
    assert_eq!(run(1), 3 + 10 + 100);
    let e = jitlink::Error::Client { symbol: "f".into(), source: "no such pass".into() };
    assert_eq!(e.to_string(), "f: no such pass");
}

extern "C" fn seven_times(x: i64) -> i64 {
    7 * x
}

/// A claimed lazy symbol that no link defines: released, its own
/// materializer runs on the next call (and a caller that was waiting on
/// the claim gets the body); failed, its calls return 0.
#[test]
fn claimed_lazy_symbols_released_or_failed() {
    let mut s = session(MemoryPolicy::DoubleMapped);
    let runs = Arc::new(AtomicUsize::new(0));
    let r2 = runs.clone();
    s.define_lazy(
        "c",
        Box::new(move || {
            r2.fetch_add(1, Ordering::SeqCst);
            Ok(seven_times as *const () as u64)
        }),
    )
    .unwrap();
    s.define_lazy("d", Box::new(|| panic!("a failed claim's materializer must not run"))).unwrap();
    assert_eq!(s.claim_lazy(&["c", "d"]).unwrap(), [true, true]);
    let c: extern "C" fn(i64) -> i64 = func(s.lookup("c").unwrap());
    let d: extern "C" fn(i64) -> i64 = func(s.lookup("d").unwrap());
    // A caller reaching c while it is claimed waits for the claim to end.
    let waiter = std::thread::spawn(move || c(3));
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(runs.load(Ordering::SeqCst), 0, "claimed: its materializer waits");
    s.release_claimed(&["c"]).unwrap();
    assert_eq!(waiter.join().unwrap(), 21);
    assert_eq!(c(2), 14);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "materialized once");
    s.fail_claimed(&["d"]).unwrap();
    assert_eq!(d(5), 0, "a failed claim's calls return 0");
    assert_eq!(s.claim_lazy(&["c", "d"]).unwrap(), [false, false], "done symbols cannot be claimed");
}
