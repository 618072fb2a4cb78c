//! The other common Linux client: SSSD's LDAP provider (`sssd` with
//! `libnss-sss`, `libpam-sss` and `sssctl`), run like nslcd in nss.rs inside a
//! private mount namespace (`unshare -m`): a private `/etc/nsswitch.conf`
//! (passwd, group: `files sss`), `/etc/sssd` (the configuration the README
//! shows, with the test server and no caching to speak of), `/var/lib/sss`
//! (its cache, sockets and memory cache), `/var/log/sssd`, `/etc/pam.d` (a copy
//! plus a `scim2ldap-test` service that asks pam_sss) and an empty tmpfs over
//! `/run`. Lookups run in that namespace through `nsenter`; the PAM account
//! phase (what decides whether a disabled user may log in) through `sssctl
//! user-checks`. Nothing on the machine changes. Packages: scripts/lib/ldap-servers.sh
//! installs them without touching the machine's configuration.

use std::collections::HashSet;
use std::ops::Deref;
use std::path::Path;
use std::time::{Duration, Instant};

use super::namespace::{Namespace, Setup, private_dir, set_mode};
use super::nss::{add_account_and_group, s};
use super::{ADMIN_PW, Server, unique};

/// sssd serving the test directory to `getent`, `id` and PAM in its own mount namespace.
pub struct SssdClient {
    ns: Namespace,
}

impl Deref for SssdClient {
    type Target = Namespace;
    fn deref(&self) -> &Namespace {
        &self.ns
    }
}

/// sssd's own mounts in the namespace.
const MOUNTS: &str = r#"mount --bind "$dir/etc" /etc/sssd
mount --bind "$dir/lib" /var/lib/sss
mount --bind "$dir/log" /var/log/sssd
mount --bind "$dir/pam.d" /etc/pam.d"#;

/// sssd's monitor, in the foreground, logging to stderr.
const EXEC: &str = "exec sssd -i --logger=stderr -d 2";

const NSSWITCH: &str = "passwd: files sss\ngroup: files sss\n";

/// The PAM service the account checks use: pam_sss alone decides.
const PAM_SERVICE: &str = "scim2ldap-test";

/// The client configuration of the README's "SSSD" section, for the test server:
/// RFC 2307 (memberUid) on OpenLDAP with shadowExpire as the expiry policy,
/// RFC 2307bis (member DNs) on 389-ds with its account lock (rhds). Plain LDAP
/// on loopback (lookups only, no password checks); no memory cache, entries
/// stale after a second.
fn sssd_conf(server: Server, url: &str) -> String {
    let (schema, policy) = match server {
        Server::OpenLdap => ("rfc2307", "shadow"),
        Server::Ds389 => ("rfc2307bis", "rhds"),
    };
    format!(
        "[sssd]\n\
         services = nss, pam\n\
         domains = example\n\
         \n\
         [nss]\n\
         memcache_timeout = 0\n\
         \n\
         [domain/example]\n\
         id_provider = ldap\n\
         auth_provider = ldap\n\
         access_provider = ldap\n\
         ldap_uri = {url}\n\
         ldap_search_base = dc=example,dc=com\n\
         ldap_user_search_base = ou=people,dc=example,dc=com\n\
         ldap_group_search_base = ou=groups,dc=example,dc=com\n\
         ldap_default_bind_dn = {}\n\
         ldap_default_authtok = {ADMIN_PW}\n\
         ldap_schema = {schema}\n\
         ldap_access_order = expire\n\
         ldap_account_expire_policy = {policy}\n\
         entry_cache_timeout = 1\n",
        server.bind_dn()
    )
}

fn require(path: &str, what: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: the SSSD tests need {what}. scripts/test installs it \
         (ensure_nss_client_packages in scripts/lib/ldap-servers.sh)"
    );
}

/// The outcome of the PAM account phase for a user.
#[derive(Debug, PartialEq, Eq)]
pub enum Account {
    Allowed,
    /// Refused as expired (`ldap_account_expire_policy = shadow`: shadowExpire).
    Expired,
    /// Refused as locked (`ldap_account_expire_policy = rhds`: nsAccountLock).
    Locked,
}

