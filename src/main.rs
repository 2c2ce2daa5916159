//! The `allure-mcp` binary: parse, validate, run. Everything else lives in the library.

use std::process::ExitCode;

use allure_mcp::config::{Cli, Command, Config, SecretSources};
use clap::Parser;

fn main() -> ExitCode {
    // systemd's LISTEN_* first, while no other thread exists: taking the socket consumes
    // that environment.
    let activated = match allure_mcp::systemd::take_activated_listener() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("allure-mcp: {e}");
            return ExitCode::from(2);
        }
    };
    // A .env in the working directory fills what the real environment leaves unset.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    if let Some(Command::RefreshCredentials {
        pid,
        from,
        credentials,
        runtime_dir,
    }) = &cli.command
    {
        return match allure_mcp::systemd::refresh_credentials(*pid, from, credentials, runtime_dir)
        {
            Ok(n) => {
                eprintln!("allure-mcp: refreshed {n} credential file(s) for process {pid}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("allure-mcp: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut config = match Config::from_cli(&cli, &SecretSources::from_env()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("allure-mcp: {e}");
            return ExitCode::from(2);
        }
    };
    // A socket from systemd means HTTP, whatever the command line says.
    config.http |= activated.is_some();
    allure_mcp::logging::init(&config.log_level, config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("allure-mcp: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<ExitCode> = runtime.block_on(async {
        if config.check {
            let ok = allure_mcp::app::check(&config).await?;
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        allure_mcp::app::run(config, activated).await?;
        Ok(ExitCode::SUCCESS)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("allure-mcp: {e}");
            match e.downcast_ref::<allure_mcp::app::AppError>() {
                Some(allure_mcp::app::AppError::Exposed(_)) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}
