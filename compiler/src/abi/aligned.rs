//! Column storage whose first element starts a cache line.
//!
//! The wide kernels load and store 64 bytes at a time (eight `f64` lanes
//! with AVX-512). From a plain `Vec`, which the allocator aligns to 16
//! bytes, most of those accesses straddle two cache lines; a column that
//! starts on a 64-byte boundary keeps each of them within one line. This
//! costs nothing in safety: the buffer is a `Vec` with up to one line of
//! spare elements in front, and the column is the slice after them.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// The alignment of a column's first element, in bytes.
pub const ALIGN: usize = 64;

/// A fixed-length slice of `T` whose first element is `ALIGN`-aligned
/// (for `T` of size 4 or 8; other sizes are aligned as far as they go).
pub struct Aligned<T> {
    buf: Vec<T>,
    start: usize,
    len: usize,
}

impl<T: Copy + Default> Aligned<T> {
    /// `len` copies of `T::default()`.
    pub fn zeros(len: usize) -> Aligned<T> {
        Aligned::filled(T::default(), len)
    }

    /// `len` copies of `x`.
    pub fn filled(x: T, len: usize) -> Aligned<T> {
        let size = std::mem::size_of::<T>().max(1);
        let spare = ALIGN.div_ceil(size);
        let buf = vec![x; len + spare];
        let misalignment = buf.as_ptr() as usize % ALIGN;
        let start = if misalignment == 0 || !ALIGN.is_multiple_of(size) {
            0
        } else {
            // The allocator returns addresses that are multiples of
            // `align_of::<T>()`, hence of `size` for the types stored here.
            ((ALIGN - misalignment) / size).min(spare)
        };
        Aligned { buf, start, len }
    }

    /// A copy of `values`.
    pub fn from_slice(values: &[T]) -> Aligned<T> {
        let mut out = Aligned::zeros(values.len());
        out.copy_from_slice(values);
        out
    }
}

impl<T> Deref for Aligned<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.buf[self.start..self.start + self.len]
    }
}

impl<T> DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

impl<T: Copy + Default> Clone for Aligned<T> {
    /// A clone is a new allocation, aligned on its own.
    fn clone(&self) -> Aligned<T> {
        Aligned::from_slice(self)
    }
}

impl<T: Copy + Default> From<Vec<T>> for Aligned<T> {
    fn from(values: Vec<T>) -> Aligned<T> {
        Aligned::from_slice(&values)
    }
}

impl<T: PartialEq> PartialEq for Aligned<T> {
    fn eq(&self, other: &Aligned<T>) -> bool {
        **self == **other
    }
}

impl<T: fmt::Debug> fmt::Debug for Aligned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_start_on_a_cache_line_and_keep_their_values() {
        for len in [0, 1, 7, 8, 1000] {
            let mut a = Aligned::<f64>::zeros(len);
            assert_eq!(a.len(), len);
            assert_eq!(a.as_ptr() as usize % ALIGN, 0, "f64 × {len}");
            for (i, x) in a.iter_mut().enumerate() {
                *x = i as f64;
            }
            let b = a.clone();
            assert_eq!(b.as_ptr() as usize % ALIGN, 0);
            assert_eq!(a, b);
            let c = Aligned::<i32>::filled(3, len);
            assert_eq!(c.as_ptr() as usize % ALIGN, 0, "i32 × {len}");
            assert!(c.iter().all(|&x| x == 3));
            let f = Aligned::<f32>::from(vec![1.5; len]);
            assert_eq!(f.as_ptr() as usize % ALIGN, 0, "f32 × {len}");
            assert!(f.iter().all(|&x| x == 1.5));
        }
    }
}
