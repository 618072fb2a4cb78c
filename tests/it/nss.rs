//! A real NSS client for the tests: `nslcd` with `libnss-ldapd`, run in a
//! private mount namespace (`unshare -m`) where a private
//! `/etc/nsswitch.conf` (passwd, group, shadow: `files ldap`), a private
//! `/etc/nslcd.conf` naming the test server, and an empty tmpfs over `/run`
//! (nslcd's socket directory, and no nscd socket for glibc to ask) are
//! mounted. Lookups (`getent`, `id`) run in that namespace through
//! `nsenter`; nothing on the machine changes. Packages: scripts/lib/ldap-servers.sh
//! installs nslcd and libnss-ldapd without touching the machine's configuration.

use std::collections::HashSet;
use std::ops::Deref;
use std::process::Command;
use std::time::Duration;

use super::namespace::{Namespace, Setup, private_dir, set_mode};
use super::{ADMIN_PW, Server, unique};

/// nslcd serving the test directory to `getent` and `id` in its own mount namespace.
pub struct NssClient {
    ns: Namespace,
}

impl Deref for NssClient {
    type Target = Namespace;
    fn deref(&self) -> &Namespace {
        &self.ns
    }
}

/// nslcd's own mount in the namespace.
const MOUNTS: &str = r#"mount --bind "$dir/nslcd.conf" /etc/nslcd.conf"#;

/// nslcd's socket directory on the private /run, then nslcd (in the
/// foreground, debugging to stderr).
const EXEC: &str = "mkdir -m 0755 /run/nslcd\nexec nslcd -d";

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
        let dir = private_dir("scim2ldap-nss");
        std::fs::write(dir.join("nslcd.conf"), nslcd_conf(server, url)).unwrap();
        set_mode(&dir.join("nslcd.conf"), 0o600);
        let setup = Setup {
            program: "nslcd",
            nsswitch: NSSWITCH,
            mounts: MOUNTS,
            exec: EXEC,
        };
        let mut ns = Namespace::start(dir, &setup);
        ns.wait_for_sockets(&["/run/nslcd/socket"], Duration::from_secs(20));
        NssClient { ns }
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

pub fn s<'a>(values: &[&'a str]) -> HashSet<&'a str> {
    values.iter().copied().collect()
}

/// Adds by hand a POSIX account `login` (cn and gecos `name`, sn Probe, home
/// /home/LOGIN, bash, `uid` and `gid`, plus `extra`) under ou=people and its
/// group `group` under ou=groups with it as the only member: memberUid on
/// OpenLDAP (RFC 2307), a member DN on 389-ds (RFC 2307bis). Returns the two DNs.
pub async fn add_account_and_group<'a>(
    ldap: &mut ldap3::Ldap,
    server: Server,
    (login, group): (&'a str, &'a str),
    name: &'a str,
    (uid, gid): (&'a str, &'a str),
    extra: Vec<(&'a str, HashSet<&'a str>)>,
) -> (String, String) {
    let user_dn = format!("uid={login},ou=people,dc=example,dc=com");
    let group_dn = format!("cn={group},ou=groups,dc=example,dc=com");
    let home = format!("/home/{login}");
    let mut user_attrs = vec![
        (
            "objectClass",
            s(&["inetOrgPerson", "posixAccount", "shadowAccount"]),
        ),
        ("uid", s(&[login])),
        ("cn", s(&[name])),
        ("sn", s(&["Probe"])),
        ("uidNumber", s(&[uid])),
        ("gidNumber", s(&[gid])),
        ("homeDirectory", s(&[&home])),
        ("loginShell", s(&["/bin/bash"])),
        ("gecos", s(&[name])),
    ];
    user_attrs.extend(extra);
    ldap.add(&user_dn, user_attrs)
        .await
        .unwrap()
        .success()
        .unwrap();
    let group_attrs = match server {
        Server::OpenLdap => vec![
            ("objectClass", s(&["posixGroup"])),
            ("cn", s(&[group])),
            ("gidNumber", s(&[gid])),
            ("memberUid", s(&[login])),
        ],
        Server::Ds389 => vec![
            ("objectClass", s(&["groupOfNames", "posixGroup"])),
            ("cn", s(&[group])),
            ("gidNumber", s(&[gid])),
            ("member", s(&[&user_dn])),
        ],
    };
    ldap.add(&group_dn, group_attrs)
        .await
        .unwrap()
        .success()
        .unwrap();
    (user_dn, group_dn)
}

/// The NSS client alone against each server, with a POSIX account and group
/// written by hand (RFC 2307 memberUid on OpenLDAP, RFC 2307bis member DNs on
/// 389-ds): passwd, group, id and shadow come through LDAP, the machine's own
/// accounts still through `files`, and the machine's nsswitch.conf is untouched.
pub async fn nss_client_resolves_through_the_namespace(server: Server) {
    let login = unique("nss").replace('-', "_");
    let group = format!("{login}_g");
    let mut ldap = super::admin_ldap(server, &server.url()).await;
    let (user_dn, group_dn) = add_account_and_group(
        &mut ldap,
        server,
        (&login, &group),
        "Nss Probe",
        ("4242420", "4242421"),
        vec![("shadowExpire", s(&["1"]))],
    )
    .await;

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
