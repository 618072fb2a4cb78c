//! The report: the throughput and latency tables, CPU per operation, the daemon's memory, the
//! targets with their verdicts, and one final JSON line with everything.

use std::time::Duration;

use serde_json::{Value, json};

use crate::client::{Ctx, Side};
use crate::measure::{Row, Tally};
use crate::processes::{Usage, daemon_workers, mib};
use crate::workloads::FirstRun;

/// Everything a run measured.
pub struct Report<'a> {
    pub ctx: &'a Ctx,
    pub first: FirstRun,
    pub second: Vec<Row>,
    /// At the start, after the first run, at the end.
    pub usage: [Usage; 3],
    pub after_second: Option<Usage>,
    pub parity: String,
    pub paging: Option<crate::paging::Paging>,
    pub elapsed: Duration,
}

/// Run 1's rows, the concurrency-1 rows, run 2's rows, and the Entra cycle's wall time per
/// side (scim2ldap, direct).
type Rows<'a> = (&'a [Row], &'a [Row], &'a [Row], Option<(f64, f64)>);

/// The daemon's memory and CPU figures of a run.
struct Figures {
    rss_start: u64,
    hwm1: u64,
    rss1: u64,
    /// (RSS, VmHWM) after run 2.
    rss2: Option<(u64, u64)>,
    cpu1: f64,
    cpu_total: f64,
    client_cpu_total: f64,
}

impl Report<'_> {
    fn rows(&self) -> Rows<'_> {
        (
            &self.first.rows,
            &self.first.c1_rows,
            &self.second,
            self.first.entra_wall,
        )
    }

    fn figures(&self) -> Figures {
        let [start, first, end] = self.usage;
        Figures {
            rss_start: start.rss_kib,
            hwm1: first.hwm_kib,
            rss1: first.rss_kib,
            rss2: self.after_second.map(|u| (u.rss_kib, u.hwm_kib)),
            cpu1: first.daemon_cpu - start.daemon_cpu,
            cpu_total: end.daemon_cpu - start.daemon_cpu,
            client_cpu_total: end.client_cpu - start.client_cpu,
        }
    }
}

/// Prints the tables, the targets and the JSON summary on stdout.
pub fn print(r: &Report) {
    let f = r.figures();
    throughput_tables(r);
    cpu_table(r);
    totals(r, &f);
    let targets = targets(r, &f);
    let paging = r
        .paging
        .as_ref()
        .map(|p| crate::paging::report(p, r.ctx.opts.server));
    summary(r, &f, targets, paging);
}

fn throughput_tables(r: &Report) {
    let (ctx, opts) = (r.ctx, &r.ctx.opts);
    let c = opts.concurrency;
    let (rows, c1_rows, run2_rows, entra_wall) = r.rows();
    let head = format!(
        "| {:<26} | {:>6} | {:>3} | {:>9} | {:>9} | {:>5} | {:>7} | {:>7} | {:>7} | {:>7} | {:>7} | {:>7} |",
        "workload",
        "ops",
        "c",
        "scim op/s",
        "ldap op/s",
        "ratio",
        "s p50",
        "s p99",
        "d p50",
        "d p99",
        "+p50",
        "+p99"
    );
    let rule: String = head
        .chars()
        .map(|ch| if ch == '|' { '|' } else { '-' })
        .collect();
    println!();
    println!(
        "scim2ldap load benchmark · {} · concurrency {c} · {} users per side · LDAP pool {} (direct) · daemon worker threads {} · run {}{}",
        opts.server.name(),
        opts.users,
        opts.pool,
        daemon_workers(&ctx.daemon_pid),
        ctx.run,
        if opts.mirror {
            " · --mirror: the direct side sends the daemon's exact LDAP requests"
        } else {
            ""
        }
    );
    println!(
        "(ops = per side; s = through scim2ldap, d = direct ldap3; latencies in ms; +p50/+p99 = latency scim2ldap adds)"
    );
    println!("{head}");
    println!("{rule}");
    for r in rows.iter() {
        println!("{}", fmt_row(r));
    }
    if let Some((s, d)) = entra_wall {
        println!(
            "| {:<26} | {:>6} | {:>3} | {:>8.1}s | {:>8.1}s | {:>5.2} | (wall time of the whole cycle per side; ratio = scim/direct time)",
            "entra initial cycle",
            "",
            c,
            s,
            d,
            s / d
        );
    }
    for r in run2_rows.iter() {
        println!("{}", fmt_row(r));
    }
    if !c1_rows.is_empty() {
        println!();
        println!(
            "added latency at concurrency 1 ({} ops per side and workload):",
            opts.c1
        );
        println!("{head}");
        println!("{rule}");
        for r in c1_rows.iter() {
            println!("{}", fmt_row(r));
        }
    }
}

