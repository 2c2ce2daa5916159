//! A standalone fake Allure TestOps, for benchmarks, demos and other servers' tests.
//! Prints its base URL on stdout, then serves until killed.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use fake_testops::{FakeOptions, FakeTestOps};

#[derive(Parser)]
#[command(about = "A fake Allure TestOps with sample data, on loopback")]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port)
    #[arg(long, default_value = "0")]
    port: u16,
    /// API token to accept (repeatable)
    #[arg(long = "token", default_value = fake_testops::DEMO_TOKEN)]
    tokens: Vec<String>,
    /// JWT lifetime in seconds
    #[arg(long, default_value = "3600")]
    jwt_lifetime: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let fake = FakeTestOps::start_with(FakeOptions {
        api_tokens: args.tokens,
        jwt_lifetime: Duration::from_secs(args.jwt_lifetime),
        bind: SocketAddr::from(([127, 0, 0, 1], args.port)),
        ..FakeOptions::default()
    })
    .await?;
    println!("{}", fake.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
