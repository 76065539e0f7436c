//! `roofsim`: the command line over the roofsim library ([`roofsim::cli`] holds its options
//! and jobs); this binary prints what a job says and turns failures into exit codes.
//!
//! Exit codes: 0 success (also when stdout is closed early), 1 internal or I/O failure,
//! 2 bad input (arguments, config files, workload options).

use clap::Parser;
use roofsim::cli::{Cli, Command};
use std::io::Write;
use std::process::ExitCode;

/// Prints to stdout; a reader that closed the pipe early is not an error.
fn print_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: stdout: {error}");
        std::process::exit(1);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rows = match &cli.command {
        Command::Sweep(args) => Some(args.out.join("sweep.csv")),
        Command::Search(args) => Some(args.out.join("search.csv")),
        _ => None,
    };
    if let Some(csv) = rows {
        // Rows are flushed whole as they finish: an interrupted sweep or search resumes where
        // it stopped.
        let _ = ctrlc::set_handler(move || {
            eprintln!(
                "\ninterrupted: the finished points are in {}; run the same command with \
                 --resume to continue",
                csv.display()
            );
            std::process::exit(130);
        });
    }
    match roofsim::cli::run(&cli.command) {
        Ok(ran) => {
            print_stdout(&ran.text);
            for path in &ran.written {
                eprintln!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            let code = if error.is_user_error() { 2 } else { 1 };
            eprintln!("error: {error}");
            ExitCode::from(code)
        }
    }
}
