//! Reads `.npz` archives back: the zip of stored `.npy` members that
//! `nmlc run --format npz` (and `numpy.savez`) writes.
//!
//! Only what those writers produce is read: stored (uncompressed) members
//! without zip64, `.npy` versions 1 to 3, little-endian numbers. Every element
//! becomes an `f64`, which holds the `uint32` neuron indices and the `float64`
//! times and samples exactly. Every offset and length is checked against the
//! file, so a truncated or foreign file is an error, never a panic.

/// One array: its shape and its elements in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyMatrix {
    /// The extent of each axis.
    pub shape: Vec<usize>,
    /// The elements, row-major.
    pub values: Vec<f64>,
}

/// End of central directory signature, `PK\x05\x06`.
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// Central directory header signature, `PK\x01\x02`.
const CENTRAL_HEADER: u32 = 0x0201_4b50;
/// Local file header signature, `PK\x03\x04`.
const LOCAL_HEADER: u32 = 0x0403_4b50;
/// Bytes of the end record without its comment.
const END_RECORD_LEN: usize = 22;
/// The longest comment a zip file can carry, which may follow the end record.
const MAX_COMMENT_LEN: usize = 65_535;

/// The arrays of an archive, named without the `.npy` suffix, in archive order.
pub fn read_npz(bytes: &[u8]) -> Result<Vec<(String, NpyMatrix)>, String> {
    let end = find_end_record(bytes)?;
    let entries = usize::from(u16_at(bytes, end + 10)?);
    let mut at = u32_at(bytes, end + 16)? as usize;
    let mut arrays = Vec::with_capacity(entries);
    for _ in 0..entries {
        if u32_at(bytes, at)? != CENTRAL_HEADER {
            return Err("the zip directory is damaged".to_string());
        }
        let method = u16_at(bytes, at + 10)?;
        let size = u32_at(bytes, at + 20)?;
        let name_len = usize::from(u16_at(bytes, at + 28)?);
        let extra_len = usize::from(u16_at(bytes, at + 30)?);
        let comment_len = usize::from(u16_at(bytes, at + 32)?);
        let local = u32_at(bytes, at + 42)? as usize;
        let name = slice(bytes, at + 46, name_len)?;
        let name = String::from_utf8_lossy(name).into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if method != 0 {
            return Err(format!(
                "entry `{name}` is compressed; only stored archives (as nmlc and numpy.savez write them) can be read"
            ));
        }
        if size == u32::MAX {
            return Err(format!(
                "entry `{name}` is in zip64 form, which is not read"
            ));
        }
        if u32_at(bytes, local)? != LOCAL_HEADER {
            return Err(format!("the header of entry `{name}` is damaged"));
        }
        let data_at = local
            + 30
            + usize::from(u16_at(bytes, local + 26)?)
            + usize::from(u16_at(bytes, local + 28)?);
        let data = slice(bytes, data_at, size as usize)?;
        let Some(key) = name.strip_suffix(".npy") else {
            continue;
        };
        let array = read_npy(data).map_err(|problem| format!("entry `{name}`: {problem}"))?;
        arrays.push((key.to_string(), array));
    }
    Ok(arrays)
}

/// Parses one `.npy` file.
pub fn read_npy(bytes: &[u8]) -> Result<NpyMatrix, String> {
    if slice(bytes, 0, 6)? != b"\x93NUMPY" {
        return Err("not a .npy array".to_string());
    }
    let (header_len, header_at) = match slice(bytes, 6, 1)?[0] {
        1 => (usize::from(u16_at(bytes, 8)?), 10),
        2 | 3 => (u32_at(bytes, 8)? as usize, 12),
        version => return Err(format!(".npy version {version} is not read")),
    };
    let header = std::str::from_utf8(slice(bytes, header_at, header_len)?)
        .map_err(|_| "the header is not text".to_string())?;
    let descr = dict_value(header, "descr")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let fortran = dict_value(header, "fortran_order")? == "True";
    let shape_text = dict_value(header, "shape")?;
    let shape = shape_text
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| format!("the shape `{shape_text}` is not a tuple of sizes"))?;
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or("the shape is too large")?;
    let (size, convert): (usize, fn(&[u8]) -> f64) = match descr {
        "<f8" => (8, |b| f64::from_le_bytes(b.try_into().unwrap_or_default())),
        "<f4" => (4, |b| {
            f64::from(f32::from_le_bytes(b.try_into().unwrap_or_default()))
        }),
        "<u4" => (4, |b| {
            f64::from(u32::from_le_bytes(b.try_into().unwrap_or_default()))
        }),
        "<i4" => (4, |b| {
            f64::from(i32::from_le_bytes(b.try_into().unwrap_or_default()))
        }),
        "<u8" => (8, |b| {
            u64::from_le_bytes(b.try_into().unwrap_or_default()) as f64
        }),
        "<i8" => (8, |b| {
            i64::from_le_bytes(b.try_into().unwrap_or_default()) as f64
        }),
        other => return Err(format!("the element type `{other}` is not read")),
    };
    let data_len = count.checked_mul(size).ok_or("the shape is too large")?;
    let data = slice(bytes, header_at + header_len, data_len)?;
    let mut values: Vec<f64> = data.chunks_exact(size).map(convert).collect();
    if fortran && shape.len() == 2 {
        // Column-major on disk: element (r, c) is at c * rows + r.
        let (rows, columns) = (shape[0], shape[1]);
        values = (0..rows * columns)
            .map(|k| values[(k % columns) * rows + k / columns])
            .collect();
    } else if fortran && shape.len() > 2 {
        return Err("Fortran-ordered arrays of more than two axes are not read".to_string());
    }
    Ok(NpyMatrix { shape, values })
}

