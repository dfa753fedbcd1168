//! JSON written as serde_json writes it, faster for what a journal holds
//! most: a string eight bytes at a time where nothing needs escaping (a
//! workflow's text, hundreds of KB in a run's `Started` record, is mostly
//! such bytes, and serde_json looks up every byte in its escape table), and
//! a record's constant parts and numbers built on the stack ([`Line`]).

/// Each of the eight bytes of a word, set to `b`.
const fn splat(b: u8) -> u64 {
    u64::from_le_bytes([b; 8])
}

const ONES: u64 = splat(0x01);
const HIGHS: u64 = splat(0x80);

/// The bytes of `w` (read little-endian) that are a control character
/// (below 0x20), `"` or `\`, the bytes JSON escapes, as their high bits:
/// the lowest bit set marks the first such byte (bits above it may be set
/// for bytes that are not). Bytes of 0x80 and above, the bytes of
/// multi-byte UTF-8 characters, are written as they are.
fn escapes(w: u64) -> u64 {
    let below_space = w.wrapping_sub(splat(0x20)) & !w;
    let quote = w ^ splat(b'"');
    let backslash = w ^ splat(b'\\');
    let is_quote = quote.wrapping_sub(ONES) & !quote;
    let is_backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below_space | is_quote | is_backslash) & HIGHS
}

/// Appends `s` to `out` as a JSON string, the same bytes as
/// `serde_json::to_writer(out, s)`: `"` and `\` escaped with a backslash,
/// the control characters serde_json names (`\b \t \n \f \r`) by name and
/// the others as `\u00xx`, everything else as it is.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut clean = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            let found = escapes(u64::from_le_bytes(w));
            if found == 0 {
                i += 8;
                continue;
            }
            // Straight to the first byte to escape.
            i += (found.trailing_zeros() / 8) as usize;
        }
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => &[],
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[clean..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        clean = i;
    }
    out.extend_from_slice(&bytes[clean..]);
    out.push(b'"');
}

/// The two digits of each number below 100, in order: `00`, `01`, … `99`.
const PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// The most bytes a [`Line`] holds: more than any one record written
/// through it (an attempt record with every number at its largest is
/// about 200 bytes), with room for the fixed-length copies of a number's
/// digits ([`Line::put_u64`], [`Line::put_time`]).
const LINE: usize = 256;

/// A record's bytes built on the stack and appended to the batch's text at
/// once: its constant parts and its numbers' digits are copied in place,
/// not each appended to a `Vec` that checks its room (and calls `memcpy`
/// for every number).
pub(crate) struct Line {
    buf: [u8; LINE],
    len: usize,
}

impl Line {
    pub(crate) fn new() -> Line {
        Line {
            buf: [0; LINE],
            len: 0,
        }
    }

    /// Appends `bytes`, at most a few dozen (see [`LINE`]).
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Appends `n` in decimal, the digits serde_json writes for it: made
    /// from the last, four at a time, in a buffer of their own, and copied
    /// with a fixed length (only the digits are kept), so that neither
    /// their number nor the copy's length needs working out first.
    pub(crate) fn put_u64(&mut self, mut n: u64) {
        if n < 10 {
            self.buf[self.len] = b'0' + n as u8;
            self.len += 1;
            return;
        }
        let mut digits = [0u8; 2 * U64_DIGITS];
        let mut start = U64_DIGITS;
        while n >= 10_000 {
            let four = (n % 10_000) as usize;
            n /= 10_000;
            start -= 4;
            let (high, low) = (2 * (four / 100), 2 * (four % 100));
            digits[start..start + 2].copy_from_slice(&PAIRS[high..high + 2]);
            digits[start + 2..start + 4].copy_from_slice(&PAIRS[low..low + 2]);
        }
        if n >= 100 {
            let low = 2 * (n % 100) as usize;
            n /= 100;
            start -= 2;
            digits[start..start + 2].copy_from_slice(&PAIRS[low..low + 2]);
        }
        if n >= 10 {
            let pair = 2 * n as usize;
            start -= 2;
            digits[start..start + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
        } else {
            start -= 1;
            digits[start] = b'0' + n as u8;
        }
        self.buf[self.len..self.len + U64_DIGITS]
            .copy_from_slice(&digits[start..start + U64_DIGITS]);
        self.len += U64_DIGITS - start;
    }

    /// Appends the time `t` (milliseconds) in decimal, as
    /// [`put_u64`](Line::put_u64), its digits above the last three taken
    /// from `times` when they are the ones it wrote last.
    #[inline]
    pub(crate) fn put_time(&mut self, t: u64, times: &mut Times) {
        if t < 1000 {
            return self.put_u64(t);
        }
        let high = t / 1000;
        if times.len == 0 || times.high != high {
            times.set(high);
        }
        // The whole of `digits` copied, a fixed length (no call to
        // `memcpy`), and only its first `len` bytes kept.
        self.buf[self.len..self.len + TIME_DIGITS].copy_from_slice(&times.digits);
        self.len += times.len;
        let low = (t % 1000) as usize;
        let pair = 2 * (low % 100);
        self.put(&[b'0' + (low / 100) as u8, PAIRS[pair], PAIRS[pair + 1]]);
    }

    /// Appends what it holds to `out`, and empties.
    pub(crate) fn flush(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.buf[..self.len]);
        self.len = 0;
    }
}

