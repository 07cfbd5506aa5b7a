//! The `wfhook` binary: parse the command line, run the command, map the
//! outcome to an exit code (0, 1 when it fails, 2 for a bad command line).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use wfhook::cli::{self, Command};

fn main() -> ExitCode {
    let command = match cli::parse_from_env() {
        Ok(c) => c,
        Err(e) => {
            say(&e);
            return ExitCode::from(2);
        }
    };
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(&e);
            ExitCode::from(1)
        }
    }
}

/// The error on standard error, which may be a terminal that is gone:
/// never a panic over it.
fn say(e: &dyn std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "wfhook: {e}");
}

fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Help => print!("{}", cli::help()),
        Command::Version => println!("wfhook {}", env!("CARGO_PKG_VERSION")),
        Command::Actions => print!("{}", wfhook::actions::table()),
        Command::Top(args) => wfhook::top::top(args)?,
        Command::Serve(args) => wfhook::serve::serve(*args)?,
        Command::RenderThumbnail(args) => wfhook::thumbnail::child::run(&args)?,
    }
    Ok(())
}
