//! 64-bit PowerPC (Power ISA, ELF V2 ABI, little- and big-endian).

pub mod edges;
pub mod fixup;
pub mod got_plt;
pub mod redirect;
pub mod stubs;
