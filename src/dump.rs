//! The link dump (`--dump-json`, format `jitlink-dump/1`, contract in
//! `shared/spec/cli-and-link-dump.md`) and the human-readable
//! `--show-addrs` / `--show-graph` listings.

use crate::arch::{Arch, GotPlt};
use crate::error::{Error, Result};
use crate::graph::{Interner, LinkGraph, Linkage, Prot, Scope, SymbolKind};
use crate::memory::Allocation;
use std::io::Write;
use std::path::Path;

fn json_str(w: &mut impl Write, s: &str) -> std::io::Result<()> {
    w.write_all(b"\"")?;
    for c in s.chars() {
        match c {
            '"' => w.write_all(b"\\\"")?,
            '\\' => w.write_all(b"\\\\")?,
            c if (c as u32) < 0x20 => write!(w, "\\u{:04x}", c as u32)?,
            c => write!(w, "{c}")?,
        }
    }
    w.write_all(b"\"")
}

fn hex_bytes(w: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 8192];
    for chunk in bytes.chunks(4096) {
        for (i, &b) in chunk.iter().enumerate() {
            buf[2 * i] = HEX[(b >> 4) as usize];
            buf[2 * i + 1] = HEX[(b & 15) as usize];
        }
        w.write_all(&buf[..2 * chunk.len()])?;
    }
    Ok(())
}

/// The triple a dump names: the target of the link's objects, in the
/// container of its first file (ELF when the graph has no file).
pub fn link_triple(g: &LinkGraph<'_>, arch: Arch) -> &'static str {
    crate::formats::triple(g.files.first().map(|f| f.container).unwrap_or_default(), arch)
}

/// Writes the dump to `path`.
///
/// # Errors
/// [`Error::Io`] naming the path.
#[allow(clippy::too_many_arguments)]
pub fn write_file(
    path: &Path,
    g: &LinkGraph<'_>,
    names: &Interner,
    arch: Arch,
    alloc: &dyn Allocation,
    gp: &GotPlt,
    abs: &[(String, u64)],
    redirect: Option<&crate::redirect::RedirectDump>,
) -> Result<()> {
    let io = |e| Error::Io { path: path.display().to_string(), source: e };
    let f = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
    write(&mut w, g, names, arch, alloc, gp, abs, redirect).map_err(io)?;
    w.flush().map_err(io)
}

/// Writes the dump as one JSON object. The session's redirection pool
/// (stubs, lazy trampolines, re-entry routine), when there is one, is
/// listed with the link: its memory in `memory`, its entries in `stubs`
/// with file `""` and flavour `redirect`, `lazy-trampoline` or `reentry`.
///
/// # Errors
/// The writer's errors.
#[allow(clippy::too_many_arguments)]
pub fn write(
    w: &mut impl Write,
    g: &LinkGraph<'_>,
    names: &Interner,
    arch: Arch,
    alloc: &dyn Allocation,
    gp: &GotPlt,
    abs: &[(String, u64)],
    redirect: Option<&crate::redirect::RedirectDump>,
) -> std::io::Result<()> {
    write!(
        w,
        "{{\"format\":\"jitlink-dump/1\",\"triple\":\"{}\",\"endian\":\"{}\",\"pointer_size\":{},\n\"memory\":[",
        link_triple(g, arch),
        if arch.little_endian() { "little" } else { "big" },
        arch.pointer_size()
    )?;
    let mut first = true;
    for p in Prot::ALL {
        let seg = alloc.segment(p);
        if seg.size == 0 {
            continue;
        }
        if !first {
            w.write_all(b",")?;
        }
        first = false;
        write!(w, "\n{{\"address\":\"{:#x}\",\"bytes\":\"", seg.target)?;
        hex_bytes(w, &alloc.working(p)[..seg.size as usize])?;
        w.write_all(b"\"}")?;
    }
    for (addr, bytes) in redirect.map(|r| r.memory.as_slice()).unwrap_or(&[]) {
        if !first {
            w.write_all(b",")?;
        }
        first = false;
        write!(w, "\n{{\"address\":\"{addr:#x}\",\"bytes\":\"")?;
        hex_bytes(w, bytes)?;
        w.write_all(b"\"}")?;
    }
    w.write_all(b"],\n\"sections\":[")?;
    let mut first = true;
    for s in &g.sections {
        let live: Vec<_> = s.blocks.iter().map(|b| &g.blocks[b.index()]).filter(|b| b.live).collect();
        let Some(lo) = live.iter().map(|b| b.addr).min() else {
            continue;
        };
        let hi = live.iter().map(|b| b.addr + b.size).max().unwrap_or(lo);
        if !first {
            w.write_all(b",")?;
        }
        first = false;
        w.write_all(b"\n{\"file\":")?;
        json_str(w, &g.files[s.file.index()].name)?;
        w.write_all(b",\"name\":")?;
        json_str(w, &names.str(s.name))?;
        write!(w, ",\"address\":\"{lo:#x}\",\"size\":{}}}", hi - lo)?;
    }
    w.write_all(b"],\n\"symbols\":[")?;
    let mut first = true;
    for sym in &g.symbols {
        let Some(n) = sym.name else { continue };
        let (section, addr) = match (sym.kind, sym.block) {
            (SymbolKind::Defined, Some(b)) => {
                let blk = &g.blocks[b.index()];
                if !blk.live {
                    continue;
                }
                (Some(g.block_section(b).name), blk.addr + sym.value)
            }
            (SymbolKind::External, _) if !sym.resolved => continue,
            (SymbolKind::Common, _) => continue,
            _ => (None, sym.value),
        };
        if !first {
            w.write_all(b",")?;
        }
        first = false;
        w.write_all(b"\n{\"name\":")?;
        json_str(w, &names.str(n))?;
        w.write_all(b",\"file\":")?;
        json_str(w, &g.files[sym.file.index()].name)?;
        w.write_all(b",\"section\":")?;
        json_str(w, &section.map(|s| names.str(s).into_owned()).unwrap_or_default())?;
        let kind = match sym.kind {
            SymbolKind::Defined => "defined",
            SymbolKind::Absolute => "absolute",
            SymbolKind::Common => "common",
            SymbolKind::External => "external",
        };
        let scope = match sym.scope {
            Scope::Default => "default",
            Scope::Hidden => "hidden",
            Scope::Local => "local",
        };
        let linkage = if sym.linkage == Linkage::Weak { "weak" } else { "strong" };
        write!(
            w,
            ",\"address\":\"{addr:#x}\",\"size\":{},\"linkage\":\"{linkage}\",\"scope\":\"{scope}\",\"kind\":\"{kind}\"}}",
            sym.size
        )?;
    }
    for (name, addr) in abs {
        if !first {
            w.write_all(b",")?;
        }
        first = false;
        w.write_all(b"\n{\"name\":")?;
        json_str(w, name)?;
        write!(
            w,
            ",\"file\":\"\",\"section\":\"\",\"address\":\"{addr:#x}\",\"size\":0,\"linkage\":\"strong\",\"scope\":\"default\",\"kind\":\"absolute\"}}"
        )?;
    }
    w.write_all(b"],\n\"stubs\":[")?;
    for (i, &(file, target, stub, kind)) in gp.stubs.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"\n{\"file\":")?;
        json_str(w, &g.files[file.index()].name)?;
        w.write_all(b",\"target\":")?;
        json_str(w, &g.symbol_display(target, names))?;
        write!(
            w,
            ",\"kind\":\"{kind}\",\"address\":\"{:#x}\",\"size\":{}}}",
            g.symbol_addr(stub),
            g.symbols[stub.index()].size
        )?;
    }
    let mut any = !gp.stubs.is_empty();
    for (name, addr, size, flavour) in redirect.map(|r| r.stubs.as_slice()).unwrap_or(&[]) {
        if any {
            w.write_all(b",")?;
        }
        any = true;
        w.write_all(b"\n{\"file\":\"\",\"target\":")?;
        json_str(w, name)?;
        write!(w, ",\"kind\":\"{flavour}\",\"address\":\"{addr:#x}\",\"size\":{size}}}")?;
    }
    w.write_all(b"],\n\"got\":[")?;
    for (i, &(file, target, entry)) in gp.got.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"\n{\"file\":")?;
        json_str(w, &g.files[file.index()].name)?;
        w.write_all(b",\"target\":")?;
        json_str(w, &g.symbol_display(target, names))?;
        write!(w, ",\"address\":\"{:#x}\",\"size\":8}}", g.symbol_addr(entry))?;
    }
    w.write_all(b"]}\n")
}

