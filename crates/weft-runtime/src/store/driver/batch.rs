//! What every store does with a batch before writing it: group its entries
//! by run, check each run's sequence within the batch, serialize each
//! run's records as one JSON array (or in the binary form,
//! [`Encoder::binary`]), and keep aside the records that change the run's
//! summary.

use std::collections::HashMap;
use std::sync::Arc;

use super::BINARY_FORM;
use super::{binary, json};
use crate::id::RunId;
use crate::store::{
    AttemptOutcome, AttemptRecord, Entry, Record, RunEnd, RunStart, RunSummary, StoreError,
};

/// One run's part of a batch, ready to write.
#[derive(Debug)]
pub struct RunBatch {
    /// The run.
    pub run: RunId,
    /// The sequence number of its first record in the batch.
    pub first: u64,
    /// The sequence number of its last record in the batch.
    pub last: u64,
    /// Its records: one JSON array, or in the binary form when the
    /// encoder writes it ([`Encoder::binary`]; its first byte is then
    /// [`BINARY_FORM`](super::BINARY_FORM)).
    pub json: Vec<u8>,
    /// The run's summary, when the batch starts its journal.
    pub start: Option<RunSummary>,
    /// The records that change the summary (commands, waits and ends,
    /// without the payloads of ends), in order.
    pub effects: Vec<Record>,
    /// The workflow text of the batch's `Started` record, when the encoder
    /// keeps texts apart ([`Encoder::texts_apart`]): the record in `json`
    /// then has an empty `source`, and the store keeps the text once for
    /// all the runs that share it. `None` otherwise.
    pub source: Option<Arc<str>>,
    /// In the binary form: what the next record is written against.
    row: binary::Row,
}

/// Groups `entries` by run, in the order each run first appears. `store`
/// names the store in errors (for example `sqlite store /var/weft.db`).
///
/// # Errors
///
/// `StoreError::Conflict` when a run's records do not follow on within the
/// batch or its `started` record is not its first (see [`out_of_sequence`]
/// and [`second_start`]); `StoreError::Unavailable` when a record cannot
/// be serialized.
pub fn group_batch(store: &str, entries: &[Entry]) -> Result<Vec<RunBatch>, StoreError> {
    group_batch_with(store, entries, &mut Encoder::default())
}

/// What a store keeps from one batch to the next to write them faster: the
/// workflow text of the last `Started` record it wrote, as JSON. The runs
/// of one workflow (the common case) share its text, which can be hundreds
/// of KB; its JSON is copied, not escaped again byte by byte.
///
/// An encoder made by [`Encoder::texts_apart`] writes no text at all: each
/// `Started` record's `source` is written empty, and its text given aside
/// in [`RunBatch::source`], for a store that keeps each text once.
#[derive(Debug, Default)]
pub struct Encoder {
    /// The text last written, and its JSON string.
    source: String,
    json: Vec<u8>,
    /// With texts apart: the text last given aside (the runs of one
    /// workflow share one copy).
    apart: Option<Arc<str>>,
    texts_apart: bool,
    /// Rows in the binary form ([`Encoder::binary`]).
    binary: bool,
    /// The digits of the last time written, but its last three.
    times: json::Times,
}

impl Encoder {
    /// A new encoder, that has written nothing yet.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// A new encoder that keeps workflow texts out of the records: a
    /// `Started` record is written with an empty `source`, and its text
    /// given aside in [`RunBatch::source`]. The store keeps the text, and
    /// gives it back in the record when it loads the journal.
    pub fn texts_apart() -> Encoder {
        Encoder {
            texts_apart: true,
            ..Encoder::default()
        }
    }

    /// This encoder, writing rows in the binary form of
    /// [`BINARY_FORM`](super::BINARY_FORM): the record of an attempt that
    /// returned a result (nearly every record of a run) in a few bytes,
    /// every other record as its JSON. [`extend_journal`] reads rows of
    /// either form.
    #[must_use]
    pub fn binary(mut self) -> Encoder {
        self.binary = true;
        self
    }

    /// `source`, shared with the text given aside before when they are
    /// the same (compared whole).
    fn set_apart(&mut self, source: &str) -> Arc<str> {
        match &self.apart {
            Some(text) if **text == *source => text.clone(),
            _ => {
                let text: Arc<str> = Arc::from(source);
                self.apart = Some(text.clone());
                text
            }
        }
    }

    /// Appends `source` to `out` as a JSON string.
    fn write_source(&mut self, out: &mut Vec<u8>, source: &str) {
        // Compared whole, not by the record's hash: a record a caller made
        // may carry any hash, and the text written must be its own.
        if self.source != source {
            self.json.clear();
            json::write_str(&mut self.json, source);
            self.source.clear();
            self.source.push_str(source);
        }
        out.extend_from_slice(&self.json);
    }
}