impl SssdClient {
    /// Starts sssd against `server` at `url` in a fresh namespace; waits until its
    /// NSS responder listens.
    pub fn start(server: Server, url: &str) -> SssdClient {
        require("/usr/sbin/sssd", "sssd (package sssd-ldap)");
        require("/usr/lib/x86_64-linux-gnu/sssd/libsss_ldap.so", "sssd-ldap");
        require("/usr/lib/x86_64-linux-gnu/libnss_sss.so.2", "libnss-sss");
        require(
            "/usr/lib/x86_64-linux-gnu/security/pam_sss.so",
            "libpam-sss",
        );
        require("/usr/sbin/sssctl", "sssctl (package sssd-tools)");
        let dir = private_dir("scim2ldap-sssd");
        for sub in [
            "etc/conf.d",
            "lib/db",
            "lib/pipes/private",
            "lib/mc",
            "lib/pubconf",
            "lib/gpo_cache",
            "lib/deskprofile",
            "lib/secrets",
            "log",
            "pam.d",
        ] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for private in ["lib/db", "lib/pipes/private", "lib/secrets"] {
            set_mode(&dir.join(private), 0o700);
        }
        std::fs::write(dir.join("etc/sssd.conf"), sssd_conf(server, url)).unwrap();
        set_mode(&dir.join("etc/sssd.conf"), 0o600);
        copy_pam_d(&dir.join("pam.d"));
        let setup = Setup {
            program: "sssd",
            nsswitch: NSSWITCH,
            mounts: MOUNTS,
            exec: EXEC,
        };
        let mut ns = Namespace::start(dir, &setup);
        ns.wait_for_sockets(
            &["/var/lib/sss/pipes/nss", "/var/lib/sss/pipes/pam"],
            Duration::from_secs(30),
        );
        SssdClient { ns }
    }

    /// The PAM account phase for `login` through pam_sss (`sssctl user-checks`).
    pub fn account(&self, login: &str) -> Account {
        let out = self.nsenter(&[
            "sssctl",
            "user-checks",
            "-a",
            "acct",
            "-s",
            PAM_SERVICE,
            login,
        ]);
        // The PAM result goes to standard error, the rest to standard output.
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let result = text
            .lines()
            .find_map(|l| l.strip_prefix("pam_acct_mgmt: "))
            .unwrap_or_else(|| panic!("sssctl user-checks {login}: {text}\nsssd: {}", self.log()));
        match result {
            "Success" => Account::Allowed,
            "User account has expired" => Account::Expired,
            "Permission denied" => Account::Locked,
            other => panic!("pam_acct_mgmt for {login}: {other}\nsssd: {}", self.log()),
        }
    }

    /// `getent passwd` gives `line` for the login and for the uid number.
    pub fn assert_resolves(&self, login: &str, uid: &str, line: &str) {
        let line = Some(line.to_owned());
        assert_eq!(self.getent("passwd", login), line, "{}", self.log());
        assert_eq!(self.getent("passwd", uid), line);
    }

    /// After a rename from `old` to `new`: the old login eventually no longer
    /// resolves, the new one gives `passwd`, and `group` gives `group_line`.
    pub fn eventually_renamed(
        &self,
        (old, new): (&str, &str),
        passwd: &str,
        (group, group_line): (&str, &str),
    ) {
        self.eventually(None, || self.getent("passwd", old));
        self.eventually(Some(passwd.to_owned()), || self.getent("passwd", new));
        self.eventually(Some(group_line.to_owned()), || self.getent("group", group));
    }

