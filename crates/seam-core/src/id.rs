//! Typed identifiers: an `Id<Order>` cannot be passed where an `Id<User>` is expected.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// A time-ordered (UUIDv7) identifier of an entity `T`.
///
/// UUIDv7 sorts by creation time, which keeps B-tree indexes compact and makes ids
/// roughly chronological in listings. `T` is only a marker: it is never stored.
///
/// ```
/// use seam_core::Id;
///
/// struct Order;
/// let id = Id::<Order>::new();
/// let parsed: Id<Order> = id.to_string().parse().unwrap();
/// assert_eq!(id, parsed);
/// assert!("not-a-uuid".parse::<Id<Order>>().is_err());
/// ```
pub struct Id<T: ?Sized> {
    uuid: Uuid,
    _entity: PhantomData<fn() -> T>,
}

impl<T: ?Sized> Id<T> {
    /// A new id for the current time.
    pub fn new() -> Self {
        Self::from_uuid(Uuid::now_v7())
    }

    /// Wraps an existing UUID (for example one read from a database).
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self {
            uuid,
            _entity: PhantomData,
        }
    }

    /// The underlying UUID.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.uuid
    }

    /// Converts to the underlying UUID.
    pub const fn into_uuid(self) -> Uuid {
        self.uuid
    }

    /// Re-types the id. Use only where the same id names two views of one thing.
    pub const fn cast<U: ?Sized>(self) -> Id<U> {
        Id::from_uuid(self.uuid)
    }
}

impl<T: ?Sized> Default for Id<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: ?Sized> Clone for Id<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Id<T> {}

impl<T: ?Sized> PartialEq for Id<T> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}

impl<T: ?Sized> Eq for Id<T> {}

impl<T: ?Sized> PartialOrd for Id<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: ?Sized> Ord for Id<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.uuid.cmp(&other.uuid)
    }
}

impl<T: ?Sized> Hash for Id<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uuid.hash(state);
    }
}

impl<T: ?Sized> fmt::Debug for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.uuid, f)
    }
}

impl<T: ?Sized> fmt::Display for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.uuid, f)
    }
}

impl<T: ?Sized> From<Uuid> for Id<T> {
    fn from(uuid: Uuid) -> Self {
        Self::from_uuid(uuid)
    }
}

impl<T: ?Sized> From<Id<T>> for Uuid {
    fn from(id: Id<T>) -> Self {
        id.uuid
    }
}

/// The text given as an id is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid id {input:?}: expected a UUID such as 0192d3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d")]
pub struct ParseIdError {
    input: String,
}

impl<T: ?Sized> FromStr for Id<T> {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Self::from_uuid)
            .map_err(|_| ParseIdError {
                // Bound what is echoed back: the input may be attacker-controlled.
                input: s.chars().take(64).collect(),
            })
    }
}

impl<T: ?Sized> Serialize for Id<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.uuid.serialize(serializer)
    }
}

impl<'de, T: ?Sized> Deserialize<'de> for Id<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Uuid::deserialize(deserializer).map(Self::from_uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Order;

    #[test]
    fn ids_are_v7_and_time_ordered() {
        let first = Id::<Order>::new();
        let second = Id::<Order>::new();
        assert_eq!(first.as_uuid().get_version_num(), 7);
        assert!(first < second);
    }

    #[test]
    fn serde_round_trip_is_a_plain_uuid_string() {
        let id = Id::<Order>::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        let back: Id<Order> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn parse_error_names_the_input_and_expected_form() {
        let err = "42".parse::<Id<Order>>().unwrap_err();
        assert!(err.to_string().contains("\"42\""));
        assert!(err.to_string().contains("expected a UUID"));
    }
}