fn cpu_table(r: &Report) {
    let (rows, c1_rows, run2_rows) = (&r.first.rows, &r.first.c1_rows, &r.second);
    println!();
    println!("CPU per operation (µs; from /proc/PID/stat utime+stime while that side ran):");
    let cpu_head = format!(
        "| {:<26} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>8} | {:>8} |",
        "workload",
        "daemon",
        "client s",
        "client d",
        "dir s",
        "dir d",
        "daemon %",
        "wall s",
        "wall d"
    );
    println!("{cpu_head}");
    println!(
        "{}",
        cpu_head
            .chars()
            .map(|ch| if ch == '|' { '|' } else { '-' })
            .collect::<String>()
    );
    for r in rows.iter().chain(run2_rows.iter()).chain(c1_rows.iter()) {
        println!("{}", fmt_cpu_row(r));
    }
    println!(
        "(client = this load generator, s = its SCIM/HTTP side, d = its ldap3 side; dir = the directory server; daemon % = daemon CPU / wall, 100 = one core)"
    );
}

fn totals(r: &Report, f: &Figures) {
    let opts = &r.ctx.opts;
    let (parity, total) = (&r.parity, r.elapsed);
    println!();
    println!(
        "daemon memory: peak RSS (VmHWM) {:.1} MiB after run 1 · RSS {:.1} MiB at start, {:.1} MiB after run 1{}",
        mib(f.hwm1),
        mib(f.rss_start),
        mib(f.rss1),
        f.rss2
            .map(|(r, h)| format!(", {:.1} MiB after run 2 (VmHWM {:.1} MiB)", mib(r), mib(h)))
            .unwrap_or_default()
    );
    println!(
        "daemon CPU: {:.1} s (utime+stime) in run 1, {:.1} s in all · load generator CPU: {:.1} s in all",
        f.cpu1, f.cpu_total, f.client_cpu_total
    );
    println!("parity: {parity}");
    if opts.reduced.is_empty() {
        println!(
            "sizes: every workload at full size ({} ops per side; membership: {} groups × {} members, so every user joins one group; Entra cycle: {} users, then {} groups × {} members)",
            opts.users,
            opts.membership,
            opts.members,
            opts.entra_users,
            opts.entra_groups,
            opts.members
        );
    }
    for r in &opts.reduced {
        println!("reduced: {r}");
    }
    println!(
        "elapsed: {:.0} s for the whole run (after the build and the servers' start)",
        total.as_secs_f64()
    );
}

