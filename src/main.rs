//! The `dante` command: parse the command line, set up logging, run, return an exit code.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("dante: {err:#}");
            ExitCode::from(2)
        }
    }
}