    /// Polls `probe` until it gives `want` (SSSD serves from its cache until the
    /// entry is a second old); fails with the last value after ten seconds.
    pub fn eventually<T: PartialEq + std::fmt::Debug>(&self, want: T, probe: impl Fn() -> T) {
        let started = Instant::now();
        loop {
            let got = probe();
            if got == want {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "still {got:?}, expected {want:?}\nsssd: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A copy of the machine's /etc/pam.d plus the test service, to mount over it.
fn copy_pam_d(to: &Path) {
    for entry in std::fs::read_dir("/etc/pam.d").unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(
        to.join(PAM_SERVICE),
        "auth required pam_sss.so\naccount required pam_sss.so\n",
    )
    .unwrap();
}

/// One modification of `dn`: `change` (add or delete) for each attribute and its values.
async fn modify_each<'a>(
    ldap: &mut ldap3::Ldap,
    dn: &str,
    values: &[(&'a str, HashSet<&'a str>)],
    change: fn(&'a str, HashSet<&'a str>) -> ldap3::Mod<&'a str>,
) {
    let mods = values.iter().map(|(a, v)| change(a, v.clone())).collect();
    ldap.modify(dn, mods).await.unwrap().success().unwrap();
}

/// SSSD against each server with a POSIX account and group written by hand
/// (RFC 2307 memberUid on OpenLDAP, RFC 2307bis member DNs on 389-ds): passwd,
/// group and id resolve; the account phase refuses the user while it carries
/// what disabling writes (shadowExpire on OpenLDAP, nsAccountLock on 389-ds)
/// and lets it in again once removed; a rename (modrdn, and memberUid rewritten
/// where the server does not follow it) shows the new login with the same
/// numbers and group. The machine's nsswitch.conf is untouched.
pub async fn sssd_client_resolves_and_expires(server: Server) {
    let login = unique("sss").replace('-', "_");
    let group = format!("{login}_g");
    let mut ldap = super::admin_ldap(server, &server.url()).await;
    let home = format!("/home/{login}");
    // Numbers of this run only: an entry left behind by an interrupted run cannot answer for them.
    let uid = 5_000_000 + 2 * (std::process::id() % 500_000);
    let (uid, gid) = (uid.to_string(), (uid + 1).to_string());
    let (user_dn, group_dn) = add_account_and_group(
        &mut ldap,
        server,
        (&login, &group),
        "Sss Probe",
        (&uid, &gid),
        vec![],
    )
    .await;

    let sssd = SssdClient::start(server, &server.url());
    let passwd = |login: &str| format!("{login}:*:{uid}:{gid}:Sss Probe:{home}:/bin/bash");
    let id = |login: &str| format!("uid={uid}({login}) gid={gid}({group}) groups={gid}({group})");
    assert_eq!(
        sssd.getent("passwd", "root")
            .map(|l| l.starts_with("root:x:0:0:")),
        Some(true),
        "root through files"
    );
    sssd.assert_resolves(&login, &uid, &passwd(&login));
    assert_eq!(
        sssd.getent("group", &group),
        Some(format!("{group}:*:{gid}:{login}"))
    );
    assert_eq!(sssd.id(&login), Some(id(&login)));
    assert_eq!(sssd.getent("passwd", &unique("nobody_such")), None);
    assert_eq!(sssd.account(&login), Account::Allowed);

    // Disabled as the POSIX configurations disable: the account phase refuses.
    let (refused, lock): (_, Vec<(&str, HashSet<&str>)>) = match server {
        Server::OpenLdap => (Account::Expired, vec![("shadowExpire", s(&["1"]))]),
        Server::Ds389 => (
            Account::Locked,
            vec![("nsAccountLock", s(&["TRUE"])), ("shadowExpire", s(&["1"]))],
        ),
    };
    modify_each(&mut ldap, &user_dn, &lock, ldap3::Mod::Add).await;
    sssd.eventually(refused, || sssd.account(&login));
    assert_eq!(
        sssd.getent("passwd", &login),
        Some(passwd(&login)),
        "still resolves"
    );
    modify_each(&mut ldap, &user_dn, &lock, ldap3::Mod::Delete).await;
    sssd.eventually(Account::Allowed, || sssd.account(&login));

    // Renamed: the new login, the same numbers, the group membership follows.
    let new_login = format!("{login}_r");
    let new_dn = format!("uid={new_login},ou=people,dc=example,dc=com");
    ldap.modifydn(&user_dn, &format!("uid={new_login}"), true, None)
        .await
        .unwrap()
        .success()
        .unwrap();
    if server == Server::OpenLdap {
        let members = vec![ldap3::Mod::Replace("memberUid", s(&[&new_login]))];
        ldap.modify(&group_dn, members)
            .await
            .unwrap()
            .success()
            .unwrap();
    }
    let group_line = format!("{group}:*:{gid}:{new_login}");
    sssd.eventually_renamed(
        (&login, &new_login),
        &passwd(&new_login),
        (&group, &group_line),
    );
    assert_eq!(sssd.id(&new_login), Some(id(&new_login)));
    drop(sssd);
    let host = std::fs::read_to_string("/etc/nsswitch.conf").unwrap();
    assert_ne!(host, NSSWITCH);
    ldap.delete(&group_dn).await.unwrap().success().unwrap();
    ldap.delete(&new_dn).await.unwrap().success().unwrap();
}

/// The entry with this id, with every attribute.
async fn all_attributes(d: &super::Daemon, id: &str) -> ldap3::SearchEntry {
    let dn = d.entry_by_id(id).await.dn;
    d.entry(&dn).await.unwrap()
}

/// The shipped POSIX configuration for `server` (config/posix-*.toml).
fn posix_config(server: Server) -> String {
    let name = match server {
        Server::OpenLdap => "posix-openldap.toml",
        Server::Ds389 => "posix-389ds.toml",
    };
    std::fs::read_to_string(format!("{}/config/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// What the daemon provisions with the shipped POSIX configuration, seen through
/// SSSD: an Entra user and a group with it as member resolve with the allocated
/// numbers, the computed login, home, shell and gecos; Entra's disable refuses
/// the account phase and its enable lets the user in again; a userName rename
/// shows the new login with the same uidNumber, the group following; a delete
/// removes it.
pub async fn sssd_sees_what_entra_provisions(server: Server) {
    let d = super::Daemon::with_config(server, &posix_config(server)).await;
    let sssd = SssdClient::start(server, &server.url());
    let local = unique("Sss.Entra");
    let login = local.to_lowercase();
    let mut body = super::entra_user(&format!("{local}@Contoso.com"));
    body["displayName"] = serde_json::json!("Zoë Entra");
    let (s, v) = d.call("POST", "/Users", Some(&body)).await;
    assert_eq!(s, 201, "{v}");
    let path = format!("/Users/{}", v["id"].as_str().unwrap());
    let e = all_attributes(&d, v["id"].as_str().unwrap()).await;
    let uid = super::attr(&e, "uidNumber").expect("an allocated uidNumber");
    let passwd = |login: &str| format!("{login}:*:{uid}:10000:Zoe Entra:/home/{login}:/bin/bash");
    sssd.assert_resolves(&login, &uid, &passwd(&login));

    let group = unique("sss-linux-admins");
    let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "externalId": unique("gid"), "displayName": group, "members": [{"value": v["id"]}]});
    let (s, g) = d.call("POST", "/Groups", Some(&body)).await;
    assert_eq!(s, 201, "{g}");
    let group_path = format!("/Groups/{}", g["id"].as_str().unwrap());
    let ge = all_attributes(&d, g["id"].as_str().unwrap()).await;
    let gid = super::attr(&ge, "gidNumber").expect("an allocated gidNumber");
    let group_line = |member: &str| format!("{group}:*:{gid}:{member}");
    assert_eq!(sssd.getent("group", &group), Some(group_line(&login)));
    assert_eq!(sssd.account(&login), Account::Allowed);

    let refused = match server {
        Server::OpenLdap => Account::Expired,
        Server::Ds389 => Account::Locked,
    };
    let active = |value: &str| {
        super::patch_body(serde_json::json!([{"op": "Replace", "path": "active", "value": value}]))
    };
    let (s, v) = d.call("PATCH", &path, Some(&active("False"))).await;
    assert_eq!(s, 200, "{v}");
    sssd.eventually(refused, || sssd.account(&login));
    let (s, v) = d.call("PATCH", &path, Some(&active("True"))).await;
    assert_eq!(s, 200, "{v}");
    sssd.eventually(Account::Allowed, || sssd.account(&login));

    let new_local = format!("{local}.Renamed");
    let new_login = new_local.to_lowercase();
    let rename = super::patch_body(serde_json::json!([{"op": "Replace", "path": "userName",
        "value": format!("{new_local}@Contoso.com")}]));
    let (s, v) = d.call("PATCH", &path, Some(&rename)).await;
    assert_eq!(s, 200, "{v}");
    sssd.eventually_renamed(
        (&login, &new_login),
        &passwd(&new_login),
        (&group, &group_line(&new_login)),
    );
    assert_eq!(sssd.account(&new_login), Account::Allowed);

    for p in [&path, &group_path] {
        let (s, v) = d.call("DELETE", p, None).await;
        assert_eq!(s, 204, "{p}: {v}");
    }
    sssd.eventually(None, || sssd.getent("passwd", &new_login));
    sssd.eventually(None, || sssd.getent("group", &group));
}