/// The most digits of a `u64` (`u64::MAX` has 20).
const U64_DIGITS: usize = 20;

/// Room for the digits of a time's thousands (`u64::MAX / 1000` has 17).
const TIME_DIGITS: usize = 24;

/// The digits of the thousands of the last time a [`Line`] wrote: the
/// records of a batch are stamped within a second or a few of each other,
/// and a time in milliseconds has 13 digits, of which the last three
/// differ.
#[derive(Debug, Default)]
pub(crate) struct Times {
    high: u64,
    digits: [u8; TIME_DIGITS],
    /// 0 while no time was written.
    len: usize,
}

impl Times {
    #[cold]
    fn set(&mut self, high: u64) {
        let mut line = Line::new();
        line.put_u64(high);
        self.high = high;
        self.len = line.len;
        self.digits = [0; TIME_DIGITS];
        self.digits[..line.len].copy_from_slice(&line.buf[..line.len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times_are_written_as_serde_json_writes_them() {
        let mut numbers = vec![0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1999, 2000];
        for p in 1..20 {
            let t = 10u64.pow(p);
            numbers.extend([
                t - 1,
                t,
                t + 1,
                t + 999,
                t.saturating_mul(3).saturating_add(7),
            ]);
        }
        numbers.extend([
            u64::MAX,
            u64::MAX - 1,
            u64::MAX / 10,
            1_700_000_000_000,
            1_700_000_000_999,
            1_700_000_001_000,
            1_700_000_000_000,
        ]);
        // Times in this order and the reverse, through one cache: each
        // written after another, near or far.
        let mut times = Times::default();
        for n in numbers.iter().chain(numbers.iter().rev()) {
            let expected = serde_json::to_string(n).unwrap();
            for time in [false, true] {
                let mut line = Line::new();
                line.put(b"x");
                if time {
                    line.put_time(*n, &mut times);
                } else {
                    line.put_u64(*n);
                }
                let mut out = Vec::new();
                line.flush(&mut out);
                assert_eq!(String::from_utf8(out).unwrap(), format!("x{expected}"));
            }
        }
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "plain".into(),
            "tasks:\n  a: {action: \"core.echo\", input: {message: 'x\\y'}}\n".into(),
            "é ü 漢字 🙂 \u{7f} \u{80} \u{2028}".into(),
            "\"\"\\\\".into(),
        ];
        // Every byte below 0x80, at every place in a word of eight.
        for b in 0u8..0x80 {
            for at in 0..9 {
                let mut t = "abcdefgh".repeat(2);
                t.insert(at, char::from(b));
                texts.push(t);
            }
        }
        for t in &texts {
            let mut ours = Vec::new();
            write_str(&mut ours, t);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(t).unwrap(),
                "{t:?}"
            );
        }
    }
}
