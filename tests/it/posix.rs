//! Linux accounts: the shipped POSIX configurations (config/posix-openldap.toml,
//! RFC 2307 groups with memberUid; config/posix-389ds.toml, RFC 2307bis groups
//! with member DNs) driven through Entra's requests, and checked through a real
//! NSS client (nslcd with libnss-ldapd, see nss.rs): `getent passwd`, `getent
//! group`, `id` and `getent shadow` show exactly what was provisioned, before and
//! after a rename and a disable. Allocation: the same Entra object gets the
//! same uidNumber back, and concurrent creates through two daemons never share one.

use std::collections::BTreeSet;
use std::sync::Arc;

use ldap3::SearchEntry;
use serde_json::{Value, json};

use super::nss::NssClient;
use super::{Daemon, Server, attr, attrs, enc, entra_user, patch_body, unique};

const USER_RANGE: std::ops::RangeInclusive<u32> = 200_000..=299_999;
const GROUP_RANGE: std::ops::RangeInclusive<u32> = 300_000..=399_999;
/// The fixed primary group of the shipped POSIX configurations.
const PRIMARY_GID: &str = "10000";

/// The shipped POSIX configuration for `server`.
pub fn posix_config(server: Server) -> String {
    let name = match server {
        Server::OpenLdap => "posix-openldap.toml",
        Server::Ds389 => "posix-389ds.toml",
    };
    std::fs::read_to_string(format!("{}/config/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn q(filter: &str) -> String {
    format!("/Users?filter={}", enc(filter))
}

/// An Entra object id (a fresh UUID-shaped text), sent as externalId.
fn object_id() -> String {
    let u = unique("o");
    let digits: String = u.chars().filter(char::is_ascii_digit).collect();
    let d = format!("{digits:0>32}");
    let d = &d[d.len() - 32..];
    format!(
        "{}-{}-{}-{}-{}",
        &d[0..8],
        &d[8..12],
        &d[12..16],
        &d[16..20],
        &d[20..32]
    )
}

/// A UPN whose local part has capitals and a dot; returns (UPN, expected login).
fn upn(stem: &str, domain: &str) -> (String, String) {
    let local = unique(stem);
    (format!("{local}@{domain}"), local.to_lowercase())
}

/// Entra's create body with this UPN and objectId.
fn entra_body(upn: &str, object_id: &str) -> Value {
    let mut body = entra_user(upn);
    body["externalId"] = json!(object_id);
    body
}

async fn create(d: &Daemon, body: &Value) -> Value {
    let (s, v) = d.call("POST", "/Users", Some(body)).await;
    assert_eq!(s, 201, "create: {v}");
    v
}

async fn patch(d: &Daemon, path: &str, ops: Value) -> Value {
    let (s, v) = d.call("PATCH", path, Some(&patch_body(ops))).await;
    assert_eq!(s, 200, "PATCH {path}: {v}");
    v
}

/// The one user or group entry with this id, with every attribute.
async fn entry(d: &Daemon, id: &str) -> SearchEntry {
    let dn = d.entry_by_id(id).await.dn;
    d.entry(&dn).await.unwrap()
}

fn number(e: &SearchEntry, attribute: &str) -> u32 {
    attr(e, attribute)
        .unwrap_or_else(|| panic!("{attribute} missing in {}", e.dn))
        .parse()
        .unwrap()
}

/// What `getent passwd` must show for a provisioned user.
fn passwd_line(login: &str, uid: u32, gecos: &str) -> String {
    format!("{login}:x:{uid}:{PRIMARY_GID}:{gecos}:/home/{login}:/bin/bash")
}

/// The user's entry as a Linux account: name, numbers, home, shell, gecos; the
/// userName stored verbatim. Returns its uidNumber.
fn assert_account(e: &SearchEntry, login: &str, upn: &str, gecos: &str) -> u32 {
    assert_eq!(
        e.dn.to_lowercase(),
        format!("uid={login},ou=people,dc=example,dc=com"),
        "the login names the entry"
    );
    assert_eq!(attrs(e, "uid"), [login.to_owned()]);
    assert_eq!(attr(e, "scimUserName").as_deref(), Some(upn));
    let uid = number(e, "uidNumber");
    assert!(USER_RANGE.contains(&uid), "uidNumber {uid}");
    assert_eq!(attr(e, "gidNumber").as_deref(), Some(PRIMARY_GID));
    assert_eq!(attr(e, "homeDirectory"), Some(format!("/home/{login}")));
    assert_eq!(attr(e, "loginShell").as_deref(), Some("/bin/bash"));
    assert_eq!(attr(e, "gecos").as_deref(), Some(gecos));
    uid
}

/// The attribute and value that lock binds on `server` in the POSIX configuration.
fn bind_lock(server: Server) -> (&'static str, &'static str) {
    match server {
        Server::OpenLdap => ("pwdAccountLockedTime", "000001010000Z"),
        Server::Ds389 => ("nsAccountLock", "TRUE"),
    }
}

/// The whole Entra cycle with the POSIX configuration, seen through LDAP and
/// through the NSS client: create, Entra's match, PATCH in Entra's forms, a
/// group with a member, rename, disable and enable, delete, re-create from the
/// same objectId.
pub async fn entra_cycle_as_linux_accounts(server: Server) {
    let d = Daemon::with_config(server, &posix_config(server)).await;
    let nss = NssClient::start(server, &server.url());
    let (name, login) = upn("Alice.Smith", "Contoso.com");
    let oid = object_id();
    // Entra's match: not there yet.
    let (s, v) = d
        .call("GET", &q(&format!("userName eq \"{name}\"")), None)
        .await;
    assert_eq!((s, v["totalResults"].as_u64()), (200, Some(0)), "{v}");
    let created = create(&d, &entra_body(&name, &oid)).await;
    assert_eq!(created["userName"], name.as_str(), "stored verbatim");
    let id = created["id"].as_str().unwrap().to_owned();
    let e = entry(&d, &id).await;
    let uid = assert_account(&e, &login, &name, "Test User");
    // Entra's match finds it by the verbatim UPN, and in another case.
    for filter in [
        format!("userName eq \"{name}\""),
        format!("userName eq \"{}\"", name.to_uppercase()),
    ] {
        let (s, v) = d.call("GET", &q(&filter), None).await;
        assert_eq!((s, v["totalResults"].as_u64()), (200, Some(1)), "{v}");
        assert_eq!(v["Resources"][0]["id"], id.as_str());
        assert_eq!(v["Resources"][0]["userName"], name.as_str());
    }
    assert_eq!(
        nss.getent("passwd", &login),
        Some(passwd_line(&login, uid, "Test User")),
        "{}",
        nss.log()
    );
    assert!(
        nss.getent("passwd", &uid.to_string()).is_some(),
        "by number"
    );
    assert_eq!(nss.shadow(&login).unwrap()[7], "", "not expired");

    // PATCH in Entra's forms: by path, and path-less with a value object.
    let path = format!("/Users/{id}");
    patch(
        &d,
        &path,
        json!([{"op": "Replace", "path": "displayName", "value": "Alice Smith"}]),
    )
    .await;
    patch(
        &d,
        &path,
        json!([{"op": "Replace", "value": {"title": "Admin", "name.familyName": "Smith"}}]),
    )
    .await;
    let e = entry(&d, &id).await;
    assert_eq!(attr(&e, "title").as_deref(), Some("Admin"));
    assert_eq!(
        nss.getent("passwd", &login),
        Some(passwd_line(&login, uid, "Alice Smith")),
        "gecos follows displayName"
    );

    // A group with the user as member.
    let group_name = unique("Linux-Admins");
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "externalId": object_id(), "displayName": group_name, "members": [{"value": id}]});
    let (s, g) = d.call("POST", "/Groups", Some(&body)).await;
    assert_eq!(s, 201, "{g}");
    let gid_id = g["id"].as_str().unwrap().to_owned();
    let ge = entry(&d, &gid_id).await;
    let gid = number(&ge, "gidNumber");
    assert!(GROUP_RANGE.contains(&gid), "gidNumber {gid}");
    let group_line = |members: &[&str]| {
        Some((
            group_name.clone(),
            gid.to_string(),
            members.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>(),
        ))
    };
    assert_eq!(
        nss.group(&group_name),
        group_line(&[&login]),
        "{}",
        nss.log()
    );
    let id_line = |login: &str| {
        Some(format!(
            "uid={uid}({login}) gid={PRIMARY_GID} groups={PRIMARY_GID},{gid}({group_name})"
        ))
    };
    assert_eq!(nss.id(&login), id_line(&login));
    let (_, v) = d.call("GET", &path, None).await;
    assert_eq!(v["groups"][0]["value"], gid_id.as_str(), "{v}");

    // Rename: a new UPN with another local part. The login and home follow, the
    // number stays, the group membership follows.
    let (new_name, new_login) = upn("Alice.Jones", "Contoso.com");
    let v = patch(
        &d,
        &path,
        json!([{"op": "Replace", "path": "userName", "value": new_name}]),
    )
    .await;
    assert_eq!(v["userName"], new_name.as_str());
    assert_eq!(v["id"], id.as_str());
    let e = entry(&d, &id).await;
    assert_eq!(
        assert_account(&e, &new_login, &new_name, "Alice Smith"),
        uid
    );
    assert_eq!(nss.getent("passwd", &login), None, "the old login is gone");
    assert_eq!(
        nss.getent("passwd", &new_login),
        Some(passwd_line(&new_login, uid, "Alice Smith"))
    );
    assert_eq!(nss.group(&group_name), group_line(&[&new_login]));
    assert_eq!(nss.id(&new_login), id_line(&new_login));
    assert_eq!(nss.id(&login), None);
    // A UPN change that keeps the local part (another domain, other case) keeps the login.
    let same_local = format!("{}@Fabrikam.com", new_name.split('@').next().unwrap());
    patch(
        &d,
        &path,
        json!([{"op": "Replace", "path": "userName", "value": same_local}]),
    )
    .await;
    let e = entry(&d, &id).await;
    assert_eq!(
        assert_account(&e, &new_login, &same_local, "Alice Smith"),
        uid
    );

    // Disable (Entra's older form, a string) and enable: shadowExpire and the bind lock.
    patch(
        &d,
        &path,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    let e = entry(&d, &id).await;
    let (lock, value) = bind_lock(server);
    assert!(
        attrs(&e, lock)
            .iter()
            .any(|v| v.eq_ignore_ascii_case(value)),
        "{lock} in {:?}",
        e.attrs
    );
    assert_eq!(attrs(&e, "shadowExpire"), ["1"]);
    let shadow = nss.shadow(&new_login).unwrap();
    assert_eq!(
        (shadow[0].as_str(), shadow[7].as_str()),
        (new_login.as_str(), "1")
    );
    patch(
        &d,
        &path,
        json!([{"op": "Replace", "value": {"active": true}}]),
    )
    .await;
    let e = entry(&d, &id).await;
    assert!(attrs(&e, lock).is_empty(), "{:?}", e.attrs);
    assert!(attrs(&e, "shadowExpire").is_empty(), "{:?}", e.attrs);
    assert_eq!(nss.shadow(&new_login).unwrap()[7], "");
    assert_eq!(
        nss.getent("passwd", &new_login),
        Some(passwd_line(&new_login, uid, "Alice Smith"))
    );

    // Delete: gone from NSS and from the group; re-created from the same objectId it
    // gets the same number back.
    let (s, _) = d.call("DELETE", &path, None).await;
    assert_eq!(s, 204);
    assert_eq!(nss.getent("passwd", &new_login), None);
    assert_eq!(nss.group(&group_name), group_line(&[]));
    let again = create(&d, &entra_body(&same_local, &oid)).await;
    let again_id = again["id"].as_str().unwrap().to_owned();
    assert_ne!(again_id, id, "a new entry");
    let e = entry(&d, &again_id).await;
    assert_eq!(
        assert_account(&e, &new_login, &same_local, "Test User"),
        uid,
        "the same objectId gets the same uidNumber"
    );
    assert_eq!(
        nss.getent("passwd", &uid.to_string()),
        Some(passwd_line(&new_login, uid, "Test User"))
    );
    for p in [format!("/Users/{again_id}"), format!("/Groups/{gid_id}")] {
        let (s, _) = d.call("DELETE", &p, None).await;
        assert_eq!(s, 204, "{p}");
    }
    assert_eq!(nss.group(&group_name), None);
}

/// Two UPNs with the same local part in different domains: the second gets 409
/// uniqueness naming both userName and uid, and nothing is written.
pub async fn same_login_from_another_domain_conflicts(server: Server) {
    let d = Daemon::with_config(server, &posix_config(server)).await;
    let (first, login) = upn("Bob", "contoso.com");
    let created = create(&d, &entra_body(&first, &object_id())).await;
    let second = format!("{}@fabrikam.com", first.split('@').next().unwrap());
    let before = d.dns(&format!("(uid={login})")).await;
    let (s, v) = d
        .call("POST", "/Users", Some(&entra_body(&second, &object_id())))
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["scimType"], "uniqueness", "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains("userName") && detail.contains(&second) && detail.contains("uid"),
        "{detail}"
    );
    assert_eq!(d.dns(&format!("(uid={login})")).await, before);
    let (_, v) = d
        .call("GET", &q(&format!("userName eq \"{second}\"")), None)
        .await;
    assert_eq!(v["totalResults"], 0, "{v}");
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/Users/{}", created["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 204);
}