/// `--show-addrs`: every named symbol's address, and the stubs and GOT
/// entries, on stderr.
pub fn show_addrs(g: &LinkGraph<'_>, names: &Interner, gp: &GotPlt) {
    let mut out = String::new();
    for sym in &g.symbols {
        let Some(n) = sym.name else { continue };
        if sym.block.is_some_and(|b| !g.blocks[b.index()].live) {
            continue;
        }
        let addr = match (sym.kind, sym.block) {
            (SymbolKind::Defined, Some(b)) => g.blocks[b.index()].addr + sym.value,
            _ => sym.value,
        };
        out.push_str(&format!(
            "{addr:#018x} {:<8} {} ({})\n",
            format!("{:?}", sym.kind),
            names.str(n),
            g.files[sym.file.index()].name
        ));
    }
    for &(f, t, s, _) in &gp.stubs {
        out.push_str(&format!(
            "{:#018x} stub     {} ({})\n",
            g.symbol_addr(s),
            g.symbol_display(t, names),
            g.files[f.index()].name
        ));
    }
    for &(f, t, s) in &gp.got {
        out.push_str(&format!(
            "{:#018x} got      {} ({})\n",
            g.symbol_addr(s),
            g.symbol_display(t, names),
            g.files[f.index()].name
        ));
    }
    eprint!("{out}");
}

/// `--show-graph`: sections, blocks, symbols and edges on stderr.
pub fn show_graph(g: &LinkGraph<'_>, names: &Interner, arch: Arch) {
    let mut out = String::new();
    for s in &g.sections {
        out.push_str(&format!(
            "section {} ({}) {:?} {:?}\n",
            names.str(s.name),
            g.files[s.file.index()].name,
            s.prot,
            s.role
        ));
        for &b in &s.blocks {
            let blk = &g.blocks[b.index()];
            out.push_str(&format!(
                "  block {} addr {:#x} size {:#x} align {} {}\n",
                b.0,
                blk.addr,
                blk.size,
                blk.align,
                if blk.live { "live" } else { "dead" }
            ));
            for e in blk.edges.iter() {
                out.push_str(&format!(
                    "    +{:#x} {} -> {} {:+#x}\n",
                    e.offset,
                    arch.kind_name(e.kind),
                    g.symbol_display(e.target, names),
                    e.addend
                ));
            }
        }
    }
    eprint!("{out}");
}
