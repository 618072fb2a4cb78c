//! A computed RDN on a real directory: the login is derived from the UPN
//! (`uid = "{userName | localpart | login}"`) while `userName` is kept
//! verbatim in `scimUserName`. Create names the entry by the login, GET and
//! Entra's `userName eq` match go through `scimUserName`, a `userName`
//! change in any of Entra's forms (and a PUT) renames the entry with the
//! home directory and the `memberUid` values of its groups following, a
//! login another user has is a 409 naming both attributes with nothing
//! written, and `disable` as a list is written and removed as a whole.

use std::sync::atomic::{AtomicU64, Ordering};

use ldap3::Mod;
use serde_json::{Value, json};

use super::{Daemon, Server, attr, attrs, config_text, entra_user, patch_body, unique};

/// The groups of these tests: `memberUid` groups of their own.
const GROUPS_OU: &str = "rdngroups";

/// The example config of `server` with the login computed from userName,
/// a posixAccount (home directory and numbers from the test's externalId),
/// two disable actions, and `memberUid` groups.
fn config(server: Server) -> String {
    let text = config_text(server);
    let disable = text
        .lines()
        .find(|l| l.starts_with("disable = {"))
        .expect("the example config disables users")
        .to_owned();
    let table = disable.trim_start_matches("disable = ");
    let text = super::member_uid_groups(&text, GROUPS_OU)
        .replacen(
            &disable,
            &format!("disable = [{table}, {{ attribute = \"shadowExpire\", value = \"1\" }}]"),
            1,
        )
        .replacen(
            "\"top\", \"scimUser\"",
            "\"top\", \"scimUser\", \"posixAccount\", \"shadowAccount\"",
            1,
        )
        .replacen("userName = \"uid\"", "userName = \"scimUserName\"", 1)
        .replacen(
            "[users.defaults]",
            "[users.computed]\nuid = \"{userName | localpart | login}\"\nhomeDirectory = \"/home/{userName | localpart | login}\"\nuidNumber = \"{externalId}\"\ngidNumber = \"{externalId}\"\n\n[users.defaults]",
            1,
        )
        .replacen(
            "[groups.attributes]",
            "[groups.computed]\ngidNumber = \"{externalId}\"\n\n[groups.attributes]",
            1,
        );
    for want in [
        "shadowExpire",
        "posixAccount",
        "scimUserName",
        "[users.computed]",
        "memberUid",
        "[\"posixGroup\"",
        "[groups.computed]",
    ] {
        assert!(
            text.contains(want),
            "the example config changed shape: {want}"
        );
    }
    text
}

/// A number no other user or group of this run has (uidNumber, gidNumber),
/// far from any allocation range.
fn number() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    (10_000_000 + (secs % 90_000) * 1_000 + n % 1_000).to_string()
}

async fn daemon(server: Server) -> Daemon {
    ensure_ou(server, GROUPS_OU).await;
    Daemon::with_config(server, &config(server)).await
}

async fn ensure_ou(server: Server, ou: &str) {
    let mut l = super::admin_ldap(server, &server.url()).await;
    let attrs = vec![
        ("objectClass", ["organizationalUnit"].into_iter().collect()),
        ("ou", [ou].into_iter().collect()),
    ];
    let r = l
        .add(&format!("ou={ou},dc=example,dc=com"), attrs)
        .await
        .unwrap();
    assert!(r.rc == 0 || r.rc == 68, "{r:?}");
}

/// Entra's user body with a numeric externalId (the test's uid/gidNumber).
fn user(user_name: &str) -> Value {
    let mut body = entra_user(user_name);
    body["externalId"] = json!(number());
    body
}

async fn create(d: &Daemon, user_name: &str) -> Value {
    let (s, v) = d.call("POST", "/Users", Some(&user(user_name))).await;
    assert_eq!(s, 201, "create {user_name}: {v}");
    v
}

fn people(login: &str) -> String {
    format!("uid={login},ou=people,dc=example,dc=com")
}