/// Two daemons, 8 clients, 40 concurrent creates with the deterministic
/// strategy into a range of 50 numbers (so the choices collide and are probed
/// past, under concurrency): 40 distinct uidNumbers, all inside the range.
pub async fn concurrent_creates_deterministic(server: Server) {
    let (start, end) = private_range(50);
    let line = format!(
        "uidNumber = {{ strategy = \"deterministic\", from = [\"{{externalId}}\", \"{{userName | lower}}\"], range = [{start}, {end}] }}"
    );
    concurrent_creates(server, &line, start..=end).await;
}

/// The same with a counter entry advanced by compare-and-swap.
pub async fn concurrent_creates_counter(server: Server) {
    let (start, end) = private_range(1000);
    // The counter: a plain device entry whose serialNumber holds the next number.
    let name = unique("next-uid");
    let counter = format!("cn={name},ou=people,dc=example,dc=com");
    let mut l = super::admin_ldap(server, &server.url()).await;
    let first = start.to_string();
    let attrs = vec![
        ("objectClass", ["device"].into_iter().collect()),
        ("cn", [name.as_str()].into_iter().collect()),
        ("serialNumber", [first.as_str()].into_iter().collect()),
    ];
    l.add(&counter, attrs).await.unwrap().success().unwrap();
    let line = format!(
        "uidNumber = {{ strategy = \"counter\", counter = \"{counter}\", counter_attribute = \"serialNumber\", range = [{start}, {end}] }}"
    );
    concurrent_creates(server, &line, start..=end).await;
    l.delete(&counter).await.unwrap().success().unwrap();
}

