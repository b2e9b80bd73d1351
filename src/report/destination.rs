//! Where an output file goes, checked before a run sends anything, and written through symlinks.
//!
//! Every report and the journal are checked before the first request: a report that cannot be
//! written would otherwise be found out only after the calls were placed. A path may name a
//! file that exists (it is replaced), a symlink (its target is written, atomically, in the
//! target's directory) or nothing yet (its missing directories are created). A directory, a
//! FIFO, a device or a socket is refused: replacing `/dev/full` with a regular file, or blocking
//! on a FIFO nobody reads, is never what the user meant.

use std::io;
use std::path::{Component, Path, PathBuf};

/// How many symlinks are followed before a path counts as a loop.
const MAX_LINKS: usize = 40;

/// Why an output path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// The path names a directory.
    #[error("{0} is a directory")]
    Directory(String),
    /// The path names something that is not a regular file.
    #[error("{0} is {1}, not a regular file")]
    Special(String, &'static str),
    /// A component of the path's directory is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(String),
    /// The path's directory cannot be created or written.
    #[error("cannot write in {0}: {1}")]
    Unwritable(String, String),
    /// Too many symlinks.
    #[error("{0}: too many levels of symbolic links")]
    Loop(String),
    /// Anything else the file system said.
    #[error("{0}: {1}")]
    Io(String, String),
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// What kind of special file a path is, if it is one.
fn special_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        let t = meta.file_type();
        if t.is_fifo() {
            return Some("a FIFO");
        }
        if t.is_char_device() || t.is_block_device() {
            return Some("a device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    (!meta.is_file() && !meta.is_dir()).then_some("a special file")
}

/// The file a write to `path` lands in: `path` itself, or the end of its chain of symlinks
/// (which need not exist yet).
pub fn resolve(path: &Path) -> Result<PathBuf, DestinationError> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)
                    .map_err(|e| DestinationError::Io(shown(&current), e.to_string()))?;
                current = if link.is_absolute() {
                    link
                } else {
                    current.parent().map(|dir| dir.join(&link)).unwrap_or(link)
                };
            }
            _ => return Ok(current),
        }
    }
    Err(DestinationError::Loop(shown(path)))
}

/// The directory a file path lives in (`.` for a bare name).
pub fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks that `path` can be written, creating its missing directories; returns the file the
/// write will land in (through symlinks). Writes nothing to the file itself.
pub fn prepare(path: &Path) -> Result<PathBuf, DestinationError> {
    if path.as_os_str().is_empty()
        || matches!(
            path.components().next_back(),
            Some(Component::ParentDir | Component::RootDir | Component::CurDir)
        )
    {
        return Err(DestinationError::Directory(shown(path)));
    }
    let target = resolve(path)?;
    match std::fs::metadata(&target) {
        Ok(meta) if meta.is_dir() => return Err(DestinationError::Directory(shown(path))),
        Ok(meta) => {
            if let Some(kind) = special_kind(&meta) {
                return Err(DestinationError::Special(shown(path), kind));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) if e.raw_os_error() == Some(20) => {
            // ENOTDIR: a component of the directory is a file.
            return Err(not_a_directory(&target));
        }
        Err(e) => return Err(DestinationError::Io(shown(path), e.to_string())),
    }
    let dir = directory_of(&target);
    match std::fs::metadata(&dir) {
        Ok(meta) if !meta.is_dir() => return Err(DestinationError::NotADirectory(shown(&dir))),
        Ok(_) => {}
        Err(_) => {
            if let Err(e) = std::fs::create_dir_all(&dir) {
                return Err(match e.kind() {
                    io::ErrorKind::AlreadyExists | io::ErrorKind::NotADirectory => {
                        not_a_directory(&target)
                    }
                    _ if e.raw_os_error() == Some(20) => not_a_directory(&target),
                    _ => DestinationError::Unwritable(shown(&dir), e.to_string()),
                });
            }
        }
    }
    // The only sure test of "writable" (permissions, read-only mounts, ACLs): make a file there.
    tempfile::NamedTempFile::new_in(&dir)
        .map_err(|e| DestinationError::Unwritable(shown(&dir), e.to_string()))?;
    Ok(target)
}

/// The first ancestor of `path` that exists but is not a directory.
fn not_a_directory(path: &Path) -> DestinationError {
    let mut at = directory_of(path);
    loop {
        if let Ok(meta) = std::fs::metadata(&at)
            && !meta.is_dir()
        {
            return DestinationError::NotADirectory(shown(&at));
        }
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p.to_path_buf(),
            _ => return DestinationError::NotADirectory(shown(&directory_of(path))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_in_a_new_directory_is_fine_and_the_directory_is_made() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("reports/deep/r.json");
        assert_eq!(prepare(&path).expect("writable"), path);
        assert!(dir.path().join("reports/deep").is_dir());
        assert!(!path.exists(), "nothing is written to the file itself");
    }

    #[test]
    fn a_regular_file_as_the_directory_is_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("afile");
        std::fs::write(&file, "x").expect("written");
        let err = prepare(&file.join("r.xml")).expect_err("refused");
        assert_eq!(err, DestinationError::NotADirectory(shown(&file)));
    }

    #[test]
    fn directories_and_devices_are_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        assert!(matches!(
            prepare(dir.path()),
            Err(DestinationError::Directory(_))
        ));
        #[cfg(unix)]
        assert!(matches!(
            prepare(Path::new("/dev/null")),
            Err(DestinationError::Special(_, "a device"))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_resolves_to_its_target_even_a_dangling_one() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let target = dir.path().join("real/out.json");
        std::fs::create_dir_all(dir.path().join("real")).expect("made");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real/out.json", &link).expect("linked");
        assert_eq!(prepare(&link).expect("writable"), target);
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).expect("linked");
        std::os::unix::fs::symlink(&a, &b).expect("linked");
        assert!(matches!(prepare(&a), Err(DestinationError::Loop(_))));
    }
}
