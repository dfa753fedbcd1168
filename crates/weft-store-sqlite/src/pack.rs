//! A journal row as the file keeps it (schema version 5): its records in
//! weft's binary form, or, in rows written before, their JSON array
//! compressed with LZ4 (version 4) or the JSON text itself.
//!
//! A row is stored as a blob or as text, and the column's type says which.
//! Text is a JSON array of records (the rows of files before version 4,
//! and version 4's rows under [`PACK_FROM`] bytes or that LZ4 would not
//! make smaller). A blob starts with a tag byte:
//!
//! * [`BINARY`]: the records in the binary form of
//!   `weft_runtime::store::driver` (whose first byte the tag is): the
//!   record of an attempt that returned a result as a few varints, about
//!   6 bytes, every other record as its JSON. What this version writes
//!   for a row under [`PACK_FROM`] bytes, or one LZ4 would not shrink.
//! * [`LZ4`]: one tag byte, the length of the row it packs in bytes (4
//!   bytes, little-endian), then that row as one LZ4 block; the row
//!   unpacked is a JSON array (version 4) or a row in the binary form (this
//!   version packs its rows of [`PACK_FROM`] bytes or more that LZ4 makes
//!   smaller), and its first byte says which.
//!
//! The row's CRC-32 is of the stored bytes, so damage is found before
//! anything is unpacked or decoded.
//!
//! What the binary form saves is work on the writer thread, which bounds a
//! write-behind run: every byte of a row is copied by SQLite, written into
//! the write-ahead log, and read from the log and written again into the
//! file at the checkpoint, and the JSON of a record (about 150 bytes) cost
//! as much to write and to pack as the rest (docs/performance.md, "Journal
//! rows in a binary form").
//!
//! A packed row may claim up to `u32::MAX` bytes unpacked (SQLite's limit
//! of 1,000,000,000 bytes a value is on the bytes stored: a version 4 file
//! can hold a row that unpacks to more), and no more than [`MAX_RATIO`]
//! times its block: a claim past either is damage, and is not allocated.

use weft_runtime::store::driver::BINARY_FORM;

/// The tag of a row packed as one LZ4 block.
pub(crate) const LZ4: u8 = 1;

/// The tag of a row in the binary form: its own first byte.
pub(crate) const BINARY: u8 = BINARY_FORM;

/// The smallest row packed. A smaller one takes a part of a page that is
/// written whole anyway (16 KB, by default): packing it would save little
/// of what is written.
pub(crate) const PACK_FROM: usize = 1024;

/// Bytes before the LZ4 block: the tag and the row's length.
const HEADER: usize = 5;

/// The most bytes one byte of an LZ4 block stands for (a match's length
/// is written 255 a byte): a row that claims more is damaged, and is not
/// given the memory it claims.
const MAX_RATIO: usize = 255;

/// The most bytes the buffer [`pack`] writes into keeps between rows:
/// after a larger row (a result of megabytes), it is given back, not kept
/// for the writer's lifetime. A binary row of a commit's 32,768 attempt
/// records is about 200 KB.
pub(crate) const KEEP_PACKED: usize = 1 << 20;

/// `json` (a row, JSON or binary) packed, in `buf` (kept by the caller
/// from one row to the next: it is not cleared or zeroed again, and
/// [`release`] gives it back after an outsized row); `None` when it is
/// under [`PACK_FROM`] bytes or over `u32::MAX`, or packing would not make
/// it smaller.
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

/// Gives back the room of `buf` (where [`pack`] packs) when an outsized
/// row left it larger than [`KEEP_PACKED`].
pub(crate) fn release(buf: &mut Vec<u8>) {
    if buf.capacity() > KEEP_PACKED {
        *buf = Vec::new();
    }
}

