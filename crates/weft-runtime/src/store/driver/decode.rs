//! Reading a row's records back without serde's generic decoding where
//! the text is the one `write_record` writes for an attempt that returned
//! a result: nearly every record of a run. serde's derived `Deserialize`
//! reads each key of each record as a string and matches it against the
//! field names, visits the externally tagged enums through two levels of
//! maps and checks every number's type; here the keys are compared as
//! constants and the numbers read as digits.
//!
//! Anything else (another kind of record, whitespace, keys in another
//! order, a number serde would refuse) is decoded by serde, record by
//! record, and a row that serde cannot read either is left to the caller,
//! which reads it again the ordinary way for its error.

use std::sync::Arc;

use serde_json::Value;

use crate::id::RunId;
use crate::store::{shared_null, AttemptOutcome, AttemptRecord, Entry, Record};

/// Decodes the records of one row (`text`, a JSON array of records) onto
/// the end of `out`, numbered from `first`; gives how many it read, or
/// `None` when the text is not a well-formed array of records (the caller
/// reads it with serde for the error, after truncating `out`).
pub(super) fn read_records(
    out: &mut Vec<Entry>,
    run: RunId,
    first: u64,
    text: &str,
) -> Option<u64> {
    let b = text.as_bytes();
    let mut pos = skip_ws(b, 0);
    if b.get(pos) != Some(&b'[') {
        return None;
    }
    pos = skip_ws(b, pos + 1);
    let mut n = 0u64;
    if b.get(pos) == Some(&b']') {
        return (skip_ws(b, pos + 1) == b.len()).then_some(0);
    }
    loop {
        let (record, end) = match attempt_ok(text, pos) {
            Some(found) => found,
            None => any_record(text, pos)?,
        };
        out.push(Entry {
            run,
            seq: first + n,
            record,
        });
        n += 1;
        pos = skip_ws(b, end);
        match b.get(pos) {
            Some(b',') => pos = skip_ws(b, pos + 1),
            Some(b']') => break,
            _ => return None,
        }
    }
    (skip_ws(b, pos + 1) == b.len()).then_some(n)
}

/// One record of any kind at `pos`, by serde; with the offset after it.
fn any_record(text: &str, pos: usize) -> Option<(Record, usize)> {
    let mut records = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<Record>();
    let record = records.next()?.ok()?;
    Some((record, pos + records.byte_offset()))
}

/// The record of an attempt that returned a result, at `pos`, if it is
/// written exactly as `write_record` writes it; with the offset after it.
fn attempt_ok(text: &str, pos: usize) -> Option<(Record, usize)> {
    let b = text.as_bytes();
    let mut at = Cursor { b, pos };
    at.lit(b"{\"attempt\":{\"step\":")?;
    let step = at.u64()?;
    at.lit(b",\"instance\":")?;
    let instance = at.u32()?;
    at.lit(b",\"item\":")?;
    let item = at.opt(Cursor::u32)?;
    at.lit(b",\"attempt\":")?;
    let attempt = at.u32()?;
    at.lit(b",\"outcome\":{\"ok\":{\"result\":")?;
    let result = if at.lit(b"null").is_some() {
        shared_null()
    } else {
        let mut values = serde_json::Deserializer::from_str(&text[at.pos..]).into_iter::<Value>();
        let value = values.next()?.ok()?;
        at.pos += values.byte_offset();
        Arc::new(value)
    };
    at.lit(b"}},\"started_at\":")?;
    let started_at = at.opt(Cursor::u64)?;
    at.lit(b",\"ended_at\":")?;
    let ended_at = at.u64()?;
    at.lit(b"}}")?;
    let record = Record::Attempt(AttemptRecord {
        step,
        instance,
        item,
        attempt,
        outcome: AttemptOutcome::Ok { result },
        started_at,
        ended_at,
    });
    Some((record, at.pos))
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(pos) {
        pos += 1;
    }
    pos
}

struct Cursor<'t> {
    b: &'t [u8],
    pos: usize,
}

