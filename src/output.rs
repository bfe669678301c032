//! Where reports go: stdout or a file written whole (a temporary file renamed into
//! place, so a failed or interrupted run leaves nothing half-written), as text or
//! JSON, with colour only on a terminal that has not asked for none (`NO_COLOR`).
//! A device or pipe (`-o /dev/null`, a FIFO) is written straight through, since a
//! rename would replace the device itself, and a symlink keeps pointing where it did.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::{Failure, Format};

pub struct Destination {
    format: Option<Format>,
    path: Option<PathBuf>,
}

impl Destination {
    /// `-o -` means stdout, as it does for most command-line tools.
    pub fn new(format: Option<Format>, path: Option<PathBuf>) -> Destination {
        Destination { format, path: path.filter(|p| p.as_os_str() != "-") }
    }

    /// As asked, or JSON for a `.json` file (any case: `UP.JSON`), or text.
    pub fn format(&self) -> Format {
        self.format.unwrap_or(match &self.path {
            Some(p) if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) => Format::Json,
            _ => Format::Text,
        })
    }

    /// Refuses a report that would replace one of the files it was made from (`hasim
    /// run s.yaml -o s.yaml`), checked before anything runs.
    pub fn not_over(&self, inputs: &[PathBuf]) -> Result<(), Failure> {
        let Some(out) = &self.path else { return Ok(()) };
        not_over(out, inputs)
    }

    /// Colour text output only when it goes to a terminal.
    pub fn colour(&self) -> bool {
        self.path.is_none() && colour_allowed() && std::io::stdout().is_terminal()
    }

    pub fn write(&self, text: &str) -> Result<(), Failure> {
        match &self.path {
            None => {
                let mut out = std::io::stdout().lock();
                // A closed pipe (`| head`) is not an error worth a message.
                let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
                Ok(())
            }
            Some(path) => write_whole(path, text.as_bytes()),
        }
    }
}

/// Refuses `out` when it is (after links) one of `inputs`.
pub fn not_over(out: &Path, inputs: &[PathBuf]) -> Result<(), Failure> {
    let Ok(target) = follow_links(out).and_then(std::fs::canonicalize) else { return Ok(()) };
    match inputs.iter().find(|i| std::fs::canonicalize(i).is_ok_and(|i| i == target)) {
        Some(input) => Err(Failure::bad(format!(
            "{} is also an input ({}): the report would replace it; write it to another file",
            out.display(),
            input.display()
        ))),
        None => Ok(()),
    }
}

/// Fails early (before a long run) when `path` cannot be written: its directory is
/// missing or read-only, or it is a directory. Creates nothing that stays.
pub fn check_writable(path: &Path) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::bad(format!("cannot write {}: {}", path.display(), plain(&e)));
    if path.is_dir() {
        return Err(Failure::bad(format!("cannot write {}: it is a directory", path.display())));
    }
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        // A device or pipe is written straight through; opening a pipe now would block.
        return Ok(());
    }
    let target = follow_links(path).map_err(fail)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    tempfile::Builder::new().tempfile_in(&dir).map(drop).map_err(fail)
}

/// An I/O error without the temporary file's path that tempfile appends ("… at path
/// \"/dir/.tmpENcNxX\""): the user named the target, not that file.
fn plain(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(" at path \"") {
        Some((head, _)) => head.to_string(),
        None => text,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, or
/// straight to `path` when it is a device, a pipe or anything under `/dev` or `/proc`
/// (`-o /dev/stdout` names whatever the shell redirected into: appending to it keeps
/// what `>>` kept).
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::bad(format!("cannot write {}: {}", path.display(), plain(&e)));
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
        || path.starts_with("/dev")
        || path.starts_with("/proc");
    if special {
        let mut f = std::fs::OpenOptions::new().append(true).open(path).map_err(fail)?;
        return f.write_all(bytes).and_then(|()| f.flush()).map_err(fail);
    }
    // Renaming onto a symlink would replace the link; replace the file it names.
    let target = follow_links(path).map_err(fail)?;
    let path = target.as_path();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut builder = tempfile::Builder::new();
    // A temporary file is private (0600); the report it becomes should read like any
    // file the user writes (the umask still applies).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(&dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// The file `path` names once every symlink in the way is followed, whether or not
/// that file exists yet (a relative link is read from the link's own directory).
fn follow_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut at = path.to_path_buf();
    // As many hops as Linux follows before it gives up with ELOOP.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                let next = std::fs::read_link(&at)?;
                at = match at.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                };
            }
            _ => return Ok(at),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints one line of a command's own output to stdout. A reader that went away
/// (`hasim check … | head -1`) ends nothing: the command goes on to its verdict and
/// exit code, where `println!` would panic on the broken pipe.
pub fn say_line(line: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(line).and_then(|()| out.write_all(b"\n"));
}

/// `println!` through `say_line`.
macro_rules! say {
    () => { $crate::output::say_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::output::say_line(format_args!($($arg)*)) };
}
pub(crate) use say;

/// Prints an error the one way hasim prints errors.
pub fn error(message: &str) {
    let stderr = std::io::stderr();
    if colour_allowed() && stderr.is_terminal() {
        eprintln!("\x1b[31;1merror\x1b[0m: {message}");
    } else {
        eprintln!("error: {message}");
    }
}

pub fn warning(message: &str) {
    let stderr = std::io::stderr();
    if colour_allowed() && stderr.is_terminal() {
        eprintln!("\x1b[33;1mwarning\x1b[0m: {message}");
    } else {
        eprintln!("warning: {message}");
    }
}
