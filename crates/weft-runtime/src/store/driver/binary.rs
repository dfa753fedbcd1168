//! A row's records in a compact binary form: the record of an attempt that
//! returned a result (nearly every record of a run) as a few numbers, and
//! every other record as the JSON [`group_batch`](super::group_batch)
//! writes for it.
//!
//! A row in this form is its first byte, [`BINARY_FORM`], then its records
//! one after the other until the row ends. A record starts with its kind:
//!
//! * `0`: any record, as its JSON (the text a JSON row holds for it), its
//!   length in bytes first;
//! * `1 | flags`: an attempt that returned a result ([`AttemptOutcome::Ok`]),
//!   `flags` saying which of the optional parts follow (`2` an item, `4` a
//!   start time, `8` a result other than `null`), then: the step and the
//!   instance, each as the difference from the row's attempt record before
//!   (0 for the first); the item, if any; the attempt; the start time, if
//!   any, and the end time, each as the difference from the time before it
//!   in the row (0 for the first); the result's JSON, if not `null`, its
//!   length in bytes first.
//!
//! Numbers are LEB128 varints (seven bits a byte, the lowest first); a
//! difference is taken with wrapping arithmetic and zigzagged (0, -1, 1,
//! -2, … as 0, 1, 2, 3, …), so that a run's records, whose steps go up by
//! one and whose times are milliseconds apart, take a byte a number: an
//! attempt record of a task without items and with a `null` result is 6
//! bytes, where its JSON is about 150.
//!
//! The first byte tells the two forms apart: a JSON row starts with `[`
//! (or whitespace), never with [`BINARY_FORM`], a control character;
//! [`extend_journal`](super::extend_journal) reads either.
//!
//! Reading never trusts the bytes: a number past 64 bits, a length past the
//! row's end, a kind it does not know, JSON that does not read, or more
//! records than the row's numbers say are an error that names the record
//! and the byte, and nothing is allocated for what a damaged row claims.

use std::sync::Arc;

use serde_json::Value;

use crate::id::RunId;
use crate::store::{shared_null, AttemptOutcome, AttemptRecord, Entry, Record};

/// The first byte of a row in the binary form.
pub const BINARY_FORM: u8 = 2;

/// A record's kind: any record, as JSON.
const JSON: u8 = 0;
/// A record's kind: an attempt that returned a result, with the flags
/// below.
const ATTEMPT_OK: u8 = 1;
const ITEM: u8 = 2;
const STARTED: u8 = 4;
const RESULT: u8 = 8;

/// The fewest bytes a record takes (an attempt record: its kind, step,
/// instance, attempt and end time, a byte each): a row's length bounds
/// how many records it may hold.
pub(super) const MIN_RECORD: usize = 5;

/// The most bytes of an attempt record before its result: the kind, then
/// two 64-bit numbers (10 bytes each at most), three 32-bit ones (5
/// each) and two more 64-bit ones, and a result's length.
const HEAD: usize = 1 + 10 + 5 + 5 + 5 + 10 + 10 + 10;

/// What a row's records are written against: the attempt record before,
/// and the time before.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Row {
    step: u64,
    instance: u32,
    time: u64,
}

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// `now` against `before`, zigzagged.
fn delta(now: u64, before: u64) -> u64 {
    zigzag(now.wrapping_sub(before) as i64)
}

/// `before` moved on by a zigzagged difference.
fn undelta(before: u64, z: u64) -> u64 {
    before.wrapping_add(unzigzag(z) as u64)
}

/// A record's head built on the stack and appended at once.
struct Head {
    buf: [u8; HEAD],
    len: usize,
}

