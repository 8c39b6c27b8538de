//! Profiler registration: `/tmp/perf-PID.map` lines `START SIZE name`
//! (hexadecimal start and size), the format `perf report` reads for JIT'd
//! code.

use std::io::Write;

/// Appends `(start, size, name)` entries to this process's perf map.
///
/// # Errors
/// The I/O error of opening or writing the map.
pub fn append(entries: &[(u64, u64, String)]) -> std::io::Result<()> {
    let path = format!("/tmp/perf-{}.map", std::process::id());
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let mut buf = String::new();
    for (start, size, name) in entries {
        buf.push_str(&format!("{start:x} {size:x} {name}\n"));
    }
    f.write_all(buf.as_bytes())
}
