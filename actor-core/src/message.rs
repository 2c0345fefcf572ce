//! Type identity for messages that cross nodes: [`Message`] and [`type_tag`].
//!
//! This is not network code: it only names a type stably, so that a node receiving bytes (or
//! a typed reference inside a message) can check that both sides mean the same type and the
//! same version of it.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A message type that can be sent to actors on other nodes.
///
/// `NAME` and `VERSION` form the stable tag carried by every payload, so a node that does not
/// know the type, or knows another version of it, refuses it with a typed error instead of
/// mis-decoding the bytes. Bump `VERSION` when the encoding changes.
///
/// ```
/// use actor_core::Message;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// enum Counter { Add(u64) }
/// impl Message for Counter { const NAME: &'static str = "demo.Counter"; }
/// assert_ne!(Counter::tag(), <u64 as Message>::tag());
/// ```
pub trait Message: Serialize + DeserializeOwned + Send + 'static {
    /// Stable, globally unique name of the type.
    const NAME: &'static str;
    /// Schema version.
    const VERSION: u32 = 1;
    /// The tag: FNV-1a of `NAME/VERSION`.
    fn tag() -> u64 {
        type_tag(Self::NAME, Self::VERSION)
    }
}

macro_rules! builtin {
    ($($t:ty => $n:literal),*) => { $(impl Message for $t { const NAME: &'static str = $n; })* };
}
builtin!(u64 => "u64", i64 => "i64", u32 => "u32", bool => "bool", String => "String", () => "()", Vec<u8> => "bytes");

/// The stable tag of a message type: FNV-1a of `name/version`.
pub const fn type_tag(name: &str, version: u32) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash ^= b'/' as u64;
    hash = hash.wrapping_mul(0x0100_0000_01b3);
    let v = version.to_le_bytes();
    let mut j = 0;
    while j < 4 {
        hash ^= v[j] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        j += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_differ_by_name_and_version() {
        assert_ne!(type_tag("a.Msg", 1), type_tag("a.Msg", 2));
        assert_ne!(type_tag("a.Msg", 1), type_tag("b.Msg", 1));
    }
}
