//! RISC-V 64 (RV64GC, LP64D psABI).

pub mod redirect;
