//! x86-64 (System V AMD64 psABI).

pub mod edges;
pub mod fixup;
pub mod got_plt;
pub mod redirect;
