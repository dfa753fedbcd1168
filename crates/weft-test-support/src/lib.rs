//! What weft's own tests share (a dev-dependency of the workspace's crates,
//! not published): [`wait_for`] a condition, the [`durable`] test world
//! (actions that count their executions and a gate that holds a run), a
//! store whose appends go through a hook of the test's ([`hooked`]), and
//! with the `postgres` feature a schema per test on a Postgres server
//! ([`postgres`]).

use std::time::Duration;

pub mod durable;
pub mod hooked;
#[cfg(feature = "postgres")]
pub mod postgres;

/// `len` characters of text that no compressor makes much smaller (letters,
/// digits, `-` and `_` drawn by a generator started from `seed`: the same
/// text for the same seed), for tests whose records must take their size
/// in a store that compresses them, as the SQLite store's journal rows are.
/// Texts of one seed repeat each other: give each its own seed where they
/// go into one row.
pub fn noise(seed: u64, len: usize) -> String {
    const CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // xorshift64, never started from 0 (where it stays).
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(CHARS[(x >> 58) as usize])
        })
        .collect()
}

/// How often [`wait_for`] looks again.
const POLL: Duration = Duration::from_millis(2);

/// Waits until `cond` holds, looking every 2 ms.
///
/// # Panics
///
/// When it does not hold within 5 s.
pub async fn wait_for(cond: impl FnMut() -> bool) {
    wait_for_within(Duration::from_secs(5), cond).await;
}

/// Waits until `cond` holds, looking every 2 ms, `limit / 2 ms` times at
/// the most (on tokio's clock, so a test whose time is paused does not
/// wait for real).
///
/// # Panics
///
/// When it does not hold within `limit`.
pub async fn wait_for_within(limit: Duration, mut cond: impl FnMut() -> bool) {
    let looks = limit.as_millis() / POLL.as_millis();
    for _ in 0..looks {
        if cond() {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
    panic!("condition not reached within {limit:?}");
}
