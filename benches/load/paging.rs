//! The `paging` workload: a directory of `--paging-users` users (100,000 by default), filled
//! directly with ldap3 adds, then `GET /Users?startIndex=S&count=100` timed through scim2ldap
//! at the first, middle and last page, one request at a time, with the entries the daemon
//! read for each page (its `scim2ldap_list_entries_read_total`) and the directory's CPU.
//!
//! It runs only when `--only` names it: the fill takes minutes and leaves the directory much
//! larger than the other workloads expect.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{Ctx, entra_user};
use crate::measure::percentile;
use crate::options::Server;
use crate::processes::cpu_fine;

/// Resources per page, as Okta's import and most pull clients ask.
pub const PAGE: usize = 100;
/// Times each page is fetched; the table shows the median and the slowest.
const REPEAT: usize = 15;
/// Adds in flight while filling.
const FILL_CONCURRENCY: usize = 32;

/// One position in the list, timed.
pub struct Page {
    pub position: &'static str,
    pub start_index: usize,
    /// Request latencies in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// Entries the daemon read from the directory per request.
    pub entries_read: f64,
    /// The directory's CPU per request, in milliseconds (when its pid is known).
    pub directory_ms: Option<f64>,
}

impl Page {
    pub fn p50_ms(&self) -> f64 {
        percentile(&self.latencies_us, 50.0) / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        f64::from(*self.latencies_us.last().unwrap_or(&0)) / 1000.0
    }
}

/// What the workload measured.
pub struct Paging {
    /// Users the directory holds under the users' base (SCIM `totalResults`).
    pub total: usize,
    pub filled: usize,
    pub fill: Duration,
    /// On 389-ds: how long after the fill the users' VLV index first served.
    pub index_wait: Option<Duration>,
    /// On 389-ds: of the list requests timed, how many the users' index
    /// served (its `vlvUses` grew by), and how many there were.
    pub index_served: Option<(u64, u64)>,
    /// On 389-ds: each VLV index (name, `vlvEnabled`, `vlvUses`) at the end.
    pub vlv_indexes: Vec<(String, String, u64)>,
    /// `count=0`: latency and entries read.
    pub count_only: Page,
    pub pages: Vec<Page>,
}

impl Paging {
    /// The 389-ds target: the last page costs at most twice the first (medians).
    pub fn last_over_first(&self) -> f64 {
        let p50 = |pos: &str| {
            self.pages
                .iter()
                .find(|p| p.position == pos)
                .map_or(f64::NAN, Page::p50_ms)
        };
        p50("last") / p50("first")
    }
}

/// Fills the directory, then times the pages.
pub async fn run(ctx: &Arc<Ctx>) -> Paging {
    let started = Instant::now();
    let filled = fill(ctx).await;
    let fill_time = started.elapsed();
    eprintln!(
        "load: paging: {filled} users added directly in {:.1}s ({:.0}/s)",
        fill_time.as_secs_f64(),
        filled as f64 / fill_time.as_secs_f64()
    );
    let index_wait = until_index_serves(ctx).await;
    let uses_before = users_index_uses(ctx).await;
    let (count_only, total) = timed(ctx, "count=0", 1, 0).await;
    eprintln!("load: paging: totalResults {total}");
    assert!(total >= filled, "totalResults {total} < {filled} added");
    let mut pages = Vec::new();
    for (position, start) in [
        ("first", 1),
        ("middle", total / 2),
        ("last", total.saturating_sub(PAGE - 1).max(1)),
    ] {
        let (page, _) = timed(ctx, position, start, PAGE).await;
        eprintln!(
            "load: paging: {position} page (startIndex {start}): p50 {:.1} ms, max {:.1} ms, {:.0} entries read",
            page.p50_ms(),
            page.max_ms(),
            page.entries_read
        );
        pages.push(page);
    }
    let vlv_indexes = vlv_indexes(ctx).await;
    // Every timed position's requests, count=0's included.
    let asked = (pages.len() as u64 + 1) * REQUESTS_PER_POSITION;
    let uses_after = users_index_uses(ctx).await;
    let index_served = uses_before
        .zip(uses_after)
        .map(|(b, a)| (a.saturating_sub(b), asked));
    Paging {
        index_wait,
        index_served,
        total,
        filled,
        fill: fill_time,
        vlv_indexes,
        count_only,
        pages,
    }
}

