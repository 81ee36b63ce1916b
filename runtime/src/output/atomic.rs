//! Atomic file replacement: a reader sees the old file or the complete new one,
//! never a torn one, even if the process dies or the disk fills mid-write.
//!
//! The bytes go to a temporary file in the destination folder (the same file
//! system, so the rename cannot turn into a copy), which is flushed and `fsync`ed
//! before it is renamed over the destination; the folder is then `fsync`ed so the
//! rename itself survives a power cut. On any failure the temporary file is
//! removed.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{OutputError, check_name};

/// Distinguishes temporary files of concurrent writers in one process.
static TEMPORARY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `dir/file_name` atomically with the bytes that `write` produces and
/// returns the final path.
pub(crate) fn write_atomically(
    dir: &Path,
    file_name: &str,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<PathBuf, OutputError> {
    check_name(file_name)?;
    let destination = dir.join(file_name);
    let serial = TEMPORARY_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temporary = dir.join(format!(".{file_name}.{}.{serial}.tmp", std::process::id()));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .map_err(|error| OutputError::from_io(&temporary, error))?;
    let result = fill_and_sync(file, write)
        .map_err(|error| OutputError::from_io(&destination, error))
        .and_then(|()| {
            std::fs::rename(&temporary, &destination)
                .map_err(|error| OutputError::from_io(&destination, error))
        });
    if let Err(error) = result {
        // The temporary file is ours and useless now; failing to remove it must not
        // hide the error that matters.
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    sync_folder(dir).map_err(|error| OutputError::from_io(dir, error))?;
    Ok(destination)
}

fn fill_and_sync(
    file: File,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut writer = BufWriter::new(file);
    write(&mut writer)?;
    writer.flush()?;
    let file = writer.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()
}

/// Makes a rename in `dir` durable. Only Unix lets a folder be opened and synced.
fn sync_folder(dir: &Path) -> std::io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_destination_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "old").unwrap();
        let path = write_atomically(dir.path(), "a.txt", |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(path).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.txt"]);
    }

    #[test]
    fn a_failing_writer_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "old").unwrap();
        let result = write_atomically(dir.path(), "a.txt", |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::from_raw_os_error(28))
        });
        assert!(matches!(result, Err(OutputError::DiskFull { .. })));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
            "old"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_full_device_is_reported_as_disk_full() {
        // /dev/full accepts opens and fails every write with ENOSPC; it stands in for
        // a full disk without filling one. Not every system has it.
        let Ok(file) = OpenOptions::new().write(true).open("/dev/full") else {
            println!("skipped: /dev/full is not available");
            return;
        };
        let result = fill_and_sync(file, |w| w.write_all(&[0; 1 << 16]));
        let error = OutputError::from_io(Path::new("/dev/full"), result.unwrap_err());
        assert!(matches!(error, OutputError::DiskFull { .. }), "{error:?}");
    }
}
