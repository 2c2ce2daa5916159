//! The integration tests, as one test binary with a module per topic (one build and
//! one link instead of one per file): the client against the fake, the real binary over
//! stdio and HTTP, the security controls, systemd and Nix, tools and their behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic
#![allow(dead_code)] // each module uses its own part of `common`

mod common;

mod analysis;
mod api_search;
mod architecture;
mod bulk_links;
mod caller_tokens;
mod case_extras;
mod cf_admin;
mod check;
mod client;
mod confirm;
mod contract;
mod dashboard;
mod folders;
mod http;
mod https;
mod launch_admin;
mod logging;
mod migration;
mod missing;
mod nix;
mod nspawn;
mod oauth;
mod paging;
mod permissions;
mod prism;
mod progress;
mod reliability;
mod security;
mod settings;
mod stdio;
mod subscriptions;
mod systemd;
mod tasks;
mod testcase_admin;
mod text;
mod tools;
mod tools_behaviour;
mod toolsets;
