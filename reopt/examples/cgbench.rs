//! Measures tier-0 code generation costs on a program's functions:
//! `cargo run --release -p jitlink-reopt --example cgbench -- FILE.bc...`
use jitlink_reopt::compile::{self, Level};
use jitlink_reopt::program::Program;
use std::time::Instant;
fn main() {
    let files: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let p = Program::load(&paths).unwrap();
    let n = p.len().min(600) as u32;
    let t = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        bytes += p.with_partition(&[i], &[], 0, |m| compile::emit(m, Level::O0).unwrap().len());
    }
    let per = t.elapsed().as_secs_f64() * 1e3;
    println!("{n} partitions, no instrumentation: {per:.1} ms ({:.3} ms each), {bytes} bytes", per / n as f64);
    let t = Instant::now();
    for i in 0..n {
        p.with_partition(&[i], &[], 0, |_m| ());
    }
    println!("extract only: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let probes = jitlink_reopt::program::Tier0Probes { ctx: 0, threshold: 100, backedge_mask: 16383 };
    let t = Instant::now();
    for i in 0..n {
        p.with_partition(&[i], &[], 0, |m| {
            jitlink_reopt::program::instrument(m, &[i], &p.info, &probes).unwrap();
            compile::emit(m, Level::O0).unwrap().len()
        });
    }
    let per = t.elapsed().as_secs_f64() * 1e3;
    println!("instrumented: {per:.1} ms ({:.3} ms each)", per / n as f64);
    let all: Vec<u32> = (0..n).collect();
    let t = Instant::now();
    let b = p.with_partition(&all, &[], 0, |m| compile::emit(m, Level::O0).unwrap().len());
    println!("one partition of {n}: {:.1} ms, {b} bytes", t.elapsed().as_secs_f64() * 1e3);
}
