//! Run ids: UUIDs (version 7, so they sort by creation time) that mean the
//! same thing in every process, in a store and on the command line.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

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
    /// A new id (a version 7 UUID: the time now in milliseconds, then a
    /// counter and random bits).
    ///
    /// Ids made one after another in a process sort in that order: the
    /// counter goes up by one an id (from a random start), and the time
    /// never goes back (the latest time used is taken if the clock did).
    /// The start of the counter and the key of the low 32 bits are random
    /// per process (read once from the operating system), so that two
    /// processes do not make the same ids. Making one costs no system call
    /// (`Uuid::now_v7` asks the system for random bytes every time).
    #[allow(clippy::new_without_default)]
    pub fn new() -> RunId {
        RunId::at(std::time::SystemTime::now())
    }

    /// A new id made at `now` (a clock reading the caller needs as well:
    /// a run's start).
    pub(crate) fn at(now: std::time::SystemTime) -> RunId {
        let seeds = SEEDS.get_or_init(|| {
            // The low 64 bits of a version 7 id are the variant's two bits,
            // then 62 from the operating system's random source.
            let random = || Uuid::now_v7().as_u64_pair().1 << 2;
            (random(), random())
        });
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let now = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| {
            // Not `as_millis`: a 128-bit division.
            d.as_secs()
                .saturating_mul(1000)
                .saturating_add(u64::from(d.subsec_millis()))
        });
        let millis = LAST_MILLIS.fetch_max(now, Ordering::Relaxed).max(now);
        RunId(Uuid::from_u128(v7_bits(millis, seeds.0, seeds.1, n)))
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

/// The random start of the ids' counter and the key of their random
/// bits, per process.
static SEEDS: OnceLock<(u64, u64)> = OnceLock::new();
/// Ids made so far by this process.
static NEXT: AtomicU64 = AtomicU64::new(0);
/// The latest time (Unix milliseconds) an id was made with.
static LAST_MILLIS: AtomicU64 = AtomicU64::new(0);

/// A version 7 id's 128 bits: the time `millis` (its low 48 bits), the
/// version, a 42-bit counter, `start` (less than 2^41, so it does not
/// wrap) plus `n` (its high 12 bits in `rand_a`, the low 30 at the top of
/// `rand_b`, after the variant), then 32 bits of `n` mixed with `key`
/// (splitmix64's finalizer). Put together as two words, not as bytes for
/// `uuid::Builder` (which shifted a 128-bit integer apart into bytes and
/// then set the version's and the variant's bits over them: ≈ 40
/// instructions an id more).
fn v7_bits(millis: u64, start: u64, key: u64, n: u64) -> u128 {
    let counter = ((start >> 23) + n) & ((1 << 42) - 1);
    let mut z = key.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let high = ((millis & ((1 << 48) - 1)) << 16) | (0x7 << 12) | (counter >> 30);
    let low = (0b10 << 62) | ((counter & ((1 << 30) - 1)) << 32) | (z & 0xFFFF_FFFF);
    (u128::from(high) << 64) | u128::from(low)
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

    #[test]
    fn ids_are_version_7_with_the_time_and_sort_in_the_order_made() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let ids: Vec<RunId> = (0..10_000).map(|_| RunId::new()).collect();
        for w in ids.windows(2) {
            assert!(w[0] < w[1], "{} then {}", w[0], w[1]);
        }
        for id in &ids {
            assert_eq!(id.as_uuid().get_version_num(), 7);
            assert_eq!(id.as_uuid().get_variant(), uuid::Variant::RFC4122);
            let (secs, nanos) = id.as_uuid().get_timestamp().unwrap().to_unix();
            let millis = secs * 1000 + u64::from(nanos) / 1_000_000;
            assert!(millis >= before && millis < before + 60_000, "{millis}");
        }
        // The counter is `rand_a`, then the high 30 bits of `rand_b`.
        let id = |n: u64| v7_bits(0, 0, 0, n);
        let counter = |u: u128| ((u >> 64) & 0xFFF) << 30 | ((u >> 32) & ((1 << 30) - 1));
        for n in [0, 1, 12_345, (1 << 30) + 7, (1 << 42) - 1] {
            assert_eq!(counter(id(n)), u128::from(n));
        }
        assert_ne!(id(1) as u32, id(2) as u32, "random low bits");
    }

    /// The bits `uuid::Builder` made from the time and the 74 bits after
    /// it, before ids were put together as two words.
    fn built(millis: u64, start: u64, key: u64, n: u64) -> u128 {
        let counter = ((start >> 23) + n) & ((1 << 42) - 1);
        let mut z = key.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let bits: u128 = (u128::from(counter) << 32) | u128::from(z as u32);
        let b = bits.to_be_bytes();
        let rest = [
            ((bits >> 70) & 0x0F) as u8,
            (bits >> 62) as u8,
            ((bits >> 56) & 0x3F) as u8,
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15],
        ];
        uuid::Builder::from_unix_timestamp_millis(millis, &rest)
            .into_uuid()
            .as_u128()
    }

    #[test]
    fn ids_have_the_bits_uuids_builder_gives_them() {
        let seeds = [0, 1, 0x1FF_FFFF_FFFF_FFFF, u64::MAX, 0x0123_4567_89AB_CDEF];
        let millis = [0, 1, 1_765_170_000_123, (1 << 48) - 1, 1 << 48, u64::MAX];
        let ns = [
            0,
            1,
            12_345,
            (1 << 30) - 1,
            1 << 30,
            (1 << 42) - 1,
            1 << 42,
            1 << 50,
        ];
        for &m in &millis {
            for &start in &seeds {
                for &key in &seeds {
                    for &n in &ns {
                        assert_eq!(
                            v7_bits(m, start, key, n),
                            built(m, start, key, n),
                            "millis {m}, start {start}, key {key}, n {n}"
                        );
                    }
                }
            }
        }
    }
}
