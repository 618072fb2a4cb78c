//! The command line (`scripts/bench` passes it on) and the `BENCH_*` environment.

use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    OpenLdap,
    Ds389,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::OpenLdap => "openldap",
            Server::Ds389 => "389ds",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Opts {
    pub server: Server,
    pub concurrency: usize,
    pub users: usize,
    pub update: usize,
    pub disable: usize,
    pub membership: usize,
    pub members: usize,
    pub entra_users: usize,
    pub entra_groups: usize,
    pub c1: usize,
    pub chunks: usize,
    pub pool: usize,
    /// Users the `paging` workload fills the directory with.
    pub paging_users: usize,
    pub only: Option<Vec<String>>,
    pub run2: bool,
    pub quick: bool,
    pub mirror: bool,
    pub reduced: Vec<String>,
}

impl Opts {
    pub fn parse() -> Opts {
        let mut args: Vec<String> = std::env::args().skip(1).collect();
        // `cargo bench` adds --bench for harness = false targets.
        args.retain(|a| a != "--bench");
        let mut set: BTreeMap<String, String> = BTreeMap::new();
        let mut flags: HashSet<String> = HashSet::new();
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                usage(&format!("unexpected argument {a:?}"));
            };
            match name {
                "quick" | "no-run2" | "mirror" => {
                    flags.insert(name.to_owned());
                }
                "help" | "h" => usage(""),
                "server" | "concurrency" | "users" | "update" | "disable" | "membership"
                | "members" | "entra-users" | "entra-groups" | "c1" | "chunks" | "pool"
                | "paging-users" | "only" => {
                    let Some(v) = it.next() else {
                        usage(&format!("--{name} needs a value"));
                    };
                    set.insert(name.to_owned(), v);
                }
                _ => usage(&format!("unknown option --{name}")),
            }
        }
        let num = |k: &str| -> Option<usize> {
            set.get(k).map(|v| {
                v.replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--{k}: {v:?} is not a number")))
            })
        };
        let quick = flags.contains("quick");
        let users = num("users").unwrap_or(if quick { 1000 } else { 10_000 });
        let server = match set.get("server").map(String::as_str) {
            None | Some("openldap") => Server::OpenLdap,
            Some("389ds") => Server::Ds389,
            Some(o) => usage(&format!("--server: {o:?} is not openldap or 389ds")),
        };
        // Against slapd every workload runs at full size: at 10,000 users the whole run
        // takes under two minutes on two cores. 389-ds writes several times slower (its
        // MemberOf plugin takes over a second for 100 members), so there the writes after
        // create run fewer operations by default. Every reduction is printed with the results.
        let slow = server == Server::Ds389;
        let mut reduced = Vec::new();
        let mut pick = |k: &str, full: usize, slow_default: usize, what: &str| -> usize {
            let (n, why) = match num(k) {
                Some(n) => (n, "command line"),
                None if slow && slow_default < full => {
                    (slow_default, "389-ds default, to fit five minutes")
                }
                None => (full, ""),
            };
            if n < full {
                reduced.push(format!("{what}: {n} per side, not {full} ({why})"));
            }
            n
        };
        let update = pick("update", users, users.min(2000), "update");
        let disable = pick("disable", users, users.min(2000), "disable");
        let members = num("members").unwrap_or(100).clamp(1, users.max(1));
        // Each user joins one group: users / members groups, each gaining `members` members.
        let groups = (users / members).max(1);
        let membership = pick("membership", groups, groups.min(20), "membership groups");
        let entra_users = pick("entra-users", users, users.min(2000), "Entra cycle users");
        let entra_groups = pick("entra-groups", 100, 20, "Entra cycle groups");
        Opts {
            server,
            concurrency: num("concurrency").unwrap_or(16).max(1),
            users,
            update: update.min(users),
            disable: disable.min(users),
            membership,
            members,
            entra_users: entra_users.max(1),
            entra_groups,
            c1: num("c1").unwrap_or(if quick { 100 } else { 300 }),
            chunks: num("chunks").unwrap_or(20).max(1),
            pool: num("pool").unwrap_or(4).max(1),
            paging_users: num("paging-users").unwrap_or(100_000),
            only: set
                .get("only")
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect()),
            run2: !flags.contains("no-run2"),
            quick,
            mirror: flags.contains("mirror"),
            reduced,
        }
    }

    /// Whether workload `w` runs: every workload but `paging` by default, only those named
    /// with `--only`.
    pub fn wants(&self, w: &str) -> bool {
        match &self.only {
            Some(o) => o.iter().any(|x| x == w),
            None => w != "paging",
        }
    }
}

pub const HELP: &str = "\
options:
  --server openldap|389ds   which directory (default openldap)
  --concurrency N           requests in flight per side (default 16)
  --users N                 users created and matched per side (default 10000)
  --quick                   a smoke run: --users 1000, --c1 100
  --update N --disable N    ops of those workloads per side (default: --users)
  --membership N            groups gaining --members members each (default: users / members)
  --members N               members added per membership PATCH (default 100)
  --entra-users N           users of the Entra initial cycle (default: --users)
  --entra-groups N          groups of the Entra initial cycle (default 100)
  --c1 N                    ops per side and workload of the concurrency-1 latency run (300)
  --chunks N                A/B chunk pairs per workload (default 20)
  --pool N                  the direct side's LDAP connections (default 4, the daemon's default)
  --only a,b                only these: c1,create,match,update,disable,membership,entra,run2,
                            paging (paging runs only when named: it fills the directory)
  --paging-users N          users the paging workload adds before timing pages (100000)
  --no-run2                 skip the second run (memory flatness)
  --mirror                  the direct side sends exactly the daemon's LDAP requests";

/// Prints the usage; exits 0 for --help, 2 for a mistake.
pub fn usage(msg: &str) -> ! {
    let mistake = !msg.is_empty();
    if mistake {
        eprintln!("load: {msg}");
    }
    eprintln!("usage: scripts/bench [options]\n{HELP}");
    std::process::exit(if mistake { 2 } else { 0 })
}

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("load: {name} is not set; run this through scripts/bench");
        std::process::exit(2)
    })
}

// ---------------------------------------------------------------------------------------------
