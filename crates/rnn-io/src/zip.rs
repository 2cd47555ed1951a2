//! The zip container of a `torch.save` archive, read strictly: the central directory (plain or
//! zip64) is parsed from the end of the buffer, every entry must be stored (method 0, as
//! `torch.save` writes them), and every offset and size is checked against the buffer before it
//! is used. Nothing is allocated from a declared size: an entry is a slice of the input.

use crate::Error;

const EOCD: u32 = 0x0605_4b50;
const EOCD64_LOCATOR: u32 = 0x0706_4b50;
const EOCD64: u32 = 0x0606_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const LOCAL: u32 = 0x0403_4b50;

/// One stored entry: its name and its bytes, a slice of the archive.
#[derive(Debug, Clone)]
pub(crate) struct Entry<'a> {
    pub name: String,
    pub data: &'a [u8],
}

fn err(message: impl Into<String>) -> Error {
    Error::new(None, format!("zip archive: {}", message.into()))
}

fn bytes_at(b: &[u8], at: usize, n: usize) -> Option<&[u8]> {
    b.get(at..at.checked_add(n)?)
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, Error> {
    bytes_at(b, at, 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| err("truncated"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, Error> {
    bytes_at(b, at, 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
        .ok_or_else(|| err("truncated"))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, Error> {
    bytes_at(b, at, 8)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        .ok_or_else(|| err("truncated"))
}

fn to_usize(v: u64, what: &str) -> Result<usize, Error> {
    usize::try_from(v).map_err(|_| err(format!("{what} {v} is out of range")))
}

/// The offset of the end-of-central-directory record: the last signature within the final
/// 64 KiB + 22 bytes (the record plus the longest comment).
fn find_eocd(b: &[u8]) -> Result<usize, Error> {
    if b.len() < 22 {
        return Err(err("too short to be a zip file"));
    }
    let lowest = b.len().saturating_sub(22 + 0xFFFF);
    (lowest..=b.len() - 22)
        .rev()
        .find(|&at| u32_at(b, at).ok() == Some(EOCD))
        .ok_or_else(|| err("no end-of-central-directory record"))
}

/// Every entry of the archive, in central-directory order.
///
/// # Errors
/// A malformed or truncated archive, an entry that is compressed or encrypted, or an entry
/// whose bytes lie outside the buffer.
pub(crate) fn entries(b: &[u8]) -> Result<Vec<Entry<'_>>, Error> {
    let (range, count) = central_directory(b)?;
    let mut out = Vec::with_capacity(count);
    let mut at = range.start;
    for _ in 0..count {
        let (entry, next) = central_record(b, at, range.end)?;
        out.push(entry);
        at = next;
    }
    Ok(out)
}

/// The central directory's byte range and its number of entries (from the end-of-directory
/// record, or its zip64 twin).
fn central_directory(b: &[u8]) -> Result<(std::ops::Range<usize>, usize), Error> {
    let eocd = find_eocd(b)?;
    let mut count = u64::from(u16_at(b, eocd + 10)?);
    let mut cd_size = u64::from(u32_at(b, eocd + 12)?);
    let mut cd_offset = u64::from(u32_at(b, eocd + 16)?);
    if eocd >= 20 && u32_at(b, eocd - 20)? == EOCD64_LOCATOR {
        let at = to_usize(u64_at(b, eocd - 12)?, "zip64 record offset")?;
        if u32_at(b, at)? != EOCD64 {
            return Err(err("the zip64 locator points at no zip64 record"));
        }
        count = u64_at(b, at + 32)?;
        cd_size = u64_at(b, at + 40)?;
        cd_offset = u64_at(b, at + 48)?;
    }
    let start = to_usize(cd_offset, "central directory offset")?;
    let size = to_usize(cd_size, "central directory size")?;
    let end = start
        .checked_add(size)
        .filter(|&e| e <= b.len())
        .ok_or_else(|| err("the central directory lies outside the file"))?;
    // Each central record is at least 46 bytes: a count beyond that is a lie.
    if count > (size / 46) as u64 {
        return Err(err(format!(
            "{count} entries declared in a central directory of {size} bytes"
        )));
    }
    Ok((start..end, count as usize))
}

/// The central record at `at` (the directory ends at `end`): its entry, and where the next
/// record starts.
fn central_record(b: &[u8], at: usize, end: usize) -> Result<(Entry<'_>, usize), Error> {
    if at + 46 > end || u32_at(b, at)? != CENTRAL {
        return Err(err("malformed central directory record"));
    }
    let flags = u16_at(b, at + 8)?;
    let method = u16_at(b, at + 10)?;
    // Uncompressed size, compressed size, local header offset: zip64's order.
    let mut sizes = [
        u64::from(u32_at(b, at + 24)?),
        u64::from(u32_at(b, at + 20)?),
        u64::from(u32_at(b, at + 42)?),
    ];
    let name_len = usize::from(u16_at(b, at + 28)?);
    let extra_len = usize::from(u16_at(b, at + 30)?);
    let comment_len = usize::from(u16_at(b, at + 32)?);
    let name_at = at + 46;
    let extra_at = name_at + name_len;
    let next = extra_at + extra_len + comment_len;
    if next > end {
        return Err(err("a central directory record runs past the directory"));
    }
    let name = String::from_utf8_lossy(&b[name_at..extra_at]).into_owned();
    zip64_sizes(b, extra_at..extra_at + extra_len, &name, &mut sizes)?;
    if flags & 1 != 0 {
        return Err(err(format!("entry `{name}` is encrypted")));
    }
    if method != 0 {
        return Err(err(format!(
            "entry `{name}` is compressed (method {method}); torch.save stores entries \
             uncompressed"
        )));
    }
    let [usize_, csize, local] = sizes;
    if csize != usize_ {
        return Err(err(format!(
            "entry `{name}` is stored but its sizes differ ({csize} and {usize_})"
        )));
    }
    let data = stored_data(b, &name, local, csize)?;
    Ok((Entry { name, data }, next))
}

/// Reads the zip64 extended information in the extra fields `extra`: the 64-bit values of the
/// `sizes` (uncompressed, compressed, local offset) that are set to `0xFFFFFFFF`, in order.
fn zip64_sizes(
    b: &[u8],
    extra: std::ops::Range<usize>,
    name: &str,
    sizes: &mut [u64; 3],
) -> Result<(), Error> {
    let mut x = extra.start;
    while x + 4 <= extra.end {
        let id = u16_at(b, x)?;
        let len = usize::from(u16_at(b, x + 2)?);
        let body = x + 4;
        if body + len > extra.end {
            return Err(err(format!("entry `{name}`: malformed extra field")));
        }
        if id == 1 {
            let mut p = body;
            for field in sizes.iter_mut().filter(|f| **f == 0xFFFF_FFFF) {
                if p + 8 > body + len {
                    return Err(err(format!("entry `{name}`: short zip64 field")));
                }
                *field = u64_at(b, p)?;
                p += 8;
            }
        }
        x = body + len;
    }
    Ok(())
}

/// The `len` stored bytes of the entry whose local header is at `local`.
fn stored_data<'a>(b: &'a [u8], name: &str, local: u64, len: u64) -> Result<&'a [u8], Error> {
    let local = to_usize(local, "local header offset")?;
    if local.checked_add(30).is_none_or(|e| e > b.len()) || u32_at(b, local)? != LOCAL {
        return Err(err(format!("entry `{name}`: no local header at {local}")));
    }
    let data_at =
        local + 30 + usize::from(u16_at(b, local + 26)?) + usize::from(u16_at(b, local + 28)?);
    let len = to_usize(len, "entry size")?;
    data_at
        .checked_add(len)
        .and_then(|e| b.get(data_at..e))
        .ok_or_else(|| {
            err(format!(
                "entry `{name}` declares {len} bytes at offset {data_at}, past the end of the \
                 file ({} bytes)",
                b.len()
            ))
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A stored zip of `files`, optionally with zip64 fields for every entry.
    pub(crate) fn build(files: &[(&str, &[u8])], zip64: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in files {
            let offset = out.len() as u64;
            out.extend(LOCAL.to_le_bytes());
            out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(name.as_bytes());
            out.extend(*data);
            central.extend(CENTRAL.to_le_bytes());
            central.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            let (size, off, extra) = if zip64 {
                let mut e = vec![1, 0, 24, 0];
                e.extend((data.len() as u64).to_le_bytes());
                e.extend((data.len() as u64).to_le_bytes());
                e.extend(offset.to_le_bytes());
                (u32::MAX, u32::MAX, e)
            } else {
                (data.len() as u32, offset as u32, Vec::new())
            };
            central.extend(size.to_le_bytes());
            central.extend(size.to_le_bytes());
            central.extend((name.len() as u16).to_le_bytes());
            central.extend((extra.len() as u16).to_le_bytes());
            central.extend([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend(off.to_le_bytes());
            central.extend(name.as_bytes());
            central.extend(extra);
        }
        let cd_offset = out.len();
        out.extend(&central);
        out.extend(EOCD.to_le_bytes());
        out.extend([0, 0, 0, 0]);
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend((cd_offset as u32).to_le_bytes());
        out.extend([0, 0]);
        out
    }

    #[test]
    fn stored_entries_are_slices_of_the_archive_with_or_without_zip64() {
        for zip64 in [false, true] {
            let z = build(
                &[("a/data.pkl", b"xyz"), ("a/data/0", &[1, 2, 3, 4])],
                zip64,
            );
            let e = entries(&z).unwrap();
            assert_eq!(e.len(), 2);
            assert_eq!((e[0].name.as_str(), e[0].data), ("a/data.pkl", &b"xyz"[..]));
            assert_eq!(e[1].data, [1, 2, 3, 4]);
        }
    }

    #[test]
    fn a_declared_size_past_the_end_is_an_error_not_an_allocation() {
        let mut z = build(&[("a/data/0", &[0; 8])], true);
        // The zip64 uncompressed and compressed sizes: claim 1 TiB.
        let at = z.len() - 22 - 24 - 8;
        let at = (0..z.len())
            .find(|&i| z[i..].starts_with(&[1, 0, 24, 0]))
            .unwrap_or(at)
            + 4;
        z[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        z[at + 8..at + 16].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let e = entries(&z).unwrap_err().to_string();
        assert!(e.contains("past the end of the file"), "{e}");
    }

    #[test]
    fn truncations_at_every_length_are_errors() {
        let z = build(
            &[("a/data.pkl", b"xyz"), ("a/data/0", &[1, 2, 3, 4])],
            false,
        );
        for n in 0..z.len() {
            assert!(entries(&z[..n]).is_err(), "{n}");
        }
    }
}
