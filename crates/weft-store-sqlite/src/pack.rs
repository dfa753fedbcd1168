//! A journal row's records as the file keeps them: their JSON array
//! compressed with LZ4 (schema version 4), or the JSON text itself.
//!
//! A row is stored as a blob when its records are packed and as text when
//! they are not (the rows of files before version 4, a row under
//! [`PACK_FROM`] bytes, and one that LZ4 would not make smaller), so the
//! column's type says which it is. A packed row is one tag byte ([`LZ4`]),
//! the JSON's length in bytes (4 bytes, little-endian), then the JSON as
//! one LZ4 block. The row's CRC-32 is of the stored bytes, so damage is
//! found before anything is decompressed.
//!
//! What packing saves is bytes written: a write-behind run's records are
//! JSON objects whose keys repeat from one record to the next, about 150
//! bytes each, which LZ4 takes to a fraction of that. Every byte of a row
//! is copied by SQLite, written into the write-ahead log, and read from the
//! log and written again into the file at the checkpoint, all on the
//! writer thread (docs/performance.md, "Journal rows packed with LZ4").

/// The tag of a row packed as one LZ4 block.
pub(crate) const LZ4: u8 = 1;

/// The smallest row packed. A smaller one takes a part of a page that is
/// written whole anyway (16 KB, by default): packing it would save little
/// of what is written. Short runs' rows, and `sync` runs' rows of a record
/// or two, stay plain JSON.
pub(crate) const PACK_FROM: usize = 1024;

/// Bytes before the LZ4 block: the tag and the JSON's length.
const HEADER: usize = 5;

/// The most bytes one byte of an LZ4 block stands for (a match's length
/// is written 255 a byte): a row that claims more is damaged, and is not
/// given the memory it claims.
const MAX_RATIO: usize = 255;

/// `json` packed, in `buf` (kept by the caller from one row to the next:
/// it grows to the largest row's room and is not cleared or zeroed again);
/// `None` when it is under [`PACK_FROM`] bytes or packing would not make it
/// smaller.
pub(crate) fn pack<'b>(json: &[u8], buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
    if json.len() < PACK_FROM {
        return None;
    }
    let len = u32::try_from(json.len()).ok()?;
    let room = HEADER + lz4_flex::block::get_maximum_output_size(json.len());
    if buf.len() < room {
        buf.resize(room, 0);
    }
    buf[0] = LZ4;
    buf[1..HEADER].copy_from_slice(&len.to_le_bytes());
    match lz4_flex::block::compress_into(json, &mut buf[HEADER..]) {
        Ok(n) if HEADER + n < json.len() => Some(&buf[..HEADER + n]),
        _ => None,
    }
}

/// Unpacks a stored blob into `out`, which it leaves holding the JSON it
/// packs and nothing else. `out`'s bytes are overwritten, not zeroed first:
/// a caller that unpacks row after row into one buffer pays for zeroing
/// only its growth. `Err` says what is wrong with the blob.
pub(crate) fn unpack(stored: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let Some((&tag, rest)) = stored.split_first() else {
        return Err("an empty packed row".to_owned());
    };
    if tag != LZ4 {
        return Err(format!(
            "a row packed in a way weft does not know (tag {tag})"
        ));
    }
    let Some((len, block)) = rest.split_first_chunk::<4>() else {
        return Err("a packed row cut short".to_owned());
    };
    let len = u32::from_le_bytes(*len) as usize;
    if len > block.len().saturating_mul(MAX_RATIO) {
        return Err(format!(
            "a packed row of {} bytes that claims {len}",
            stored.len()
        ));
    }
    // LZ4 copies only what it has written itself (a match refers back
    // into the output): whatever `out` held before is never read.
    if out.len() < len {
        out.resize(len, 0);
    } else {
        out.truncate(len);
    }
    match lz4_flex::block::decompress_into(block, out) {
        Ok(n) if n == len => Ok(()),
        Ok(n) => Err(format!(
            "a packed row that unpacks to {n} bytes where it claims {len}"
        )),
        Err(e) => Err(format!("a packed row that cannot be unpacked ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize) -> Vec<u8> {
        let mut json = b"[".to_vec();
        for i in 0..n {
            if i > 0 {
                json.push(b',');
            }
            json.extend_from_slice(
                format!(
                    "{{\"attempt\":{{\"step\":{},\"instance\":{i},\"item\":null,\"attempt\":1,\
                     \"outcome\":{{\"ok\":{{\"result\":null}}}},\"started_at\":{},\
                     \"ended_at\":{}}}}}",
                    i + 1,
                    1_765_000_000_000u64 + i as u64 / 7,
                    1_765_000_000_000u64 + i as u64 / 5
                )
                .as_bytes(),
            );
        }
        json.push(b']');
        json
    }

    #[test]
    fn records_pack_smaller_and_unpack_as_they_were() {
        let json = records(1_000);
        let mut buf = Vec::new();
        let packed = pack(&json, &mut buf).unwrap().to_vec();
        assert_eq!(packed[0], LZ4);
        assert!(
            packed.len() * 3 < json.len(),
            "{} of {}",
            packed.len(),
            json.len()
        );
        let mut out = vec![7; 3];
        unpack(&packed, &mut out).unwrap();
        assert_eq!(out, json);
        // The buffer is used again as it is, for a row of another size.
        let short = records(10);
        let packed = pack(&short, &mut buf).unwrap().to_vec();
        unpack(&packed, &mut out).unwrap();
        assert_eq!(out, short);
    }

    #[test]
    fn what_would_not_shrink_is_not_packed() {
        let mut buf = Vec::new();
        assert!(pack(b"[]", &mut buf).is_none());
        assert!(pack(b"", &mut buf).is_none());
        // Short rows, however well they would pack.
        let short = records(5);
        assert!(short.len() < PACK_FROM);
        assert!(pack(&short, &mut buf).is_none());
        assert!(pack(&records(10), &mut buf).is_some());
        // No repeats for LZ4 to find: the text would only grow.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(pack(&noise, &mut buf).is_none());
    }

    #[test]
    fn damaged_rows_are_refused_without_panicking_or_claiming_memory() {
        let json = records(50);
        let mut buf = Vec::new();
        let packed = pack(&json, &mut buf).unwrap().to_vec();
        let mut out = Vec::new();
        let mut claims_more = packed.clone();
        claims_more[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut claims_less = packed.clone();
        claims_less[1..5].copy_from_slice(&((json.len() - 1) as u32).to_le_bytes());
        let mut other_tag = packed.clone();
        other_tag[0] = 2;
        for (bad, says) in [
            (&b""[..], "empty"),
            (&packed[..3], "cut short"),
            (&packed[..packed.len() - 4], "cannot be unpacked"),
            (&claims_more[..], "claims"),
            (&claims_less[..], "cannot be unpacked"),
            (&other_tag[..], "does not know"),
        ] {
            let e = unpack(bad, &mut out).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
        // Every byte of the block changed in turn: an error or other bytes,
        // never a panic.
        for i in HEADER..packed.len() {
            let mut bad = packed.clone();
            bad[i] ^= 0x5a;
            let _ = unpack(&bad, &mut out);
        }
    }
}
