//! Provisioning under faults. Sixteen clients that retry as Entra does (503
//! and 429 after Retry-After, a lost connection after a pause) drive more than
//! 2,000 SCIM writes while the directory is killed or stalled, or while the
//! daemon itself is killed. Afterwards the directory must hold exactly what
//! the acknowledged operations imply: every acknowledged write present, no
//! duplicate entry, no member DN pointing at nothing.
//!
//! Test names end in `under_load`: `scripts/test` runs them on their own after
//! the rest of the suite, so their CPU does not skew other tests' timings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ldap3::{LdapConnAsync, Scope, SearchEntry};
use scim2ldap::config::Config;
use scim2ldap::ldap::Dn;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::faults::{PrivateServer, on_private};
use super::{ADMIN_PW, Env, Server, TOKEN, entra_user, patch_body, unique};

const CLIENTS: usize = 16;
const USERS_PER_CLIENT: usize = 40;
const GROUPS: usize = 4;
/// Writes the load sends when nothing fails (4 group creates aside).
pub const WRITES: usize = CLIENTS * (USERS_PER_CLIENT * 3 + 14 + 10 + 8);

/// What the clients saw.
#[derive(Default)]
pub struct Tally {
    pub attempts: AtomicUsize,
    pub acknowledged: AtomicUsize,
    pub unavailable: AtomicUsize,
    pub busy: AtomicUsize,
    pub connection_errors: AtomicUsize,
    /// 409 on a create or 404 on a delete after an unanswered attempt: that
    /// attempt had landed.
    pub replayed: AtomicUsize,
    pub slowest_ms: AtomicU64,
}

pub fn get(n: &AtomicUsize) -> usize {
    n.load(Ordering::Relaxed)
}

fn bump(n: &AtomicUsize) {
    n.fetch_add(1, Ordering::Relaxed);
}

/// What one user must look like at the end.
#[derive(Debug, Clone)]
pub struct Expect {
    id: String,
    user_name: String,
    title: String,
    active: bool,
    group: usize,
    deleted: bool,
}

/// The clients' side: where they send, and what happened.
pub struct Load {
    /// Daemons the requests go to, in turn, as a load balancer sends them.
    bases: Vec<String>,
    turn: AtomicUsize,
    /// Held for writing, it lets the requests on their way finish and holds
    /// back new ones (a fault injected between requests).
    pub gate: tokio::sync::RwLock<()>,
    http: reqwest::Client,
    pub tally: Tally,
    deadline: Instant,
}

impl Load {
    fn new(base: String) -> Arc<Load> {
        Load::spread(vec![base])
    }

    /// Clients whose requests alternate between the daemons at `bases`.
    pub fn spread(bases: Vec<String>) -> Arc<Load> {
        Arc::new(Load {
            bases,
            turn: AtomicUsize::new(0),
            gate: tokio::sync::RwLock::new(()),
            http: reqwest::Client::new(),
            tally: Tally::default(),
            deadline: Instant::now() + Duration::from_secs(240),
        })
    }

