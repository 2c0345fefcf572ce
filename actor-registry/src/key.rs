//! Key terms, key kinds, values and select patterns.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// One part of a [`Key`]: an integer or a string. Integers sort before strings.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KeyPart {
    /// An integer part.
    Int(i64),
    /// A string part.
    Str(String),
}

impl fmt::Debug for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Int(i) => write!(f, "{i}"),
            KeyPart::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for KeyPart {
    fn from(i: i64) -> Self {
        KeyPart::Int(i)
    }
}
impl From<i32> for KeyPart {
    fn from(i: i32) -> Self {
        KeyPart::Int(i as i64)
    }
}
impl From<u32> for KeyPart {
    fn from(i: u32) -> Self {
        KeyPart::Int(i as i64)
    }
}
impl From<&str> for KeyPart {
    fn from(s: &str) -> Self {
        KeyPart::Str(s.to_string())
    }
}
impl From<String> for KeyPart {
    fn from(s: String) -> Self {
        KeyPart::Str(s)
    }
}

/// A key term: a tuple of strings and integers such as `("entitlement", tenant, id)`.
///
/// Keys are ordered part by part (a prefix sorts before its extensions), so every key that
/// starts with a given prefix lies in one contiguous range: that is what prefix select uses.
/// Cloning is cheap (the parts are shared, the hash is computed once).
///
/// ```
/// use actor_registry::Key;
/// let k = Key::from(("entitlement", "acme", 7));
/// assert!(k.starts_with(&Key::from("entitlement")));
/// assert!(Key::from(("a", 1)) < Key::from(("a", 2)));
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(from = "Vec<KeyPart>", into = "Vec<KeyPart>")]
pub struct Key {
    /// Computed once at construction, so lookups never rehash the parts.
    hash: u64,
    parts: Arc<[KeyPart]>,
}

impl Key {
    /// A key made of `parts`.
    pub fn new(parts: impl Into<Vec<KeyPart>>) -> Key {
        let parts: Arc<[KeyPart]> = parts.into().into();
        let mut h = crate::hash::Fx::default();
        parts.hash(&mut h);
        Key {
            hash: crate::hash::mix(h.finish()),
            parts,
        }
    }

    /// The parts of the key.
    pub fn parts(&self) -> &[KeyPart] {
        &self.parts
    }

    /// Whether the key's first parts are those of `prefix`.
    pub fn starts_with(&self, prefix: &Key) -> bool {
        self.parts.starts_with(&prefix.parts)
    }

    pub(crate) fn hash_value(&self) -> u64 {
        self.hash
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        // Clones of one key share their parts: equal without comparing them.
        self.hash == other.hash
            && (Arc::ptr_eq(&self.parts, &other.parts) || self.parts == other.parts)
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.parts.cmp(&other.parts)
    }
}
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}
impl From<Key> for Vec<KeyPart> {
    fn from(k: Key) -> Self {
        k.parts.to_vec()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = f.debug_tuple("");
        for p in self.parts.iter() {
            t.field(p);
        }
        t.finish()
    }
}

impl From<Vec<KeyPart>> for Key {
    fn from(v: Vec<KeyPart>) -> Self {
        Key::new(v)
    }
}
impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::new(vec![KeyPart::from(s)])
    }
}
impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::new(vec![KeyPart::from(s)])
    }
}
impl From<i64> for Key {
    fn from(i: i64) -> Self {
        Key::new(vec![KeyPart::Int(i)])
    }
}
impl<A: Into<KeyPart>> From<(A,)> for Key {
    fn from(t: (A,)) -> Self {
        Key::new(vec![t.0.into()])
    }
}
impl<A: Into<KeyPart>, B: Into<KeyPart>> From<(A, B)> for Key {
    fn from(t: (A, B)) -> Self {
        Key::new(vec![t.0.into(), t.1.into()])
    }
}
impl<A: Into<KeyPart>, B: Into<KeyPart>, C: Into<KeyPart>> From<(A, B, C)> for Key {
    fn from(t: (A, B, C)) -> Self {
        Key::new(vec![t.0.into(), t.1.into(), t.2.into()])
    }
}
impl<A: Into<KeyPart>, B: Into<KeyPart>, C: Into<KeyPart>, D: Into<KeyPart>> From<(A, B, C, D)>
    for Key
{
    fn from(t: (A, B, C, D)) -> Self {
        Key::new(vec![t.0.into(), t.1.into(), t.2.into(), t.3.into()])
    }
}

