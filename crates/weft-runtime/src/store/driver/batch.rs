//! What every store does with a batch before writing it: group its entries
//! by run, check each run's sequence within the batch, serialize each
//! run's records as one JSON array, and keep aside the records that change
//! the run's summary.

use std::collections::HashMap;

use crate::id::RunId;
use crate::store::{AttemptOutcome, Entry, Record, RunEnd, RunSummary, StoreError};

/// One run's part of a batch, ready to write.
#[derive(Debug)]
pub struct RunBatch {
    /// The run.
    pub run: RunId,
    /// The sequence number of its first record in the batch.
    pub first: u64,
    /// The sequence number of its last record in the batch.
    pub last: u64,
    /// Its records, one JSON array.
    pub json: Vec<u8>,
    /// The run's summary, when the batch starts its journal.
    pub start: Option<RunSummary>,
    /// The records that change the summary (commands, waits and ends,
    /// without the payloads of ends), in order.
    pub effects: Vec<Record>,
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
    let mut runs: Vec<RunBatch> = Vec::new();
    let mut index: HashMap<RunId, usize> = HashMap::new();
    for e in entries {
        let i = *index.entry(e.run).or_insert_with(|| {
            runs.push(RunBatch {
                run: e.run,
                first: e.seq,
                last: e.seq,
                json: Vec::with_capacity(256),
                start: None,
                effects: Vec::new(),
            });
            runs.len() - 1
        });
        let rb = &mut runs[i];
        if rb.json.is_empty() {
            rb.json.push(b'[');
        } else {
            if Some(e.seq) != rb.last.checked_add(1) {
                return Err(out_of_sequence(store, e.run, e.seq, rb.last as i128));
            }
            rb.json.push(b',');
        }
        rb.last = e.seq;
        match &e.record {
            Record::Started(start) if e.seq == 0 => {
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
        serde_json::to_writer(&mut rb.json, &e.record).map_err(|err| {
            StoreError::unavailable_from(
                format!(
                    "{store}: cannot append: record {} of run {} cannot be written as JSON ({err})",
                    e.seq, e.run
                ),
                err,
            )
        })?;
    }
    for rb in &mut runs {
        rb.json.push(b']');
    }
    Ok(runs)
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
/// one stored row: `first..=last` of `run`, as [`group_batch`] wrote them.
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
    let records: Vec<Record> = serde_json::from_slice(json)
        .map_err(|e| format!("run {run}: records {first}..={last} cannot be read ({e})"))?;
    if first != expected || first < 0 || last - first + 1 != records.len() as i64 {
        return Err(format!(
            "run {run}: the journal skips or repeats records (rows for \
             {first}..={last} after {expected} records)"
        ));
    }
    out.extend(records.into_iter().enumerate().map(|(i, record)| Entry {
        run,
        seq: first as u64 + i as u64,
        record,
    }));
    Ok(())
}