impl Cursor<'_> {
    /// Steps over `lit` if the text goes on with it.
    fn lit(&mut self, lit: &[u8]) -> Option<()> {
        let rest = self.b.get(self.pos..)?;
        rest.starts_with(lit).then(|| self.pos += lit.len())
    }

    /// A whole number as serde_json reads one into a `u64`: digits, no
    /// leading zero, no sign, fraction or exponent (those, and a number
    /// too large, are left to serde, which says what is wrong).
    fn u64(&mut self) -> Option<u64> {
        let digits = self.b.get(self.pos..)?;
        let mut n = 0u64;
        let mut len = 0;
        for &c in digits {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(d))?;
            len += 1;
        }
        if len == 0 || (len > 1 && digits[0] == b'0') {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = digits.get(len) {
            return None;
        }
        self.pos += len;
        Some(n)
    }

    fn u32(&mut self) -> Option<u32> {
        let start = self.pos;
        let n = self.u64().and_then(|n| u32::try_from(n).ok());
        if n.is_none() {
            self.pos = start;
        }
        n
    }

    /// `null`, or what `read` reads.
    fn opt<T>(&mut self, read: fn(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.lit(b"null").is_some() {
            return Some(None);
        }
        read(self).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{Command, Durability, RunStart};

    fn attempt(i: u64, result: Value, item: Option<u32>, started_at: Option<u64>) -> Record {
        Record::Attempt(AttemptRecord {
            step: u64::MAX - i,
            instance: i as u32,
            item,
            attempt: 1 + i as u32,
            outcome: AttemptOutcome::Ok {
                result: Arc::new(result),
            },
            started_at,
            ended_at: 1_700_000_000_000 + i,
        })
    }

    /// Records of every kind, as a run writes them.
    fn records() -> Vec<Record> {
        let results = [
            Value::Null,
            json!(0),
            json!(-1.5),
            json!("a \"quoted\" line\n\u{7f} é"),
            json!({"z": 1, "a": [true, null, {"k\\": "v"}]}),
        ];
        let mut out = vec![Record::Started(Box::new(RunStart {
            workflow: "w".into(),
            source: "tasks: {}".into(),
            format: "yaml".into(),
            hash: String::new(),
            inputs: json!({"xs": [1, 2]}),
            parent: None,
            depth: 0,
            durability: Durability::WriteBehind,
            started_at: 5,
        }))];
        for (i, result) in results.iter().enumerate() {
            for item in [None, Some(0), Some(u32::MAX)] {
                for started_at in [None, Some(0), Some(u64::MAX)] {
                    out.push(attempt(i as u64, result.clone(), item, started_at));
                }
            }
            out.push(Record::Command {
                step: i as u64,
                command: Command::Pause,
            });
        }
        out.push(Record::Attempt(AttemptRecord {
            step: 7,
            instance: 1,
            item: None,
            attempt: 2,
            outcome: AttemptOutcome::Err {
                message: "no".into(),
                result: Some(Box::new(json!({"code": 2}))),
                canceled: false,
            },
            started_at: Some(1),
            ended_at: 2,
        }));
        out
    }

    fn serde_read(text: &str) -> Result<Vec<Record>, serde_json::Error> {
        serde_json::from_str(text)
    }

    fn fast_read(text: &str) -> Option<Vec<Record>> {
        let run = RunId::new();
        let mut out = Vec::new();
        let n = read_records(&mut out, run, 3, text)?;
        assert_eq!(n as usize, out.len());
        for (i, e) in out.iter().enumerate() {
            assert_eq!((e.run, e.seq), (run, 3 + i as u64));
        }
        Some(out.into_iter().map(|e| e.record).collect())
    }

    #[test]
    fn rows_read_as_serde_reads_them() {
        let all = records();
        let text = serde_json::to_string(&all).unwrap();
        assert_eq!(fast_read(&text).unwrap(), all);
        // One record at a time, and none.
        for r in &all {
            let text = serde_json::to_string(&[r]).unwrap();
            assert_eq!(fast_read(&text).unwrap(), vec![r.clone()]);
        }
        assert_eq!(fast_read("[]").unwrap(), Vec::new());
        // Written otherwise than the store writes them: serde reads them.
        let pretty = serde_json::to_string_pretty(&all).unwrap();
        assert_eq!(fast_read(&pretty).unwrap(), all);
        let reordered = r#"[{"attempt":{"instance":1,"step":2,"attempt":1,
            "outcome":{"ok":{"result":[1]}},"ended_at":4}}]"#;
        assert_eq!(
            fast_read(reordered).unwrap(),
            serde_read(reordered).unwrap()
        );
    }

    #[test]
    fn what_serde_refuses_is_refused() {
        let good = r#"{"attempt":{"step":1,"instance":0,"item":null,"attempt":1,"outcome":{"ok":{"result":null}},"started_at":null,"ended_at":2}}"#;
        let bad = [
            // Numbers serde does not read into its integer fields.
            good.replace("\"step\":1", "\"step\":01"),
            good.replace("\"step\":1", "\"step\":1.0"),
            good.replace("\"step\":1", "\"step\":-1"),
            good.replace("\"step\":1", "\"step\":18446744073709551616"),
            good.replace("\"instance\":0", "\"instance\":4294967296"),
            good.replace("\"attempt\":1,", "\"attempt\":1e0,"),
            // A key twice, a record cut short, text after the array.
            good.replace("\"ended_at\":2", "\"ended_at\":2,\"ended_at\":3"),
            good[..good.len() - 1].to_owned(),
            format!("{good}]"),
            format!("{good},"),
        ];
        for b in &bad {
            let row = format!("[{b}]");
            assert!(serde_read(&row).is_err(), "serde reads {row}");
            assert!(fast_read(&row).is_none(), "read {row}");
        }
        for row in ["", "[", "[,]", "[]]", "[] []", "{}"] {
            assert!(fast_read(row).is_none(), "read {row:?}");
        }
        let row = format!("[{good}]");
        assert!(fast_read(&row).is_some());
    }
}