/// Each target's value, goal and verdict, printed and returned for the JSON line.
fn targets(r: &Report, f: &Figures) -> serde_json::Map<String, Value> {
    let (rows, c1_rows) = (&r.first.rows, &r.first.c1_rows);
    let Figures {
        hwm1, rss1, rss2, ..
    } = *f;
    let entra_wall = r.first.entra_wall;
    let mut targets = serde_json::Map::new();
    let mut check = |name: &str, value: Option<f64>, pass: Option<bool>, goal: &str| {
        let verdict = match pass {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "n/a",
        };
        println!(
            "target {name:<46} {goal:<14} {:>10}  {verdict}",
            value
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "-".to_owned())
        );
        targets.insert(
            name.to_owned(),
            json!({"value": value.map(round3), "goal": goal, "pass": pass}),
        );
    };
    println!();
    let row = |w: &str| rows.iter().find(|r| r.name.starts_with(w));
    for (w, goal) in [
        ("create", 0.90),
        ("match", 0.75),
        ("update", 0.90),
        ("membership", 0.90),
    ] {
        let r = row(w).and_then(Row::ratio);
        check(
            &format!("throughput ratio {w}"),
            r,
            r.map(|v| v >= goal),
            &format!("≥ {goal:.2}"),
        );
    }
    // The daemon's CPU per operation against the directory's own for the same work (its CPU
    // per operation while the direct client ran).
    for w in ["create", "match", "update", "disable", "membership"] {
        let per_op = |side: Side, cpu: fn(&Tally) -> f64| {
            row(w)
                .and_then(|r| r.sides.get(&side))
                .map(|t| t.per_op_us(cpu(t)))
        };
        let daemon = per_op(Side::Scim, |t| t.daemon_cpu);
        let directory = per_op(Side::Direct, |t| t.slapd_cpu).filter(|d| *d > 0.0);
        let share = daemon.zip(directory).map(|(a, b)| a / b);
        check(
            &format!("daemon/directory CPU per op {w}"),
            share,
            share.map(|v| v <= 1.0),
            "≤ 1",
        );
    }
    let match_cpu = row("match")
        .and_then(|r| r.sides.get(&Side::Scim))
        .map(|t| t.per_op_us(t.daemon_cpu));
    check(
        "daemon CPU per match µs",
        match_cpu,
        match_cpu.map(|v| v <= 60.0),
        "≤ 60 µs",
    );
    let c1_added = |p: f64| {
        c1_rows
            .iter()
            .filter_map(|r| r.added(p))
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    };
    let a50 = c1_added(50.0);
    let a99 = c1_added(99.0);
    check(
        "added latency p50 @c1 (worst) ms",
        a50,
        a50.map(|v| v <= 0.3),
        "≤ 0.3 ms",
    );
    check(
        "added latency p99 @c1 (worst) ms",
        a99,
        a99.map(|v| v <= 2.0),
        "≤ 2 ms",
    );
    let peak = mib(hwm1);
    check(
        "daemon peak RSS MiB",
        Some(peak),
        Some(peak <= 40.0),
        "≤ 40 MiB",
    );
    let growth = rss2.map(|(r2, _)| mib(r2) - mib(rss1));
    check(
        "RSS growth in run 2 MiB",
        growth,
        growth.map(|g| g <= (mib(rss1) * 0.10).max(2.0)),
        "flat (≤10%)",
    );
    let entra = entra_wall.map(|(s, d)| s / d);
    check(
        "entra cycle time ratio",
        entra,
        entra.map(|v| v <= 1.1),
        "≤ 1.1",
    );

    targets
}

fn summary(
    r: &Report,
    f: &Figures,
    targets: serde_json::Map<String, Value>,
    paging: Option<Value>,
) {
    let (ctx, opts) = (r.ctx, &r.ctx.opts);
    let c = opts.concurrency;
    let (rows, c1_rows, run2_rows, entra_wall) = r.rows();
    let (parity, total) = (&r.parity, r.elapsed);
    let peak = mib(f.hwm1);
    let mut workloads = serde_json::Map::new();
    for r in rows.iter() {
        workloads.insert(r.name.clone(), row_json(r));
    }
    let mut c1 = serde_json::Map::new();
    for r in c1_rows.iter() {
        c1.insert(r.name.clone(), row_json(r));
    }
    let mut run2 = serde_json::Map::new();
    for r in run2_rows.iter() {
        run2.insert(r.name.clone(), row_json(r));
    }
    let summary = json!({
        "bench": "scim2ldap-load",
        "server": opts.server.name(),
        "concurrency": c,
        "users": opts.users,
        "quick": opts.quick,
        "mirror": opts.mirror,
        "pool": opts.pool,
        "daemon_worker_threads": daemon_workers(&ctx.daemon_pid),
        "workloads": workloads,
        "entra_cycle": entra_wall.map(|(s, d)| json!({"scim2ldap_s": round3(s), "direct_s": round3(d), "ratio": round3(s / d)})),
        "concurrency1": c1,
        "run2": run2,
        "daemon": {
            "peak_rss_mib": round1(peak),
            "rss_start_mib": round1(mib(f.rss_start)),
            "rss_after_run1_mib": round1(mib(f.rss1)),
            "rss_after_run2_mib": f.rss2.map(|(r, _)| round1(mib(r))),
            "peak_rss_after_run2_mib": f.rss2.map(|(_, h)| round1(mib(h))),
            "cpu_s_run1": round1(f.cpu1),
            "cpu_s": round1(f.cpu_total),
        },
        "client_cpu_s": round1(f.client_cpu_total),
        "reduced": opts.reduced,
        "parity": parity,
        "targets": targets,
        "paging": paging,
        "elapsed_s": round1(total.as_secs_f64()),
    });
    println!();
    println!("{summary}");
}