impl Head {
    fn new() -> Head {
        Head {
            buf: [0; HEAD],
            len: 0,
        }
    }

    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte(v as u8 | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Appends the record of an attempt that returned `result`, written
/// against `row`'s record and time before (which it moves on).
///
/// # Errors
///
/// When `result` cannot be written as JSON.
pub(super) fn put_attempt_ok(
    out: &mut Vec<u8>,
    row: &mut Row,
    a: &AttemptRecord,
    result: &Value,
) -> serde_json::Result<()> {
    // Nearly every record of a run: no item, a start time, a `null`
    // result, and every number under 128 (a byte each). Its 6 bytes are
    // made at once, a fixed length, without the varints' loops.
    if let (None, Some(started), true) = (a.item, a.started_at, result.is_null()) {
        let step = delta(a.step, row.step);
        let instance = u64::from(zigzag32(a.instance.wrapping_sub(row.instance) as i32));
        let attempt = u64::from(a.attempt);
        let start = delta(started, row.time);
        let end = delta(a.ended_at, started);
        if step | instance | attempt | start | end < 0x80 {
            out.extend_from_slice(&[
                ATTEMPT_OK | STARTED,
                step as u8,
                instance as u8,
                attempt as u8,
                start as u8,
                end as u8,
            ]);
            row.time = a.ended_at;
            row.step = a.step;
            row.instance = a.instance;
            return Ok(());
        }
    }
    put_attempt_ok_any(out, row, a, result)
}

/// [`put_attempt_ok`] of any attempt record, a varint at a time. Out of
/// line: the short record's path then saves and restores fewer registers.
#[inline(never)]
fn put_attempt_ok_any(
    out: &mut Vec<u8>,
    row: &mut Row,
    a: &AttemptRecord,
    result: &Value,
) -> serde_json::Result<()> {
    let mut kind = ATTEMPT_OK;
    if a.item.is_some() {
        kind |= ITEM;
    }
    if a.started_at.is_some() {
        kind |= STARTED;
    }
    if !result.is_null() {
        kind |= RESULT;
    }
    let mut head = Head::new();
    head.byte(kind);
    head.varint(delta(a.step, row.step));
    head.varint(u64::from(zigzag32(
        a.instance.wrapping_sub(row.instance) as i32
    )));
    if let Some(item) = a.item {
        head.varint(item.into());
    }
    head.varint(a.attempt.into());
    if let Some(t) = a.started_at {
        head.varint(delta(t, row.time));
        row.time = t;
    }
    head.varint(delta(a.ended_at, row.time));
    row.time = a.ended_at;
    row.step = a.step;
    row.instance = a.instance;
    // The whole buffer copied, a fixed length (no call to `memcpy`), and
    // only its first `len` bytes kept.
    let at = out.len();
    out.extend_from_slice(&head.buf);
    out.truncate(at + head.len);
    if kind & RESULT != 0 {
        put_prefixed(out, |out| serde_json::to_writer(out, result))?;
    }
    Ok(())
}

fn zigzag32(d: i32) -> u32 {
    ((d << 1) ^ (d >> 31)) as u32
}

fn unzigzag32(z: u32) -> i32 {
    ((z >> 1) as i32) ^ -((z & 1) as i32)
}

/// Appends a record as the JSON `write` writes for it.
///
/// # Errors
///
/// `write`'s.
pub(super) fn put_json(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    out.push(JSON);
    put_prefixed(out, write)
}

/// Appends what `write` writes, its length first. The length is most often
/// one byte: room for one is left before, and the bytes moved along only
/// when it takes more.
fn put_prefixed(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    let at = out.len();
    out.push(0);
    write(out)?;
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
        return Ok(());
    }
    let mut prefix = Head::new();
    prefix.varint(len as u64);
    let n = prefix.len;
    out.resize(out.len() + n - 1, 0);
    out.copy_within(at + 1..at + 1 + len, at + n);
    out[at..at + n].copy_from_slice(prefix.bytes());
    Ok(())
}

/// What is wrong with a row in the binary form.
#[derive(Debug)]
enum Damage {
    CutShort,
    TooLarge,
    Kind(u8),
    Json(serde_json::Error),
    TooMany,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::CutShort => f.write_str("cut short"),
            Damage::TooLarge => f.write_str("a number too large for its field"),
            Damage::Kind(k) => write!(f, "a record of a kind weft does not know ({k})"),
            Damage::Json(e) => write!(f, "its JSON cannot be read ({e})"),
            Damage::TooMany => f.write_str("more records than the row's numbers say"),
        }
    }
}

