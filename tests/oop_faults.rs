//! Faults out of process: JIT'd code that segfaults, aborts or exits is
//! reported by the executor and `jitlink run --oop` exits accordingly; an
//! executor killed mid-link, stalled, or not an executor at all is an error
//! within seconds, never a hang; a failed request leaves the executor
//! usable; objects for another target are refused with a clear message.

mod oop_common;

use jitlink::oop::client::{Ended, ExecutorClient};
use oop_common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CRASH: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    printf("before the fault\n");
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "abort") == 0) abort();
    if (argc > 1 && strcmp(argv[1], "exit") == 0) exit(42);
    if (argc > 1 && strcmp(argv[1], "return") == 0) return 5;
    volatile int *p = 0;
    return *p;
}
"#;

const CTOR_CRASH: &str = r#"
__attribute__((constructor)) static void boom(void) { *(volatile int *)0 = 1; }
int main(void) { return 0; }
"#;

fn crash_object(cc: &str) -> PathBuf {
    compile(cc, &scratch(&format!("crash-{cc}")), "crash", CRASH, &["-O0"])
}

fn run_oop(exec: &[&str], obj: &Path, args: &[&str], env: &[(&str, &str)]) -> RunOutput {
    let mut cmd = Command::new(JITLINK);
    cmd.arg("run").args(exec).arg(obj).arg("--").args(args).env("JITLINK_EXECUTOR", rust_executor());
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

fn expect_signal(out: &RunOutput, status: i32, name: &str) {
    assert_eq!(status_value(out.status), status, "stderr: {}", out.stderr_str());
    assert!(out.stderr_str().contains(name), "no {name} in: {}", out.stderr_str());
    assert_eq!(out.stdout_str(), "before the fault\n");
}

#[test]
fn null_dereference_names_sigsegv() {
    let obj = crash_object("gcc");
    let c = c_executor("gcc");
    for exec in [vec!["--oop"], vec!["--oop-executor", c.to_str().unwrap()]] {
        let out = run_oop(&exec, &obj, &[], &[]);
        expect_signal(&out, 139, "SIGSEGV");
        assert!(out.stderr_str().contains("at address 0x0"), "{}", out.stderr_str());
    }
}

#[test]
fn abort_exit_and_return_statuses() {
    let obj = crash_object("gcc");
    let c = c_executor("gcc");
    for exec in [vec!["--oop"], vec!["--oop-executor", c.to_str().unwrap()]] {
        expect_signal(&run_oop(&exec, &obj, &["abort"], &[]), 134, "SIGABRT");
        for (arg, status) in [("exit", 42), ("return", 5)] {
            let out = run_oop(&exec, &obj, &[arg], &[]);
            assert_eq!(status_value(out.status), status, "{arg}: {}", out.stderr_str());
            assert_eq!(out.stdout_str(), "before the fault\n");
            assert!(!out.stderr_str().contains("signal"), "{}", out.stderr_str());
        }
    }
}

#[test]
fn null_dereference_under_qemu_aarch64() {
    if !tools_present(&["aarch64-linux-gnu-gcc", "qemu-aarch64"]) {
        return;
    }
    let obj = crash_object("aarch64-linux-gnu-gcc");
    let exe = c_executor("aarch64-linux-gnu-gcc");
    let cmd = format!("qemu-aarch64 -L /usr/aarch64-linux-gnu {}", exe.display());
    let out = run_oop(&["--oop-executor", &cmd], &obj, &[], &[]);
    expect_signal(&out, 139, "SIGSEGV");
}

#[test]
fn segfault_in_an_initializer_is_an_error() {
    let obj = compile("gcc", &scratch("ctor"), "ctor", CTOR_CRASH, &["-O0"]);
    let out = run_oop(&["--oop"], &obj, &[], &[]);
    assert_eq!(status_value(out.status), 1, "{}", out.stderr_str());
    let err = out.stderr_str();
    assert!(err.contains("FINALIZE") && err.contains("SIGSEGV"), "{err}");
}

/// Starts `jitlink run` with the executor told to stall at `at`, waits for
/// it to say so, kills it, and returns jitlink's output and how long it
/// took to end after the kill.
fn kill_mid_link(exec: &[&str], obj: &Path, at: &str) -> (i32, String, Duration) {
    let mut child = Command::new(JITLINK)
        .arg("run")
        .args(exec)
        .arg(obj)
        .env("JITLINK_EXECUTOR", rust_executor())
        .env("JITLINK_EXECUTOR_STALL", at)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut all = String::new();
    let pid = loop {
        line.clear();
        if err.read_line(&mut line).unwrap() == 0 {
            let _ = child.kill();
            panic!("jitlink ended before the executor stalled: {all}");
        }
        all.push_str(&line);
        if let Some(rest) = line.trim_end().strip_suffix(')').and_then(|l| l.split("(pid ").nth(1)) {
            break rest.parse::<i32>().unwrap();
        }
    };
    // SAFETY: kill(2) on the executor process the line named.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let killed = Instant::now();
    let waiter = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut rest);
        rest
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if killed.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("jitlink still running 30 s after its executor was killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = killed.elapsed();
    all.push_str(&waiter.join().unwrap());
    (status_value(status), all, elapsed)
}

#[test]
fn executor_killed_mid_link_is_an_error_within_5s() {
    let obj = crash_object("gcc");
    let c = c_executor("gcc");
    for exec in [vec!["--oop"], vec!["--oop-executor", c.to_str().unwrap()]] {
        for at in ["FINALIZE", "LOOKUP"] {
            let (status, err, elapsed) = kill_mid_link(&exec, &obj, at);
            assert_eq!(status, 1, "{err}");
            assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}: {err}");
            assert!(err.contains(&format!("died during {at}")) && err.contains("SIGKILL"), "{err}");
        }
    }
}