    /// Sends until the answer is neither 503, 429 nor a lost connection, as
    /// Entra retries. Returns the status, the body, and whether an earlier
    /// attempt went unanswered (so it may have landed).
    async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value, bool) {
        let mut retried = false;
        loop {
            assert!(
                Instant::now() < self.deadline,
                "the load did not finish in time ({method} {path})"
            );
            bump(&self.tally.attempts);
            let pass = self.gate.read().await;
            let base = &self.bases[self.turn.fetch_add(1, Ordering::Relaxed) % self.bases.len()];
            let mut req = self
                .http
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .bearer_auth(TOKEN)
                .timeout(Duration::from_secs(30));
            if let Some(b) = body {
                req = req
                    .header("content-type", "application/scim+json")
                    .body(b.to_string());
            }
            let started = Instant::now();
            let answer = match req.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let retry_after = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                    r.bytes().await.ok().map(|b| (status, retry_after, b))
                }
                Err(_) => None,
            };
            drop(pass);
            self.tally
                .slowest_ms
                .fetch_max(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            match answer {
                None => {
                    bump(&self.tally.connection_errors);
                    retried = true;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Some((status @ (503 | 429), retry_after, body)) => {
                    bump(if status == 503 {
                        &self.tally.unavailable
                    } else {
                        &self.tally.busy
                    });
                    let wait = retry_after.unwrap_or_else(|| {
                        panic!(
                            "{status} without Retry-After: {}",
                            String::from_utf8_lossy(&body)
                        )
                    });
                    retried = true;
                    tokio::time::sleep(Duration::from_secs(wait.min(5))).await;
                }
                Some((status, _, body)) => {
                    let v = if body.is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_slice(&body).unwrap_or_else(|_| {
                            Value::String(String::from_utf8_lossy(&body).into_owned())
                        })
                    };
                    return (status, v, retried);
                }
            }
        }
    }

    fn ack(&self) {
        bump(&self.tally.acknowledged);
    }

    pub async fn until_acknowledged(&self, n: usize) {
        while get(&self.tally.acknowledged) < n {
            assert!(Instant::now() < self.deadline, "stuck before {n} writes");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn figures(&self) -> String {
        let t = &self.tally;
        format!(
            "{} requests sent, {} writes acknowledged, {} answered 503, {} answered 429, {} connection errors, {} replays found landed, slowest answer {} ms",
            get(&t.attempts),
            get(&t.acknowledged),
            get(&t.unavailable),
            get(&t.busy),
            get(&t.connection_errors),
            get(&t.replayed),
            t.slowest_ms.load(Ordering::Relaxed)
        )
    }
}

/// One client: 40 users, each created, retitled, added to a group; every
/// third disabled, every fourth renamed, every fifth deleted.
async fn client(load: Arc<Load>, run: Arc<str>, c: usize, groups: Arc<Vec<String>>) -> Vec<Expect> {
    let mut out = Vec::new();
    for i in 0..USERS_PER_CLIENT {
        let name = format!("{run}-c{c}-u{i}");
        let (s, v, retried) = load.send("POST", "/Users", Some(&entra_user(&name))).await;
        let id = match s {
            201 => v["id"].as_str().unwrap().to_owned(),
            // An unanswered attempt created it: find it, as Entra matches.
            409 if retried => {
                bump(&load.tally.replayed);
                let (s, v, _) = load
                    .send(
                        "GET",
                        &format!("/Users?filter=userName%20eq%20%22{name}%22"),
                        None,
                    )
                    .await;
                assert_eq!((s, &v["totalResults"]), (200, &json!(1)), "{name}: {v}");
                v["Resources"][0]["id"].as_str().unwrap().to_owned()
            }
            _ => panic!("create {name}: {s} {v}"),
        };
        load.ack();
        let mut e = Expect {
            id: id.clone(),
            user_name: name.clone(),
            title: format!("title-{c}-{i}"),
            active: true,
            group: (c + i) % GROUPS,
            deleted: false,
        };
        let user = format!("/Users/{id}");
        let retitle = patch_body(json!([{"op": "replace", "path": "title", "value": e.title}]));
        let (s, v, _) = load.send("PATCH", &user, Some(&retitle)).await;
        assert_eq!(s, 200, "retitle {name}: {v}");
        load.ack();
        let add = patch_body(json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]));
        let (s, v, _) = load
            .send("PATCH", &format!("/Groups/{}", groups[e.group]), Some(&add))
            .await;
        assert_eq!(s, 204, "add {name} to a group: {v}");
        load.ack();
        if i % 3 == 0 {
            let disable =
                patch_body(json!([{"op": "Replace", "path": "active", "value": "False"}]));
            let (s, v, _) = load.send("PATCH", &user, Some(&disable)).await;
            assert_eq!(s, 200, "disable {name}: {v}");
            assert_eq!(v["active"], false, "{v}");
            e.active = false;
            load.ack();
        }
        if i % 4 == 0 {
            // A modify and a modrdn in one request.
            e.user_name = format!("{name}-renamed");
            e.title = format!("renamed-{c}-{i}");
            let rename = patch_body(json!([
                {"op": "replace", "path": "userName", "value": e.user_name},
                {"op": "replace", "path": "title", "value": e.title},
            ]));
            let (s, v, _) = load.send("PATCH", &user, Some(&rename)).await;
            assert_eq!(s, 200, "rename {name}: {v}");
            assert_eq!(v["userName"], e.user_name.as_str(), "{v}");
            load.ack();
        }
        if i % 5 == 0 {
            let (s, v, retried) = load.send("DELETE", &user, None).await;
            match s {
                204 => {}
                404 if retried => bump(&load.tally.replayed),
                _ => panic!("delete {name}: {s} {v}"),
            }
            e.deleted = true;
            load.ack();
        }
        out.push(e);
    }
    out
}