/// The users a filter finds, by userName.
async fn found(d: &Daemon, filter: &str) -> Vec<String> {
    let q = filter.replace(' ', "%20").replace('"', "%22");
    let (s, v) = d.call("GET", &format!("/Users?filter={q}"), None).await;
    assert_eq!(s, 200, "{filter}: {v}");
    v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn computed_login_names_the_user(server: Server) {
    let d = daemon(server).await;
    let stem = unique("Alice.Smith");
    let user_name = format!("{stem}@Contoso.com");
    let login = stem.to_lowercase();
    let u = create(&d, &user_name).await;
    let id = u["id"].as_str().unwrap();
    assert_eq!(u["userName"], user_name.as_str(), "verbatim: {u}");
    let e = d.entry(&people(&login)).await.expect("named by the login");
    assert_eq!(attr(&e, "uid").as_deref(), Some(login.as_str()));
    assert_eq!(
        attr(&e, "scimUserName").as_deref(),
        Some(user_name.as_str())
    );
    assert_eq!(attr(&e, "homeDirectory"), Some(format!("/home/{login}")));
    let (s, v) = d.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["userName"], user_name.as_str(), "round-trips: {v}");
    // Entra's match, and other filters, go through scimUserName.
    for filter in [
        format!("userName eq \"{user_name}\""),
        format!("userName eq \"{}\"", user_name.to_uppercase()),
        format!("userName sw \"{stem}\""),
        format!("userName co \"{}\"", &stem[5..]),
        format!("userName eq \"{user_name}\" and active eq true"),
    ] {
        assert_eq!(
            found(&d, &filter).await,
            std::slice::from_ref(&user_name),
            "{filter}"
        );
    }
    assert!(
        found(&d, &format!("userName eq \"{login}\""))
            .await
            .is_empty()
    );
    // Nothing safe left to name the entry by: 400 naming userName, nothing written.
    let bad = format!("!!!@{}.example", unique("x"));
    let (s, v) = d.call("POST", "/Users", Some(&user(&bad))).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["scimType"], "invalidValue", "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("userName {bad:?} gives no uid")),
        "{v}"
    );
    assert!(d.dns(&format!("(scimUserName={bad})")).await.is_empty());
    // check-config describes the computed login.
    let dir = super::ops::tempdir();
    let path = dir.join("scim2ldap.toml");
    std::fs::write(&path, config(server)).unwrap();
    let out = super::ops::command(
        server,
        &["check-config", "--config", path.to_str().unwrap()],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.lines().any(|l| l
            .starts_with("note: users.rdn: uid is computed (users.computed.uid) from userName")),
        "{text}"
    );
}

/// Creates a memberUid group of `members` (ids); returns its id and DN.
async fn group(d: &Daemon, members: &[&str]) -> (String, String) {
    let name = unique("Posix");
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "externalId": number(), "displayName": name, "members": members});
    let (s, v) = d.call("POST", "/Groups", Some(&body)).await;
    assert_eq!(s, 201, "{v}");
    (
        v["id"].as_str().unwrap().to_owned(),
        format!("cn={name},ou={GROUPS_OU},dc=example,dc=com"),
    )
}

async fn member_uids(d: &Daemon, dn: &str) -> Vec<String> {
    let mut v = attrs(&d.entry(dn).await.unwrap(), "memberUid");
    v.sort();
    v
}

