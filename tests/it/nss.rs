//! A real NSS client for the tests: `nslcd` with `libnss-ldapd`, run in a
//! private mount namespace (`unshare -m`) where a private
//! `/etc/nsswitch.conf` (passwd, group, shadow: `files ldap`), a private
//! `/etc/nslcd.conf` naming the test server, and an empty tmpfs over `/run`
//! (nslcd's socket directory, and no nscd socket for glibc to ask) are
//! mounted. Lookups (`getent`, `id`) run in that namespace through
//! `nsenter`; nothing on the machine changes. Packages: scripts/lib/ldap-servers.sh
//! installs nslcd and libnss-ldapd without touching the machine's configuration.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ADMIN_PW, Server, unique};

/// nslcd serving the test directory to `getent` and `id` in its own mount namespace.
pub struct NssClient {
    child: Child,
    dir: PathBuf,
}

/// The namespace's script: mounts the private files, then becomes nslcd (in the
/// foreground, debugging to stderr), so the child's pid is nslcd's and names the namespace.
const NAMESPACE_SCRIPT: &str = r#"set -eu
dir=$1
mount --bind "$dir/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$dir/nslcd.conf" /etc/nslcd.conf
# A private /run: nslcd's socket directory, and glibc finds no nscd socket to ask.
mount -t tmpfs -o mode=0755 tmpfs /run
[ ! -e /var/run/nscd/socket ] || { echo "an nscd socket is still visible" >&2; exit 1; }
mkdir -m 0755 /run/nslcd
exec nslcd -d
"#;

const NSSWITCH: &str = "passwd: files ldap\ngroup: files ldap\nshadow: files ldap\n";

fn require(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
        .unwrap_or(false)
        || std::path::Path::new("/usr/sbin").join(program).is_file();
    assert!(
        found,
        "{program} is missing: the POSIX tests need the real NSS client (nslcd and libnss-ldapd). \
         scripts/test installs them (ensure_nss_client_packages in scripts/lib/ldap-servers.sh)"
    );
}

impl NssClient {
    /// Starts nslcd against `server` at `url`; waits until it answers.
    pub fn start(server: Server, url: &str) -> NssClient {
        require("nslcd");
        require("unshare");
        require("nsenter");
        assert!(
            std::path::Path::new("/usr/lib/x86_64-linux-gnu/libnss_ldap.so.2").exists()
                || std::path::Path::new("/lib/x86_64-linux-gnu/libnss_ldap.so.2").exists()
                || Command::new("sh")
                    .args(["-c", "ldconfig -p | grep -q libnss_ldap.so.2"])
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false),
            "libnss_ldap.so.2 is missing: install libnss-ldapd (scripts/test does)"
        );
        let dir = std::env::temp_dir().join(unique("scim2ldap-nss"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("nsswitch.conf"), NSSWITCH).unwrap();
        let conf = nslcd_conf(server, url);
        std::fs::write(dir.join("nslcd.conf"), conf).unwrap();
        set_mode(&dir.join("nslcd.conf"), 0o600);
        let log = std::fs::File::create(dir.join("nslcd.log")).unwrap();
        let child = Command::new("unshare")
            .args([
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                NAMESPACE_SCRIPT,
                "sh",
            ])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nslcd in a mount namespace: {e}"));
        let mut client = NssClient { child, dir };
        client.wait_ready();
        client
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("nslcd exited ({status}): {}", self.log());
            }
            let ok = self
                .nsenter(&["test", "-S", "/run/nslcd/socket"])
                .status
                .success();
            if ok {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "nslcd never opened its socket: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// nslcd's debug output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nslcd.log")).unwrap_or_default()
    }

    fn nsenter(&self, command: &[&str]) -> std::process::Output {
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
                "getent {database} {key}: {:?} {}\nnslcd: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                self.log()
            ),
        }
    }

    /// `getent passwd LOGIN` split into its seven fields, or None.
    pub fn passwd(&self, login: &str) -> Option<Vec<String>> {
        self.getent("passwd", login)
            .map(|l| l.split(':').map(str::to_owned).collect())
    }

    /// `getent group NAME` as (name, gid, sorted members), or None.
    pub fn group(&self, name: &str) -> Option<(String, String, Vec<String>)> {
        self.getent("group", name).map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            assert_eq!(f.len(), 4, "group line {l}");
            let mut members: Vec<String> = f[3]
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect();
            members.sort();
            (f[0].to_owned(), f[2].to_owned(), members)
        })
    }

    /// `getent shadow LOGIN` split into its nine fields, or None.
    pub fn shadow(&self, login: &str) -> Option<Vec<String>> {
        self.getent("shadow", login)
            .map(|l| l.split(':').map(str::to_owned).collect())
    }

    /// `id LOGIN` in the namespace, or None when the user is unknown.
    pub fn id(&self, login: &str) -> Option<String> {
        let out = self.nsenter(&["id", login]);
        if out.status.success() {
            Some(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("no such user"),
                "id {login}: {err}\nnslcd: {}",
                self.log()
            );
            None
        }
    }
}

