//! The HTTPS front end of the real binary: TLS 1.2+ only, certificate reload
//! on SIGHUP, client certificates, and systemd readiness notification.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ADMIN_PW, Server, TOKEN, ca, issue, sh, unique};

/// A CA, a server certificate for 127.0.0.1 (serial given), and a client certificate.
fn pki(dir: &Path) {
    ca(dir, "ca", "test-ca");
    issue(
        dir,
        "client",
        "entra-agent",
        7,
        "extendedKeyUsage=clientAuth",
    );
    server_cert(dir, 1);
}

/// A new server certificate (serial given), swapped in whole.
fn server_cert(dir: &Path, serial: u32) {
    issue(
        dir,
        "new",
        "scim2ldap",
        serial,
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
    );
    sh(dir, "mv new.key server.key && mv new.pem server.pem");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The daemon process, killed if a test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

fn start(dir: &Path, extra: &str, notify: Option<&Path>) -> (Running, u16) {
    let port = free_port();
    let text = super::config_text(Server::OpenLdap).replace(
        "[server]",
        &format!(
            "[server]\ntls_cert = \"{0}/server.pem\"\ntls_key = \"{0}/server.key\"\n{extra}",
            dir.display()
        ),
    );
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scim2ldap"));
    cmd.args(["serve", "--config", cfg.to_str().unwrap()])
        .env("SCIM2LDAP_LDAP_URL", Server::OpenLdap.url())
        .env("SCIM2LDAP_LDAP_BIND_DN", Server::OpenLdap.bind_dn())
        .env("SCIM2LDAP_LDAP_BIND_PASSWORD", ADMIN_PW)
        .env("SCIM2LDAP_TOKEN", TOKEN)
        .env("SCIM2LDAP_LISTEN", format!("127.0.0.1:{port}"))
        .stderr(Stdio::null());
    if let Some(sock) = notify {
        cmd.env("NOTIFY_SOCKET", sock);
    }
    let child = Running(cmd.spawn().unwrap());
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "daemon never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, port)
}

fn curl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-s", "-S", "--max-time", "5", "--cacert"])
        .arg(dir.join("ca.pem"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn serial(port: u16) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("openssl s_client -connect 127.0.0.1:{port} </dev/null 2>/dev/null | openssl x509 -noout -serial"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(unique("scim2ldap-tls"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stop(mut child: Running) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.0.wait();
}

pub async fn https_reloads_on_sighup() {
    let dir = tempdir();
    pki(&dir);
    let (child, port) = start(&dir, "", None);
    let url = format!("https://127.0.0.1:{port}");
    let (ok, out) = curl(&dir, &[&format!("{url}/healthz")]);
    assert!(ok, "{out}");
    let (ok, out) = curl(
        &dir,
        &[
            "-H",
            &format!("Authorization: Bearer {TOKEN}"),
            &format!("{url}/scim/v2/Users?count=1"),
        ],
    );
    assert!(ok && out.contains("ListResponse"), "{out}");
    // TLS 1.1 and below are refused; plain HTTP gets no answer.
    let (ok, _) = curl(
        &dir,
        &["--tlsv1.0", "--tls-max", "1.1", &format!("{url}/healthz")],
    );
    assert!(!ok, "TLS 1.1 must be refused");
    let (ok, _) = curl(&dir, &[&format!("http://127.0.0.1:{port}/healthz")]);
    assert!(!ok, "plain HTTP on the TLS port must fail");
    assert_eq!(serial(port), "serial=01");
    // A new certificate, then SIGHUP: new handshakes see it, the daemon keeps running.
    server_cert(&dir, 2);
    assert!(
        Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    while serial(port) != "serial=02" {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "certificate not reloaded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, out) = curl(&dir, &[&format!("{url}/healthz")]);
    assert!(ok, "{out}");
    // A broken file on reload keeps the old certificate.
    std::fs::write(dir.join("server.pem"), "garbage").unwrap();
    assert!(
        Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(serial(port), "serial=02");
    stop(child);
}

pub async fn client_certificates_when_configured() {
    let dir = tempdir();
    pki(&dir);
    let (child, port) = start(
        &dir,
        &format!("tls_client_ca = \"{}/ca.pem\"", dir.display()),
        None,
    );
    let url = format!("https://127.0.0.1:{port}/healthz");
    let (ok, _) = curl(&dir, &[&url]);
    assert!(!ok, "no client certificate: refused");
    let cert = dir.join("client.pem");
    let key = dir.join("client.key");
    let (ok, out) = curl(
        &dir,
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            &url,
        ],
    );
    assert!(ok, "{out}");
    stop(child);
}

pub async fn systemd_is_notified() {
    let dir = tempdir();
    pki(&dir);
    let sock_path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (child, _) = start(&dir, "", Some(&sock_path));
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");
    let mut child = child;
    assert!(child.0.wait().unwrap().success());
}

fn script(name: &str) -> (bool, String) {
    let out = Command::new(format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR")))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("SCIM2LDAP_BIN", env!("CARGO_BIN_EXE_scim2ldap"))
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

pub async fn systemd_unit_verifies() {
    let (ok, out) = script("check-unit");
    assert!(ok, "{out}");
    assert!(out.contains("OK"), "{out}");
}

pub async fn runs_as_the_docker_image_does() {
    let (ok, out) = script("check-docker-env");
    assert!(ok, "{out}");
    assert!(
        out.lines().last().is_some_and(|l| l.ends_with("OK")),
        "{out}"
    );
}
