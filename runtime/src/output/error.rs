//! Typed errors of the result writers; the CLI turns them into messages.

use std::io;
use std::path::{Path, PathBuf};

/// Why results could not be written.
#[derive(Debug)]
pub enum OutputError {
    /// The output folder exists, holds files, and overwriting was not allowed.
    NotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// The output path exists but is not a folder, or a parent of it is a file.
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The operating system refused to let us write there (permissions, a
    /// read-only file system).
    NotWritable {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The disk or the user's quota is full.
    DiskFull {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Any other input/output failure.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A population, variable or file name cannot become a file or column name.
    InvalidName {
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Array data do not fit the shape they are said to have.
    ShapeMismatch {
        /// What was being written.
        what: String,
        /// The number of elements the shape calls for.
        expected: usize,
        /// The number of elements given.
        found: usize,
    },
    /// Two arrays of one `.npz` file would get the same name.
    DuplicateEntry {
        /// The entry name.
        name: String,
    },
    /// A `.npz` file would exceed the 4 GiB or 65 535-entry limits of the plain
    /// zip format (zip64 is not written).
    TooLargeForZip {
        /// The `.npz` file.
        path: PathBuf,
    },
    /// The summary could not be turned into JSON.
    Json(serde_json::Error),
}

impl OutputError {
    /// Sorts an I/O error on `path` into the cases a user can act on.
    pub fn from_io(path: &Path, source: io::Error) -> Self {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                OutputError::NotWritable { path, source }
            }
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                OutputError::DiskFull { path, source }
            }
            io::ErrorKind::NotADirectory => OutputError::NotADirectory { path },
            _ => OutputError::Io { path, source },
        }
    }
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputError::NotEmpty { path } => write!(
                f,
                "output folder {} is not empty; choose another or allow overwriting",
                path.display()
            ),
            OutputError::NotADirectory { path } => {
                write!(f, "{} is not a folder", path.display())
            }
            OutputError::NotWritable { path, source } => {
                write!(f, "cannot write to {}: {source}", path.display())
            }
            OutputError::DiskFull { path, source } => {
                write!(
                    f,
                    "no space left while writing {}: {source}",
                    path.display()
                )
            }
            OutputError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            OutputError::InvalidName { name, reason } => {
                write!(
                    f,
                    "the name {name:?} cannot be used in an output file: {reason}"
                )
            }
            OutputError::ShapeMismatch {
                what,
                expected,
                found,
            } => write!(
                f,
                "{what}: the shape calls for {expected} values but {found} were given"
            ),
            OutputError::DuplicateEntry { name } => {
                write!(f, "two arrays would both be stored as {name:?}")
            }
            OutputError::TooLargeForZip { path } => write!(
                f,
                "{} would exceed the 4 GiB limit of a plain .npz file; write .npy files instead",
                path.display()
            ),
            OutputError::Json(error) => write!(f, "cannot encode the summary: {error}"),
        }
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::NotWritable { source, .. }
            | OutputError::DiskFull { source, .. }
            | OutputError::Io { source, .. } => Some(source),
            OutputError::Json(error) => Some(error),
            _ => None,
        }
    }
}

/// Checks that `name` can be part of a file name and a CSV field as it is: not
/// empty, no path separators, no leading dot, no quoting needed.
pub(crate) fn check_name(name: &str) -> Result<(), OutputError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.starts_with('.') {
        Some("it starts with a dot")
    } else if name.contains(['/', '\\']) {
        Some("it contains a path separator")
    } else if name.contains([',', '"', '\n', '\r', '\0']) {
        Some("it contains a comma, quote, line break or NUL")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(OutputError::InvalidName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Running as root makes real permission failures hard to provoke, so the
    /// classification is checked on the errors the kernel would return.
    #[test]
    fn io_errors_are_sorted_into_actionable_cases() {
        let path = Path::new("out/spikes.csv");
        let enospc = io::Error::from_raw_os_error(28);
        assert!(matches!(
            OutputError::from_io(path, enospc),
            OutputError::DiskFull { .. }
        ));
        let eacces = io::Error::from_raw_os_error(13);
        assert!(matches!(
            OutputError::from_io(path, eacces),
            OutputError::NotWritable { .. }
        ));
        let erofs = io::Error::from_raw_os_error(30);
        assert!(matches!(
            OutputError::from_io(path, erofs),
            OutputError::NotWritable { .. }
        ));
        let other = io::Error::other("boom");
        assert!(matches!(
            OutputError::from_io(path, other),
            OutputError::Io { .. }
        ));
    }

    #[test]
    fn names_that_would_escape_the_folder_or_break_csv_are_refused() {
        for name in ["", ".hidden", "a/b", "a\\b", "a,b", "a\"b", "a\nb"] {
            assert!(check_name(name).is_err(), "{name:?}");
        }
        assert!(check_name("exc_1").is_ok());
    }
}