/// [`group_batch`], with an [`Encoder`] kept by the store from one batch to
/// the next.
///
/// # Errors
///
/// As [`group_batch`].
pub fn group_batch_with(
    store: &str,
    entries: &[Entry],
    encoder: &mut Encoder,
) -> Result<Vec<RunBatch>, StoreError> {
    group_parts_with(store, std::slice::from_ref(&entries), encoder)
}

/// [`group_batch_with`] of a batch given in parts whose order is its
/// entries' ([`Store::append_parts`](crate::store::Store::append_parts)),
/// read part by part, not joined first.
///
/// # Errors
///
/// As [`group_batch`].
pub fn group_parts_with<P: AsRef<[Entry]>>(
    store: &str,
    parts: &[P],
    encoder: &mut Encoder,
) -> Result<Vec<RunBatch>, StoreError> {
    let mut runs: Vec<RunBatch> = Vec::new();
    let mut index: HashMap<RunId, usize> = HashMap::new();
    // A batch of one run (the most common) has its text sized up front
    // for records of a few hundred bytes, not grown from small.
    let first = parts.iter().find_map(|p| p.as_ref().first());
    let last_entry = parts.iter().rev().find_map(|p| p.as_ref().last());
    let one_run = first.map(|e| e.run) == last_entry.map(|e| e.run);
    let len: usize = parts.iter().map(|p| p.as_ref().len()).sum();
    let capacity = match (one_run, encoder.binary) {
        (true, false) => len * 192,
        (true, true) => len * 8,
        (false, _) => 256,
    };
    // A batch's entries come a turn of one run at a time: the run of the
    // entry before is looked up again only when the run changes.
    let mut last: Option<(RunId, usize)> = None;
    for e in parts.iter().flat_map(|p| p.as_ref()) {
        let i = match last {
            Some((run, i)) if run == e.run => i,
            _ => *index.entry(e.run).or_insert_with(|| {
                runs.push(RunBatch {
                    run: e.run,
                    first: e.seq,
                    last: e.seq,
                    json: Vec::with_capacity(capacity),
                    start: None,
                    effects: Vec::new(),
                    source: None,
                    row: binary::Row::default(),
                });
                runs.len() - 1
            }),
        };
        last = Some((e.run, i));
        let rb = &mut runs[i];
        if rb.json.is_empty() {
            rb.json
                .push(if encoder.binary { BINARY_FORM } else { b'[' });
        } else {
            if Some(e.seq) != rb.last.checked_add(1) {
                return Err(out_of_sequence(store, e.run, e.seq, rb.last as i128));
            }
            if !encoder.binary {
                rb.json.push(b',');
            }
        }
        rb.last = e.seq;
        match &e.record {
            Record::Started(start) if e.seq == 0 => {
                // Room for the text's JSON (a YAML text's escapes, its
                // newlines, add less than a quarter) and for the records
                // after it, so that the text is not copied again when
                // they come; checked again once it is written. A text
                // given aside takes no room.
                let text = if encoder.texts_apart {
                    rb.source = Some(encoder.set_apart(&start.source));
                    0
                } else {
                    start.source.len()
                };
                rb.json.reserve(text + text / 4 + 512 + capacity);
                rb.start = Some(RunSummary::started(e.run, start, 0));
            }
            Record::Started(_) => return Err(second_start(store, e.run)),
            _ if e.seq == 0 => return Err(second_start(store, e.run)),
            Record::Command { step, command } => rb.effects.push(Record::Command {
                step: *step,
                command: command.clone(),
            }),
            Record::Ended(end) => rb.effects.push(Record::Ended(Box::new(RunEnd {
                status: end.status,
                output: serde_json::Value::Null,
                errors: Vec::new(),
                ended_at: end.ended_at,
            }))),
            Record::Attempt(a) if matches!(a.outcome, AttemptOutcome::Waiting { .. }) => {
                rb.effects.push(e.record.clone())
            }
            _ => {}
        }
        let written = if encoder.binary {
            write_binary(&mut rb.json, &mut rb.row, &e.record, encoder)
        } else {
            write_record(&mut rb.json, &e.record, encoder)
        };
        written.map_err(|err| {
            StoreError::unavailable_from(
                format!(
                    "{store}: cannot append: record {} of run {} cannot be written as JSON ({err})",
                    e.seq, e.run
                ),
                err,
            )
        })?;
        if e.seq == 0 {
            rb.json.reserve(capacity);
        }
    }
    if !encoder.binary {
        for rb in &mut runs {
            rb.json.push(b']');
        }
    }
    Ok(runs)
}