/// Adds `--paging-users` users with ldap3 from `FILL_CONCURRENCY` tasks over the direct
/// side's connections; returns how many were added.
async fn fill(ctx: &Arc<Ctx>) -> usize {
    let n = ctx.opts.paging_users;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..FILL_CONCURRENCY)
        .map(|_| {
            let (ctx, next) = (ctx.clone(), next.clone());
            tokio::spawn(async move {
                let mut added = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return added;
                    }
                    let name = format!("{}-pg-{i:06}", ctx.run);
                    let dn = ctx.user_dn(&name);
                    ctx.handle()
                        .add(&dn, ctx.shape.user_entry(&entra_user(&name)))
                        .await
                        .and_then(|r| r.success())
                        .unwrap_or_else(|e| panic!("paging fill: add {dn}: {e}"));
                    added += 1;
                    if (i + 1) % 10_000 == 0 {
                        eprintln!(
                            "load: paging: {}/{n} added ({:.0}s)",
                            i + 1,
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
            })
        })
        .collect();
    let mut added = 0;
    for w in workers {
        added += w.await.expect("a fill task panicked");
    }
    added
}

/// The users' VLV index `scripts/bench` creates on 389-ds.
const USERS_INDEX: &str = "scim2ldap-users-by-uid";

/// The requests timed per position, plus the untimed first one.
const REQUESTS_PER_POSITION: u64 = REPEAT as u64 + 1;

/// On 389-ds: the users' VLV index `vlvUses`; None on OpenLDAP.
async fn users_index_uses(ctx: &Ctx) -> Option<u64> {
    if ctx.opts.server != Server::Ds389 {
        return None;
    }
    vlv_indexes(ctx)
        .await
        .into_iter()
        .find(|(n, _, _)| n == USERS_INDEX)
        .map(|(_, _, u)| u)
}

