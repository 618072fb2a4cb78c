//! Directory faults: a private slapd the test can kill, stall and restart.
//! While the directory is away requests are answered 503 with Retry-After —
//! never a hang, never a 500 — and the daemon recovers by itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Daemon, Server, patch_body, unique};

/// A throwaway slapd of this test's own (started by scripts/test-servers).
pub struct PrivateSlapd {
    state: PathBuf,
    pub url: String,
}

fn repo() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

impl PrivateSlapd {
    pub fn start() -> PrivateSlapd {
        let state = std::env::temp_dir().join(unique("slapd"));
        let out = Command::new(format!("{}/scripts/test-servers", repo()))
            .args(["start", "openldap"])
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
            .find_map(|l| l.strip_prefix("SCIM2LDAP_IT_OPENLDAP_URL="))
            .unwrap()
            .trim_matches('\'')
            .to_owned();
        PrivateSlapd { state, url }
    }

    fn pid(&self) -> String {
        std::fs::read_to_string(self.state.join("openldap/slapd.pid"))
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

    /// SIGKILL, and wait until the port is free.
    pub fn kill(&self) {
        self.signal("-KILL");
        let addr = self
            .url
            .trim_start_matches("ldap://")
            .trim_end_matches('/')
            .to_owned();
        let started = Instant::now();
        while std::net::TcpStream::connect(&addr).is_ok() {
            assert!(started.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Restarts slapd with a certificate, listening on `ldaps://127.0.0.1:ldaps_port` too.
    pub fn enable_tls(&self, ca: &Path, cert: &Path, key: &Path, ldaps_port: u16) {
        self.kill();
        let conf = self.state.join("openldap/slapd.conf");
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

    /// Starts slapd again on the same data and port.
    pub fn restart(&self) {
        let dir = self.state.join("openldap");
        let status = Command::new("slapd")
            .arg("-f")
            .arg(dir.join("slapd.conf"))
            .args(["-h", &self.url, "-u", "root", "-g", "root"])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for PrivateSlapd {
    fn drop(&mut self) {
        let _ = Command::new(format!("{}/scripts/test-servers", repo()))
            .args(["stop", "openldap"])
            .arg(&self.state)
            .output();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

async fn on_private(slapd: &PrivateSlapd) -> Daemon {
    let text =
        super::config_text(Server::OpenLdap).replace("[ldap]", "[ldap]\ntimeout_seconds = 2");
    let text = text.replace("[server]", "[server]\nrequest_timeout_seconds = 5");
    Daemon::with_config_at(Server::OpenLdap, &text, &slapd.url).await
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
    tokio::time::sleep(Duration::from_millis(300)).await;
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
