//! The driver's error type.

use std::fmt;

/// Everything that can go wrong in the driver.
#[derive(Debug)]
pub enum Error {
    /// The linker refused an object (or a session operation failed).
    Link(jitlink::Error),
    /// LLVM could not parse, link, verify or compile a module.
    Llvm(String),
    /// A file could not be read.
    Io {
        /// The path.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Bad input or options.
    Usage(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Link(e) => write!(f, "link: {e}"),
            Error::Llvm(e) => write!(f, "llvm: {e}"),
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Usage(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for Error {}

impl From<jitlink::Error> for Error {
    fn from(e: jitlink::Error) -> Self {
        Error::Link(e)
    }
}

impl From<Error> for jitlink::Error {
    /// Materializers must report `jitlink::Error`s.
    fn from(e: Error) -> Self {
        match e {
            Error::Link(e) => e,
            other => jitlink::Error::Usage(other.to_string()),
        }
    }
}

/// The driver's result type.
pub type Result<T> = std::result::Result<T, Error>;