/// Runs the 16 clients and `fault` side by side; returns what the directory
/// must hold.
pub async fn drive(
    load: &Arc<Load>,
    run: &str,
    groups: &[String],
    fault: impl std::future::Future<Output = ()>,
) -> Vec<Expect> {
    let run: Arc<str> = Arc::from(run);
    let groups = Arc::new(groups.to_vec());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| tokio::spawn(client(load.clone(), run.clone(), c, groups.clone())))
        .collect();
    fault.await;
    let mut expected = Vec::new();
    for c in clients {
        expected.extend(c.await.unwrap());
    }
    assert_eq!(get(&load.tally.acknowledged), WRITES, "{}", load.figures());
    expected
}

/// Creates the groups the load fills; returns their ids and DNs.
pub async fn groups(load: &Load, config: &Config, run: &str) -> (Vec<String>, Vec<String>) {
    let map = config.groups.as_ref().unwrap();
    let mut ids = Vec::new();
    let mut dns = Vec::new();
    for g in 0..GROUPS {
        let name = format!("{run}-group-{g}");
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": []});
        let (s, v, _) = load.send("POST", "/Groups", Some(&body)).await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
        dns.push(map.dn_for(&name).to_string());
    }
    (ids, dns)
}

pub fn norm(dn: &str) -> String {
    Dn::parse(dn)
        .unwrap_or_else(|e| panic!("{dn}: {e}"))
        .to_string()
        .to_lowercase()
}

/// Asserts the directory holds exactly what it should: nothing more (an
/// entry or member value that should not exist, dangling or stale) and
/// nothing less (an acknowledged write missing).
fn same_set(have: &BTreeSet<String>, want: &BTreeSet<String>, what: &str) {
    assert_eq!(
        have.difference(want).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "{what} that should not be there"
    );
    assert_eq!(
        want.difference(have).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "{what}: acknowledged ones missing"
    );
}

