//! Load generator: the same provisioning work done through scim2ldap (SCIM over HTTP) and
//! directly with ldap3 (the fewest round trips a hand-written client needs), against the same
//! directory in the same process run, interleaved in chunks (A B A B …) so drift cancels out.
//!
//! Run it through `scripts/bench`, which builds the release daemon, starts a throwaway slapd (or
//! 389-ds), starts the daemon as its own process and passes everything here in `BENCH_*`
//! variables. Options (after `cargo bench --bench load --`):
//!
//!     --server openldap|389ds   which directory (default openldap)
//!     --concurrency N           requests in flight per side (default 16)
//!     --users N                 users created and matched per side (default 10000)
//!     --quick                   a smoke run: --users 1000 and the other counts scaled down
//!     --update N --disable N --membership N   ops of those workloads per side
//!     --entra-users N --entra-groups N        size of the Entra initial cycle per side
//!     --c1 N                    ops per side and workload of the concurrency-1 latency run
//!     --chunks N                A/B chunk pairs per workload (default 20)
//!     --pool N                  direct side's LDAP connections (default 4, the daemon's default)
//!     --only a,b                run only these workloads (c1,create,match,update,disable,
//!                               membership,entra,run2,paging; paging runs only when named)
//!     --paging-users N          users the paging workload adds first (default 100000)
//!     --no-run2                 skip the second 10,000-user run (memory flatness)
//!     --mirror                  the direct side sends exactly the daemon's LDAP requests (its
//!                               filters, attribute lists, PostRead and paged-results controls,
//!                               the concurrent id lookups), so the ratio shows what the daemon
//!                               process itself costs, apart from the shape of its requests

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! # Layout
//!
//! - `options`: the command line and the `BENCH_*` environment.
//! - `shape`: what the daemon writes and reads, from its configuration through scim2ldap's
//!   loader and compiled maps (the direct side copies it).
//! - `client`: the shared state of the two clients, and how they connect.
//! - `scim`: the SCIM side's operations (HTTP to the daemon).
//! - `direct`: the direct side's operations (ldap3 to the directory).
//! - `measure`: running one workload on both sides in alternating chunks, latencies and CPU.
//! - `workloads`: the workloads, the warm-up and the parity check.
//! - `paging`: a directory of 100,000 users and the cost of its first, middle and last page.
//! - `processes`: CPU and memory of the daemon, the directory and this process from /proc.
//! - `report`: the tables, the targets and the final JSON line.

mod client;
mod direct;
mod measure;
mod options;
mod paging;
mod processes;
mod report;
mod scim;
mod shape;
mod workloads;

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use client::{Ctx, OP_TIMEOUT, connect, supports_post_read};
use options::{Opts, env};
use processes::Usage;
use shape::Shape;

fn main() {
    let opts = Opts::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::env::var("BENCH_CLIENT_THREADS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2),
        )
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run(opts));
}

/// Connects both clients to what `scripts/bench` started.
async fn setup(opts: &Opts) -> Arc<Ctx> {
    let ldap_url = env("BENCH_LDAP_URL");
    let bind_dn = env("BENCH_BIND_DN");
    let bind_pw = env("BENCH_BIND_PASSWORD");
    let mut ldap = Vec::new();
    for _ in 0..opts.pool {
        ldap.push(connect(&ldap_url, &bind_dn, &bind_pw).await);
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.concurrency.max(64))
        .tcp_nodelay(true)
        .timeout(OP_TIMEOUT)
        .build()
        .expect("http client");
    let run = format!(
        "b{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() % 100_000_000)
            .unwrap_or(0)
    );
    let post_read = supports_post_read(&mut ldap[0]).await;
    Arc::new(Ctx {
        post_read,
        shape: Shape::load(opts.server),
        opts: opts.clone(),
        http,
        base: env("BENCH_SCIM_URL"),
        auth: format!("Bearer {}", env("BENCH_TOKEN")),
        ldap,
        next: AtomicUsize::new(0),
        run,
        daemon_pid: env("BENCH_DAEMON_PID"),
        slapd_pid: std::env::var("BENCH_DIRECTORY_PID")
            .ok()
            .filter(|p| !p.is_empty()),
        ids: Mutex::new(HashMap::new()),
    })
}

async fn run(opts: Opts) {
    let total = Instant::now();
    let ctx = setup(&opts).await;
    let start = Usage::now(&ctx.daemon_pid);
    eprintln!(
        "load: {} · concurrency {} · {} users · run {} · daemon pid {} (RSS {:.1} MiB at start)",
        opts.server.name(),
        opts.concurrency,
        opts.users,
        ctx.run,
        ctx.daemon_pid,
        processes::mib(start.rss_kib)
    );
    workloads::warm_up(&ctx).await;
    let parity = workloads::parity(&ctx).await;
    eprintln!("load: parity of stored users: {parity}");
    let first = workloads::first_run(&ctx).await;
    let after_first = Usage::now(&ctx.daemon_pid);
    let second = workloads::second_run(&ctx).await;
    let after_second = second.as_ref().map(|_| Usage::now(&ctx.daemon_pid));
    let end = Usage::now(&ctx.daemon_pid);
    let paging = if opts.wants("paging") {
        Some(paging::run(&ctx).await)
    } else {
        None
    };
    report::print(&report::Report {
        ctx: &ctx,
        first,
        second: second.unwrap_or_default(),
        usage: [start, after_first, end],
        after_second,
        parity,
        paging,
        elapsed: total.elapsed(),
    });
}