/// A userName change renames the user in each of Entra's PATCH forms and by
/// PUT; its home directory and its groups' memberUid values follow, and
/// `explain` shows it all beforehand.
pub async fn user_name_change_renames_and_groups_follow(server: Server) {
    let d = daemon(server).await;
    let stem = unique("carol");
    let other = create(&d, &format!("{}@contoso.com", unique("other"))).await;
    let other_login = other["userName"]
        .as_str()
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_owned();
    let u = create(&d, &format!("{stem}@contoso.com")).await;
    let id = u["id"].as_str().unwrap().to_owned();
    let other_id = other["id"].as_str().unwrap();
    let (_, both) = group(&d, &[&id, other_id]).await;
    let (_, alone) = group(&d, &[&id]).await;
    let (_, without) = group(&d, &[other_id]).await;
    let mut login = stem.clone();
    assert_eq!(member_uids(&d, &alone).await, std::slice::from_ref(&login));

    // What a rename would do, without doing it.
    let next = format!("{stem}-x");
    let text = explain_patch(
        server,
        &format!("/Users/{id}"),
        json!([{"op": "Replace", "path": "userName", "value": format!("{next}@contoso.com")}]),
    );
    assert!(
        text.lines()
            .any(|l| l.contains("modrdn") && l.contains(&format!("uid={next}"))),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "computed uid: re-rendered as \"{next}\" because userName changed"
        )),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("modify dn=") && l.contains(&alone) && l.contains("memberUid")),
        "{text}"
    );
    assert!(
        d.entry(&people(&login)).await.is_some(),
        "explain wrote nothing"
    );

    let forms = [
        (
            "path",
            json!([{"op": "Replace", "path": "userName", "value": "{}"}]),
        ),
        (
            "no path",
            json!([{"op": "replace", "value": {"userName": "{}"}}]),
        ),
        (
            "add",
            json!([{"op": "Add", "path": "userName", "value": "{}"}]),
        ),
    ];
    for (i, (form, ops)) in forms.into_iter().enumerate() {
        let new_login = format!("{stem}-{i}");
        let new_name = format!("{}@Contoso.com", new_login.to_uppercase());
        let ops: Value = serde_json::from_str(&ops.to_string().replace("{}", &new_name)).unwrap();
        let (s, v) = d
            .call("PATCH", &format!("/Users/{id}"), Some(&patch_body(ops)))
            .await;
        assert_eq!(s, 200, "{form}: {v}");
        assert_eq!(v["userName"], new_name.as_str(), "{form}: {v}");
        assert!(
            d.entry(&people(&login)).await.is_none(),
            "{form}: old name gone"
        );
        let e = d.entry(&people(&new_login)).await.expect("renamed");
        assert_eq!(
            attr(&e, "entryUUID").map(|u| u.to_lowercase()),
            Some(id.to_lowercase())
        );
        assert_eq!(
            attr(&e, "homeDirectory"),
            Some(format!("/home/{new_login}")),
            "{form}"
        );
        let mut want = vec![new_login.clone(), other_login.clone()];
        want.sort();
        assert_eq!(member_uids(&d, &both).await, want, "{form}");
        assert_eq!(
            member_uids(&d, &alone).await,
            std::slice::from_ref(&new_login),
            "{form}"
        );
        assert_eq!(
            member_uids(&d, &without).await,
            std::slice::from_ref(&other_login),
            "{form}"
        );
        login = new_login;
    }
    // Another domain, another case: the same login, no rename.
    let same = format!("{login}@fabrikam.com");
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(&patch_body(
                json!([{"op": "Replace", "path": "userName", "value": same}]),
            )),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let e = d.entry(&people(&login)).await.expect("not renamed");
    assert_eq!(attr(&e, "scimUserName").as_deref(), Some(same.as_str()));
    // PUT with a new userName: renamed too, and the group reads the member back.
    let put_login = format!("{stem}-put");
    let mut body = user(&format!("{put_login}@contoso.com"));
    body["externalId"] = u["externalId"].clone();
    let (s, v) = d.call("PUT", &format!("/Users/{id}"), Some(&body)).await;
    assert_eq!(s, 200, "{v}");
    assert!(d.entry(&people(&put_login)).await.is_some());
    assert_eq!(
        member_uids(&d, &alone).await,
        std::slice::from_ref(&put_login)
    );
    let (s, v) = d.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["groups"].as_array().map(Vec::len), Some(2), "{v}");
}

/// The group fix-up after a rename tolerates a writer that got there first:
/// a group already listing the new login keeps it once and loses the old.
pub async fn member_uid_fix_up_tolerates_a_racing_writer(server: Server) {
    let d = daemon(server).await;
    let stem = unique("gail");
    let u = create(&d, &format!("{stem}@contoso.com")).await;
    let id = u["id"].as_str().unwrap();
    let (_, g) = group(&d, &[id]).await;
    let new_login = format!("{stem}-new");
    let mut l = d.ldap().await;
    l.modify(
        &g,
        vec![Mod::Add(
            "memberUid",
            [new_login.as_str()].into_iter().collect(),
        )],
    )
    .await
    .unwrap()
    .success()
    .unwrap();
    let mut both = vec![stem.clone(), new_login.clone()];
    both.sort();
    assert_eq!(member_uids(&d, &g).await, both);
    let ops =
        json!([{"op": "Replace", "path": "userName", "value": format!("{new_login}@contoso.com")}]);
    let (s, v) = d
        .call("PATCH", &format!("/Users/{id}"), Some(&patch_body(ops)))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(member_uids(&d, &g).await, std::slice::from_ref(&new_login));
}

