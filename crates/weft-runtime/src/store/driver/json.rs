//! A JSON string written as serde_json writes it, eight bytes at a time
//! where nothing needs escaping: a workflow's text (hundreds of KB in a
//! run's `Started` record) is mostly such bytes, and serde_json looks up
//! every byte in its escape table.

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

#[cfg(test)]
mod tests {
    use super::*;

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
