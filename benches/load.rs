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
//!                               membership,entra,run2)
//!     --no-run2                 skip the second 10,000-user run (memory flatness)
//!     --mirror                  the direct side sends exactly the daemon's LDAP requests (its
//!                               filters, attribute lists, PostRead and paged-results controls,
//!                               the concurrent id lookups), so the ratio shows what the daemon
//!                               process itself costs, apart from the shape of its requests

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, Mod, Scope, SearchEntry};
use serde::Deserialize;
use serde_json::{Value, json};

const PEOPLE: &str = "ou=people,dc=example,dc=com";
const GROUPS: &str = "ou=groups,dc=example,dc=com";
const PLACEHOLDER: &str = "cn=empty-group-placeholder,dc=example,dc=com";
const USER_SCHEMAS: [&str; 3] = [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:contactify:2.0:User",
];
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CONTACTIFY: &str = "urn:ietf:params:scim:schemas:extension:contactify:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Longest any one operation may take before the run is abandoned.
const OP_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Options

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    OpenLdap,
    Ds389,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::OpenLdap => "openldap",
            Server::Ds389 => "389ds",
        }
    }
    /// The account-lock attribute and value the daemon's config writes on active=false.
    fn disable(self) -> (&'static str, &'static str) {
        match self {
            Server::OpenLdap => ("pwdAccountLockedTime", "000001010000Z"),
            Server::Ds389 => ("nsAccountLock", "TRUE"),
        }
    }
    /// Object classes beyond the structural ones that the daemon's config gives new entries.
    fn extra_object_classes(self) -> &'static [&'static str] {
        match self {
            Server::OpenLdap => &[],
            // The MemberOf plugin writes memberOf; nsMemberOf allows it.
            Server::Ds389 => &["nsMemberOf"],
        }
    }
    /// The version token the daemon's config keeps (written with every change, for If-Match).
    fn version_token(self) -> Option<&'static str> {
        match self {
            Server::OpenLdap => None,
            Server::Ds389 => Some("scimVersion"),
        }
    }
    fn version_attr(self) -> &'static str {
        match self {
            Server::OpenLdap => "entryCSN",
            Server::Ds389 => "entryUSN",
        }
    }
}

#[derive(Debug, Clone)]
struct Opts {
    server: Server,
    concurrency: usize,
    users: usize,
    update: usize,
    disable: usize,
    membership: usize,
    members: usize,
    entra_users: usize,
    entra_groups: usize,
    c1: usize,
    chunks: usize,
    pool: usize,
    only: Option<Vec<String>>,
    run2: bool,
    quick: bool,
    mirror: bool,
    reduced: Vec<String>,
}

impl Opts {
    fn parse() -> Opts {
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
                | "only" => {
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
            only: set
                .get("only")
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect()),
            run2: !flags.contains("no-run2"),
            quick,
            mirror: flags.contains("mirror"),
            reduced,
        }
    }

    fn wants(&self, w: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|x| x == w))
    }
}

const HELP: &str = "\
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
  --only a,b                only these: c1,create,match,update,disable,membership,entra,run2
  --no-run2                 skip the second run (memory flatness)
  --mirror                  the direct side sends exactly the daemon's LDAP requests";

/// Prints the usage; exits 0 for --help, 2 for a mistake.
fn usage(msg: &str) -> ! {
    let mistake = !msg.is_empty();
    if mistake {
        eprintln!("load: {msg}");
    }
    eprintln!("usage: scripts/bench [options]\n{HELP}");
    std::process::exit(if mistake { 2 } else { 0 })
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("load: {name} is not set; run this through scripts/bench");
        std::process::exit(2)
    })
}

// ---------------------------------------------------------------------------------------------
// /proc readings

#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    secs: f64,
}