impl Drop for NssClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// nslcd's configuration for the test server: its bases, its admin bind, and no
/// caching of anything (every lookup asks the directory). Group members come from
/// memberUid (RFC 2307) and from member DNs (RFC 2307bis), nslcd's defaults.
fn nslcd_conf(server: Server, url: &str) -> String {
    format!(
        "uri {url}\n\
         base dc=example,dc=com\n\
         base passwd ou=people,dc=example,dc=com\n\
         base shadow ou=people,dc=example,dc=com\n\
         base group ou=groups,dc=example,dc=com\n\
         binddn {}\n\
         bindpw {ADMIN_PW}\n\
         cache dn2uid 0s 0s\n\
         reconnect_retrytime 1\n",
        server.bind_dn()
    )
}

fn s<'a>(values: &[&'a str]) -> HashSet<&'a str> {
    values.iter().copied().collect()
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The NSS client alone against each server, with a POSIX account and group
/// written by hand (RFC 2307 memberUid on OpenLDAP, RFC 2307bis member DNs on
/// 389-ds): passwd, group, id and shadow come through LDAP, the machine's own
/// accounts still through `files`, and the machine's nsswitch.conf is untouched.
pub async fn nss_client_resolves_through_the_namespace(server: Server) {
    let login = unique("nss").replace('-', "_");
    let group = format!("{login}_g");
    let user_dn = format!("uid={login},ou=people,dc=example,dc=com");
    let group_dn = format!("cn={group},ou=groups,dc=example,dc=com");
    let mut ldap = super::admin_ldap(server, &server.url()).await;
    let home = format!("/home/{login}");
    let user_attrs = vec![
        (
            "objectClass",
            s(&["inetOrgPerson", "posixAccount", "shadowAccount"]),
        ),
        ("uid", s(&[&login])),
        ("cn", s(&["Nss Probe"])),
        ("sn", s(&["Probe"])),
        ("uidNumber", s(&["4242420"])),
        ("gidNumber", s(&["4242421"])),
        ("homeDirectory", s(&[&home])),
        ("loginShell", s(&["/bin/bash"])),
        ("gecos", s(&["Nss Probe"])),
        ("shadowExpire", s(&["1"])),
    ];
    ldap.add(&user_dn, user_attrs)
        .await
        .unwrap()
        .success()
        .unwrap();
    let group_attrs = match server {
        Server::OpenLdap => vec![
            ("objectClass", s(&["posixGroup"])),
            ("cn", s(&[&group])),
            ("gidNumber", s(&["4242421"])),
            ("memberUid", s(&[&login])),
        ],
        Server::Ds389 => vec![
            ("objectClass", s(&["groupOfNames", "posixGroup"])),
            ("cn", s(&[&group])),
            ("gidNumber", s(&["4242421"])),
            ("member", s(&[&user_dn])),
        ],
    };
    ldap.add(&group_dn, group_attrs)
        .await
        .unwrap()
        .success()
        .unwrap();

    let nss = NssClient::start(server, &server.url());
    let checks = || {
        assert_eq!(nss.passwd("root").expect("root through files")[2], "0");
        assert_eq!(
            nss.getent("passwd", &login),
            Some(format!(
                "{login}:x:4242420:4242421:Nss Probe:/home/{login}:/bin/bash"
            )),
            "{}",
            nss.log()
        );
        assert_eq!(
            nss.group(&group),
            Some((group.clone(), "4242421".into(), vec![login.clone()]))
        );
        assert_eq!(
            nss.id(&login),
            Some(format!(
                "uid=4242420({login}) gid=4242421({group}) groups=4242421({group})"
            ))
        );
        assert_eq!(nss.shadow(&login).unwrap()[7], "1");
        assert_eq!(nss.passwd(&unique("nobody_such")), None);
    };
    checks();
    // The namespace sees its own nsswitch.conf; the machine's is another file.
    let inside = nss.nsenter(&["cat", "/etc/nsswitch.conf"]);
    assert_eq!(String::from_utf8_lossy(&inside.stdout), NSSWITCH);
    let host = std::fs::read_to_string("/etc/nsswitch.conf").unwrap();
    assert_ne!(host, NSSWITCH);
    drop(nss);
    ldap.delete(&group_dn).await.unwrap().success().unwrap();
    ldap.delete(&user_dn).await.unwrap().success().unwrap();
}
