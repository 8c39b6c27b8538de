//! Debugger and profiler registration (issue 3): gdb breaks on a JIT'd
//! function by name and shows file:line in a backtrace; `--perf-map`
//! writes `/tmp/perf-PID.map`; removing a link unregisters it.

use std::path::{Path, PathBuf};
use std::process::Command;

const JITLINK: &str = env!("CARGO_BIN_EXE_jitlink");

const PROG: &str = "#include <stdio.h>\n\
int jit_leaf(int x) {\n\
    int y = x * 3;\n\
    return y + 1;\n\
}\n\
int jit_middle(int x) { return jit_leaf(x + 1) * 2; }\n\
int main(void) { printf(\"%d\\n\", jit_middle(4)); return 0; }\n";

fn object(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debug_perf").join(name);
    std::fs::create_dir_all(&d).unwrap();
    let c = d.join("prog.c");
    std::fs::write(&c, PROG).unwrap();
    let o = d.join("prog.o");
    let out = Command::new("gcc").args(["-g", "-O0", "-c"]).arg(&c).arg("-o").arg(&o).output().unwrap();
    assert!(out.status.success());
    o
}

#[test]
fn gdb_breaks_on_jit_function_with_file_and_line() {
    if Command::new("gdb").arg("--version").output().is_err() {
        eprintln!("skipped: gdb not installed");
        return;
    }
    let o = object("gdb");
    let out = Command::new("gdb")
        .args(["-batch", "-nx", "-ex", "set breakpoint pending on", "-ex", "break jit_leaf", "-ex", "run", "-ex", "bt"])
        .args(["-ex", "continue", "--args", JITLINK, "run", "--debugger-support"])
        .arg(&o)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let has = |start: &str, end: &str| text.lines().any(|l| l.contains(start) && l.ends_with(end));
    assert!(has("Breakpoint 1, jit_leaf (x=5) at ", "prog.c:3"), "{text}");
    assert!(has("#0  jit_leaf (x=5) at ", "prog.c:3"), "{text}");
    assert!(has("in jit_middle (x=4) at ", "prog.c:6"), "{text}");
    assert!(has("in main () at ", "prog.c:7"), "{text}");
    assert!(text.contains("exited normally"), "{text}");
}

#[test]
fn perf_map_names_jit_functions() {
    let o = object("perf");
    let child =
        Command::new(JITLINK).args(["run", "--perf-map"]).arg(&o).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "32\n");
    let map = format!("/tmp/perf-{pid}.map");
    let text = std::fs::read_to_string(&map).unwrap();
    let _ = std::fs::remove_file(&map);
    for f in ["jit_leaf", "jit_middle", "main"] {
        let line =
            text.lines().find(|l| l.ends_with(&format!(" {f}"))).unwrap_or_else(|| panic!("{f} missing:\n{text}"));
        let mut parts = line.split(' ');
        let start = u64::from_str_radix(parts.next().unwrap(), 16).unwrap();
        let size = u64::from_str_radix(parts.next().unwrap(), 16).unwrap();
        assert!(start > 0 && size > 0 && size < 0x1000, "{line}");
    }
}

#[test]
fn removing_a_link_unregisters_it_from_the_debugger() {
    use jitlink::runtime::debugger::__jit_debug_descriptor as D;
    let o = object("unregister");
    let mut s = jitlink::Session::in_process();
    s.set_debugger_support(true);
    let first = || {
        // SAFETY: reading the descriptor's head pointer; this test is the
        // only one in this process that registers objects.
        unsafe { (*std::ptr::addr_of!(D)).first_entry }
    };
    assert!(first().is_null());
    s.add_file(&o).unwrap();
    let id = s.link(&jitlink::LinkOptions::default()).unwrap();
    let e = first();
    assert!(!e.is_null());
    // SAFETY: e is the live entry just registered.
    let size = unsafe { (*e).symfile_size };
    assert_eq!(size, std::fs::metadata(&o).unwrap().len());
    s.remove(id).unwrap();
    assert!(first().is_null(), "unregistered on removal");
}
