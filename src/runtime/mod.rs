//! Runtime support for JIT'd code: thread-local storage, and debugger and
//! profiler registration.

pub mod debugger;
pub mod perf;
pub mod tls;
