//! AArch64 (Arm A64, AAPCS64 / ELF for the Arm 64-bit Architecture).

pub mod edges;
pub mod fixup;
pub mod got_plt;
pub mod redirect;
