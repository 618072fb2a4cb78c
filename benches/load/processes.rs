//! What the processes cost, read from /proc: CPU time of the daemon, the directory and this
//! load generator, and the daemon's memory.

/// One reading of the daemon's memory and of the CPU time used so far.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub rss_kib: u64,
    /// Peak RSS (VmHWM).
    pub hwm_kib: u64,
    pub daemon_cpu: f64,
    pub client_cpu: f64,
}

impl Usage {
    pub fn now(daemon_pid: &str) -> Usage {
        Usage {
            rss_kib: vm_kib(daemon_pid, "VmRSS:"),
            hwm_kib: vm_kib(daemon_pid, "VmHWM:"),
            daemon_cpu: cpu_of(daemon_pid).secs,
            client_cpu: cpu_of(&std::process::id().to_string()).secs,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub secs: f64,
}

pub fn clk_tck() -> f64 {
    std::env::var("BENCH_CLK_TCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, in seconds.
pub fn cpu_of(pid: &str) -> Cpu {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Cpu::default();
    };
    // The command name may hold spaces; fields after it are counted from the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat; `rest` starts at field 3.
    Cpu {
        secs: (ticks(11) + ticks(12)) / clk_tck(),
    }
}

/// CPU time of every thread of a process, in seconds, from /proc/PID/task/*/schedstat
/// (nanoseconds; /proc/PID/stat counts 10 ms ticks, too coarse for one chunk). Falls back to
/// `cpu_of` where schedstat is missing.
pub fn cpu_fine(pid: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return cpu_of(pid).secs;
    };
    let mut ns: u64 = 0;
    let mut any = false;
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            if let Some(v) = s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
            {
                ns += v;
                any = true;
            }
        }
    }
    if any {
        ns as f64 / 1e9
    } else {
        cpu_of(pid).secs
    }
}

/// A `Vm…:` line of /proc/PID/status, in KiB.
pub fn vm_kib(pid: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The daemon's async worker threads, counted in /proc (what `server.threads` gave it). A
/// daemon with `threads = 1` runs its tasks on its main thread and has no `tokio-rt-worker`
/// thread: that counts as one.
pub fn daemon_workers(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.starts_with("tokio-rt-worker"))
                })
                .count()
                .max(1)
        })
        .unwrap_or(0)
}