/// Two UPNs with one local part: the second create, and a rename onto the
/// login, are 409 naming both attributes, and the directory is unchanged.
pub async fn a_login_taken_is_a_conflict_naming_both(server: Server) {
    let d = daemon(server).await;
    let login = unique("dana");
    let first = create(&d, &format!("{login}@contoso.com")).await;
    let before = d.entry(&people(&login)).await.unwrap();
    for taken in [
        format!("{login}@fabrikam.com"),
        format!("{}@Contoso.com", login.to_uppercase()),
    ] {
        let (s, v) = d.call("POST", "/Users", Some(&user(&taken))).await;
        assert_eq!(s, 409, "{taken}: {v}");
        assert_eq!(v["scimType"], "uniqueness", "{v}");
        let want =
            format!("userName {taken:?} gives uid {login:?}, which another user already has");
        assert!(v["detail"].as_str().unwrap().contains(&want), "{v}");
    }
    // Nothing written: one user with that login, the first, as it was.
    assert_eq!(
        d.dns(&format!("(scimUserName={login}@*)")).await,
        [people(&login).to_lowercase()]
    );
    let after = d.entry(&people(&login)).await.unwrap();
    assert_eq!(attr(&after, "scimUserName"), attr(&before, "scimUserName"));
    assert_eq!(
        attr(&after, "entryUUID").map(|u| u.to_lowercase()),
        first["id"].as_str().map(str::to_lowercase)
    );

    // A rename onto the login: 409, nothing written (the rename goes first).
    let other = unique("erin");
    let u = create(&d, &format!("{other}@contoso.com")).await;
    let id = u["id"].as_str().unwrap();
    let onto = format!("{login}@example.org");
    let ops = json!([
        {"op": "Replace", "path": "userName", "value": onto},
        {"op": "Replace", "path": "title", "value": "Never written"},
    ]);
    let (s, v) = d
        .call("PATCH", &format!("/Users/{id}"), Some(&patch_body(ops)))
        .await;
    assert_eq!(s, 409, "{v}");
    let want = format!("userName {onto:?} gives uid {login:?}, which another user already has");
    assert!(v["detail"].as_str().unwrap().contains(&want), "{v}");
    let kept = d
        .entry(&people(&other))
        .await
        .expect("still under its name");
    assert_eq!(
        attr(&kept, "scimUserName"),
        Some(format!("{other}@contoso.com"))
    );
    assert_eq!(attr(&kept, "homeDirectory"), Some(format!("/home/{other}")));
    assert_eq!(attr(&kept, "title").as_deref(), Some("Engineer"));
    let taken = d.entry(&people(&login)).await.unwrap();
    assert_eq!(
        attr(&taken, "scimUserName"),
        Some(format!("{login}@contoso.com"))
    );
}

/// Runs `scim2ldap explain PATCH path` under this file's config.
fn explain_patch(server: Server, path: &str, ops: Value) -> String {
    let dir = super::ops::tempdir();
    let (conf, body) = (dir.join("scim2ldap.toml"), dir.join("patch.json"));
    std::fs::write(&conf, config(server)).unwrap();
    std::fs::write(&body, patch_body(ops).to_string()).unwrap();
    let out = super::ops::command(
        server,
        &[
            "explain",
            "--config",
            conf.to_str().unwrap(),
            "PATCH",
            path,
            body.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

/// `disable` as a list: active=false writes every value, active=true
/// removes exactly each, and the user reads inactive while any is there.
pub async fn disable_list_on_and_off(server: Server) {
    let d = daemon(server).await;
    let login = unique("fay");
    let u = create(&d, &format!("{login}@contoso.com")).await;
    let id = u["id"].as_str().unwrap();
    let dn = people(&login);
    let lock = d.config.users.disable[0].clone();
    let active = |v: bool| patch_body(json!([{"op": "Replace", "path": "active", "value": v}]));
    let (s, v) = d
        .call("PATCH", &format!("/Users/{id}"), Some(&active(false)))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["active"], false, "{v}");
    let e = d.entry(&dn).await.unwrap();
    assert_eq!(attr(&e, "shadowExpire").as_deref(), Some("1"));
    assert!(
        attrs(&e, &lock.attribute)
            .iter()
            .any(|x| x.eq_ignore_ascii_case(&lock.value)),
        "{:?}",
        e.attrs
    );
    let inactive = format!("userName eq \"{login}@contoso.com\" and active eq false");
    assert_eq!(found(&d, &inactive).await.len(), 1);
    let (s, v) = d
        .call("PATCH", &format!("/Users/{id}"), Some(&active(true)))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["active"], true, "{v}");
    let e = d.entry(&dn).await.unwrap();
    assert!(attr(&e, "shadowExpire").is_none(), "{:?}", e.attrs);
    assert!(attrs(&e, &lock.attribute).is_empty(), "{:?}", e.attrs);
    assert!(found(&d, &inactive).await.is_empty());
    // One action alone (written by hand, or half of an interrupted disable)
    // reads inactive; enabling removes exactly it.
    let mut l = d.ldap().await;
    l.modify(
        &dn,
        vec![Mod::Add("shadowExpire", ["1"].into_iter().collect())],
    )
    .await
    .unwrap()
    .success()
    .unwrap();
    let (_, v) = d.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(v["active"], false, "{v}");
    let (s, v) = d
        .call("PATCH", &format!("/Users/{id}"), Some(&active(true)))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["active"], true, "{v}");
    assert!(attr(&d.entry(&dn).await.unwrap(), "shadowExpire").is_none());
}