/// Appends `record` in the binary form: an attempt that returned a result
/// as its numbers, any other record as the JSON [`write_record`] writes.
fn write_binary(
    out: &mut Vec<u8>,
    row: &mut binary::Row,
    record: &Record,
    encoder: &mut Encoder,
) -> serde_json::Result<()> {
    match record {
        Record::Attempt(a) => match &a.outcome {
            AttemptOutcome::Ok { result } => binary::put_attempt_ok(out, row, a, result),
            _ => binary::put_json(out, |out| write_record(out, record, encoder)),
        },
        _ => binary::put_json(out, |out| write_record(out, record, encoder)),
    }
}

/// Appends `record` as JSON to `out`: the text serde writes for it. The
/// record of an attempt that returned a result, nearly every record of a
/// run, is written here with its keys as constants and its numbers'
/// digits made in place ([`write_attempt`]; serde escapes each key of each
/// record); so is a run's `Started` record, whose workflow text is escaped
/// eight bytes at a time ([`json::write_str`]).
/// `tests::the_attempt_record_is_written_as_serde_writes_it` and
/// `tests::the_started_record_is_written_as_serde_writes_it` hold them to
/// the same bytes.
fn write_record(
    out: &mut Vec<u8>,
    record: &Record,
    encoder: &mut Encoder,
) -> serde_json::Result<()> {
    let a = match record {
        Record::Attempt(a) => a,
        Record::Started(start) => return write_started(out, start, encoder),
        _ => return serde_json::to_writer(out, record),
    };
    let AttemptOutcome::Ok { result } = &a.outcome else {
        return serde_json::to_writer(out, record);
    };
    write_attempt(out, a, result, encoder)
}

/// [`write_record`] of an attempt that returned `result`: built in a
/// [`json::Line`], all but a result other than `null`, which serde_json
/// writes.
fn write_attempt(
    out: &mut Vec<u8>,
    a: &AttemptRecord,
    result: &serde_json::Value,
    encoder: &mut Encoder,
) -> serde_json::Result<()> {
    let mut line = json::Line::new();
    line.put(b"{\"attempt\":{\"step\":");
    line.put_u64(a.step);
    line.put(b",\"instance\":");
    line.put_u64(a.instance.into());
    line.put(b",\"item\":");
    match a.item {
        Some(item) => line.put_u64(item.into()),
        None => line.put(b"null"),
    }
    line.put(b",\"attempt\":");
    line.put_u64(a.attempt.into());
    line.put(b",\"outcome\":{\"ok\":{\"result\":");
    if result.is_null() {
        line.put(b"null");
    } else {
        line.flush(out);
        serde_json::to_writer(&mut *out, result)?;
    }
    line.put(b"}},\"started_at\":");
    match a.started_at {
        Some(t) => line.put_time(t, &mut encoder.times),
        None => line.put(b"null"),
    }
    line.put(b",\"ended_at\":");
    line.put_time(a.ended_at, &mut encoder.times);
    line.put(b"}}");
    line.flush(out);
    Ok(())
}

/// [`write_record`] of a `Started` record.
fn write_started(
    out: &mut Vec<u8>,
    start: &RunStart,
    encoder: &mut Encoder,
) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"started\":{\"workflow\":");
    json::write_str(out, &start.workflow);
    out.extend_from_slice(b",\"source\":");
    if encoder.texts_apart {
        // Given aside in `RunBatch::source` (`group_batch_with`).
        out.extend_from_slice(b"\"\"");
    } else {
        encoder.write_source(out, &start.source);
    }
    out.extend_from_slice(b",\"format\":");
    json::write_str(out, &start.format);
    out.extend_from_slice(b",\"hash\":");
    json::write_str(out, &start.hash);
    out.extend_from_slice(b",\"inputs\":");
    serde_json::to_writer(&mut *out, &start.inputs)?;
    out.extend_from_slice(b",\"parent\":");
    serde_json::to_writer(&mut *out, &start.parent)?;
    out.extend_from_slice(b",\"depth\":");
    serde_json::to_writer(&mut *out, &start.depth)?;
    out.extend_from_slice(b",\"durability\":");
    serde_json::to_writer(&mut *out, &start.durability)?;
    out.extend_from_slice(b",\"started_at\":");
    serde_json::to_writer(&mut *out, &start.started_at)?;
    out.extend_from_slice(b"}}");
    Ok(())
}

/// Record `seq` of `run` does not follow on from record `previous` (-1:
/// the run has no records).
pub fn out_of_sequence(store: &str, run: RunId, seq: u64, previous: i128) -> StoreError {
    StoreError::Conflict(format!(
        "{store}: run {run}: record {seq} does not follow on from record {previous}"
    ))
}