/// One element of a select [`Pattern`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pat {
    /// Matches any single part (Erlang's `'_'`).
    Any,
    /// Matches exactly this part.
    Is(KeyPart),
    /// Matches any number (zero or more) of remaining parts; only meaningful last.
    Rest,
}

impl From<KeyPart> for Pat {
    fn from(p: KeyPart) -> Self {
        Pat::Is(p)
    }
}
impl From<&str> for Pat {
    fn from(s: &str) -> Self {
        Pat::Is(s.into())
    }
}
impl From<String> for Pat {
    fn from(s: String) -> Self {
        Pat::Is(s.into())
    }
}
impl From<i64> for Pat {
    fn from(i: i64) -> Self {
        Pat::Is(i.into())
    }
}
impl From<i32> for Pat {
    fn from(i: i32) -> Self {
        Pat::Is(i.into())
    }
}

/// A key pattern for [`Registry::select`](crate::Registry::select): parts, wildcards and an
/// optional trailing [`Pat::Rest`].
///
/// ```
/// use actor_registry::{Key, Pat, Pattern};
/// let p = Pattern::new(vec![Pat::from("user"), Pat::Any, Pat::from(1)]);
/// assert!(p.matches(&Key::from(("user", "bob", 1))));
/// assert!(!p.matches(&Key::from(("user", "bob", 2))));
/// assert!(Pattern::prefix(&Key::from("user")).matches(&Key::from(("user", 5))));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(pub Vec<Pat>);

impl Pattern {
    /// A pattern made of `pats`.
    pub fn new(pats: Vec<Pat>) -> Pattern {
        Pattern(pats)
    }

    /// Matches every key that starts with `prefix` (including `prefix` itself).
    pub fn prefix(prefix: &Key) -> Pattern {
        let mut v: Vec<Pat> = prefix.parts().iter().cloned().map(Pat::Is).collect();
        v.push(Pat::Rest);
        Pattern(v)
    }

    /// Matches every key.
    pub fn all() -> Pattern {
        Pattern(vec![Pat::Rest])
    }

    /// Whether `key` matches.
    pub fn matches(&self, key: &Key) -> bool {
        let parts = key.parts();
        let mut i = 0;
        for p in &self.0 {
            match p {
                Pat::Rest => return true,
                Pat::Any => {
                    if i >= parts.len() {
                        return false;
                    }
                }
                Pat::Is(x) => {
                    if parts.get(i) != Some(x) {
                        return false;
                    }
                }
            }
            i += 1;
        }
        i == parts.len()
    }

    /// The exact leading parts: every matching key starts with them.
    pub(crate) fn fixed_prefix(&self) -> Key {
        Key::new(
            self.0
                .iter()
                .map_while(|p| match p {
                    Pat::Is(x) => Some(x.clone()),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )
    }
}

/// The kind of a registry entry (gproc's `n`, `p`, `c`, `a`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// A unique name: at most one holder.
    Name,
    /// A property: any number of holders, each with its own value.
    Property,
    /// A counter: any number of holders, each with its own integer value.
    Counter,
    /// An aggregated counter: unique; its value is the sum of all counters with the same key.
    AggregatedCounter,
}

impl Kind {
    /// Whether a key of this kind has at most one holder.
    pub fn is_unique(self) -> bool {
        matches!(self, Kind::Name | Kind::AggregatedCounter)
    }
}

/// The value attached to an entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Value {
    /// No value (gproc's `undefined`).
    #[default]
    None,
    /// An integer (counters always hold one).
    Int(i64),
    /// A string.
    Str(String),
    /// Raw bytes, e.g. an encoded term.
    Bytes(Vec<u8>),
}

impl Value {
    /// The integer inside, if any.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(b)
    }
}
impl From<()> for Value {
    fn from(_: ()) -> Self {
        Value::None
    }
}
