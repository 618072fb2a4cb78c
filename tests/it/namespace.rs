//! A private mount namespace (`unshare -m`) for a real NSS client daemon
//! (nslcd in nss.rs, sssd in sssd.rs): a private `/etc/nsswitch.conf`, the
//! client's own files bound over the machine's, and an empty tmpfs over `/run`
//! (so glibc finds no nscd socket to ask). The daemon runs in the foreground as
//! the namespace's first process, in its own process group; lookups (`getent`,
//! `id`) run inside through `nsenter`. Nothing on the machine changes.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::unique;

/// A daemon in its own mount namespace, with its files in a private directory.
pub struct Namespace {
    child: Child,
    dir: PathBuf,
    program: &'static str,
}

/// What a client puts into its namespace.
pub struct Setup<'a> {
    /// The daemon's name: in messages, and its log is `{program}.log`.
    pub program: &'static str,
    /// The namespace's /etc/nsswitch.conf.
    pub nsswitch: &'a str,
    /// Shell lines binding the client's files (under `$dir`) over the machine's.
    pub mounts: &'a str,
    /// Shell lines run once /run is private; the last one execs the daemon.
    pub exec: &'a str,
}

/// A fresh private directory for a client's files.
pub fn private_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(prefix));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The namespace's script: mounts the private files, then becomes the daemon
/// (`exec`), so the child's pid is the daemon's and names the namespace.
fn script(setup: &Setup) -> String {
    format!(
        r#"set -eu
dir=$1
mount --bind "$dir/nsswitch.conf" /etc/nsswitch.conf
{}
# A private /run: the daemon's own files, and glibc finds no nscd socket to ask.
mount -t tmpfs -o mode=0755 tmpfs /run
[ ! -e /var/run/nscd/socket ] || {{ echo "an nscd socket is still visible" >&2; exit 1; }}
{}
"#,
        setup.mounts.trim_end(),
        setup.exec.trim_end()
    )
}

impl Namespace {
    /// Writes the namespace's nsswitch.conf into `dir` and starts the daemon in
    /// a new mount namespace, logging to `dir/{program}.log`.
    pub fn start(dir: PathBuf, setup: &Setup) -> Namespace {
        std::fs::write(dir.join("nsswitch.conf"), setup.nsswitch).unwrap();
        let log = std::fs::File::create(dir.join(format!("{}.log", setup.program))).unwrap();
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .args([script(setup).as_str(), "sh"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group: whatever the daemon forks is stopped with it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} in a mount namespace: {e}", setup.program));
        Namespace {
            child,
            dir,
            program: setup.program,
        }
    }

    /// Waits until every one of `sockets` exists in the namespace; fails when
    /// the daemon exits, or after `timeout`.
    pub fn wait_for_sockets(&mut self, sockets: &[&str], timeout: Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited ({status}): {}", self.program, self.log());
            }
            let ok = sockets
                .iter()
                .all(|s| self.nsenter(&["test", "-S", s]).status.success());
            if ok {
                return;
            }
            assert!(
                started.elapsed() < timeout,
                "{} never opened {sockets:?}: {}",
                self.program,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.log", self.program))).unwrap_or_default()
    }

    /// Runs `command` in the namespace.
    pub fn nsenter(&self, command: &[&str]) -> Output {
        Command::new("nsenter")
            .arg("-t")
            .arg(self.child.id().to_string())
            .arg("-m")
            .arg("--")
            .args(command)
            .output()
            .unwrap()
    }

    /// `getent DATABASE KEY` in the namespace: the line, or None when there is no
    /// such entry (exit status 2). Any other failure fails the test.
    pub fn getent(&self, database: &str, key: &str) -> Option<String> {
        let out = self.nsenter(&["getent", database, key]);
        match out.status.code() {
            Some(0) => Some(String::from_utf8_lossy(&out.stdout).trim_end().to_owned()),
            Some(2) => None,
            _ => panic!(
                "getent {database} {key}: {:?} {}\n{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                self.program,
                self.log()
            ),
        }
    }

    /// `id LOGIN` in the namespace, or None when the user is unknown.
    pub fn id(&self, login: &str) -> Option<String> {
        let out = self.nsenter(&["id", login]);
        if out.status.success() {
            return Some(String::from_utf8_lossy(&out.stdout).trim_end().to_owned());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no such user"),
            "id {login}: {err}\n{}: {}",
            self.program,
            self.log()
        );
        None
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        // TERM: the daemon stops what it forked; KILL whatever is left of the group.
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let started = Instant::now();
        while matches!(self.child.try_wait(), Ok(None))
            && started.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