/// A `started` record that is not a run's first, or a first record that is
/// not `started`.
pub fn second_start(store: &str, run: RunId) -> StoreError {
    StoreError::Conflict(format!(
        "{store}: run {run}: a journal starts with its `started` record, and has only one"
    ))
}

/// Appends to `out` (a run's journal being loaded, in order) the records of
/// one stored row: `first..=last` of `run`, as [`group_batch`] wrote them,
/// a JSON array or in the binary form ([`Encoder::binary`]; its first
/// byte says which).
///
/// # Errors
///
/// What is wrong with the row, for the store to report as damaged: its
/// records cannot be decoded, or they do not follow on from `out`.
pub fn extend_journal(
    out: &mut Vec<Entry>,
    run: RunId,
    first: i64,
    last: i64,
    json: &[u8],
) -> Result<(), String> {
    let expected = out.len() as i64;
    extend_checked(out, run, expected, first, last, json)
}

/// As [`extend_journal`], for a journal read from a record on
/// ([`Store::load_from`](crate::store::Store::load_from)): the first row may start
/// anywhere, and each later row must follow on from the one before.
///
/// # Errors
///
/// As [`extend_journal`].
pub fn extend_journal_from(
    out: &mut Vec<Entry>,
    run: RunId,
    first: i64,
    last: i64,
    json: &[u8],
) -> Result<(), String> {
    let expected = out.last().map_or(first, |e| e.seq as i64 + 1);
    extend_checked(out, run, expected, first, last, json)
}

fn extend_checked(
    out: &mut Vec<Entry>,
    run: RunId,
    expected: i64,
    first: i64,
    last: i64,
    json: &[u8],
) -> Result<(), String> {
    let skips = || {
        format!(
            "run {run}: the journal skips or repeats records (rows for \
             {first}..={last} after {expected} records)"
        )
    };
    if first != expected || first < 0 || last < first {
        return Err(skips());
    }
    // At most `i64::MAX + 1`: counted in `u64`, it does not overflow.
    let count = (last - first) as u64 + 1;
    let before = out.len();
    // A damaged row's numbers reserve no more room than its bytes could
    // hold records for, nor more than a writer's largest commit holds: a
    // longer row grows from there.
    let room = |min_record: usize| {
        usize::try_from(count)
            .unwrap_or(usize::MAX)
            .min(json.len() / min_record)
            .min(1 << 16)
    };
    if json.first() == Some(&BINARY_FORM) {
        out.reserve(room(binary::MIN_RECORD));
        return match binary::read_records(out, run, first as u64, count, json) {
            Ok(n) if n == count => Ok(()),
            Ok(_) => {
                out.truncate(before);
                Err(skips())
            }
            Err(what) => {
                out.truncate(before);
                Err(format!(
                    "run {run}: records {first}..={last} cannot be read ({what})"
                ))
            }
        };
    }
    // Decoded straight into `out`, each record given its place as it is
    // read: no list of the row's records in between.
    // The row's text is checked to be UTF-8 once, as a whole: read from
    // bytes, serde_json would check every string in it again, each key of
    // each record.
    let text = std::str::from_utf8(json)
        .map_err(|e| format!("run {run}: records {first}..={last} cannot be read ({e})"))?;
    // A record is more than 8 bytes of JSON.
    out.reserve(room(8));
    // Attempt records as the store writes them are read without serde's
    // generic decoding; a row that reader cannot read is read again by
    // serde, for its error.
    match super::decode::read_records(out, run, first as u64, text) {
        Some(n) if n == count => return Ok(()),
        Some(_) => {
            out.truncate(before);
            return Err(skips());
        }
        None => out.truncate(before),
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let read = serde::de::DeserializeSeed::deserialize(
        Records {
            out,
            run,
            first: first as u64,
        },
        &mut de,
    )
    .and_then(|n| de.end().map(|()| n));
    match read {
        Ok(n) if n == count => Ok(()),
        Ok(_) => {
            out.truncate(before);
            Err(skips())
        }
        Err(e) => {
            out.truncate(before);
            Err(format!(
                "run {run}: records {first}..={last} cannot be read ({e})"
            ))
        }
    }
}

/// Decodes a row's JSON array of records onto the end of a journal,
/// numbering them from `first`; gives how many it read.
struct Records<'o> {
    out: &'o mut Vec<Entry>,
    run: RunId,
    first: u64,
}

