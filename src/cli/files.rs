//! The files a command writes (`--out`, `--plot`): checked before any work starts and written
//! so that nothing the user had is lost.
//!
//! - An output may not be one of the command's own inputs, nor another output.
//! - A regular file (or a name that does not exist yet) is written to a temporary file beside
//!   it and renamed over it, so it is never seen half-written. A symbolic link is followed: the
//!   file it points to is replaced, the link stays. A device, pipe or socket (`/dev/stdout`) is
//!   opened and written in place, never replaced by a regular file.
//! - Every temporary file is registered until it is renamed, so that an error or a signal
//!   ([`remove_temporaries`]) never leaves one behind.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

/// A file the command reads, named in messages by what it is.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// "the model file", "the data file", ...
    pub what: &'a str,
    pub path: &'a Path,
}

/// A file the command will write, checked by [`check_outputs`].
#[derive(Clone, Debug)]
pub struct Output {
    /// The flag that named it (`--out`), for messages.
    pub flag: &'static str,
    /// The path as the user gave it, for messages.
    pub shown: PathBuf,
    target: Target,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A regular file, existing or not, at the end of any symbolic links: written to a
    /// temporary file in the same directory, then renamed over it.
    Regular(PathBuf),
    /// A device, pipe or socket: opened and written in place.
    Special(PathBuf),
}

/// Why an output cannot be written; a usage error, found before any work starts.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "{flag} {shown} names {what} ({input}): it would be overwritten; write the result to another file"
    )]
    IsInput {
        flag: &'static str,
        shown: String,
        what: String,
        input: String,
    },
    #[error("{flag} and {other} name the same file ({shown}): one would overwrite the other")]
    SameOutput {
        flag: &'static str,
        other: &'static str,
        shown: String,
    },
    #[error("{flag} {shown} is a directory: give a file name")]
    Directory { flag: &'static str, shown: String },
    #[error("{flag} {shown}: the directory {directory} does not exist")]
    NoDirectory {
        flag: &'static str,
        shown: String,
        directory: String,
    },
    #[error("{flag} {shown}: {message}")]
    Unusable {
        flag: &'static str,
        shown: String,
        message: String,
    },
}

/// Checks every output against the inputs and against each other, and finds where each one's
/// bytes will go. Nothing is created or changed.
pub fn check_outputs(
    inputs: &[Input],
    outputs: &[(&'static str, &Path)],
) -> Result<Vec<Output>, OutputError> {
    let mut checked: Vec<Output> = Vec::with_capacity(outputs.len());
    for &(flag, path) in outputs {
        let shown = path.display().to_string();
        let unusable = |message: String| OutputError::Unusable {
            flag,
            shown: shown.clone(),
            message,
        };
        let target = match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                return Err(OutputError::Directory { flag, shown });
            }
            Ok(meta) if meta.is_file() => {
                // The file at the end of the links is replaced. Where the links cannot be
                // followed by name (`/dev/stdout` redirected to a file resolves through
                // `/proc/self/fd/1`), the file is written in place instead.
                match follow_links(path) {
                    Ok(end) if identity(&end) == Some((meta.dev(), meta.ino())) => {
                        Target::Regular(end)
                    }
                    _ => Target::Special(path.to_path_buf()),
                }
            }
            // A device, pipe or socket, through any links the kernel follows.
            Ok(_) => Target::Special(path.to_path_buf()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A new file, possibly named by a dangling link: created where the link points.
                let end = follow_links(path).map_err(|e| unusable(e.to_string()))?;
                let directory = directory_of(&end);
                if !directory.is_dir() {
                    return Err(OutputError::NoDirectory {
                        flag,
                        shown,
                        directory: directory.display().to_string(),
                    });
                }
                Target::Regular(end)
            }
            Err(e) => return Err(unusable(e.to_string())),
        };
        if let Target::Regular(end) = &target {
            // Only an existing file can be an input; a new name cannot.
            if let Some(identity) = identity(end) {
                for input in inputs {
                    if self::identity(input.path) == Some(identity) {
                        return Err(OutputError::IsInput {
                            flag,
                            shown,
                            what: input.what.to_string(),
                            input: input.path.display().to_string(),
                        });
                    }
                }
            }
            for earlier in &checked {
                if let Target::Regular(other) = &earlier.target
                    && same_place(end, other)
                {
                    return Err(OutputError::SameOutput {
                        flag: earlier.flag,
                        other: flag,
                        shown,
                    });
                }
            }
        }
        checked.push(Output {
            flag,
            shown: path.to_path_buf(),
            target,
        });
    }
    Ok(checked)
}

/// Why writing an output failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {error}")]
pub struct WriteError {
    pub path: String,
    pub error: io::Error,
}

impl Output {
    /// Writes `bytes` to the output: atomically for a regular file, in place for a device.
    pub fn write(&self, bytes: &[u8]) -> Result<(), WriteError> {
        let failed = |error: io::Error| WriteError {
            path: self.shown.display().to_string(),
            error,
        };
        match &self.target {
            Target::Special(path) => {
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(failed)?;
                file.write_all(bytes)
                    .and_then(|()| file.flush())
                    .map_err(failed)
            }
            Target::Regular(path) => write_atomically(path, bytes).map_err(failed),
        }
    }
}