/// Decodes the records of a row in the binary form (`bytes`, its first
/// byte [`BINARY_FORM`]) onto the end of `out`, numbered from `first`;
/// gives how many it read. It reads no more than `most` records.
///
/// # Errors
///
/// What is wrong with the row, naming the record and the byte it starts
/// at; `out` may then hold the records read before it (the caller cuts it
/// back).
pub(super) fn read_records(
    out: &mut Vec<Entry>,
    run: RunId,
    first: u64,
    most: u64,
    bytes: &[u8],
) -> Result<u64, String> {
    if bytes.first() != Some(&BINARY_FORM) {
        return Err("not a row of weft's binary form".to_owned());
    }
    let mut r = Reader { b: bytes, pos: 1 };
    let mut row = Row::default();
    // One `null` for the row: a clone is a count, not a lookup.
    let null = shared_null();
    let mut n = 0u64;
    while r.pos < bytes.len() {
        let at = r.pos;
        let record = if n == most {
            Err(Damage::TooMany)
        } else {
            r.record(&mut row, &null)
        };
        let record = record.map_err(|what| {
            format!(
                "record {} (byte {at} of the row): {what}",
                first.saturating_add(n)
            )
        })?;
        out.push(Entry {
            run,
            seq: first + n,
            record,
        });
        n += 1;
    }
    Ok(n)
}

struct Reader<'b> {
    b: &'b [u8],
    pos: usize,
}

