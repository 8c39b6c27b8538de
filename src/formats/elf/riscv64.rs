//! ELF riscv64 relocation types and their mapping to riscv64 edge kinds (filled in
//! by the riscv64 backend).

pub use super::{Mapping, Target};
use std::borrow::Cow;

/// Maps an `r_type` to an edge; `Err` gives why it is not supported.
pub fn map(r_type: u32) -> Result<Mapping, &'static str> {
    match r_type {
        _ => Err("relocation type not supported by this backend yet"),
    }
}

/// The psABI name of a relocation type (`type N` if unknown).
pub fn reloc_name(r_type: u16) -> Cow<'static, str> {
    Cow::Owned(format!("type {r_type}"))
}
