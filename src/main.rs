//! The `allure-mcp` binary: parse, validate, run. Everything else lives in the library.

use std::process::ExitCode;

use allure_mcp::config::{CliError, Command, Config, SecretSources};

fn main() -> ExitCode {
    // systemd's LISTEN_* first, while no other thread exists: taking the socket consumes
    // that environment.
    let activated = match allure_mcp::systemd::take_activated_listener() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("allure-mcp: {}", allure_mcp::error_chain(&e));
            return ExitCode::from(2);
        }
    };
    // A .env in the working directory fills this server's own settings, nothing else.
    let cli = match allure_mcp::config::load_cli() {
        Ok((cli, notices)) => {
            for n in notices {
                eprintln!("allure-mcp: {n}");
            }
            cli
        }
        Err(CliError::Usage(e)) => e.exit(),
        Err(CliError::Config(e)) => {
            eprintln!("allure-mcp: {e}");
            return ExitCode::from(2);
        }
    };
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
                eprintln!("allure-mcp: {}", allure_mcp::error_chain(&e));
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
    allure_mcp::logging::init(config.log_level, config.log_format);
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
    let result = runtime.block_on(async {
        if config.check {
            return allure_mcp::check::run(&config).await;
        }
        allure_mcp::app::run(config, activated).await.map(|()| true)
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("allure-mcp: {}", allure_mcp::error_chain(&e));
            // A configuration problem: exit 2, which the unit does not restart on.
            if e.is_configuration() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