/// The temporary files not yet renamed into place. The lock is held while one is renamed, so
/// that a signal handler removing them never races with a rename.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn temporaries() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    TEMPORARIES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes every temporary file that has not been renamed into place. Called on a signal that
/// ends the process; the returned guard keeps other threads from creating or renaming one until
/// the process has exited.
pub fn remove_temporaries() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    let mut list = temporaries();
    for path in list.drain(..) {
        let _ = fs::remove_file(path);
    }
    list
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(name);
    let mut file = {
        let mut list = temporaries();
        let file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)?;
        list.push(temporary.clone());
        file
    };
    let written = (|| {
        file.write_all(bytes)?;
        // The data is on disk before the rename makes it visible, so a crash leaves the old
        // file or the new one, never an empty one.
        file.sync_all()?;
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(&temporary, meta.permissions())?;
        }
        Ok(())
    })();
    drop(file);
    let mut list = temporaries();
    let result = written.and_then(|()| fs::rename(&temporary, path));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    list.retain(|t| t != &temporary);
    result
}

/// Follows symbolic links to the path that is not a link (which may not exist).
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    // As the kernel does, give up after 40 links.
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = directory_of(&current).join(link);
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// The directory a path's last component lives in (`.` for a bare name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The device and inode of an existing file (links followed).
fn identity(path: &Path) -> Option<(u64, u64)> {
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether two output paths name the same file: the same inode when one exists, otherwise the
/// same name in the same directory.
fn same_place(a: &Path, b: &Path) -> bool {
    match (identity(a), identity(b)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => normalized(a) == normalized(b),
        _ => false,
    }
}

fn normalized(path: &Path) -> Option<PathBuf> {
    let directory = fs::canonicalize(directory_of(path)).ok()?;
    match path.components().next_back() {
        Some(Component::Normal(name)) => Some(directory.join(name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gradc-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn an_output_may_not_be_an_input_by_any_name() {
        let dir = scratch("input");
        let model = dir.join("m.loss");
        fs::write(&model, "param x\n").unwrap();
        std::os::unix::fs::symlink(&model, dir.join("alias.loss")).unwrap();
        fs::hard_link(&model, dir.join("hard.loss")).unwrap();
        let inputs = [Input {
            what: "the model file",
            path: &model,
        }];
        for name in ["m.loss", "alias.loss", "hard.loss"] {
            let out = dir.join(name);
            let error = check_outputs(&inputs, &[("--out", &out)]).unwrap_err();
            assert!(
                matches!(error, OutputError::IsInput { .. }),
                "{name}: {error}"
            );
        }
        let fresh = dir.join("fit.json");
        assert!(check_outputs(&inputs, &[("--out", &fresh)]).is_ok());
    }

    #[test]
    fn two_outputs_may_not_be_one_file() {
        let dir = scratch("same");
        let a = dir.join("same.svg");
        let b = dir.join(".").join("same.svg");
        let error = check_outputs(&[], &[("--out", &a), ("--plot", &b)]).unwrap_err();
        assert!(matches!(error, OutputError::SameOutput { .. }), "{error}");
    }

    #[test]
    fn a_link_is_written_through_and_stays_a_link() {
        let dir = scratch("link");
        let real = dir.join("real.json");
        fs::write(&real, "old").unwrap();
        let link = dir.join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        let outputs = check_outputs(&[], &[("--out", &link)]).unwrap();
        outputs[0].write(b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        assert!(leftovers(&dir).is_empty());
        // A dangling link creates the file it names.
        let dangling = dir.join("dangling.json");
        std::os::unix::fs::symlink("created.json", &dangling).unwrap();
        let outputs = check_outputs(&[], &[("--out", &dangling)]).unwrap();
        outputs[0].write(b"made").unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("created.json")).unwrap(),
            "made"
        );
    }

    #[test]
    fn a_device_is_written_in_place() {
        let outputs = check_outputs(&[], &[("--out", Path::new("/dev/null"))]).unwrap();
        assert!(matches!(outputs[0].target, Target::Special(_)));
        outputs[0].write(b"gone").unwrap();
        assert!(!fs::metadata("/dev/null").unwrap().file_type().is_file());
    }

    #[test]
    fn a_full_device_is_an_error() {
        let outputs = check_outputs(&[], &[("--out", Path::new("/dev/full"))]).unwrap();
        let error = outputs[0].write(b"x").unwrap_err();
        assert_eq!(error.error.raw_os_error(), Some(28), "{error}");
    }

    #[test]
    fn directories_and_missing_directories_are_refused_before_writing() {
        let dir = scratch("dirs");
        let error = check_outputs(&[], &[("--out", &dir)]).unwrap_err();
        assert!(matches!(error, OutputError::Directory { .. }), "{error}");
        let missing = dir.join("no/such/fit.json");
        let error = check_outputs(&[], &[("--out", &missing)]).unwrap_err();
        assert!(matches!(error, OutputError::NoDirectory { .. }), "{error}");
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_file() {
        let dir = scratch("rename");
        let target = dir.join("fit.json");
        let outputs = check_outputs(&[], &[("--out", &target)]).unwrap();
        // The name became a directory after the check: the rename fails.
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), "x").unwrap();
        assert!(outputs[0].write(b"{}").is_err());
        assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
        // (Other tests of this process may have temporary files of their own registered.)
        assert!(!temporaries().iter().any(|t| t.starts_with(&dir)));
    }

    #[test]
    fn the_old_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        let target = dir.join("fit.json");
        fs::write(&target, "old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
        let outputs = check_outputs(&[], &[("--out", &target)]).unwrap();
        outputs[0].write(b"new").unwrap();
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}
