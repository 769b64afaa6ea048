//! Durable file replacement, shared by every stage that keeps state on disk (key vocabulary,
//! model files, user snapshots, file checkpoints): a temporary file beside the target, fsync,
//! rename over the target, fsync of the directory. A crash leaves the old file or the new one,
//! never a torn one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` atomically, creating its directory if needed. On failure, the
/// path the failing step worked on (the temporary file, the target or the directory) and why.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), (PathBuf, io::Error)> {
    write_with(path, |w| w.write_all(bytes))
}

/// [`write_file`] for contents that `fill` writes piece by piece (buffered), so that a large
/// file (the users' snapshot) is never held in memory whole.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), (PathBuf, io::Error)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fn at(p: &Path) -> impl FnOnce(io::Error) -> (PathBuf, io::Error) + '_ {
        move |e| (p.to_path_buf(), e)
    }
    fs::create_dir_all(dir).map_err(at(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let f = File::create(&tmp).map_err(at(&tmp))?;
    let mut w = io::BufWriter::with_capacity(1 << 16, f);
    fill(&mut w).map_err(at(&tmp))?;
    let f = w.into_inner().map_err(|e| at(&tmp)(e.into_error()))?;
    f.sync_all().map_err(at(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(at(path))?;
    // Make the rename itself durable.
    File::open(dir).and_then(|d| d.sync_all()).map_err(at(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        write_file(&path, b"one").unwrap();
        write_file(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(names.len(), 1);
        // A directory in the way: the error names the path that failed.
        let (at, _) = write_file(&path.join("below-a-file"), b"x").unwrap_err();
        assert!(at.starts_with(&path), "{}", at.display());
    }
}
