//! The one error type of the crate.
//!
//! Every variant carries the location it is about (file, section, offset,
//! relocation or symbol) and displays as one line, so the command line can
//! print it as is.

use std::fmt;

/// Where in the input something went wrong: file, section and byte offset
/// within that section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as named on the command line, without directories; archive
    /// members are `libfoo.a(member.o)`.
    pub file: String,
    /// Section name (empty when the problem is not inside a section).
    pub section: String,
    /// Byte offset within the section.
    pub offset: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.section.is_empty() {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}: section {} offset {:#x}", self.file, self.section, self.offset)
        }
    }
}

/// All errors of the crate. Variants are matchable by callers; `Display` is
/// one line naming the file, section, offset and relocation or symbol.
#[derive(Debug)]
pub enum Error {
    /// The input is not a well-formed object or archive.
    Malformed {
        /// File (and section/offset where known).
        file: String,
        /// What is wrong, naming the field.
        detail: String,
    },
    /// The input is well formed but uses a feature this linker does not
    /// implement (file class, machine, section type).
    Unsupported {
        /// File the feature was found in.
        file: String,
        /// What it is.
        detail: String,
    },
    /// A relocation type that has no mapping to an edge kind.
    UnsupportedRelocation {
        /// Where the relocation applies.
        at: Box<Location>,
        /// The relocation's name (or `type N` if unknown).
        relocation: String,
        /// Why it is not supported.
        reason: &'static str,
    },
    /// Symbols that no input, session table, archive or library defines.
    UndefinedSymbols {
        /// `(symbol, file that needs it)`, every missing name once per file.
        missing: Vec<(String, String)>,
    },
    /// Two strong definitions of one global symbol.
    DuplicateDefinition {
        /// The symbol.
        symbol: String,
        /// File of the first definition.
        first: String,
        /// File of the second definition.
        second: String,
    },
    /// A fixup value does not fit the field (psABI "overflow check").
    OutOfRange {
        /// Where the fixup applies.
        at: Box<Location>,
        /// The relocation's name, e.g. `R_X86_64_PC32`.
        relocation: String,
        /// The target symbol's name (or `<anonymous>`).
        target: String,
        /// The computed value that does not fit.
        value: i128,
        /// The range the field accepts, for the message.
        range: &'static str,
    },
    /// Mapping or protecting memory failed.
    Memory {
        /// What was attempted and the OS error.
        detail: String,
    },
    /// Reading a file failed.
    Io {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A misuse of the API or command line (bad option value, unknown entry
    /// point, ...).
    Usage(String),
    /// A client's own failure reported through the crate, e.g. a lazy
    /// symbol's materializer that could not compile its body.
    Client {
        /// The symbol the client was producing.
        symbol: String,
        /// The client's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl fmt::Display for Error {
    /// One line: control characters from input names are escaped as
    /// `\xNN`, so a hostile name cannot break the line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = String::new();
        self.fmt_raw(&mut raw)?;
        if !raw.chars().any(char::is_control) {
            return f.write_str(&raw);
        }
        for c in raw.chars() {
            if c.is_control() {
                write!(f, "\\x{:02x}", c as u32)?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl Error {
    fn fmt_raw(&self, f: &mut String) -> fmt::Result {
        use fmt::Write;
        match self {
            Error::Malformed { file, detail } => write!(f, "{file}: malformed object: {detail}"),
            Error::Unsupported { file, detail } => write!(f, "{file}: unsupported: {detail}"),
            Error::UnsupportedRelocation { at, relocation, reason } => {
                write!(f, "{at}: unsupported relocation {relocation}: {reason}")
            }
            Error::UndefinedSymbols { missing } => {
                write!(f, "undefined symbols: ")?;
                for (i, (sym, file)) in missing.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{sym} (needed by {file})")?;
                }
                Ok(())
            }
            Error::DuplicateDefinition { symbol, first, second } => {
                write!(f, "duplicate definition of symbol {symbol}: in {first} and in {second}")
            }
            Error::OutOfRange { at, relocation, target, value, range } => write!(
                f,
                "{at}: relocation {relocation} against {target} out of range: value {value:#x} does not fit {range}"
            ),
            Error::Memory { detail } => write!(f, "memory: {detail}"),
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Usage(s) => write!(f, "{s}"),
            Error::Client { symbol, source } => write!(f, "{symbol}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Client { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
