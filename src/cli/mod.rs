//! The command line: `serve`, `check-config`, `explain` (one file each).

mod check_allocate;
mod check_config;
mod explain;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ProcessEnv};

/// Default configuration path (the documented install location).
pub const DEFAULT_CONFIG: &str = "/etc/scim2ldap/scim2ldap.toml";

#[derive(Parser)]
#[command(
    name = "scim2ldap",
    version,
    about = "Provision users and groups from Microsoft Entra ID (or any SCIM 2.0 client) into an LDAP directory"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Serve {
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Validate the file, bind to LDAP, and check every mapped attribute and object class against the server's schema.
    CheckConfig {
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Print the LDAP operations a SCIM request would perform, without writing.
    Explain {
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// HTTP method, e.g. PATCH.
        method: String,
        /// Path below the SCIM base, e.g. /Users/2819c223-7f76-453a-919d-413861904646 (a full /scim/v2/... path works too).
        path: String,
        /// File holding the JSON body.
        body_file: Option<PathBuf>,
    },
}

/// Loads the configuration or prints every problem, one per line.
fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    Config::load(path, &ProcessEnv).map_err(|problems| {
        for p in &problems.0 {
            eprintln!("{}: {p}", path.display());
        }
        ExitCode::from(2)
    })
}

/// The async runtime: with one worker thread (`threads = 1`), everything runs on the thread
/// that serves, with no hand-over to a worker and no wake-up of a second thread per request;
/// otherwise a multi-thread scheduler with `threads` workers (one per CPU by default).
fn runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut b = match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    b.enable_all().build().map_err(|e| {
        eprintln!("cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}

/// Runs the command line.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve { config } => load(&config)
            .and_then(|c| runtime(c.server.threads).and_then(|rt| rt.block_on(serve::run(c)))),
        Command::CheckConfig { config } => load(&config)
            .and_then(|c| runtime(None).and_then(|rt| rt.block_on(check_config::run(c)))),
        Command::Explain {
            config,
            method,
            path,
            body_file,
        } => load(&config).and_then(|c| {
            runtime(None)
                .and_then(|rt| rt.block_on(explain::run(c, &method, &path, body_file.as_deref())))
        }),
    };
    outcome.unwrap_or_else(|code| code)
}