/// Unpacks a stored blob tagged [`LZ4`] into `out`, which it leaves holding
/// the row it packs and nothing else. `out`'s bytes are overwritten, not zeroed first:
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
    // What the block holds is counted before anything is allocated: a
    // damaged row whose checksum matches (written so, or a forged one) is
    // not given the memory it claims, up to 255 times its size.
    let holds = if len > block.len().saturating_mul(MAX_RATIO) {
        Err("more than its block can hold".to_owned())
    } else {
        unpacked_len(block)
    };
    match holds {
        Ok(n) if n == len => {}
        Ok(n) => {
            return Err(format!(
                "a packed row of {} bytes that claims {len} and holds {n}",
                stored.len()
            ))
        }
        Err(what) => {
            return Err(format!(
                "a packed row of {} bytes that claims {len} and cannot be unpacked ({what})",
                stored.len()
            ))
        }
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

/// The bytes an LZ4 block unpacks to, counted from its sequences without
/// writing them: each sequence's literals and match lengths summed, each
/// match's offset checked to point into what comes before it. `Err` says
/// what is wrong with a block that would not unpack.
fn unpacked_len(block: &[u8]) -> Result<usize, String> {
    // A length of 15 in a token goes on in the bytes after it, 255 a byte,
    // until a byte under 255.
    fn more(block: &[u8], at: &mut usize, mut n: usize) -> Result<usize, String> {
        if n != 15 {
            return Ok(n);
        }
        loop {
            let Some(&b) = block.get(*at) else {
                return Err("a length cut short".to_owned());
            };
            *at += 1;
            n = n.saturating_add(usize::from(b));
            if b != 255 {
                return Ok(n);
            }
        }
    }
    let (mut at, mut out) = (0usize, 0usize);
    loop {
        let Some(&token) = block.get(at) else {
            return Err("a block cut short".to_owned());
        };
        at += 1;
        let literals = more(block, &mut at, usize::from(token >> 4))?;
        at = at
            .checked_add(literals)
            .filter(|&end| end <= block.len())
            .ok_or("literals past the block's end")?;
        out = out.saturating_add(literals);
        if at == block.len() {
            // The last sequence: literals only.
            return Ok(out);
        }
        let Some(offset) = block.get(at..at + 2) else {
            return Err("a match cut short".to_owned());
        };
        at += 2;
        let offset = usize::from(u16::from_le_bytes([offset[0], offset[1]]));
        if offset == 0 || offset > out {
            return Err(format!("a match {offset} bytes back, after {out} bytes"));
        }
        let matched = more(block, &mut at, usize::from(token & 15))?;
        out = out.saturating_add(matched).saturating_add(4);
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
            (&claims_less[..], "holds"),
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
        // A block of 4 MB that claims a billion bytes (within 255 times
        // its size) but is no LZ4 block: refused before any of it is
        // allocated.
        let mut zeros = vec![LZ4];
        zeros.extend_from_slice(&1_000_000_001u32.to_le_bytes());
        zeros.resize(HEADER + 4_000_000, 0);
        let mut fresh = Vec::new();
        let e = unpack(&zeros, &mut fresh).unwrap_err();
        assert!(e.contains("claims 1000000001"), "{e}");
        assert_eq!(fresh.capacity(), 0);
    }

    /// The count of a block's bytes before unpacking agrees with LZ4's own
    /// on what packing makes, and never panics on what it does not.
    #[test]
    fn a_blocks_length_is_counted_as_lz4_unpacks_it() {
        for json in [
            records(1),
            records(50),
            records(2_000),
            vec![b'x'; 70_000],
            (0..5_000u32)
                .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
                .collect(),
        ] {
            let block = lz4_flex::block::compress(&json);
            assert_eq!(unpacked_len(&block), Ok(json.len()));
            for cut in 0..block.len().min(300) {
                let _ = unpacked_len(&block[..cut]);
            }
        }
        // A packed row with each byte changed in turn: where LZ4 still
        // unpacks it (a literal changed, a length or offset that still
        // fits), the count agrees; elsewhere it says what is wrong or
        // counts other bytes, and never panics.
        let json = records(200);
        let block = lz4_flex::block::compress(&json);
        let mut unpacked = 0;
        let mut out = vec![0; json.len() * 2];
        for i in 0..block.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = block.clone();
                bad[i] ^= flip;
                let counted = unpacked_len(&bad);
                if let Ok(n) = lz4_flex::block::decompress_into(&bad, &mut out) {
                    assert_eq!(counted, Ok(n), "byte {i} ^ {flip:#x}");
                    unpacked += 1;
                }
            }
        }
        assert!(unpacked > 100, "{unpacked}");
    }

    #[test]
    fn the_room_of_an_outsized_row_is_given_back() {
        let mut buf = Vec::new();
        pack(&records(1_000), &mut buf).unwrap();
        let kept = buf.capacity();
        assert!(kept > 0 && kept <= KEEP_PACKED);
        release(&mut buf);
        assert_eq!(buf.capacity(), kept);
        // Some 7 MB of JSON: its room is not kept for the next row.
        let big = records(50_000);
        assert!(big.len() > KEEP_PACKED);
        let packed = pack(&big, &mut buf).unwrap().to_vec();
        assert!(buf.capacity() > KEEP_PACKED);
        release(&mut buf);
        assert_eq!(buf.capacity(), 0);
        let mut out = Vec::new();
        unpack(&packed, &mut out).unwrap();
        assert_eq!(out, big);
    }
}
