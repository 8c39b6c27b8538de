//! Interned symbol and section names, shared by every link of a session.

use hashbrown::HashTable;
use std::hash::BuildHasher;

/// A name interned in an [`Interner`]: a small copyable handle.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameId(pub u32);

/// Stores each distinct byte string once; names are handed out as
/// [`NameId`]s. Storage is one growing byte buffer plus one span per name,
/// so interning does not allocate per name.
#[derive(Default)]
pub struct Interner {
    bytes: Vec<u8>,
    spans: Vec<(u32, u32)>,
    table: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }

    fn span_bytes(&self, idx: u32) -> &[u8] {
        let (start, len) = self.spans[idx as usize];
        &self.bytes[start as usize..(start + len) as usize]
    }

    /// Interns `name`, returning the existing id if it was seen before.
    ///
    /// # Panics
    /// Panics if the total of all names exceeds 4 GiB.
    pub fn intern(&mut self, name: &[u8]) -> NameId {
        let hash = self.hasher.hash_one(name);
        let Self { bytes, spans, table, hasher } = self;
        let found = table.find(hash, |&idx| {
            let (start, len) = spans[idx as usize];
            &bytes[start as usize..(start + len) as usize] == name
        });
        if let Some(&idx) = found {
            return NameId(idx);
        }
        let start = u32::try_from(bytes.len()).expect("interner exceeds 4 GiB");
        bytes.extend_from_slice(name);
        let idx = spans.len() as u32;
        spans.push((start, name.len() as u32));
        table.insert_unique(hash, idx, |&i| {
            let (s, l) = spans[i as usize];
            hasher.hash_one(&bytes[s as usize..(s + l) as usize])
        });
        NameId(idx)
    }

    /// Looks `name` up without interning it.
    pub fn get(&self, name: &[u8]) -> Option<NameId> {
        let hash = self.hasher.hash_one(name);
        self.table.find(hash, |&idx| self.span_bytes(idx) == name).map(|&i| NameId(i))
    }

    /// The bytes of an interned name.
    pub fn bytes(&self, id: NameId) -> &[u8] {
        self.span_bytes(id.0)
    }

    /// The name as text (lossy for names that are not UTF-8).
    pub fn str(&self, id: NameId) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.bytes(id))
    }

    /// Number of distinct names.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when nothing is interned.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once() {
        let mut i = Interner::new();
        let a = i.intern(b"printf");
        let b = i.intern(b"main");
        assert_eq!(i.intern(b"printf"), a);
        assert_ne!(a, b);
        assert_eq!(i.bytes(b), b"main");
        assert_eq!(i.get(b"main"), Some(b));
        assert_eq!(i.get(b"nope"), None);
        for n in 0..10_000u32 {
            let s = format!("sym{n}");
            let id = i.intern(s.as_bytes());
            assert_eq!(i.bytes(id), s.as_bytes());
        }
        assert_eq!(i.get(b"sym777").map(|id| i.str(id).into_owned()), Some("sym777".into()));
    }
}
