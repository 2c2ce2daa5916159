//! The `allure-mcp` binary: parse, validate, run. Everything else lives in the library.

use std::process::ExitCode;

use allure_mcp::config::{Cli, Config, SecretSources};
use clap::Parser;

fn main() -> ExitCode {
    // A .env in the working directory fills what the real environment leaves unset.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let config = match Config::from_cli(&cli, &SecretSources::from_env()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("allure-mcp: {e}");
            return ExitCode::from(2);
        }
    };
    allure_mcp::logging::init(&config.log_level);
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
        allure_mcp::app::run(config).await?;
        Ok(ExitCode::SUCCESS)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("allure-mcp: {e}");
            ExitCode::FAILURE
        }
    }
}
