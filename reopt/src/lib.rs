//! `jitlink-reopt`: a tiered re-optimisation driver on LLVM 14 for the
//! jitlink JIT linker.
//!
//! LLVM IR modules are linked into one whole-program module whose
//! functions are then compiled one by one: lazily at tier 0 (-O0, fast
//! instruction selection, with entry, loop back-edge and call-edge
//! counters) through jitlink's lazy stubs, and again at tier 1 (-O2/-O3,
//! with the bodies of hot callees available for inlining) on background
//! threads when their counters cross a threshold; linking the new version
//! redirects every caller (patched in place where possible), and the old
//! version is retired. See README.md for the design and measurements.

#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod compile;
pub mod driver;
pub mod error;
pub mod ffi;
pub mod program;

pub use compile::Level;
pub use driver::{prepare, Options, Prepared};
pub use error::{Error, Result};
