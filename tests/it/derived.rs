//! Derived values on a real directory: `cn` follows given name and surname
//! while it holds their rendering (a PATCH by path, Entra's path-less form
//! with a dotted key, a PUT), stays the client's when the client set it, is
//! not written by an unrelated change; a computed attribute is rendered on
//! create, follows its inputs and is refused on write.

use ldap3::Mod;
use serde_json::{Value, json};

use super::{Daemon, Server, attr, config_text, entra_user, patch_body, unique};

/// An Entra user without `name.formatted`, as Entra set-ups that map only
/// given name and surname send it.
fn person(user_name: &str, given: &str, family: &str) -> Value {
    let mut body = entra_user(user_name);
    body["name"] = json!({"givenName": given, "familyName": family});
    body
}

/// Creates a user; returns its id and DN.
async fn create(d: &Daemon, body: &Value) -> (String, String) {
    let (s, v) = d.call("POST", "/Users", Some(body)).await;
    assert_eq!(s, 201, "{v}");
    (v["id"].as_str().unwrap().to_owned(), d.user_dn(&v))
}

async fn patch(d: &Daemon, id: &str, ops: Value) -> Value {
    let (s, v) = d
        .call("PATCH", &format!("/Users/{id}"), Some(&patch_body(ops)))
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

/// The stored cn and what GET shows as name.formatted.
async fn cn_and_formatted(d: &Daemon, id: &str, dn: &str) -> (String, String) {
    let e = d.entry(dn).await.unwrap();
    let (s, v) = d.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 200, "{v}");
    (
        attr(&e, "cn").unwrap_or_default(),
        v["name"]["formatted"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

pub async fn cn_follows_the_surname(server: Server) {
    let d = Daemon::start(server).await;
    let name = unique("carol");
    let (id, dn) = create(&d, &person(&name, "Carol", "Jones")).await;
    let both = |s: &str| (s.to_owned(), s.to_owned());
    assert_eq!(cn_and_formatted(&d, &id, &dn).await, both("Carol Jones"));
    // By path.
    let v = patch(
        &d,
        &id,
        json!([{"op": "Replace", "path": "name.familyName", "value": "Smith"}]),
    )
    .await;
    assert_eq!(v["name"]["formatted"], "Carol Smith", "{v}");
    assert_eq!(cn_and_formatted(&d, &id, &dn).await, both("Carol Smith"));
    // Entra's path-less form with a dotted key.
    patch(
        &d,
        &id,
        json!([{"op": "Replace", "value": {"name.familyName": "Brown"}}]),
    )
    .await;
    assert_eq!(cn_and_formatted(&d, &id, &dn).await, both("Carol Brown"));
    // By PUT.
    let (s, v) = d
        .call(
            "PUT",
            &format!("/Users/{id}"),
            Some(&person(&name, "Carol", "White")),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(cn_and_formatted(&d, &id, &dn).await, both("Carol White"));
    assert_eq!(attr(&d.entry(&dn).await.unwrap(), "sn").unwrap(), "White");
}

pub async fn client_formatted_name_is_kept(server: Server) {
    let d = Daemon::start(server).await;
    let mut body = person(&unique("mo"), "Mo", "Dyo");
    body["name"]["formatted"] = json!("Dr. Mo Dyo");
    let (id, dn) = create(&d, &body).await;
    let kept = ("Dr. Mo Dyo".to_owned(), "Dr. Mo Dyo".to_owned());
    assert_eq!(cn_and_formatted(&d, &id, &dn).await, kept);
    patch(
        &d,
        &id,
        json!([{"op": "Replace", "path": "name.familyName", "value": "Dyoe"}]),
    )
    .await;
    assert_eq!(cn_and_formatted(&d, &id, &dn).await, kept);
    assert_eq!(attr(&d.entry(&dn).await.unwrap(), "sn").unwrap(), "Dyoe");
    // The client sets both in one request: its formatted name wins.
    patch(
        &d,
        &id,
        json!([{"op": "Replace", "path": "name.familyName", "value": "Dyo"},
            {"op": "Replace", "path": "name.formatted", "value": "Prof. Mo Dyo"}]),
    )
    .await;
    let mine = ("Prof. Mo Dyo".to_owned(), "Prof. Mo Dyo".to_owned());
    assert_eq!(cn_and_formatted(&d, &id, &dn).await, mine);
}

/// The plan `explain` prints for a PATCH names cn only when an input of its
/// template changes and cn holds the rendering; it says why either way.
pub async fn unrelated_changes_leave_cn_alone(server: Server) {
    let d = Daemon::start(server).await;
    let (id, dn) = create(&d, &person(&unique("ann"), "Ann", "Lee")).await;
    let path = format!("/Users/{id}");
    let modify = |text: &str| {
        text.lines()
            .find(|l| l.contains("modify dn="))
            .unwrap_or_default()
            .to_owned()
    };
    let text = super::ops::explain_patch(
        server,
        &path,
        json!([{"op": "Replace", "path": "title", "value": "Boss"}]),
    );
    assert!(modify(&text).contains("replace title"), "{text}");
    assert!(!modify(&text).contains("cn"), "{text}");
    assert!(!text.contains("(why)"), "{text}");
    let text = super::ops::explain_patch(
        server,
        &path,
        json!([{"op": "Replace", "path": "name.familyName", "value": "Park"}]),
    );
    assert!(
        modify(&text).contains("replace cn: [\"Ann Park\"]"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.contains(
            "(why) default cn: re-rendered as \"Ann Park\" because name.familyName changed"
        )),
        "{text}"
    );
    // Set by hand over LDAP to something else: the template no longer owns it.
    let mut l = d.ldap().await;
    l.modify(
        &dn,
        vec![Mod::Replace("cn", ["Annie Lee"].into_iter().collect())],
    )
    .await
    .unwrap()
    .success()
    .unwrap();
    let text = super::ops::explain_patch(
        server,
        &path,
        json!([{"op": "Replace", "path": "name.familyName", "value": "Park"}]),
    );
    assert!(!modify(&text).contains("cn"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("(why) default cn: left alone because name.familyName changed")),
        "{text}"
    );
    // explain wrote nothing.
    let e = d.entry(&dn).await.unwrap();
    assert_eq!(attr(&e, "sn").unwrap(), "Lee");
    assert_eq!(attr(&e, "cn").unwrap(), "Annie Lee");
}

/// The shipped configuration with `description` computed from the name and
/// published as `nickName`.
fn computed_config(server: Server) -> String {
    let text = config_text(server);
    assert!(text.contains("[users.defaults]") && text.contains("\"name.formatted\" = \"cn\""));
    text.replace(
        "[users.defaults]",
        "[users.computed]\ndescription = \"{name.givenName | ascii} {name.familyName | ascii}\"\n\n[users.defaults]",
    )
    .replace(
        "\"name.formatted\" = \"cn\"",
        "\"name.formatted\" = \"cn\"\nnickName = \"description\"",
    )
}

pub async fn computed_attributes_follow_and_refuse_writes(server: Server) {
    let d = Daemon::with_config(server, &computed_config(server)).await;
    let (id, dn) = create(&d, &person(&unique("jose"), "José", "Müller")).await;
    let description = |e: &ldap3::SearchEntry| attr(e, "description").unwrap_or_default();
    assert_eq!(description(&d.entry(&dn).await.unwrap()), "Jose Muller");
    let (_, v) = d.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(v["nickName"], "Jose Muller", "{v}");
    // Follows its inputs.
    patch(
        &d,
        &id,
        json!([{"op": "Replace", "value": {"name.familyName": "Núñez"}}]),
    )
    .await;
    assert_eq!(description(&d.entry(&dn).await.unwrap()), "Jose Nunez");
    // Written by the client: 400 mutability naming it, nothing changed.
    for op in [
        json!({"op": "Replace", "path": "nickName", "value": "Pepe"}),
        json!({"op": "Replace", "value": {"nickName": "Pepe"}}),
    ] {
        let body = patch_body(json!([{"op": "Replace", "path": "title", "value": "x"}, op]));
        let (s, v) = d.call("PATCH", &format!("/Users/{id}"), Some(&body)).await;
        assert_eq!(
            (s, v["scimType"].as_str()),
            (400, Some("mutability")),
            "{v}"
        );
        assert!(v["detail"].as_str().unwrap().contains("nickName"), "{v}");
    }
    let mut body = person(&unique("pepe"), "José", "Müller");
    body["nickName"] = json!("Pepe");
    let (s, v) = d.call("POST", "/Users", Some(&body)).await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("mutability")),
        "{v}"
    );
    let e = d.entry(&dn).await.unwrap();
    assert_eq!(description(&e), "Jose Nunez");
    assert_eq!(attr(&e, "title").unwrap(), "Engineer");
    // Published read-only.
    let (_, schema) = d
        .call(
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
        )
        .await;
    let nick = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "nickName")
        .unwrap();
    assert_eq!(nick["mutability"], "readOnly", "{nick}");
}

/// check-config reads the syntaxes of the real server: a template that can
/// render non-ASCII into `mail` (IA5String on both servers) is named with
/// its key; the same template folded through `ascii` passes.
pub async fn check_config_names_non_ascii_into_ia5(server: Server) {
    let dir = super::ops::tempdir();
    let path = dir.join("scim2ldap.toml");
    let check = |template: &str| {
        let text = config_text(server).replace(
            "[users.defaults]",
            &format!("[users.computed]\nmail = \"{template}\"\n\n[users.defaults]"),
        );
        std::fs::write(&path, text).unwrap();
        let out = super::ops::command(
            server,
            &["check-config", "--config", path.to_str().unwrap()],
        )
        .output()
        .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = check("{userName | localpart}@example.com");
    assert_eq!(code, Some(1), "{text}");
    let problems: Vec<&str> = text.lines().filter(|l| l.starts_with("problem:")).collect();
    assert_eq!(problems.len(), 1, "{text}");
    assert!(
        problems[0].starts_with("problem: users.computed.mail: ")
            && problems[0].contains("| ascii"),
        "{text}"
    );
    let (code, text) = check("{userName | localpart | ascii}@example.com");
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text.lines().last(), Some("ok"), "{text}");
}