static RANGES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A private stretch of `len` numbers for one test run, above the examples' ranges.
fn private_range(len: u32) -> (u32, u32) {
    let n = RANGES.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u32;
    let start = 1_000_000 + ((std::process::id() % 500) * 20 + n) * 1000;
    (start, start + len - 1)
}

/// Two daemons with the POSIX configuration whose uidNumber allocation is
/// `line`, 8 clients creating 5 users each at once: 40 users, 40 distinct
/// uidNumbers inside `range`. A create answered 503 is sent again, at most
/// twice, as a SCIM client does.
async fn concurrent_creates(server: Server, line: &str, range: std::ops::RangeInclusive<u32>) {
    let shipped = "uidNumber = { strategy = \"deterministic\", from = [\"{externalId}\", \"{userName | lower}\"], range = [200000, 299999] }";
    let text = posix_config(server);
    assert!(text.contains(shipped), "the config changed shape");
    let text = text.replace(shipped, line);
    let daemons = Arc::new([
        Daemon::with_config(server, &text).await,
        Daemon::with_config(server, &text).await,
    ]);
    let stem = unique("conc");
    let mut clients = Vec::new();
    for client in 0..8 {
        let daemons = daemons.clone();
        let stem = stem.clone();
        clients.push(tokio::spawn(async move {
            let d = &daemons[client % 2];
            let mut ids = Vec::new();
            for i in 0..5 {
                let body = entra_body(&format!("{stem}-{client}-{i}@contoso.com"), &object_id());
                // A 503 (the numbers chosen kept being taken by the other
                // writers) has written nothing and is retried, as Entra
                // does; the same body must then be created.
                let mut tries = 0;
                let (s, v) = loop {
                    tries += 1;
                    let (s, v) = d.call("POST", "/Users", Some(&body)).await;
                    if s != 503 || tries == 3 {
                        break (s, v);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                };
                assert_eq!(s, 201, "create {client}/{i} (try {tries}): {v}");
                ids.push(v["id"].as_str().unwrap().to_owned());
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for c in clients {
        ids.extend(c.await.unwrap());
    }
    assert_eq!(ids.len(), 40);
    let mut numbers = BTreeSet::new();
    for id in &ids {
        let n = number(&entry(&daemons[0], id).await, "uidNumber");
        assert!(range.contains(&n), "uidNumber {n} outside {range:?}");
        numbers.insert(n);
    }
    assert_eq!(numbers.len(), 40, "distinct uidNumbers: {numbers:?}");
    for id in &ids {
        let (s, _) = daemons[0]
            .call("DELETE", &format!("/Users/{id}"), None)
            .await;
        assert_eq!(s, 204);
    }
}
