//! Host symbols through the dynamic loader: the process itself
//! (`RTLD_DEFAULT`) and shared libraries opened for `-l`/`-L`, including
//! the GNU ld scripts Debian installs as `libc.so`/`libm.so`.

use crate::error::{Error, Result};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Libraries opened with `dlopen`, searched in order, then the process.
#[derive(Default)]
pub struct Libraries {
    handles: Vec<(String, usize)>,
    buf: Vec<u8>,
}

impl Libraries {
    /// Opens a shared library (or follows a linker script) and makes its
    /// symbols visible to lookups. Archives named by a linker script are
    /// returned for the caller to add.
    ///
    /// # Errors
    /// [`Error::Io`]/[`Error::Usage`] when the file cannot be opened.
    pub fn open(&mut self, path: &Path) -> Result<Vec<PathBuf>> {
        let mut archives = Vec::new();
        self.open_inner(path, &mut archives, 0)?;
        Ok(archives)
    }

    fn open_inner(&mut self, path: &Path, archives: &mut Vec<PathBuf>, depth: u32) -> Result<()> {
        let io = |e| Error::Io { path: path.display().to_string(), source: e };
        let mut head = [0u8; 4];
        let n = std::io::Read::read(&mut std::fs::File::open(path).map_err(io)?, &mut head).map_err(io)?;
        if head[..n] != *b"\x7fELF" && depth < 4 {
            let bytes = std::fs::read(path).map_err(io)?;
            // A GNU ld script: GROUP ( a.so b.a AS_NEEDED ( c.so ) )
            let text = String::from_utf8_lossy(&bytes);
            let mut cleaned = String::with_capacity(text.len());
            let mut rest = &*text;
            while let Some(i) = rest.find("/*") {
                cleaned.push_str(&rest[..i]);
                rest = rest[i + 2..].split_once("*/").map_or("", |(_, r)| r);
            }
            cleaned.push_str(rest);
            for tok in cleaned.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',') {
                if tok.starts_with('/') || tok.starts_with("lib") {
                    let p = if tok.starts_with('/') {
                        PathBuf::from(tok)
                    } else {
                        path.parent().unwrap_or(Path::new(".")).join(tok)
                    };
                    if tok.ends_with(".a") {
                        archives.push(p);
                    } else if p.exists() {
                        self.open_inner(&p, archives, depth + 1)?;
                    }
                }
            }
            return Ok(());
        }
        let c = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::Usage(format!("{}: path contains NUL", path.display())))?;
        // SAFETY: dlopen with a NUL-terminated path; the handle is kept for
        // the session's life (never dlclosed while code may use it).
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if h.is_null() {
            // SAFETY: dlerror returns a thread-local C string or NULL.
            let msg = unsafe {
                let e = libc::dlerror();
                if e.is_null() {
                    "unknown error".to_string()
                } else {
                    std::ffi::CStr::from_ptr(e).to_string_lossy().into_owned()
                }
            };
            return Err(Error::Usage(format!("{}: cannot open shared library: {msg}", path.display())));
        }
        self.handles.push((path.display().to_string(), h as usize));
        Ok(())
    }

    /// Looks `name` up in the opened libraries, then in the whole process.
    pub fn lookup(&mut self, name: &[u8]) -> Option<u64> {
        if name.contains(&0) {
            return None;
        }
        self.buf.clear();
        self.buf.extend_from_slice(name);
        self.buf.push(0);
        let cname = self.buf.as_ptr() as *const libc::c_char;
        for &(_, h) in &self.handles {
            // SAFETY: h is a live dlopen handle; cname is NUL-terminated.
            let p = unsafe { libc::dlsym(h as *mut libc::c_void, cname) };
            if !p.is_null() {
                return Some(p as u64);
            }
        }
        // SAFETY: RTLD_DEFAULT searches the global scope; cname is NUL-terminated.
        let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, cname) };
        (!p.is_null()).then_some(p as u64)
    }
}

/// The directories `-l` searches after the user's `-L` ones.
pub fn default_search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let multiarch = if cfg!(target_arch = "x86_64") { "x86_64-linux-gnu" } else { "aarch64-linux-gnu" };
    for d in ["/usr/local/lib", "/lib", "/usr/lib"] {
        dirs.push(Path::new(d).join(multiarch));
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::from("/lib64"));
    dirs.push(PathBuf::from("/usr/lib64"));
    if let Ok(rd) = std::fs::read_dir(Path::new("/usr/lib/gcc").join(multiarch)) {
        let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        v.sort();
        v.reverse();
        dirs.extend(v);
    }
    dirs
}

/// What `-l NAME` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A shared library (or ld script) to open.
    Shared(PathBuf),
    /// A static archive.
    Archive(PathBuf),
}

/// Finds `libNAME.so` (preferred, as ld does) or `libNAME.a` in `dirs`,
/// then a versioned `libNAME.so.N` anywhere in `dirs`.
pub fn find_library(name: &str, dirs: &[PathBuf]) -> Option<Found> {
    for d in dirs {
        let so = d.join(format!("lib{name}.so"));
        if so.is_file() {
            return Some(Found::Shared(so));
        }
        let a = d.join(format!("lib{name}.a"));
        if a.is_file() {
            return Some(Found::Archive(a));
        }
    }
    let prefix = format!("lib{name}.so.");
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        let mut v: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
            .collect();
        v.sort();
        if let Some(p) = v.into_iter().next() {
            return Some(Found::Shared(p));
        }
    }
    None
}
