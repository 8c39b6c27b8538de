//! RISC-V 64 (RV64GC, LP64D psABI).

pub mod edges;
pub mod fixup;
pub mod got_plt;
pub mod redirect;
pub mod relax;