pub fn fmt_row(r: &Row) -> String {
    let s = r.sides.get(&Side::Scim);
    let d = r.sides.get(&Side::Direct);
    let ops = s.or(d).map(|t| t.ops).unwrap_or(0);
    let num = |v: Option<f64>, prec: usize| {
        v.map(|v| format!("{v:.prec$}"))
            .unwrap_or_else(|| "-".to_owned())
    };
    format!(
        "| {:<26} | {:>6} | {:>3} | {:>9} | {:>9} | {:>5} | {:>7} | {:>7} | {:>7} | {:>7} | {:>7} | {:>7} |",
        r.name,
        ops,
        r.concurrency,
        num(s.map(Tally::ops_per_s), 0),
        num(d.map(Tally::ops_per_s), 0),
        num(r.ratio(), 2),
        num(s.map(|t| t.pct_ms(50.0)), 2),
        num(s.map(|t| t.pct_ms(99.0)), 2),
        num(d.map(|t| t.pct_ms(50.0)), 2),
        num(d.map(|t| t.pct_ms(99.0)), 2),
        num(r.added(50.0), 2),
        num(r.added(99.0), 2),
    )
}

pub fn fmt_cpu_row(r: &Row) -> String {
    let s = r.sides.get(&Side::Scim);
    let d = r.sides.get(&Side::Direct);
    let num = |v: Option<f64>| {
        v.map(|v| format!("{v:.0}"))
            .unwrap_or_else(|| "-".to_owned())
    };
    format!(
        "| {:<26} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>8} | {:>8} |",
        r.name,
        num(s.map(|t| t.per_op_us(t.daemon_cpu))),
        num(s.map(|t| t.per_op_us(t.client_cpu))),
        num(d.map(|t| t.per_op_us(t.client_cpu))),
        num(s.map(|t| t.per_op_us(t.slapd_cpu))),
        num(d.map(|t| t.per_op_us(t.slapd_cpu))),
        num(s.map(|t| 100.0 * t.daemon_cpu / t.wall.as_secs_f64().max(1e-9))),
        s.map(|t| format!("{:.1}", t.wall.as_secs_f64()))
            .unwrap_or_else(|| "-".to_owned()),
        d.map(|t| format!("{:.1}", t.wall.as_secs_f64()))
            .unwrap_or_else(|| "-".to_owned()),
    )
}

pub fn tally_json(t: &Tally) -> Value {
    json!({
        "ops": t.ops,
        "wall_s": round3(t.wall.as_secs_f64()),
        "ops_per_s": round1(t.ops_per_s()),
        "p50_ms": round3(t.pct_ms(50.0)),
        "p99_ms": round3(t.pct_ms(99.0)),
        "client_cpu_us_per_op": round1(t.per_op_us(t.client_cpu)),
        "daemon_cpu_us_per_op": round1(t.per_op_us(t.daemon_cpu)),
        "directory_cpu_us_per_op": round1(t.per_op_us(t.slapd_cpu)),
    })
}

pub fn row_json(r: &Row) -> Value {
    let mut v = json!({"concurrency": r.concurrency});
    if let Some(t) = r.sides.get(&Side::Scim) {
        v["scim2ldap"] = tally_json(t);
    }
    if let Some(t) = r.sides.get(&Side::Direct) {
        v["direct"] = tally_json(t);
    }
    if let Some(x) = r.ratio() {
        v["ratio"] = json!(round3(x));
    }
    if let (Some(a), Some(b)) = (r.added(50.0), r.added(99.0)) {
        v["added_p50_ms"] = json!(round3(a));
        v["added_p99_ms"] = json!(round3(b));
    }
    v
}

pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
