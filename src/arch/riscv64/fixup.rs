//! Fixups of this architecture: pure functions over a byte slice.

use super::edges::*;
use crate::arch::{FixupError, FixupInput};
use crate::graph::EdgeKind;

/// Applies one fixup of kind `kind` at `offset` within `block`;
/// `big_endian` gives the byte order of data and instruction words.
///
/// # Errors
/// [`FixupError::OutOfRange`] when the value does not fit the field,
/// [`FixupError::OutsideBlock`] when the field is not inside `block`,
/// [`FixupError::Unlowered`] for kinds this backend does not implement.
pub fn apply_fixup(
    kind: EdgeKind,
    block: &mut [u8],
    offset: usize,
    _v: &FixupInput,
    _big_endian: bool,
) -> Result<(), FixupError> {
    match kind {
        KEEP_ALIVE => {
            let _ = (block, offset);
            Ok(())
        }
        _ => Err(FixupError::Unlowered),
    }
}
