//! Edge kinds of this architecture (to be filled by its backend).

use crate::graph::EdgeKind;

/// Keeps the target alive; no fixup.
pub const KEEP_ALIVE: EdgeKind = EdgeKind::KEEP_ALIVE;

/// Name of an edge kind, for `--show-graph` and messages.
pub fn kind_name(k: EdgeKind) -> &'static str {
    match k {
        KEEP_ALIVE => "KeepAlive",
        _ => "Unknown",
    }
}

/// True for direct branch edges (call sites).
pub fn is_branch(_k: EdgeKind) -> bool {
    false
}

/// True for edges to a GOT entry or stub that the fixup may bypass.
pub fn has_bypass(_k: EdgeKind) -> bool {
    false
}
