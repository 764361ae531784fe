//! Writing to a closed pipe ends the process quietly.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe returns `BrokenPipe` and `println!`
//! panics on it (exit status 101, a panic message on stderr): `engine verify … | head` would
//! look like a crash. Restoring the default SIGPIPE action instead would also kill the process
//! when a peer closes a TCP connection under a vectored write, so this module handles the
//! error where it happens: [`print()`]/[`eprint()`] (and the [`outln!`](crate::outln) /
//! [`errln!`](crate::errln) macros) exit with status 141, what a shell reports for a process
//! ended by SIGPIPE, and [`install`] adds a panic hook doing the same for a `println!`
//! anywhere else.

use std::fmt;
use std::io::{self, Write};

/// The exit status after a closed pipe: 128 + SIGPIPE (13), as a shell reports it.
pub const CLOSED_PIPE_EXIT: i32 = 141;

/// Writes to stdout; on a closed pipe ends the process quietly ([`CLOSED_PIPE_EXIT`]).
pub fn print(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let result = out.write_fmt(args).and_then(|()| out.flush());
    exit_if_closed(result);
}

/// Writes to stderr; on a closed pipe ends the process quietly ([`CLOSED_PIPE_EXIT`]).
pub fn eprint(args: fmt::Arguments<'_>) {
    exit_if_closed(io::stderr().lock().write_fmt(args));
}

/// Ends the process quietly if `result` is a closed pipe; other write errors are ignored, as
/// `eprintln!` would have nowhere to report them either.
pub fn exit_if_closed(result: io::Result<()>) {
    if let Err(e) = result
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        std::process::exit(CLOSED_PIPE_EXIT);
    }
}

/// Whether a panic message is the standard library's "failed printing to stdout/stderr:
/// Broken pipe".
pub fn is_closed_pipe_panic(message: &str) -> bool {
    message.starts_with("failed printing to std") && message.contains("Broken pipe")
}

/// Installs a panic hook that ends the process quietly when the panic is a `print!` to a
/// closed pipe, and otherwise reports the panic as before. Call it first thing in `main`.
pub fn install() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if is_closed_pipe_panic(message) {
            std::process::exit(CLOSED_PIPE_EXIT);
        }
        previous(info);
    }));
}

/// `println!` to stdout that ends the process quietly on a closed pipe.
#[macro_export]
macro_rules! outln {
    () => { $crate::pipe::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::pipe::print(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` to stderr that ends the process quietly on a closed pipe.
#[macro_export]
macro_rules! errln {
    () => { $crate::pipe::eprint(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::pipe::eprint(format_args!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_standard_librarys_closed_pipe_panic() {
        assert!(is_closed_pipe_panic(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(is_closed_pipe_panic(
            "failed printing to stderr: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_pipe_panic("index out of bounds"));
        assert!(!is_closed_pipe_panic(
            "failed printing to stdout: No space left on device"
        ));
    }

    #[test]
    fn other_write_errors_do_not_exit() {
        exit_if_closed(Ok(()));
        exit_if_closed(Err(io::Error::other("disk full")));
    }
}
