//! Directory faults: a private slapd the test can kill, stall and restart.
//! While the directory is away requests are answered 503 with Retry-After —
//! never a hang, never a 500 — and the daemon recovers by itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Daemon, Server, patch_body, unique};

/// A throwaway directory of this test's own (started by scripts/test-servers):
/// slapd or 389-ds, which the test may kill, stall and restart.
pub struct PrivateServer {
    pub server: Server,
    /// The scripts/test-servers state directory this test started, stopped on
    /// drop; None for one server of the shared replicated pairs.
    state: Option<PathBuf>,
    /// The server's own files (slapd.conf, pid file, 389-ds instance).
    dir: PathBuf,
    pub url: String,
}

/// The slapd of the TLS tests.
pub type PrivateSlapd = PrivateServer;

fn repo() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

impl PrivateServer {
    pub fn start() -> PrivateServer {
        PrivateServer::of(Server::OpenLdap)
    }

    pub fn of(server: Server) -> PrivateServer {
        let state = std::env::temp_dir().join(unique("dir"));
        let out = Command::new(format!("{}/scripts/test-servers", repo()))
            .args(["start", server.kind()])
            .arg(&state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = std::fs::read_to_string(state.join("env")).unwrap();
        let url = env
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{}=", server.env())))
            .unwrap()
            .trim_matches('\'')
            .to_owned();
        PrivateServer {
            server,
            dir: state.join(server.kind()),
            state: Some(state),
            url,
        }
    }

    /// One server of a pair started by scripts/test-servers, its files in
    /// `dir`; the pair outlives this value.
    pub fn member(server: Server, dir: PathBuf, url: &str) -> PrivateServer {
        PrivateServer {
            server,
            state: None,
            dir,
            url: url.to_owned(),
        }
    }

    fn instance_name(&self) -> String {
        std::fs::read_to_string(self.dir.join("instance-name"))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn pid_file(&self) -> PathBuf {
        match self.server {
            Server::OpenLdap => self.dir.join("slapd.pid"),
            Server::Ds389 => self
                .dir
                .join(format!("run/slapd-{}.pid", self.instance_name())),
        }
    }

    fn pid(&self) -> String {
        std::fs::read_to_string(self.pid_file())
            .unwrap()
            .trim()
            .to_owned()
    }

    pub fn signal(&self, sig: &str) {
        assert!(
            Command::new("kill")
                .args([sig, &self.pid()])
                .status()
                .unwrap()
                .success()
        );
    }

    fn addr(&self) -> String {
        self.url
            .trim_start_matches("ldap://")
            .trim_end_matches('/')
            .to_owned()
    }

    /// SIGKILL, and wait until the process is gone and the port is free.
    pub fn kill(&self) {
        let pid = self.pid();
        self.signal("-KILL");
        let started = Instant::now();
        while std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::net::TcpStream::connect(self.addr()).is_ok()
        {
            assert!(started.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(self.pid_file());
    }

    /// Restarts slapd with a certificate, listening on `ldaps://127.0.0.1:ldaps_port` too.
    pub fn enable_tls(&self, ca: &Path, cert: &Path, key: &Path, ldaps_port: u16) {
        assert_eq!(self.server, Server::OpenLdap);
        self.kill();
        let conf = self.dir.join("slapd.conf");
        let text = std::fs::read_to_string(&conf).unwrap();
        let tls = format!(
            "TLSCACertificateFile {}\nTLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
            ca.display(),
            cert.display(),
            key.display()
        );
        std::fs::write(&conf, format!("{tls}{text}")).unwrap();
        let urls = format!("{} ldaps://127.0.0.1:{ldaps_port}/", self.url);
        let status = Command::new("slapd")
            .arg("-f")
            .arg(&conf)
            .args(["-h", &urls, "-u", "root", "-g", "root"])
            .status()
            .unwrap();
        assert!(status.success());
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", ldaps_port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "slapd did not listen on ldaps"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same data and port, and waits until it listens.
    pub fn restart(&self) {
        let status = match self.server {
            Server::OpenLdap => Command::new("slapd")
                .arg("-f")
                .arg(self.dir.join("slapd.conf"))
                .args(["-h", &self.url, "-u", "root", "-g", "root"])
                .status()
                .unwrap(),
            Server::Ds389 => {
                let name = self.instance_name();
                Command::new("/usr/sbin/ns-slapd")
                    .arg("-D")
                    .arg(self.dir.join(format!("etc/dirsrv/slapd-{name}")))
                    .arg("-i")
                    .arg(self.pid_file())
                    .status()
                    .unwrap()
            }
        };
        assert!(status.success(), "{:?} did not start again", self.server);
        let started = Instant::now();
        while std::net::TcpStream::connect(self.addr()).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{:?} does not listen after a restart",
                self.server
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let Some(state) = &self.state else { return };
        let _ = Command::new(format!("{}/scripts/test-servers", repo()))
            .args(["stop", self.server.kind()])
            .arg(state)
            .output();
        let _ = std::fs::remove_dir_all(state);
    }
}

/// A daemon on a private directory, with a 2 s operation timeout.
pub async fn on_private(dir: &PrivateServer) -> Daemon {
    let text = super::config_text(dir.server).replace("[ldap]", "[ldap]\ntimeout_seconds = 2");
    let text = text.replace("[server]", "[server]\nrequest_timeout_seconds = 5");
    Daemon::with_config_at(dir.server, &text, &dir.url).await
}

/// Polls until `GET path` answers 200; returns how long it took.
async fn until_ok(d: &Daemon, path: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (s, _) = d.call("GET", path, None).await;
        if s == 200 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "not recovered after {limit:?} (last status {s})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn directory_restart_gives_503_then_recovers() {
    let slapd = PrivateSlapd::start();
    let d = on_private(&slapd).await;
    let u = d.create_user(&unique("outage")).await;
    let id = u["id"].as_str().unwrap().to_owned();
    slapd.kill();
    for _ in 0..5 {
        let started = Instant::now();
        let (s, h, v) = d
            .raw(
                "GET",
                &format!("/Users/{id}"),
                None,
                &[("authorization", &format!("Bearer {}", super::TOKEN))],
            )
            .await;
        assert_eq!(s, 503, "{v}");
        assert!(h.get("retry-after").is_some());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "answered in {:?}",
            started.elapsed()
        );
    }
    let (s, v) = d
        .call(
            "POST",
            "/Users",
            Some(&super::entra_user(&unique("during"))),
        )
        .await;
    assert_eq!(s, 503, "{v}");
    let r = d
        .http
        .get(d.base.replace("/scim/v2", "/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    slapd.restart();
    let took = until_ok(&d, &format!("/Users/{id}"), Duration::from_secs(5)).await;
    eprintln!("recovered {took:?} after the directory came back");
    assert!(took < Duration::from_secs(2), "recovery took {took:?}");
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(&patch_body(
                serde_json::json!([{"op": "replace", "path": "title", "value": "after"}]),
            )),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["title"], "after");
}

pub async fn stalled_directory_gives_503_not_a_hang() {
    let slapd = PrivateSlapd::start();
    let d = on_private(&slapd).await;
    let u = d.create_user(&unique("stall")).await;
    let id = u["id"].as_str().unwrap().to_owned();
    // One request at a time: while one waits on the stalled directory, the next gets 429.
    let text = super::config_text(Server::OpenLdap)
        .replace("[ldap]", "[ldap]\ntimeout_seconds = 2")
        .replace("[server]", "[server]\nmax_concurrent_requests = 1");
    let single = Daemon::with_config_at(Server::OpenLdap, &text, &slapd.url).await;
    slapd.signal("-STOP");
    let waiting = {
        let (http, url) = (single.http.clone(), single.url(&format!("/Users/{id}")));
        tokio::spawn(async move {
            http.get(url)
                .bearer_auth(super::TOKEN)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    // The first request holds the only slot for the 2 s timeout; half of it
    // leaves a loaded machine time to deliver the first before the second.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (s, h, v) = single
        .raw(
            "GET",
            &format!("/Users/{id}"),
            None,
            &[("authorization", &format!("Bearer {}", super::TOKEN))],
        )
        .await;
    assert_eq!(s, 429, "{v}");
    assert!(h.get("retry-after").is_some());
    assert_eq!(waiting.await.unwrap(), 503);
    let started = Instant::now();
    let (s, v) = d.call("GET", &format!("/Users/{id}"), None).await;
    let took = started.elapsed();
    slapd.signal("-CONT");
    assert_eq!(s, 503, "{v}");
    assert!(took < Duration::from_secs(4), "answered in {took:?}");
    let took = until_ok(&d, &format!("/Users/{id}"), Duration::from_secs(5)).await;
    eprintln!("recovered {took:?} after SIGCONT");
}

pub async fn failover_to_the_next_url() {
    let slapd = PrivateSlapd::start();
    // The first URL has nothing listening; the daemon goes on to the second.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let urls = format!("ldap://127.0.0.1:{dead} {}", slapd.url);
    let d = Daemon::with_config_at(
        Server::OpenLdap,
        &super::config_text(Server::OpenLdap),
        &urls,
    )
    .await;
    let u = d.create_user(&unique("failover")).await;
    let (s, _) = d
        .call(
            "GET",
            &format!("/Users/{}", u["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 200);
}