/// Reads the directory and compares it with `expected`, exactly. Returns a
/// summary of what was found.
pub async fn verify(
    server: Server,
    url: &str,
    config: &Config,
    run: &str,
    expected: &[Expect],
    group_dns: &[String],
) -> String {
    let (conn, mut ldap) = LdapConnAsync::new(url).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(server.bind_dn(), ADMIN_PW)
        .await
        .unwrap()
        .success()
        .unwrap();
    let users = &config.users;
    let disable = users.disable.first().unwrap();
    let (found, _) = ldap
        .search(
            &users.base.to_string(),
            Scope::Subtree,
            &format!("({}={run}-*)", users.rdn),
            vec!["uid", "title", "entryUUID", disable.attribute.as_str()],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let mut by_name: BTreeMap<String, Vec<SearchEntry>> = BTreeMap::new();
    for e in found.into_iter().map(SearchEntry::construct) {
        let uid = super::attr(&e, "uid").unwrap().to_lowercase();
        by_name.entry(uid).or_default().push(e);
    }
    let dupes: Vec<_> = by_name.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(dupes.is_empty(), "duplicate entries: {dupes:?}");
    let live: Vec<&Expect> = expected.iter().filter(|e| !e.deleted).collect();
    let want: BTreeSet<String> = live.iter().map(|e| e.user_name.to_lowercase()).collect();
    let have: BTreeSet<String> = by_name.keys().cloned().collect();
    same_set(&have, &want, "users");
    for e in &live {
        let entry = &by_name[&e.user_name.to_lowercase()][0];
        assert_eq!(
            super::attr(entry, "title").as_deref(),
            Some(e.title.as_str()),
            "{}",
            e.user_name
        );
        assert_eq!(
            super::attr(entry, "entryUUID").map(|u| u.to_lowercase()),
            Some(e.id.to_lowercase()),
            "{}",
            e.user_name
        );
        let locked = super::attrs(entry, &disable.attribute)
            .iter()
            .any(|v| v.eq_ignore_ascii_case(&disable.value));
        assert_eq!(locked, !e.active, "{} disabled", e.user_name);
    }
    let members = super::group_members(config);
    let placeholder = members.placeholder.as_ref().map(|p| norm(&p.to_string()));
    let mut memberships = 0;
    for (g, dn) in group_dns.iter().enumerate() {
        let (rs, _) = ldap
            .search(dn, Scope::Base, "(objectClass=*)", vec![&members.attribute])
            .await
            .unwrap()
            .success()
            .unwrap();
        let entry = SearchEntry::construct(rs.into_iter().next().unwrap());
        let mut have: BTreeSet<String> = super::attrs(&entry, &members.attribute)
            .iter()
            .map(|v| norm(v))
            .collect();
        let want: BTreeSet<String> = live
            .iter()
            .filter(|e| e.group == g)
            .map(|e| norm(&users.dn_for(&e.user_name).to_string()))
            .collect();
        if let Some(p) = &placeholder {
            if want.is_empty() {
                have.remove(p);
            }
        }
        same_set(&have, &want, &format!("{dn}: members"));
        memberships += have.len();
    }
    let _ = ldap.unbind().await;
    format!(
        "found exactly as expected: {} users ({} deleted absent, {} disabled), {} memberships in {} groups",
        live.len(),
        expected.len() - live.len(),
        live.iter().filter(|e| !e.active).count(),
        memberships,
        group_dns.len()
    )
}

/// One scenario: creates the groups, runs the clients with `fault` beside
/// them, compares the directory at `url` exactly with what the clients were
/// acknowledged, and prints the figures.
async fn exercise(
    what: &str,
    server: Server,
    url: &str,
    config: &Config,
    load: &Arc<Load>,
    fault: impl std::future::Future<Output = ()>,
) {
    let run = unique("load");
    let (ids, dns) = groups(load, config, &run).await;
    let started = Instant::now();
    let expected = drive(load, &run, &ids, fault).await;
    let took = started.elapsed();
    let found = verify(server, url, config, &run, &expected, &dns).await;
    eprintln!(
        "{what} ({server:?}, {took:.1?}): {}; {found}",
        load.figures()
    );
}

/// A blocking step (signals, process starts) without stalling the runtime.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// The directory SIGKILLed twice during the load and restarted a second later.
pub async fn directory_killed_under_load(server: Server) {
    let dir = PrivateServer::of(server);
    let d = on_private(&dir).await;
    let load = Load::new(d.base.clone());
    let fault = async {
        for at in [WRITES / 5, WRITES * 3 / 5] {
            load.until_acknowledged(at).await;
            blocking(|| dir.kill());
            tokio::time::sleep(Duration::from_secs(1)).await;
            blocking(|| dir.restart());
        }
    };
    let what = "directory killed twice under load";
    exercise(what, server, &dir.url, &d.config, &load, fault).await;
    assert!(
        get(&load.tally.unavailable) > 0,
        "the kills never reached a request: {}",
        load.figures()
    );
}

/// The directory stalled (SIGSTOP) past the operation timeout during the load.
pub async fn directory_stalled_under_load(server: Server) {
    let dir = PrivateServer::of(server);
    let d = on_private(&dir).await;
    let load = Load::new(d.base.clone());
    let fault = async {
        load.until_acknowledged(WRITES / 3).await;
        blocking(|| dir.signal("-STOP"));
        tokio::time::sleep(Duration::from_secs(4)).await;
        blocking(|| dir.signal("-CONT"));
    };
    let what = "directory stalled 4 s under load";
    exercise(what, server, &dir.url, &d.config, &load, fault).await;
    assert!(get(&load.tally.unavailable) > 0, "{}", load.figures());
    // The operation timeout is 2 s and the request timeout 5 s: no hang.
    let slowest = load.tally.slowest_ms.load(Ordering::Relaxed);
    assert!(slowest < 5_500, "a request hung for {slowest} ms");
}

/// The daemon binary, which a test can kill and start again on the same port.
pub struct Binary {
    server: Server,
    config: PathBuf,
    log: PathBuf,
    ldap_url: String,
    port: u16,
    child: Option<Child>,
    pub pid: Arc<AtomicU32>,
}

impl Binary {
    /// Starts the binary; its pid is kept in `pid` across restarts.
    pub async fn start(server: Server, text: &str, ldap_url: &str, pid: Arc<AtomicU32>) -> Binary {
        let dir = std::env::temp_dir().join(unique("scim2ldap-bin"));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("scim2ldap.toml");
        std::fs::write(&config, text).unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut b = Binary {
            server,
            config,
            log: dir.join("daemon.log"),
            ldap_url: ldap_url.to_owned(),
            port,
            child: None,
            pid,
        };
        b.spawn().await;
        b
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/scim/v2", self.port)
    }

    /// The parsed configuration, as the binary sees it.
    pub fn config(&self) -> Config {
        let env = Env(vec![
            ("SCIM2LDAP_LDAP_URL".into(), self.ldap_url.clone()),
            (
                "SCIM2LDAP_LDAP_BIND_DN".into(),
                self.server.bind_dn().into(),
            ),
            ("SCIM2LDAP_LDAP_BIND_PASSWORD".into(), ADMIN_PW.into()),
            ("SCIM2LDAP_TOKEN".into(), TOKEN.into()),
        ]);
        Config::parse(&std::fs::read_to_string(&self.config).unwrap(), &env).unwrap()
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_scim2ldap"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("SCIM2LDAP_LDAP_URL", &self.ldap_url)
            .env("SCIM2LDAP_LDAP_BIND_DN", self.server.bind_dn())
            .env("SCIM2LDAP_LDAP_BIND_PASSWORD", ADMIN_PW)
            .env("SCIM2LDAP_TOKEN", TOKEN)
            .env("SCIM2LDAP_LISTEN", format!("127.0.0.1:{}", self.port))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.pid.store(child.id(), Ordering::SeqCst);
        self.child = Some(child);
        super::until_ready(self.port, || {
            std::fs::read_to_string(&self.log).unwrap_or_default()
        })
        .await;
    }

    /// SIGKILL (unless something killed it already) and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the daemon if it still runs and starts it again on the same port.
    pub async fn restart(&mut self) {
        blocking(|| self.kill());
        self.spawn().await;
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The daemon SIGKILLed twice during the load and started again. It runs
/// with the shipped config's one worker thread, which serves the 16 clients.
pub async fn daemon_killed_under_load(server: Server) {
    let text = super::config_text(server);
    assert!(
        text.contains("\nthreads = 1\n"),
        "the shipped config sets one worker thread"
    );
    let mut daemon = Binary::start(server, &text, &server.url(), Arc::default()).await;
    let config = daemon.config();
    let load = Load::new(daemon.base());
    let fault = async {
        for at in [WRITES / 5, WRITES * 3 / 5] {
            load.until_acknowledged(at).await;
            daemon.restart().await;
        }
    };
    let what = "daemon killed twice under load";
    exercise(what, server, &server.url(), &config, &load, fault).await;
    assert!(
        get(&load.tally.connection_errors) > 0,
        "the kills never reached a request: {}",
        load.figures()
    );
}

/// LDAP operation tags (RFC 4511 protocolOp).
const MODIFY_REQUEST: u8 = 0x66;
const MODIFY_DN_REQUEST: u8 = 0x6c;
const DEL_REQUEST: u8 = 0x4a;

/// A TCP proxy in front of the directory. Armed with an operation tag, it
/// kills the daemon (by pid) when the daemon sends that operation, instead of
/// forwarding it: a crash exactly between two steps of one request. Armed to
/// refuse, it answers the next few such operations itself with noSuchObject,
/// as 389-ds does when it cannot lock an entry under concurrent writes.
struct CrashProxy {
    url: String,
    armed: Arc<AtomicU8>,
    fired: Arc<AtomicBool>,
    refuse_op: Arc<AtomicU8>,
    refuse_left: Arc<AtomicU32>,
    refused: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CrashProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The response tag of a request's (RFC 4511: the request's tag + 1 for
/// modify, add, modrdn; delete's response is 0x6b).
fn response_tag(request: u8) -> u8 {
    if request == DEL_REQUEST {
        0x6b
    } else {
        request + 1
    }
}

/// An LDAP result message answering message `id` with noSuchObject, the way
/// 389-ds refuses a write whose entry it could not lock in time.
fn refusal(id: &[u8], request: u8) -> Vec<u8> {
    let diag = b"injected: find_entry_internal_dn - Retry count exceeded";
    let mut result = vec![0x0a, 0x01, 32, 0x04, 0x00, 0x04, diag.len() as u8];
    result.extend_from_slice(diag);
    let mut body = vec![0x02, id.len() as u8];
    body.extend_from_slice(id);
    body.extend([response_tag(request), result.len() as u8]);
    body.extend(result);
    let mut msg = vec![0x30, body.len() as u8];
    msg.extend(body);
    msg
}

/// The messageID bytes of the LDAPMessage at the start of `buf`.
fn message_id(buf: &[u8]) -> &[u8] {
    let header = if buf[1] < 0x80 {
        2
    } else {
        2 + (buf[1] & 0x7f) as usize
    };
    let id_len = buf[header + 1] as usize;
    &buf[header + 2..header + 2 + id_len]
}

/// Length and protocolOp tag of the first whole LDAPMessage in `buf`.
fn ldap_frame(buf: &[u8]) -> Option<(usize, u8)> {
    if buf.len() < 2 {
        return None;
    }
    assert_eq!(buf[0], 0x30, "not an LDAPMessage");
    let (len, header) = if buf[1] < 0x80 {
        (buf[1] as usize, 2)
    } else {
        let n = (buf[1] & 0x7f) as usize;
        if buf.len() < 2 + n {
            return None;
        }
        let len = buf[2..2 + n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | *b as usize);
        (len, 2 + n)
    };
    let total = header + len;
    if buf.len() < total {
        return None;
    }
    // messageID INTEGER (short length), then the operation's tag.
    let id_len = buf[header + 1] as usize;
    Some((total, buf[header + 2 + id_len]))
}

impl CrashProxy {
    async fn start(upstream: &str, victim: Arc<AtomicU32>) -> CrashProxy {
        let upstream = upstream
            .trim_start_matches("ldap://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ldap://{}", listener.local_addr().unwrap());
        let armed = Arc::new(AtomicU8::new(0));
        let fired = Arc::new(AtomicBool::new(false));
        let refuse_op = Arc::new(AtomicU8::new(0));
        let refuse_left = Arc::new(AtomicU32::new(0));
        let refused = Arc::new(AtomicU32::new(0));
        let (a, f) = (armed.clone(), fired.clone());
        let (ro, rl, rd) = (refuse_op.clone(), refuse_left.clone(), refused.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (a, f, victim) = (a.clone(), f.clone(), victim.clone());
                let (ro, rl, rd) = (ro.clone(), rl.clone(), rd.clone());
                tokio::spawn(async move {
                    let (mut cr, cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    // Whole messages only, so an injected answer never lands
                    // inside one of the server's.
                    let cw = Arc::new(tokio::sync::Mutex::new(cw));
                    let to_client = cw.clone();
                    let back = tokio::spawn(async move {
                        let mut buf = Vec::new();
                        let mut chunk = vec![0u8; 64 * 1024];
                        loop {
                            let n = match sr.read(&mut chunk).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            buf.extend_from_slice(&chunk[..n]);
                            let mut whole = 0;
                            while let Some((len, _)) = ldap_frame(&buf[whole..]) {
                                whole += len;
                            }
                            if whole > 0 {
                                if to_client
                                    .lock()
                                    .await
                                    .write_all(&buf[..whole])
                                    .await
                                    .is_err()
                                {
                                    break;
                                }
                                buf.drain(..whole);
                            }
                        }
                    });
                    let mut buf = Vec::new();
                    let mut chunk = vec![0u8; 64 * 1024];
                    'conn: loop {
                        let n = match cr.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some((len, op)) = ldap_frame(&buf) {
                            if op == ro.load(Ordering::SeqCst)
                                && rl
                                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                        n.checked_sub(1)
                                    })
                                    .is_ok()
                            {
                                let answer = refusal(message_id(&buf), op);
                                if cw.lock().await.write_all(&answer).await.is_err() {
                                    break 'conn;
                                }
                                rd.fetch_add(1, Ordering::SeqCst);
                                buf.drain(..len);
                                continue;
                            }
                            if op == a.load(Ordering::SeqCst)
                                && a.compare_exchange(op, 0, Ordering::SeqCst, Ordering::SeqCst)
                                    .is_ok()
                            {
                                let pid = victim.load(Ordering::SeqCst).to_string();
                                let _ = Command::new("kill").args(["-KILL", &pid]).status();
                                f.store(true, Ordering::SeqCst);
                                break 'conn;
                            }
                            if sw.write_all(&buf[..len]).await.is_err() {
                                break 'conn;
                            }
                            buf.drain(..len);
                        }
                    }
                    back.abort();
                });
            }
        });
        CrashProxy {
            url,
            armed,
            fired,
            refuse_op,
            refuse_left,
            refused,
            task,
        }
    }

    fn arm(&self, op: u8) {
        self.fired.store(false, Ordering::SeqCst);
        self.armed.store(op, Ordering::SeqCst);
    }

    /// Answers the next `times` operations tagged `op` with noSuchObject.
    fn refuse(&self, op: u8, times: u32) {
        self.refused.store(0, Ordering::SeqCst);
        self.refuse_op.store(op, Ordering::SeqCst);
        self.refuse_left.store(times, Ordering::SeqCst);
    }

    /// How many operations were refused since the last `refuse`.
    fn refused(&self) -> u32 {
        self.refused.load(Ordering::SeqCst)
    }

    fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

/// A rename + retitle stopped after its modrdn (which goes first), before its
/// modify: the entry under its new name, without the new title, nothing left
/// under the old name.
async fn halfway_renamed(checker: &super::Daemon, old_dn: &str, new_dn: &str, title: &str) {
    let halfway = checker
        .entry(new_dn)
        .await
        .expect("the entry under its new name");
    assert_ne!(super::attr(&halfway, "title").as_deref(), Some(title));
    assert!(checker.entry(old_dn).await.is_none());
}

/// A rename + retitle whose modrdn was refused: nothing written, the entry
/// under its old name with its old title.
async fn not_renamed(checker: &super::Daemon, old_dn: &str, new_dn: &str, title: &str) {
    let kept = checker
        .entry(old_dn)
        .await
        .expect("the entry under its old name");
    assert_eq!(super::attr(&kept, "title").as_deref(), Some(title));
    assert!(checker.entry(new_dn).await.is_none());
}

/// The daemon dies exactly between the modrdn and the modify of a rename, and
/// between the membership clean-up and the delete of a user: each time the
/// directory is left in a state the client's retry completes.
pub async fn crash_between_steps_is_completed_by_the_retry(server: Server) {
    let victim = Arc::new(AtomicU32::new(0));
    let proxy = CrashProxy::start(&server.url(), victim.clone()).await;
    let mut daemon = Binary::start(server, &super::config_text(server), &proxy.url, victim).await;
    let config = daemon.config();
    let load = Load::new(daemon.base());
    let checker = super::Daemon::start(server).await;
    let name = unique("steps");
    let (s, user, _) = load.send("POST", "/Users", Some(&entra_user(&name))).await;
    assert_eq!(s, 201, "{user}");
    let id = user["id"].as_str().unwrap().to_owned();
    let group = format!("{name}-group");
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": group, "members": [{"value": id}]});
    let (s, v, _) = load.send("POST", "/Groups", Some(&body)).await;
    assert_eq!(s, 201, "{v}");
    let group_dn = config.groups.as_ref().unwrap().dn_for(&group).to_string();
    let member_attr = super::group_members(&config).attribute.clone();
    let old_dn = config.users.dn_for(&name).to_string();
    let new_name = format!("{name}-renamed");
    let new_dn = config.users.dn_for(&new_name).to_string();

    // Rename + retitle: the modrdn lands, the daemon dies before the modify.
    proxy.arm(MODIFY_REQUEST);
    let rename = patch_body(json!([
        {"op": "replace", "path": "userName", "value": new_name},
        {"op": "replace", "path": "title", "value": "after the crash"},
    ]));
    let url = format!("{}/Users/{id}", daemon.base());
    let r = load
        .http
        .patch(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(rename.to_string())
        .send()
        .await;
    assert!(
        r.is_err(),
        "the daemon answered: {:?}",
        r.map(|r| r.status())
    );
    assert!(proxy.fired(), "the daemon never sent the modify");
    halfway_renamed(&checker, &old_dn, &new_dn, "after the crash").await;
    daemon.restart().await;
    let (s, v, _) = load
        .send("PATCH", &format!("/Users/{id}"), Some(&rename))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["userName"], new_name.as_str());
    assert_eq!(v["title"], "after the crash");
    assert!(checker.entry(&old_dn).await.is_none());
    let done = checker.entry(&new_dn).await.expect("renamed entry");
    assert_eq!(
        super::attr(&done, "entryUUID").map(|u| u.to_lowercase()),
        Some(id.to_lowercase())
    );
    let g = checker.entry(&group_dn).await.unwrap();
    let members: Vec<String> = super::attrs(&g, &member_attr)
        .iter()
        .map(|m| norm(m))
        .collect();
    assert_eq!(
        members,
        vec![norm(&new_dn)],
        "membership follows the rename"
    );

    // Delete: the daemon dies before the delete itself.
    proxy.arm(DEL_REQUEST);
    let r = load.http.delete(&url).bearer_auth(TOKEN).send().await;
    assert!(
        r.is_err(),
        "the daemon answered: {:?}",
        r.map(|r| r.status())
    );
    assert!(proxy.fired(), "the daemon never sent the delete");
    assert!(
        checker.entry(&new_dn).await.is_some(),
        "the entry is still there"
    );
    daemon.restart().await;
    let (s, v, _) = load.send("DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 204, "{v}");
    assert!(checker.entry(&new_dn).await.is_none());
    let g = checker.entry(&group_dn).await.unwrap();
    let left: Vec<String> = super::attrs(&g, &member_attr)
        .iter()
        .map(|m| norm(m))
        .collect();
    assert!(
        !left.contains(&norm(&new_dn)),
        "no dangling member after the completed delete: {left:?}"
    );
    let (s, _, _) = load.send("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 404);
}

/// Writes the directory refuses with noSuchObject although the entry is there
/// (389-ds under contention): the daemon checks the entry, tries the write
/// again, and when every attempt is refused answers 503 — never 404 — leaving
/// the entry for the client's retry to finish.
pub async fn refused_writes_are_retried_then_answered_503(server: Server) {
    let proxy = CrashProxy::start(&server.url(), Arc::default()).await;
    let daemon =
        super::Daemon::with_config_at(server, &super::config_text(server), &proxy.url).await;
    let checker = super::Daemon::start(server).await;
    let name = unique("refused");
    let (s, user) = daemon
        .call("POST", "/Users", Some(&entra_user(&name)))
        .await;
    assert_eq!(s, 201, "{user}");
    let id = user["id"].as_str().unwrap().to_owned();
    let old_dn = daemon.config.users.dn_for(&name).to_string();
    let new_name = format!("{name}-renamed");
    let new_dn = daemon.config.users.dn_for(&new_name).to_string();
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method, body: Option<Value>| {
        let mut req = http
            .request(method, daemon.url(&format!("/Users/{id}")))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let retry_after = r.headers().get("retry-after").is_some();
            let bytes = r.bytes().await.unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (status, retry_after, body)
        }
    };
    let rename = |title: &str| {
        patch_body(json!([
            {"op": "replace", "path": "userName", "value": new_name},
            {"op": "replace", "path": "title", "value": title},
        ]))
    };

    // One refused modrdn: checked, tried again, done.
    proxy.refuse(MODIFY_DN_REQUEST, 1);
    let (s, _, v) = send(reqwest::Method::PATCH, Some(rename("once refused"))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(proxy.refused(), 1, "the modrdn went through the proxy");
    assert_eq!(v["userName"], new_name.as_str());
    assert!(checker.entry(&old_dn).await.is_none());
    assert!(checker.entry(&new_dn).await.is_some());

    // Back to the old name, every modrdn refused: 503 with Retry-After,
    // nothing written (the modrdn goes first); the retry does it all.
    let back = patch_body(json!([{"op": "replace", "path": "userName", "value": name}]));
    let (s, _, v) = send(reqwest::Method::PATCH, Some(back)).await;
    assert_eq!(s, 200, "{v}");
    proxy.refuse(MODIFY_DN_REQUEST, 100);
    let (s, retry_after, v) = send(reqwest::Method::PATCH, Some(rename("always refused"))).await;
    assert_eq!(s, 503, "{v}");
    assert!(retry_after, "503 comes with Retry-After");
    assert!(
        proxy.refused() >= 2,
        "the rename was tried again: {}",
        proxy.refused()
    );
    not_renamed(&checker, &old_dn, &new_dn, "once refused").await;
    proxy.refuse(MODIFY_DN_REQUEST, 0);
    let (s, _, v) = send(reqwest::Method::PATCH, Some(rename("always refused"))).await;
    assert_eq!(s, 200, "{v}");
    assert!(checker.entry(&new_dn).await.is_some());

    // Every modify refused: the request finds the entry again each time, then 503.
    proxy.refuse(MODIFY_REQUEST, 100);
    let retitle = patch_body(json!([{"op": "replace", "path": "title", "value": "never written"}]));
    let (s, retry_after, v) = send(reqwest::Method::PATCH, Some(retitle)).await;
    assert_eq!(s, 503, "{v}");
    assert!(retry_after);
    assert!(proxy.refused() >= 2, "{}", proxy.refused());
    let unchanged = checker.entry(&new_dn).await.unwrap();
    assert_eq!(
        super::attr(&unchanged, "title").as_deref(),
        Some("always refused")
    );

    // Every delete refused: 503, the entry stays; the retry deletes it.
    proxy.refuse(DEL_REQUEST, 100);
    let (s, retry_after, v) = send(reqwest::Method::DELETE, None).await;
    assert_eq!(s, 503, "{v}");
    assert!(retry_after);
    assert!(
        checker.entry(&new_dn).await.is_some(),
        "the entry is still there"
    );
    proxy.refuse(DEL_REQUEST, 0);
    let (s, _, v) = send(reqwest::Method::DELETE, None).await;
    assert_eq!(s, 204, "{v}");
    assert!(checker.entry(&new_dn).await.is_none());
}
