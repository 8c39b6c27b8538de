//! This architecture's post-prune pass: GOT entries, PLT stubs,
//! range-extension stubs (veneers) and relaxation, where edges need them.

use crate::arch::GotPlt;
use crate::error::Result;
use crate::graph::{Interner, LinkGraph};

/// Lowers request edge kinds, creating GOT entries and stubs.
///
/// # Errors
/// None yet.
pub fn build(_g: &mut LinkGraph<'_>, _names: &mut Interner) -> Result<GotPlt> {
    Ok(GotPlt::default())
}

/// Runs after allocation and resolution, before fixups.
///
/// # Errors
/// None yet.
pub fn pre_fixup(_g: &mut LinkGraph<'_>, _names: &Interner) -> Result<()> {
    Ok(())
}