#[test]
fn stalled_executor_times_out() {
    let obj = crash_object("gcc");
    let out =
        run_oop(&["--oop"], &obj, &[], &[("JITLINK_EXECUTOR_STALL", "RESERVE"), ("JITLINK_EXECUTOR_TIMEOUT", "1")]);
    assert_eq!(status_value(out.status), 1, "{}", out.stderr_str());
    assert!(out.stderr_str().contains("no reply to RESERVE within 1.0 s"), "{}", out.stderr_str());
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
}

#[test]
fn not_an_executor() {
    let obj = crash_object("gcc");
    let env = [("JITLINK_EXECUTOR_TIMEOUT", "2")];
    for (cmd, says) in [
        ("cat", "not a jitlink executor"),
        ("true", "died during HELLO: exited with status 0"),
        ("sleep 30", "no reply to HELLO within 2.0 s"),
        ("/nonexistent/jitlink-executor", "No such file"),
    ] {
        let out = run_oop(&["--oop-executor", cmd], &obj, &[], &env);
        assert_eq!(status_value(out.status), 1, "{cmd}: {}", out.stderr_str());
        assert!(out.stderr_str().contains(says), "{cmd}: {}", out.stderr_str());
        assert!(out.elapsed < Duration::from_secs(10), "{cmd}: {:?}", out.elapsed);
    }
}

#[test]
fn objects_for_another_target_are_refused() {
    if !tools_present(&["aarch64-linux-gnu-gcc"]) {
        return;
    }
    let obj = crash_object("aarch64-linux-gnu-gcc");
    let out = run_oop(&["--oop"], &obj, &[], &[]);
    assert_eq!(status_value(out.status), 1);
    let err = out.stderr_str();
    assert!(
        err.contains("the objects are for aarch64-unknown-linux-gnu but the executor runs x86_64-unknown-linux-gnu"),
        "{err}"
    );
}

/// Every kind of request failing, each leaving the executor usable: the
/// protocol at the API level, for the Rust and the C executor.
#[test]
fn failed_requests_leave_the_executor_usable() {
    for exe in [rust_executor(), c_executor("gcc")] {
        let mut c = ExecutorClient::spawn(&[exe.display().to_string()]).unwrap();
        assert_eq!(c.hello().triple, "x86_64-unknown-linux-gnu");
        assert!(c.hello().symbol("__cxa_atexit").is_some());
        let page = c.hello().page_size;
        assert!(c.reserve(4096, 3, 0).is_err(), "alignment 3");
        let base = c.reserve(2 * page, 16, 0).unwrap();
        assert!(c.write(&[(base + 2 * page - 2, b"abc")]).is_err(), "write past the end");
        assert!(c.read(0x1000, 8).is_err(), "read outside");
        c.write(&[(base, b"hello\0"), (base + page, b"data")]).unwrap();
        assert_eq!(c.read(base, 6).unwrap(), b"hello\0");
        let addrs = c.lookup(&["m".into()], &[b"strlen", b"no_such_symbol_anywhere", b"cos"]).unwrap();
        assert!(addrs[0].is_some() && addrs[1].is_none() && addrs[2].is_some(), "{addrs:?}");
        assert!(c.lookup(&["no_such_library_xyz".into()], &[b"strlen"]).is_err());
        let strlen = addrs[0].unwrap();
        assert_eq!(c.call(strlen, &[base]).unwrap(), 5);
        assert!(c.finalize(base, &[(base, page, 6, b"")], &[]).is_err(), "W+X");
        assert!(c.finalize(base + 1, &[], &[]).is_err(), "no such reservation");
        assert!(c.finalize(base, &[(base + 1, 8, 1, b"")], &[]).is_err(), "unaligned segment");
        c.finalize(base, &[(base, page, 1, b"hi\0"), (base + page, page, 3, b"")], &[]).unwrap();
        assert_eq!(c.read(base, 3).unwrap(), b"hi\0");
        assert_eq!(c.read(base + page, 4).unwrap(), [0; 4], "zero-filled past the content");
        // A write into the finalized read-only page goes through.
        c.write(&[(base, b"yo\0")]).unwrap();
        assert_eq!(c.call(strlen, &[base]).unwrap(), 2);
        assert!(c.call(strlen, &[1, 2, 3, 4, 5, 6, 7]).is_err(), "7 arguments");
        c.release(base).unwrap();
        assert!(c.release(base).is_err(), "released twice");
        assert!(c.read(base, 1).is_err());
        assert_eq!(c.shutdown(3).unwrap(), Ended::Exited(3));
        assert!(c.reserve(4096, 16, 0).is_err(), "gone after shutdown");
        assert!(c.round_trips() > 20);
    }
}
