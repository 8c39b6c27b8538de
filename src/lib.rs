//! # jitlink
//!
//! A JIT linker: takes relocatable objects (and static archives), lays
//! their sections out in fresh memory of this process, resolves symbols
//! against each other and the host, applies relocations, and hands back
//! callable addresses.
//!
//! Stages (see `shared/spec/architecture.md`): [`formats`] builds a
//! [`graph::LinkGraph`]; [`link`] prunes, lays out and fixes it up with the
//! [`arch`] backends; [`memory`] maps it; [`session`] resolves symbols and
//! owns every link.
//!
//! ```no_run
//! use jitlink::session::{LinkOptions, Session};
//! let mut s = Session::in_process();
//! s.add_file("hello.o".as_ref())?;
//! let id = s.link(&LinkOptions::default())?;
//! let main = s.lookup("main").expect("main defined");
//! unsafe {
//!     s.run_initializers(id)?;
//!     let status = s.run_main(main, &["hello".to_string()]);
//!     s.run_finalizers(id)?;
//!     std::process::exit(status);
//! }
//! # Ok::<(), jitlink::Error>(())
//! ```

#![warn(missing_docs)]

pub mod arch;
pub mod dump;
mod error;
pub mod formats;
pub mod graph;
pub mod link;
pub mod memory;
pub mod oop;
pub mod redirect;
pub mod runtime;
pub mod session;

pub use error::{Error, Location, Result};
pub use session::{LinkId, LinkOptions, Session, SessionOptions};