fn clk_tck() -> f64 {
    std::env::var("BENCH_CLK_TCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, in seconds.
fn cpu_of(pid: &str) -> Cpu {
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
fn cpu_fine(pid: &str) -> f64 {
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
fn vm_kib(pid: &str, key: &str) -> u64 {
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

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------------
// The two clients

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Side {
    Scim,
    Direct,
}

impl Side {
    fn tag(self) -> &'static str {
        match self {
            Side::Scim => "s",
            Side::Direct => "d",
        }
    }
}

struct Ctx {
    opts: Opts,
    http: reqwest::Client,
    base: String,
    auth: String,
    ldap: Vec<Ldap>,
    next: AtomicUsize,
    run: String,
    daemon_pid: String,
    slapd_pid: Option<String>,
    /// user or group name -> entryUUID, for both sides.
    ids: Mutex<HashMap<String, String>>,
    /// direct side's attribute list of a full user read (what the daemon reads).
    user_read: Vec<String>,
    /// The server answers the PostRead control (--mirror uses it as the daemon does).
    post_read: bool,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

type OpResult = Result<(), String>;

impl Ctx {
    fn handle(&self) -> Ldap {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.ldap.len();
        self.ldap[i].clone()
    }

    fn user(&self, side: Side, set: &str, i: usize) -> String {
        format!("{}-{}-{set}-{i:05}", self.run, side.tag())
    }

    fn user_dn(&self, name: &str) -> String {
        format!("uid={name},{PEOPLE}")
    }

    fn id(&self, name: &str) -> Result<String, String> {
        self.ids
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no id known for {name}"))
    }

    fn set_id(&self, name: String, id: String) {
        self.ids.lock().unwrap().insert(name, id);
    }

    async fn scim(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        want: u16,
    ) -> Result<Vec<u8>, String> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("authorization", &self.auth);
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if status != want {
            return Err(format!(
                "{method} {path}: HTTP {status} (wanted {want}): {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        Ok(bytes.to_vec())
    }

    // -- SCIM side -----------------------------------------------------------------------

    async fn scim_create(&self, name: &str) -> OpResult {
        let body = serde_json::to_vec(&entra_user(name)).unwrap();
        let out = self
            .scim(reqwest::Method::POST, "/Users", Some(body), 201)
            .await?;
        let c: Created = serde_json::from_slice(&out).map_err(|e| format!("create {name}: {e}"))?;
        self.set_id(name.to_owned(), c.id);
        Ok(())
    }

    async fn scim_match(&self, name: &str, want: usize) -> OpResult {
        let path = format!("/Users?filter=userName%20eq%20%22{name}%22");
        let out = self.scim(reqwest::Method::GET, &path, None, 200).await?;
        check_total(&out, want, name)
    }

    async fn scim_patch(&self, kind: &str, id: &str, ops: Value, want: u16) -> OpResult {
        let body = serde_json::to_vec(&json!({"schemas": [PATCH_OP], "Operations": ops})).unwrap();
        self.scim(
            reqwest::Method::PATCH,
            &format!("/{kind}/{id}"),
            Some(body),
            want,
        )
        .await
        .map(|_| ())
    }

    async fn scim_update(&self, name: &str, i: usize) -> OpResult {
        let id = self.id(name)?;
        let ops = json!([
            {"op": "Replace", "path": "displayName", "value": format!("Updated User {i}")},
            {"op": "Replace", "path": "title", "value": format!("Lead {i}")},
            {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": format!("Dept {i}")},
        ]);
        self.scim_patch("Users", &id, ops, 200).await
    }

    async fn scim_disable(&self, name: &str) -> OpResult {
        let id = self.id(name)?;
        let ops = json!([{"op": "Replace", "path": "active", "value": "False"}]);
        self.scim_patch("Users", &id, ops, 200).await
    }

    async fn scim_create_group(&self, name: &str) -> OpResult {
        let body = serde_json::to_vec(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "externalId": format!("ext-{name}"),
            "displayName": name,
            "members": [],
            "meta": {"resourceType": "Group"},
        }))
        .unwrap();
        let out = self
            .scim(reqwest::Method::POST, "/Groups", Some(body), 201)
            .await?;
        let c: Created = serde_json::from_slice(&out).map_err(|e| format!("group {name}: {e}"))?;
        self.set_id(name.to_owned(), c.id);
        Ok(())
    }

    async fn scim_add_members(&self, group: &str, members: &[String]) -> OpResult {
        let gid = self.id(group)?;
        let mut value = Vec::with_capacity(members.len());
        for m in members {
            value.push(json!({"value": self.id(m)?}));
        }
        let ops = json!([{"op": "Add", "path": "members", "value": value}]);
        self.scim_patch("Groups", &gid, ops, 204).await
    }

    async fn scim_match_group(&self, name: &str, want: usize) -> OpResult {
        let path =
            format!("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22{name}%22");
        let out = self.scim(reqwest::Method::GET, &path, None, 200).await?;
        check_total(&out, want, name)
    }

    // -- direct side ---------------------------------------------------------------------

    async fn search(
        &self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
    ) -> Result<Vec<SearchEntry>, String> {
        let (rs, _) = self
            .handle()
            .search(base, Scope::Subtree, filter, attrs)
            .await
            .map_err(|e| format!("search {filter}: {e}"))?
            .success()
            .map_err(|e| format!("search {filter}: {e}"))?;
        Ok(rs.into_iter().map(SearchEntry::construct).collect())
    }

    /// The DN of the entry with this entryUUID (the id a SCIM client holds).
    async fn dn_of(&self, base: &str, id: &str) -> Result<String, String> {
        let found = self
            .search(base, &format!("(entryUUID={id})"), vec!["1.1".to_owned()])
            .await?;
        found
            .into_iter()
            .next()
            .map(|e| e.dn)
            .ok_or_else(|| format!("no entry with entryUUID {id}"))
    }

    /// The controls the daemon sends with a write (PostRead of what it renders).
    fn write_controls(&self, read: &[String]) -> Vec<ldap3::controls::RawControl> {
        if self.opts.mirror && self.post_read {
            vec![ldap3::controls::PostRead::new(read.to_vec())]
        } else {
            Vec::new()
        }
    }

    /// --mirror on a server without PostRead: the daemon reads the entry back. Returns the
    /// entry's entryUUID when it was read.
    async fn read_back(&self, dn: &str, read: &[String]) -> Result<Option<String>, String> {
        if !self.opts.mirror || self.post_read {
            return Ok(None);
        }
        let (rs, _) = self
            .handle()
            .search(dn, Scope::Base, "(objectClass=*)", read.to_vec())
            .await
            .map_err(|e| format!("read back {dn}: {e}"))?
            .success()
            .map_err(|e| format!("read back {dn}: {e}"))?;
        Ok(rs
            .into_iter()
            .map(SearchEntry::construct)
            .next()
            .and_then(|e| e.attrs.get("entryUUID").and_then(|v| v.first().cloned())))
    }

    async fn direct_create(&self, name: &str) -> OpResult {
        let dn = self.user_dn(name);
        let controls = self.write_controls(&self.user_read);
        self.handle()
            .with_controls(controls)
            .add(&dn, user_attrs(name, self.opts.server))
            .await
            .map_err(|e| format!("add {dn}: {e}"))?
            .success()
            .map_err(|e| format!("add {dn}: {e}"))?;
        self.read_back(&dn, &self.user_read).await.map(|_| ())
    }

    /// A search as the daemon's list sends it (--mirror): objectClass conjunct, paged results.
    async fn paged_search(
        &self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
    ) -> Result<usize, String> {
        let paged = ldap3::controls::PagedResults {
            size: 500,
            cookie: Vec::new(),
        };
        let (rs, _) = self
            .handle()
            .with_controls(paged)
            .search(base, Scope::Subtree, filter, attrs)
            .await
            .map_err(|e| format!("search {filter}: {e}"))?
            .success()
            .map_err(|e| format!("search {filter}: {e}"))?;
        Ok(rs.into_iter().map(SearchEntry::construct).count())
    }

    async fn direct_match(&self, name: &str, want: usize) -> OpResult {
        if self.opts.mirror {
            let filter = format!("(&(objectClass=inetOrgPerson)(uid={name}))");
            let n = self
                .paged_search(PEOPLE, &filter, self.user_read.clone())
                .await?;
            if n != want {
                return Err(format!("match {name}: {n} entries, wanted {want}"));
            }
            return Ok(());
        }
        let found = self
            .search(PEOPLE, &format!("(uid={name})"), self.user_read.clone())
            .await?;
        if found.len() != want {
            return Err(format!(
                "match {name}: {} entries, wanted {want}",
                found.len()
            ));
        }
        Ok(())
    }

    /// The entry to change: its DN only, or (--mirror) the whole entry as the daemon reads it.
    async fn find_user(&self, name: &str) -> Result<String, String> {
        let id = self.id(name)?;
        if !self.opts.mirror {
            return self.dn_of(PEOPLE, &id).await;
        }
        let found = self
            .search(PEOPLE, &format!("(entryUUID={id})"), self.user_read.clone())
            .await?;
        found
            .into_iter()
            .next()
            .map(|e| e.dn)
            .ok_or_else(|| format!("no entry with entryUUID {id}"))
    }

    /// A modify, with the daemon's PostRead under --mirror.
    async fn modify_as_daemon(
        &self,
        dn: &str,
        mods: Vec<Mod<String>>,
        read: &[String],
    ) -> OpResult {
        let controls = self.write_controls(read);
        self.handle()
            .with_controls(controls)
            .modify(dn, mods)
            .await
            .map_err(|e| format!("modify {dn}: {e}"))?
            .success()
            .map_err(|e| format!("modify {dn}: {e}"))?;
        self.read_back(dn, read).await.map(|_| ())
    }

    async fn direct_update(&self, name: &str, i: usize) -> OpResult {
        let dn = self.find_user(name).await?;
        let one = |v: String| HashSet::from([v]);
        self.modify_as_daemon(
            &dn,
            vec![
                Mod::Replace("displayName".to_owned(), one(format!("Updated User {i}"))),
                Mod::Replace("title".to_owned(), one(format!("Lead {i}"))),
                Mod::Replace("departmentNumber".to_owned(), one(format!("Dept {i}"))),
            ],
            &self.user_read,
        )
        .await
    }

    async fn direct_disable(&self, name: &str) -> OpResult {
        let dn = self.find_user(name).await?;
        let (attr, value) = self.opts.server.disable();
        self.modify_as_daemon(
            &dn,
            vec![Mod::Add(attr.to_owned(), HashSet::from([value.to_owned()]))],
            &self.user_read,
        )
        .await
    }

    fn group_read(&self, with_members: bool) -> Vec<String> {
        let mut v: Vec<String> = ["entryUUID", "createTimestamp", "modifyTimestamp"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        v.push(self.opts.server.version_attr().to_owned());
        v.push("cn".to_owned());
        v.push("scimExternalId".to_owned());
        if with_members {
            v.push("member".to_owned());
        }
        v
    }

    async fn direct_create_group(&self, name: &str) -> OpResult {
        let dn = format!("cn={name},{GROUPS}");
        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<HashSet<_>>();
        let mut classes = set(&["groupOfNames", "top", "scimGroup"]);
        classes.extend(
            self.opts
                .server
                .extra_object_classes()
                .iter()
                .map(|c| (*c).to_owned()),
        );
        let attrs = vec![
            ("objectClass".to_owned(), classes),
            ("cn".to_owned(), set(&[name])),
            ("scimExternalId".to_owned(), set(&[&format!("ext-{name}")])),
            ("member".to_owned(), set(&[PLACEHOLDER])),
        ];
        let controls = self.write_controls(&self.group_read(true));
        let res = self
            .handle()
            .with_controls(controls)
            .add(&dn, attrs)
            .await
            .map_err(|e| format!("add {dn}: {e}"))?
            .success()
            .map_err(|e| format!("add {dn}: {e}"))?;
        if self.opts.mirror {
            // --mirror finds the group by id, as the daemon does: the id comes back with the
            // write (PostRead) or from the read-back.
            let from_control = res.ctrls.iter().find_map(|c| {
                (c.1.ctype == "1.3.6.1.1.13.2")
                    .then(|| c.1.parse::<ldap3::controls::PostReadResp>())
                    .and_then(|r| r.attrs.get("entryUUID").and_then(|v| v.first().cloned()))
            });
            let id = match from_control {
                Some(id) => Some(id),
                None => self.read_back(&dn, &self.group_read(true)).await?,
            };
            let id = id.ok_or_else(|| format!("no entryUUID for {dn}"))?;
            self.set_id(name.to_owned(), id);
        }
        Ok(())
    }

    /// One search resolving the members' ids to DNs, one modify adding them (and dropping the
    /// placeholder, as the daemon does for a group that had none).
    async fn direct_add_members(&self, group: &str, members: &[String]) -> OpResult {
        let mut filter = String::from("(|");
        for m in members {
            filter.push_str(&format!("(entryUUID={})", self.id(m)?));
        }
        filter.push(')');
        let found = if self.opts.mirror {
            // The daemon: the group (with its members) and the ids, concurrently; the ids
            // searched under the bases' common ancestor.
            let group_filter = format!("(entryUUID={})", self.id(group)?);
            let (g, found) = tokio::join!(
                self.search(GROUPS, &group_filter, self.group_read(true)),
                self.search(
                    "dc=example,dc=com",
                    &filter,
                    ["entryUUID", "uid", "displayName", "cn"]
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect()
                )
            );
            g?;
            found?
        } else {
            self.search(PEOPLE, &filter, vec!["1.1".to_owned()]).await?
        };
        if found.len() != members.len() {
            return Err(format!(
                "members of {group}: {} of {} found",
                found.len(),
                members.len()
            ));
        }
        let dns: HashSet<String> = found.into_iter().map(|e| e.dn).collect();
        self.modify_as_daemon(
            &format!("cn={group},{GROUPS}"),
            vec![
                Mod::Delete("member".to_owned(), HashSet::from([PLACEHOLDER.to_owned()])),
                Mod::Add("member".to_owned(), dns),
            ],
            &self.group_read(true),
        )
        .await
    }

    async fn direct_match_group(&self, name: &str, want: usize) -> OpResult {
        let attrs = self.group_read(false);
        let n = if self.opts.mirror {
            let filter = format!("(&(objectClass=groupOfNames)(cn={name}))");
            self.paged_search(GROUPS, &filter, attrs).await?
        } else {
            self.search(GROUPS, &format!("(cn={name})"), attrs)
                .await?
                .len()
        };
        if n != want {
            return Err(format!("match group {name}: {n} entries"));
        }
        Ok(())
    }

    /// Reads the entryUUIDs of the direct side's users (or groups) of a set: the ids a SCIM
    /// client gets back from its creates. Not timed.
    async fn learn_ids(&self, base: &str, attr: &str, prefix: &str) -> Result<usize, String> {
        let found = self
            .search(
                base,
                &format!("({attr}={prefix}*)"),
                vec![attr.to_owned(), "entryUUID".to_owned()],
            )
            .await?;
        let n = found.len();
        let mut ids = self.ids.lock().unwrap();
        for e in found {
            let name = e.attrs.get(attr).and_then(|v| v.first()).cloned();
            let id = e.attrs.get("entryUUID").and_then(|v| v.first()).cloned();
            if let (Some(name), Some(id)) = (name, id) {
                ids.insert(name, id);
            }
        }
        Ok(n)
    }

    async fn entry(&self, dn: &str) -> Option<SearchEntry> {
        let (rs, _) = self
            .handle()
            .search(dn, Scope::Base, "(objectClass=*)", vec!["*"])
            .await
            .ok()?
            .success()
            .ok()?;
        rs.into_iter().next().map(SearchEntry::construct)
    }
}

fn check_total(body: &[u8], want: usize, name: &str) -> OpResult {
    let needle = format!("\"totalResults\":{want}");
    if body.windows(needle.len()).any(|w| w == needle.as_bytes()) {
        Ok(())
    } else {
        Err(format!(
            "match {name}: wanted {needle}, got {}",
            String::from_utf8_lossy(body)
        ))
    }
}

/// Entra's create body with seed 000's attributes (tests/it/mod.rs `entra_user`).
fn entra_user(user_name: &str) -> Value {
    json!({
        "schemas": USER_SCHEMAS,
        "externalId": format!("ext-{user_name}"),
        "userName": user_name,
        "active": true,
        "displayName": "Test User",
        "title": "Engineer",
        "emails": [{"primary": true, "type": "work", "value": format!("{user_name}@example.com")}],
        "name": {"formatted": "Given Family", "familyName": "Family", "givenName": "Given"},
        "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield", "postalCode": "12345", "country": "US"}],
        "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}, {"type": "mobile", "value": "+1 555 0101"}],
        "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "display": "Admin", "value": "Admin"}],
        "meta": {"resourceType": "User"},
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"},
        CONTACTIFY: {"orderCard": true, "deliverCardToHeadquarters": "False", "uid": "CX-1", "externalCompanyId": "acme"}
    })
}

/// What the daemon stores for `entra_user(name)` (`scim2ldap explain POST /Users`), as one add.
fn user_attrs(name: &str, server: Server) -> Vec<(String, HashSet<String>)> {
    let mail = format!("{name}@example.com");
    let ext = format!("ext-{name}");
    let pairs: [(&str, &[&str]); 22] = [
        (
            "objectClass",
            &[
                "inetOrgPerson",
                "organizationalPerson",
                "person",
                "top",
                "scimUser",
            ],
        ),
        ("uid", &[name]),
        ("cn", &["Given Family"]),
        ("sn", &["Family"]),
        ("givenName", &["Given"]),
        ("displayName", &["Test User"]),
        ("title", &["Engineer"]),
        ("mail", &[&mail]),
        ("scimExternalId", &[&ext]),
        ("street", &["1 Main St"]),
        ("l", &["Springfield"]),
        ("postalCode", &["12345"]),
        ("scimCountry", &["US"]),
        ("telephoneNumber", &["+1 555 0100"]),
        ("mobile", &["+1 555 0101"]),
        ("scimRole", &["Admin"]),
        ("employeeNumber", &["701984"]),
        ("departmentNumber", &["Tour Operations"]),
        ("scimContactifyUid", &["CX-1"]),
        ("scimExternalCompanyId", &["acme"]),
        ("scimOrderCard", &["TRUE"]),
        ("scimDeliverCardToHeadquarters", &["FALSE"]),
    ];
    let mut attrs: Vec<(String, HashSet<String>)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
        .collect();
    attrs[0].1.extend(
        server
            .extra_object_classes()
            .iter()
            .map(|c| (*c).to_owned()),
    );
    attrs
}

/// The attributes the daemon reads for a user resource (its `read_attributes`).
fn user_read_attrs(server: Server) -> Vec<String> {
    let mut v: Vec<String> = [
        "entryUUID",
        "createTimestamp",
        "modifyTimestamp",
        "scimCountry",
        "postalAddress",
        "l",
        "postalCode",
        "st",
        "street",
        "displayName",
        "mail",
        "scimExternalId",
        "sn",
        "cn",
        "givenName",
        "facsimileTelephoneNumber",
        "mobile",
        "telephoneNumber",
        "preferredLanguage",
        "scimRole",
        "title",
        "scimDeliverCardToHeadquarters",
        "scimExternalCompanyId",
        "scimOrderCard",
        "scimContactifyUid",
        "departmentNumber",
        "employeeNumber",
        "manager",
        "uid",
        "memberOf",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push(server.version_attr().to_owned());
    v.push(server.disable().0.to_owned());
    v
}

// ---------------------------------------------------------------------------------------------
// Running and measuring

type OpFn =
    Arc<dyn Fn(Side, usize) -> Pin<Box<dyn Future<Output = OpResult> + Send>> + Send + Sync>;

#[derive(Debug, Default, Clone)]
struct Tally {
    ops: usize,
    wall: Duration,
    lat_us: Vec<u32>,
    client_cpu: f64,
    daemon_cpu: f64,
    slapd_cpu: f64,
}

impl Tally {
    fn ops_per_s(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            self.ops as f64 / self.wall.as_secs_f64()
        }
    }
    fn pct_ms(&self, p: f64) -> f64 {
        percentile(&self.lat_us, p) / 1000.0
    }
    fn per_op_us(&self, cpu: f64) -> f64 {
        if self.ops == 0 {
            0.0
        } else {
            cpu * 1e6 / self.ops as f64
        }
    }
}

fn percentile(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1])
}

#[derive(Debug, Clone)]
struct Row {
    name: String,
    concurrency: usize,
    /// Per side: Scim, then Direct when compared.
    sides: BTreeMap<Side, Tally>,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        let s = self.sides.get(&Side::Scim)?;
        let d = self.sides.get(&Side::Direct)?;
        let d = d.ops_per_s();
        (d > 0.0).then(|| s.ops_per_s() / d)
    }
    fn added(&self, p: f64) -> Option<f64> {
        Some(self.sides.get(&Side::Scim)?.pct_ms(p) - self.sides.get(&Side::Direct)?.pct_ms(p))
    }
}

/// Runs ops `range` of one side with `concurrency` workers.
async fn run_chunk(
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
async fn compare(
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

fn op<F, Fut>(ctx: &Arc<Ctx>, f: F) -> OpFn
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

/// Creates `n` users of `set` on `sides` at concurrency `c`, as a measured workload.
async fn create_users(
    ctx: &Arc<Ctx>,
    name: &str,
    set: &'static str,
    n: usize,
    c: usize,
    sides: &[Side],
) -> Row {
    let f = op(ctx, move |ctx, side, i| async move {
        let user = ctx.user(side, set, i);
        match side {
            Side::Scim => ctx.scim_create(&user).await,
            Side::Direct => ctx.direct_create(&user).await,
        }
    });
    compare(ctx, name, n, c, sides, f).await
}

async fn match_users(
    ctx: &Arc<Ctx>,
    name: &str,
    set: &'static str,
    n: usize,
    c: usize,
    sides: &[Side],
) -> Row {
    let f = op(ctx, move |ctx, side, i| async move {
        let user = ctx.user(side, set, i);
        match side {
            Side::Scim => ctx.scim_match(&user, 1).await,
            Side::Direct => ctx.direct_match(&user, 1).await,
        }
    });
    compare(ctx, name, n, c, sides, f).await
}

async fn update_users(ctx: &Arc<Ctx>, name: &str, set: &'static str, n: usize, c: usize) -> Row {
    let f = op(ctx, move |ctx, side, i| async move {
        let user = ctx.user(side, set, i);
        match side {
            Side::Scim => ctx.scim_update(&user, i).await,
            Side::Direct => ctx.direct_update(&user, i).await,
        }
    });
    compare(ctx, name, n, c, &[Side::Scim, Side::Direct], f).await
}

async fn learn_direct_ids(ctx: &Arc<Ctx>, set: &str) {
    let prefix = format!("{}-d-{set}-", ctx.run);
    match ctx.learn_ids(PEOPLE, "uid", &prefix).await {
        Ok(n) => {
            eprintln!("load: read {n} entryUUIDs of the direct side's {set} users (not timed)")
        }
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(1);
        }
    }
}

/// Group `g` of a set gets users `g*members ..` of the user set (wrapping).
fn members_of(ctx: &Ctx, side: Side, user_set: &str, users: usize, g: usize) -> Vec<String> {
    let m = ctx.opts.members;
    (0..m)
        .map(|k| ctx.user(side, user_set, (g * m + k) % users))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Output

fn fmt_row(r: &Row) -> String {
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

fn fmt_cpu_row(r: &Row) -> String {
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

fn tally_json(t: &Tally) -> Value {
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

fn row_json(r: &Row) -> Value {
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

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------------------------

/// The daemon's async worker threads, counted in /proc (what `server.threads` gave it).
fn daemon_workers(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.starts_with("tokio-rt-worker"))
                })
                .count()
        })
        .unwrap_or(0)
}

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

/// Whether the rootDSE lists the PostRead control (RFC 4527), as the daemon checks.
async fn supports_post_read(ldap: &mut Ldap) -> bool {
    let Ok(r) = ldap
        .search("", Scope::Base, "(objectClass=*)", vec!["supportedControl"])
        .await
    else {
        return false;
    };
    let Ok((rs, _)) = r.success() else {
        return false;
    };
    rs.into_iter().map(SearchEntry::construct).any(|e| {
        e.attrs
            .get("supportedControl")
            .is_some_and(|v| v.iter().any(|o| o == "1.3.6.1.1.13.2"))
    })
}

async fn connect(url: &str, dn: &str, pw: &str) -> Ldap {
    let (conn, mut ldap) = LdapConnAsync::new(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {url}: {e}"));
    ldap3::drive!(conn);
    ldap.simple_bind(dn, pw)
        .await
        .and_then(|r| r.success())
        .unwrap_or_else(|e| panic!("bind {dn}: {e}"));
    ldap
}

async fn run(opts: Opts) {
    let total = Instant::now();
    let scim_url = env("BENCH_SCIM_URL");
    let ldap_url = env("BENCH_LDAP_URL");
    let bind_dn = env("BENCH_BIND_DN");
    let bind_pw = env("BENCH_BIND_PASSWORD");
    let token = env("BENCH_TOKEN");
    let daemon_pid = env("BENCH_DAEMON_PID");
    let slapd_pid = std::env::var("BENCH_DIRECTORY_PID")
        .ok()
        .filter(|p| !p.is_empty());
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
    let ctx = Arc::new(Ctx {
        post_read,
        user_read: user_read_attrs(opts.server),
        opts: opts.clone(),
        http,
        base: scim_url,
        auth: format!("Bearer {token}"),
        ldap,
        next: AtomicUsize::new(0),
        run,
        daemon_pid: daemon_pid.clone(),
        slapd_pid,
        ids: Mutex::new(HashMap::new()),
    });
    let both = [Side::Scim, Side::Direct];
    let c = opts.concurrency;
    let rss_start = vm_kib(&daemon_pid, "VmRSS:");
    let cpu_start = cpu_of(&daemon_pid).secs;
    let client_cpu_start = cpu_of(&std::process::id().to_string()).secs;

    eprintln!(
        "load: {} · concurrency {c} · {} users · run {} · daemon pid {daemon_pid} (RSS {:.1} MiB at start)",
        opts.server.name(),
        opts.users,
        ctx.run,
        mib(rss_start)
    );

    // Warm-up: every pooled connection of the daemon and of the direct side in use once.
    {
        let f = op(&ctx, |ctx, side, i| async move {
            let user = format!("{}-warm-{i}", ctx.run);
            match side {
                Side::Scim => ctx.scim_match(&user, 0).await,
                Side::Direct => ctx.direct_match(&user, 0).await,
            }
        });
        let _ = compare(&ctx, "warm-up", 200, c.max(8), &both, f).await;
    }
    // Parity: both sides store the same entry for the same body.
    let parity = parity(&ctx).await;
    eprintln!("load: parity of stored users: {parity}");

    let mut rows: Vec<Row> = Vec::new();
    let mut c1_rows: Vec<Row> = Vec::new();
    let mut entra_wall: Option<(f64, f64)> = None;

    if opts.wants("c1") && opts.c1 > 0 {
        let n = opts.c1;
        c1_rows.push(create_users(&ctx, "create (c=1)", "c", n, 1, &both).await);
        learn_direct_ids(&ctx, "c").await;
        c1_rows.push(match_users(&ctx, "match (c=1)", "c", n, 1, &both).await);
        c1_rows.push(update_users(&ctx, "update (c=1)", "c", n, 1).await);
    }

    if opts.wants("create")
        || opts.wants("match")
        || opts.wants("update")
        || opts.wants("disable")
        || opts.wants("membership")
    {
        rows.push(create_users(&ctx, "create", "u", opts.users, c, &both).await);
        learn_direct_ids(&ctx, "u").await;
    }
    if opts.wants("match") {
        rows.push(match_users(&ctx, "match", "u", opts.users, c, &both).await);
    }
    if opts.wants("update") && opts.update > 0 {
        rows.push(update_users(&ctx, "update (3 attributes)", "u", opts.update, c).await);
    }
    if opts.wants("disable") && opts.disable > 0 {
        // The last users of the set, so update and disable touch different entries.
        let n = opts.disable;
        let users = opts.users;
        let f = op(&ctx, move |ctx, side, i| async move {
            let user = ctx.user(side, "u", users - 1 - i);
            match side {
                Side::Scim => ctx.scim_disable(&user).await,
                Side::Direct => ctx.direct_disable(&user).await,
            }
        });
        rows.push(compare(&ctx, "disable (active=false)", n, c, &both, f).await);
    }
    if opts.wants("membership") && opts.membership > 0 {
        let n = opts.membership;
        // The groups, empty (placeholder member), created first; not timed.
        let f = op(&ctx, |ctx, side, i| async move {
            let g = format!("{}-{}-g-{i}", ctx.run, side.tag());
            match side {
                Side::Scim => ctx.scim_create_group(&g).await,
                Side::Direct => ctx.direct_create_group(&g).await,
            }
        });
        let _ = compare(&ctx, "membership set-up (groups)", n, c, &both, f).await;
        let users = opts.users;
        let f = op(&ctx, move |ctx, side, i| async move {
            let g = format!("{}-{}-g-{i}", ctx.run, side.tag());
            let members = members_of(&ctx, side, "u", users, i);
            match side {
                Side::Scim => ctx.scim_add_members(&g, &members).await,
                Side::Direct => ctx.direct_add_members(&g, &members).await,
            }
        });
        let name = format!("membership (+{})", opts.members);
        rows.push(compare(&ctx, &name, n, c, &both, f).await);
    }
    if opts.wants("entra") && opts.entra_users > 0 {
        let f = op(&ctx, |ctx, side, i| async move {
            let user = ctx.user(side, "e", i);
            match side {
                Side::Scim => {
                    ctx.scim_match(&user, 0).await?;
                    ctx.scim_create(&user).await
                }
                Side::Direct => {
                    ctx.direct_match(&user, 0).await?;
                    ctx.direct_create(&user).await
                }
            }
        });
        let users_row = compare(
            &ctx,
            "entra: match→create user",
            opts.entra_users,
            c,
            &both,
            f,
        )
        .await;
        learn_direct_ids(&ctx, "e").await;
        let eu = opts.entra_users;
        let f = op(&ctx, move |ctx, side, i| async move {
            let g = format!("{}-{}-eg-{i}", ctx.run, side.tag());
            let members = members_of(&ctx, side, "e", eu, i);
            match side {
                Side::Scim => {
                    ctx.scim_match_group(&g, 0).await?;
                    ctx.scim_create_group(&g).await?;
                    ctx.scim_add_members(&g, &members).await
                }
                Side::Direct => {
                    ctx.direct_match_group(&g, 0).await?;
                    ctx.direct_create_group(&g).await?;
                    // The direct client reads the new group's id as a SCIM client gets it.
                    ctx.direct_add_members(&g, &members).await
                }
            }
        });
        let name = format!("entra: group +{}", opts.members);
        let groups_row = compare(&ctx, &name, opts.entra_groups, c, &both, f).await;
        let wall = |side: Side| {
            users_row.sides[&side].wall.as_secs_f64() + groups_row.sides[&side].wall.as_secs_f64()
        };
        entra_wall = Some((wall(Side::Scim), wall(Side::Direct)));
        rows.push(users_row);
        rows.push(groups_row);
    }

    let hwm1 = vm_kib(&daemon_pid, "VmHWM:");
    let rss1 = vm_kib(&daemon_pid, "VmRSS:");
    let cpu1 = cpu_of(&daemon_pid).secs - cpu_start;

    let mut run2_rows = Vec::new();
    let mut rss2 = None;
    if opts.run2 && opts.wants("run2") {
        eprintln!("load: second run through scim2ldap only (memory flatness)");
        run2_rows
            .push(create_users(&ctx, "run 2: create", "v", opts.users, c, &[Side::Scim]).await);
        run2_rows.push(match_users(&ctx, "run 2: match", "v", opts.users, c, &[Side::Scim]).await);
        rss2 = Some((vm_kib(&daemon_pid, "VmRSS:"), vm_kib(&daemon_pid, "VmHWM:")));
    }
    let cpu_total = cpu_of(&daemon_pid).secs - cpu_start;
    let client_cpu_total = cpu_of(&std::process::id().to_string()).secs - client_cpu_start;

    // -- the report --------------------------------------------------------------------------
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
    for r in &rows {
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
    for r in &run2_rows {
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
        for r in &c1_rows {
            println!("{}", fmt_row(r));
        }
    }
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
    for r in rows.iter().chain(&run2_rows).chain(&c1_rows) {
        println!("{}", fmt_cpu_row(r));
    }
    println!(
        "(client = this load generator, s = its SCIM/HTTP side, d = its ldap3 side; dir = the directory server; daemon % = daemon CPU / wall, 100 = one core)"
    );
    println!();
    println!(
        "daemon memory: peak RSS (VmHWM) {:.1} MiB after run 1 · RSS {:.1} MiB at start, {:.1} MiB after run 1{}",
        mib(hwm1),
        mib(rss_start),
        mib(rss1),
        rss2.map(|(r, h)| format!(", {:.1} MiB after run 2 (VmHWM {:.1} MiB)", mib(r), mib(h)))
            .unwrap_or_default()
    );
    println!(
        "daemon CPU: {cpu1:.1} s (utime+stime) in run 1, {cpu_total:.1} s in all · load generator CPU: {client_cpu_total:.1} s in all"
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
        total.elapsed().as_secs_f64()
    );

    // -- targets -----------------------------------------------------------------------------
    let mut targets = serde_json::Map::new();
    let mut check = |name: &str, value: Option<f64>, pass: Option<bool>, goal: &str| {
        let verdict = match pass {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "n/a",
        };
        println!(
            "target {name:<34} {goal:<14} {:>10}  {verdict}",
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
    for (w, label) in [
        ("create", "create"),
        ("match", "match"),
        ("update", "update"),
        ("membership", "membership"),
    ] {
        let r = rows
            .iter()
            .find(|r| r.name.starts_with(w))
            .and_then(Row::ratio);
        check(
            &format!("throughput ratio {label}"),
            r,
            r.map(|v| v >= 0.90),
            "≥ 0.90",
        );
    }
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

    let mut workloads = serde_json::Map::new();
    for r in &rows {
        workloads.insert(r.name.clone(), row_json(r));
    }
    let mut c1 = serde_json::Map::new();
    for r in &c1_rows {
        c1.insert(r.name.clone(), row_json(r));
    }
    let mut run2 = serde_json::Map::new();
    for r in &run2_rows {
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
            "rss_start_mib": round1(mib(rss_start)),
            "rss_after_run1_mib": round1(mib(rss1)),
            "rss_after_run2_mib": rss2.map(|(r, _)| round1(mib(r))),
            "peak_rss_after_run2_mib": rss2.map(|(_, h)| round1(mib(h))),
            "cpu_s_run1": round1(cpu1),
            "cpu_s": round1(cpu_total),
        },
        "client_cpu_s": round1(client_cpu_total),
        "reduced": opts.reduced,
        "parity": parity,
        "targets": targets,
        "elapsed_s": round1(total.elapsed().as_secs_f64()),
    });
    println!();
    println!("{summary}");
}

/// Creates one user through each side with the same body and compares what the directory holds.
async fn parity(ctx: &Arc<Ctx>) -> String {
    let s = format!("{}-s-parity", ctx.run);
    let d = format!("{}-d-parity", ctx.run);
    if let Err(e) = ctx.scim_create(&s).await {
        return format!("could not create through scim2ldap: {e}");
    }
    if let Err(e) = ctx.direct_create(&d).await {
        return format!("could not create directly: {e}");
    }
    let (Some(a), Some(b)) = (
        ctx.entry(&ctx.user_dn(&s)).await,
        ctx.entry(&ctx.user_dn(&d)).await,
    ) else {
        return "could not read the two entries back".to_owned();
    };
    let norm = |e: &SearchEntry, name: &str| -> BTreeMap<String, Vec<String>> {
        e.attrs
            .iter()
            .map(|(k, v)| {
                let mut v: Vec<String> = v.iter().map(|x| x.replace(name, "NAME")).collect();
                v.sort();
                (k.to_ascii_lowercase(), v)
            })
            .collect()
    };
    let (mut na, nb) = (norm(&a, &s), norm(&b, &d));
    // The daemon's own bookkeeping, which a hand-written client has no use for.
    let token = ctx
        .opts
        .server
        .version_token()
        .and_then(|t| na.remove(&t.to_ascii_lowercase()).map(|_| t));
    if na == nb {
        match token {
            Some(t) => format!(
                "same {} attributes and values (plus the daemon's version token {t})",
                na.len()
            ),
            None => format!("same {} attributes and values", na.len()),
        }
    } else {
        let mut diff = Vec::new();
        for k in na
            .keys()
            .chain(nb.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            if na.get(k) != nb.get(k) {
                diff.push(format!(
                    "{k}: scim {:?} vs direct {:?}",
                    na.get(k),
                    nb.get(k)
                ));
            }
        }
        format!("DIFFERENT: {}", diff.join("; "))
    }
}
