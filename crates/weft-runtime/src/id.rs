//! Run ids: UUIDs (version 7, so they sort by creation time) that mean the
//! same thing in every process, in a store and on the command line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The id of a run: a UUID, written in its usual hyphenated form.
///
/// Ids are made when a run starts ([`RunId::new`]); they sort by the time
/// they were made, and stay the run's id wherever it is stored or resumed.
///
/// # Examples
///
/// ```
/// use weft_runtime::RunId;
///
/// let id = RunId::new();
/// let text = id.to_string();
/// assert_eq!(text.parse::<RunId>().unwrap(), id);
/// assert!("not an id".parse::<RunId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(Uuid);

impl RunId {
    /// A new id (a version 7 UUID: the time now, then random bits).
    #[allow(clippy::new_without_default)]
    pub fn new() -> RunId {
        RunId(Uuid::now_v7())
    }

    /// The id of the sub-workflow run started by one attempt of a run: the
    /// same for the same attempt, so a run that is resumed finds the child
    /// it had started (a version 5 UUID under the parent's id).
    pub fn child(parent: RunId, instance: u32, item: Option<usize>, attempt: u32) -> RunId {
        let name = match item {
            Some(i) => format!("{instance}/{i}/{attempt}"),
            None => format!("{instance}/-/{attempt}"),
        };
        RunId(Uuid::new_v5(&parent.0, name.as_bytes()))
    }

    /// The id as a UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The id of a UUID.
    pub fn from_uuid(uuid: Uuid) -> RunId {
        RunId(uuid)
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RunId({})", self.0.hyphenated())
    }
}

/// A text that is not a run id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a run id: a run id is a UUID such as 0190f1c2-7a4b-7cc3-9d2e-5b8f6a1c3d4e")]
pub struct ParseRunIdError(String);

impl FromStr for RunId {
    type Err = ParseRunIdError;

    fn from_str(s: &str) -> Result<RunId, ParseRunIdError> {
        let t = s.trim();
        Uuid::parse_str(t)
            .map(RunId)
            .map_err(|_| ParseRunIdError(t.chars().take(64).collect()))
    }
}

impl Serialize for RunId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.hyphenated())
    }
}

impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RunId, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation_and_round_trip_through_json() {
        let a = RunId::new();
        let b = RunId::new();
        assert!(a < b);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, format!("\"{a}\""));
        assert_eq!(serde_json::from_str::<RunId>(&json).unwrap(), a);
        assert!(serde_json::from_str::<RunId>("\"x\"").is_err());
    }
}