/// The text of `'key': value` in a header dict, up to the next top-level comma.
fn dict_value<'a>(header: &'a str, key: &str) -> Result<&'a str, String> {
    let missing = || format!("the header has no `{key}`");
    let start = header.find(&format!("'{key}'")).ok_or_else(missing)?;
    let rest = header[start + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')
        .ok_or_else(missing)?
        .trim_start();
    let mut depth = 0;
    let end = rest
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' | '}' if depth == 0 => return true,
                _ => {}
            }
            false
        })
        .map_or(rest.len(), |(i, _)| i);
    Ok(rest[..end].trim())
}

fn find_end_record(bytes: &[u8]) -> Result<usize, String> {
    let last = bytes
        .len()
        .checked_sub(END_RECORD_LEN)
        .ok_or("the file is too short to be a zip archive")?;
    let first = last.saturating_sub(MAX_COMMENT_LEN);
    (first..=last)
        .rev()
        .find(|&at| u32_at(bytes, at) == Ok(END_OF_CENTRAL_DIRECTORY))
        .ok_or_else(|| "not a zip archive (no end record)".to_string())
}

fn slice(bytes: &[u8], at: usize, len: usize) -> Result<&[u8], String> {
    at.checked_add(len)
        .and_then(|end| bytes.get(at..end))
        .ok_or_else(|| "the file ends early (truncated?)".to_string())
}

fn u16_at(bytes: &[u8], at: usize) -> Result<u16, String> {
    let b = slice(bytes, at, 2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, String> {
    let b = slice(bytes, at, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nmlc_runtime::output::npz::{NpzEntry, write_npz};
    use nmlc_runtime::output::{NpyArray, NpyData};

    /// A scratch folder removed at the end of the test.
    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn reads_back_what_the_runtime_writes() {
        let dir =
            Scratch(std::env::temp_dir().join(format!("nmlc-npz-reader-{}", std::process::id())));
        std::fs::create_dir_all(&dir.0).unwrap();
        let times = [0.1, 0.2, 67.1];
        let neurons = [3u32, 0, u32::MAX];
        let samples = [-65.0, -64.0, -63.0, f64::NAN, 1e-300, -0.0];
        let entries = [
            NpzEntry {
                name: "P_times_ms".into(),
                array: NpyArray::vector(NpyData::F64(&times)),
            },
            NpzEntry {
                name: "P_neurons".into(),
                array: NpyArray::vector(NpyData::U32(&neurons)),
            },
            NpzEntry {
                name: "P_V_m".into(),
                array: NpyArray::new(vec![3, 2], NpyData::F64(&samples)).unwrap(),
            },
        ];
        let path = write_npz(&dir.0, "r.npz", &entries).unwrap();
        let arrays = read_npz(&std::fs::read(path).unwrap()).unwrap();
        let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["P_times_ms", "P_neurons", "P_V_m"]);
        assert_eq!(arrays[0].1.values, times);
        assert_eq!(arrays[1].1.values, neurons.map(f64::from));
        assert_eq!(arrays[2].1.shape, [3, 2]);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&arrays[2].1.values), bits(&samples));
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let array = NpyArray::new(vec![2, 2], NpyData::F64(&[1.0, 2.0, 3.0, 4.0])).unwrap();
        let mut npy = Vec::new();
        array.write_to(&mut npy).unwrap();
        assert_eq!(read_npy(&npy).unwrap().values, [1.0, 2.0, 3.0, 4.0]);
        for cut in 0..npy.len() {
            assert!(read_npy(&npy[..cut]).is_err(), "cut at {cut}");
        }
        assert!(read_npz(b"").is_err());
        assert!(read_npz(b"PK\x05\x06 not really a zip archive").is_err());
    }

    #[test]
    fn fortran_order_is_turned_into_rows() {
        let header = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }";
        let mut npy = b"\x93NUMPY\x01\x00".to_vec();
        npy.extend_from_slice(&(header.len() as u16).to_le_bytes());
        npy.extend_from_slice(header.as_bytes());
        // Columns on disk: (1, 4), (2, 5), (3, 6).
        for x in [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0] {
            npy.extend_from_slice(&x.to_le_bytes());
        }
        let m = read_npy(&npy).unwrap();
        assert_eq!(m.shape, [2, 3]);
        assert_eq!(m.values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }
}
