//! Running one workload: its operations on each side in alternating chunks (A B A B …) at a
//! given concurrency, with latencies, wall time and the CPU each process spent meanwhile.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::client::{Ctx, OP_TIMEOUT, OpResult, Side};
use crate::processes::cpu_fine;

pub type OpFn =
    Arc<dyn Fn(Side, usize) -> Pin<Box<dyn Future<Output = OpResult> + Send>> + Send + Sync>;

#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub ops: usize,
    pub wall: Duration,
    pub lat_us: Vec<u32>,
    pub client_cpu: f64,
    pub daemon_cpu: f64,
    pub slapd_cpu: f64,
}

impl Tally {
    pub fn ops_per_s(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            self.ops as f64 / self.wall.as_secs_f64()
        }
    }
    pub fn pct_ms(&self, p: f64) -> f64 {
        percentile(&self.lat_us, p) / 1000.0
    }
    pub fn per_op_us(&self, cpu: f64) -> f64 {
        if self.ops == 0 {
            0.0
        } else {
            cpu * 1e6 / self.ops as f64
        }
    }
}

pub fn percentile(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1])
}

#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub concurrency: usize,
    /// Per side: Scim, then Direct when compared.
    pub sides: BTreeMap<Side, Tally>,
}

impl Row {
    pub fn ratio(&self) -> Option<f64> {
        let s = self.sides.get(&Side::Scim)?;
        let d = self.sides.get(&Side::Direct)?;
        let d = d.ops_per_s();
        (d > 0.0).then(|| s.ops_per_s() / d)
    }
    pub fn added(&self, p: f64) -> Option<f64> {
        Some(self.sides.get(&Side::Scim)?.pct_ms(p) - self.sides.get(&Side::Direct)?.pct_ms(p))
    }
}

/// Runs ops `range` of one side with `concurrency` workers.
pub async fn run_chunk(
    ctx: &Arc<Ctx>,
    side: Side,
    range: std::ops::Range<usize>,
    concurrency: usize,
    op: &OpFn,
    t: &mut Tally,
) {
    let next = Arc::new(AtomicUsize::new(range.start));
    let end = range.end;
    let me = std::process::id().to_string();
    let (c0, d0, s0) = (
        cpu_fine(&me),
        cpu_fine(&ctx.daemon_pid),
        ctx.slapd_pid.as_deref().map(cpu_fine).unwrap_or_default(),
    );
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.min(range.len()) {
        let next = next.clone();
        let op = op.clone();
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                let t0 = Instant::now();
                // Bounded: a hung daemon or directory ends the run instead of stalling it.
                match tokio::time::timeout(OP_TIMEOUT, op(side, i)).await {
                    Ok(r) => r?,
                    Err(_) => return Err(format!("operation {i} took over {OP_TIMEOUT:?}")),
                }
                lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            Ok::<_, String>(lat)
        }));
    }
    for w in workers {
        match w.await {
            Ok(Ok(lat)) => t.lat_us.extend(lat),
            Ok(Err(e)) => {
                eprintln!("load: operation failed ({side:?} side): {e}");
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("load: worker died: {e}");
                std::process::exit(1);
            }
        }
    }
    t.wall += started.elapsed();
    t.ops += range.len();
    t.client_cpu += cpu_fine(&me) - c0;
    t.daemon_cpu += cpu_fine(&ctx.daemon_pid) - d0;
    if let Some(p) = &ctx.slapd_pid {
        t.slapd_cpu += cpu_fine(p) - s0;
    }
}

/// Runs `ops` operations per side, alternating chunks A B A B ….
pub async fn compare(
    ctx: &Arc<Ctx>,
    name: &str,
    ops: usize,
    concurrency: usize,
    sides: &[Side],
    op: OpFn,
) -> Row {
    let chunk = ops.div_ceil(ctx.opts.chunks).max(concurrency).max(1);
    let mut tallies: BTreeMap<Side, Tally> = sides.iter().map(|s| (*s, Tally::default())).collect();
    let started = Instant::now();
    let mut start = 0;
    while start < ops {
        let end = (start + chunk).min(ops);
        for side in sides {
            let t = tallies.get_mut(side).unwrap();
            run_chunk(ctx, *side, start..end, concurrency, &op, t).await;
        }
        start = end;
    }
    for t in tallies.values_mut() {
        t.lat_us.sort_unstable();
    }
    let row = Row {
        name: name.to_owned(),
        concurrency,
        sides: tallies,
    };
    eprintln!(
        "load: {name} ({ops} ops/side, c={concurrency}) done in {:.1}s{}",
        started.elapsed().as_secs_f64(),
        row.ratio()
            .map(|r| format!(", ratio {r:.2}"))
            .unwrap_or_default()
    );
    row
}

pub fn op<F, Fut>(ctx: &Arc<Ctx>, f: F) -> OpFn
where
    F: Fn(Arc<Ctx>, Side, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = OpResult> + Send + 'static,
{
    let ctx = ctx.clone();
    let f = Arc::new(f);
    Arc::new(move |side, i| {
        let ctx = ctx.clone();
        let f = f.clone();
        Box::pin(async move { f(ctx, side, i).await })
    })
}