impl<'b> Reader<'b> {
    fn byte(&mut self) -> Result<u8, Damage> {
        let b = *self.b.get(self.pos).ok_or(Damage::CutShort)?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, Damage> {
        let b = self.byte()?;
        if b < 0x80 {
            return Ok(b.into());
        }
        let mut v = u64::from(b & 0x7f);
        let mut shift = 7;
        loop {
            let b = self.byte()?;
            // The tenth byte holds the 64th bit and no more.
            if shift == 63 && b > 1 {
                return Err(Damage::TooLarge);
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn u32(&mut self) -> Result<u32, Damage> {
        u32::try_from(self.varint()?).map_err(|_| Damage::TooLarge)
    }

    /// Bytes whose length comes first.
    fn prefixed(&mut self) -> Result<&'b [u8], Damage> {
        let len = self.varint()?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.pos.checked_add(len))
            .filter(|&end| end <= self.b.len())
            .ok_or(Damage::CutShort)?;
        let bytes = &self.b[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn record(&mut self, row: &mut Row, null: &Arc<Value>) -> Result<Record, Damage> {
        let kind = self.byte()?;
        if kind == JSON {
            return serde_json::from_slice(self.prefixed()?).map_err(Damage::Json);
        }
        if kind & ATTEMPT_OK == 0 || kind & !(ATTEMPT_OK | ITEM | STARTED | RESULT) != 0 {
            return Err(Damage::Kind(kind));
        }
        let step = undelta(row.step, self.varint()?);
        let instance = row.instance.wrapping_add(unzigzag32(self.u32()?) as u32);
        let item = if kind & ITEM != 0 {
            Some(self.u32()?)
        } else {
            None
        };
        let attempt = self.u32()?;
        let started_at = if kind & STARTED != 0 {
            row.time = undelta(row.time, self.varint()?);
            Some(row.time)
        } else {
            None
        };
        let ended_at = undelta(row.time, self.varint()?);
        let result = if kind & RESULT != 0 {
            Arc::new(serde_json::from_slice(self.prefixed()?).map_err(Damage::Json)?)
        } else {
            null.clone()
        };
        row.time = ended_at;
        row.step = step;
        row.instance = instance;
        Ok(Record::Attempt(AttemptRecord {
            step,
            instance,
            item,
            attempt,
            outcome: AttemptOutcome::Ok { result },
            started_at,
            ended_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn varints_and_differences_round_trip_at_their_edges() {
        let mut numbers = vec![0u64, 1, 127, 128, 255, 256, 16_383, 16_384];
        for shift in 0..64 {
            numbers.extend([1u64 << shift, (1u64 << shift) - 1]);
        }
        numbers.extend([u64::MAX, u64::MAX - 1, i64::MAX as u64, 1_765_000_000_000]);
        for &a in &numbers {
            let mut head = Head::new();
            head.varint(a);
            let mut r = Reader {
                b: head.bytes(),
                pos: 0,
            };
            assert_eq!(r.varint().unwrap(), a);
            assert_eq!(r.pos, head.len);
            for &b in &numbers {
                assert_eq!(undelta(b, delta(a, b)), a);
            }
        }
        for d in [0i32, 1, -1, i32::MAX, i32::MIN] {
            assert_eq!(unzigzag32(zigzag32(d)), d);
        }
        // Past 64 bits, or never ending.
        for bad in [
            &[0xff; 9][..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &[0x80; 11][..],
        ] {
            let mut r = Reader { b: bad, pos: 0 };
            assert!(r.varint().is_err());
        }
    }

    #[test]
    fn a_length_that_needs_more_than_a_byte_moves_the_json_along() {
        for len in [0usize, 1, 125, 126, 127, 128, 300, 20_000] {
            let text = Value::String("x".repeat(len));
            let mut out = vec![BINARY_FORM];
            put_json(&mut out, |out| serde_json::to_writer(out, &text)).unwrap();
            let mut r = Reader { b: &out, pos: 2 };
            let bytes = r.prefixed().unwrap();
            assert_eq!(serde_json::from_slice::<Value>(bytes).unwrap(), text);
            assert_eq!(r.pos, out.len());
        }
    }

    #[test]
    fn an_attempt_without_items_or_result_takes_six_bytes() {
        let mut row = Row::default();
        let mut out = Vec::new();
        let a = |step: u64, t: u64| AttemptRecord {
            step,
            instance: step as u32 - 1,
            item: None,
            attempt: 1,
            outcome: AttemptOutcome::Ok {
                result: shared_null(),
            },
            started_at: Some(t),
            ended_at: t + 1,
        };
        put_attempt_ok(&mut out, &mut row, &a(1, 1_765_000_000_000), &json!(null)).unwrap();
        let first = out.len();
        put_attempt_ok(&mut out, &mut row, &a(2, 1_765_000_000_001), &json!(null)).unwrap();
        assert_eq!(out.len() - first, 6);
    }

    /// The six-byte record made at once is the bytes the varints make, and
    /// moves the row on alike, on both sides of each byte's edge, with and
    /// without an item, a start time or a result.
    #[test]
    fn the_short_attempt_record_is_the_varints_bytes() {
        let edges = [0u64, 1, 63, 64, 126, 127, 128, 129, 1_000, u64::MAX];
        let before = Row {
            step: 500,
            instance: 70,
            time: 1_765_000_000_000,
        };
        let mut tried = 0;
        for &step in &edges {
            for instance in [0u32, 6, 7, 69, 70, 71, 133, 134, 135, u32::MAX] {
                for attempt in [0u32, 1, 127, 128, u32::MAX] {
                    for start in [None, Some(0u64), Some(63), Some(64), Some(200)] {
                        for end in [0u64, 63, 64, 300] {
                            for (item, result) in [
                                (None, json!(null)),
                                (Some(3), json!(null)),
                                (None, json!(1)),
                            ] {
                                let started_at = start.map(|d| before.time.wrapping_add(d));
                                let a = AttemptRecord {
                                    step: before.step.wrapping_add(step),
                                    instance,
                                    item,
                                    attempt,
                                    outcome: AttemptOutcome::Ok {
                                        result: Arc::new(result.clone()),
                                    },
                                    started_at,
                                    ended_at: started_at.unwrap_or(before.time).wrapping_add(end),
                                };
                                let (mut fast, mut any) = (vec![9], vec![9]);
                                let (mut row_fast, mut row_any) = (before, before);
                                put_attempt_ok(&mut fast, &mut row_fast, &a, &result).unwrap();
                                put_attempt_ok_any(&mut any, &mut row_any, &a, &result).unwrap();
                                assert_eq!(fast, any, "{a:?}");
                                assert_eq!(
                                    (row_fast.step, row_fast.instance, row_fast.time),
                                    (row_any.step, row_any.instance, row_any.time)
                                );
                                tried += usize::from(fast.len() == 7);
                            }
                        }
                    }
                }
            }
        }
        // The short form was met, not only the long one.
        assert!(tried > 100, "{tried}");
    }
}