/// On 389-ds: lists one user at a time until the users' VLV index has
/// served one (389-ds enables a new index only when it looks again, about a
/// minute after its creation, and sorts in memory until then); returns how
/// long that took. None on OpenLDAP.
async fn until_index_serves(ctx: &Ctx) -> Option<Duration> {
    if ctx.opts.server != Server::Ds389 {
        return None;
    }
    let started = Instant::now();
    let before = users_index_uses(ctx)
        .await
        .unwrap_or_else(|| panic!("paging: no VLV index {USERS_INDEX} on 389-ds"));
    loop {
        check_page(ctx, "/Users?count=1", 1, 1).await;
        if users_index_uses(ctx).await.unwrap_or(0) > before {
            let waited = started.elapsed();
            eprintln!(
                "load: paging: the users' VLV index serves ({:.0}s after the fill)",
                waited.as_secs_f64()
            );
            return Some(waited);
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "paging: the users' VLV index {USERS_INDEX} never served a list"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The VLV indexes of 389-ds's userRoot with `vlvEnabled` and `vlvUses` (the searches each
/// served), to show that the pages came from an index; empty on OpenLDAP.
async fn vlv_indexes(ctx: &Ctx) -> Vec<(String, String, u64)> {
    if ctx.opts.server != Server::Ds389 {
        return Vec::new();
    }
    let (rs, _) = ctx
        .handle()
        .search(
            "cn=userRoot,cn=ldbm database,cn=plugins,cn=config",
            ldap3::Scope::Subtree,
            "(objectClass=vlvIndex)",
            vec!["cn", "vlvEnabled", "vlvUses"],
        )
        .await
        .and_then(|r| r.success())
        .unwrap_or_else(|e| panic!("paging: reading the VLV indexes: {e}"));
    rs.into_iter()
        .map(ldap3::SearchEntry::construct)
        .map(|e| {
            let first = |a: &str| e.attrs.get(a).and_then(|v| v.first()).cloned();
            (
                first("cn").unwrap_or_default(),
                first("vlvEnabled").unwrap_or_default(),
                first("vlvUses").and_then(|v| v.parse().ok()).unwrap_or(0),
            )
        })
        .collect()
}

/// `REPEAT` sequential requests for one window (after one untimed request that warms the
/// server's caches for it); returns the timings and `totalResults`.
async fn timed(
    ctx: &Ctx,
    position: &'static str,
    start_index: usize,
    count: usize,
) -> (Page, usize) {
    let path = format!("/Users?startIndex={start_index}&count={count}");
    let mut total = check_page(ctx, &path, start_index, count).await;
    let read_before = entries_read(ctx).await;
    let cpu_before = ctx.slapd_pid.as_deref().map(cpu_fine);
    let mut latencies_us = Vec::with_capacity(REPEAT);
    for _ in 0..REPEAT {
        let t = Instant::now();
        total = check_page(ctx, &path, start_index, count).await;
        latencies_us.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let directory_ms = ctx
        .slapd_pid
        .as_deref()
        .zip(cpu_before)
        .map(|(pid, before)| (cpu_fine(pid) - before) * 1000.0 / REPEAT as f64);
    let entries_read = (entries_read(ctx).await - read_before) / REPEAT as f64;
    latencies_us.sort_unstable();
    let page = Page {
        position,
        start_index,
        latencies_us,
        entries_read,
        directory_ms,
    };
    (page, total)
}

/// One list request; checks the window's size and start; returns `totalResults`.
async fn check_page(ctx: &Ctx, path: &str, start_index: usize, count: usize) -> usize {
    let body = ctx
        .scim(reqwest::Method::GET, path, None, 200)
        .await
        .unwrap_or_else(|e| panic!("paging: {e}"));
    let v: Value = serde_json::from_slice(&body).unwrap();
    let total = v["totalResults"].as_u64().unwrap() as usize;
    let want = count.min(total.saturating_sub(start_index - 1));
    let got = v["Resources"].as_array().map_or(0, Vec::len);
    assert_eq!(got, want, "paging: {path}: {got} resources, wanted {want}");
    if want > 0 {
        assert_eq!(
            v["startIndex"],
            json!(start_index),
            "paging: {path}: startIndex"
        );
    }
    total
}

/// The daemon's `scim2ldap_list_entries_read_total`, summed over its labels.
async fn entries_read(ctx: &Ctx) -> f64 {
    let url = ctx.base.replace("/scim/v2", "/metrics");
    let text = ctx
        .http
        .get(url)
        .header("authorization", &ctx.auth)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("paging: /metrics: {e}"))
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("scim2ldap_list_entries_read_total"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// The table, the target line and the JSON of the workload.
pub fn report(p: &Paging, server: Server) -> Value {
    println!();
    println!(
        "paging: {} users (totalResults), {} added directly in {:.1}s; GET /Users?startIndex=S&count={PAGE}, one at a time, {REPEAT} requests each",
        p.total,
        p.filled,
        p.fill.as_secs_f64()
    );
    println!(
        "{:<10} {:>11} {:>9} {:>9} {:>14} {:>16}",
        "page", "startIndex", "p50 ms", "max ms", "entries read", "directory ms"
    );
    for page in std::iter::once(&p.count_only).chain(&p.pages) {
        println!(
            "{:<10} {:>11} {:>9.1} {:>9.1} {:>14.0} {:>16}",
            page.position,
            page.start_index,
            page.p50_ms(),
            page.max_ms(),
            page.entries_read,
            page.directory_ms
                .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1}"))
        );
    }
    for (name, enabled, uses) in &p.vlv_indexes {
        println!("VLV index {name}: vlvEnabled {enabled}, vlvUses {uses}");
    }
    if let Some(w) = p.index_wait {
        println!(
            "the users' VLV index first served {:.0}s after the fill",
            w.as_secs_f64()
        );
    }
    let ratio = p.last_over_first();
    // On 389-ds the target counts only when the index served every timed request.
    let pass = match (server, p.index_served) {
        (Server::Ds389, Some((served, asked))) => {
            println!("the users' VLV index served {served} of the {asked} list requests timed");
            Some(ratio <= 2.0 && served == asked)
        }
        _ => None,
    };
    match pass {
        Some(pass) => println!(
            "target: last page <= 2x the first, every page from the VLV index: {ratio:.2}x {}",
            if pass { "MET" } else { "MISSED" }
        ),
        None => println!(
            "OpenLDAP (sssvlv sorts the matches per request): last page {ratio:.2}x the first"
        ),
    }
    let page_json = |page: &Page| {
        json!({
            "position": page.position,
            "start_index": page.start_index,
            "p50_ms": page.p50_ms(),
            "max_ms": page.max_ms(),
            "entries_read": page.entries_read,
            "directory_ms": page.directory_ms,
        })
    };
    json!({
        "total": p.total,
        "filled": p.filled,
        "fill_s": p.fill.as_secs_f64(),
        "vlv_indexes": p.vlv_indexes.iter().map(|(n, e, u)| json!({"name": n, "enabled": e, "uses": u})).collect::<Vec<_>>(),
        "count_only": page_json(&p.count_only),
        "pages": p.pages.iter().map(page_json).collect::<Vec<_>>(),
        "last_over_first": ratio,
        "index_wait_s": p.index_wait.map(|w| w.as_secs_f64()),
        "index_served": p.index_served.map(|(served, asked)| json!({"served": served, "asked": asked})),
        "target_met": pass,
    })
}
