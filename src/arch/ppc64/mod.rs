//! 64-bit PowerPC (Power ISA, ELF V2 ABI, little- and big-endian).

pub mod redirect;
