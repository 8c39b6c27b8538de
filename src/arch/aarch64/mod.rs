//! AArch64 (Arm A64, AAPCS64 / ELF for the Arm 64-bit Architecture).

pub mod redirect;
