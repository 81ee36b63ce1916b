//! NumPy's `.npy` format, version 1.0: what `numpy.load` reads without options.
//!
//! A file is the magic string `\x93NUMPY`, the version bytes `1 0`, a little-endian
//! `u16` header length, and a header that is a Python dict literal
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }` padded with spaces
//! and ended by a newline so the data start at a multiple of 64 bytes. The data
//! follow in C (row-major) order, little-endian. Version 1.0 limits the header to
//! 65 535 bytes, far more than any shape needs. Reference:
//! <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>.

use std::io::{self, Write};

use super::error::OutputError;

/// The magic string that opens every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Magic, two version bytes and the header length: the bytes before the header.
const PREAMBLE_LEN: usize = MAGIC.len() + 2 + 2;
/// NumPy aligns the data start to this many bytes so arrays can be memory-mapped.
const ALIGNMENT: usize = 64;

/// The elements of an array; the variant fixes the NumPy `dtype`.
#[derive(Debug, Clone, Copy)]
pub enum NpyData<'a> {
    /// `float64`, descr `<f8`.
    F64(&'a [f64]),
    /// `float32`, descr `<f4`.
    F32(&'a [f32]),
    /// `uint32`, descr `<u4`.
    U32(&'a [u32]),
    /// `int64`, descr `<i8`.
    I64(&'a [i64]),
    /// `uint64`, descr `<u8`.
    U64(&'a [u64]),
}

impl NpyData<'_> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            NpyData::F64(data) => data.len(),
            NpyData::F32(data) => data.len(),
            NpyData::U32(data) => data.len(),
            NpyData::I64(data) => data.len(),
            NpyData::U64(data) => data.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// NumPy's type string, little-endian.
    pub fn descr(&self) -> &'static str {
        match self {
            NpyData::F64(_) => "<f8",
            NpyData::F32(_) => "<f4",
            NpyData::U32(_) => "<u4",
            NpyData::I64(_) => "<i8",
            NpyData::U64(_) => "<u8",
        }
    }

    /// The size of one element in bytes.
    pub fn element_size(&self) -> usize {
        match self {
            NpyData::F64(_) | NpyData::I64(_) | NpyData::U64(_) => 8,
            NpyData::F32(_) | NpyData::U32(_) => 4,
        }
    }

    fn write_le(&self, writer: &mut impl Write) -> io::Result<()> {
        match self {
            NpyData::F64(data) => data
                .iter()
                .try_for_each(|x| writer.write_all(&x.to_le_bytes())),
            NpyData::F32(data) => data
                .iter()
                .try_for_each(|x| writer.write_all(&x.to_le_bytes())),
            NpyData::U32(data) => data
                .iter()
                .try_for_each(|x| writer.write_all(&x.to_le_bytes())),
            NpyData::I64(data) => data
                .iter()
                .try_for_each(|x| writer.write_all(&x.to_le_bytes())),
            NpyData::U64(data) => data
                .iter()
                .try_for_each(|x| writer.write_all(&x.to_le_bytes())),
        }
    }
}

/// An n-dimensional array in C order, borrowed from the simulator's buffers.
#[derive(Debug, Clone)]
pub struct NpyArray<'a> {
    shape: Vec<usize>,
    data: NpyData<'a>,
}

impl<'a> NpyArray<'a> {
    /// An array of `shape` over `data`; the product of `shape` must equal the
    /// number of elements.
    pub fn new(shape: Vec<usize>, data: NpyData<'a>) -> Result<Self, OutputError> {
        let expected = shape.iter().product::<usize>();
        if expected != data.len() {
            return Err(OutputError::ShapeMismatch {
                what: format!("array of shape {shape:?}"),
                expected,
                found: data.len(),
            });
        }
        Ok(NpyArray { shape, data })
    }

    /// A one-dimensional array of all of `data`.
    pub fn vector(data: NpyData<'a>) -> Self {
        NpyArray {
            shape: vec![data.len()],
            data,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The header: preamble, dict, padding and newline.
    pub fn header(&self) -> Vec<u8> {
        let shape = match self.shape.as_slice() {
            [only] => format!("({only},)"),
            dims => {
                let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
                format!("({})", dims.join(", "))
            }
        };
        let dict = format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
            self.data.descr()
        );
        // Pad with spaces so that preamble + dict + padding + '\n' is aligned.
        let unpadded = PREAMBLE_LEN + dict.len() + 1;
        let padding = unpadded.next_multiple_of(ALIGNMENT) - unpadded;
        let header_len = dict.len() + padding + 1;
        let mut header = Vec::with_capacity(PREAMBLE_LEN + header_len);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&[1, 0]);
        // A shape dict is far below the 65 535-byte limit of version 1.0.
        header.extend_from_slice(&(header_len as u16).to_le_bytes());
        header.extend_from_slice(dict.as_bytes());
        header.resize(header.len() + padding, b' ');
        header.push(b'\n');
        header
    }

    /// The number of bytes of the whole file.
    pub fn file_len(&self) -> usize {
        self.header().len() + self.data.len() * self.data.element_size()
    }

    /// Writes the whole `.npy` file.
    pub fn write_to(&self, writer: &mut impl Write) -> io::Result<()> {
        writer.write_all(&self.header())?;
        self.data.write_le(writer)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The parts of a `.npy` file, read back by hand as numpy would.
    pub(crate) struct ParsedNpy {
        pub dict: String,
        pub data: Vec<u8>,
    }

    pub(crate) fn parse_npy(bytes: &[u8]) -> ParsedNpy {
        assert_eq!(&bytes[..6], MAGIC);
        assert_eq!(&bytes[6..8], &[1, 0]);
        let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        let data_start = PREAMBLE_LEN + header_len;
        assert_eq!(data_start % ALIGNMENT, 0, "data start is aligned");
        assert_eq!(bytes[data_start - 1], b'\n');
        let dict = String::from_utf8(bytes[PREAMBLE_LEN..data_start].to_vec()).unwrap();
        ParsedNpy {
            dict: dict.trim_end().to_string(),
            data: bytes[data_start..].to_vec(),
        }
    }

    #[test]
    fn matrix_header_and_data_read_back() {
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, -0.5];
        let array = NpyArray::new(vec![3, 2], NpyData::F64(&values)).unwrap();
        let mut bytes = Vec::new();
        array.write_to(&mut bytes).unwrap();
        assert_eq!(bytes.len(), array.file_len());
        let parsed = parse_npy(&bytes);
        assert_eq!(
            parsed.dict,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }"
        );
        let read: Vec<f64> = parsed
            .data
            .chunks_exact(8)
            .map(|chunk| f64::from_le_bytes(chunk.try_into().unwrap()))
            .collect();
        assert_eq!(read, values);
    }

    #[test]
    fn vectors_use_the_one_element_tuple_and_each_dtype_its_descr() {
        let neurons = [4u32, 1];
        let array = NpyArray::vector(NpyData::U32(&neurons));
        let mut bytes = Vec::new();
        array.write_to(&mut bytes).unwrap();
        let parsed = parse_npy(&bytes);
        assert_eq!(
            parsed.dict,
            "{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }"
        );
        assert_eq!(parsed.data, [4, 0, 0, 0, 1, 0, 0, 0]);
        let empty = NpyArray::vector(NpyData::I64(&[]));
        assert!(String::from_utf8_lossy(&empty.header()).contains("'<i8'"));
        assert!(String::from_utf8_lossy(&empty.header()).contains("(0,)"));
    }

    #[test]
    fn a_shape_that_does_not_match_the_data_is_refused() {
        let result = NpyArray::new(vec![2, 2], NpyData::F32(&[1.0, 2.0, 3.0]));
        assert!(matches!(
            result,
            Err(OutputError::ShapeMismatch {
                expected: 4,
                found: 3,
                ..
            })
        ));
    }
}