impl<'de> serde::de::DeserializeSeed<'de> for Records<'_> {
    type Value = u64;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Records<'_> {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of journal records")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut n = 0u64;
        while let Some(record) = seq.next_element::<Record>()? {
            self.out.push(Entry {
                run: self.run,
                seq: self.first + n,
                record,
            });
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{json, Value};

    use super::*;
    use crate::store::{AttemptRecord, Command, Durability, RunEnd, RunStart};

    #[test]
    fn the_attempt_record_is_written_as_serde_writes_it() {
        let results = [
            Value::Null,
            json!(0),
            json!(-1.5),
            json!("a \"quoted\" line\n\u{7f} é"),
            json!({"z": 1, "a": [true, null, {"k\\": "v"}]}),
        ];
        let mut seen = 0;
        // Also one encoder for all, as a store keeps it: each time is
        // written after another, near or far.
        let mut shared = Encoder::new();
        for (i, result) in results.iter().enumerate() {
            for item in [None, Some(0), Some(u32::MAX)] {
                for started_at in [None, Some(0), Some(1_700_000_000_999), Some(u64::MAX)] {
                    let record = Record::Attempt(AttemptRecord {
                        step: u64::MAX - i as u64,
                        instance: i as u32,
                        item,
                        attempt: 1 + i as u32,
                        outcome: AttemptOutcome::Ok {
                            result: Arc::new(result.clone()),
                        },
                        started_at,
                        ended_at: if i == 0 {
                            u64::MAX
                        } else {
                            1_700_000_000_000 + i as u64
                        },
                    });
                    assert_written_as_serde_writes(&record);
                    let mut ours = Vec::new();
                    write_record(&mut ours, &record, &mut shared).unwrap();
                    assert_eq!(ours, serde_json::to_vec(&record).unwrap());
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, 60);
    }

    #[test]
    fn the_started_record_is_written_as_serde_writes_it() {
        let mut seen = 0;
        for (source, parent, durability) in [
            (
                "tasks:\n  a: {action: core.noop}\n",
                None,
                Durability::WriteBehind,
            ),
            (
                "description: \"a \\\"quoted\\\" \\\\ line\"\r\n\ttasks: {}\u{1} é 漢\n",
                Some(RunId::new()),
                Durability::Sync,
            ),
        ] {
            let record = Record::Started(Box::new(RunStart {
                workflow: "the \"flow\"".into(),
                source: source.repeat(50),
                format: "yaml".into(),
                hash: "ab12".into(),
                inputs: json!({"s": "x\ny", "n": [1, 2.5, null], "k\"": {}}),
                parent,
                depth: 2,
                durability,
                started_at: 1_700_000_000_000,
            }));
            assert_written_as_serde_writes(&record);
            seen += 1;
        }
        assert_eq!(seen, 2);
    }

    #[test]
    fn runs_of_two_workflows_in_turn_keep_each_its_own_text() {
        // The same hash on both (a record a caller made may say anything):
        // the text written is each record's own, whatever came before.
        let started = |source: &str| {
            Record::Started(Box::new(RunStart {
                workflow: "w".into(),
                source: source.into(),
                format: "yaml".into(),
                hash: "same".into(),
                inputs: json!({}),
                parent: None,
                depth: 0,
                durability: Durability::WriteBehind,
                started_at: 1,
            }))
        };
        let (a, b) = (started("tasks:\n  a: {}\n"), started("tasks:\n  b: {}\n"));
        let mut encoder = Encoder::new();
        for record in [&a, &a, &b, &a, &b, &b] {
            let mut ours = Vec::new();
            write_record(&mut ours, record, &mut encoder).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(record).unwrap()
            );
        }
    }

    /// Our writer's bytes for `record` are serde_json's, written afresh
    /// and again with what the encoder kept from the first time.
    fn assert_written_as_serde_writes(record: &Record) {
        let mut encoder = Encoder::new();
        for _ in 0..2 {
            let mut ours = Vec::new();
            write_record(&mut ours, record, &mut encoder).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(record).unwrap()
            );
        }
    }

    fn attempt(step: u64, result: Value) -> Record {
        Record::Attempt(AttemptRecord {
            step,
            instance: 0,
            item: Some(step as u32),
            attempt: 1,
            outcome: AttemptOutcome::Ok {
                result: Arc::new(result),
            },
            started_at: Some(10),
            ended_at: 11,
        })
    }

    fn journal(run: RunId) -> Vec<Entry> {
        let start = Record::Started(Box::new(RunStart {
            workflow: "w".into(),
            source: "tasks: {}".into(),
            format: "yaml".into(),
            hash: String::new(),
            inputs: json!({"xs": [1, 2]}),
            parent: None,
            depth: 0,
            durability: Durability::WriteBehind,
            started_at: 5,
        }));
        let records = vec![
            start,
            attempt(1, Value::Null),
            attempt(2, json!({"out": "two"})),
            Record::Command {
                step: 2,
                command: Command::Pause,
            },
            attempt(3, Value::Null),
        ];
        numbered(run, records)
    }

    #[test]
    fn rows_read_back_as_they_were_written() {
        let run = RunId::new();
        let all = journal(run);
        // Written in two appends: two rows.
        let rows: Vec<RunBatch> = [&all[..2], &all[2..]]
            .iter()
            .flat_map(|part| group_batch("test", part).expect("grouped"))
            .collect();
        let mut out = Vec::new();
        for rb in &rows {
            extend_journal(&mut out, run, rb.first as i64, rb.last as i64, &rb.json)
                .expect("read back");
        }
        assert_eq!(out, all);
        // From a record on: the row that holds it, then the rest.
        let mut from = Vec::new();
        for rb in &rows[1..] {
            extend_journal_from(&mut from, run, rb.first as i64, rb.last as i64, &rb.json)
                .expect("read back");
        }
        assert_eq!(from, all[2..]);
    }

    #[test]
    fn a_batch_in_parts_is_grouped_as_the_same_batch_joined() {
        let (run, other) = (RunId::new(), RunId::new());
        let (a, b) = (journal(run), journal(other));
        // Two runs' records interleaved across parts, one part empty.
        let parts = vec![
            a[..2].to_vec(),
            b[..3].to_vec(),
            Vec::new(),
            a[2..].to_vec(),
            b[3..].to_vec(),
        ];
        let joined = parts.concat();
        let whole = group_batch("test", &joined).expect("grouped");
        let in_parts = group_parts_with("test", &parts, &mut Encoder::default()).expect("grouped");
        assert_eq!(whole.len(), 2);
        assert_eq!(in_parts.len(), 2);
        for (x, y) in whole.iter().zip(&in_parts) {
            assert_eq!((x.run, x.first, x.last), (y.run, y.first, y.last));
            assert_eq!(x.json, y.json);
            assert_eq!(x.effects, y.effects);
        }
        // Out of sequence across parts: refused as joined.
        let skips = vec![a[..2].to_vec(), a[3..].to_vec()];
        assert!(matches!(
            group_parts_with("test", &skips, &mut Encoder::default()),
            Err(StoreError::Conflict(_))
        ));
    }

    #[test]
    fn texts_apart_are_given_aside_once_for_the_runs_of_a_text() {
        let mut encoder = Encoder::texts_apart();
        let (run, other) = (RunId::new(), RunId::new());
        let all = journal(run);
        let mut batch = all.clone();
        batch.extend(journal(other));
        let rows = group_batch_with("test", &batch, &mut encoder).expect("grouped");
        let source = rows[0].source.clone().expect("the text given aside");
        assert_eq!(&*source, "tasks: {}");
        // The runs of one text share its copy, from batch to batch.
        let again = group_batch_with("test", &journal(RunId::new()), &mut encoder)
            .expect("grouped")
            .remove(0);
        for rb in [&rows[1], &again] {
            assert!(Arc::ptr_eq(
                rb.source.as_ref().expect("given aside"),
                &source
            ));
        }
        // The record holds no text: put back, it reads as it was written.
        let rb = &rows[0];
        let mut out = Vec::new();
        extend_journal(&mut out, run, rb.first as i64, rb.last as i64, &rb.json)
            .expect("read back");
        let Record::Started(start) = &mut out[0].record else {
            panic!("{:?}", out[0]);
        };
        assert_eq!(start.source, "");
        start.source = source.to_string();
        assert_eq!(out, all);
        // Records after the first of a run give nothing aside; an encoder
        // that keeps texts in the records gives none.
        let later = group_batch_with("test", &all[1..], &mut encoder).expect("grouped");
        assert!(later[0].source.is_none());
        assert!(group_batch("test", &all).expect("grouped")[0]
            .source
            .is_none());
    }

    #[test]
    fn a_damaged_row_is_refused_and_adds_nothing() {
        let run = RunId::new();
        let all = journal(run);
        let rb = group_batch("test", &all).expect("grouped").remove(0);
        let (first, last) = (rb.first as i64, rb.last as i64);
        let mut out = Vec::new();
        // Fewer records than the row's numbers say, or more.
        for wrong_last in [last + 1, last - 1] {
            let e = extend_journal(&mut out, run, first, wrong_last, &rb.json).unwrap_err();
            assert!(e.contains("skips or repeats"), "{e}");
            assert!(out.is_empty());
        }
        // Cut short, not JSON, or text after the array.
        let mut trailing = rb.json.clone();
        trailing.extend_from_slice(b" []");
        for bad in [
            &rb.json[..rb.json.len() - 9],
            b"{not json",
            &trailing[..],
            b"[\"\xff\"]",
        ] {
            let e = extend_journal(&mut out, run, first, last, bad).unwrap_err();
            assert!(e.contains("cannot be read"), "{e}");
            assert!(out.is_empty());
        }
        // A row that does not follow on from what was read.
        extend_journal(&mut out, run, first, last, &rb.json).expect("read");
        let e = extend_journal(&mut out, run, first, last, &rb.json).unwrap_err();
        assert!(e.contains("skips or repeats"), "{e}");
        assert_eq!(out, all);
    }

    /// One record of every kind, and attempts that returned a result with
    /// every optional part there or not, numbers at their edges, times
    /// going back as well as on.
    fn every_kind() -> Vec<Record> {
        let mut records = vec![Record::Started(Box::new(RunStart {
            workflow: "every \"kind\"".into(),
            source: "tasks: {}".into(),
            format: "yaml".into(),
            hash: "ab".into(),
            inputs: json!({"s": "x\ny", "n": [1, 2.5, null]}),
            parent: Some(RunId::new()),
            depth: 1,
            durability: Durability::Sync,
            started_at: 1_765_000_000_000,
        }))];
        let results = [
            Value::Null,
            json!(0),
            json!("é \"q\""),
            json!({"big": u64::MAX, "small": i64::MIN, "f": 0.1}),
            Value::String("x".repeat(300)),
        ];
        let mut step = 0;
        for (i, result) in results.iter().enumerate() {
            for item in [None, Some(0), Some(u32::MAX)] {
                for started_at in [None, Some(0), Some(1_765_000_000_005), Some(u64::MAX)] {
                    step += 1;
                    records.push(Record::Attempt(AttemptRecord {
                        step: if i == 2 { u64::MAX - step } else { step },
                        instance: if i == 3 {
                            u32::MAX - step as u32
                        } else {
                            step as u32
                        },
                        item,
                        attempt: if i == 1 { u32::MAX } else { 1 },
                        outcome: AttemptOutcome::Ok {
                            result: Arc::new(result.clone()),
                        },
                        started_at,
                        ended_at: if i == 4 {
                            u64::MAX
                        } else {
                            1_765_000_000_000 + step
                        },
                    }));
                }
            }
        }
        let wait: crate::wait::Wait =
            serde_json::from_value(json!({"key": "k", "timeout_ms": 5})).unwrap();
        for outcome in [
            AttemptOutcome::Err {
                message: "boom".into(),
                result: Some(Box::new(json!({"partial": [1]}))),
                canceled: true,
            },
            AttemptOutcome::TimedOut { seconds: 0.5 },
            AttemptOutcome::Panicked {
                message: "oops".into(),
            },
            AttemptOutcome::Dropped,
            AttemptOutcome::Waiting {
                task: "ask".into(),
                wait: Box::new(wait),
                deadline_at: Some(9),
            },
        ] {
            step += 1;
            records.push(Record::Attempt(AttemptRecord {
                step,
                instance: 3,
                item: Some(2),
                attempt: 2,
                outcome,
                started_at: Some(1),
                ended_at: 2,
            }));
        }
        records.push(Record::Command {
            step,
            command: Command::Respond {
                task: "ask".into(),
                response: json!({"ok": true}),
            },
        });
        records.push(Record::Command {
            step,
            command: Command::Pause,
        });
        records.push(Record::Ended(Box::new(RunEnd {
            status: crate::RunStatus::Failed,
            output: json!({"o": 1}),
            errors: Vec::new(),
            ended_at: 3,
        })));
        records
    }

    fn numbered(run: RunId, records: Vec<Record>) -> Vec<Entry> {
        records
            .into_iter()
            .enumerate()
            .map(|(i, record)| Entry {
                run,
                seq: i as u64,
                record,
            })
            .collect()
    }

    #[test]
    fn binary_rows_read_back_as_they_were_written() {
        let run = RunId::new();
        let all = numbered(run, every_kind());
        // One row, and rows of every split, through one encoder as a store
        // keeps it.
        let mut encoder = Encoder::new().binary();
        let whole = group_batch_with("test", &all, &mut encoder).unwrap();
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].json[0], BINARY_FORM);
        let mut out = Vec::new();
        extend_journal(&mut out, run, 0, all.len() as i64 - 1, &whole[0].json).unwrap();
        assert_eq!(out, all);
        // Much smaller than the JSON.
        let json = group_batch("test", &all).unwrap().remove(0).json;
        assert!(
            whole[0].json.len() * 2 < json.len(),
            "{} {}",
            whole[0].json.len(),
            json.len()
        );
        for split in 1..all.len() {
            let rows: Vec<RunBatch> = [&all[..split], &all[split..]]
                .iter()
                .flat_map(|part| group_batch_with("test", part, &mut encoder).unwrap())
                .collect();
            let mut out = Vec::new();
            for rb in &rows {
                extend_journal(&mut out, run, rb.first as i64, rb.last as i64, &rb.json).unwrap();
            }
            assert_eq!(out, all);
            // From a record on: the row that holds it, then the rest.
            let mut from = Vec::new();
            for rb in &rows[1..] {
                extend_journal_from(&mut from, run, rb.first as i64, rb.last as i64, &rb.json)
                    .unwrap();
            }
            assert_eq!(from, all[split..]);
        }
        // A JSON row after a binary one, and the other way round.
        let mixed = [
            group_batch("test", &all[..7]).unwrap().remove(0),
            group_batch_with("test", &all[7..20], &mut encoder)
                .unwrap()
                .remove(0),
            group_batch("test", &all[20..]).unwrap().remove(0),
        ];
        let mut out = Vec::new();
        for rb in &mixed {
            extend_journal(&mut out, run, rb.first as i64, rb.last as i64, &rb.json).unwrap();
        }
        assert_eq!(out, all);
    }

    #[test]
    fn a_batch_in_parts_is_written_in_the_binary_form_as_joined() {
        let (run, other) = (RunId::new(), RunId::new());
        let (a, b) = (numbered(run, every_kind()), numbered(other, every_kind()));
        let parts = vec![
            a[..2].to_vec(),
            b[..30].to_vec(),
            a[2..].to_vec(),
            b[30..].to_vec(),
        ];
        let joined = parts.concat();
        let whole = group_batch_with("test", &joined, &mut Encoder::new().binary()).unwrap();
        let in_parts = group_parts_with("test", &parts, &mut Encoder::new().binary()).unwrap();
        assert_eq!(whole.len(), 2);
        for (x, y) in whole.iter().zip(&in_parts) {
            assert_eq!((x.run, x.first, x.last), (y.run, y.first, y.last));
            assert_eq!(x.json, y.json);
            assert_eq!(x.effects, y.effects);
        }
        let mut out = Vec::new();
        let rb = &in_parts[1];
        extend_journal(&mut out, other, 0, rb.last as i64, &rb.json).unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn a_damaged_binary_row_is_refused_and_never_panics() {
        let run = RunId::new();
        let all = numbered(run, every_kind());
        let rb = group_batch_with("test", &all, &mut Encoder::new().binary())
            .unwrap()
            .remove(0);
        let (first, last) = (rb.first as i64, rb.last as i64);
        let row = &rb.json;
        let mut out = Vec::new();
        // Cut short anywhere: refused, nothing added.
        for len in 1..row.len() {
            let e = extend_journal(&mut out, run, first, last, &row[..len]).unwrap_err();
            assert!(
                e.contains("cannot be read") || e.contains("skips"),
                "{len}: {e}"
            );
            assert!(out.is_empty());
        }
        // Every byte changed, each in three ways: an error, or records
        // (other ones); never a panic, and on an error nothing added.
        for i in 0..row.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = row.clone();
                bad[i] ^= flip;
                match extend_journal(&mut out, run, first, last, &bad) {
                    Ok(()) => assert_eq!(out.len(), all.len()),
                    Err(_) => assert!(out.is_empty()),
                }
                out.clear();
            }
        }
        // What each kind of damage says, and where.
        let head = |rest: &[u8]| [&[BINARY_FORM][..], rest].concat();
        for (bad, says) in [
            (head(&[1, 0x80]), "record 0 (byte 1 of the row): cut short"),
            (
                head(&[
                    1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
                ]),
                "too large",
            ),
            // An instance past 32 bits.
            (
                head(&[1, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 0]),
                "too large",
            ),
            (head(&[16]), "a kind weft does not know (16)"),
            (head(&[6]), "a kind weft does not know (6)"),
            // A JSON record whose length runs past the row's end.
            (head(&[0, 0x7f, b'{', b'}']), "cut short"),
            (
                head(&[
                    0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ]),
                "cut short",
            ),
            (head(&[0, 2, b'{', b'}']), "its JSON cannot be read"),
            // A result that is not JSON.
            (
                head(&[1 | 8, 0, 0, 1, 0, 1, b'x']),
                "its JSON cannot be read",
            ),
        ] {
            let e = extend_journal(&mut out, run, 0, 0, &bad).unwrap_err();
            assert!(
                e.contains(says) && e.contains("records 0..=0 cannot be read"),
                "{e}"
            );
            assert!(out.is_empty());
        }
        // More records than the numbers say, or fewer.
        let two = head(&[1, 0, 0, 1, 0, 1, 0, 0, 1, 0]);
        let e = extend_journal(&mut out, run, 0, 0, &two).unwrap_err();
        assert!(e.contains("more records than the row's numbers say"), "{e}");
        let e = extend_journal(&mut out, run, 0, 2, &two).unwrap_err();
        assert!(e.contains("skips or repeats"), "{e}");
        assert!(out.is_empty());
        extend_journal(&mut out, run, 0, 1, &two).unwrap();
        assert_eq!(out.len(), 2);
    }
}
