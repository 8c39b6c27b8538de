//! Runtime support JIT'd code calls into: thread-local storage.

pub mod tls;
